/*
 * sysloop - system call round trips: ring 3 runs SYSCALL `iters` times;
 * the kernel side answers each with SYSRETQ at once (SDM Vol. 2B SYSCALL,
 * SYSRET; Vol. 3A 5.8.8).  Then a last SYSCALL with RAX = -1 returns to
 * ring 0 to power off.  One iteration: SYSCALL, SYSRETQ, DEC, JNZ.
 */
#define INSNS_PER_ITER	4
#define EVENT		syscall-round-trips
#include "boot.h"
#define USTACK	0x200000

	.code64
loop64:
	/* Ring 3 may use the identity map: U on the first PML4, PDPT, PD entries. */
	orq	$4, PML4
	orq	$4, PDPT
	mov	$PD, %rdi
	mov	$512, %ecx
1:	orq	$4, (%rdi)
	add	$8, %rdi
	loop	1b
	mov	%cr3, %rax
	mov	%rax, %cr3
	lgdt	sys_gdtr(%rip)
	/* SYSCALL: CS 0x08 / SS 0x10; SYSRET: SS 0x1b, CS 0x23 (STAR[63:48] = 0x13). */
	mov	$0xc0000081, %ecx
	xor	%eax, %eax
	mov	$0x00130008, %edx
	wrmsr
	mov	$0xc0000082, %ecx		/* LSTAR */
	lea	kentry(%rip), %rax
	mov	%rax, %rdx
	shr	$32, %rdx
	wrmsr
	mov	$0xc0000084, %ecx		/* SFMASK: nothing */
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	mov	$0xc0000080, %ecx		/* EFER.SCE */
	rdmsr
	or	$1, %eax
	wrmsr
	mov	iters(%rip), %r12
	mov	$USTACK, %rsp
	lea	user(%rip), %rcx
	mov	$0x2, %r11d
	sysretq

user:	xor	%eax, %eax
2:	syscall
	dec	%r12
	jnz	2b
	mov	$-1, %rax
	syscall

kentry:	cmp	$-1, %rax
	je	done
	sysretq
done:	BENCH_END

	.align	8
sys_gdt:
	.quad	0
	.quad	0x00209a0000000000		/* 0x08: kernel code, 64-bit */
	.quad	0x0000920000000000		/* 0x10: kernel data */
	.quad	0x0000f20000000000		/* 0x18: user data, DPL 3 */
	.quad	0x0020fa0000000000		/* 0x20: user code, 64-bit, DPL 3 */
sys_gdtr:
	.word	5 * 8 - 1
	.quad	BASE + (sys_gdt - _start)

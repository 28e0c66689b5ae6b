/*
 * ctxsw - context switches the way a 64-bit kernel makes them: two ring-3
 * tasks in two address spaces each run `syscall` in a loop (a yield); the
 * kernel enters with SWAPGS, takes its per-task kernel stack from the
 * per-CPU area, saves the user frame, and switch_to saves the callee-saved
 * registers and the FPU/SSE state (XSAVEOPT), switches kernel stacks,
 * loads the other task's CR3 (PCID off: the TLB's non-global entries go,
 * SDM Vol. 3A 4.10.4.1), restores its FPU state (XRSTOR) and returns into
 * that task's system call, which goes back to ring 3 with SWAPGS and IRETQ
 * (as Linux's entry_SYSCALL_64, __switch_to_asm and
 * swapgs_restore_regs_and_return_to_usermode).  Each task's page for
 * virtual 0x8000000000 is its own physical page, and each has its own
 * XMM0; both, and which task runs last, are checked at the end.
 *
 * One iteration, one switch: user `syscall`, `jmp` (2); kentry up to the
 * call (9); switch_to (26: 6 pushes, 7 to save and pick the next task, 6
 * to switch CR3, stack and FPU state, 6 pops, RET); the return to ring 3
 * (10).  bench/mips checks the total against the retired-instruction count.
 */
#define INSNS_PER_ITER	47
#define EVENT		context-switches
#define QEMU_CPU	max	/* XSAVE, XSAVEOPT: qemu64 has neither */
#include "boot.h"

/* Page tables, tasks, stacks, per-CPU data: zeroed at start. */
#define AREA		0x180000
#define PD_K		0x180000	/* identity 1 GiB, 2 MiB pages, user */
#define PDPT_K		0x181000
#define PML4_A		0x182000
#define PML4_B		0x183000
#define PDPT_A		0x184000
#define PD_A		0x185000
#define PDPT_B		0x186000
#define PD_B		0x187000
#define TASK_A		0x188000
#define TASK_B		0x189000
#define KTOP_A		0x18c000
#define KTOP_B		0x18e000
#define PERCPU		0x18f000
#define AREA_END	0x190000
#define UPAGE_A		0x400000	/* what 0x8000000000 maps to in A */
#define UPAGE_B		0x600000	/* ... in B */
#define UVIRT		0x8000000000
#define USTACK		(UVIRT + 0x100000)

/* struct task */
#define T_FPU		0		/* XSAVE area, 64-byte aligned */
#define T_KSP		0x400
#define T_NEXT		0x408
#define T_CR3		0x410
#define T_KTOP		0x418
#define T_MARK		0x420		/* the task's XMM0 and user-page word */
/* per-CPU area, GS base in the kernel */
#define PC_KTOP		0		/* the running task's kernel stack top */
#define PC_USP		8
#define PC_LEFT		16		/* system calls left */
#define PC_CURRENT	24

#define MARK_A		0x1111aaaa2222bbbb
#define MARK_B		0x3333cccc4444dddd

	.code64
loop64:
	FPU_SSE_ON
	mov	%cr4, %rax
	or	$0x40000, %rax			/* OSXSAVE (18) */
	mov	%rax, %cr4
	xor	%ecx, %ecx
	mov	$3, %eax			/* XCR0: x87, SSE */
	xor	%edx, %edx
	xsetbv

	mov	$AREA, %edi
	xor	%eax, %eax
	mov	$(AREA_END - AREA) / 8, %ecx
	rep stosq
	/* The shared identity map (user-accessible, as sysloop's). */
	mov	$PD_K, %edi
	mov	$0x87, %eax			/* P, RW, U, PS */
	mov	$512, %ecx
1:	mov	%rax, (%rdi)
	add	$0x200000, %rax
	add	$8, %rdi
	loop	1b
	movq	$PDPT_K | 7, PML4_A
	movq	$PDPT_K | 7, PML4_B
	movq	$PD_K | 7, PDPT_K
	/* PML4 entry 1: one 2 MiB page per address space. */
	movq	$PDPT_A | 7, PML4_A + 8
	movq	$PD_A | 7, PDPT_A
	movq	$UPAGE_A | 0x87, PD_A
	movq	$PDPT_B | 7, PML4_B + 8
	movq	$PD_B | 7, PDPT_B
	movq	$UPAGE_B | 0x87, PD_B
	movabs	$MARK_A, %rax
	mov	%rax, UPAGE_A
	mov	%rax, TASK_A + T_MARK
	mov	%rax, TASK_A + T_FPU + 160	/* XMM0 in the legacy region */
	movabs	$MARK_B, %rax
	mov	%rax, UPAGE_B
	mov	%rax, TASK_B + T_MARK
	mov	%rax, TASK_B + T_FPU + 160
	/* The rest of each task: the FPU image (SSE state present, MXCSR
	 * default, x87 in its initial state), links, a kernel stack that
	 * switch_to's second half returns from into ret_to_user. */
	mov	$TASK_A, %rdi
	mov	$PML4_A, %eax
	mov	$KTOP_A, %edx
	mov	$TASK_B, %esi
	call	task_init
	mov	$TASK_B, %rdi
	mov	$PML4_B, %eax
	mov	$KTOP_B, %edx
	mov	$TASK_A, %esi
	call	task_init

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
	mov	$0xc0000084, %ecx		/* SFMASK: IF, TF, DF, AC as Linux */
	mov	$0x47700, %eax
	xor	%edx, %edx
	wrmsr
	mov	$0xc0000080, %ecx		/* EFER.SCE */
	rdmsr
	or	$1, %eax
	wrmsr
	mov	$0xc0000101, %ecx		/* GS_BASE: the per-CPU area */
	mov	$PERCPU, %eax
	xor	%edx, %edx
	wrmsr
	mov	$0xc0000102, %ecx		/* KERNEL_GS_BASE: user's, 0 */
	xor	%eax, %eax
	wrmsr
	mov	iters(%rip), %rax
	mov	%rax, %gs:PC_LEFT
	mov	$TASK_A, %edi
	mov	%rdi, %gs:PC_CURRENT
	mov	$-1, %eax
	mov	%eax, %edx
	jmp	switch_in

/* task_init: RDI task, EAX its PML4, EDX its kernel stack top, ESI the other */
task_init:
	mov	%rax, T_CR3(%rdi)
	mov	%rdx, T_KTOP(%rdi)
	mov	%rsi, T_NEXT(%rdi)
	movl	$0x1f80, T_FPU + 24(%rdi)	/* MXCSR */
	movq	$2, T_FPU + 512(%rdi)		/* XSTATE_BV: SSE */
	/* kernel stack, top down: user RIP, RFLAGS, RSP; ret_to_user; six
	 * callee-saved registers (zero) */
	lea	user(%rip), %rax
	mov	%rax, -8(%rdx)
	movq	$2, -16(%rdx)
	movabs	$USTACK, %rax
	mov	%rax, -24(%rdx)
	lea	ret_to_user(%rip), %rax
	mov	%rax, -32(%rdx)
	sub	$80, %rdx
	mov	%rdx, T_KSP(%rdi)
	ret

user:	syscall
	jmp	user

kentry:
	swapgs
	mov	%rsp, %gs:PC_USP
	mov	%gs:PC_KTOP, %rsp
	push	%rcx				/* user RIP */
	push	%r11				/* user RFLAGS */
	pushq	%gs:PC_USP
	decq	%gs:PC_LEFT
	jz	done
	call	switch_to
ret_to_user:
	pop	%rax
	pop	%r11
	pop	%rcx
	pushq	$0x1b				/* SS */
	push	%rax				/* RSP */
	push	%r11				/* RFLAGS */
	pushq	$0x23				/* CS */
	push	%rcx				/* RIP */
	swapgs
	iretq

switch_to:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%gs:PC_CURRENT, %rdi
	mov	$-1, %eax			/* every component XCR0 enables */
	mov	%eax, %edx
	xsaveopt T_FPU(%rdi)
	mov	%rsp, T_KSP(%rdi)
	mov	T_NEXT(%rdi), %rdi
	mov	%rdi, %gs:PC_CURRENT
switch_in:
	mov	T_CR3(%rdi), %rcx
	mov	%rcx, %cr3
	mov	T_KSP(%rdi), %rsp
	mov	T_KTOP(%rdi), %rcx
	mov	%rcx, %gs:PC_KTOP
	xrstor	T_FPU(%rdi)
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret

	/* iters system calls made iters - 1 switches: A runs if that is even */
done:	mov	%gs:PC_CURRENT, %rdi
	mov	iters(%rip), %rax
	dec	%rax
	and	$1, %eax
	mov	$TASK_A, %ecx
	mov	$TASK_B, %edx
	cmovnz	%rdx, %rcx
	BENCH_FAIL_UNLESS_EQ %rdi, %rcx
	movq	%xmm0, %rax
	BENCH_FAIL_UNLESS_EQ %rax, T_MARK(%rdi)
	movabs	UVIRT, %rax
	BENCH_FAIL_UNLESS_EQ %rax, T_MARK(%rdi)
	BENCH_END

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

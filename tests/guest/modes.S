/*
 * modes: every mode switch and back (SDM Vol. 3A 9.8, 9.9): 64-bit →
 * compatibility (32-bit CS) → leave IA-32e mode (CR0.PG off, EFER.LME off,
 * 9.8.5.4) → 32-bit paging with 4 MiB pages → PAE paging → 16-bit protected
 * → real mode (INT through the IVT) → protected (9.9.1) → IA-32e (9.8.5) →
 * 64-bit → 16-bit compatibility → 64-bit.  Then the faults: clearing CR0.PG
 * or CR4.PAE in 64-bit mode (#GP(0), Vol. 2A MOV CR).  (A CS with L=1 and
 * D=1 is #GP on Intel, not on AMD hardware: test_isa-style unit tests only.)
 *
 * Each legacy stage stores what it saw; the 64-bit code checks it all.
 */
#include "guest.h"
#define PD32	0x200000	/* 32-bit paging directory */
#define PDPT	0x201000	/* PAE */
#define PDPAE	0x202000
#define IDT	0x204000
#define ALIAS	0x40000000	/* mapped to physical 0 by both legacy tables */
#define EFER	0xc0000080
#define BASE	0x10000		/* the image; CS base of the 16-bit code */

	.globl	_start
_start:
	mov	%cr3, %rax
	mov	%eax, saved_cr3
	LOAD_GDT64 gdtr
	SET_GATE	IDT+13*16, gp_handler
	lidt	idtr(%rip)

	/* 64-bit → compatibility mode. */
	pushq	$0x18
	lea	c32(%rip), %rax
	push	%rax
	lretq

	.code32
c32:
	mov	$5, %eax
	.byte	0x48			/* DEC EAX here, a REX prefix in 64-bit mode */
	mov	%eax, r_compat
	/* Leave IA-32e mode: paging off (LMA clears), then LME, then PAE. */
	mov	%cr0, %eax
	btr	$31, %eax
	mov	%eax, %cr0
	mov	$EFER, %ecx
	rdmsr
	mov	%eax, r_efer_off
	btr	$8, %eax
	wrmsr
	mov	%cr4, %eax
	btr	$5, %eax
	mov	%eax, %cr4

	/* 32-bit paging, 4 MiB pages: identity, and ALIAS → 0. */
	xor	%ecx, %ecx
1:	mov	%ecx, %eax
	shl	$22, %eax
	or	$0x83, %eax
	mov	%eax, PD32(, %ecx, 4)
	inc	%ecx
	cmp	$1024, %ecx
	jb	1b
	movl	$0x83, PD32 + (ALIAS >> 22) * 4
	mov	%cr4, %eax
	bts	$4, %eax			/* PSE */
	mov	%eax, %cr4
	mov	$PD32, %eax
	mov	%eax, %cr3
	mov	%cr0, %eax
	bts	$31, %eax
	mov	%eax, %cr0
	movl	$0x11223344, ALIAS + 0x300000
	mov	%cr0, %eax
	btr	$31, %eax
	mov	%eax, %cr0
	mov	0x300000, %eax
	mov	%eax, r_pg32

	/* PAE paging, 2 MiB pages: PDPTE 0 and 1 share one directory. */
	xor	%ecx, %ecx
1:	mov	%ecx, %eax
	shl	$21, %eax
	or	$0x83, %eax
	mov	%eax, PDPAE(, %ecx, 8)
	movl	$0, PDPAE + 4(, %ecx, 8)
	inc	%ecx
	cmp	$512, %ecx
	jb	1b
	movl	$PDPAE | 1, PDPT
	movl	$PDPAE | 1, PDPT + 8
	movl	$0, PDPT + 16
	movl	$0, PDPT + 24
	mov	%cr4, %eax
	bts	$5, %eax
	mov	%eax, %cr4
	mov	$PDPT, %eax
	mov	%eax, %cr3
	mov	%cr0, %eax
	bts	$31, %eax
	mov	%eax, %cr0
	movl	$0x55667788, ALIAS + 0x300004
	mov	%cr0, %eax
	btr	$31, %eax
	mov	%eax, %cr0
	mov	%cr4, %eax
	btr	$5, %eax
	mov	%eax, %cr4
	mov	0x300004, %eax
	mov	%eax, r_pae

	/* 16-bit protected mode, then real mode (9.9.2). */
	ljmp	$0x20, $p16 - BASE

	.code16
p16:
	mov	$0x28, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	xor	%eax, %eax
	.byte	0xb8, 0x34, 0x12, 0x90, 0x90	/* MOV AX, 1234H; NOP; NOP (32-bit: MOV EAX) */
	mov	%eax, %ebx
	mov	%cr0, %eax
	btr	$0, %eax
	mov	%eax, %cr0
	ljmp	$BASE >> 4, $real - BASE
real:
	mov	$BASE >> 4, %ax
	mov	%ax, %ds
	xor	%ax, %ax
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x9000, %sp
	mov	%ebx, r_p16 - BASE
	lidt	rm_idtr - BASE			/* the IVT at 0 */
	movw	$rm_int - BASE, %es:0x30 * 4
	movw	$BASE >> 4, %es:0x30 * 4 + 2
	int	$0x30
	/* Real → protected (9.9.1), 32-bit code. */
	mov	%cr0, %eax
	bts	$0, %eax
	mov	%eax, %cr0
	ljmpl	$0x18, $p32

rm_int:
	mov	%cs, %ax
	mov	%ax, r_rmint - BASE
	iret

	.code32
p32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	/* Protected → IA-32e (9.8.5): PAE, CR3, LME, then paging. */
	mov	%cr4, %eax
	bts	$5, %eax
	mov	%eax, %cr4
	mov	saved_cr3, %eax
	mov	%eax, %cr3
	mov	$EFER, %ecx
	rdmsr
	bts	$8, %eax
	wrmsr
	mov	%cr0, %eax
	bts	$31, %eax
	mov	%eax, %cr0
	mov	$EFER, %ecx
	rdmsr
	mov	%eax, r_efer_on
	ljmp	$0x08, $l64

	.code64
l64:
	/* 16-bit compatibility mode and back. */
	xor	%eax, %eax
	pushq	$0x30
	mov	$c16 - BASE, %ecx
	push	%rcx
	lretq
	.code16
c16:
	.byte	0xb8, 0x34, 0x12, 0x90, 0x90
	ljmpl	$0x08, $l64b
	.code64
l64b:
	EXPECT	%rax, 0x1234, m_c16
	lidt	idtr(%rip)

	movl	r_compat(%rip), %eax
	EXPECT	%rax, 4, m_compat
	movl	r_efer_off(%rip), %eax
	and	$0x500, %eax
	EXPECT	%rax, 0x100, m_efer_off
	movl	r_pg32(%rip), %eax
	EXPECT	%rax, 0x11223344, m_pg32
	movl	r_pae(%rip), %eax
	EXPECT	%rax, 0x55667788, m_pae
	movl	r_p16(%rip), %eax
	EXPECT	%rax, 0x1234, m_p16
	movzwl	r_rmint(%rip), %eax
	EXPECT	%rax, BASE >> 4, m_rmint
	movl	r_efer_on(%rip), %eax
	and	$0x500, %eax
	EXPECT	%rax, 0x500, m_efer_on

	/* Clearing CR0.PG or CR4.PAE in 64-bit mode: #GP(0). */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	%cr0, %rax
	btr	$31, %rax
	mov	%rax, %cr0
1:	EXPECT	%r12, 0, m_pg
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	%cr4, %rax
	btr	$5, %rax
	mov	%rax, %cr4
1:	EXPECT	%r12, 0, m_pae64

	PUTS	pass
	POWEROFF

gp_handler:
	pop	%r12
	mov	%r13, (%rsp)
	iretq

	.balign	8
gdt:	.quad	0
	.quad	0x00af9b000000ffff	/* 08: 64-bit code */
	.quad	0x00cf93000000ffff	/* 10: flat data */
	.quad	0x00cf9b000000ffff	/* 18: 32-bit code */
	.quad	0x00009b010000ffff	/* 20: 16-bit code, base BASE */
	.quad	0x000093000000ffff	/* 28: 16-bit data */
	.quad	0x00009b010000ffff	/* 30: 16-bit code, base BASE */
gdt_end:
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
idtr:	.word	256 * 16 - 1
	.quad	IDT
rm_idtr: .word	0x3ff
	.long	0
saved_cr3: .long 0
r_compat: .long	0
r_efer_off: .long 0
r_pg32:	.long	0
r_pae:	.long	0
r_p16:	.long	0
r_rmint: .word	0
r_efer_on: .long 0
pass:	.asciz	"PASS modes\n"
m_c16:	.asciz	"modes: 16-bit compatibility mode"
m_compat: .asciz "modes: 32-bit compatibility mode"
m_efer_off: .asciz "modes: EFER.LMA after CR0.PG off"
m_pg32:	.asciz	"modes: 32-bit paging alias"
m_pae:	.asciz	"modes: PAE paging alias"
m_p16:	.asciz	"modes: 16-bit protected mode"
m_rmint: .asciz	"modes: real-mode INT"
m_efer_on: .asciz "modes: EFER.LMA after CR0.PG on"
m_pg:	.asciz	"modes: CR0.PG cleared in 64-bit mode"
m_pae64: .asciz	"modes: CR4.PAE cleared in 64-bit mode"
	GUEST_LIB

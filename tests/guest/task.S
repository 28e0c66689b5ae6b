/*
 * task: the #DF task of a 32-bit OS (SDM Vol. 3A 6.12.2, 7.3).  In 32-bit
 * protected mode (left IA-32e mode as tests/guest/modes.S does), a #GP
 * whose IDT entry is not present becomes #NP, then #DF (table 6-5); the
 * #DF entry is a task gate to TSS B.  The #DF task checks its error code,
 * NT, the back link and the EIP saved in the old TSS, moves that EIP past
 * the faulting instruction and returns with IRET (NT: back to task A).
 * Task A then checks TR, the busy bits and CR0.TS and goes back to 64-bit
 * mode to report.  TSS B has its T bit set (7.2.1, 17.3.1.5): a #DB trap
 * with DR6.BT comes right after the switch, before the #DF task's first
 * instruction; its handler (an interrupt gate, run in task B) records DR6
 * and the EIP it returns to.  Then task A calls a 286-style 16-bit TSS
 * (7.6): task C (16-bit code and stack) stores EAX, whose upper word the
 * switch set to all ones, and its FLAGS, and IRETs back; A checks them and
 * the IP and busy bit left in C's TSS.
 */
#include "guest.h"
#define IDT32	0x204000
#define TSSA	0x205000
#define TSSB	0x206000
#define STACKB	0x208000
#define TSSC	0x20a000	/* 16-bit TSS; C's stack segment has base 0x200000 */
#define EFER	0xc0000080

	.globl	_start
_start:
	mov	%cr3, %rax
	mov	%eax, saved_cr3
	lgdt	gdtr(%rip)
	pushq	$0x18
	lea	c32(%rip), %rax
	push	%rax
	lretq

	.code32
c32:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	/* Leave IA-32e mode (9.8.5.4). */
	mov	%cr0, %eax
	btr	$31, %eax
	mov	%eax, %cr0
	mov	$EFER, %ecx
	rdmsr
	btr	$8, %eax
	wrmsr
	mov	%cr4, %eax
	btr	$5, %eax
	mov	%eax, %cr4

	/* IDT: vector 8, a task gate to TSS B (30H); 1, an interrupt gate. */
	mov	$IDT32, %edi
	xor	%eax, %eax
	mov	$256 * 2, %ecx
	rep stosl
	movl	$0x00300000, IDT32 + 8 * 8
	movl	$0x00008500, IDT32 + 8 * 8 + 4
	mov	$db_handler, %eax
	mov	%ax, IDT32 + 1 * 8
	movw	$0x18, IDT32 + 1 * 8 + 2
	movw	$0x8e00, IDT32 + 1 * 8 + 4
	shr	$16, %eax
	mov	%ax, IDT32 + 1 * 8 + 6
	lidt	idtr32
	/* TSS A: the running task; TSS B: the #DF task. */
	mov	$TSSA, %edi
	xor	%eax, %eax
	mov	$0x2000 / 4, %ecx
	rep stosl
	movl	$df_task, TSSB + 0x20
	movl	$0x2, TSSB + 0x24
	movl	$STACKB, TSSB + 0x38
	movl	$0x10, TSSB + 0x48
	movl	$0x18, TSSB + 0x4c
	movl	$0x10, TSSB + 0x50
	movl	$0x10, TSSB + 0x54
	movl	$1, TSSB + 0x64		/* T */
	mov	$0x28, %ax
	ltr	%ax

	/* Selector 50H is past the GDT: #GP(50H) → #NP(vector 13) → #DF. */
	mov	$0x50, %ax
fault:	mov	%ax, %ds
resume:
	str	%ax
	movzwl	%ax, %eax
	mov	%eax, r_tr
	movzbl	gdt + 0x28 + 5, %eax
	mov	%eax, r_busy_a
	movzbl	gdt + 0x30 + 5, %eax
	mov	%eax, r_busy_b
	mov	%cr0, %eax
	and	$8, %eax
	mov	%eax, r_ts
	clts

	/* Task C: a 16-bit TSS (38H), code 40H (base 0x10000), stack 48H. */
	mov	$TSSC, %edi
	xor	%eax, %eax
	mov	$0x2c / 4, %ecx
	rep stosl
	mov	$c16_task, %eax
	sub	$0x10000, %eax
	mov	%ax, TSSC + 0x0e		/* IP */
	movw	$0x2, TSSC + 0x10		/* FLAGS */
	movw	$0x1234, TSSC + 0x12		/* AX */
	movw	$0x9000, TSSC + 0x1a		/* SP */
	movw	$0x10, TSSC + 0x22		/* ES */
	movw	$0x40, TSSC + 0x24		/* CS */
	movw	$0x48, TSSC + 0x26		/* SS */
	movw	$0x10, TSSC + 0x28		/* DS */
	lcall	$0x38, $0
	movzwl	TSSC + 0x0e, %eax
	mov	%eax, r_c_ip
	movzbl	gdt + 0x38 + 5, %eax
	mov	%eax, r_busy_c
	str	%ax
	movzwl	%ax, %eax
	mov	%eax, r_tr_c
	clts

	/* Back to IA-32e mode (9.8.5). */
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
	ljmp	$0x08, $l64

db_handler:
	mov	%dr6, %eax
	mov	%eax, r_dr6
	mov	(%esp), %eax
	mov	%eax, r_db_eip
	incl	r_db_count
	xor	%eax, %eax
	mov	%eax, %dr6
	iret

	.code16
c16_task:
	mov	$r_c_eax, %ebx
	mov	%eax, (%ebx)
	pushfl
	popl	%ecx
	mov	$r_c_flags, %ebx
	mov	%ecx, (%ebx)
	iret				/* NT: back to task A */
c16_ret:
	hlt
	.code32

df_task:
	pop	%eax
	mov	%eax, r_dferr
	pushf
	pop	%eax
	and	$0x4000, %eax
	mov	%eax, r_nt
	mov	TSSB, %eax
	mov	%eax, r_link
	mov	TSSA + 0x20, %eax
	mov	%eax, r_eip
	movl	$resume, TSSA + 0x20
	iret

	.code64
l64:
	movl	r_dferr(%rip), %eax
	EXPECT	%rax, 0, m_err
	movl	r_nt(%rip), %eax
	EXPECT	%rax, 0x4000, m_nt
	movl	r_link(%rip), %eax
	EXPECT	%rax, 0x28, m_link
	movl	r_eip(%rip), %eax
	EXPECT	%rax, fault, m_eip
	movl	r_tr(%rip), %eax
	EXPECT	%rax, 0x28, m_tr
	movl	r_c_eax(%rip), %eax
	EXPECT	%rax, 0xffff1234, m_ceax
	movl	r_c_flags(%rip), %eax
	EXPECT	%rax, 0x4002, m_cflags
	movl	r_c_ip(%rip), %eax
	EXPECT	%rax, (c16_ret-0x10000), m_cip
	movl	r_busy_c(%rip), %eax
	EXPECT	%rax, 0x81, m_cbusy
	movl	r_tr_c(%rip), %eax
	EXPECT	%rax, 0x28, m_tr
	movl	r_db_count(%rip), %eax
	EXPECT	%rax, 1, m_dbn
	movl	r_dr6(%rip), %eax
	and	$0x8000, %eax
	EXPECT	%rax, 0x8000, m_bt
	movl	r_db_eip(%rip), %eax
	EXPECT	%rax, df_task, m_dbeip
	movl	r_busy_a(%rip), %eax
	EXPECT	%rax, 0x8b, m_busy
	movl	r_busy_b(%rip), %eax
	EXPECT	%rax, 0x89, m_busy
	movl	r_ts(%rip), %eax
	EXPECT	%rax, 8, m_ts
	PUTS	pass
	POWEROFF

	.balign	8
gdt:	.quad	0
	.quad	0x00af9b000000ffff	/* 08: 64-bit code */
	.quad	0x00cf93000000ffff	/* 10: flat data */
	.quad	0x00cf9b000000ffff	/* 18: 32-bit code */
	.quad	0
	.quad	0x0000892050000067	/* 28: 32-bit TSS A at 0x205000 */
	.quad	0x0000892060000067	/* 30: 32-bit TSS B at 0x206000 */
	.quad	0x00008120a000002b	/* 38: 16-bit TSS C at 0x20a000 */
	.quad	0x00009b010000ffff	/* 40: 16-bit code, base 0x10000 */
	.quad	0x000093200000ffff	/* 48: 16-bit data, base 0x200000 */
gdt_end:
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
idtr32:	.word	256 * 8 - 1
	.long	IDT32
saved_cr3: .long 0
r_dferr: .long	-1
r_nt:	.long	0
r_link:	.long	0
r_eip:	.long	0
r_tr:	.long	0
r_busy_a: .long	0
r_busy_b: .long	0
r_ts:	.long	0
r_dr6:	.long	0
r_db_eip: .long	0
r_db_count: .long 0
r_c_eax: .long	0
r_c_flags: .long 0
r_c_ip:	.long	0
r_busy_c: .long	0
r_tr_c:	.long	0
pass:	.asciz	"PASS task\n"
m_err:	.asciz	"task: #DF error code on the task's stack"
m_nt:	.asciz	"task: NT not set in the #DF task"
m_link:	.asciz	"task: back link"
m_eip:	.asciz	"task: EIP saved in the old TSS"
m_tr:	.asciz	"task: TR after IRET"
m_busy:	.asciz	"task: busy bits after IRET"
m_dbn:	.asciz	"task: one #DB for the T bit"
m_bt:	.asciz	"task: DR6.BT in the T bit's #DB"
m_dbeip: .asciz	"task: the T bit's #DB returns to the new task's first EIP"
m_ceax:	.asciz	"task: EAX in a 16-bit task (upper word all ones)"
m_cflags: .asciz "task: EFLAGS in the 16-bit task (NT set by CALL)"
m_cip:	.asciz	"task: IP saved in the 16-bit TSS"
m_cbusy: .asciz	"task: the 16-bit TSS not busy after IRET"
m_ts:	.asciz	"task: CR0.TS after the task switch"
	GUEST_LIB

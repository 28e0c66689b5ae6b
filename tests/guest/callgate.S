/*
 * callgate: CALL FAR from ring 3 through a 64-bit call gate to ring 0
 * (SDM Vol. 3A 5.8.5.1: RSP0 from the TSS, SS null, old SS:RSP and CS:RIP
 * pushed as quadwords), RETFQ back to ring 3, and a gate with DPL 0 called
 * from ring 3: #GP(gate selector).  INT 80H (DPL 3) returns to ring 0.
 */
#include "guest.h"
#define IDT	0x204000
#define TSS	0x205000
#define KSTACK	0x207000
#define USTACK	0x8000

	.globl	_start
_start:
	LOAD_GDT64 gdtr
	movq	$KSTACK, TSS + 4
	mov	$0x28, %ax
	ltr	%ax
	/* The 64-bit call gates at 38H (DPL 3) and 48H (DPL 0) to 08:ring0. */
	lea	ring0(%rip), %rax
	mov	%ax, gate3(%rip)
	mov	%ax, gate0(%rip)
	shr	$16, %rax
	mov	%ax, gate3 + 6(%rip)
	mov	%ax, gate0 + 6(%rip)
	shr	$16, %rax
	mov	%eax, gate3 + 8(%rip)
	mov	%eax, gate0 + 8(%rip)
	SET_GATE	IDT+13*16, gp_handler
	SET_GATE	IDT+0x80*16, int80
	movb	$0xee, IDT + 0x80 * 16 + 5
	lidt	idtr(%rip)
	/* bhyveload's tables are supervisor-only: open the first 2 MiB to ring 3. */
	mov	%cr3, %rax
	orq	$4, (%rax)
	mov	(%rax), %rax
	and	$~0xfff, %rax
	orq	$4, (%rax)
	mov	(%rax), %rax
	and	$~0xfff, %rax
	orq	$4, (%rax)
	mov	%cr3, %rax
	mov	%rax, %cr3

	/* To ring 3; it calls through the gate, then returns with INT 80H. */
	mov	%rsp, saved_rsp(%rip)
	xor	%r12, %r12
	mov	$-1, %r10
	pushq	$0x1b
	pushq	$USTACK
	pushq	$0x2
	pushq	$0x23
	lea	user(%rip), %rax
	push	%rax
	iretq
back:
	EXPECT	%r12, 1, m_called
	EXPECT	%r8, 0x08, m_cs			/* CS in the gate's target */
	EXPECT	%r9, 0, m_ss			/* SS null, RPL 0 */
	EXPECT	%rbx, (KSTACK - 32), m_rsp
	EXPECT	%rcx, 0x23, m_frame_cs
	EXPECT	%rdx, 0x1b, m_frame_ss
	EXPECT	%rsi, (USTACK - 8), m_frame_rsp
	EXPECT	%r11, 0x23, m_ret_cs		/* CS after RETFQ, read in ring 3 */
	EXPECT	%r10, 0x48, m_gp
	PUTS	pass
	POWEROFF

user:
	sub	$8, %rsp
	lcall	*far3(%rip)
	mov	%cs, %r11
	lea	1f(%rip), %r13
	lcall	*far0(%rip)
1:	int	$0x80

ring0:
	inc	%r12
	mov	%cs, %r8
	mov	%ss, %r9
	mov	%rsp, %rbx
	mov	8(%rsp), %rcx
	mov	16(%rsp), %rsi
	mov	24(%rsp), %rdx
	lretq

gp_handler:
	pop	%r10
	mov	%r13, (%rsp)
	iretq

int80:
	mov	saved_rsp(%rip), %rsp
	jmp	back

	.balign	8
saved_rsp: .quad 0
gdt:	.quad	0
	.quad	0x00af9b000000ffff	/* 08: 64-bit code, DPL 0 */
	.quad	0x00cf93000000ffff	/* 10: data, DPL 0 */
	.quad	0x00cff3000000ffff	/* 18: data, DPL 3 */
	.quad	0x00affb000000ffff	/* 20: 64-bit code, DPL 3 */
	.quad	0x0000892050000067	/* 28: 64-bit TSS at 0x205000 */
	.quad	0
gate3:	.quad	0x0000ec0000080000	/* 38: 64-bit call gate, DPL 3 */
	.quad	0
gate0:	.quad	0x00008c0000080000	/* 48: 64-bit call gate, DPL 0 */
	.quad	0
gdt_end:
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
idtr:	.word	256 * 16 - 1
	.quad	IDT
far3:	.long	0
	.word	0x3b
far0:	.long	0
	.word	0x4b
pass:	.asciz	"PASS callgate\n"
m_called: .asciz "callgate: ring-0 code not reached once"
m_cs:	.asciz	"callgate: CS in ring 0"
m_ss:	.asciz	"callgate: SS not null in ring 0"
m_rsp:	.asciz	"callgate: RSP not TSS.RSP0 - 32"
m_frame_cs: .asciz "callgate: pushed CS"
m_frame_ss: .asciz "callgate: pushed SS"
m_frame_rsp: .asciz "callgate: pushed RSP"
m_ret_cs: .asciz "callgate: CS after RETFQ"
m_gp:	.asciz	"callgate: DPL 0 gate from ring 3 not #GP(48H)"
	GUEST_LIB

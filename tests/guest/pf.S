/*
 * pf: #PF error codes and CR2 under 4-level paging (SDM Vol. 3A 4.7,
 * figure 4-12): P, W/R, U/S, RSVD and I/D with EFER.NXE, at CPL 0 and 3,
 * CR0.WP on and off, XD reserved with NXE off; A/D bits set by accesses.
 *
 * Own tables: 0-1 GiB identity-mapped by 2 MiB pages, user-accessible,
 * except la 0x400000 (4 KiB pages from PT) and la 0x600000 (a 2 MiB PDE
 * with reserved bit 13 set).  The #PF handler records the error code in
 * r12 and CR2 in r11, then resumes at r13.  INT 80H (DPL 3) returns from
 * ring 3 to ring 0 at r14.
 */
#include "guest.h"
#define PML4	0x200000
#define PDPT	0x201000
#define PD	0x202000
#define PT	0x203000
#define IDT	0x204000
#define TSS	0x205000
#define PHYS	0x300000	/* backing of the 4 KiB test pages */
#define T	0x400000	/* page 0 absent, 1 user RO, 2 supervisor RW, 3 user XD */
#define RSVDP	0x600000
#define USTACK	0x8000
#define KSTACK	0x207000	/* TSS.RSP0 */
#define P	1
#define RW	2
#define US	4
#define A	0x20
#define D	0x40
#define PS	0x80
#define XD	(1 << 63)

	.globl	_start
_start:
	/* GDT with ring-3 segments and a TSS (RSP0 = KSTACK). */
	LOAD_GDT64 gdtr
	movq	$KSTACK, TSS + 4
	mov	$0x28, %ax
	ltr	%ax

	/* IDT: #PF (14) and INT 80H with DPL 3. */
	SET_GATE	IDT+14*16, pf_handler
	SET_GATE	IDT+0x80*16, int80
	movb	$0xee, IDT + 0x80 * 16 + 5	/* present, DPL 3, interrupt gate */
	lidt	idtr(%rip)

	/* Page tables. */
	mov	$PML4, %rdi
	xor	%eax, %eax
	mov	$4 * 4096 / 8, %ecx
	rep stosq
	movq	$PDPT | P | RW | US, PML4
	movq	$PD | P | RW | US, PDPT
	xor	%ecx, %ecx
2:	mov	%rcx, %rax
	shl	$21, %rax
	or	$P | RW | US | PS, %rax
	mov	%rax, PD(, %rcx, 8)
	inc	%ecx
	cmp	$512, %ecx
	jb	2b
	movq	$PT | P | RW | US, PD + 2 * 8
	orq	$1 << 13, PD + 3 * 8		/* 2 MiB PDE: bits 20:13 reserved */
	movq	$PHYS + 0x1000 | P | US, PT + 1 * 8
	movq	$PHYS + 0x2000 | P | RW, PT + 2 * 8
	mov	$PHYS + 0x3000 | P | RW | US, %rax
	bts	$63, %rax
	mov	%rax, PT + 3 * 8
	/* NXE on, WP on, then the new tables. */
	mov	$0xc0000080, %ecx
	rdmsr
	or	$1 << 11, %eax
	wrmsr
	mov	%cr0, %rax
	or	$1 << 16, %rax
	mov	%rax, %cr0
	mov	$PML4, %eax
	mov	%rax, %cr3

	/* CPL 0: absent page, read and write. */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	T + 0x123, %al
1:	EXPECT	%r12, 0, m_np_r
	EXPECT	%r11, T + 0x123, m_cr2
	lea	1f(%rip), %r13
	mov	$-1, %r12
	movl	$0, T + 0xffc
1:	EXPECT	%r12, 2, m_np_w
	EXPECT	%r11, T + 0xffc, m_cr2

	/* CPL 0 write to a read-only page: WP=1 faults, WP=0 writes. */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	movb	$0x55, T + 0x1010
1:	EXPECT	%r12, 3, m_wp
	EXPECT	%r11, T + 0x1010, m_cr2
	mov	%cr0, %rax
	btr	$16, %rax
	mov	%rax, %cr0
	lea	1f(%rip), %r13
	mov	$-1, %r12
	movb	$0x55, T + 0x1010
1:	EXPECT	%r12, -1, m_nowp
	movzbq	PHYS + 0x1010, %rax
	EXPECT	%rax, 0x55, m_nowp
	mov	%cr0, %rax
	bts	$16, %rax
	mov	%rax, %cr0

	/* CPL 0 write to the supervisor page: no fault, A and D set. */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	movq	$0x1234, T + 0x2008
1:	EXPECT	%r12, -1, m_sup
	mov	PT + 2 * 8, %rax
	and	$A | D, %eax
	EXPECT	%rax, A | D, m_ad
	mov	PD + 2 * 8, %rax
	and	$A, %eax
	EXPECT	%rax, A, m_ad

	/* Fetches: XD page (I/D with P), absent page (I/D alone). */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	$T + 0x3000, %eax
	jmp	*%rax
1:	EXPECT	%r12, 0x11, m_nx
	EXPECT	%r11, T + 0x3000, m_cr2
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	$T + 0x10, %eax
	jmp	*%rax
1:	EXPECT	%r12, 0x10, m_nx_np
	EXPECT	%r11, T + 0x10, m_cr2

	/* Reserved bit in a 2 MiB PDE: read, write, fetch. */
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	RSVDP + 0x40, %al
1:	EXPECT	%r12, 9, m_rsvd_r
	EXPECT	%r11, RSVDP + 0x40, m_cr2
	lea	1f(%rip), %r13
	mov	$-1, %r12
	movb	$1, RSVDP + 0x41
1:	EXPECT	%r12, 0xb, m_rsvd_w
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	$RSVDP, %eax
	jmp	*%rax
1:	EXPECT	%r12, 0x19, m_rsvd_f

	/* XD is reserved with EFER.NXE = 0 (4.5, table 4-20). */
	mov	$0xc0000080, %ecx
	rdmsr
	btr	$11, %eax
	wrmsr
	invlpg	T + 0x3000
	lea	1f(%rip), %r13
	mov	$-1, %r12
	mov	T + 0x3000, %al
1:	EXPECT	%r12, 9, m_xd_rsvd
	mov	$0xc0000080, %ecx
	rdmsr
	bts	$11, %eax
	wrmsr

	/* CPL 3: supervisor page read, read-only write, absent read, user read. */
	mov	$T + 0x2000, %edi
	xor	%esi, %esi
	call	user_access
	EXPECT	%r12, 5, m_us
	EXPECT	%r11, T + 0x2000, m_cr2
	mov	$T + 0x1800, %edi
	mov	$1, %esi
	call	user_access
	EXPECT	%r12, 7, m_uw
	EXPECT	%r11, T + 0x1800, m_cr2
	mov	$T + 0x7, %edi
	xor	%esi, %esi
	call	user_access
	EXPECT	%r12, 4, m_unp
	EXPECT	%r11, T + 0x7, m_cr2
	mov	$T + 0x1800, %edi
	xor	%esi, %esi
	call	user_access
	EXPECT	%r12, -1, m_uok
	/* CPL 3 fetch from the user XD page: U, I/D, P. */
	mov	$T + 0x3000, %edi
	mov	$2, %esi
	call	user_access
	EXPECT	%r12, 0x15, m_unx
	EXPECT	%r11, T + 0x3000, m_cr2

	PUTS	pass
	POWEROFF

/* Access [rdi] at CPL 3: esi 0 read, 1 write, 2 call.  r12 = -1 unless a #PF. */
user_access:
	lea	2f(%rip), %r14
	mov	%rsp, saved_rsp(%rip)
	mov	$-1, %r12
	pushq	$0x1b
	pushq	$USTACK
	pushq	$0x2
	pushq	$0x23
	lea	user_code(%rip), %rax
	push	%rax
	iretq
2:	ret
user_code:
	lea	1f(%rip), %r13
	cmp	$1, %esi
	je	3f
	ja	4f
	mov	(%rdi), %al
	jmp	1f
3:	movb	$0, (%rdi)
	jmp	1f
4:	call	*%rdi
1:	int	$0x80

int80:
	mov	saved_rsp(%rip), %rsp
	jmp	*%r14

pf_handler:
	pop	%r12
	mov	%cr2, %r11
	mov	%r13, (%rsp)
	iretq

	.balign	8
saved_rsp: .quad 0
gdt:	.quad	0
	.quad	0x00af9b000000ffff	/* 08: 64-bit code, DPL 0 */
	.quad	0x00cf93000000ffff	/* 10: data, DPL 0 */
	.quad	0x00cff3000000ffff	/* 18: data, DPL 3 */
	.quad	0x00affb000000ffff	/* 20: 64-bit code, DPL 3 */
	.quad	0x0000892050000067	/* 28: 64-bit TSS at 0x205000 */
	.quad	0
gdt_end:
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS pf\n"
m_cr2:	.asciz	"pf: CR2"
m_np_r:	.asciz	"pf: absent page read, CPL 0"
m_np_w:	.asciz	"pf: absent page write, CPL 0"
m_wp:	.asciz	"pf: write to read-only page with WP"
m_nowp:	.asciz	"pf: write to read-only page without WP"
m_sup:	.asciz	"pf: supervisor write faulted"
m_ad:	.asciz	"pf: accessed/dirty bits"
m_nx:	.asciz	"pf: fetch from XD page"
m_nx_np: .asciz	"pf: fetch from absent page"
m_rsvd_r: .asciz "pf: reserved bit, read"
m_rsvd_w: .asciz "pf: reserved bit, write"
m_rsvd_f: .asciz "pf: reserved bit, fetch"
m_xd_rsvd: .asciz "pf: XD with NXE off"
m_us:	.asciz	"pf: CPL 3 read of supervisor page"
m_uw:	.asciz	"pf: CPL 3 write to read-only page"
m_unp:	.asciz	"pf: CPL 3 read of absent page"
m_uok:	.asciz	"pf: CPL 3 read of user page faulted"
m_unx:	.asciz	"pf: CPL 3 fetch from XD page"
	GUEST_LIB

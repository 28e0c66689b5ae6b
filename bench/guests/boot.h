/*
 * boot.h - the two ways a bench guest starts (included by each bench guest,
 * which then defines loop64 and ends with BENCH_END):
 *  - lhyve: bhyveload -k GUEST.bin@0x100000 enters at offset 0 in 64-bit
 *    mode (identity-mapped, flat GDT).
 *  - QEMU: -kernel GUEST.bin loads it by its multiboot header (a.out
 *    kludge) and enters entry32 in 32-bit protected mode, which switches to
 *    long mode itself (Intel SDM Vol. 3A 9.8.5).
 * BENCH_END powers off on both: QEMU's isa-debug-exit, then bhyve's PM1a S5.
 * A guest that takes its iteration count at run time reads the 64-bit `iters`:
 * bench/lib.sh patches it in a copy of the .bin (offset iters - _start, from
 * the ELF's symbol table), so the same binary runs at any length.
 */
#define BASE	0x100000
#define PML4	0x1000
#define PDPT	0x2000
#define PD	0x3000

	.text
	.code64
	.globl	_start
_start:
	jmp	loop64

	.align	4
mb_header:
	.long	0x1BADB002			/* multiboot magic */
	.long	0x00010000			/* flags: addresses in header */
	.long	-(0x1BADB002 + 0x00010000)
	.long	BASE + (mb_header - _start)	/* header_addr */
	.long	BASE				/* load_addr */
	.long	0				/* load_end_addr: whole file */
	.long	0				/* bss_end_addr: none */
	.long	BASE + (entry32 - _start)	/* entry_addr */

	.code32
entry32:
	/* Identity-map the first 1 GiB with 2 MiB pages. */
	mov	$PML4, %edi
	xor	%eax, %eax
	mov	$(3 * 4096 / 4), %ecx
	rep stosl
	movl	$(PDPT | 3), PML4
	movl	$(PD | 3), PDPT
	mov	$PD, %edi
	mov	$0x83, %eax			/* P, RW, PS */
	mov	$512, %ecx
1:	mov	%eax, (%edi)
	movl	$0, 4(%edi)
	add	$0x200000, %eax
	add	$8, %edi
	loop	1b
	mov	%cr4, %eax
	or	$0x20, %eax			/* PAE */
	mov	%eax, %cr4
	mov	$PML4, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax		/* PG, PE */
	mov	%eax, %cr0
	lgdt	BASE + (gdtr - _start)
	ljmp	$8, $(BASE + (loop64 - _start))

	.align	8
gdt:	.quad	0
	.quad	0x00209a0000000000		/* 64-bit code */
	.quad	0x0000920000000000		/* data */
gdtr:	.word	3 * 8 - 1
	.long	BASE + (gdt - _start)

	.align	8
	.globl	iters
iters:	.quad	1000
mxcsr_default:
	.long	0x1f80

/* Power off on both: QEMU's isa-debug-exit, then bhyve's PM1a control (S5). */
.macro BENCH_END
	mov	$0x31, %al
	out	%al, $0xf4
	mov	$0x404, %dx
	mov	$0x3400, %ax
	out	%ax, %dx
	hlt
.endm

/*
 * FPU_SSE_ON: what an OS does before x87/SSE code (SDM Vol. 3A 13.1.3,
 * 9.2.2; bhyveload and multiboot leave it undone): CR0.EM and TS clear
 * (no #UD/#NM), MP and NE set (WAIT honours TS, native #MF), CR4.OSFXSR
 * (SSE enabled) and OSXMMEXCPT (#XM, not #UD), then FNINIT and the default
 * MXCSR (every exception masked, round to nearest).
 */
.macro FPU_SSE_ON
	mov	%cr0, %rax
	and	$~0xc, %rax			/* EM (2), TS (3) */
	or	$0x22, %rax			/* MP (1), NE (5) */
	mov	%rax, %cr0
	mov	%cr4, %rax
	or	$0x600, %rax			/* OSFXSR (9), OSXMMEXCPT (10) */
	mov	%rax, %cr4
	fninit
	ldmxcsr	mxcsr_default(%rip)
.endm

/* A wrong result: no IDT, so #UD -> #DF -> triple fault; both VMMs report it. */
.macro BENCH_FAIL_UNLESS_EQ reg, value
	cmp	\value, \reg
	je	.Lok\@
	ud2
.Lok\@:
.endm

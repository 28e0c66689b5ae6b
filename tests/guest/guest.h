/*
 * guest.h - macros for tiny self-checking guests (tests/guest/*.S).
 *
 * bhyveload starts them in 64-bit mode at _start (0x10000) with the first
 * 4 GiB identity-mapped and RSP = 0x9000.  They report on COM1 with lines
 * "PASS name" / "FAIL name: what", then power off through the PM1a control
 * port (bhyve exit status 1).  tests/guest/run.sh checks both.
 */
#define COM1		0x3f8
#define PM1A_CNT	0x404
#define SLP_S5		0x3400		/* SLP_EN | SLP_TYP(5), as bhyve's pm.c */

	.code64
	.text

/* Print the NUL-terminated string at \label. */
.macro PUTS label
	lea	\label(%rip), %rsi
	call	guest_puts
.endm

/* IDT gate at address \gate (the IDT's base + 16 * vector, written without spaces) -> \handler. */
.macro SET_GATE gate, handler
	lea	\handler(%rip), %rax
	mov	$\gate, %rdi
	call	guest_set_gate
.endm

/* Fail with message \msg (FAIL and the message on COM1, then power off). */
.macro FAIL msg
	lea	\msg(%rip), %rsi
	jmp	guest_fail
.endm

/* Fail with message \msg unless \reg == \val (64-bit compare). */
.macro EXPECT reg, val, msg
	mov	$\val, %r15
	cmp	%r15, \reg
	je	1f
	lea	\msg(%rip), %rsi
	jmp	guest_fail
1:
.endm

/* Fail with message \msg unless \lo <= \reg <= \hi (unsigned, 64-bit). */
.macro EXPECT_RANGE reg, lo, hi, msg
	movabs	$\lo, %r15
	cmp	%r15, \reg
	jb	1f
	movabs	$\hi, %r15
	cmp	%r15, \reg
	jbe	2f
1:	lea	\msg(%rip), %rsi
	jmp	guest_fail
2:
.endm

/*
 * %rax = the TSC in ns, at the rate CPUID 15H gives (1 GHz on the software
 * CPU, the host's TSC on KVM); clobbers %rdx.  Needs a stack.
 */
.macro RDTSC64
	call	guest_tsc_ns
.endm

/*
 * Load the GDT at \gdtr and reload the segments from it: CS = 08H by a far
 * return (64-bit code), DS, ES and SS = 10H.  Clobbers %rax.
 */
.macro LOAD_GDT64 gdtr
	lgdt	\gdtr(%rip)
	lea	.Lgdt64_\@(%rip), %rax
	pushq	$0x08
	push	%rax
	lretq
.Lgdt64_\@:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
.endm

/*
 * IOAPIC redirection entry of pin \pin := \lo, destination APIC 0, with
 * %rsi at the IOAPIC's window (IOREGSEL at 0, IOWIN at 10H; 82093AA 3.2.4).
 */
.macro IOAPIC_RTE pin, lo
	movl	$0x11 + 2 * \pin, (%rsi)
	movl	$0, 0x10(%rsi)
	movl	$0x10 + 2 * \pin, (%rsi)
	movl	$\lo, 0x10(%rsi)
.endm

/* out \val to \port; clobbers %al. */
.macro OUTB port, val
	mov	$\val, %al
	out	%al, $\port
.endm

.macro POWEROFF
	mov	$PM1A_CNT, %dx
	mov	$SLP_S5, %ax
	out	%ax, %dx
	hlt
.endm

/*
 * tick_handler: a timer's interrupt handler for the guests that count
 * ticks across a suspend (cli_apictimer, cli_pittimer): %r12 counts them,
 * every 20th prints '.' on COM1, then it calls tick_eoi, which the guest
 * defines to end the interrupt at its controller.
 */
/*
 * LAPIC_TIMER_SETUP: enable the local APIC (SVR 1FFH) and make its timer
 * count at about 128 MHz on either backend: divide by 1 on the software
 * CPU's 128 MHz bus, by 8 on KVM's 1 GHz one (docs/kvm.md; KVM's brand
 * string says which).  Clobbers RAX, RCX, RDX; RBX = the LAPIC after.
 */
.macro LAPIC_TIMER_SETUP
	mov	$0xfee00000, %ebx
	movl	$0x1ff, 0xf0(%rbx)
	movl	$0xb, 0x3e0(%rbx)		/* divide by 1 */
	mov	$0x80000002, %eax
	cpuid
	cmp	$0x38782065, %ebx		/* "e x8": "lhyve x86-64 CPU (KVM)" */
	mov	$0xfee00000, %ebx
	jne	2f
	movl	$0x2, 0x3e0(%rbx)		/* divide by 8 */
2:
.endm

.macro TICK_HANDLER
tick_handler:
	push	%rax
	push	%rcx
	push	%rdx
	inc	%r12
	mov	%r12, %rax
	xor	%edx, %edx
	mov	$20, %ecx
	div	%rcx
	test	%rdx, %rdx
	jnz	1f
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
1:	call	tick_eoi
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq
.endm

/*
 * The start of an AP's code at the page its SIPI names (SDM Vol. 3A
 * 9.4.4): from real mode to flat 32-bit protected mode through the
 * guest's "gdtr" (in the same page, after this), then on at the label
 * pm32 with DS, ES and SS flat (selector 10H).  The guest's own AP code
 * follows the macro.
 */
.macro AP_TRAMPOLINE
	.balign	4096
tramp:
	.code16
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	gdtr - tramp
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x8, $pm32
	.code32
pm32:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
.endm

/* The library: emitted once per guest, after its code. */
.macro GUEST_LIB
/* rdi: address of a 16-byte IDT gate, rax: handler.  64-bit interrupt gate,
   CS 0x8, present, DPL 0 (SDM Vol. 3A 6.14.1). */
guest_set_gate:
	mov	%ax, (%rdi)
	movw	$0x8, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	mov	%rax, %rdx
	shr	$16, %rdx
	mov	%dx, 6(%rdi)
	shr	$16, %rdx
	mov	%edx, 8(%rdi)
	movl	$0, 12(%rdi)
	ret
guest_puts:
	mov	$COM1, %dx
2:	lodsb
	test	%al, %al
	jz	3f
	out	%al, %dx
	jmp	2b
3:	ret
guest_fail:
	push	%rsi
	lea	guest_fail_prefix(%rip), %rsi
	call	guest_puts
	pop	%rsi
	call	guest_puts
	mov	$'\n', %al
	mov	$COM1, %dx
	out	%al, %dx
	POWEROFF
guest_fail_prefix:
	.asciz	"FAIL "
guest_tsc_ns:
	push	%rcx
	mov	guest_tsc_mult(%rip), %rcx
	test	%rcx, %rcx
	jnz	1f
	call	guest_tsc_init
	mov	guest_tsc_mult(%rip), %rcx
1:	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	mul	%rcx			/* ns = TSC * mult / 2^32 */
	shrd	$32, %rdx, %rax
	pop	%rcx
	ret
/* %rax: ns -> TSC ticks (for IA32_TSC_DEADLINE); clobbers %rdx. */
guest_ns_to_tsc:
	push	%rcx
	mov	guest_tsc_mult(%rip), %rcx
	test	%rcx, %rcx
	jnz	1f
	call	guest_tsc_init
	mov	guest_tsc_mult(%rip), %rcx
1:	mov	%rax, %rdx
	shr	$32, %rdx
	shl	$32, %rax
	div	%rcx
	pop	%rcx
	ret
/*
 * guest_tsc_mult = 2^32 * 1e9 / TSC Hz and guest_bus_hz = the crystal (the
 * LAPIC timer's clock), from CPUID 15H (SDM Vol. 3B 18.7.3: TSC = crystal
 * * EBX / EAX); without that leaf, the software CPU's 1 GHz and 128 MHz.
 */
guest_tsc_init:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	xor	%eax, %eax
	cpuid
	cmp	$0x15, %eax
	jb	8f
	mov	$0x15, %eax
	xor	%ecx, %ecx
	cpuid
	test	%eax, %eax
	jz	8f
	test	%ebx, %ebx
	jz	8f
	test	%ecx, %ecx
	jz	8f
	mov	%rcx, guest_bus_hz(%rip)
	imul	%rbx, %rcx		/* crystal * EBX */
	mov	$1000000000, %ebx
	mul	%rbx			/* EAX * 1e9 */
	shld	$32, %rax, %rdx
	shl	$32, %rax
	div	%rcx
	jmp	9f
8:	movq	$128000000, guest_bus_hz(%rip)
	mov	$1, %eax
	shl	$32, %rax
9:	mov	%rax, guest_tsc_mult(%rip)
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	ret
	.balign	8
guest_tsc_mult:	.quad	0
guest_bus_hz:	.quad	0
.endm

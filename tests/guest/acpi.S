/* acpi: the firmware tables bhyve wrote are where a guest looks for them.
   The RSDP at 0xf2400 (signature, both checksums, revision 2), every table
   the XSDT lists (checksum), the FADT's DSDT (checksum, AML after the
   header), and the MP floating pointer at 0xf0000 (checksum). */
#include "guest.h"
#define RSDP	0xf2400
	.globl	_start
_start:
	mov	$RSDP, %rsi
	mov	(%rsi), %rax
	EXPECT	%rax, 0x2052545020445352, m_sig		/* "RSD PTR " */
	mov	$20, %ecx
	call	sum
	EXPECT	%rax, 0, m_sum20
	mov	$RSDP, %rsi
	mov	$36, %ecx
	call	sum
	EXPECT	%rax, 0, m_sum36
	movzbl	RSDP+15, %eax
	EXPECT	%rax, 2, m_rev

	/* XSDT: its own checksum, then each table it points to. */
	mov	RSDP+24, %rbx
	mov	%rbx, %rsi
	mov	4(%rbx), %ecx
	call	sum
	EXPECT	%rax, 0, m_xsdt
	mov	4(%rbx), %r12d
	sub	$36, %r12d
	shr	$3, %r12d			/* entries: FADT, MADT, [HPET,] MCFG */
	cmp	$3, %r12
	jb	count_bad
	xor	%r13d, %r13d
1:	mov	36(%rbx,%r13,8), %rsi
	mov	4(%rsi), %ecx
	call	sum
	EXPECT	%rax, 0, m_table
	inc	%r13
	cmp	%r12, %r13
	jb	1b

	/* The first entry is the FADT; its X_DSDT is a valid DSDT. */
	mov	36(%rbx), %rbp
	mov	(%rbp), %eax
	EXPECT	%rax, 0x50434146, m_facp	/* "FACP" */
	mov	140(%rbp), %rsi
	mov	(%rsi), %eax
	EXPECT	%rax, 0x54445344, m_dsdt	/* "DSDT" */
	mov	4(%rsi), %ecx
	call	sum
	EXPECT	%rax, 0, m_dsdtsum

	/* MP floating pointer. */
	mov	$0xf0000, %rsi
	mov	(%rsi), %eax
	EXPECT	%rax, 0x5f504d5f, m_mp		/* "_MP_" */
	mov	$16, %ecx
	call	sum
	EXPECT	%rax, 0, m_mpsum

	PUTS	msg
	POWEROFF
count_bad:
	lea	m_count(%rip), %rsi
	jmp	guest_fail

/* rsi: bytes, ecx: count -> rax: their sum mod 256. */
sum:	xor	%eax, %eax
2:	add	(%rsi), %al
	inc	%rsi
	dec	%ecx
	jnz	2b
	movzbl	%al, %eax
	ret

msg:	.asciz	"PASS acpi\n"
m_sig:	.asciz	"acpi: no RSDP at 0xf2400"
m_sum20: .asciz	"acpi: RSDP checksum"
m_sum36: .asciz	"acpi: RSDP extended checksum"
m_rev:	.asciz	"acpi: RSDP revision"
m_xsdt:	.asciz	"acpi: XSDT checksum"
m_count: .asciz	"acpi: XSDT entries"
m_table: .asciz	"acpi: a table's checksum"
m_facp:	.asciz	"acpi: XSDT[0] is not the FADT"
m_dsdt:	.asciz	"acpi: X_DSDT is not a DSDT"
m_dsdtsum: .asciz "acpi: DSDT checksum"
m_mp:	.asciz	"acpi: no MP floating pointer at 0xf0000"
m_mpsum: .asciz	"acpi: MP floating pointer checksum"
	GUEST_LIB

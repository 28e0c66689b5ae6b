/*
 * cli_multiboot.S - a Multiboot 1 kernel (Multiboot Specification 0.6.96):
 * entered in 32-bit protected mode with paging off, EAX = 0x2BADB002 and
 * EBX = the multiboot_info structure.  It checks the magic, the flags and
 * the memory sizes, prints its command line and each module's string and
 * first bytes, then powers off.  tests/boot/test_load.sh loads it with
 * bhyveload -k ... -i ...,string -a ... and checks the console.
 * The header uses the a.out kludge (flags bit 16), so the linked ELF64 and
 * the flat binary load the same way.
 */
#define COM1		0x3f8
#define PM1A_CNT	0x404
#define SLP_S5		0x3400
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00010003	/* page-aligned modules, memory info, addresses */

	.code32
	.text
	.globl	_start
_start:
	jmp	entry
	.align	4
mbheader:
	.long	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long	mbheader, _start, 0, 0, entry

entry:
	mov	$0x8000, %esp
	cmp	$0x2badb002, %eax
	jne	fail
	mov	(%ebx), %eax			/* flags: mem, cmdline, mods, mmap */
	and	$0x4d, %eax
	cmp	$0x4d, %eax
	jne	fail
	cmpl	$639, 4(%ebx)			/* mem_lower: RAM below the EBDA, KiB */
	jne	fail
	cmpl	$(63 * 1024), 8(%ebx)		/* mem_upper for -m 64M */
	jne	fail
	mov	$cl_msg, %esi
	call	puts
	mov	16(%ebx), %esi			/* cmdline */
	call	puts
	call	newline
	mov	20(%ebx), %ecx			/* mods_count */
	mov	24(%ebx), %edi			/* mods_addr */
1:	test	%ecx, %ecx
	jz	2f
	testl	$0xfff, (%edi)			/* page aligned, as flag 0 asks */
	jnz	fail
	mov	$mod_msg, %esi
	call	puts
	mov	8(%edi), %esi			/* the module's string */
	call	puts
	mov	$colon_msg, %esi
	call	puts
	mov	(%edi), %esi			/* its first 4 bytes, as text */
	mov	$4, %edx
3:	lodsb
	call	putc
	dec	%edx
	jnz	3b
	call	newline
	add	$16, %edi
	dec	%ecx
	jmp	1b
2:	mov	$pass_msg, %esi
	call	puts
	jmp	off
fail:
	mov	$fail_msg, %esi
	call	puts
off:	mov	$PM1A_CNT, %dx
	mov	$SLP_S5, %ax
	out	%ax, %dx
	hlt

putc:	push	%edx
	mov	$COM1, %dx
	out	%al, %dx
	pop	%edx
	ret
puts:	lodsb
	test	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret
newline:
	mov	$'\n', %al
	jmp	putc

cl_msg:		.asciz	"CMDLINE "
mod_msg:	.asciz	"MODULE "
colon_msg:	.asciz	": "
pass_msg:	.asciz	"PASS multiboot\n"
fail_msg:	.asciz	"FAIL multiboot\n"

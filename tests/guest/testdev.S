/* testdev: -l pc-testdev, as QEMU's.  The scratch register at 0xe0 in
   every width and its byte window at 0xe8, the scratch memory at
   0xff000000, then isa-debug-exit: writing 0x10 to 0xf4 ends bhyve with
   status (0x10 << 1) | 1 = 33 (run.sh checks it). */
#include "guest.h"
#define IOMEM	0xff000000
	.globl	_start
_start:
	mov	$0xe0, %dx
	mov	$0x12345678, %eax
	out	%eax, %dx
	xor	%eax, %eax
	in	%dx, %eax
	EXPECT	%rax, 0x12345678, m_dword
	mov	$0xe2, %dx			/* the high word alone */
	xor	%eax, %eax
	in	%dx, %ax
	EXPECT	%rax, 0x1234, m_word
	mov	$0xe9, %dx			/* byte 1 through the byte window */
	xor	%eax, %eax
	in	%dx, %al
	EXPECT	%rax, 0x56, m_byte
	mov	$0xab, %al
	out	%al, %dx
	mov	$0xe0, %dx
	xor	%eax, %eax
	in	%dx, %eax
	EXPECT	%rax, 0x1234ab78, m_merge
	mov	$0xe8, %dx			/* a dword through the byte window */
	xor	%eax, %eax
	in	%dx, %eax
	EXPECT	%rax, 0x1234ab78, m_bytewin

	mov	$IOMEM, %ebx
	mov	$0x1122334455667788, %rax
	mov	%rax, 8(%rbx)
	mov	8(%rbx), %rcx
	EXPECT	%rcx, 0x1122334455667788, m_mem
	movzwl	10(%rbx), %ecx
	EXPECT	%rcx, 0x5566, m_memw
	movl	$0xcafef00d, 0xfffc(%rbx)	/* the last dword of 64 KiB */
	mov	0xfffc(%rbx), %ecx
	EXPECT	%rcx, 0xcafef00d, m_memend

	PUTS	msg
	mov	$0xf4, %dx
	mov	$0x10, %al
	out	%al, %dx
	PUTS	m_after				/* never printed */
	POWEROFF

msg:	.asciz	"PASS testdev\n"
m_after: .asciz	"FAIL testdev: still running after isa-debug-exit\n"
m_dword: .asciz	"testdev: dword scratch"
m_word:	.asciz	"testdev: word at 0xe2"
m_byte:	.asciz	"testdev: byte at 0xe9"
m_merge: .asciz	"testdev: byte write merged"
m_bytewin: .asciz "testdev: dword through 0xe8"
m_mem:	.asciz	"testdev: iomem qword"
m_memw:	.asciz	"testdev: iomem word"
m_memend: .asciz "testdev: iomem end"
	GUEST_LIB

/* fwcfg: QEMU's fw_cfg (-l fwcfg,qemu -f opt/t,string=fwcfg, run.sh).
   The signature through the data port, the CPU count and the memory map
   (etc/e820, key 0x20) through DMA, and the -f string (key 0x21, after
   etc/e820 in name order), which the guest prints after "PASS ". */
#include "guest.h"
#define SEL	0x510
#define DATA	0x511
#define DMA	0x514
#define ACC	0x300000	/* FWCfgDmaAccess */
#define BUF	0x300100

/* DMA-read \len bytes of item \key into BUF; eax = the control word after. */
.macro DMA_READ key, len
	movl	$((\key << 16) | 0x0a), %eax	/* SELECT | READ */
	bswap	%eax
	movl	%eax, ACC
	movl	$\len, %eax
	bswap	%eax
	movl	%eax, ACC+4
	movl	$0, ACC+8
	movl	$BUF, %eax
	bswap	%eax
	movl	%eax, ACC+12
	mov	$DMA, %dx
	xor	%eax, %eax
	out	%eax, %dx		/* high half: 0 */
	mov	$DMA+4, %dx
	mov	$ACC, %eax
	bswap	%eax
	out	%eax, %dx		/* low half: go */
	movl	ACC, %eax
.endm

	.globl	_start
_start:
	mov	$SEL, %dx
	xor	%eax, %eax		/* FW_CFG_SIGNATURE */
	out	%ax, %dx
	mov	$DATA, %dx
	xor	%ebx, %ebx
	mov	$4, %ecx
1:	in	%dx, %al
	shl	$8, %ebx
	mov	%al, %bl
	loop	1b
	EXPECT	%rbx, 0x51454d55, m_sig		/* 'Q' 'E' 'M' 'U' */

	mov	$DMA, %dx
	in	%dx, %eax
	EXPECT	%rax, 0x554d4551, m_dmasig	/* "QEMU" */

	DMA_READ 0x05, 2			/* FW_CFG_NB_CPUS */
	EXPECT	%rax, 0, m_dma
	movzwl	BUF, %eax
	EXPECT	%rax, 1, m_ncpus

	DMA_READ 0x20, 20			/* etc/e820, first entry */
	EXPECT	%rax, 0, m_dma
	mov	BUF+8, %rax
	EXPECT	%rax, 0x9fc00, m_e820
	movl	BUF+16, %eax
	EXPECT	%rax, 1, m_e820

	movq	$0, BUF
	DMA_READ 0x21, 8			/* the -f string, zero-padded */
	EXPECT	%rax, 0, m_dma
	PUTS	pass
	lea	BUF, %rsi
	call	guest_puts
	PUTS	nl
	POWEROFF

pass:	.asciz	"PASS "
nl:	.asciz	"\n"
m_sig:	.asciz	"fwcfg: no QEMU signature on the data port"
m_dmasig: .asciz "fwcfg: the DMA register does not read QEMU"
m_dma:	.asciz	"fwcfg: DMA error"
m_ncpus: .asciz	"fwcfg: FW_CFG_NB_CPUS"
m_e820:	.asciz	"fwcfg: etc/e820 does not start with RAM up to the EBDA"
	GUEST_LIB

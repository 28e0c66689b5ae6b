/*
 * branchloop - the control-flow guest of bench/mips: `iters` iterations of
 * a xorshift64 step followed by four conditional branches on its bits (so
 * taken or not at random, about half the time each), each leading to a call;
 * one of the four calls goes two deep.  Then power-off.
 *
 * Both arms of every DECIDE run the same number of instructions, so the count
 * does not depend on the data: test/cmp, jcc, call, the callee, jmp.
 *   xorshift                    9
 *   DECIDE bit 0  (2-insn leaf) 6
 *   DECIDE bit 5  (2-insn leaf) 6
 *   DECIDE rbx>rdx (4-insn callee calling a 2-insn leaf) 8
 *   DECIDE bit 40 (2-insn leaf) 6
 *   dec + jnz                   2
 */
#define INSNS_PER_ITER	37	/* read by bench/mips */
#include "boot.h"

/* test; jcc to the second arm; first arm: call fa; both arms end with a jmp. */
.macro DECIDE test:req, jcc:req, fa:req, fb:req
	\test
	\jcc	8f
	call	\fa
	jmp	9f
8:	call	\fb
	jmp	9f
9:
.endm

	.code64
loop64:
	mov	$0x400000, %rsp
	mov	iters(%rip), %rcx
	movabs	$0x2545f4914f6cdd1d, %rax
	xor	%ebx, %ebx
1:	mov	%rax, %rdx
	shl	$13, %rdx
	xor	%rdx, %rax
	mov	%rax, %rdx
	shr	$7, %rdx
	xor	%rdx, %rax
	mov	%rax, %rdx
	shl	$17, %rdx
	xor	%rdx, %rax
	DECIDE	"test $1, %al", jz, f_add, f_sub
	DECIDE	"test $0x20, %al", jnz, f_xor, f_add
	DECIDE	"cmp %rdx, %rbx", ja, f_deep_add, f_deep_sub
	DECIDE	"bt $40, %rax", jc, f_sub, f_xor
	dec	%rcx
	jnz	1b
	BENCH_END

f_add:	add	%rax, %rbx
	ret
f_sub:	sub	%rdx, %rbx
	ret
f_xor:	xor	%rdx, %rbx
	ret
f_deep_add:
	call	f_add
	ret
f_deep_sub:
	call	f_sub
	ret

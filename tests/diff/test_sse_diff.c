/*
 * test_sse_diff.c - the software CPU's MMX/SSE instructions against the
 * host CPU, form by form (the tests/diff method of test_diff.c, with the
 * x87/SSE state in the comparison).
 *
 * Each case is real instruction bytes (mandatory prefix, REX, 0F [38|3A],
 * ModRM, SIB, displacement, imm8) with random general registers, RFLAGS,
 * an FXSAVE image (XMM0-15 with NaNs, infinities, denormals, zeros and
 * boundary values in single, double and integer lanes; MXCSR with every
 * rounding mode, DAZ, FTZ, mostly masked exceptions and sticky flags; the
 * x87/MMX registers with a random TOP and tag word) and a data window.
 *
 *   native:   a prologue saves the host's x87/SSE state (FXSAVE64), loads
 *             the case's (FXRSTOR64), RFLAGS and the 16 GPRs; the epilogue
 *             stores them and FXSAVE64s the result before restoring the
 *             host state.  Faults (#XM is SIGFPE, #GP SIGSEGV, #UD SIGILL)
 *             land on a pad that saves the state at the fault (the kernel
 *             gives it back on sigreturn) the same way.
 *   emulated: emu_decode() and the handler, CR0.NE, CR4.OSFXSR and
 *             CR4.OSXMMEXCPT set, as the host's kernel runs user code.
 *
 * Compared: GPRs, RFLAGS, the data window, the FXSAVE image (FCW FSW FTW,
 * MXCSR, the eight x87/MMX registers, XMM0-15), and for a faulting case
 * the vector, MXCSR and that nothing else changed.  RCPxS/RSQRTxS results
 * are compared within the SDM's bound (docs/cpu.md, "SSE").
 * SSE_ITERS overrides the cases per form, SSE_FORM runs the forms whose
 * name contains it, DIFF_LIST_FORMS=file lists the cases that matched
 * (native.h; for docs/cpu-coverage.md).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>
#include <cpuid.h>

#include "cpu.h"
#include "vmm_cpuid.h"
#include "forms.h"
#include "native.h"
#include "test.h"

#if defined(__x86_64__)

#define VERIFY(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: VERIFY(%s) failed\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

#ifdef __SANITIZE_ADDRESS__
#define ITERS_DEFAULT	300
#else
#define ITERS_DEFAULT	1500
#endif

/* The harness's FXSAVE images (native.h) live in a page of their own. */
#define FXPAGE		(DIFF_CODE + 0x2000)
#define FX_IN		DIFF_FX_IN
#define FX_OUT		DIFF_FX_OUT
#define DATA_SIZE	4096	/* the part of the data window the cases use */

static uint8_t *code, *fxp, *data;
static uint8_t init_img[DATA_SIZE], nat_img[DATA_SIZE];
static volatile sig_atomic_t nat_signal;
static int (*nat_entry)(void);
static struct emu_cpu *ecpu;
static struct vmm_memmap emap;
static struct vm_exit eexit;

/* ---- forms ---- */

enum {
	O_IMM = 0x01,		/* imm8 */
	O_REGONLY = 0x02,
	O_MEMONLY = 0x04,
	O_W = 0x08,		/* a general-register operand: 32 or 64 bits (REX.W) */
	O_APPROX = 0x10,	/* RCP/RSQRT: within the SDM's error bound */
	O_RDI = 0x20,		/* MASKMOVQ/MASKMOVDQU: stores at [rDI] */
	O_H3 = 0x40,		/* the host needs SSE3, SSSE3, SSE4.1, SSE4.2 */
	O_H33 = 0x80,
	O_H41 = 0x100,
	O_H42 = 0x200,
	O_SHIFT = 0x400,	/* count operand: often small */
	O_XMFLAGS = 0x800,	/* MXCSR flags on #XM not compared (docs/cpu.md, "SSE") */
	O_STR = 0x1000,		/* PCMPxSTRx: strings with NULs, lengths in RAX/RDX */
	O_OPSZ = 0x2000,	/* a 66 operand-size prefix before the mandatory one */
	O_HAES = 0x4000,	/* the host needs AES-NI */
	O_HCLMUL = 0x8000,	/* the host needs PCLMULQDQ */
	O_NOMODRM = 0x10000,	/* no ModRM byte (EMMS) */
	O_MXV = 0x20000,	/* LDMXCSR: the m32 is an MXCSR value, valid 3 times in 4 */
};

struct sse_form {
	const char	*name;
	uint8_t		map;		/* 1 0F, 2 0F 38, 3 0F 3A */
	uint8_t		pfx;		/* 0, 66, F3, F2 */
	uint8_t		op;
	int8_t		ext;		/* ModRM.reg of group forms, else -1 */
	char		reg, rm;	/* 'x' XMM, 'm' MMX, 'g' GPR, 'n' none (group) */
	uint8_t		msize;		/* bytes of the memory operand (O_W: 4 or 8) */
	uint32_t	opt;
};

#define F(n, map, p, op, k, sz, o) { n, map, p, op, -1, k[0], k[1], sz, o }
#define G(n, p, op, e, k, o) { n, 1, p, op, e, k[0], k[1], 16, O_REGONLY | O_IMM | (o) }
/* An integer instruction in its MMX and its 66 XMM form. */
#define MXX(n, map, op, o)						\
	F(n " mm", map, 0, op, "mm", 8, o), F(n " xmm", map, 0x66, op, "xx", 16, o)
#define FP4(n, op)							\
	F(n "ps", 1, 0, op, "xx", 16, 0), F(n "pd", 1, 0x66, op, "xx", 16, 0),	\
	F(n "ss", 1, 0xf3, op, "xx", 4, 0), F(n "sd", 1, 0xf2, op, "xx", 8, 0)

static const struct sse_form forms[] = {
	/* moves */
	F("movups", 1, 0, 0x10, "xx", 16, 0), F("movupd", 1, 0x66, 0x10, "xx", 16, 0),
	F("movss", 1, 0xf3, 0x10, "xx", 4, 0), F("movsd", 1, 0xf2, 0x10, "xx", 8, 0),
	F("movups st", 1, 0, 0x11, "xx", 16, 0), F("movupd st", 1, 0x66, 0x11, "xx", 16, 0),
	F("movss st", 1, 0xf3, 0x11, "xx", 4, 0), F("movsd st", 1, 0xf2, 0x11, "xx", 8, 0),
	F("movlps/movhlps", 1, 0, 0x12, "xx", 8, 0), F("movlpd", 1, 0x66, 0x12, "xx", 8, O_MEMONLY),
	F("movlps st", 1, 0, 0x13, "xx", 8, O_MEMONLY), F("movlpd st", 1, 0x66, 0x13, "xx", 8, O_MEMONLY),
	F("unpcklps", 1, 0, 0x14, "xx", 16, 0), F("unpcklpd", 1, 0x66, 0x14, "xx", 16, 0),
	F("unpckhps", 1, 0, 0x15, "xx", 16, 0), F("unpckhpd", 1, 0x66, 0x15, "xx", 16, 0),
	F("movhps/movlhps", 1, 0, 0x16, "xx", 8, 0), F("movhpd", 1, 0x66, 0x16, "xx", 8, O_MEMONLY),
	F("movhps st", 1, 0, 0x17, "xx", 8, O_MEMONLY), F("movhpd st", 1, 0x66, 0x17, "xx", 8, O_MEMONLY),
	F("movaps", 1, 0, 0x28, "xx", 16, 0), F("movapd", 1, 0x66, 0x28, "xx", 16, 0),
	F("movaps st", 1, 0, 0x29, "xx", 16, 0), F("movapd st", 1, 0x66, 0x29, "xx", 16, 0),
	F("movntps", 1, 0, 0x2b, "xx", 16, O_MEMONLY), F("movntpd", 1, 0x66, 0x2b, "xx", 16, O_MEMONLY),
	F("movmskps", 1, 0, 0x50, "gx", 16, O_REGONLY), F("movmskpd", 1, 0x66, 0x50, "gx", 16, O_REGONLY),
	F("movd/q mm,r/m", 1, 0, 0x6e, "mg", 4, O_W), F("movd/q xmm,r/m", 1, 0x66, 0x6e, "xg", 4, O_W),
	F("movq mm,mm/m64", 1, 0, 0x6f, "mm", 8, 0),
	F("movdqa", 1, 0x66, 0x6f, "xx", 16, 0), F("movdqu", 1, 0xf3, 0x6f, "xx", 16, 0),
	F("movd/q r/m,mm", 1, 0, 0x7e, "mg", 4, O_W), F("movd/q r/m,xmm", 1, 0x66, 0x7e, "xg", 4, O_W),
	F("movq xmm,xmm/m64", 1, 0xf3, 0x7e, "xx", 8, 0),
	F("movq mm/m64,mm", 1, 0, 0x7f, "mm", 8, 0),
	F("movdqa st", 1, 0x66, 0x7f, "xx", 16, 0), F("movdqu st", 1, 0xf3, 0x7f, "xx", 16, 0),
	F("movnti", 1, 0, 0xc3, "gg", 4, O_W | O_MEMONLY),
	F("pinsrw mm", 1, 0, 0xc4, "mg", 2, O_IMM), F("pinsrw xmm", 1, 0x66, 0xc4, "xg", 2, O_IMM),
	F("pextrw mm", 1, 0, 0xc5, "gm", 8, O_IMM | O_REGONLY),
	F("pextrw xmm", 1, 0x66, 0xc5, "gx", 16, O_IMM | O_REGONLY),
	F("movq xmm/m64,xmm", 1, 0x66, 0xd6, "xx", 8, 0),
	F("movq2dq", 1, 0xf3, 0xd6, "xm", 8, O_REGONLY), F("movdq2q", 1, 0xf2, 0xd6, "mx", 8, O_REGONLY),
	MXX("pmovmskb", 1, 0xd7, O_REGONLY),
	F("movntq", 1, 0, 0xe7, "mm", 8, O_MEMONLY), F("movntdq", 1, 0x66, 0xe7, "xx", 16, O_MEMONLY),
	F("maskmovq", 1, 0, 0xf7, "mm", 8, O_REGONLY | O_RDI),
	F("maskmovdqu", 1, 0x66, 0xf7, "xx", 16, O_REGONLY | O_RDI),
	/* floating point */
	FP4("sqrt", 0x51), FP4("add", 0x58), FP4("mul", 0x59), FP4("sub", 0x5c),
	FP4("min", 0x5d), FP4("div", 0x5e), FP4("max", 0x5f),
	F("rsqrtps", 1, 0, 0x52, "xx", 16, O_APPROX), F("rsqrtss", 1, 0xf3, 0x52, "xx", 4, O_APPROX),
	F("rcpps", 1, 0, 0x53, "xx", 16, O_APPROX), F("rcpss", 1, 0xf3, 0x53, "xx", 4, O_APPROX),
	F("andps", 1, 0, 0x54, "xx", 16, 0), F("andpd", 1, 0x66, 0x54, "xx", 16, 0),
	F("andnps", 1, 0, 0x55, "xx", 16, 0), F("andnpd", 1, 0x66, 0x55, "xx", 16, 0),
	F("orps", 1, 0, 0x56, "xx", 16, 0), F("orpd", 1, 0x66, 0x56, "xx", 16, 0),
	F("xorps", 1, 0, 0x57, "xx", 16, 0), F("xorpd", 1, 0x66, 0x57, "xx", 16, 0),
	F("cmpps", 1, 0, 0xc2, "xx", 16, O_IMM), F("cmppd", 1, 0x66, 0xc2, "xx", 16, O_IMM),
	F("cmpss", 1, 0xf3, 0xc2, "xx", 4, O_IMM), F("cmpsd", 1, 0xf2, 0xc2, "xx", 8, O_IMM),
	F("ucomiss", 1, 0, 0x2e, "xx", 4, 0), F("ucomisd", 1, 0x66, 0x2e, "xx", 8, 0),
	F("comiss", 1, 0, 0x2f, "xx", 4, 0), F("comisd", 1, 0x66, 0x2f, "xx", 8, 0),
	F("shufps", 1, 0, 0xc6, "xx", 16, O_IMM), F("shufpd", 1, 0x66, 0xc6, "xx", 16, O_IMM),
	F("cvtpi2ps", 1, 0, 0x2a, "xm", 8, 0), F("cvtpi2pd", 1, 0x66, 0x2a, "xm", 8, 0),
	F("cvtsi2ss", 1, 0xf3, 0x2a, "xg", 4, O_W), F("cvtsi2sd", 1, 0xf2, 0x2a, "xg", 4, O_W),
	F("cvttps2pi", 1, 0, 0x2c, "mx", 8, 0), F("cvttpd2pi", 1, 0x66, 0x2c, "mx", 16, 0),
	F("cvttss2si", 1, 0xf3, 0x2c, "gx", 4, O_W), F("cvttsd2si", 1, 0xf2, 0x2c, "gx", 8, O_W),
	F("cvtps2pi", 1, 0, 0x2d, "mx", 8, 0), F("cvtpd2pi", 1, 0x66, 0x2d, "mx", 16, 0),
	F("cvtss2si", 1, 0xf3, 0x2d, "gx", 4, O_W), F("cvtsd2si", 1, 0xf2, 0x2d, "gx", 8, O_W),
	F("cvtps2pd", 1, 0, 0x5a, "xx", 8, 0), F("cvtpd2ps", 1, 0x66, 0x5a, "xx", 16, 0),
	F("cvtss2sd", 1, 0xf3, 0x5a, "xx", 4, 0), F("cvtsd2ss", 1, 0xf2, 0x5a, "xx", 8, 0),
	F("cvtdq2ps", 1, 0, 0x5b, "xx", 16, 0), F("cvtps2dq", 1, 0x66, 0x5b, "xx", 16, 0),
	F("cvttps2dq", 1, 0xf3, 0x5b, "xx", 16, 0),
	F("cvttpd2dq", 1, 0x66, 0xe6, "xx", 16, 0), F("cvtdq2pd", 1, 0xf3, 0xe6, "xx", 8, 0),
	F("cvtpd2dq", 1, 0xf2, 0xe6, "xx", 16, 0),
	/* integer */
	MXX("punpcklbw", 1, 0x60, 0), MXX("punpcklwd", 1, 0x61, 0), MXX("punpckldq", 1, 0x62, 0),
	MXX("packsswb", 1, 0x63, 0), MXX("pcmpgtb", 1, 0x64, 0), MXX("pcmpgtw", 1, 0x65, 0),
	MXX("pcmpgtd", 1, 0x66, 0), MXX("packuswb", 1, 0x67, 0), MXX("punpckhbw", 1, 0x68, 0),
	MXX("punpckhwd", 1, 0x69, 0), MXX("punpckhdq", 1, 0x6a, 0), MXX("packssdw", 1, 0x6b, 0),
	F("punpcklqdq", 1, 0x66, 0x6c, "xx", 16, 0), F("punpckhqdq", 1, 0x66, 0x6d, "xx", 16, 0),
	F("pshufw", 1, 0, 0x70, "mm", 8, O_IMM), F("pshufd", 1, 0x66, 0x70, "xx", 16, O_IMM),
	F("pshufhw", 1, 0xf3, 0x70, "xx", 16, O_IMM), F("pshuflw", 1, 0xf2, 0x70, "xx", 16, O_IMM),
	G("psrlw mm,imm", 0, 0x71, 2, "nm", 0), G("psrlw xmm,imm", 0x66, 0x71, 2, "nx", 0),
	G("psraw mm,imm", 0, 0x71, 4, "nm", 0), G("psraw xmm,imm", 0x66, 0x71, 4, "nx", 0),
	G("psllw mm,imm", 0, 0x71, 6, "nm", 0), G("psllw xmm,imm", 0x66, 0x71, 6, "nx", 0),
	G("psrld mm,imm", 0, 0x72, 2, "nm", 0), G("psrld xmm,imm", 0x66, 0x72, 2, "nx", 0),
	G("psrad mm,imm", 0, 0x72, 4, "nm", 0), G("psrad xmm,imm", 0x66, 0x72, 4, "nx", 0),
	G("pslld mm,imm", 0, 0x72, 6, "nm", 0), G("pslld xmm,imm", 0x66, 0x72, 6, "nx", 0),
	G("psrlq mm,imm", 0, 0x73, 2, "nm", 0), G("psrlq xmm,imm", 0x66, 0x73, 2, "nx", 0),
	G("psrldq xmm,imm", 0x66, 0x73, 3, "nx", 0),
	G("psllq mm,imm", 0, 0x73, 6, "nm", 0), G("psllq xmm,imm", 0x66, 0x73, 6, "nx", 0),
	G("pslldq xmm,imm", 0x66, 0x73, 7, "nx", 0),
	MXX("pcmpeqb", 1, 0x74, 0), MXX("pcmpeqw", 1, 0x75, 0), MXX("pcmpeqd", 1, 0x76, 0),
	MXX("psrlw", 1, 0xd1, O_SHIFT), MXX("psrld", 1, 0xd2, O_SHIFT), MXX("psrlq", 1, 0xd3, O_SHIFT),
	MXX("paddq", 1, 0xd4, 0), MXX("pmullw", 1, 0xd5, 0),
	MXX("psubusb", 1, 0xd8, 0), MXX("psubusw", 1, 0xd9, 0), MXX("pminub", 1, 0xda, 0),
	MXX("pand", 1, 0xdb, 0), MXX("paddusb", 1, 0xdc, 0), MXX("paddusw", 1, 0xdd, 0),
	MXX("pmaxub", 1, 0xde, 0), MXX("pandn", 1, 0xdf, 0),
	MXX("pavgb", 1, 0xe0, 0), MXX("psraw", 1, 0xe1, O_SHIFT), MXX("psrad", 1, 0xe2, O_SHIFT),
	MXX("pavgw", 1, 0xe3, 0), MXX("pmulhuw", 1, 0xe4, 0), MXX("pmulhw", 1, 0xe5, 0),
	MXX("psubsb", 1, 0xe8, 0), MXX("psubsw", 1, 0xe9, 0), MXX("pminsw", 1, 0xea, 0),
	MXX("por", 1, 0xeb, 0), MXX("paddsb", 1, 0xec, 0), MXX("paddsw", 1, 0xed, 0),
	MXX("pmaxsw", 1, 0xee, 0), MXX("pxor", 1, 0xef, 0),
	MXX("psllw", 1, 0xf1, O_SHIFT), MXX("pslld", 1, 0xf2, O_SHIFT), MXX("psllq", 1, 0xf3, O_SHIFT),
	MXX("pmuludq", 1, 0xf4, 0), MXX("pmaddwd", 1, 0xf5, 0), MXX("psadbw", 1, 0xf6, 0),
	MXX("psubb", 1, 0xf8, 0), MXX("psubw", 1, 0xf9, 0), MXX("psubd", 1, 0xfa, 0),
	MXX("psubq", 1, 0xfb, 0), MXX("paddb", 1, 0xfc, 0), MXX("paddw", 1, 0xfd, 0),
	MXX("paddd", 1, 0xfe, 0),
	/* SSE3 */
	F("addsubpd", 1, 0x66, 0xd0, "xx", 16, O_H3), F("addsubps", 1, 0xf2, 0xd0, "xx", 16, O_H3),
	F("haddpd", 1, 0x66, 0x7c, "xx", 16, O_H3), F("haddps", 1, 0xf2, 0x7c, "xx", 16, O_H3),
	F("hsubpd", 1, 0x66, 0x7d, "xx", 16, O_H3), F("hsubps", 1, 0xf2, 0x7d, "xx", 16, O_H3),
	F("movsldup", 1, 0xf3, 0x12, "xx", 16, O_H3), F("movshdup", 1, 0xf3, 0x16, "xx", 16, O_H3),
	F("movddup", 1, 0xf2, 0x12, "xx", 8, O_H3), F("lddqu", 1, 0xf2, 0xf0, "xx", 16, O_H3 | O_MEMONLY),
	/* SSSE3 */
	MXX("pshufb", 2, 0x00, O_H33), MXX("phaddw", 2, 0x01, O_H33), MXX("phaddd", 2, 0x02, O_H33),
	MXX("phaddsw", 2, 0x03, O_H33), MXX("pmaddubsw", 2, 0x04, O_H33), MXX("phsubw", 2, 0x05, O_H33),
	MXX("phsubd", 2, 0x06, O_H33), MXX("phsubsw", 2, 0x07, O_H33), MXX("psignb", 2, 0x08, O_H33),
	MXX("psignw", 2, 0x09, O_H33), MXX("psignd", 2, 0x0a, O_H33), MXX("pmulhrsw", 2, 0x0b, O_H33),
	MXX("pabsb", 2, 0x1c, O_H33), MXX("pabsw", 2, 0x1d, O_H33), MXX("pabsd", 2, 0x1e, O_H33),
	MXX("palignr", 3, 0x0f, O_H33 | O_IMM),
	/* SSE4.1, SSE4.2 */
	F("pblendvb", 2, 0x66, 0x10, "xx", 16, O_H41), F("blendvps", 2, 0x66, 0x14, "xx", 16, O_H41),
	F("blendvpd", 2, 0x66, 0x15, "xx", 16, O_H41), F("ptest", 2, 0x66, 0x17, "xx", 16, O_H41),
	F("pmovsxbw", 2, 0x66, 0x20, "xx", 8, O_H41), F("pmovsxbd", 2, 0x66, 0x21, "xx", 4, O_H41),
	F("pmovsxbq", 2, 0x66, 0x22, "xx", 2, O_H41), F("pmovsxwd", 2, 0x66, 0x23, "xx", 8, O_H41),
	F("pmovsxwq", 2, 0x66, 0x24, "xx", 4, O_H41), F("pmovsxdq", 2, 0x66, 0x25, "xx", 8, O_H41),
	F("pmuldq", 2, 0x66, 0x28, "xx", 16, O_H41), F("pcmpeqq", 2, 0x66, 0x29, "xx", 16, O_H41),
	F("movntdqa", 2, 0x66, 0x2a, "xx", 16, O_H41 | O_MEMONLY),
	F("packusdw", 2, 0x66, 0x2b, "xx", 16, O_H41),
	F("pmovzxbw", 2, 0x66, 0x30, "xx", 8, O_H41), F("pmovzxbd", 2, 0x66, 0x31, "xx", 4, O_H41),
	F("pmovzxbq", 2, 0x66, 0x32, "xx", 2, O_H41), F("pmovzxwd", 2, 0x66, 0x33, "xx", 8, O_H41),
	F("pmovzxwq", 2, 0x66, 0x34, "xx", 4, O_H41), F("pmovzxdq", 2, 0x66, 0x35, "xx", 8, O_H41),
	F("pcmpgtq", 2, 0x66, 0x37, "xx", 16, O_H42),
	F("pminsb", 2, 0x66, 0x38, "xx", 16, O_H41), F("pminsd", 2, 0x66, 0x39, "xx", 16, O_H41),
	F("pminuw", 2, 0x66, 0x3a, "xx", 16, O_H41), F("pminud", 2, 0x66, 0x3b, "xx", 16, O_H41),
	F("pmaxsb", 2, 0x66, 0x3c, "xx", 16, O_H41), F("pmaxsd", 2, 0x66, 0x3d, "xx", 16, O_H41),
	F("pmaxuw", 2, 0x66, 0x3e, "xx", 16, O_H41), F("pmaxud", 2, 0x66, 0x3f, "xx", 16, O_H41),
	F("pmulld", 2, 0x66, 0x40, "xx", 16, O_H41), F("phminposuw", 2, 0x66, 0x41, "xx", 16, O_H41),
	F("roundps", 3, 0x66, 0x08, "xx", 16, O_H41 | O_IMM), F("roundpd", 3, 0x66, 0x09, "xx", 16, O_H41 | O_IMM),
	F("roundss", 3, 0x66, 0x0a, "xx", 4, O_H41 | O_IMM), F("roundsd", 3, 0x66, 0x0b, "xx", 8, O_H41 | O_IMM),
	F("blendps", 3, 0x66, 0x0c, "xx", 16, O_H41 | O_IMM), F("blendpd", 3, 0x66, 0x0d, "xx", 16, O_H41 | O_IMM),
	F("pblendw", 3, 0x66, 0x0e, "xx", 16, O_H41 | O_IMM),
	F("pextrb", 3, 0x66, 0x14, "xg", 1, O_H41 | O_IMM),
	F("pextrw r/m16", 3, 0x66, 0x15, "xg", 2, O_H41 | O_IMM),
	F("pextrd/q", 3, 0x66, 0x16, "xg", 4, O_H41 | O_IMM | O_W),
	F("extractps", 3, 0x66, 0x17, "xg", 4, O_H41 | O_IMM),
	F("pinsrb", 3, 0x66, 0x20, "xg", 1, O_H41 | O_IMM),
	F("insertps", 3, 0x66, 0x21, "xx", 4, O_H41 | O_IMM),
	F("pinsrd/q", 3, 0x66, 0x22, "xg", 4, O_H41 | O_IMM | O_W),
	F("dpps", 3, 0x66, 0x40, "xx", 16, O_H41 | O_IMM | O_XMFLAGS),
	F("dppd", 3, 0x66, 0x41, "xx", 16, O_H41 | O_IMM | O_XMFLAGS),
	F("mpsadbw", 3, 0x66, 0x42, "xx", 16, O_H41 | O_IMM),
	F("pcmpestrm", 3, 0x66, 0x60, "xx", 16, O_H42 | O_IMM | O_STR | O_W),
	F("pcmpestri", 3, 0x66, 0x61, "xx", 16, O_H42 | O_IMM | O_STR | O_W),
	F("pcmpistrm", 3, 0x66, 0x62, "xx", 16, O_H42 | O_IMM | O_STR | O_W),
	F("pcmpistri", 3, 0x66, 0x63, "xx", 16, O_H42 | O_IMM | O_STR | O_W),
	F("emms", 1, 0, 0x77, "nn", 0, O_NOMODRM),
	{ "ldmxcsr", 1, 0, 0xae, 2, 'n', 'n', 4, O_MEMONLY | O_MXV },
	{ "stmxcsr", 1, 0, 0xae, 3, 'n', 'n', 4, O_MEMONLY },
	F("aesimc", 2, 0x66, 0xdb, "xx", 16, O_HAES), F("aesenc", 2, 0x66, 0xdc, "xx", 16, O_HAES),
	F("aesenclast", 2, 0x66, 0xdd, "xx", 16, O_HAES), F("aesdec", 2, 0x66, 0xde, "xx", 16, O_HAES),
	F("aesdeclast", 2, 0x66, 0xdf, "xx", 16, O_HAES),
	F("aeskeygenassist", 3, 0x66, 0xdf, "xx", 16, O_HAES | O_IMM),
	F("pclmulqdq", 3, 0x66, 0x44, "xx", 16, O_HCLMUL | O_IMM),
	F("crc32 r,r/m8", 2, 0xf2, 0xf0, "gg", 1, O_H42 | O_W),
	F("crc32 r,r/m8 (66)", 2, 0xf2, 0xf0, "gg", 1, O_H42 | O_OPSZ),
	F("crc32 r32,r/m16", 2, 0xf2, 0xf1, "gg", 2, O_H42 | O_OPSZ),
	F("crc32 r,r/m32/64", 2, 0xf2, 0xf1, "gg", 4, O_H42 | O_W),
};

/* ---- random values ---- */

static uint64_t
rnd(uint64_t n)
{
	return diff_rng() % n;
}

/* A float with its bits: specials, boundaries, and ordinary values. */
static uint32_t
gen_f32(void)
{
	static const uint32_t edge[] = {
		0, 0x80000000u, 0x7f800000u, 0xff800000u,	/* zeros, infinities */
		0x7fc00000u, 0xffc00000u, 0x7fa00001u, 0xff812345u,	/* QNaN, indefinite, SNaNs */
		0x00000001u, 0x807fffffu, 0x00400000u,		/* denormals */
		0x00800000u, 0x80800000u, 0x7f7fffffu, 0xff7fffffu,	/* min/max normal */
		0x3f800000u, 0xbf800000u, 0x3f800001u, 0x4b000000u, 0x4effffffu,
		0x4f000000u, 0xcf000000u, 0x5f000000u, 0xdf000000u, 0x3f000000u, 0x3fc00000u,
	};
	uint32_t v = (uint32_t)diff_rng();

	switch (rnd(6)) {
	case 0:
	case 1:
		return edge[rnd(sizeof(edge) / sizeof(edge[0]))];
	case 2:	/* moderate exponents: exact and inexact arithmetic */
		return (v & 0x807fffffu) | (uint32_t)(127 - 20 + rnd(40)) << 23;
	case 3:	/* small integers */
		return (uint32_t)rnd(16) << 20 | 0x40000000u | (v & 0x80000000u);
	case 4:	/* near overflow or underflow */
		return (v & 0x807fffffu) | (uint32_t)(rnd(2) ? 250 + rnd(5) : 1 + rnd(5)) << 23;
	default:
		return v;
	}
}

static uint64_t
gen_f64(void)
{
	static const uint64_t edge[] = {
		0, 0x8000000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
		0x7ff8000000000000ULL, 0xfff8000000000000ULL, 0x7ff4000000000001ULL,
		0x0000000000000001ULL, 0x800fffffffffffffULL, 0x0010000000000000ULL,
		0x7fefffffffffffffULL, 0xffefffffffffffffULL, 0x3ff0000000000000ULL,
		0xbff0000000000000ULL, 0x41dfffffffc00000ULL, 0x41e0000000000000ULL,
		0xc1e0000000000000ULL, 0x43e0000000000000ULL, 0xc3e0000000000000ULL,
		0x36a0000000000000ULL, 0x47efffffe0000000ULL, 0x3fe0000000000000ULL,
	};
	uint64_t v = diff_rng();

	switch (rnd(6)) {
	case 0:
	case 1:
		return edge[rnd(sizeof(edge) / sizeof(edge[0]))];
	case 2:
		return (v & 0x800fffffffffffffULL) | (1023 - 40 + rnd(80)) << 52;
	case 3:
		return rnd(64) << 46 | 0x4000000000000000ULL | (v & 0x8000000000000000ULL);
	case 4:	/* near float and double limits */
		return (v & 0x800fffffffffffffULL) | (rnd(3) == 0 ? 1023 + 126 + rnd(4) :
		    rnd(2) ? 1023 - 126 - rnd(30) : rnd(2) ? 2040 + rnd(7) : 1 + rnd(5)) << 52;
	default:
		return v;
	}
}

/* 16 bytes as floats, doubles or integers, whichever the case picks. */
static void
gen_vec(uint8_t *p, int flavour)
{
	for (int i = 0; i < 16; i += 8) {
		uint64_t v;

		switch (flavour) {
		case 0:
			v = gen_f32() | (uint64_t)gen_f32() << 32;
			break;
		case 1:
			v = gen_f64();
			break;
		default:
			v = diff_gen(rnd(2) ? 1 << rnd(4) : 8);
			if (rnd(4) == 0)
				v = rnd(70);	/* shift counts, indexes */
			break;
		}
		memcpy(p + i, &v, 8);
	}
}

/*
 * PCMPxSTRx operands: bytes from a small alphabet (so that equal-any,
 * equal-ordered and range matches are frequent), random bytes, NUL bytes
 * and NUL words anywhere.
 */
static void
gen_str(uint8_t *p)
{
	static const uint8_t abc[] = { 'a', 'b', 'c', 'a', 0x80, 0xff, 0x7f, 0x01 };
	int kind = (int)rnd(4), nul = (int)rnd(4);

	for (int i = 0; i < 16; i += 2) {
		for (int k = 0; k < 2; k++)
			p[i + k] = kind == 0 ? (uint8_t)diff_rng() :
			    abc[rnd(kind == 1 ? 2 : kind == 2 ? 3 : 8)];
		if (nul && rnd(12) == 0)
			p[i + rnd(2)] = 0;
		if (nul && rnd(16) == 0)
			p[i] = p[i + 1] = 0;
	}
}

/* PCMPESTRx lengths: in and out of range, negative, only the low half small. */
static uint64_t
gen_strlen(void)
{
	static const uint64_t edge[] = {
		0x80000000u, 0x7fffffffu, 0xfffffff0u, 0xffffffefu, 0xfffffff8u,
		0xfffffff7u, 0x100000003ULL, 0xffffffff00000005ULL, 0x8000000000000000ULL,
		0x7fffffffffffffffULL, ~0ULL, 0xfffffffffffffff0ULL, 0xffffffffffffffefULL,
	};

	switch (rnd(4)) {
	case 0:
		return edge[rnd(sizeof(edge) / sizeof(edge[0]))];
	case 1:
		return diff_rng();
	default:	/* -20 .. 20, as 32 or 64 bits */
		return rnd(2) ? (uint64_t)((int64_t)rnd(41) - 20) :
		    (uint32_t)((int32_t)rnd(41) - 20);
	}
}

static uint32_t
gen_mxcsr(void)
{
	uint32_t m = (uint32_t)rnd(4) << 13;		/* RC */

	if (rnd(4) == 0)
		m |= 0x40;				/* DAZ */
	if (rnd(4) == 0)
		m |= 0x8000;				/* FTZ */
	m |= rnd(4) ? 0x1f80 : (uint32_t)rnd(64) << 7;	/* masks */
	if (rnd(2))
		m |= (uint32_t)rnd(64);			/* sticky flags */
	return m;
}

/* ---- a case ---- */

struct sse_case {
	uint8_t		bytes[15];
	int		len;
	uint64_t	gpr[16];
	uint64_t	rflags;
	uint8_t		fx[512] __attribute__((aligned(16)));
	int		dst;		/* O_APPROX: destination XMM */
};

static bool
is_reg_kind(char k)
{
	return k == 'x' || k == 'm' || k == 'g';
}

static void
generate(const struct sse_form *f, struct sse_case *c)
{
	uint8_t b[32];
	int n = 0, reg, rm, mem, rex = 0, w = 0, msize = f->msize, flav = (int)rnd(3);
	int base = -1, index = -1, scale = 0, mod = 0;
	uint64_t target = 0;
	int64_t disp = 0;

again:
	n = 0;
	rex = 0;
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 16; i++)
		c->gpr[i] = diff_gen(rnd(2) ? 4 : 8);
	c->rflags = (diff_rng() & RFL_ARITH) | 0x202;

	/* x87/SSE image: FCW, FSW with TOP, FTW, MXCSR, MXCSR_MASK, registers */
	c->fx[0] = 0x7f;
	c->fx[1] = 0x03;
	c->fx[3] = (uint8_t)(rnd(8) << 3 | (rnd(2) ? 0x40 : 0) | (rnd(2) ? 0x04 : 0));
	c->fx[4] = (uint8_t)diff_rng();
	{
		uint32_t mx = gen_mxcsr(), mask = 0xffff;

		memcpy(c->fx + 24, &mx, 4);
		memcpy(c->fx + 28, &mask, 4);
	}
	for (int i = 0; i < 8; i++) {
		uint64_t v = diff_rng();
		uint16_t e = (uint16_t)diff_rng();

		memcpy(c->fx + 32 + 16 * i, &v, 8);
		memcpy(c->fx + 40 + 16 * i, &e, 2);
	}
	for (int i = 0; i < 16; i++)
		gen_vec(c->fx + 160 + 16 * i, rnd(4) ? flav : (int)rnd(3));
	if (f->opt & O_STR) {
		for (int i = 0; i < 16; i++)
			gen_str(c->fx + 160 + 16 * i);
		c->gpr[GPR_RAX] = gen_strlen();
		c->gpr[GPR_RDX] = gen_strlen();
	}

	if (f->opt & O_W)
		w = (int)rnd(2);
	if (w && f->msize == 4)
		msize = 8;
	mem = !(f->opt & O_NOMODRM) &&
	    ((f->opt & O_MEMONLY) || (!(f->opt & O_REGONLY) && rnd(2)));
	reg = (int)rnd(16);
	rm = (int)rnd(16);
	if (f->reg == 'm' && rnd(2))
		reg &= 7;
	if (f->rm == 'm' && rnd(2))
		rm &= 7;
	c->dst = f->reg == 'n' ? rm : reg;
	if (w)
		rex |= 8;
	if (reg & 8)
		rex |= 4;

	if (f->opt & O_RDI) {
		target = DIFF_DATA + 64 + rnd(DATA_SIZE - 128);
		c->gpr[GPR_RDI] = target;
	}
	if (f->opt & O_SHIFT) {
		/* counts mostly below the lane width */
		uint64_t cnt = rnd(4) ? rnd(70) : diff_rng();

		memcpy(c->fx + 160 + 16 * rm, &cnt, 8);
	}
	if (mem) {
		int form = (int)rnd(4);

		target = DIFF_DATA + 256 + rnd(DATA_SIZE - 512);
		if (rnd(4))
			target &= ~(uint64_t)15;	/* aligned, mostly */
		else if (rnd(2))
			target &= ~(uint64_t)(msize - 1);
		if (form == 0) {		/* [rip + disp32] */
			mod = 0;
			base = -2;
		} else {
			base = (int)rnd(16);
			if (base == GPR_RSP && rnd(2))
				base = GPR_RBX;
			if ((f->opt & O_RDI) && base == GPR_RDI)
				goto again;
			mod = form == 1 ? 1 : form == 2 ? 2 : (int)rnd(3);
			if (mod == 0 && (base & 7) == 5)
				mod = 1;
			disp = mod == 1 ? (int8_t)diff_rng() : mod == 2 ? (int32_t)rnd(1 << 20) - (1 << 19) : 0;
			index = form == 3 ? (int)rnd(16) : -1;
			if (index == GPR_RSP || index == base)
				index = -1;
			scale = (int)rnd(4);
			if (index >= 0) {
				c->gpr[index] = rnd(64);
				if (index & 8)
					rex |= 2;
			}
			c->gpr[base] = target - (uint64_t)disp -
			    (index >= 0 ? c->gpr[index] << scale : 0);
			if (base & 8)
				rex |= 1;
		}
		/* operand bytes in memory: the case's flavour */
		{
			uint8_t v[16];

			if (f->opt & O_STR)
				gen_str(v);
			else
				gen_vec(v, flav);
			if ((f->opt & O_MXV) && rnd(4)) {
				uint32_t mx = gen_mxcsr();

				memcpy(v, &mx, 4);
			}
			memcpy(init_img + (target - DIFF_DATA), v, 16);
		}
	} else if (f->rm != 'n' && (rm & 8)) {
		rex |= 1;
	}

	/* bytes */
	if (f->opt & O_OPSZ)
		b[n++] = 0x66;
	if (f->pfx)
		b[n++] = f->pfx;
	if (rex || rnd(4) == 0)
		b[n++] = (uint8_t)(0x40 | rex);
	b[n++] = 0x0f;
	if (f->map == 2)
		b[n++] = 0x38;
	else if (f->map == 3)
		b[n++] = 0x3a;
	b[n++] = f->op;
	if (!(f->opt & O_NOMODRM)) {
		int regf = f->ext >= 0 ? f->ext : (reg & 7);

		if (!mem) {
			b[n++] = (uint8_t)(0xc0 | regf << 3 | (rm & 7));
		} else if (base == -2) {
			int32_t d;

			b[n++] = (uint8_t)(regf << 3 | 5);
			/* disp32 is relative to the end of the instruction */
			d = (int32_t)(target - (DIFF_SLOT_END));
			memcpy(b + n, &d, 4);
			n += 4;
		} else {
			bool sib = index >= 0 || (base & 7) == 4;

			b[n++] = (uint8_t)(mod << 6 | regf << 3 | (sib ? 4 : (base & 7)));
			if (sib)
				b[n++] = (uint8_t)(scale << 6 | ((index >= 0 ? index : 4) & 7) << 3 | (base & 7));
			if (mod == 1)
				b[n++] = (uint8_t)disp;
			else if (mod == 2) {
				int32_t d = (int32_t)disp;

				memcpy(b + n, &d, 4);
				n += 4;
			}
		}
	}
	if (f->opt & O_IMM)
		b[n++] = (uint8_t)(rnd(4) ? diff_rng() : rnd(20));
	VERIFY(n <= 15);
	memcpy(c->bytes, b, n);
	c->len = n;
	(void)is_reg_kind;
}

/* ---- native ---- */


static int
native_setup(void)
{
	code = diff_map_fixed(DIFF_CODE, DIFF_CODE_SIZE, true);
	fxp = diff_map_fixed(FXPAGE, 4096, false);
	data = diff_map_fixed(DIFF_DATA, DATA_SIZE, false);
	if (code == NULL || fxp == NULL || data == NULL)
		return -ENOMEM;
	nat_entry = diff_build_harness(code, DIFF_CODE, FXPAGE);
	diff_catch_faults(DIFF_CODE, DIFF_CODE_SIZE, DIFF_CODE + DIFF_LANDING, &nat_signal);
	return 0;
}

static int
native_run(const struct sse_case *c, uint64_t *gpr, uint64_t *flags, uint8_t *fx)
{
	uint8_t *slot = code + (DIFF_SLOT_END - DIFF_CODE);

	memset(slot - 15, 0x90, 15 - c->len);
	memcpy(slot - c->len, c->bytes, c->len);
	memcpy(code + DIFF_SL_IN, c->gpr, 16 * 8);
	memcpy(code + DIFF_SL_IN + 16 * 8, &c->rflags, 8);
	memcpy(fxp + FX_IN, c->fx, 512);
	nat_signal = 0;
	if (nat_entry() != 0) {
		memcpy(fx, fxp + FX_OUT, 512);
		return nat_signal != 0 ? nat_signal : -1;
	}
	memcpy(gpr, code + DIFF_SL_OUT, 16 * 8);
	memcpy(flags, code + DIFF_SL_OUT + 16 * 8, 8);
	memcpy(fx, fxp + FX_OUT, 512);
	return 0;
}

/* ---- emulated ---- */

static void
emu_setup(void)
{
	ecpu = calloc(1, sizeof(*ecpu));
	VERIFY(ecpu != NULL);
	ecpu->st.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_MP;
	ecpu->st.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
	ecpu->st.efer = EFER_LME | EFER_LMA;
	ecpu->st.seg[SEG_CS].access = 0xa09b;
	ecpu->st.seg[SEG_CS].limit = 0xffffffff;
	for (int s = SEG_ES; s <= SEG_GS; s++) {
		if (s == SEG_CS)
			continue;
		ecpu->st.seg[s].access = 0xc093;
		ecpu->st.seg[s].limit = 0xffffffff;
	}
	emu_update_mode(ecpu);
	VERIFY(ecpu->mode == EMU_MODE_LONG64);
	emap.nsegs = 1;
	emap.seg[0].gpa = DIFF_DATA;
	emap.seg[0].len = DATA_SIZE;
	emap.seg[0].hva = data;
	ecpu->mem = &emap;
	ecpu->exit = &eexit;
	emu_tlb_flush(ecpu, false);
}

struct emu_result {
	int	rc, exc;
	uint64_t gpr[16], flags;
};

static void
emu_run_case(const struct sse_case *c, struct emu_result *r)
{
	const uint8_t *bytes = code + (DIFF_SLOT_END - DIFF_CODE) - c->len;
	uint64_t rip = DIFF_SLOT_END - (uint64_t)c->len;
	struct emu_insn in;
	int rc;

	memset(r, 0, sizeof(*r));
	memcpy(ecpu->st.gpr, c->gpr, 16 * 8);
	memcpy(ecpu->st.fxsave, c->fx, 512);
	emu_set_rflags(ecpu, c->rflags);
	ecpu->st.rip = rip;
	ecpu->exc_vector = -1;
	rc = emu_decode(bytes, 15, ecpu->mode, &in);
	if (rc != 0 || in.len != c->len) {
		r->rc = EMU_FAULT;
		r->exc = rc == 0 ? -2 : IDT_UD;
		memcpy(r->gpr, c->gpr, sizeof(r->gpr));
		r->flags = c->rflags;
		return;
	}
	ecpu->next_rip = rip + in.len;
	r->rc = in.fn(ecpu, &in);
	emu_x87_flush(ecpu);	/* as emu.c after an instruction */
	r->exc = ecpu->exc_vector;
	memcpy(r->gpr, ecpu->st.gpr, 16 * 8);
	r->flags = emu_rflags(ecpu);
}

/* ---- comparison ---- */

static bool
close_enough(uint32_t n, uint32_t e)
{
	float fn, fe;

	if (n == e)
		return true;
	memcpy(&fn, &n, 4);
	memcpy(&fe, &e, 4);
	if (isnan(fn) || isnan(fe) || isinf(fn) || isinf(fe))
		return false;
	/* the flush-to-zero boundary is implementation-specific (SDM RCPPS) */
	if ((fn == 0 && fabsf(fe) < 0x1p-125f) || (fe == 0 && fabsf(fn) < 0x1p-125f))
		return true;
	return fabs(((double)fn - fe) / fe) <= 1.5 * 0x1p-12 + 0x1p-23;
}

/* Bytes of the FXSAVE image compared: 0-23 (x87 control), 24-27 (MXCSR), 32-415. */
static const char *
compare_fx(const struct sse_form *f, const struct sse_case *c, const uint8_t *nfx,
    bool fault)
{
	const uint8_t *efx = ecpu->st.fxsave;
	uint32_t nmx, emx, imx;

	memcpy(&nmx, nfx + 24, 4);
	memcpy(&emx, efx + 24, 4);
	memcpy(&imx, c->fx + 24, 4);
	/*
	 * PE of an unmasked OE/UE (sse.c unbounded_pe) is the rule measured
	 * on Intel hosts; AMD's is not measured yet, so on other hosts PE is
	 * left out of those #XM cases, as before that rule.
	 */
	if (fault && vmm_host_vendor() != VMM_VENDOR_INTEL &&
	    (((nmx & 0x10) && !(imx & 0x800)) || ((nmx & 0x08) && !(imx & 0x400))))
		nmx &= ~0x20u, emx &= ~0x20u;
	if (nmx != emx && !(fault && (f->opt & O_XMFLAGS)))
		return "MXCSR differs";
	if (fault) {
		if (memcmp(efx + 32, c->fx + 32, 512 - 32) != 0 || memcmp(efx, c->fx, 24) != 0)
			return "the emulator faulted but changed x87/SSE registers";
		return NULL;
	}
	if (memcmp(nfx, efx, 8) != 0)
		return "FCW/FSW/FTW differ";
	if (memcmp(nfx + 32, efx + 32, 128) != 0)
		return "x87/MMX registers differ";
	if (f->opt & O_APPROX) {
		for (int i = 0; i < 16; i++) {
			const uint8_t *np = nfx + 160 + 16 * i, *ep = efx + 160 + 16 * i;

			if (i != c->dst) {
				if (memcmp(np, ep, 16) != 0)
					return "XMM registers differ";
				continue;
			}
			for (int j = 0; j < 16; j += 4) {
				uint32_t a, b;

				memcpy(&a, np + j, 4);
				memcpy(&b, ep + j, 4);
				if (!close_enough(a, b))
					return "RCP/RSQRT beyond the error bound";
			}
		}
		return NULL;
	}
	if (memcmp(nfx + 160, efx + 160, 256) != 0)
		return "XMM registers differ";
	return NULL;
}

static const char *
compare(const struct sse_form *f, const struct sse_case *c, int sig, const uint64_t *ngpr,
    uint64_t nflags, const uint8_t *nfx, const struct emu_result *er)
{
	if (er->exc == -2)
		return "decoded length differs";
	if (sig != 0) {
		if (er->rc != EMU_FAULT)
			return "native fault, the emulator did not fault";
		if (sig == SIGFPE && er->exc != IDT_XF)
			return "native #XM, the emulator raised another exception";
		if (sig == SIGILL && er->exc != IDT_UD)
			return "native #UD, the emulator raised another exception";
		if ((sig == SIGSEGV || sig == SIGBUS) && er->exc != IDT_GP && er->exc != IDT_SS)
			return "native #GP, the emulator raised another exception";
		if (memcmp(er->gpr, c->gpr, sizeof(er->gpr)) != 0)
			return "the emulator faulted but changed registers";
		if (memcmp(data, init_img, DATA_SIZE) != 0)
			return "the emulator faulted but changed memory";
		return compare_fx(f, c, nfx, true);
	}
	if (er->rc != EMU_OK)
		return "the emulator faulted, the host did not";
	if (memcmp(ngpr, er->gpr, 16 * 8) != 0)
		return "registers differ";
	if ((nflags ^ er->flags) & (RFL_ARITH | RFL_DF))
		return "flags differ";
	if (memcmp(data, nat_img, DATA_SIZE) != 0)
		return "memory differs";
	return compare_fx(f, c, nfx, false);
}

static void
hexdump(const char *what, const uint8_t *p, int n)
{
	fprintf(stderr, "    %-8s", what);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", p[i], (i & 15) == 15 && i + 1 < n ? "\n            " :
		    (i & 3) == 3 ? " " : "");
	fprintf(stderr, "\n");
}

static void
report(const struct sse_form *f, const struct sse_case *c, int iter, const char *why, int sig,
    const uint64_t *ngpr, uint64_t nflags, const uint8_t *nfx, const struct emu_result *er)
{
	fprintf(stderr, "  %s case %d: %s\n", f->name, iter, why);
	hexdump("bytes", c->bytes, c->len);
	fprintf(stderr, "    native signal %d flags %llx; emu rc %d exc %d flags %llx\n", sig,
	    (unsigned long long)nflags, er->rc, er->exc, (unsigned long long)er->flags);
	for (int i = 0; i < 16; i++)
		if (ngpr[i] != er->gpr[i] && sig == 0)
			fprintf(stderr, "    gpr %d: in %llx native %llx emu %llx\n", i,
			    (unsigned long long)c->gpr[i], (unsigned long long)ngpr[i],
			    (unsigned long long)er->gpr[i]);
	hexdump("in fx", c->fx, 32);
	hexdump("native", nfx, 32);
	hexdump("emu", ecpu->st.fxsave, 32);
	for (int i = 0; i < 24; i++) {
		const uint8_t *np = nfx + 32 + 16 * i, *ep = ecpu->st.fxsave + 32 + 16 * i;

		if (memcmp(np, ep, 16) != 0) {
			fprintf(stderr, "    %s%d:\n", i < 8 ? "st" : "xmm", i < 8 ? i : i - 8);
			hexdump("in", c->fx + 32 + 16 * i, 16);
			hexdump("native", np, 16);
			hexdump("emu", ep, 16);
		}
	}
	for (int i = 0; i < DATA_SIZE; i++)
		if (data[i] != nat_img[i] && sig == 0) {
			fprintf(stderr, "    memory at +%#x: native %02x emu %02x\n", i, nat_img[i], data[i]);
			break;
		}
}

static bool
host_ok(const struct sse_form *f)
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	__get_cpuid(1, &a, &b, &c, &d);
	if ((f->opt & O_H3) && !(c & 1))
		return false;
	if ((f->opt & O_H33) && !(c & (1u << 9)))
		return false;
	if ((f->opt & O_H41) && !(c & (1u << 19)))
		return false;
	if ((f->opt & O_H42) && !(c & (1u << 20)))
		return false;
	if ((f->opt & O_HAES) && !(c & (1u << 25)))
		return false;
	if ((f->opt & O_HCLMUL) && !(c & (1u << 1)))
		return false;
	return true;
}

static uint64_t
seed_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*name)
		h = (h ^ (uint8_t)*name++) * 0x100000001b3ULL;
	return h;
}

static bool ready;

static void
run_forms(int first, int last)
{
	const char *only = getenv("SSE_FORM"), *e = getenv("SSE_ITERS");
	int n = e != NULL ? atoi(e) : ITERS_DEFAULT, nf = 0, nskip = 0;
	long cases = 0, faults = 0;
	struct timespec t0, t1;
	static struct sse_case c;
	static uint8_t nfx[512];

	if (!ready) {
		if (native_setup() != 0)
			SKIP("cannot map the test pages at %#llx", (unsigned long long)DIFF_CODE);
		emu_setup();
		ready = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = first; i < last; i++) {
		const struct sse_form *f = &forms[i];
		int bad = 0, badxm = 0;

		if (only != NULL && strstr(f->name, only) == NULL)
			continue;
		if (!host_ok(f)) {
			nskip++;
			continue;
		}
		nf++;
		diff_seed(seed_of(f->name));
		for (int k = 0; k < n; k++) {
			struct emu_result er;
			uint64_t ngpr[16] = { 0 }, nflags = 0;
			const char *why;
			int sig;

			for (int j = 0; j < DATA_SIZE; j += 8) {
				uint64_t v = diff_rng();

				memcpy(init_img + j, &v, 8);
			}
			generate(f, &c);
			memcpy(data, init_img, DATA_SIZE);
			sig = native_run(&c, ngpr, &nflags, nfx);
			memcpy(nat_img, data, DATA_SIZE);
			memcpy(data, init_img, DATA_SIZE);
			emu_run_case(&c, &er);
			cases++;
			faults += sig != 0;
			why = compare(f, &c, sig, ngpr, nflags, nfx, &er);
			if (why == NULL)
				diff_list_case(c.bytes, c.len);
			if (why != NULL && sig == SIGFPE)
				badxm++;
			if (why != NULL && bad++ == 0)
				report(f, &c, k, why, sig, ngpr, nflags, nfx, &er);
		}
		if (bad != 0) {
			fprintf(stderr, "  %s: %d/%d cases differ (%d raising #XM)\n", f->name, bad, n,
			    badxm);
			test_failed_ = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (nf == 0 && nskip != 0)
		SKIP("the host lacks the SSE extensions of these forms");
	printf("# %d forms (%d skipped: host), %ld cases (%ld faulting), %.2f s\n", nf, nskip,
	    cases, faults, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static int
form_index(const char *name)
{
	for (int i = 0; i < (int)(sizeof(forms) / sizeof(forms[0])); i++)
		if (strcmp(forms[i].name, name) == 0)
			return i;
	VERIFY(0);
	return -1;
}

TEST(sse_diff_moves) { run_forms(0, form_index("sqrtps")); }
TEST(sse_diff_fp) { run_forms(form_index("sqrtps"), form_index("punpcklbw mm")); }
TEST(sse_diff_int) { run_forms(form_index("punpcklbw mm"), form_index("addsubpd")); }
TEST(sse_diff_sse3_ssse3_sse4)
{
	run_forms(form_index("addsubpd"), (int)(sizeof(forms) / sizeof(forms[0])));
}

#else

TEST(sse_diff_host)
{
	SKIP("the host is not x86-64");
}

#endif

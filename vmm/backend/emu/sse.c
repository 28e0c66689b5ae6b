/*
 * sse.c - MMX, SSE, SSE2, SSE3, SSSE3, SSE4.1 and SSE4.2 (SDM Vol. 1
 * chapters 9-12, Vol. 2 instruction pages), AES-NI and PCLMULQDQ.  docs/cpu.md, "SSE", says why
 * it is built this way.
 *
 * State: the guest's x87/SSE state is cpu->st.fxsave in FXSAVE layout (SDM
 * Vol. 1 10.5.1, table 10-2): MXCSR at 24, the x87/MMX registers at 32 + 16i
 * (ST(i), in stack order), XMM0-15 at 160 + 16i.  FXSAVE is then a copy.
 *
 * Every operation is one line of sse.h: a function on a struct sse_args
 * (the destination's old value, the source, the immediate) and the kinds of
 * its operands; one generic handler per register file (op_sse for XMM,
 * op_mmx for MMX) checks the exception conditions, fetches the operands,
 * calls the function and writes the result.  Integer and data-movement
 * functions are plain C.  Floating-point ones (D_FP) execute the same
 * instruction on the host's SSE unit with the guest's rounding control,
 * DAZ and FTZ loaded and every exception masked, inside one asm block that
 * saves and restores the host MXCSR, so results are those of the hardware
 * and nothing leaks between guests or into the host; the exception flags
 * it raised are then folded into the guest MXCSR (sse_fp()).
 *
 * MMX (SDM Vol. 1 9.5): MMi is the low 64 bits of physical x87 register
 * Ri; the image holds ST(j) = R((TOP + j) mod 8).  An MMX instruction sets
 * TOP to 0 (so slot i is then MMi), tags every register valid (abridged
 * FTW 0xFF) and writes 1s to bits 79:64 of the register it writes; EMMS
 * tags them all empty.  The x87 files own the rest of that state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "sse.h"

/* FXSAVE image offsets (SDM Vol. 1 table 10-2) */
#define FX_FSW		2
#define FX_FTW		4
#define FX_MXCSR	24
#define FX_ST		32
#define FX_XMM		160

/* MXCSR (SDM Vol. 1 10.2.3) */
#define MX_IE		0x0001u
#define MX_DE		0x0002u
#define MX_ZE		0x0004u
#define MX_OE		0x0008u
#define MX_UE		0x0010u
#define MX_PE		0x0020u
#define MX_FLAGS	0x003fu
#define MX_DAZ		0x0040u
#define MX_MASKS	0x1f80u
#define MX_UM		0x0800u
#define MX_FTZ		0x8000u
/* Bits a guest may set: MXCSR_MASK as FXSAVE reports it (DAZ supported). */
#define MX_VALID	0xffffu

union v128 {
	uint8_t		b[16];
	int8_t		sb[16];
	uint16_t	w[8];
	int16_t		sw[8];
	uint32_t	d[4];
	int32_t		sd[4];
	uint64_t	q[2];
	int64_t		sq[2];
	float		f[4];
	double		f64[2];
};

struct sse_args {
	union v128	d;		/* destination: old value in, result out */
	union v128	s;		/* source */
	uint32_t	mxcsr;		/* D_FP: host MXCSR to run with; flags out */
	uint8_t		imm;
	uint8_t		width;		/* 8 (MMX) or 16 (XMM) */
	uint8_t		gsize;		/* KG: 4, or 8 with REX.W */
	uint8_t		mem;		/* the r/m operand is memory */
	uint64_t	rflags;		/* D_FL: the arithmetic flags (others cleared) */
	const union v128 *xmm0;		/* implicit operand of BLENDV* */
	int64_t		len_d, len_s;	/* PCMPESTRx: EAX/RAX, EDX/RDX, signed */
};

typedef void sse_fn(struct sse_args *a);

enum { KN, KV, KX, KM, KG, KG32 };
enum {
	D_ST = 0x01, D_UNAL = 0x02, D_FP = 0x04, D_NOWB = 0x08, D_FL = 0x10,
	D_H3 = 0x20, D_H41 = 0x40, D_ECX = 0x80, D_XMM0 = 0x100,
};

struct sse_desc {
	sse_fn		*fn;
	uint8_t		reg, rm, msize;
	uint16_t	fl;
};

/* ---- lanes ---- */

#define LANEWISE(name, T, lanes, expr)					\
static void								\
name(struct sse_args *a)						\
{									\
	int n = a->width / (int)sizeof(a->d.lanes[0]);			\
	for (int i = 0; i < n; i++) {					\
		T x = a->d.lanes[i], y = a->s.lanes[i];			\
		(void)x; (void)y;					\
		a->d.lanes[i] = (expr);					\
	}								\
}

static inline int8_t
sat8(int v)
{
	return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
}

static inline int16_t
sat16(int v)
{
	return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

static inline uint8_t
satu8(int v)
{
	return (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
}

static inline uint16_t
satu16(int v)
{
	return (uint16_t)(v > 65535 ? 65535 : v < 0 ? 0 : v);
}

LANEWISE(paddb, uint8_t, b, (uint8_t)(x + y))
LANEWISE(paddw, uint16_t, w, (uint16_t)(x + y))
LANEWISE(paddd, uint32_t, d, x + y)
LANEWISE(paddq, uint64_t, q, x + y)
LANEWISE(psubb, uint8_t, b, (uint8_t)(x - y))
LANEWISE(psubw, uint16_t, w, (uint16_t)(x - y))
LANEWISE(psubd, uint32_t, d, x - y)
LANEWISE(psubq, uint64_t, q, x - y)
LANEWISE(paddsb, int8_t, sb, sat8(x + y))
LANEWISE(paddsw, int16_t, sw, sat16(x + y))
LANEWISE(paddusb, uint8_t, b, satu8(x + y))
LANEWISE(paddusw, uint16_t, w, satu16(x + y))
LANEWISE(psubsb, int8_t, sb, sat8(x - y))
LANEWISE(psubsw, int16_t, sw, sat16(x - y))
LANEWISE(psubusb, uint8_t, b, satu8(x - y))
LANEWISE(psubusw, uint16_t, w, satu16(x - y))
LANEWISE(pmullw, int16_t, sw, (int16_t)(uint16_t)((int32_t)x * y))
LANEWISE(pmulhw, int16_t, sw, (int16_t)(((int32_t)x * y) >> 16))
LANEWISE(pmulhuw, uint16_t, w, (uint16_t)(((uint32_t)x * y) >> 16))
LANEWISE(pand, uint64_t, q, x & y)
LANEWISE(pandn, uint64_t, q, ~x & y)
LANEWISE(por, uint64_t, q, x | y)
LANEWISE(pxor, uint64_t, q, x ^ y)
LANEWISE(pcmpeqb, uint8_t, b, x == y ? 0xff : 0)
LANEWISE(pcmpeqw, uint16_t, w, x == y ? 0xffff : 0)
LANEWISE(pcmpeqd, uint32_t, d, x == y ? ~0u : 0)
LANEWISE(pcmpeqq, uint64_t, q, x == y ? ~0ULL : 0)
LANEWISE(pcmpgtb, int8_t, sb, x > y ? -1 : 0)
LANEWISE(pcmpgtw, int16_t, sw, x > y ? -1 : 0)
LANEWISE(pcmpgtd, int32_t, sd, x > y ? -1 : 0)
LANEWISE(pcmpgtq, int64_t, sq, x > y ? -1 : 0)
LANEWISE(pminub, uint8_t, b, x < y ? x : y)
LANEWISE(pmaxub, uint8_t, b, x > y ? x : y)
LANEWISE(pminsw, int16_t, sw, x < y ? x : y)
LANEWISE(pmaxsw, int16_t, sw, x > y ? x : y)
LANEWISE(pminsb, int8_t, sb, x < y ? x : y)
LANEWISE(pmaxsb, int8_t, sb, x > y ? x : y)
LANEWISE(pminuw, uint16_t, w, x < y ? x : y)
LANEWISE(pmaxuw, uint16_t, w, x > y ? x : y)
LANEWISE(pminsd, int32_t, sd, x < y ? x : y)
LANEWISE(pmaxsd, int32_t, sd, x > y ? x : y)
LANEWISE(pminud, uint32_t, d, x < y ? x : y)
LANEWISE(pmaxud, uint32_t, d, x > y ? x : y)
LANEWISE(pavgb, uint8_t, b, (uint8_t)((x + y + 1) >> 1))
LANEWISE(pavgw, uint16_t, w, (uint16_t)((x + y + 1) >> 1))
LANEWISE(pmulld, uint32_t, d, x * y)
LANEWISE(psignb, int8_t, sb, y < 0 ? (int8_t)-x : y == 0 ? 0 : x)
LANEWISE(psignw, int16_t, sw, y < 0 ? (int16_t)-x : y == 0 ? 0 : x)
LANEWISE(psignd, int32_t, sd, y < 0 ? (int32_t)(0u - (uint32_t)x) : y == 0 ? 0 : x)
LANEWISE(pabsb, int8_t, sb, (int8_t)(y < 0 ? -y : y))
LANEWISE(pabsw, int16_t, sw, (int16_t)(y < 0 ? -y : y))
LANEWISE(pabsd, uint32_t, d, (int32_t)y < 0 ? 0u - y : y)
LANEWISE(pmulhrsw, int16_t, sw, (int16_t)((((int32_t)x * y >> 14) + 1) >> 1))

static void
mov_all(struct sse_args *a)
{
	a->d = a->s;
}

/* PMULUDQ: unsigned 32 x 32 -> 64 of the even dwords. */
static void
pmuludq(struct sse_args *a)
{
	for (int i = 0; i < a->width / 8; i++)
		a->d.q[i] = (uint64_t)a->d.d[2 * i] * a->s.d[2 * i];
}

/* PMULDQ: the same, signed. */
static void
pmuldq(struct sse_args *a)
{
	for (int i = 0; i < 2; i++)
		a->d.sq[i] = (int64_t)a->d.sd[2 * i] * a->s.sd[2 * i];
}

static void
pmaddwd(struct sse_args *a)
{
	union v128 r;

	for (int i = 0; i < a->width / 4; i++)
		r.d[i] = (uint32_t)((int64_t)a->d.sw[2 * i] * a->s.sw[2 * i] +
		    (int64_t)a->d.sw[2 * i + 1] * a->s.sw[2 * i + 1]);
	memcpy(&a->d, &r, a->width);
}

static void
pmaddubsw(struct sse_args *a)
{
	union v128 r;

	for (int i = 0; i < a->width / 2; i++)
		r.sw[i] = sat16(a->d.b[2 * i] * a->s.sb[2 * i] +
		    a->d.b[2 * i + 1] * a->s.sb[2 * i + 1]);
	memcpy(&a->d, &r, a->width);
}

static void
psadbw(struct sse_args *a)
{
	for (int i = 0; i < a->width / 8; i++) {
		unsigned sum = 0;

		for (int j = 0; j < 8; j++) {
			int x = a->d.b[8 * i + j] - a->s.b[8 * i + j];

			sum += (unsigned)(x < 0 ? -x : x);
		}
		a->d.q[i] = sum;
	}
}

/* PACKSS / PACKUS: the destination's lanes narrowed, then the source's. */
static void
packsswb(struct sse_args *a)
{
	union v128 r;
	int n = a->width / 2;

	for (int i = 0; i < n; i++) {
		r.sb[i] = sat8(a->d.sw[i]);
		r.sb[n + i] = sat8(a->s.sw[i]);
	}
	memcpy(&a->d, &r, a->width);
}

static void
packuswb(struct sse_args *a)
{
	union v128 r;
	int n = a->width / 2;

	for (int i = 0; i < n; i++) {
		r.b[i] = satu8(a->d.sw[i]);
		r.b[n + i] = satu8(a->s.sw[i]);
	}
	memcpy(&a->d, &r, a->width);
}

static void
packssdw(struct sse_args *a)
{
	union v128 r;
	int n = a->width / 4;

	for (int i = 0; i < 2 * n; i++)
		r.sw[i] = sat16(i < n ? a->d.sd[i] : a->s.sd[i - n]);
	memcpy(&a->d, &r, a->width);
}

static void
packusdw(struct sse_args *a)
{
	union v128 r;

	for (int i = 0; i < 4; i++) {
		r.w[i] = satu16(a->d.sd[i]);
		r.w[i + 4] = satu16(a->s.sd[i]);
	}
	a->d = r;
}

/* PUNPCKL / PUNPCKH: interleave elements of @es bytes from the low or high half. */
static void
unpack(struct sse_args *a, int es, bool high)
{
	union v128 r;
	int half = a->width / 2, n = half / es, off = high ? half : 0;

	for (int i = 0; i < n; i++) {
		memcpy(&r.b[2 * i * es], &a->d.b[off + i * es], es);
		memcpy(&r.b[(2 * i + 1) * es], &a->s.b[off + i * es], es);
	}
	memcpy(&a->d, &r, a->width);
}

static void punpcklbw(struct sse_args *a) { unpack(a, 1, false); }
static void punpcklwd(struct sse_args *a) { unpack(a, 2, false); }
static void punpckldq(struct sse_args *a) { unpack(a, 4, false); }
static void punpcklqdq(struct sse_args *a) { unpack(a, 8, false); }
static void punpckhbw(struct sse_args *a) { unpack(a, 1, true); }
static void punpckhwd(struct sse_args *a) { unpack(a, 2, true); }
static void punpckhdq(struct sse_args *a) { unpack(a, 4, true); }
static void punpckhqdq(struct sse_args *a) { unpack(a, 8, true); }

/*
 * Shifts by a count: the source's low quadword (the imm8 of the 0F 71-73
 * groups is put there by the handler).  A count beyond the lane width
 * gives 0, or the sign for arithmetic shifts (SDM Vol. 2B PSLLW).
 */

#define SHIFTOP(name, lanes, bits, arith, left)				\
static void								\
name(struct sse_args *a)						\
{									\
	uint64_t c = a->s.q[0];						\
	int n = a->width / (bits / 8);					\
	for (int i = 0; i < n; i++) {					\
		uint64_t v = a->d.lanes[i];				\
		if (arith) {						\
			int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits); \
			v = (uint64_t)(sv >> (c > bits - 1 ? bits - 1 : c)); \
		} else if (c > bits - 1) {				\
			v = 0;						\
		} else {						\
			v = left ? v << c : v >> c;			\
		}							\
		a->d.lanes[i] = (__typeof__(a->d.lanes[0]))v;		\
	}								\
}
SHIFTOP(psrlw, w, 16, false, false)
SHIFTOP(psrld, d, 32, false, false)
SHIFTOP(psrlq, q, 64, false, false)
SHIFTOP(psraw, w, 16, true, false)
SHIFTOP(psrad, d, 32, true, false)
SHIFTOP(psllw, w, 16, false, true)
SHIFTOP(pslld, d, 32, false, true)
SHIFTOP(psllq, q, 64, false, true)

static void
psrldq(struct sse_args *a)
{
	union v128 r = { .q = { 0, 0 } };
	unsigned n = a->imm > 16 ? 16 : a->imm;

	memcpy(r.b, a->d.b + n, 16 - n);
	a->d = r;
}

static void
pslldq(struct sse_args *a)
{
	union v128 r = { .q = { 0, 0 } };
	unsigned n = a->imm > 16 ? 16 : a->imm;

	memcpy(r.b + n, a->d.b, 16 - n);
	a->d = r;
}

static void
pshufd(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		a->d.d[i] = a->s.d[(a->imm >> (2 * i)) & 3];
}

static void
pshufhw(struct sse_args *a)
{
	a->d.q[0] = a->s.q[0];
	for (int i = 0; i < 4; i++)
		a->d.w[4 + i] = a->s.w[4 + ((a->imm >> (2 * i)) & 3)];
}

static void
pshuflw(struct sse_args *a)
{
	a->d.q[1] = a->s.q[1];
	for (int i = 0; i < 4; i++)
		a->d.w[i] = a->s.w[(a->imm >> (2 * i)) & 3];
}

static void
pshufw(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		a->d.w[i] = a->s.w[(a->imm >> (2 * i)) & 3];
}

static void
shufps(struct sse_args *a)
{
	union v128 r;

	r.d[0] = a->d.d[a->imm & 3];
	r.d[1] = a->d.d[(a->imm >> 2) & 3];
	r.d[2] = a->s.d[(a->imm >> 4) & 3];
	r.d[3] = a->s.d[(a->imm >> 6) & 3];
	a->d = r;
}

static void
shufpd(struct sse_args *a)
{
	union v128 r;

	r.q[0] = a->d.q[a->imm & 1];
	r.q[1] = a->s.q[(a->imm >> 1) & 1];
	a->d = r;
}

/* ---- data movement ---- */

/* MOVSS: from memory the upper lanes are zeroed, between registers kept. */
static void
movss(struct sse_args *a)
{
	if (a->mem)
		a->d.q[0] = a->d.q[1] = 0;
	a->d.d[0] = a->s.d[0];
}

static void
movsd(struct sse_args *a)
{
	if (a->mem)
		a->d.q[1] = 0;
	a->d.q[0] = a->s.q[0];
}

/* MOVQ, MOVD (the source zero-extended), MOVQ2DQ, MOVDQ2Q, MOVLPS store. */
static void
movzq(struct sse_args *a)
{
	a->d.q[0] = a->s.q[0];
	a->d.q[1] = 0;
}

/* MOVLPS/MOVLPD xmm, m64; MOVHLPS xmm, xmm (0F 12 with mod = 3). */
static void
movlps(struct sse_args *a)
{
	a->d.q[0] = a->mem ? a->s.q[0] : a->s.q[1];
}

/* MOVHPS/MOVHPD xmm, m64; MOVLHPS xmm, xmm (0F 16 with mod = 3). */
static void
movhps(struct sse_args *a)
{
	a->d.q[1] = a->s.q[0];
}

static void
movhps_st(struct sse_args *a)
{
	a->d.q[0] = a->s.q[1];
}

static void
movmskps(struct sse_args *a)
{
	uint64_t m = 0;

	for (int i = 0; i < 4; i++)
		m |= (uint64_t)(a->s.d[i] >> 31) << i;
	a->d.q[0] = m;
}

static void
movmskpd(struct sse_args *a)
{
	a->d.q[0] = (a->s.q[0] >> 63) | (a->s.q[1] >> 63) << 1;
}

static void
pmovmskb(struct sse_args *a)
{
	uint64_t m = 0;

	for (int i = 0; i < a->width; i++)
		m |= (uint64_t)(a->s.b[i] >> 7) << i;
	a->d.q[0] = m;
}

static void
pinsrw(struct sse_args *a)
{
	a->d.w[a->imm & (a->width / 2 - 1)] = a->s.w[0];
}

static void
pextrw(struct sse_args *a)
{
	a->d.q[0] = a->s.w[a->imm & (a->width / 2 - 1)];
	a->d.q[1] = 0;
}

/* MASKMOVQ/MASKMOVDQU: the handler stores; nothing to compute. */
static void
maskmov(struct sse_args *a)
{
	(void)a;
}

static void
movsldup(struct sse_args *a)
{
	a->d.d[0] = a->d.d[1] = a->s.d[0];
	a->d.d[2] = a->d.d[3] = a->s.d[2];
}

static void
movshdup(struct sse_args *a)
{
	a->d.d[0] = a->d.d[1] = a->s.d[1];
	a->d.d[2] = a->d.d[3] = a->s.d[3];
}

static void
movddup(struct sse_args *a)
{
	a->d.q[0] = a->d.q[1] = a->s.q[0];
}

/* ---- SSSE3 ---- */

static void
pshufb(struct sse_args *a)
{
	union v128 r;

	for (int i = 0; i < a->width; i++)
		r.b[i] = (a->s.b[i] & 0x80) ? 0 : a->d.b[a->s.b[i] & (a->width - 1)];
	memcpy(&a->d, &r, a->width);
}

/* Horizontal pairs: the destination's pairs, then the source's. */
#define HORIZ(name, T, lanes, expr)					\
static void								\
name(struct sse_args *a)						\
{									\
	union v128 r;							\
	int n = a->width / (int)sizeof(T), h = n / 2;			\
	for (int i = 0; i < n; i++) {					\
		const union v128 *v = i < h ? &a->d : &a->s;		\
		int j = 2 * (i % h);					\
		T x = v->lanes[j], y = v->lanes[j + 1];			\
		r.lanes[i] = (expr);					\
	}								\
	memcpy(&a->d, &r, a->width);					\
}
HORIZ(phaddw, uint16_t, w, (uint16_t)(x + y))
HORIZ(phaddd, uint32_t, d, x + y)
HORIZ(phaddsw, int16_t, sw, sat16(x + y))
HORIZ(phsubw, uint16_t, w, (uint16_t)(x - y))
HORIZ(phsubd, uint32_t, d, x - y)
HORIZ(phsubsw, int16_t, sw, sat16(x - y))

/* PALIGNR: (dest:src) >> imm8 bytes, the low width bytes. */
static void
palignr(struct sse_args *a)
{
	uint8_t t[32] = { 0 };
	union v128 r;
	int w = a->width;

	memcpy(t, a->s.b, w);
	memcpy(t + w, a->d.b, w);
	for (int i = 0; i < w; i++)
		r.b[i] = a->imm + i < 2 * w ? t[a->imm + i] : 0;
	memcpy(&a->d, &r, w);
}

/* ---- SSE4.1 ---- */

static void
pblendvb(struct sse_args *a)
{
	for (int i = 0; i < 16; i++)
		if (a->xmm0->b[i] & 0x80)
			a->d.b[i] = a->s.b[i];
}

static void
blendvps(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		if (a->xmm0->d[i] >> 31)
			a->d.d[i] = a->s.d[i];
}

static void
blendvpd(struct sse_args *a)
{
	for (int i = 0; i < 2; i++)
		if (a->xmm0->q[i] >> 63)
			a->d.q[i] = a->s.q[i];
}

static void
blendps(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		if (a->imm >> i & 1)
			a->d.d[i] = a->s.d[i];
}

static void
blendpd(struct sse_args *a)
{
	for (int i = 0; i < 2; i++)
		if (a->imm >> i & 1)
			a->d.q[i] = a->s.q[i];
}

static void
pblendw(struct sse_args *a)
{
	for (int i = 0; i < 8; i++)
		if (a->imm >> i & 1)
			a->d.w[i] = a->s.w[i];
}

/* PTEST: ZF = (dest AND src) = 0, CF = (NOT dest AND src) = 0; AF OF PF SF cleared. */
static void
ptest(struct sse_args *a)
{
	bool z = !((a->d.q[0] & a->s.q[0]) | (a->d.q[1] & a->s.q[1]));
	bool c = !((~a->d.q[0] & a->s.q[0]) | (~a->d.q[1] & a->s.q[1]));

	a->rflags = (z ? RFL_ZF : 0) | (c ? RFL_CF : 0);
}

#define PMOVX(name, DT, dl, ST, sl)					\
static void								\
name(struct sse_args *a)						\
{									\
	union v128 r;							\
	for (int i = 0; i < 16 / (int)sizeof(DT); i++)			\
		r.dl[i] = (DT)(ST)a->s.sl[i];				\
	a->d = r;							\
}
PMOVX(pmovsxbw, int16_t, sw, int8_t, sb)
PMOVX(pmovsxbd, int32_t, sd, int8_t, sb)
PMOVX(pmovsxbq, int64_t, sq, int8_t, sb)
PMOVX(pmovsxwd, int32_t, sd, int16_t, sw)
PMOVX(pmovsxwq, int64_t, sq, int16_t, sw)
PMOVX(pmovsxdq, int64_t, sq, int32_t, sd)
PMOVX(pmovzxbw, uint16_t, w, uint8_t, b)
PMOVX(pmovzxbd, uint32_t, d, uint8_t, b)
PMOVX(pmovzxbq, uint64_t, q, uint8_t, b)
PMOVX(pmovzxwd, uint32_t, d, uint16_t, w)
PMOVX(pmovzxwq, uint64_t, q, uint16_t, w)
PMOVX(pmovzxdq, uint64_t, q, uint32_t, d)

static void
phminposuw(struct sse_args *a)
{
	unsigned m = 0;

	for (unsigned i = 1; i < 8; i++)
		if (a->s.w[i] < a->s.w[m])
			m = i;
	a->d.q[0] = a->s.w[m] | (uint64_t)m << 16;
	a->d.q[1] = 0;
}

/* PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS: D_ST, the XMM source is in s. */
static void
pextrb(struct sse_args *a)
{
	a->d.q[0] = a->s.b[a->imm & 15];
	a->d.q[1] = 0;
}

static void
pextrw_st(struct sse_args *a)
{
	a->d.q[0] = a->s.w[a->imm & 7];
	a->d.q[1] = 0;
}

static void
pextrd(struct sse_args *a)
{
	a->d.q[0] = a->gsize == 8 ? a->s.q[a->imm & 1] : a->s.d[a->imm & 3];
	a->d.q[1] = 0;
}

static void
extractps(struct sse_args *a)
{
	a->d.q[0] = a->s.d[a->imm & 3];
	a->d.q[1] = 0;
}

static void
pinsrb(struct sse_args *a)
{
	a->d.b[a->imm & 15] = a->s.b[0];
}

static void
pinsrd(struct sse_args *a)
{
	if (a->gsize == 8)
		a->d.q[a->imm & 1] = a->s.q[0];
	else
		a->d.d[a->imm & 3] = a->s.d[0];
}

/* INSERTPS: element imm[7:6] of a register source (a memory source is one float). */
static void
insertps(struct sse_args *a)
{
	uint32_t v = a->mem ? a->s.d[0] : a->s.d[a->imm >> 6];

	a->d.d[(a->imm >> 4) & 3] = v;
	for (int i = 0; i < 4; i++)
		if (a->imm >> i & 1)
			a->d.d[i] = 0;
}

static void
mpsadbw(struct sse_args *a)
{
	union v128 r;
	int so = (a->imm & 3) * 4, dof = ((a->imm >> 2) & 1) * 4;

	for (int i = 0; i < 8; i++) {
		unsigned sum = 0;

		for (int j = 0; j < 4; j++) {
			int x = a->d.b[dof + i + j] - a->s.b[so + j];

			sum += (unsigned)(x < 0 ? -x : x);
		}
		r.w[i] = (uint16_t)sum;
	}
	a->d = r;
}

/*
 * ---- SSE4.2 string compares: PCMPESTRI PCMPESTRM PCMPISTRI PCMPISTRM ----
 *
 * SDM Vol. 2B 4.1, "Imm8 control byte operation for PCMPESTRI / PCMPESTRM
 * / PCMPISTRI / PCMPISTRM".  a->d is xmm1 (the set, ranges or needle),
 * a->s xmm2/m128 (the text).  imm8[1:0] element format (4.1.2: unsigned
 * bytes, unsigned words, signed bytes, signed words), [3:2] aggregation
 * (4.1.3: equal any, ranges, equal each, equal ordered), [5:4] polarity
 * (4.1.4), [6] index or mask selection (4.1.5, 4.1.6); imm8[7] is ignored.
 */

/*
 * 4.1.1: an explicit length is the absolute value of the signed EAX/EDX
 * (RAX/RDX with REX.W), at most 16 bytes or 8 words; an implicit one ends
 * at the first null element.
 */
static int
str_len(const union v128 *v, bool words, bool explicit_, int64_t reg)
{
	int n = words ? 8 : 16;

	if (explicit_)
		return reg < -n || reg > n ? n : (int)(reg < 0 ? -reg : reg);
	for (int i = 0; i < n; i++)
		if ((words ? v->w[i] : v->b[i]) == 0)
			return i;
	return n;
}

static inline int
str_elem(const union v128 *v, unsigned fmt, int i)
{
	switch (fmt) {
	case 0: return v->b[i];
	case 1: return v->w[i];
	case 2: return v->sb[i];
	default: return v->sw[i];
	}
}

/*
 * BoolRes for element j of xmm1 and element i of xmm2/m128 (table 4-4),
 * with the override of table 4-7 when either is past its string's end.
 * Ranges: an even j of xmm1 is a lower bound (xmm2[i] >= xmm1[j]), an odd
 * one an upper bound (xmm2[i] <= xmm1[j]).
 */
static inline bool
str_bool(const struct sse_args *a, unsigned agg, int la, int lb, int j, int i)
{
	unsigned fmt = a->imm & 3;
	int x, y;

	if (j >= la)
		return i >= lb ? agg >= 2 : agg == 3;
	if (i >= lb)
		return false;
	x = str_elem(&a->d, fmt, j);
	y = str_elem(&a->s, fmt, i);
	if (agg == 1)
		return (j & 1) ? y <= x : y >= x;
	return x == y;
}

/*
 * IntRes2 (bits 0 .. n-1) and the flags: CF IntRes2 != 0, ZF the xmm2/m128
 * string is shorter than n (for PCMPISTRx: holds a null), SF the same for
 * xmm1, OF IntRes2[0]; AF and PF cleared (SDM Vol. 2B PCMPESTRI, "Flags
 * Affected").
 */
static uint32_t
pcmpstr(struct sse_args *a, bool explicit_)
{
	bool words = a->imm & 1;
	unsigned agg = (a->imm >> 2) & 3;
	int n = words ? 8 : 16;
	int la = str_len(&a->d, words, explicit_, a->len_d);
	int lb = str_len(&a->s, words, explicit_, a->len_s);
	uint32_t all = (1u << n) - 1, r1 = 0, r2;

	for (int i = 0; i < n; i++) {
		bool r = false;

		switch (agg) {
		case 0:		/* equal any: xmm2[i] is one of xmm1's elements */
			for (int j = 0; j < n && !r; j++)
				r = str_bool(a, agg, la, lb, j, i);
			break;
		case 1:		/* ranges: xmm2[i] is within a pair of xmm1 */
			for (int j = 0; j < n && !r; j += 2)
				r = str_bool(a, agg, la, lb, j, i) &&
				    str_bool(a, agg, la, lb, j + 1, i);
			break;
		case 2:		/* equal each: xmm1[i] = xmm2[i] */
			r = str_bool(a, agg, la, lb, i, i);
			break;
		default:	/* equal ordered: xmm1 occurs in xmm2 at i */
			r = true;
			for (int j = 0; i + j < n && r; j++)
				r = str_bool(a, agg, la, lb, j, i + j);
			break;
		}
		r1 |= (uint32_t)r << i;
	}
	switch ((a->imm >> 4) & 3) {
	case 1:		/* negative */
		r2 = ~r1 & all;
		break;
	case 3:		/* masked negative: only the elements of xmm2's string */
		r2 = r1 ^ ((1u << lb) - 1);
		break;
	default:	/* positive, masked positive */
		r2 = r1;
		break;
	}
	a->rflags = (r2 ? RFL_CF : 0) | (lb < n ? RFL_ZF : 0) | (la < n ? RFL_SF : 0) |
	    ((r2 & 1) ? RFL_OF : 0);
	return r2;
}

/* Index (4.1.5): the least or (imm8[6]) most significant bit set, else n. */
static void
str_index(struct sse_args *a, uint32_t r2)
{
	a->d.q[0] = r2 == 0 ? ((a->imm & 1) ? 8 : 16) :
	    (a->imm & 0x40) ? 31 - __builtin_clz(r2) : __builtin_ctz(r2);
	a->d.q[1] = 0;
}

/* Mask (4.1.6): IntRes2 zero-extended, or (imm8[6]) one element per bit. */
static void
str_mask(struct sse_args *a, uint32_t r2)
{
	union v128 r = { .q = { 0, 0 } };

	if (!(a->imm & 0x40))
		r.d[0] = r2;
	else if (a->imm & 1)
		for (int i = 0; i < 8; i++)
			r.w[i] = (r2 >> i & 1) ? 0xffff : 0;
	else
		for (int i = 0; i < 16; i++)
			r.b[i] = (r2 >> i & 1) ? 0xff : 0;
	a->d = r;
}

static void pcmpestri(struct sse_args *a) { str_index(a, pcmpstr(a, true)); }
static void pcmpestrm(struct sse_args *a) { str_mask(a, pcmpstr(a, true)); }
static void pcmpistri(struct sse_args *a) { str_index(a, pcmpstr(a, false)); }
static void pcmpistrm(struct sse_args *a) { str_mask(a, pcmpstr(a, false)); }

/* ---- floating point on the host's SSE unit ---- */

/*
 * Run one SSE instruction on xmm0 (destination) and xmm1 (source) under
 * a->mxcsr, then put the host's MXCSR back: the asm block is the whole
 * window in which guest control bits are loaded.
 */
#define HOST(insn) do {							\
	uint32_t host_;							\
	__asm__ volatile("stmxcsr %[h]\n\t"				\
	    "ldmxcsr %[m]\n\t"						\
	    "movdqu %[d], %%xmm0\n\t"					\
	    "movdqu %[s], %%xmm1\n\t"					\
	    insn "\n\t"							\
	    "movdqu %%xmm0, %[d]\n\t"					\
	    "stmxcsr %[m]\n\t"						\
	    "ldmxcsr %[h]"						\
	    : [d] "+m" (a->d), [m] "+m" (a->mxcsr), [h] "=m" (host_)	\
	    : [s] "m" (a->s)						\
	    : "xmm0", "xmm1");						\
} while (0)

#define FPOP(name, insn)						\
static void name(struct sse_args *a) { HOST(insn " %%xmm1, %%xmm0"); }
FPOP(addps, "addps") FPOP(addpd, "addpd") FPOP(addss, "addss") FPOP(addsd, "addsd")
FPOP(subps, "subps") FPOP(subpd, "subpd") FPOP(subss, "subss") FPOP(subsd, "subsd")
FPOP(mulps, "mulps") FPOP(mulpd, "mulpd") FPOP(mulss, "mulss") FPOP(mulsd, "mulsd")
FPOP(divps, "divps") FPOP(divpd, "divpd") FPOP(divss, "divss") FPOP(divsd, "divsd")
FPOP(minps, "minps") FPOP(minpd, "minpd") FPOP(minss, "minss") FPOP(minsd, "minsd")
FPOP(maxps, "maxps") FPOP(maxpd, "maxpd") FPOP(maxss, "maxss") FPOP(maxsd, "maxsd")
FPOP(sqrtps, "sqrtps") FPOP(sqrtpd, "sqrtpd") FPOP(sqrtss, "sqrtss") FPOP(sqrtsd, "sqrtsd")
FPOP(cvtps2pd, "cvtps2pd") FPOP(cvtpd2ps, "cvtpd2ps")
FPOP(cvtss2sd, "cvtss2sd") FPOP(cvtsd2ss, "cvtsd2ss")
FPOP(cvtdq2ps, "cvtdq2ps") FPOP(cvtps2dq, "cvtps2dq") FPOP(cvttps2dq, "cvttps2dq")
FPOP(cvtdq2pd, "cvtdq2pd") FPOP(cvtpd2dq, "cvtpd2dq") FPOP(cvttpd2dq, "cvttpd2dq")
FPOP(addsubps, "addsubps") FPOP(addsubpd, "addsubpd")
FPOP(haddps, "haddps") FPOP(haddpd, "haddpd") FPOP(hsubps, "hsubps") FPOP(hsubpd, "hsubpd")

/* CMPccPS/PD/SS/SD: the predicate is imm8[2:0] (SDM Vol. 2A CMPPS, table 3-1). */
#define CMP8(name, sfx)							\
static void								\
name(struct sse_args *a)						\
{									\
	switch (a->imm & 7) {						\
	case 0: HOST("cmpeq" sfx " %%xmm1, %%xmm0"); break;		\
	case 1: HOST("cmplt" sfx " %%xmm1, %%xmm0"); break;		\
	case 2: HOST("cmple" sfx " %%xmm1, %%xmm0"); break;		\
	case 3: HOST("cmpunord" sfx " %%xmm1, %%xmm0"); break;		\
	case 4: HOST("cmpneq" sfx " %%xmm1, %%xmm0"); break;		\
	case 5: HOST("cmpnlt" sfx " %%xmm1, %%xmm0"); break;		\
	case 6: HOST("cmpnle" sfx " %%xmm1, %%xmm0"); break;		\
	default: HOST("cmpord" sfx " %%xmm1, %%xmm0"); break;		\
	}								\
}
CMP8(cmpps, "ps") CMP8(cmppd, "pd") CMP8(cmpss, "ss") CMP8(cmpsd, "sd")

/* ROUNDxx: imm8[3:0] (rounding control, MXCSR.RC select, precision mask). */
#define R16(insn)							\
	switch (a->imm & 15) {						\
	case 0: HOST(insn " $0, %%xmm1, %%xmm0"); break;		\
	case 1: HOST(insn " $1, %%xmm1, %%xmm0"); break;		\
	case 2: HOST(insn " $2, %%xmm1, %%xmm0"); break;		\
	case 3: HOST(insn " $3, %%xmm1, %%xmm0"); break;		\
	case 4: HOST(insn " $4, %%xmm1, %%xmm0"); break;		\
	case 5: HOST(insn " $5, %%xmm1, %%xmm0"); break;		\
	case 6: HOST(insn " $6, %%xmm1, %%xmm0"); break;		\
	case 7: HOST(insn " $7, %%xmm1, %%xmm0"); break;		\
	case 8: HOST(insn " $8, %%xmm1, %%xmm0"); break;		\
	case 9: HOST(insn " $9, %%xmm1, %%xmm0"); break;		\
	case 10: HOST(insn " $10, %%xmm1, %%xmm0"); break;		\
	case 11: HOST(insn " $11, %%xmm1, %%xmm0"); break;		\
	case 12: HOST(insn " $12, %%xmm1, %%xmm0"); break;		\
	case 13: HOST(insn " $13, %%xmm1, %%xmm0"); break;		\
	case 14: HOST(insn " $14, %%xmm1, %%xmm0"); break;		\
	default: HOST(insn " $15, %%xmm1, %%xmm0"); break;		\
	}
static void roundps(struct sse_args *a) { R16("roundps") }
static void roundpd(struct sse_args *a) { R16("roundpd") }
static void roundss(struct sse_args *a) { R16("roundss") }
static void roundsd(struct sse_args *a) { R16("roundsd") }

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF; OF SF AF cleared (SDM Vol. 2A COMISS). */
#define COMI(name, insn)						\
static void								\
name(struct sse_args *a)						\
{									\
	uint32_t host_;							\
	uint8_t z, p, c;						\
	__asm__ volatile("stmxcsr %[h]\n\t"				\
	    "ldmxcsr %[m]\n\t"						\
	    "movdqu %[d], %%xmm0\n\t"					\
	    "movdqu %[s], %%xmm1\n\t"					\
	    insn " %%xmm1, %%xmm0\n\t"					\
	    "setz %[z]\n\tsetp %[p]\n\tsetc %[c]\n\t"			\
	    "stmxcsr %[m]\n\t"						\
	    "ldmxcsr %[h]"						\
	    : [m] "+m" (a->mxcsr), [h] "=m" (host_),			\
	      [z] "=qm" (z), [p] "=qm" (p), [c] "=qm" (c)		\
	    : [d] "m" (a->d), [s] "m" (a->s)				\
	    : "xmm0", "xmm1", "cc");					\
	a->rflags = (z ? RFL_ZF : 0) | (p ? RFL_PF : 0) | (c ? RFL_CF : 0); \
}
COMI(ucomiss, "ucomiss") COMI(ucomisd, "ucomisd")
COMI(comiss, "comiss") COMI(comisd, "comisd")

/* CVTSI2SS/SD: from a 32- or 64-bit integer (a->gsize). */
#define CVTSI(name, insn)						\
static void								\
name(struct sse_args *a)						\
{									\
	uint32_t host_;							\
	if (a->gsize == 8) {						\
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[m]\n\t"	\
		    "movdqu %[d], %%xmm0\n\t"				\
		    insn "q %[g], %%xmm0\n\t"				\
		    "movdqu %%xmm0, %[d]\n\tstmxcsr %[m]\n\tldmxcsr %[h]" \
		    : [d] "+m" (a->d), [m] "+m" (a->mxcsr), [h] "=m" (host_) \
		    : [g] "r" (a->s.q[0]) : "xmm0");			\
	} else {							\
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[m]\n\t"	\
		    "movdqu %[d], %%xmm0\n\t"				\
		    insn "l %[g], %%xmm0\n\t"				\
		    "movdqu %%xmm0, %[d]\n\tstmxcsr %[m]\n\tldmxcsr %[h]" \
		    : [d] "+m" (a->d), [m] "+m" (a->mxcsr), [h] "=m" (host_) \
		    : [g] "r" (a->s.d[0]) : "xmm0");			\
	}								\
}
CVTSI(cvtsi2ss, "cvtsi2ss") CVTSI(cvtsi2sd, "cvtsi2sd")

/* CVT(T)SS2SI / CVT(T)SD2SI: to a 32- or 64-bit integer. */
#define CVT2SI(name, insn)						\
static void								\
name(struct sse_args *a)						\
{									\
	uint32_t host_;							\
	uint64_t r;							\
	uint32_t r32;							\
	if (a->gsize == 8) {						\
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[m]\n\t"	\
		    "movdqu %[s], %%xmm1\n\t"				\
		    insn " %%xmm1, %q[r]\n\t"				\
		    "stmxcsr %[m]\n\tldmxcsr %[h]"			\
		    : [r] "=r" (r), [m] "+m" (a->mxcsr), [h] "=m" (host_) \
		    : [s] "m" (a->s) : "xmm1");				\
	} else {							\
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[m]\n\t"	\
		    "movdqu %[s], %%xmm1\n\t"				\
		    insn " %%xmm1, %k[r]\n\t"				\
		    "stmxcsr %[m]\n\tldmxcsr %[h]"			\
		    : [r] "=r" (r32), [m] "+m" (a->mxcsr), [h] "=m" (host_) \
		    : [s] "m" (a->s) : "xmm1");				\
		r = r32;						\
	}								\
	a->d.q[0] = r;							\
	a->d.q[1] = 0;							\
}
CVT2SI(cvtss2si, "cvtss2si") CVT2SI(cvttss2si, "cvttss2si")
CVT2SI(cvtsd2si, "cvtsd2si") CVT2SI(cvttsd2si, "cvttsd2si")

/*
 * The MMX conversions run as their XMM counterparts on the low two lanes
 * (the others are zero: exact, no flags), so the host's MMX state is never
 * touched.  CVTPD2PI/CVTTPD2PI are CVTPD2DQ/CVTTPD2DQ's low quadword.
 */
static void
cvtpi2ps(struct sse_args *a)
{
	uint64_t hi = a->d.q[1];

	a->s.q[1] = 0;
	cvtdq2ps(a);
	a->d.q[1] = hi;
}

static void
cvtps2pi(struct sse_args *a)
{
	a->s.q[1] = 0;
	cvtps2dq(a);
}

static void
cvttps2pi(struct sse_args *a)
{
	a->s.q[1] = 0;
	cvttps2dq(a);
}

/*
 * DPPS/DPPD (SDM Vol. 2A): products of the lanes imm8[7:4] selects (others
 * +0.0: zeroed in both operands, which raises no flag), summed, each step
 * rounded under MXCSR, into the lanes imm8[3:0] selects.  Hardware sums as
 * two horizontal steps, pairs then halves, each lane with its own operand
 * order, which shows in which NaN a lane returns (measured on Intel): lane
 * i gets (t[i^1] + t[i]) + (t[i^3] + t[i^2]).
 */
static void
dpps(struct sse_args *a)
{
	uint32_t mx = a->mxcsr, fl;
	uint8_t imm = a->imm;
	union v128 t;

	for (int i = 0; i < 4; i++)
		if (!(imm >> (4 + i) & 1))
			a->d.d[i] = a->s.d[i] = 0;
	mulps(a);
	fl = a->mxcsr;
	for (int step = 1; step <= 2; step++) {
		t = a->d;
		a->s = t;
		for (int i = 0; i < 4; i++)
			(step == 1 ? &a->d : &a->s)->d[i] = t.d[i ^ step];
		a->mxcsr = mx;
		addps(a);
		fl |= a->mxcsr;
	}
	for (int i = 0; i < 4; i++)
		if (!(imm >> i & 1))
			a->d.d[i] = 0;
	a->mxcsr = fl;
}

static void
dppd(struct sse_args *a)
{
	uint32_t mx = a->mxcsr, fl;
	uint8_t imm = a->imm;

	for (int i = 0; i < 2; i++)
		if (!(imm >> (4 + i) & 1))
			a->d.q[i] = a->s.q[i] = 0;
	mulpd(a);
	fl = a->mxcsr;
	a->s.q[0] = a->d.q[1];
	a->s.q[1] = a->d.q[0];
	a->mxcsr = mx;
	addpd(a);
	fl |= a->mxcsr;
	for (int i = 0; i < 2; i++)
		if (!(imm >> i & 1))
			a->d.q[i] = 0;
	a->mxcsr = fl;
}

/*
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS: approximations the SDM bounds by a relative
 * error of 1.5 * 2^-12 and leaves to the implementation, so Intel and AMD
 * (and Intel generations) differ in the low bits.  We return the correctly
 * rounded single-precision value (error at most 2^-24, the same on every
 * host: a VM migrates without seeing them change), with the SDM's special
 * cases: denormal inputs count as zeros of their sign, tiny results are
 * flushed to zero, no MXCSR flags, MXCSR.RC ignored.
 */
static uint32_t
approx(uint32_t x, bool rsqrt)
{
	uint32_t sign = x & 0x80000000u, e = (x >> 23) & 0xff;
	float f, r;
	double d;

	if (e == 0xff && (x & 0x7fffff))
		return x | 0x400000u;				/* QNaN of the source */
	if (e == 0)
		return sign | 0x7f800000u;			/* +-0, denormals: +-inf */
	if (e == 0xff)
		return rsqrt ? (sign ? 0xffc00000u : 0) : sign;	/* 1/inf, 1/sqrt(+-inf) */
	if (rsqrt && sign)
		return 0xffc00000u;				/* QNaN indefinite */
	memcpy(&f, &x, 4);
	/* the host's default MXCSR: round to nearest, no DAZ/FTZ */
	d = f;
	if (rsqrt)
		__asm__("sqrtsd %1, %0" : "=x" (d) : "x" (d));
	r = (float)(1.0 / d);
	memcpy(&x, &r, 4);
	if (((x >> 23) & 0xff) == 0)
		x &= 0x80000000u;				/* tiny: flushed */
	return x;
}

static void
rcpps(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		a->d.d[i] = approx(a->s.d[i], false);
}

static void
rcpss(struct sse_args *a)
{
	a->d.d[0] = approx(a->s.d[0], false);
}

static void
rsqrtps(struct sse_args *a)
{
	for (int i = 0; i < 4; i++)
		a->d.d[i] = approx(a->s.d[i], true);
}

static void
rsqrtss(struct sse_args *a)
{
	a->d.d[0] = approx(a->s.d[0], true);
}

/*
 * ---- AES-NI and PCLMULQDQ (SDM Vol. 2A AESENC...AESKEYGENASSIST, Vol. 2B
 * PCLMULQDQ; FIPS-197) ----
 *
 * Integer work in C, the same on every host (CPUID reports them whatever
 * the host has).  The state is the 16 bytes of the XMM register, column
 * by column: byte 4c + r is row r of column c (FIPS-197 3.4).
 */
static const uint8_t aes_sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5,
	0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0,
	0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc,
	0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a,
	0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0,
	0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b,
	0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85,
	0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5,
	0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17,
	0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88,
	0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c,
	0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9,
	0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6,
	0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e,
	0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94,
	0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68,
	0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

static const uint8_t aes_isbox[256] = {
	0x52, 0x09, 0x6a, 0xd5, 0x30, 0x36, 0xa5, 0x38,
	0xbf, 0x40, 0xa3, 0x9e, 0x81, 0xf3, 0xd7, 0xfb,
	0x7c, 0xe3, 0x39, 0x82, 0x9b, 0x2f, 0xff, 0x87,
	0x34, 0x8e, 0x43, 0x44, 0xc4, 0xde, 0xe9, 0xcb,
	0x54, 0x7b, 0x94, 0x32, 0xa6, 0xc2, 0x23, 0x3d,
	0xee, 0x4c, 0x95, 0x0b, 0x42, 0xfa, 0xc3, 0x4e,
	0x08, 0x2e, 0xa1, 0x66, 0x28, 0xd9, 0x24, 0xb2,
	0x76, 0x5b, 0xa2, 0x49, 0x6d, 0x8b, 0xd1, 0x25,
	0x72, 0xf8, 0xf6, 0x64, 0x86, 0x68, 0x98, 0x16,
	0xd4, 0xa4, 0x5c, 0xcc, 0x5d, 0x65, 0xb6, 0x92,
	0x6c, 0x70, 0x48, 0x50, 0xfd, 0xed, 0xb9, 0xda,
	0x5e, 0x15, 0x46, 0x57, 0xa7, 0x8d, 0x9d, 0x84,
	0x90, 0xd8, 0xab, 0x00, 0x8c, 0xbc, 0xd3, 0x0a,
	0xf7, 0xe4, 0x58, 0x05, 0xb8, 0xb3, 0x45, 0x06,
	0xd0, 0x2c, 0x1e, 0x8f, 0xca, 0x3f, 0x0f, 0x02,
	0xc1, 0xaf, 0xbd, 0x03, 0x01, 0x13, 0x8a, 0x6b,
	0x3a, 0x91, 0x11, 0x41, 0x4f, 0x67, 0xdc, 0xea,
	0x97, 0xf2, 0xcf, 0xce, 0xf0, 0xb4, 0xe6, 0x73,
	0x96, 0xac, 0x74, 0x22, 0xe7, 0xad, 0x35, 0x85,
	0xe2, 0xf9, 0x37, 0xe8, 0x1c, 0x75, 0xdf, 0x6e,
	0x47, 0xf1, 0x1a, 0x71, 0x1d, 0x29, 0xc5, 0x89,
	0x6f, 0xb7, 0x62, 0x0e, 0xaa, 0x18, 0xbe, 0x1b,
	0xfc, 0x56, 0x3e, 0x4b, 0xc6, 0xd2, 0x79, 0x20,
	0x9a, 0xdb, 0xc0, 0xfe, 0x78, 0xcd, 0x5a, 0xf4,
	0x1f, 0xdd, 0xa8, 0x33, 0x88, 0x07, 0xc7, 0x31,
	0xb1, 0x12, 0x10, 0x59, 0x27, 0x80, 0xec, 0x5f,
	0x60, 0x51, 0x7f, 0xa9, 0x19, 0xb5, 0x4a, 0x0d,
	0x2d, 0xe5, 0x7a, 0x9f, 0x93, 0xc9, 0x9c, 0xef,
	0xa0, 0xe0, 0x3b, 0x4d, 0xae, 0x2a, 0xf5, 0xb0,
	0xc8, 0xeb, 0xbb, 0x3c, 0x83, 0x53, 0x99, 0x61,
	0x17, 0x2b, 0x04, 0x7e, 0xba, 0x77, 0xd6, 0x26,
	0xe1, 0x69, 0x14, 0x63, 0x55, 0x21, 0x0c, 0x7d,
};

/* Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 4.2). */
static uint8_t
gf_mul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;

	while (b) {
		if (b & 1)
			p ^= a;
		a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
		b >>= 1;
	}
	return p;
}

/* ShiftRows (or InvShiftRows) then SubBytes (or InvSubBytes): FIPS-197 5.1.1-2, 5.3.1-2. */
static void
aes_shift_sub(union v128 *s, bool inv)
{
	union v128 t;

	for (int c = 0; c < 4; c++)
		for (int r = 0; r < 4; r++) {
			int from = r + 4 * ((inv ? c - r + 4 : c + r) & 3);

			t.b[r + 4 * c] = inv ? aes_isbox[s->b[from]] : aes_sbox[s->b[from]];
		}
	*s = t;
}

/* MixColumns (coefficients 2 3 1 1) or InvMixColumns (14 11 13 9): 5.1.3, 5.3.3. */
static void
aes_mix(union v128 *s, bool inv)
{
	static const uint8_t m[2][4] = { { 2, 3, 1, 1 }, { 14, 11, 13, 9 } };
	const uint8_t *k = m[inv];
	union v128 t;

	for (int c = 0; c < 4; c++)
		for (int r = 0; r < 4; r++) {
			uint8_t v = 0;

			for (int j = 0; j < 4; j++)
				v ^= gf_mul(s->b[4 * c + j], k[(j - r + 4) & 3]);
			t.b[4 * c + r] = v;
		}
	*s = t;
}

/* AESENC: ShiftRows, SubBytes, MixColumns, then the round key (the source). */
static void
aesenc(struct sse_args *a)
{
	aes_shift_sub(&a->d, false);
	aes_mix(&a->d, false);
	a->d.q[0] ^= a->s.q[0];
	a->d.q[1] ^= a->s.q[1];
}

static void
aesenclast(struct sse_args *a)
{
	aes_shift_sub(&a->d, false);
	a->d.q[0] ^= a->s.q[0];
	a->d.q[1] ^= a->s.q[1];
}

/* AESDEC: InvShiftRows, InvSubBytes, InvMixColumns, then the round key. */
static void
aesdec(struct sse_args *a)
{
	aes_shift_sub(&a->d, true);
	aes_mix(&a->d, true);
	a->d.q[0] ^= a->s.q[0];
	a->d.q[1] ^= a->s.q[1];
}

static void
aesdeclast(struct sse_args *a)
{
	aes_shift_sub(&a->d, true);
	a->d.q[0] ^= a->s.q[0];
	a->d.q[1] ^= a->s.q[1];
}

/* AESIMC: InvMixColumns of the source (a round key for the inverse cipher). */
static void
aesimc(struct sse_args *a)
{
	a->d = a->s;
	aes_mix(&a->d, true);
}

static uint32_t
aes_subword(uint32_t w)
{
	return (uint32_t)aes_sbox[w & 0xff] | (uint32_t)aes_sbox[(w >> 8) & 0xff] << 8 |
	    (uint32_t)aes_sbox[(w >> 16) & 0xff] << 16 | (uint32_t)aes_sbox[w >> 24] << 24;
}

/*
 * AESKEYGENASSIST: SubWord of source dwords 1 and 3, and each rotated
 * right by 8 then XORed with the imm8 (RCON).
 */
static void
aeskeygenassist(struct sse_args *a)
{
	uint32_t x1 = aes_subword(a->s.d[1]), x3 = aes_subword(a->s.d[3]);

	a->d.d[0] = x1;
	a->d.d[1] = ((x1 >> 8) | (x1 << 24)) ^ a->imm;
	a->d.d[2] = x3;
	a->d.d[3] = ((x3 >> 8) | (x3 << 24)) ^ a->imm;
}

/*
 * PCLMULQDQ: the carry-less product of a destination quadword (imm8 bit 0)
 * and a source quadword (imm8 bit 4), 128 bits.
 */
static void
pclmulqdq(struct sse_args *a)
{
	uint64_t x = a->d.q[a->imm & 1], y = a->s.q[(a->imm >> 4) & 1], lo = 0, hi = 0;

	for (int i = 0; i < 64; i++)
		if ((y >> i) & 1) {
			lo ^= x << i;
			hi ^= i ? x >> (64 - i) : 0;
		}
	a->d.q[0] = lo;
	a->d.q[1] = hi;
}

/* ---- the table ---- */

#define SSE_DESC_(name, f, r, m, sz, flg) [S_##name] = { f, r, m, sz, flg },
static const struct sse_desc sse_desc[S_COUNT] = { SSE_OPS(SSE_DESC_) };
#undef SSE_DESC_

_Static_assert(S_COUNT <= 256, "in->sub holds the operation");

/* ---- state ---- */

static inline uint32_t
mxcsr_get(const struct emu_cpu *cpu)
{
	uint32_t v;

	memcpy(&v, &cpu->st.fxsave[FX_MXCSR], 4);
	return v;
}

static inline void
mxcsr_set(struct emu_cpu *cpu, uint32_t v)
{
	memcpy(&cpu->st.fxsave[FX_MXCSR], &v, 4);
}

static inline uint8_t *
xmm_ptr(struct emu_cpu *cpu, int i)
{
	return &cpu->st.fxsave[FX_XMM + 16 * (i & 15)];
}

static inline unsigned
x87_top(const struct emu_cpu *cpu)
{
	return (cpu->st.fxsave[FX_FSW + 1] >> 3) & 7;
}

/* MMi = physical register Ri = ST((i - TOP) mod 8) in the image. */
static inline uint8_t *
mm_ptr(struct emu_cpu *cpu, int i)
{
	return &cpu->st.fxsave[FX_ST + 16 * ((unsigned)(i - (int)x87_top(cpu)) & 7)];
}

/*
 * The x87-to-MMX transition of an MMX instruction (SDM Vol. 1 9.5.1, table
 * 9-3): TOP = 0 (the image rotates so that slot i holds Ri) and every tag
 * valid.
 */
static void
mmx_enter(struct emu_cpu *cpu)
{
	uint8_t *fx = cpu->st.fxsave, tmp[128];
	unsigned top = x87_top(cpu);

	if (top != 0) {
		for (unsigned i = 0; i < 8; i++)
			memcpy(&tmp[16 * i], &fx[FX_ST + 16 * ((i - top) & 7)], 16);
		memcpy(&fx[FX_ST], tmp, 128);
		fx[FX_FSW + 1] &= (uint8_t)~0x38;
	}
	fx[FX_FTW] = 0xff;
}

/* Write MMi: the low 64 bits, and 1s in bits 79:64 (SDM Vol. 1 9.5.1). */
static void
mm_write(struct emu_cpu *cpu, int i, uint64_t v)
{
	uint8_t *p = mm_ptr(cpu, i & 7);

	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/*
 * Exception conditions common to MMX and SSE (SDM Vol. 2A 2.5 table 2-21,
 * Vol. 3A table 22-7 for MMX): CR0.EM #UD, CR4.OSFXSR clear #UD (SSE),
 * CR0.TS #NM, a pending x87 exception #MF (instructions touching MMX
 * registers; with CR0.NE clear, FERR# as x87.c's waiting instructions).
 */
static int
sse_check(struct emu_cpu *cpu, bool sse, bool mmx)
{
	/* MMX state is x87 state: out of x87.c's session first (cpu.h) */
	if (mmx)
		emu_x87_flush(cpu);
	if (cpu->st.cr0 & CR0_EM)
		return emu_raise(cpu, IDT_UD);
	if (sse && !(cpu->st.cr4 & CR4_OSFXSR))
		return emu_raise(cpu, IDT_UD);
	if (cpu->st.cr0 & CR0_TS)
		return emu_raise(cpu, IDT_NM);
	if (mmx && (cpu->st.fxsave[FX_FSW] & 0x80)) {
		if (cpu->st.cr0 & CR0_NE)
			return emu_raise(cpu, IDT_MF);
		if (cpu->intr_src.ferr != NULL)
			cpu->intr_src.ferr(cpu->intr_src.arg);
	}
	return EMU_OK;
}

static bool
host_has(int fl)
{
	static int h3 = -1, h41 = -1;

	if (h3 < 0) {
		__builtin_cpu_init();
		h3 = __builtin_cpu_supports("sse3") != 0;
		h41 = __builtin_cpu_supports("sse4.1") != 0;
	}
	return (!(fl & D_H3) || h3) && (!(fl & D_H41) || h41);
}

static inline int
gsize_of(const struct emu_insn *in)
{
	return (in->rex & 0x8) ? 8 : 4;
}

static inline __attribute__((always_inline)) void
reg_read(struct emu_cpu *cpu, const struct emu_insn *in, int kind, int r, union v128 *v)
{
	v->q[0] = v->q[1] = 0;
	switch (kind) {
	case KX:
		memcpy(v, xmm_ptr(cpu, r), 16);
		break;
	case KM:
		memcpy(v, mm_ptr(cpu, r & 7), 8);
		break;
	case KG:
		v->q[0] = emu_reg_read(cpu, r, gsize_of(in), 0);
		break;
	case KG32:
		v->q[0] = emu_reg_read(cpu, r, 4, 0);
		break;
	default:
		break;
	}
}

static inline __attribute__((always_inline)) void
reg_write(struct emu_cpu *cpu, const struct emu_insn *in, int kind, int r, const union v128 *v)
{
	switch (kind) {
	case KX:
		memcpy(xmm_ptr(cpu, r), v, 16);
		break;
	case KM:
		mm_write(cpu, r, v->q[0]);
		break;
	case KG:
		emu_reg_write(cpu, r, gsize_of(in), 0, v->q[0]);
		break;
	case KG32:
		emu_reg_write(cpu, r, 4, 0, v->q[0]);
		break;
	default:
		break;
	}
}

/* Linear address of a memory operand, for the alignment check. */
static uint64_t
mem_linear(const struct emu_cpu *cpu, const struct emu_insn *in, uint64_t ea)
{
	if (cpu->mode == EMU_MODE_LONG64 && in->seg < SEG_FS)
		return ea;
	return ea + cpu->st.seg[in->seg].base;
}

/*
 * PE of an unmasked overflow or underflow (SDM Vol. 1 4.9.1.4, 4.9.1.5,
 * 11.5.2.4, 11.5.2.5; measured on Intel): set when a lane's result,
 * rounded to the destination's precision with an unbounded exponent, is
 * inexact, whatever MXCSR.PM says.  The masked run cannot tell (it rounds
 * to infinity, the largest finite value or a denormal), so each lane's
 * operation runs again on the host's x87 unit: its 15-bit exponent holds
 * every single or double sum, difference, product and quotient, and
 * precision control rounds the significand to 24 or 53 bits under the
 * guest's rounding control (8.1.5.2), so its PE is the answer.  The
 * caller has closed x87.c's session; the host's FCW comes back, its
 * flags are cleared, its stack left empty.
 */
enum { PE_ADD, PE_SUB, PE_MUL, PE_DIV, PE_CVT };

static bool
x87_round_inexact(double a, double b, int op, bool dbl, unsigned rc)
{
	static const double one = 1.0;
	uint16_t cw = (uint16_t)(0x007f | (dbl ? 0x0200 : 0) | (rc & 3) << 10), old, sw;

	if (op == PE_CVT)
		b = one;
	__asm__ volatile("fnstcw %[old]\n\t"
	    "fldcw %[cw]\n\t"
	    "fnclex\n\t"
	    "fldl %[a]\n\t"
	    "cmpl $0, %[op]\n\t"
	    "jne 1f\n\t"
	    "faddl %[b]\n\t"
	    "jmp 5f\n"
	    "1:\tcmpl $1, %[op]\n\t"
	    "jne 2f\n\t"
	    "fsubl %[b]\n\t"
	    "jmp 5f\n"
	    "2:\tcmpl $3, %[op]\n\t"
	    "je 3f\n\t"
	    "fmull %[b]\n\t"		/* PE_MUL, and PE_CVT as x * 1.0 */
	    "jmp 5f\n"
	    "3:\tfdivl %[b]\n"
	    "5:\tfnstsw %[sw]\n\t"
	    "fstp %%st(0)\n\t"
	    "fnclex\n\t"
	    "fldcw %[old]"
	    : [old] "=&m" (old), [sw] "=m" (sw)
	    : [cw] "m" (cw), [a] "m" (a), [b] "m" (b), [op] "r" (op)
	    : "cc");
	return (sw & 0x20) != 0;
}

/* A lane as double (exact), with DAZ applied: denormals read as zeros. */
static double
lane_val(uint64_t bits, bool dbl, bool daz)
{
	double d;
	float f;
	uint32_t b32 = (uint32_t)bits;

	if (dbl) {
		if (daz && ((bits >> 52) & 0x7ff) == 0)
			bits &= 1ULL << 63;
		memcpy(&d, &bits, 8);
		return d;
	}
	if (daz && ((b32 >> 23) & 0xff) == 0)
		b32 &= 0x80000000u;
	memcpy(&f, &b32, 4);
	return f;
}

/*
 * PE for @fn's unmasked OE/UE on the original operands @a under the
 * guest's @mxcsr: 1 or 0, or -1 for an operation not listed (DPPS, DPPD:
 * docs/cpu.md).  Lane by lane: the lane's own masked run (its scalar
 * form) says whether it overflowed, is tiny (with FTZ, as sse_fp) or is
 * inexact; a lane whose overflow or underflow is unmasked counts the
 * inexactness with an unbounded exponent, the others their own PE.
 */
static int
unbounded_pe(sse_fn *fn, const struct sse_args *a, uint32_t mxcsr)
{
	static const struct {
		sse_fn	*fn, *scalar;
		uint8_t	op, lanes, dbl, kind;	/* kind 0 lanewise, 1 ADDSUB, 2 HADD/HSUB */
	} tab[] = {
		{ addps, addss, PE_ADD, 4, 0, 0 }, { addpd, addsd, PE_ADD, 2, 1, 0 },
		{ addss, addss, PE_ADD, 1, 0, 0 }, { addsd, addsd, PE_ADD, 1, 1, 0 },
		{ subps, subss, PE_SUB, 4, 0, 0 }, { subpd, subsd, PE_SUB, 2, 1, 0 },
		{ subss, subss, PE_SUB, 1, 0, 0 }, { subsd, subsd, PE_SUB, 1, 1, 0 },
		{ mulps, mulss, PE_MUL, 4, 0, 0 }, { mulpd, mulsd, PE_MUL, 2, 1, 0 },
		{ mulss, mulss, PE_MUL, 1, 0, 0 }, { mulsd, mulsd, PE_MUL, 1, 1, 0 },
		{ divps, divss, PE_DIV, 4, 0, 0 }, { divpd, divsd, PE_DIV, 2, 1, 0 },
		{ divss, divss, PE_DIV, 1, 0, 0 }, { divsd, divsd, PE_DIV, 1, 1, 0 },
		{ cvtpd2ps, cvtsd2ss, PE_CVT, 2, 0, 0 }, { cvtsd2ss, cvtsd2ss, PE_CVT, 1, 0, 0 },
		{ addsubps, addss, PE_ADD, 4, 0, 1 }, { addsubpd, addsd, PE_ADD, 2, 1, 1 },
		{ haddps, addss, PE_ADD, 4, 0, 2 }, { haddpd, addsd, PE_ADD, 2, 1, 2 },
		{ hsubps, subss, PE_SUB, 4, 0, 2 }, { hsubpd, subsd, PE_SUB, 2, 1, 2 },
	};
	const uint32_t run = (mxcsr & ~MX_FLAGS) | MX_MASKS;
	const uint32_t unm = ~(mxcsr >> 7) & (MX_OE | MX_UE);
	bool daz = (mxcsr & MX_DAZ) != 0;
	size_t t, n = sizeof(tab) / sizeof(tab[0]);
	int i;

	for (t = 0; t < n && tab[t].fn != fn; t++)
		;
	if (t == n)
		return -1;
	for (i = 0; i < tab[t].lanes; i++) {
		bool dbl = tab[t].dbl;
		int op = tab[t].op, half = tab[t].lanes / 2;
		sse_fn *sfn = tab[t].scalar;
		struct sse_args sc, tiny;
		uint64_t x, y;
		uint32_t fl;

		if (op == PE_CVT) {
			x = a->s.q[i];		/* the source's doubles into singles */
			y = 0;
		} else if (tab[t].kind == 2) {
			/* HADD/HSUB: the destination's pairs, then the source's */
			const union v128 *v = i < half ? &a->d : &a->s;
			int j = 2 * (i % half);

			x = dbl ? v->q[j] : v->d[j];
			y = dbl ? v->q[j + 1] : v->d[j + 1];
		} else {
			x = dbl ? a->d.q[i] : a->d.d[i];
			y = dbl ? a->s.q[i] : a->s.d[i];
			if (tab[t].kind == 1 && !(i & 1)) {
				op = PE_SUB;		/* ADDSUB: even lanes subtract */
				sfn = dbl ? subsd : subss;
			}
		}
		memset(&sc, 0, sizeof(sc));
		sc.width = 16;
		if (op == PE_CVT) {
			sc.s.q[0] = x;
		} else if (dbl) {
			sc.d.q[0] = x;
			sc.s.q[0] = y;
		} else {
			sc.d.d[0] = (uint32_t)x;
			sc.s.d[0] = (uint32_t)y;
		}
		tiny = sc;
		sc.mxcsr = run;
		sfn(&sc);
		fl = sc.mxcsr & MX_FLAGS;
		tiny.mxcsr = run | MX_FTZ;
		sfn(&tiny);
		if (((fl & MX_OE) && (unm & MX_OE)) || ((tiny.mxcsr & MX_UE) && (unm & MX_UE))) {
			if (op == PE_CVT ? x87_round_inexact(lane_val(x, true, daz), 1.0, op, false,
			    (mxcsr >> 13) & 3) : x87_round_inexact(lane_val(x, dbl, daz),
			    lane_val(y, dbl, daz), op, dbl, (mxcsr >> 13) & 3))
				return 1;
		} else if (fl & MX_PE) {
			return 1;
		}
	}
	return 0;
}

/*
 * Run a D_FP operation: on the host with the guest's RC/DAZ/FTZ and every
 * exception masked; the flags it raised are the guest's.  An unmasked one
 * (SDM Vol. 1 11.5.1-11.5.2): the flags are set (only the pre-computation
 * ones, IE DE ZE, when one of those is unmasked: no result was computed),
 * nothing else changes, and #XM is raised, or #UD when CR4.OSXMMEXCPT is
 * clear (Vol. 3A 6.15, interrupt 19).  An unmasked underflow is raised for
 * a tiny result even when exact (11.5.2.5): a second run with FTZ set
 * finds it.  PE with an unmasked OE or UE: unbounded_pe().  Returns EMU_OK
 * with the result in a->d.
 */
static int
sse_fp(struct emu_cpu *cpu, const struct sse_desc *dsc, struct sse_args *a)
{
	uint32_t guest = mxcsr_get(cpu) & MX_VALID, run, flags, unm;
	struct sse_args b, orig = *a;
	int pe;

	run = (guest & ~MX_FLAGS) | MX_MASKS;
	b = *a;
	a->mxcsr = run;
	dsc->fn(a);
	flags = a->mxcsr & MX_FLAGS;
	unm = flags & ~(guest >> 7) & MX_FLAGS;
	if (!(guest & MX_UM) && !(unm & (MX_IE | MX_DE | MX_ZE)) && !(flags & MX_UE)) {
		b.mxcsr = run | MX_FTZ;
		dsc->fn(&b);
		if (b.mxcsr & MX_UE) {
			flags |= MX_UE;
			unm |= MX_UE;
		}
	}
	if (unm == 0) {
		mxcsr_set(cpu, guest | flags);
		return EMU_OK;
	}
	if (unm & (MX_IE | MX_DE | MX_ZE)) {
		flags &= MX_IE | MX_DE | MX_ZE;
	} else if (unm & (MX_OE | MX_UE)) {
		emu_x87_flush(cpu);		/* the x87 unit is needed: x87.c's session ends */
		pe = unbounded_pe(dsc->fn, &orig, guest);
		if (pe >= 0)
			flags = (flags & ~MX_PE) | (pe ? MX_PE : 0);
		else if ((unm & MX_OE) || (guest & (MX_PE << 7)))
			flags &= ~MX_PE;	/* DPPS, DPPD: the approximation */
	}
	mxcsr_set(cpu, guest | flags);
	return emu_raise(cpu, (cpu->st.cr4 & CR4_OSXMMEXCPT) ? IDT_XF : IDT_UD);
}

/* MASKMOVQ / MASKMOVDQU: the bytes of reg whose mask byte (rm) has bit 7, to DS:rDI. */
static int
maskmov_store(struct emu_cpu *cpu, const struct emu_insn *in, const struct sse_args *a)
{
	uint64_t di = cpu->st.gpr[GPR_RDI] & emu_size_mask(in->addrsize);
	int seg = in->seg, i = 0, j, rc;

	while (i < a->width) {
		if (!(a->s.b[i] & 0x80)) {
			i++;
			continue;
		}
		for (j = i; j < a->width && (a->s.b[j] & 0x80); j++)
			;
		rc = emu_write(cpu, seg, (di + (uint64_t)i) & emu_size_mask(in->addrsize),
		    &a->d.b[i], j - i);
		if (rc != EMU_OK)
			return rc;
		i = j;
	}
	return EMU_OK;
}

static int
sse_exec(struct emu_cpu *cpu, const struct emu_insn *in, const struct sse_desc *dsc, bool mmx)
{
	int rk = dsc->reg == KV ? (mmx ? KM : KX) : dsc->reg;
	int mk = dsc->rm == KV ? (mmx ? KM : KX) : dsc->rm;
	int msize = dsc->msize, rc;
	bool store = dsc->fl & D_ST, touches_mm;
	struct sse_args a;
	uint64_t ea = 0, gpa;
	uint8_t *hp;

	touches_mm = mmx || rk == KM || (mk == KM && !in->has_mem);
	rc = sse_check(cpu, !mmx, touches_mm);
	if (rc != EMU_OK)
		return rc;
	if (!host_has(dsc->fl))
		return emu_raise(cpu, IDT_UD);
	if (msize == 0)
		msize = gsize_of(in);
	else if (mmx && msize == 16)
		msize = 8;
	a.width = mmx ? 8 : 16;
	a.imm = (uint8_t)in->imm;
	a.gsize = (uint8_t)gsize_of(in);
	a.mem = in->has_mem;
	a.rflags = 0;
	a.mxcsr = 0;
	a.xmm0 = (const union v128 *)xmm_ptr(cpu, 0);
	if (dsc->fl & (D_ECX | D_XMM0)) {
		a.len_d = a.gsize == 8 ? (int64_t)cpu->st.gpr[GPR_RAX] : (int32_t)cpu->st.gpr[GPR_RAX];
		a.len_s = a.gsize == 8 ? (int64_t)cpu->st.gpr[GPR_RDX] : (int32_t)cpu->st.gpr[GPR_RDX];
	}
	reg_read(cpu, in, rk, in->reg, store ? &a.s : &a.d);
	if (in->has_mem) {
		ea = emu_ea(cpu, in);
		/* 16-byte operands of the legacy SSE forms: #GP(0) unless aligned (Vol. 1 11.6.7) */
		if (msize == 16 && !(dsc->fl & D_UNAL) && (mem_linear(cpu, in, ea) & 15))
			return emu_raise_err(cpu, IDT_GP, 0);
		if (store) {
			a.d.q[0] = a.d.q[1] = 0;
		} else {
			a.s.q[0] = a.s.q[1] = 0;
			/* RAM in the DTLB (cpu.h emu_mem_fast), else the general path */
			hp = emu_mem_fast(cpu, in->seg, ea, msize, 0, &gpa);
			if (hp != NULL) {
				memcpy(&a.s, hp, (size_t)msize);
			} else {
				rc = emu_read(cpu, in->seg, ea, &a.s, msize);
				if (rc != EMU_OK)
					return rc;
			}
		}
	} else {
		reg_read(cpu, in, mk, in->rm, store ? &a.d : &a.s);
	}
	if (store && rk == KN)
		a.s.q[0] = a.imm;	/* the shift-by-imm8 groups: the count */
	if (dsc->fl & D_FP) {
		rc = sse_fp(cpu, dsc, &a);
		if (rc != EMU_OK)
			return rc;
	} else {
		dsc->fn(&a);
	}
	if (dsc->fn == maskmov) {
		rc = maskmov_store(cpu, in, &a);
		if (rc != EMU_OK)
			return rc;
	} else if (store && in->has_mem) {
		hp = emu_mem_fast(cpu, in->seg, ea, msize, 1, &gpa);
		if (hp != NULL) {
			memcpy(hp, &a.d, (size_t)msize);
			emu_code_written(cpu, gpa, (uint64_t)msize);
		} else {
			rc = emu_write(cpu, in->seg, ea, &a.d, msize);
			if (rc != EMU_OK)
				return rc;
		}
	}
	if (touches_mm)
		mmx_enter(cpu);
	if (dsc->fl & D_FL)
		emu_set_arith_flags(cpu, RFL_ARITH, a.rflags);
	/* PCMPxSTRI: ECX (zero-extended into RCX); PCMPxSTRM: XMM0 */
	if (dsc->fl & D_ECX)
		emu_reg_write(cpu, GPR_RCX, 4, 0, a.d.q[0]);
	else if (dsc->fl & D_XMM0)
		memcpy(xmm_ptr(cpu, 0), &a.d, 16);
	if (dsc->fl & D_NOWB)
		return EMU_OK;
	if (!store)
		reg_write(cpu, in, rk, in->reg, &a.d);
	else if (!in->has_mem)
		reg_write(cpu, in, mk, in->rm, &a.d);
	return EMU_OK;
}

/* XMM forms (and the SSE instructions that mix XMM and MMX registers). */
int
op_sse(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return sse_exec(cpu, in, &sse_desc[in->sub], false);
}

/* MMX forms of the integer instructions (no 66 prefix). */
int
op_mmx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return sse_exec(cpu, in, &sse_desc[in->sub], true);
}

/*
 * EMMS: every x87 tag empty (SDM Vol. 2A EMMS) and, as for every MMX
 * instruction, TOP = 0 (Vol. 1 9.5.1, table 9-3; measured: the registers
 * keep their physical places).
 */
int
op_emms(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int rc = sse_check(cpu, false, true);

	(void)in;
	if (rc != EMU_OK)
		return rc;
	mmx_enter(cpu);
	cpu->st.fxsave[FX_FTW] = 0;
	return EMU_OK;
}

/* LDMXCSR m32 (0F AE /2): reserved bits set is #GP(0) (SDM Vol. 2A LDMXCSR). */
int
op_ldmxcsr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint32_t v;
	int rc = sse_check(cpu, true, false);

	if (rc != EMU_OK)
		return rc;
	rc = emu_read(cpu, in->seg, emu_ea(cpu, in), &v, 4);
	if (rc != EMU_OK)
		return rc;
	if (v & ~MX_VALID)
		return emu_raise_err(cpu, IDT_GP, 0);
	mxcsr_set(cpu, v);
	return EMU_OK;
}

/* STMXCSR m32 (0F AE /3). */
int
op_stmxcsr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint32_t v = mxcsr_get(cpu);
	int rc = sse_check(cpu, true, false);

	if (rc != EMU_OK)
		return rc;
	return emu_write(cpu, in->seg, emu_ea(cpu, in), &v, 4);
}

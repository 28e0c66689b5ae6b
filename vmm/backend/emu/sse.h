/*
 * sse.h - the MMX/SSE operations of the software CPU, one line each, shared
 * by the decoder (sse_decode.h: which opcode and mandatory prefix name
 * which operation) and sse.c (how it executes).  See docs/cpu.md, "SSE".
 *
 * X(NAME, function, ModRM.reg operand, ModRM.rm operand, memory bytes, flags)
 *
 * Operand kinds: KV a vector register, XMM for op_sse and MMX for op_mmx
 * (one line serves both forms of an integer instruction); KX an XMM
 * register; KM an MMX register; KG a general register of 32 bits, 64 with
 * REX.W; KG32 a general register of 32 bits; KN none.  Memory bytes: the
 * size of the m operand (a KV m128 is m64 for MMX), 0 = the KG size.
 * Flags (sse.c): D_ST the r/m operand is the destination (stores), D_UNAL
 * no 16-byte alignment check, D_FP runs on the host's SSE unit under the
 * guest's MXCSR (exceptions), D_NOWB no register result, D_FL sets
 * RFLAGS, D_H3/D_H41 needs SSE3/SSE4.1 on the host, D_ECX/D_XMM0 the
 * result goes to ECX or XMM0 (PCMPxSTRx, lengths in EAX/EDX or RAX/RDX).
 */
#ifndef LHYVE_EMU_SSE_H
#define LHYVE_EMU_SSE_H

#define SSE_OPS(X)							\
	/* moves (SDM Vol. 2B MOVAPS ... MOVQ) */				\
	X(MOVU, mov_all, KX, KX, 16, D_UNAL)				\
	X(MOVU_ST, mov_all, KX, KX, 16, D_UNAL | D_ST)			\
	X(MOVA, mov_all, KX, KX, 16, 0)					\
	X(MOVA_ST, mov_all, KX, KX, 16, D_ST)				\
	X(MOVQ_MM, mov_all, KV, KV, 16, 0)				\
	X(MOVQ_MM_ST, mov_all, KV, KV, 16, D_ST)			\
	X(MOVSS, movss, KX, KX, 4, 0)					\
	X(MOVSS_ST, movss, KX, KX, 4, D_ST)				\
	X(MOVSD, movsd, KX, KX, 8, 0)					\
	X(MOVSD_ST, movsd, KX, KX, 8, D_ST)				\
	X(MOVLPS, movlps, KX, KX, 8, 0)					\
	X(MOVLPS_ST, movzq, KX, KX, 8, D_ST)				\
	X(MOVHPS, movhps, KX, KX, 8, 0)					\
	X(MOVHPS_ST, movhps_st, KX, KX, 8, D_ST)			\
	X(MOVD_LD, movzq, KV, KG, 0, 0)					\
	X(MOVD_ST, movzq, KV, KG, 0, D_ST)				\
	X(MOVQ_X, movzq, KX, KX, 8, 0)					\
	X(MOVQ_X_ST, movzq, KX, KX, 8, D_ST)				\
	X(MOVQ2DQ, movzq, KX, KM, 8, 0)					\
	X(MOVDQ2Q, movzq, KM, KX, 8, 0)					\
	X(MOVMSKPS, movmskps, KG32, KX, 16, 0)				\
	X(MOVMSKPD, movmskpd, KG32, KX, 16, 0)				\
	X(PMOVMSKB, pmovmskb, KG32, KV, 16, 0)				\
	X(MOVNTI, mov_all, KG, KG, 0, D_ST)				\
	X(MASKMOV, maskmov, KV, KV, 16, D_NOWB)				\
	X(PINSRW, pinsrw, KV, KG32, 2, 0)				\
	X(PEXTRW, pextrw, KG32, KV, 16, 0)				\
	/* integer (SDM Vol. 2B PADDB ... PXOR) */			\
	X(PADDB, paddb, KV, KV, 16, 0)					\
	X(PADDW, paddw, KV, KV, 16, 0)					\
	X(PADDD, paddd, KV, KV, 16, 0)					\
	X(PADDQ, paddq, KV, KV, 16, 0)					\
	X(PSUBB, psubb, KV, KV, 16, 0)					\
	X(PSUBW, psubw, KV, KV, 16, 0)					\
	X(PSUBD, psubd, KV, KV, 16, 0)					\
	X(PSUBQ, psubq, KV, KV, 16, 0)					\
	X(PADDSB, paddsb, KV, KV, 16, 0)				\
	X(PADDSW, paddsw, KV, KV, 16, 0)				\
	X(PADDUSB, paddusb, KV, KV, 16, 0)				\
	X(PADDUSW, paddusw, KV, KV, 16, 0)				\
	X(PSUBSB, psubsb, KV, KV, 16, 0)				\
	X(PSUBSW, psubsw, KV, KV, 16, 0)				\
	X(PSUBUSB, psubusb, KV, KV, 16, 0)				\
	X(PSUBUSW, psubusw, KV, KV, 16, 0)				\
	X(PMULLW, pmullw, KV, KV, 16, 0)				\
	X(PMULHW, pmulhw, KV, KV, 16, 0)				\
	X(PMULHUW, pmulhuw, KV, KV, 16, 0)				\
	X(PMULUDQ, pmuludq, KV, KV, 16, 0)				\
	X(PMADDWD, pmaddwd, KV, KV, 16, 0)				\
	X(PAND, pand, KV, KV, 16, 0)					\
	X(PANDN, pandn, KV, KV, 16, 0)					\
	X(POR, por, KV, KV, 16, 0)					\
	X(PXOR, pxor, KV, KV, 16, 0)					\
	X(PCMPEQB, pcmpeqb, KV, KV, 16, 0)				\
	X(PCMPEQW, pcmpeqw, KV, KV, 16, 0)				\
	X(PCMPEQD, pcmpeqd, KV, KV, 16, 0)				\
	X(PCMPGTB, pcmpgtb, KV, KV, 16, 0)				\
	X(PCMPGTW, pcmpgtw, KV, KV, 16, 0)				\
	X(PCMPGTD, pcmpgtd, KV, KV, 16, 0)				\
	X(PACKSSWB, packsswb, KV, KV, 16, 0)				\
	X(PACKSSDW, packssdw, KV, KV, 16, 0)				\
	X(PACKUSWB, packuswb, KV, KV, 16, 0)				\
	X(PUNPCKLBW, punpcklbw, KV, KV, 16, 0)				\
	X(PUNPCKLWD, punpcklwd, KV, KV, 16, 0)				\
	X(PUNPCKLDQ, punpckldq, KV, KV, 16, 0)				\
	X(PUNPCKLQDQ, punpcklqdq, KV, KV, 16, 0)			\
	X(PUNPCKHBW, punpckhbw, KV, KV, 16, 0)				\
	X(PUNPCKHWD, punpckhwd, KV, KV, 16, 0)				\
	X(PUNPCKHDQ, punpckhdq, KV, KV, 16, 0)				\
	X(PUNPCKHQDQ, punpckhqdq, KV, KV, 16, 0)			\
	X(PSRLW, psrlw, KV, KV, 16, 0)					\
	X(PSRLD, psrld, KV, KV, 16, 0)					\
	X(PSRLQ, psrlq, KV, KV, 16, 0)					\
	X(PSRAW, psraw, KV, KV, 16, 0)					\
	X(PSRAD, psrad, KV, KV, 16, 0)					\
	X(PSLLW, psllw, KV, KV, 16, 0)					\
	X(PSLLD, pslld, KV, KV, 16, 0)					\
	X(PSLLQ, psllq, KV, KV, 16, 0)					\
	X(PSRLW_I, psrlw, KN, KV, 16, D_ST)				\
	X(PSRLD_I, psrld, KN, KV, 16, D_ST)				\
	X(PSRLQ_I, psrlq, KN, KV, 16, D_ST)				\
	X(PSRAW_I, psraw, KN, KV, 16, D_ST)				\
	X(PSRAD_I, psrad, KN, KV, 16, D_ST)				\
	X(PSLLW_I, psllw, KN, KV, 16, D_ST)				\
	X(PSLLD_I, pslld, KN, KV, 16, D_ST)				\
	X(PSLLQ_I, psllq, KN, KV, 16, D_ST)				\
	X(PSRLDQ_I, psrldq, KN, KX, 16, D_ST)				\
	X(PSLLDQ_I, pslldq, KN, KX, 16, D_ST)				\
	X(PMINUB, pminub, KV, KV, 16, 0)				\
	X(PMAXUB, pmaxub, KV, KV, 16, 0)				\
	X(PMINSW, pminsw, KV, KV, 16, 0)				\
	X(PMAXSW, pmaxsw, KV, KV, 16, 0)				\
	X(PAVGB, pavgb, KV, KV, 16, 0)					\
	X(PAVGW, pavgw, KV, KV, 16, 0)					\
	X(PSADBW, psadbw, KV, KV, 16, 0)				\
	X(PSHUFD, pshufd, KX, KX, 16, 0)				\
	X(PSHUFHW, pshufhw, KX, KX, 16, 0)				\
	X(PSHUFLW, pshuflw, KX, KX, 16, 0)				\
	X(PSHUFW, pshufw, KV, KV, 16, 0)				\
	/* floating point (SDM Vol. 2A ADDPS ... Vol. 2B XORPS) */	\
	X(ADDPS, addps, KX, KX, 16, D_FP)				\
	X(ADDPD, addpd, KX, KX, 16, D_FP)				\
	X(ADDSS, addss, KX, KX, 4, D_FP)				\
	X(ADDSD, addsd, KX, KX, 8, D_FP)				\
	X(SUBPS, subps, KX, KX, 16, D_FP)				\
	X(SUBPD, subpd, KX, KX, 16, D_FP)				\
	X(SUBSS, subss, KX, KX, 4, D_FP)				\
	X(SUBSD, subsd, KX, KX, 8, D_FP)				\
	X(MULPS, mulps, KX, KX, 16, D_FP)				\
	X(MULPD, mulpd, KX, KX, 16, D_FP)				\
	X(MULSS, mulss, KX, KX, 4, D_FP)				\
	X(MULSD, mulsd, KX, KX, 8, D_FP)				\
	X(DIVPS, divps, KX, KX, 16, D_FP)				\
	X(DIVPD, divpd, KX, KX, 16, D_FP)				\
	X(DIVSS, divss, KX, KX, 4, D_FP)				\
	X(DIVSD, divsd, KX, KX, 8, D_FP)				\
	X(MINPS, minps, KX, KX, 16, D_FP)				\
	X(MINPD, minpd, KX, KX, 16, D_FP)				\
	X(MINSS, minss, KX, KX, 4, D_FP)				\
	X(MINSD, minsd, KX, KX, 8, D_FP)				\
	X(MAXPS, maxps, KX, KX, 16, D_FP)				\
	X(MAXPD, maxpd, KX, KX, 16, D_FP)				\
	X(MAXSS, maxss, KX, KX, 4, D_FP)				\
	X(MAXSD, maxsd, KX, KX, 8, D_FP)				\
	X(SQRTPS, sqrtps, KX, KX, 16, D_FP)				\
	X(SQRTPD, sqrtpd, KX, KX, 16, D_FP)				\
	X(SQRTSS, sqrtss, KX, KX, 4, D_FP)				\
	X(SQRTSD, sqrtsd, KX, KX, 8, D_FP)				\
	X(CMPPS, cmpps, KX, KX, 16, D_FP)				\
	X(CMPPD, cmppd, KX, KX, 16, D_FP)				\
	X(CMPSS, cmpss, KX, KX, 4, D_FP)				\
	X(CMPSD, cmpsd, KX, KX, 8, D_FP)				\
	X(UCOMISS, ucomiss, KX, KX, 4, D_FP | D_NOWB | D_FL)		\
	X(UCOMISD, ucomisd, KX, KX, 8, D_FP | D_NOWB | D_FL)		\
	X(COMISS, comiss, KX, KX, 4, D_FP | D_NOWB | D_FL)		\
	X(COMISD, comisd, KX, KX, 8, D_FP | D_NOWB | D_FL)		\
	X(CVTPS2PD, cvtps2pd, KX, KX, 8, D_FP)				\
	X(CVTPD2PS, cvtpd2ps, KX, KX, 16, D_FP)				\
	X(CVTSS2SD, cvtss2sd, KX, KX, 4, D_FP)				\
	X(CVTSD2SS, cvtsd2ss, KX, KX, 8, D_FP)				\
	X(CVTDQ2PS, cvtdq2ps, KX, KX, 16, D_FP)				\
	X(CVTPS2DQ, cvtps2dq, KX, KX, 16, D_FP)				\
	X(CVTTPS2DQ, cvttps2dq, KX, KX, 16, D_FP)			\
	X(CVTDQ2PD, cvtdq2pd, KX, KX, 8, D_FP)				\
	X(CVTPD2DQ, cvtpd2dq, KX, KX, 16, D_FP)				\
	X(CVTTPD2DQ, cvttpd2dq, KX, KX, 16, D_FP)			\
	X(CVTSI2SS, cvtsi2ss, KX, KG, 0, D_FP)				\
	X(CVTSI2SD, cvtsi2sd, KX, KG, 0, D_FP)				\
	X(CVTSS2SI, cvtss2si, KG, KX, 4, D_FP)				\
	X(CVTTSS2SI, cvttss2si, KG, KX, 4, D_FP)			\
	X(CVTSD2SI, cvtsd2si, KG, KX, 8, D_FP)				\
	X(CVTTSD2SI, cvttsd2si, KG, KX, 8, D_FP)			\
	X(CVTPI2PS, cvtpi2ps, KX, KM, 8, D_FP)				\
	X(CVTPI2PD, cvtdq2pd, KX, KM, 8, D_FP)				\
	X(CVTPS2PI, cvtps2pi, KM, KX, 8, D_FP)				\
	X(CVTTPS2PI, cvttps2pi, KM, KX, 8, D_FP)			\
	X(CVTPD2PI, cvtpd2dq, KM, KX, 16, D_FP)				\
	X(CVTTPD2PI, cvttpd2dq, KM, KX, 16, D_FP)			\
	X(SHUFPS, shufps, KX, KX, 16, 0)				\
	X(SHUFPD, shufpd, KX, KX, 16, 0)				\
	X(RCPPS, rcpps, KX, KX, 16, 0)					\
	X(RCPSS, rcpss, KX, KX, 4, 0)					\
	X(RSQRTPS, rsqrtps, KX, KX, 16, 0)				\
	X(RSQRTSS, rsqrtss, KX, KX, 4, 0)				\
	/* SSE3 (SDM Vol. 2A ADDSUBPD ... Vol. 2B MOVSLDUP) */		\
	X(ADDSUBPS, addsubps, KX, KX, 16, D_FP | D_H3)			\
	X(ADDSUBPD, addsubpd, KX, KX, 16, D_FP | D_H3)			\
	X(HADDPS, haddps, KX, KX, 16, D_FP | D_H3)			\
	X(HADDPD, haddpd, KX, KX, 16, D_FP | D_H3)			\
	X(HSUBPS, hsubps, KX, KX, 16, D_FP | D_H3)			\
	X(HSUBPD, hsubpd, KX, KX, 16, D_FP | D_H3)			\
	X(MOVSLDUP, movsldup, KX, KX, 16, 0)				\
	X(MOVSHDUP, movshdup, KX, KX, 16, 0)				\
	X(MOVDDUP, movddup, KX, KX, 8, 0)				\
	X(LDDQU, mov_all, KX, KX, 16, D_UNAL)				\
	/* SSSE3 */							\
	X(PSHUFB, pshufb, KV, KV, 16, 0)				\
	X(PHADDW, phaddw, KV, KV, 16, 0)				\
	X(PHADDD, phaddd, KV, KV, 16, 0)				\
	X(PHADDSW, phaddsw, KV, KV, 16, 0)				\
	X(PMADDUBSW, pmaddubsw, KV, KV, 16, 0)				\
	X(PHSUBW, phsubw, KV, KV, 16, 0)				\
	X(PHSUBD, phsubd, KV, KV, 16, 0)				\
	X(PHSUBSW, phsubsw, KV, KV, 16, 0)				\
	X(PSIGNB, psignb, KV, KV, 16, 0)				\
	X(PSIGNW, psignw, KV, KV, 16, 0)				\
	X(PSIGND, psignd, KV, KV, 16, 0)				\
	X(PMULHRSW, pmulhrsw, KV, KV, 16, 0)				\
	X(PABSB, pabsb, KV, KV, 16, 0)					\
	X(PABSW, pabsw, KV, KV, 16, 0)					\
	X(PABSD, pabsd, KV, KV, 16, 0)					\
	X(PALIGNR, palignr, KV, KV, 16, 0)				\
	/* SSE4.1, SSE4.2 */						\
	X(PBLENDVB, pblendvb, KX, KX, 16, 0)				\
	X(BLENDVPS, blendvps, KX, KX, 16, 0)				\
	X(BLENDVPD, blendvpd, KX, KX, 16, 0)				\
	X(PTEST, ptest, KX, KX, 16, D_NOWB | D_FL)			\
	X(PMOVSXBW, pmovsxbw, KX, KX, 8, 0)				\
	X(PMOVSXBD, pmovsxbd, KX, KX, 4, 0)				\
	X(PMOVSXBQ, pmovsxbq, KX, KX, 2, 0)				\
	X(PMOVSXWD, pmovsxwd, KX, KX, 8, 0)				\
	X(PMOVSXWQ, pmovsxwq, KX, KX, 4, 0)				\
	X(PMOVSXDQ, pmovsxdq, KX, KX, 8, 0)				\
	X(PMOVZXBW, pmovzxbw, KX, KX, 8, 0)				\
	X(PMOVZXBD, pmovzxbd, KX, KX, 4, 0)				\
	X(PMOVZXBQ, pmovzxbq, KX, KX, 2, 0)				\
	X(PMOVZXWD, pmovzxwd, KX, KX, 8, 0)				\
	X(PMOVZXWQ, pmovzxwq, KX, KX, 4, 0)				\
	X(PMOVZXDQ, pmovzxdq, KX, KX, 8, 0)				\
	X(PMULDQ, pmuldq, KX, KX, 16, 0)				\
	X(PCMPEQQ, pcmpeqq, KX, KX, 16, 0)				\
	X(PACKUSDW, packusdw, KX, KX, 16, 0)				\
	X(PCMPGTQ, pcmpgtq, KX, KX, 16, 0)				\
	X(PMINSB, pminsb, KX, KX, 16, 0)				\
	X(PMINSD, pminsd, KX, KX, 16, 0)				\
	X(PMINUW, pminuw, KX, KX, 16, 0)				\
	X(PMINUD, pminud, KX, KX, 16, 0)				\
	X(PMAXSB, pmaxsb, KX, KX, 16, 0)				\
	X(PMAXSD, pmaxsd, KX, KX, 16, 0)				\
	X(PMAXUW, pmaxuw, KX, KX, 16, 0)				\
	X(PMAXUD, pmaxud, KX, KX, 16, 0)				\
	X(PMULLD, pmulld, KX, KX, 16, 0)				\
	X(PHMINPOSUW, phminposuw, KX, KX, 16, 0)			\
	X(ROUNDPS, roundps, KX, KX, 16, D_FP | D_H41)			\
	X(ROUNDPD, roundpd, KX, KX, 16, D_FP | D_H41)			\
	X(ROUNDSS, roundss, KX, KX, 4, D_FP | D_H41)			\
	X(ROUNDSD, roundsd, KX, KX, 8, D_FP | D_H41)			\
	X(BLENDPS, blendps, KX, KX, 16, 0)				\
	X(BLENDPD, blendpd, KX, KX, 16, 0)				\
	X(PBLENDW, pblendw, KX, KX, 16, 0)				\
	X(PEXTRB, pextrb, KX, KG32, 1, D_ST)				\
	X(PEXTRW_M, pextrw_st, KX, KG32, 2, D_ST)			\
	X(PEXTRD, pextrd, KX, KG, 0, D_ST)				\
	X(EXTRACTPS, extractps, KX, KG32, 4, D_ST)			\
	X(PINSRB, pinsrb, KX, KG32, 1, 0)				\
	X(INSERTPS, insertps, KX, KX, 4, 0)				\
	X(PINSRD, pinsrd, KX, KG, 0, 0)					\
	X(DPPS, dpps, KX, KX, 16, D_FP)					\
	X(DPPD, dppd, KX, KX, 16, D_FP)					\
	X(MPSADBW, mpsadbw, KX, KX, 16, 0)				\
	X(PCMPESTRM, pcmpestrm, KX, KX, 16, D_UNAL | D_NOWB | D_FL | D_XMM0) \
	X(PCMPESTRI, pcmpestri, KX, KX, 16, D_UNAL | D_NOWB | D_FL | D_ECX) \
	X(PCMPISTRM, pcmpistrm, KX, KX, 16, D_UNAL | D_NOWB | D_FL | D_XMM0) \
	X(PCMPISTRI, pcmpistri, KX, KX, 16, D_UNAL | D_NOWB | D_FL | D_ECX) \
	/* AES-NI, PCLMULQDQ: integer, in C */				\
	X(AESIMC, aesimc, KX, KX, 16, 0)				\
	X(AESENC, aesenc, KX, KX, 16, 0)				\
	X(AESENCLAST, aesenclast, KX, KX, 16, 0)			\
	X(AESDEC, aesdec, KX, KX, 16, 0)				\
	X(AESDECLAST, aesdeclast, KX, KX, 16, 0)			\
	X(AESKEYGENASSIST, aeskeygenassist, KX, KX, 16, 0)		\
	X(PCLMULQDQ, pclmulqdq, KX, KX, 16, 0)

#define SSE_ENUM_(name, fn, r, m, sz, fl) S_##name,
enum sse_op { SSE_OPS(SSE_ENUM_) S_COUNT };
#undef SSE_ENUM_

#endif /* LHYVE_EMU_SSE_H */

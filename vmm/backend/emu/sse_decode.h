/*
 * sse_decode.h - the MMX/SSE (and AES-NI, PCLMULQDQ) entries of the
 * decoder's 0F, 0F 38 and 0F 3A maps (SDM Vol. 2D A.3, tables A-3 to
 * A-5), by opcode and mandatory prefix column (none, 66, F3, F2:
 * decode.c, "Mandatory prefixes").
 * Included by decode.c only, after its F_* flags and group ids.  An entry
 * of a decode.c map with F_PFX and sub P_SSE is looked up here; an empty
 * column (fn NULL) is #UD, as on a processor where that prefix makes no
 * instruction.  in->sub is the operation of sse.h.
 */
#ifndef LHYVE_EMU_SSE_DECODE_H
#define LHYVE_EMU_SSE_DECODE_H

#include "sse.h"

#define SX(op, fl)	{ op_sse, F_MODRM | (fl), EMU_FORM_NONE, S_##op }
#define MX(op, fl)	{ op_mmx, F_MODRM | (fl), EMU_FORM_NONE, S_##op }
#define I8		F_IMM8U
/* An integer instruction: MMX without a prefix, XMM with 66. */
#define MXX(op, fl)	{ [PFX_NONE] = MX(op, fl), [PFX_66] = SX(op, fl) }
#define X66(op, fl)	{ [PFX_66] = SX(op, fl) }
/* A floating-point row: PS, PD, SS, SD. */
#define FP4(op)		{ SX(op##PS, 0), SX(op##PD, 0), SX(op##SS, 0), SX(op##SD, 0) }
#define GRP(g)		{ NULL, F_MODRM | F_GROUP | F_IMM8U, 0, g }

/* 0F 71-73: shifts by imm8 of the register in ModRM.rm (groups 12-14). */
#define SSE_GROUP_TABLES						\
	[G12M] = { [2] = { op_mmx, F_REGONLY, 0, S_PSRLW_I },		\
		   [4] = { op_mmx, F_REGONLY, 0, S_PSRAW_I },		\
		   [6] = { op_mmx, F_REGONLY, 0, S_PSLLW_I } },		\
	[G12X] = { [2] = { op_sse, F_REGONLY, 0, S_PSRLW_I },		\
		   [4] = { op_sse, F_REGONLY, 0, S_PSRAW_I },		\
		   [6] = { op_sse, F_REGONLY, 0, S_PSLLW_I } },		\
	[G13M] = { [2] = { op_mmx, F_REGONLY, 0, S_PSRLD_I },		\
		   [4] = { op_mmx, F_REGONLY, 0, S_PSRAD_I },		\
		   [6] = { op_mmx, F_REGONLY, 0, S_PSLLD_I } },		\
	[G13X] = { [2] = { op_sse, F_REGONLY, 0, S_PSRLD_I },		\
		   [4] = { op_sse, F_REGONLY, 0, S_PSRAD_I },		\
		   [6] = { op_sse, F_REGONLY, 0, S_PSLLD_I } },		\
	[G14M] = { [2] = { op_mmx, F_REGONLY, 0, S_PSRLQ_I },		\
		   [6] = { op_mmx, F_REGONLY, 0, S_PSLLQ_I } },		\
	[G14X] = { [2] = { op_sse, F_REGONLY, 0, S_PSRLQ_I },		\
		   [3] = { op_sse, F_REGONLY, 0, S_PSRLDQ_I },		\
		   [6] = { op_sse, F_REGONLY, 0, S_PSLLQ_I },		\
		   [7] = { op_sse, F_REGONLY, 0, S_PSLLDQ_I } },

static const struct opdesc sse_map[3][256][4] = {
	/* 0F */
	[0] = {
		[0x10] = { SX(MOVU, 0), SX(MOVU, 0), SX(MOVSS, 0), SX(MOVSD, 0) },
		[0x11] = { SX(MOVU_ST, 0), SX(MOVU_ST, 0), SX(MOVSS_ST, 0), SX(MOVSD_ST, 0) },
		/* MOVLPS (MOVHLPS with mod = 3), MOVLPD, MOVSLDUP, MOVDDUP */
		[0x12] = { SX(MOVLPS, 0), SX(MOVLPS, F_MEMONLY), SX(MOVSLDUP, 0), SX(MOVDDUP, 0) },
		[0x13] = { SX(MOVLPS_ST, F_MEMONLY), SX(MOVLPS_ST, F_MEMONLY) },
		/* UNPCKLPS/PD, UNPCKHPS/PD are PUNPCKLDQ/LQDQ, PUNPCKHDQ/HQDQ bit for bit */
		[0x14] = { SX(PUNPCKLDQ, 0), SX(PUNPCKLQDQ, 0) },
		[0x15] = { SX(PUNPCKHDQ, 0), SX(PUNPCKHQDQ, 0) },
		/* MOVHPS (MOVLHPS with mod = 3), MOVHPD, MOVSHDUP */
		[0x16] = { SX(MOVHPS, 0), SX(MOVHPS, F_MEMONLY), SX(MOVSHDUP, 0) },
		[0x17] = { SX(MOVHPS_ST, F_MEMONLY), SX(MOVHPS_ST, F_MEMONLY) },
		[0x28] = { SX(MOVA, 0), SX(MOVA, 0) },
		[0x29] = { SX(MOVA_ST, 0), SX(MOVA_ST, 0) },
		[0x2a] = { SX(CVTPI2PS, 0), SX(CVTPI2PD, 0), SX(CVTSI2SS, 0), SX(CVTSI2SD, 0) },
		[0x2b] = { SX(MOVA_ST, F_MEMONLY), SX(MOVA_ST, F_MEMONLY) },	/* MOVNTPS/PD */
		[0x2c] = { SX(CVTTPS2PI, 0), SX(CVTTPD2PI, 0), SX(CVTTSS2SI, 0), SX(CVTTSD2SI, 0) },
		[0x2d] = { SX(CVTPS2PI, 0), SX(CVTPD2PI, 0), SX(CVTSS2SI, 0), SX(CVTSD2SI, 0) },
		[0x2e] = { SX(UCOMISS, 0), SX(UCOMISD, 0) },
		[0x2f] = { SX(COMISS, 0), SX(COMISD, 0) },
		[0x50] = { SX(MOVMSKPS, F_REGONLY), SX(MOVMSKPD, F_REGONLY) },
		[0x51] = FP4(SQRT),
		[0x52] = { SX(RSQRTPS, 0), [PFX_F3] = SX(RSQRTSS, 0) },
		[0x53] = { SX(RCPPS, 0), [PFX_F3] = SX(RCPSS, 0) },
		/* ANDPS ANDNPS ORPS XORPS (and PD) are the integer operations */
		[0x54] = { SX(PAND, 0), SX(PAND, 0) },
		[0x55] = { SX(PANDN, 0), SX(PANDN, 0) },
		[0x56] = { SX(POR, 0), SX(POR, 0) },
		[0x57] = { SX(PXOR, 0), SX(PXOR, 0) },
		[0x58] = FP4(ADD),
		[0x59] = FP4(MUL),
		[0x5a] = { SX(CVTPS2PD, 0), SX(CVTPD2PS, 0), SX(CVTSS2SD, 0), SX(CVTSD2SS, 0) },
		[0x5b] = { SX(CVTDQ2PS, 0), SX(CVTPS2DQ, 0), SX(CVTTPS2DQ, 0) },
		[0x5c] = FP4(SUB),
		[0x5d] = FP4(MIN),
		[0x5e] = FP4(DIV),
		[0x5f] = FP4(MAX),
		[0x60] = MXX(PUNPCKLBW, 0),
		[0x61] = MXX(PUNPCKLWD, 0),
		[0x62] = MXX(PUNPCKLDQ, 0),
		[0x63] = MXX(PACKSSWB, 0),
		[0x64] = MXX(PCMPGTB, 0),
		[0x65] = MXX(PCMPGTW, 0),
		[0x66] = MXX(PCMPGTD, 0),
		[0x67] = MXX(PACKUSWB, 0),
		[0x68] = MXX(PUNPCKHBW, 0),
		[0x69] = MXX(PUNPCKHWD, 0),
		[0x6a] = MXX(PUNPCKHDQ, 0),
		[0x6b] = MXX(PACKSSDW, 0),
		[0x6c] = X66(PUNPCKLQDQ, 0),
		[0x6d] = X66(PUNPCKHQDQ, 0),
		[0x6e] = MXX(MOVD_LD, 0),
		[0x6f] = { MX(MOVQ_MM, 0), SX(MOVA, 0), SX(MOVU, 0) },
		[0x70] = { MX(PSHUFW, I8), SX(PSHUFD, I8), SX(PSHUFHW, I8), SX(PSHUFLW, I8) },
		[0x71] = { GRP(G12M), GRP(G12X) },
		[0x72] = { GRP(G13M), GRP(G13X) },
		[0x73] = { GRP(G14M), GRP(G14X) },
		[0x74] = MXX(PCMPEQB, 0),
		[0x75] = MXX(PCMPEQW, 0),
		[0x76] = MXX(PCMPEQD, 0),
		[0x77] = { [PFX_NONE] = { op_emms, 0, EMU_FORM_NONE, 0 } },
		[0x7c] = { [PFX_66] = SX(HADDPD, 0), [PFX_F2] = SX(HADDPS, 0) },
		[0x7d] = { [PFX_66] = SX(HSUBPD, 0), [PFX_F2] = SX(HSUBPS, 0) },
		[0x7e] = { MX(MOVD_ST, 0), SX(MOVD_ST, 0), SX(MOVQ_X, 0) },
		[0x7f] = { MX(MOVQ_MM_ST, 0), SX(MOVA_ST, 0), SX(MOVU_ST, 0) },
		[0xc2] = { SX(CMPPS, I8), SX(CMPPD, I8), SX(CMPSS, I8), SX(CMPSD, I8) },
		[0xc3] = { SX(MOVNTI, F_MEMONLY) },
		[0xc4] = MXX(PINSRW, I8),
		[0xc5] = MXX(PEXTRW, I8 | F_REGONLY),
		[0xc6] = { SX(SHUFPS, I8), SX(SHUFPD, I8) },
		[0xd0] = { [PFX_66] = SX(ADDSUBPD, 0), [PFX_F2] = SX(ADDSUBPS, 0) },
		[0xd1] = MXX(PSRLW, 0),
		[0xd2] = MXX(PSRLD, 0),
		[0xd3] = MXX(PSRLQ, 0),
		[0xd4] = MXX(PADDQ, 0),
		[0xd5] = MXX(PMULLW, 0),
		[0xd6] = { [PFX_66] = SX(MOVQ_X_ST, 0), [PFX_F3] = SX(MOVQ2DQ, F_REGONLY),
			   [PFX_F2] = SX(MOVDQ2Q, F_REGONLY) },
		[0xd7] = MXX(PMOVMSKB, F_REGONLY),
		[0xd8] = MXX(PSUBUSB, 0),
		[0xd9] = MXX(PSUBUSW, 0),
		[0xda] = MXX(PMINUB, 0),
		[0xdb] = MXX(PAND, 0),
		[0xdc] = MXX(PADDUSB, 0),
		[0xdd] = MXX(PADDUSW, 0),
		[0xde] = MXX(PMAXUB, 0),
		[0xdf] = MXX(PANDN, 0),
		[0xe0] = MXX(PAVGB, 0),
		[0xe1] = MXX(PSRAW, 0),
		[0xe2] = MXX(PSRAD, 0),
		[0xe3] = MXX(PAVGW, 0),
		[0xe4] = MXX(PMULHUW, 0),
		[0xe5] = MXX(PMULHW, 0),
		[0xe6] = { [PFX_66] = SX(CVTTPD2DQ, 0), [PFX_F3] = SX(CVTDQ2PD, 0),
			   [PFX_F2] = SX(CVTPD2DQ, 0) },
		/* MOVNTQ, MOVNTDQ */
		[0xe7] = { MX(MOVQ_MM_ST, F_MEMONLY), SX(MOVA_ST, F_MEMONLY) },
		[0xe8] = MXX(PSUBSB, 0),
		[0xe9] = MXX(PSUBSW, 0),
		[0xea] = MXX(PMINSW, 0),
		[0xeb] = MXX(POR, 0),
		[0xec] = MXX(PADDSB, 0),
		[0xed] = MXX(PADDSW, 0),
		[0xee] = MXX(PMAXSW, 0),
		[0xef] = MXX(PXOR, 0),
		[0xf0] = { [PFX_F2] = SX(LDDQU, F_MEMONLY) },
		[0xf1] = MXX(PSLLW, 0),
		[0xf2] = MXX(PSLLD, 0),
		[0xf3] = MXX(PSLLQ, 0),
		[0xf4] = MXX(PMULUDQ, 0),
		[0xf5] = MXX(PMADDWD, 0),
		[0xf6] = MXX(PSADBW, 0),
		[0xf7] = MXX(MASKMOV, F_REGONLY),	/* MASKMOVQ, MASKMOVDQU */
		[0xf8] = MXX(PSUBB, 0),
		[0xf9] = MXX(PSUBW, 0),
		[0xfa] = MXX(PSUBD, 0),
		[0xfb] = MXX(PSUBQ, 0),
		[0xfc] = MXX(PADDB, 0),
		[0xfd] = MXX(PADDW, 0),
		[0xfe] = MXX(PADDD, 0),
	},
	/* 0F 38: SSSE3 (MMX and XMM), SSE4.1, SSE4.2 */
	[1] = {
		[0x00] = MXX(PSHUFB, 0),
		[0x01] = MXX(PHADDW, 0),
		[0x02] = MXX(PHADDD, 0),
		[0x03] = MXX(PHADDSW, 0),
		[0x04] = MXX(PMADDUBSW, 0),
		[0x05] = MXX(PHSUBW, 0),
		[0x06] = MXX(PHSUBD, 0),
		[0x07] = MXX(PHSUBSW, 0),
		[0x08] = MXX(PSIGNB, 0),
		[0x09] = MXX(PSIGNW, 0),
		[0x0a] = MXX(PSIGND, 0),
		[0x0b] = MXX(PMULHRSW, 0),
		[0x10] = X66(PBLENDVB, 0),
		[0x14] = X66(BLENDVPS, 0),
		[0x15] = X66(BLENDVPD, 0),
		[0x17] = X66(PTEST, 0),
		[0x1c] = MXX(PABSB, 0),
		[0x1d] = MXX(PABSW, 0),
		[0x1e] = MXX(PABSD, 0),
		[0x20] = X66(PMOVSXBW, 0),
		[0x21] = X66(PMOVSXBD, 0),
		[0x22] = X66(PMOVSXBQ, 0),
		[0x23] = X66(PMOVSXWD, 0),
		[0x24] = X66(PMOVSXWQ, 0),
		[0x25] = X66(PMOVSXDQ, 0),
		[0x28] = X66(PMULDQ, 0),
		[0x29] = X66(PCMPEQQ, 0),
		[0x2a] = X66(MOVA, F_MEMONLY),		/* MOVNTDQA */
		[0x2b] = X66(PACKUSDW, 0),
		[0x30] = X66(PMOVZXBW, 0),
		[0x31] = X66(PMOVZXBD, 0),
		[0x32] = X66(PMOVZXBQ, 0),
		[0x33] = X66(PMOVZXWD, 0),
		[0x34] = X66(PMOVZXWQ, 0),
		[0x35] = X66(PMOVZXDQ, 0),
		[0x37] = X66(PCMPGTQ, 0),
		[0x38] = X66(PMINSB, 0),
		[0x39] = X66(PMINSD, 0),
		[0x3a] = X66(PMINUW, 0),
		[0x3b] = X66(PMINUD, 0),
		[0x3c] = X66(PMAXSB, 0),
		[0x3d] = X66(PMAXSD, 0),
		[0x3e] = X66(PMAXUW, 0),
		[0x3f] = X66(PMAXUD, 0),
		[0x40] = X66(PMULLD, 0),
		[0x41] = X66(PHMINPOSUW, 0),
		/* AES-NI */
		[0xdb] = X66(AESIMC, 0),
		[0xdc] = X66(AESENC, 0),
		[0xdd] = X66(AESENCLAST, 0),
		[0xde] = X66(AESDEC, 0),
		[0xdf] = X66(AESDECLAST, 0),
	},
	/* 0F 3A: all with an imm8 */
	[2] = {
		[0x08] = X66(ROUNDPS, I8),
		[0x09] = X66(ROUNDPD, I8),
		[0x0a] = X66(ROUNDSS, I8),
		[0x0b] = X66(ROUNDSD, I8),
		[0x0c] = X66(BLENDPS, I8),
		[0x0d] = X66(BLENDPD, I8),
		[0x0e] = X66(PBLENDW, I8),
		[0x0f] = MXX(PALIGNR, I8),
		[0x14] = X66(PEXTRB, I8),
		[0x15] = X66(PEXTRW_M, I8),
		[0x16] = X66(PEXTRD, I8),
		[0x17] = X66(EXTRACTPS, I8),
		[0x20] = X66(PINSRB, I8),
		[0x21] = X66(INSERTPS, I8),
		[0x22] = X66(PINSRD, I8),
		[0x40] = X66(DPPS, I8),
		[0x41] = X66(DPPD, I8),
		[0x42] = X66(MPSADBW, I8),
		[0x44] = X66(PCLMULQDQ, I8),
		[0x60] = X66(PCMPESTRM, I8),
		[0x61] = X66(PCMPESTRI, I8),
		[0x62] = X66(PCMPISTRM, I8),
		[0x63] = X66(PCMPISTRI, I8),
		[0xdf] = X66(AESKEYGENASSIST, I8),
	},
};

#undef SX
#undef MX
#undef I8
#undef MXX
#undef X66
#undef FP4
#undef GRP

#endif /* LHYVE_EMU_SSE_DECODE_H */

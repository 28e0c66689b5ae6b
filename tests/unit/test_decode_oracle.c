/*
 * test_decode_oracle.c - the decoder against Zydis on random byte strings.
 *
 * Each case is 15 random bytes, biased towards what the decoder has to get
 * right: legacy prefixes, REX, the 0F/0F38/0F3A escapes, every one-byte and
 * 0F opcode in turn, and the ModRM/SIB forms (SIB, no-base, disp32/RIP).
 * emu_decode() and ZydisDecoderDecodeFull() decode it in the same mode and
 * the results are compared:
 *   1. validity: emu says -EILSEQ (or its handler always raises #UD) exactly
 *      when Zydis says invalid, up to the expected disagreements below;
 *   2. length;
 *   3. for instructions the emulator implements (fn != op_unimpl): the
 *      operation (mnemonic table), operand and address size, the memory
 *      operand, the register operands (VEX.vvvv too), immediates, LOCK and REP.
 * The expected disagreements are listed in exp_zydis_only(), exp_emu_only()
 * and the comparison helpers, each with the SDM section that decides it;
 * docs/decoder-oracle.md explains them.  Anything else fails the case and
 * the first few of each kind are printed with both decodes.
 *
 * A second set of cases starts with a VEX prefix (gen_vex()), and a short
 * list of directed byte strings reaches every handler at least once.
 *
 * LHYVE_LONG=1 runs 50 times as many cases.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "cpu.h"
#include "machine.h"
#include "test.h"

/* ---- the operation: emu handler (+ map/opcode/sub) -> Zydis mnemonics ---- */

#define ANY	-1
#define Z(m)	ZYDIS_MNEMONIC_##m

/*
 * Where emu's operand size means something else than Zydis's operand width
 * (docs/decoder-oracle.md):
 *   O_NOSIZE: the handler ignores in->opsize.  CMPXCHG8B/16B picks its
 *     size from REX.W (SDM Vol. 2A CMPXCHG8B); SYSCALL/SYSRET have no
 *     operand; INVLPG m8, SWAPGS, RDTSCP neither; NOPs and fences touch
 *     nothing (Zydis takes 66 0F 1E and 66 0F AE /7 as mandatory prefixes).
 *   O_NOSIZE64: LGDT/LIDT/SGDT/SIDT are 8+2 bytes in 64-bit mode whatever
 *     the prefixes (SDM Vol. 2A LGDT); the handler asks the mode.
 *   O_IO32: port I/O is at most 32 bits (SDM Vol. 2A IN, INS: no REX.W
 *     form); emu decodes REX.W as opsize 8 and io.c/string.c clamp to 4,
 *     Zydis says 32 for IN/OUT and 64 for INSD/OUTSD.
 *   O_NOSEG: LEA computes an offset only; the segment is never used.
 */
enum { O_NOSIZE = 1, O_NOSIZE64 = 2, O_IO32 = 4, O_NOSEG = 8, O_X87 = 16 };

struct mnmap {
	emu_op_fn	*fn;
	const char	*name;
	int		map;		/* in->map, or ANY */
	int		opcode;		/* in->opcode, or ANY */
	int		sub;		/* in->sub, or ANY */
	int		flags;		/* O_* */
	ZydisMnemonic	mn[5];		/* any of these */
};

/* First match wins: put specific lines before the ANY fallbacks. */
#define MAP(fn, map, op, sub, ...) { fn, #fn, map, op, sub, 0, { __VA_ARGS__ } }
#define MAPF(fl, fn, map, op, sub, ...) { fn, #fn, map, op, sub, fl, { __VA_ARGS__ } }
#define CC_LINES(fn, p)							\
	MAP(fn, ANY, ANY, 0x0, Z(p##O)), MAP(fn, ANY, ANY, 0x1, Z(p##NO)),	\
	MAP(fn, ANY, ANY, 0x2, Z(p##B)), MAP(fn, ANY, ANY, 0x3, Z(p##NB)),	\
	MAP(fn, ANY, ANY, 0x4, Z(p##Z)), MAP(fn, ANY, ANY, 0x5, Z(p##NZ)),	\
	MAP(fn, ANY, ANY, 0x6, Z(p##BE)), MAP(fn, ANY, ANY, 0x7, Z(p##NBE)),	\
	MAP(fn, ANY, ANY, 0x8, Z(p##S)), MAP(fn, ANY, ANY, 0x9, Z(p##NS)),	\
	MAP(fn, ANY, ANY, 0xa, Z(p##P)), MAP(fn, ANY, ANY, 0xb, Z(p##NP)),	\
	MAP(fn, ANY, ANY, 0xc, Z(p##L)), MAP(fn, ANY, ANY, 0xd, Z(p##NL)),	\
	MAP(fn, ANY, ANY, 0xe, Z(p##LE)), MAP(fn, ANY, ANY, 0xf, Z(p##NLE))

static const struct mnmap mnmap[] = {
	/* alu.c */
	MAP(op_alu, ANY, ANY, 0, Z(ADD)),
	MAP(op_alu, ANY, ANY, 1, Z(OR)),
	MAP(op_alu, ANY, ANY, 2, Z(ADC)),
	MAP(op_alu, ANY, ANY, 3, Z(SBB)),
	MAP(op_alu, ANY, ANY, 4, Z(AND)),
	MAP(op_alu, ANY, ANY, 5, Z(SUB)),
	MAP(op_alu, ANY, ANY, 6, Z(XOR)),
	MAP(op_alu, ANY, ANY, 7, Z(CMP)),
	MAP(op_test, ANY, ANY, ANY, Z(TEST)),
	MAP(op_incdec, ANY, ANY, 0, Z(INC)),
	MAP(op_incdec, ANY, ANY, 1, Z(DEC)),
	MAP(op_not, ANY, ANY, ANY, Z(NOT)),
	MAP(op_neg, ANY, ANY, ANY, Z(NEG)),
	MAP(op_xadd, ANY, ANY, ANY, Z(XADD)),
	MAP(op_cmpxchg, ANY, ANY, ANY, Z(CMPXCHG)),
	MAPF(O_NOSIZE, op_cmpxchg8b, ANY, ANY, ANY, Z(CMPXCHG8B), Z(CMPXCHG16B)),
	/* shift.c; /6 is SAL, which Zydis names SHL */
	MAP(op_shift, ANY, ANY, 0, Z(ROL)),
	MAP(op_shift, ANY, ANY, 1, Z(ROR)),
	MAP(op_shift, ANY, ANY, 2, Z(RCL)),
	MAP(op_shift, ANY, ANY, 3, Z(RCR)),
	MAP(op_shift, ANY, ANY, 4, Z(SHL)),
	MAP(op_shift, ANY, ANY, 5, Z(SHR)),
	MAP(op_shift, ANY, ANY, 6, Z(SHL)),
	MAP(op_shift, ANY, ANY, 7, Z(SAR)),
	MAP(op_shld, ANY, ANY, ANY, Z(SHLD)),
	MAP(op_shrd, ANY, ANY, ANY, Z(SHRD)),
	/* muldiv.c */
	MAP(op_muldiv, ANY, ANY, 4, Z(MUL)),
	MAP(op_muldiv, ANY, ANY, 5, Z(IMUL)),
	MAP(op_muldiv, ANY, ANY, 6, Z(DIV)),
	MAP(op_muldiv, ANY, ANY, 7, Z(IDIV)),
	MAP(op_imul2, ANY, ANY, ANY, Z(IMUL)),
	MAP(op_imul3, ANY, ANY, ANY, Z(IMUL)),
	/* bit.c */
	MAP(op_bt, 1, 0xa3, ANY, Z(BT)),
	MAP(op_bt, 1, 0xab, ANY, Z(BTS)),
	MAP(op_bt, 1, 0xb3, ANY, Z(BTR)),
	MAP(op_bt, 1, 0xbb, ANY, Z(BTC)),
	MAP(op_bt, 1, 0xba, 4, Z(BT)),
	MAP(op_bt, 1, 0xba, 5, Z(BTS)),
	MAP(op_bt, 1, 0xba, 6, Z(BTR)),
	MAP(op_bt, 1, 0xba, 7, Z(BTC)),
	MAP(op_bsf, ANY, ANY, ANY, Z(BSF)),
	MAP(op_bsr, ANY, ANY, ANY, Z(BSR)),
	MAP(op_bswap, ANY, ANY, ANY, Z(BSWAP)),
	MAP(op_popcnt, ANY, ANY, ANY, Z(POPCNT)),
	MAP(op_tzcnt, ANY, ANY, ANY, Z(TZCNT)),
	MAP(op_lzcnt, ANY, ANY, ANY, Z(LZCNT)),
	/* bmi.c (VEX; vvvv is compared as an operand) */
	MAP(op_andn, ANY, ANY, ANY, Z(ANDN)),
	MAP(op_blsx, ANY, ANY, 1, Z(BLSR)),
	MAP(op_blsx, ANY, ANY, 2, Z(BLSMSK)),
	MAP(op_blsx, ANY, ANY, 3, Z(BLSI)),
	MAP(op_bzhi, ANY, ANY, ANY, Z(BZHI)),
	MAP(op_pdep, ANY, ANY, 0, Z(PDEP)),
	MAP(op_pdep, ANY, ANY, 1, Z(PEXT)),
	MAP(op_mulx, ANY, ANY, ANY, Z(MULX)),
	MAP(op_bextr, ANY, ANY, ANY, Z(BEXTR)),
	MAP(op_shiftx, ANY, ANY, 4, Z(SHLX)),
	MAP(op_shiftx, ANY, ANY, 5, Z(SHRX)),
	MAP(op_shiftx, ANY, ANY, 7, Z(SARX)),
	MAP(op_rorx, ANY, ANY, ANY, Z(RORX)),
	MAP(op_adx, ANY, ANY, 0, Z(ADCX)),
	MAP(op_adx, ANY, ANY, 1, Z(ADOX)),
	/* bcd.c */
	MAP(op_daa, ANY, ANY, ANY, Z(DAA)),
	MAP(op_das, ANY, ANY, ANY, Z(DAS)),
	MAP(op_aaa, ANY, ANY, ANY, Z(AAA)),
	MAP(op_aas, ANY, ANY, ANY, Z(AAS)),
	MAP(op_aam, ANY, ANY, ANY, Z(AAM)),
	MAP(op_aad, ANY, ANY, ANY, Z(AAD)),
	/* string.c */
	MAP(op_movs, ANY, ANY, ANY, Z(MOVSB), Z(MOVSW), Z(MOVSD), Z(MOVSQ)),
	MAP(op_cmps, ANY, ANY, ANY, Z(CMPSB), Z(CMPSW), Z(CMPSD), Z(CMPSQ)),
	MAP(op_stos, ANY, ANY, ANY, Z(STOSB), Z(STOSW), Z(STOSD), Z(STOSQ)),
	MAP(op_lods, ANY, ANY, ANY, Z(LODSB), Z(LODSW), Z(LODSD), Z(LODSQ)),
	MAP(op_scas, ANY, ANY, ANY, Z(SCASB), Z(SCASW), Z(SCASD), Z(SCASQ)),
	MAPF(O_IO32, op_ins, ANY, ANY, ANY, Z(INSB), Z(INSW), Z(INSD)),
	MAPF(O_IO32, op_outs, ANY, ANY, ANY, Z(OUTSB), Z(OUTSW), Z(OUTSD)),
	/* move.c */
	MAP(op_mov, ANY, ANY, ANY, Z(MOV)),
	MAP(op_movzx, ANY, ANY, ANY, Z(MOVZX)),
	MAP(op_movsx, ANY, ANY, ANY, Z(MOVSX)),
	MAP(op_movsxd, ANY, ANY, ANY, Z(MOVSXD)),
	MAPF(O_NOSEG, op_lea, ANY, ANY, ANY, Z(LEA)),
	MAP(op_xchg, ANY, ANY, ANY, Z(XCHG)),
	MAP(op_cbw, ANY, ANY, ANY, Z(CBW), Z(CWDE), Z(CDQE)),
	MAP(op_cwd, ANY, ANY, ANY, Z(CWD), Z(CDQ), Z(CQO)),
	CC_LINES(op_cmov, CMOV),
	CC_LINES(op_setcc, SET),
	MAP(op_flagop, 0, 0xf5, ANY, Z(CMC)),
	MAP(op_flagop, 0, 0xf8, ANY, Z(CLC)),
	MAP(op_flagop, 0, 0xf9, ANY, Z(STC)),
	MAP(op_flagop, 0, 0xfc, ANY, Z(CLD)),
	MAP(op_flagop, 0, 0xfd, ANY, Z(STD)),
	MAP(op_lahf, ANY, ANY, ANY, Z(LAHF)),
	MAP(op_sahf, ANY, ANY, ANY, Z(SAHF)),
	MAPF(O_NOSIZE, op_nop, 0, 0x90, ANY, Z(NOP), Z(PAUSE)),
	MAPF(O_NOSIZE, op_nop, 1, 0x0d, ANY, Z(PREFETCH), Z(PREFETCHW), Z(PREFETCHWT1), Z(NOP)),
	MAPF(O_NOSIZE, op_nop, 1, 0x18, ANY, Z(PREFETCHNTA), Z(PREFETCHT0), Z(PREFETCHT1), Z(PREFETCHT2), Z(NOP)),
	MAPF(O_NOSIZE, op_nop, 1, 0xae, 5, Z(LFENCE)),
	MAPF(O_NOSIZE, op_nop, 1, 0xae, 6, Z(MFENCE)),
	MAPF(O_NOSIZE, op_nop, 1, 0xae, 7, Z(CLFLUSH), Z(CLFLUSHOPT), Z(SFENCE)),
	MAPF(O_NOSIZE, op_nop, 1, ANY, ANY, Z(NOP)),
	MAP(op_movseg, ANY, ANY, ANY, Z(MOV)),
	MAP(op_xlat, ANY, ANY, ANY, Z(XLAT)),
	MAP(op_movbe, ANY, ANY, ANY, Z(MOVBE)),
	/* in->opsize is the source size (r/m8 for F0); the destination is r32/r64 */
	MAPF(O_NOSIZE, op_crc32, ANY, ANY, ANY, Z(CRC32)),
	MAP(op_lfp, 0, 0xc4, ANY, Z(LES)),
	MAP(op_lfp, 0, 0xc5, ANY, Z(LDS)),
	MAP(op_lfp, 1, 0xb2, ANY, Z(LSS)),
	MAP(op_lfp, 1, 0xb4, ANY, Z(LFS)),
	MAP(op_lfp, 1, 0xb5, ANY, Z(LGS)),
	/* stack.c */
	MAP(op_push, ANY, ANY, ANY, Z(PUSH)),
	MAP(op_pop, ANY, ANY, ANY, Z(POP)),
	MAP(op_pushseg, ANY, ANY, ANY, Z(PUSH)),
	MAP(op_popseg, ANY, ANY, ANY, Z(POP)),
	MAP(op_pushf, ANY, ANY, ANY, Z(PUSHF), Z(PUSHFD), Z(PUSHFQ)),
	MAP(op_popf, ANY, ANY, ANY, Z(POPF), Z(POPFD), Z(POPFQ)),
	MAP(op_enter, ANY, ANY, ANY, Z(ENTER)),
	MAP(op_leave, ANY, ANY, ANY, Z(LEAVE)),
	MAP(op_pusha, ANY, ANY, ANY, Z(PUSHA), Z(PUSHAD)),
	MAP(op_popa, ANY, ANY, ANY, Z(POPA), Z(POPAD)),
	/* control.c */
	MAP(op_jmp, ANY, ANY, ANY, Z(JMP)),
	CC_LINES(op_jcc, J),
	MAP(op_call, ANY, ANY, ANY, Z(CALL)),
	MAP(op_ret, ANY, ANY, ANY, Z(RET)),
	MAP(op_loop, 0, 0xe0, ANY, Z(LOOPNE)),
	MAP(op_loop, 0, 0xe1, ANY, Z(LOOPE)),
	MAP(op_loop, 0, 0xe2, ANY, Z(LOOP)),
	MAP(op_loop, 0, 0xe3, ANY, Z(JCXZ), Z(JECXZ), Z(JRCXZ)),
	MAP(op_jmpfar, ANY, ANY, ANY, Z(JMP)),
	MAP(op_callfar, ANY, ANY, ANY, Z(CALL)),
	MAP(op_retfar, ANY, ANY, ANY, Z(RET)),
	MAP(op_int, 0, 0xcc, ANY, Z(INT3)),
	MAP(op_int, 0, 0xcd, ANY, Z(INT)),
	MAP(op_int, 0, 0xce, ANY, Z(INTO)),
	MAP(op_int, 0, 0xf1, ANY, Z(INT1)),
	MAP(op_iret, ANY, ANY, ANY, Z(IRET), Z(IRETD), Z(IRETQ)),
	MAP(op_bound, ANY, ANY, ANY, Z(BOUND)),
	/* io.c */
	MAPF(O_IO32, op_in, ANY, ANY, ANY, Z(IN)),
	MAPF(O_IO32, op_out, ANY, ANY, ANY, Z(OUT)),
	/* system.c */
	MAP(op_hlt, ANY, ANY, ANY, Z(HLT)),
	MAP(op_cli, ANY, ANY, ANY, Z(CLI)),
	MAP(op_sti, ANY, ANY, ANY, Z(STI)),
	MAP(op_cpuid, ANY, ANY, ANY, Z(CPUID)),
	MAP(op_rdtsc, ANY, ANY, ANY, Z(RDTSC)),
	MAP(op_rdpmc, ANY, ANY, ANY, Z(RDPMC)),
	MAPF(O_NOSIZE, op_rdtscp, ANY, ANY, ANY, Z(RDTSCP)),
	MAPF(O_NOSIZE, op_fsgsbase, ANY, ANY, ANY, Z(RDFSBASE), Z(RDGSBASE), Z(WRFSBASE), Z(WRGSBASE)),
	MAP(op_rdmsr, ANY, ANY, ANY, Z(RDMSR)),
	MAP(op_wrmsr, ANY, ANY, ANY, Z(WRMSR)),
	MAP(op_movcr, ANY, ANY, ANY, Z(MOV)),
	MAP(op_movdr, ANY, ANY, ANY, Z(MOV)),
	MAP(op_grp6, ANY, ANY, 0, Z(SLDT)),
	MAP(op_grp6, ANY, ANY, 1, Z(STR)),
	MAP(op_grp6, ANY, ANY, 2, Z(LLDT)),
	MAP(op_grp6, ANY, ANY, 3, Z(LTR)),
	MAP(op_grp6, ANY, ANY, 4, Z(VERR)),
	MAP(op_grp6, ANY, ANY, 5, Z(VERW)),
	MAPF(O_NOSIZE64, op_grp7, ANY, ANY, 0, Z(SGDT)),
	MAPF(O_NOSIZE64, op_grp7, ANY, ANY, 1, Z(SIDT)),
	MAPF(O_NOSIZE64 | O_NOSIZE, op_grp7, ANY, ANY, 2, Z(LGDT), Z(XGETBV), Z(XSETBV)),
	MAPF(O_NOSIZE64, op_grp7, ANY, ANY, 3, Z(LIDT)),
	MAP(op_grp7, ANY, ANY, 4, Z(SMSW)),
	MAP(op_grp7, ANY, ANY, 6, Z(LMSW)),
	MAPF(O_NOSIZE, op_grp7, ANY, ANY, 7, Z(INVLPG), Z(SWAPGS), Z(RDTSCP)),
	MAP(op_clts, ANY, ANY, ANY, Z(CLTS)),
	MAP(op_invd, 1, 0x08, ANY, Z(INVD)),
	MAP(op_invd, 1, 0x09, ANY, Z(WBINVD)),
	MAPF(O_NOSIZE, op_syscall, ANY, ANY, ANY, Z(SYSCALL)),
	MAPF(O_NOSIZE, op_sysret, ANY, ANY, ANY, Z(SYSRET)),
	MAP(op_larlsl, 1, 0x02, ANY, Z(LAR)),
	MAP(op_larlsl, 1, 0x03, ANY, Z(LSL)),
	MAP(op_arpl, ANY, ANY, ANY, Z(ARPL)),
	MAP(op_rdrand, ANY, ANY, 6, Z(RDRAND)),
	MAP(op_rdrand, ANY, ANY, 7, Z(RDSEED)),
	MAP(op_rdpid, ANY, ANY, ANY, Z(RDPID)),
	MAPF(O_NOSIZE, op_sysenter, ANY, ANY, ANY, Z(SYSENTER)),
	MAPF(O_NOSIZE, op_sysexit, ANY, ANY, ANY, Z(SYSEXIT)),
	MAP(op_ud, 1, 0x0b, ANY, Z(UD2)),
	MAP(op_ud, 1, 0xb9, ANY, Z(UD1)),
	MAP(op_ud, 1, 0xff, ANY, Z(UD0)),
	/*
	 * x87.c: one handler for D8-DF, whose operation depends on the whole
	 * ModRM; O_X87 checks the mnemonic's ISA set (X87, FCMOV, SSE3's
	 * FISTTP, PPRO: FCOMI) instead, tests/diff/test_x87_diff.c each encoding's
	 * behaviour against the host.
	 */
	MAPF(O_NOSIZE | O_X87, op_x87, ANY, ANY, ANY, Z(INVALID)),
	MAP(op_fwait, ANY, ANY, ANY, Z(FWAIT)),
	MAPF(O_NOSIZE, op_fxsave, ANY, ANY, ANY, Z(FXSAVE), Z(FXSAVE64)),
	MAPF(O_NOSIZE, op_fxrstor, ANY, ANY, ANY, Z(FXRSTOR), Z(FXRSTOR64)),
	MAPF(O_NOSIZE, op_xsave, ANY, ANY, ANY, Z(XSAVE), Z(XSAVE64)),
	MAPF(O_NOSIZE, op_xrstor, ANY, ANY, ANY, Z(XRSTOR), Z(XRSTOR64)),
	MAPF(O_NOSIZE, op_xsaveopt_clwb, ANY, ANY, ANY, Z(XSAVEOPT), Z(XSAVEOPT64), Z(CLWB)),
	MAPF(O_NOSIZE, op_xsavec, ANY, ANY, ANY, Z(XSAVEC), Z(XSAVEC64)),
	/* sse.c: op_sse and op_mmx are checked for validity and length only (below) */
	MAPF(O_NOSIZE, op_emms, ANY, ANY, ANY, Z(EMMS)),
	MAPF(O_NOSIZE, op_ldmxcsr, ANY, ANY, ANY, Z(LDMXCSR)),
	MAPF(O_NOSIZE, op_stmxcsr, ANY, ANY, ANY, Z(STMXCSR)),
	MAP(op_unimpl, ANY, ANY, ANY, Z(INVALID)),
};

static const struct mnmap *
mn_lookup(const struct emu_insn *in)
{
	size_t i;

	for (i = 0; i < sizeof(mnmap) / sizeof(mnmap[0]); i++) {
		const struct mnmap *m = &mnmap[i];

		if (m->fn == in->fn && (m->map == ANY || m->map == in->map) &&
		    (m->opcode == ANY || m->opcode == in->opcode) &&
		    (m->sub == ANY || m->sub == in->sub))
			return m;
	}
	return NULL;
}

static const char *
fn_name(emu_op_fn *fn)
{
	size_t i;

	for (i = 0; i < sizeof(mnmap) / sizeof(mnmap[0]); i++)
		if (mnmap[i].fn == fn)
			return mnmap[i].name;
	return "?";
}

/* ---- expected disagreements ---- */

/*
 * Forms the decoder accepts but whose handler raises #UD whatever the CPU
 * state: for validity they count as rejected (system.c).
 *  - 0F 01 register forms other than SMSW/LMSW/SWAPGS/RDTSCP (VMX, SVM,
 *    MONITOR, CLAC/STAC, XGETBV...: nothing CPUID advertises), 0F 01 /5
 *    with memory (RSTORSSP: no CET), SWAPGS outside 64-bit mode.
 *  - MOV CR other than CR0/2/3/4/8, MOV DR8-15 (SDM Vol. 2B MOV CR, MOV DR).
 *  - 0F 00, ARPL, LAR, LSL in real mode ("not recognized in real-address
 *    mode", SDM Vol. 2A ARPL, LAR, LSL, SLDT...).
 *  - SYSCALL/SYSRET outside 64-bit mode (Intel; SDM Vol. 2B SYSCALL).
 *  - F2/F3 0F AE /6 with memory (F3: CLRSSBSY, no CET); 0F AE /0-/3
 *    register forms other than F3 in 64-bit mode (RDFSBASE & co).
 *  - the reserved x87 encodings (SDM Vol. 2D A.5 tables A-7..A-22).
 */
static bool
handler_always_ud(const struct emu_insn *in, enum emu_mode mode)
{
	bool mode64 = mode == EMU_MODE_LONG64;

	if (in->fn == op_grp7) {
		if (in->has_mem)
			return in->sub == 5;
		if (in->sub == 7 && (in->rm & 7) == 0)
			return !mode64;
		if (in->sub == 2 && (in->rm & 7) <= 1)
			return in->rep || in->opsize_prefix;	/* XGETBV XSETBV are NP */
		return !(in->sub == 4 || in->sub == 6 || (in->sub == 7 && (in->rm & 7) == 1));
	}
	if (in->fn == op_xsaveopt_clwb)
		return in->rep != 0;	/* F3: CLRSSBSY (CET), F2: reserved */
	if (in->fn == op_fsgsbase)
		return in->rep != 0xf3 || !mode64;	/* the F3 forms, 64-bit mode only */
	if (in->fn == op_movcr)
		return !(in->reg == 0 || in->reg == 2 || in->reg == 3 || in->reg == 4 ||
		    in->reg == 8);
	if (in->fn == op_movdr)
		return in->reg > 7;
	if (in->fn == op_grp6 || in->fn == op_arpl || in->fn == op_larlsl)
		return mode == EMU_MODE_REAL;
	if (in->fn == op_syscall || in->fn == op_sysret)
		return !mode64;
	/* x87 register forms and ModRM.reg values the SDM reserves (x87.c) */
	if (in->fn == op_x87)
		return emu_x87_invalid(in);
	return false;
}

/*
 * Zydis decodes it, lhyve raises #UD: legacy-encoded instructions of
 * extensions the emulated CPU does not have, #UD as on a CPU without them
 * (CPUID does not advertise them; each instruction's SDM page lists "#UD if
 * CPUID.xx = 0").  VEX/EVEX/XOP are handled by encoding below.
 */
static const ZydisISASet isa_not_emulated[] = {
	ZYDIS_ISA_SET_VTX, ZYDIS_ISA_SET_VMFUNC, ZYDIS_ISA_SET_SVM, ZYDIS_ISA_SET_SMX,
	ZYDIS_ISA_SET_SGX, ZYDIS_ISA_SET_SGX_ENCLV, ZYDIS_ISA_SET_TDX, ZYDIS_ISA_SET_SNP,
	ZYDIS_ISA_SET_RDPRU,
	ZYDIS_ISA_SET_RTM, ZYDIS_ISA_SET_TSX_LDTRK,
	ZYDIS_ISA_SET_MONITOR, ZYDIS_ISA_SET_MONITORX, ZYDIS_ISA_SET_WAITPKG,
	ZYDIS_ISA_SET_SMAP, ZYDIS_ISA_SET_PKU, ZYDIS_ISA_SET_CET, ZYDIS_ISA_SET_PT,
	ZYDIS_ISA_SET_SERIALIZE, ZYDIS_ISA_SET_UINTR, ZYDIS_ISA_SET_PCONFIG,
	ZYDIS_ISA_SET_MCOMMIT, ZYDIS_ISA_SET_CLZERO, ZYDIS_ISA_SET_AMD_INVLPGB,
	ZYDIS_ISA_SET_XSAVES,
	ZYDIS_ISA_SET_SSE4A, ZYDIS_ISA_SET_AMD3DNOW, ZYDIS_ISA_SET_PADLOCK_ACE,
	ZYDIS_ISA_SET_PADLOCK_PHE, ZYDIS_ISA_SET_PADLOCK_PMM, ZYDIS_ISA_SET_PADLOCK_RNG,
	/*
	 * 0F 38 F8-FB, next to the BMI/ADX/MOVBE rows: MOVDIRI, MOVDIR64B
	 * (CPUID.7:ECX[27], [28]), ENQCMD (CPUID.7:ECX[29]), Key Locker
	 * (CPUID.7:ECX[23], ENCODEKEY*, leaf 19h): not advertised.
	 */
	ZYDIS_ISA_SET_MOVDIR, ZYDIS_ISA_SET_ENQCMD, ZYDIS_ISA_SET_KEYLOCKER,
	ZYDIS_ISA_SET_KEYLOCKER_WIDE,
};

static const char *
exp_zydis_only(const ZydisDecodedInstruction *zi, enum emu_mode mode)
{
	size_t i;

	/*
	 * VEX other than the general-register instructions of BMI1/BMI2
	 * (AVX, AVX2, FMA, F16C, AMX...), EVEX, MVEX (Knights Corner), XOP,
	 * 3DNow!: CPUID reports none of them.
	 */
	if (zi->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX &&
	    zi->meta.isa_set != ZYDIS_ISA_SET_BMI1 && zi->meta.isa_set != ZYDIS_ISA_SET_BMI2)
		return "VEX other than BMI1/BMI2";
	/* Legacy-encoded extensions CPUID does not report: #UD (sse_decode.h). */
	if (zi->meta.isa_set == ZYDIS_ISA_SET_SHA || zi->meta.isa_set == ZYDIS_ISA_SET_GFNI ||
	    zi->meta.isa_set == ZYDIS_ISA_SET_INVPCID)
		return "SHA GFNI INVPCID: not advertised";
	if (zi->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
	    zi->encoding != ZYDIS_INSTRUCTION_ENCODING_VEX)
		return "EVEX/MVEX/XOP/3DNow! encoding";
	for (i = 0; i < sizeof(isa_not_emulated) / sizeof(isa_not_emulated[0]); i++)
		if (zi->meta.isa_set == isa_not_emulated[i])
			return ZydisISASetGetString(zi->meta.isa_set);
	/* SDM Vol. 2B RSM: #UD outside SMM, and lhyve has no SMM. */
	if (zi->mnemonic == ZYDIS_MNEMONIC_RSM)
		return "RSM outside SMM";
	/* D6 is reserved in the SDM opcode map (Vol. 2D A.3); SALC is undocumented. */
	if (zi->mnemonic == ZYDIS_MNEMONIC_SALC)
		return "SALC undocumented";
	/* Zydis follows AMD: SYSCALL/SYSRET in legacy mode; Intel: #UD. */
	if ((zi->mnemonic == ZYDIS_MNEMONIC_SYSCALL || zi->mnemonic == ZYDIS_MNEMONIC_SYSRET) &&
	    mode != EMU_MODE_LONG64)
		return "SYSCALL/SYSRET outside 64-bit mode (AMD)";
	return NULL;
}

/* lhyve decodes it (op_unimpl), Zydis rejects it. */
static const char *
exp_emu_only(const struct emu_insn *in, enum emu_mode mode)
{
	/* SYSENTER/SYSEXIT #GP(0) in real mode (SDM Vol. 2B); Zydis rejects them. */
	if (mode == EMU_MODE_REAL && (in->fn == op_sysenter || in->fn == op_sysexit))
		return "SYSENTER/SYSEXIT #GP(0) in real mode";
	if (in->fn != op_unimpl)
		return NULL;
	/*
	 * The 0F38/0F3A maps, the MMX/SSE part of the 0F map
	 * and the 0F AE state-save group are decoded for their length only:
	 * reserved encodings and wrong mandatory prefixes get the INST_UNIMPL
	 * exit instead of #UD.
	 */
	if (in->map >= 2 || (in->map == 1 && ((in->opcode >= 0x10 && in->opcode <= 0x17) ||
	    (in->opcode >= 0x28 && in->opcode <= 0x2f) ||
	    (in->opcode >= 0x50 && in->opcode <= 0x7f) ||
	    (in->opcode >= 0xc2 && in->opcode <= 0xc6) ||
	    in->opcode == 0xae || in->opcode >= 0xd0)))
		return "SSE/MMX space decoded for length only";
	return NULL;
}

/* ---- modes, random cases ---- */

struct oracle_mode {
	enum emu_mode		emu;
	ZydisMachineMode	zmode;
	ZydisStackWidth		zstack;
	const char		*name;
};

static const struct oracle_mode modes[] = {
	{ EMU_MODE_LONG64, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64, "64" },
	{ EMU_MODE_PROT32, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32, "32" },
	{ EMU_MODE_PROT16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16, "16" },
	{ EMU_MODE_REAL, ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16, "real" },
};

static uint64_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift64: fixed seed, so every run checks the same cases */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/*
 * Case @t: prefixes (none in half the cases), REX in 64-bit mode, an
 * escape, the opcode (cycling through all 256 of the map, so every opcode is
 * hit evenly), then ModRM, SIB and the rest random with the interesting
 * ModRM/SIB forms made more likely.
 */
static void modrm_bias(uint8_t b[15], int n, uint32_t r);

static void
gen(uint8_t b[15], bool mode64, uint32_t t)
{
	static const uint8_t pfx[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67
	};
	int n = 0, i, np;
	uint32_t r = rng(), map = (t >> 8) % 8;

	for (i = 0; i < 15; i++)
		b[i] = (uint8_t)rng();
	np = (r & 1) ? 0 : (int)((r >> 1) % 4) + 1;
	for (i = 0; i < np; i++)
		b[n++] = pfx[rng() % sizeof(pfx)];
	if (mode64 && ((r >> 4) & 1))
		b[n++] = (uint8_t)(0x40 | (rng() & 0xf));
	/* 3/8 one-byte, 3/8 0F, 1/8 0F38, 1/8 0F3A */
	if (map >= 3) {
		b[n++] = 0x0f;
		if (map == 6)
			b[n++] = 0x38;
		else if (map == 7)
			b[n++] = 0x3a;
	}
	b[n++] = (uint8_t)t;
	modrm_bias(b, n, r);
}

/*
 * VEX case @t (SDM Vol. 2A 2.3.5): now and then a legacy prefix or REX
 * (66 F2 F3 F0 and REX before VEX are #UD), C4 (3/4) or C5, map 0F38 most
 * often with its opcode mostly in F0-F7 (BMI1/BMI2), 0F3A mostly F0 (RORX),
 * VEX.L mostly 0, everything else random; outside 64-bit mode the byte
 * after C4/C5 mostly has bits 7:6 = 11 (else it is LES/LDS).
 */
static void
gen_vex(uint8_t b[15], bool mode64, uint32_t t)
{
	static const uint8_t pfx[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x64, 0x67 };
	int n = 0, i, v, map;
	uint32_t r = rng(), q = rng();

	for (i = 0; i < 15; i++)
		b[i] = (uint8_t)rng();
	if ((q & 7) == 0)
		b[n++] = pfx[rng() % sizeof(pfx)];
	if (mode64 && ((q >> 3) & 15) == 0)
		b[n++] = (uint8_t)(0x40 | (rng() & 0xf));
	switch ((q >> 7) & 7) {
	case 0: map = 1; break;
	case 1: case 2: map = 3; break;
	case 3: map = (int)(rng() & 0x1f); break;
	default: map = 2; break;
	}
	v = n;
	if ((q >> 10) & 3) {
		b[n] = 0xc4;
		b[n + 1] = (uint8_t)((b[n + 1] & 0xe0) | map);
		b[n + 2] &= ((q >> 12) & 7) ? 0xfb : 0xff;	/* L */
		n += 3;
	} else {
		b[n] = 0xc5;
		b[n + 1] &= ((q >> 12) & 7) ? 0xfb : 0xff;
		n += 2;
		map = 1;
	}
	if (!mode64 && ((q >> 15) & 7))
		b[v + 1] |= 0xc0;
	if (map == 2 && ((q >> 18) & 3))
		b[n] = (uint8_t)(0xf0 | (t & 7));
	else if (map == 3 && ((q >> 18) & 1))
		b[n] = 0xf0;
	else
		b[n] = (uint8_t)t;
	modrm_bias(b, n + 1, r);
}

/* ModRM at b[n]: 1/4 SIB, 1/8 mod 0 rm 5 (disp32 / RIP). */
static void
modrm_bias(uint8_t b[15], int n, uint32_t r)
{
	switch ((r >> 5) & 7) {
	case 0:
	case 1:
		b[n] = (uint8_t)((b[n] & 0xf8) | 4);
		/* SIB: 1/4 base 5 (no base with mod 0), 1/4 index 4 (none) */
		if (((r >> 8) & 3) == 0)
			b[n + 1] = (uint8_t)((b[n + 1] & 0xf8) | 5);
		else if (((r >> 8) & 3) == 1)
			b[n + 1] = (uint8_t)((b[n + 1] & 0xc7) | 0x20);
		break;
	case 2:
		b[n] = (uint8_t)((b[n] & 0x38) | 5);
		break;
	default:
		break;
	}
}

/* ---- comparing one decode ---- */

enum kind {
	K_EMU_ONLY, K_ZYDIS_ONLY, K_TOOLONG, K_LEN, K_MNEMONIC, K_OPSIZE, K_ADDRSIZE,
	K_MEM, K_REG, K_RM, K_VVVV, K_IMM, K_PREFIX, K_COUNT
};
static const char *const kind_name[K_COUNT] = {
	"emu decodes, Zydis rejects", "Zydis decodes, emu rejects", "15-byte limit",
	"length", "operation", "operand size", "address size", "memory operand",
	"reg operand", "r/m operand", "VEX.vvvv operand", "immediate", "LOCK/REP",
};

struct stats {
	long	cases, both_valid, compared;
	struct { const char *why; long n; } exp[32];	/* expected disagreements */
	long	bad[K_COUNT];
	int	shown[K_COUNT];
	uint8_t	seen[K_COUNT][4][256];
};

/* Mismatches printed per kind (one per opcode); LHYVE_ORACLE_SHOW=N for more. */
static int max_shown = 5;

static ZydisFormatter fmt;

static void
expect(struct stats *s, const char *why)
{
	int i;

	for (i = 0; i < 32 && s->exp[i].why != NULL && s->exp[i].why != why; i++)
		;
	if (i < 32) {
		s->exp[i].why = why;
		s->exp[i].n++;
	}
}

static void
report(enum kind k, struct stats *s, const struct oracle_mode *m, const uint8_t *b,
    int rc, const struct emu_insn *in, ZyanStatus zs, const ZydisDecodedInstruction *zi,
    const ZydisDecodedOperand *zo, const char *what)
{
	char text[256] = "";
	int i;
	uint8_t op = rc == 0 ? in->opcode : ZYAN_SUCCESS(zs) ? zi->opcode : 0;
	uint8_t map = rc == 0 ? in->map : ZYAN_SUCCESS(zs) ? (zi->opcode_map & 3) : 0;

	/* the first few of each kind, one per opcode */
	s->bad[k]++;
	if (s->shown[k] >= max_shown || s->seen[k][map][op])
		return;
	s->seen[k][map][op] = 1;
	s->shown[k]++;
	if (ZYAN_SUCCESS(zs))
		ZydisFormatterFormatInstruction(&fmt, zi, zo, zi->operand_count_visible,
		    text, sizeof(text), ZYDIS_RUNTIME_ADDRESS_NONE, NULL);
	fprintf(stderr, "mode %s: %s%s%s\n  bytes:", m->name, kind_name[k],
	    what ? ": " : "", what ? what : "");
	for (i = 0; i < 15; i++)
		fprintf(stderr, " %02x", b[i]);
	if (rc == 0)
		fprintf(stderr, "\n  emu:   %s len %d map %d op %02x sub %d opsize %d addrsize %d"
		    " reg %d rm %d mem %d base %d index %d scale %d disp %" PRIx64
		    " seg %d imm %" PRIx64 " imm2 %" PRIx64 " lock %d rep %x rex %x\n",
		    fn_name(in->fn), in->len, in->map, in->opcode, in->sub, in->opsize,
		    in->addrsize, in->reg, in->rm, in->has_mem, in->base, in->index, in->scale,
		    (uint64_t)in->disp, in->seg, in->imm, in->imm2, in->lock, in->rep, in->rex);
	else
		fprintf(stderr, "\n  emu:   %s\n", rc == -EILSEQ ? "-EILSEQ (#UD)" :
		    rc == -E2BIG ? "-E2BIG (#GP)" : "error");
	if (ZYAN_SUCCESS(zs))
		fprintf(stderr, "  zydis: %s (len %d, opwidth %d, addrwidth %d, isa %s)\n",
		    text, zi->length, zi->operand_width, zi->address_width,
		    ZydisISASetGetString(zi->meta.isa_set));
	else
		fprintf(stderr, "  zydis: invalid (status %x)\n", zs);
}

/* Zydis GPR for emu's register number @r at @size bytes (AH-BH without REX). */
static ZydisRegister
zgpr(int r, int size, int rex)
{
	static const ZydisRegisterClass cls[9] = {
		[1] = ZYDIS_REGCLASS_GPR8, [2] = ZYDIS_REGCLASS_GPR16,
		[4] = ZYDIS_REGCLASS_GPR32, [8] = ZYDIS_REGCLASS_GPR64,
	};

	if (size == 1 && !rex && r >= 4 && r < 8)
		return (ZydisRegister)(ZYDIS_REGISTER_AH + (r - 4));
	if (size == 1)
		return r < 4 ? (ZydisRegister)(ZYDIS_REGISTER_AL + r) :
		    r < 8 ? (ZydisRegister)(ZYDIS_REGISTER_SPL + (r - 4)) :
		    (ZydisRegister)(ZYDIS_REGISTER_R8B + (r - 8));
	return ZydisRegisterEncode(cls[size], (ZyanU8)r);
}

/* emu register number of a Zydis address register, EMU_REG_RIP, EMU_REG_NONE. */
static int
areg(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_NONE)
		return EMU_REG_NONE;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP)
		return EMU_REG_RIP;
	return ZydisRegisterGetId(r);
}

/* Is Zydis register @zr what emu's number @r names, for a register of @zr's class? */
static bool
same_reg(ZydisRegister zr, int r, const struct emu_insn *in)
{
	ZydisRegisterClass c = ZydisRegisterGetClass(zr);

	switch (c) {
	case ZYDIS_REGCLASS_GPR8:
		return zr == zgpr(r, 1, in->rex);
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
	case ZYDIS_REGCLASS_GPR64:
	case ZYDIS_REGCLASS_CONTROL:
	case ZYDIS_REGCLASS_DEBUG:
	case ZYDIS_REGCLASS_SEGMENT:
		return ZydisRegisterGetId(zr) == r;
	case ZYDIS_REGCLASS_X87:
		/* ST(i): REX.B does not extend it */
		return ZydisRegisterGetId(zr) == (r & 7);
	default:
		return false;
	}
}

static uint64_t
sext_bits(uint64_t v, int bits)
{
	int sh = 64 - bits;

	return bits >= 64 || bits == 0 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

static bool is_string_op(emu_op_fn *fn)
{
	return fn == op_movs || fn == op_cmps || fn == op_stos || fn == op_lods ||
	    fn == op_scas || fn == op_ins || fn == op_outs;
}

/*
 * Zydis 4.0 bug: with 67 in 64-bit mode and REX.B, SIB.base = 101 with
 * mod = 00 still means "disp32, no base" (SDM Vol. 2A 2.2.1.2 table 2-5:
 * REX.B does not change it); Zydis reads the disp32 but names R13D as the
 * base and drops the displacement.  objdump and hardware agree with emu.
 */
static bool
zydis_sib_bug(const ZydisDecodedInstruction *zi, const struct emu_insn *in)
{
	return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 && in->addrsize == 4 &&
	    (in->rex & 0x1) && (zi->attributes & ZYDIS_ATTRIB_HAS_SIB) &&
	    zi->raw.modrm.mod == 0 && zi->raw.sib.base == 5 && in->base == EMU_REG_NONE;
}

/* Compare the details of an implemented instruction both decoded. */
static void
compare_semantics(struct stats *s, const struct oracle_mode *m, const uint8_t *b,
    const struct emu_insn *in, ZyanStatus zs, const ZydisDecodedInstruction *zi,
    const ZydisDecodedOperand *zo)
{
#define BAD(k, what) report(k, s, m, b, 0, in, zs, zi, zo, what)
	const struct mnmap *mm = mn_lookup(in);
	const ZydisDecodedOperand *mem = NULL, *zreg = NULL, *zrm = NULL, *zv = NULL;
	bool mode64 = m->emu == EMU_MODE_LONG64;
	int i, j;
	bool ok;

	s->compared++;
	/*
	 * MMX/SSE: one handler per register file, the operation in in->sub
	 * (sse.h).  tests/diff/test_sse_diff.c runs every form's bytes on the
	 * host CPU and compares the results, which checks operation, operands
	 * and sizes; here the oracle checks validity and length.
	 */
	if (in->fn == op_sse || in->fn == op_mmx)
		return;
	if (mm == NULL) {
		BAD(K_MNEMONIC, "no line in mnmap[] for this handler");
	} else {
		for (ok = false, j = 0; j < 5; j++)
			ok |= mm->mn[j] != ZYDIS_MNEMONIC_INVALID && mm->mn[j] == zi->mnemonic;
		if (mm->flags & O_X87)
			ok = zi->meta.isa_set == ZYDIS_ISA_SET_X87 ||
			    zi->meta.isa_set == ZYDIS_ISA_SET_FCMOV ||
			    zi->meta.isa_set == ZYDIS_ISA_SET_SSE3X87 ||
			    zi->meta.isa_set == ZYDIS_ISA_SET_SSE3 ||
			    zi->meta.isa_set == ZYDIS_ISA_SET_PPRO;
		if (!ok)
			BAD(K_MNEMONIC, NULL);
	}
	{
		int fl = mm != NULL ? mm->flags : 0, os = in->opsize * 8, zw = zi->operand_width;

		/*
		 * VEX GPR instructions exist in r32 and r64 forms only (SDM
		 * Vol. 2A/2B ANDN...: 66 before VEX is #UD, so nothing selects
		 * 16 bits).  In 16-bit code Zydis still reports the legacy
		 * operand width, 16, but decodes 32-bit registers: compare
		 * with the width of its first (destination) operand.
		 */
		if (zi->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX)
			zw = zo[0].size;

		/* both clamp: Zydis names INSD/OUTSD but says 64 with REX.W */
		if ((fl & O_IO32) && os > 32)
			os = 32;
		if ((fl & O_IO32) && zw > 32)
			zw = 32;
		if (!(fl & O_NOSIZE) && !((fl & O_NOSIZE64) && mode64) && zw != os)
			BAD(K_OPSIZE, NULL);
	}
	if (zi->address_width != in->addrsize * 8)
		BAD(K_ADDRSIZE, NULL);

	for (i = 0; i < zi->operand_count; i++) {
		const ZydisDecodedOperand *o = &zo[i];

		if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
			continue;
		if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem = o;
		else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG)
			zreg = o;
		else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM ||
		    o->encoding == ZYDIS_OPERAND_ENCODING_OPCODE))
			zrm = o;
		else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    o->encoding == ZYDIS_OPERAND_ENCODING_NDSNDD)
			zv = o;
	}

	/* memory operand */
	if ((mem != NULL) != (in->has_mem != 0)) {
		BAD(K_MEM, "presence");
	} else if (mem != NULL) {
		uint64_t am = emu_size_mask(in->addrsize);
		int zseg = ZydisRegisterGetId(mem->mem.segment);

		if (areg(mem->mem.base) != in->base && zydis_sib_bug(zi, in))
			expect(s, "Zydis: 67 REX.B SIB base 5 mod 0 read as r13d");
		else if (areg(mem->mem.base) != in->base)
			BAD(K_MEM, "base");
		else if (areg(mem->mem.index) != in->index)
			BAD(K_MEM, "index");
		else if (in->index != EMU_REG_NONE && mem->mem.scale != (1 << in->scale))
			BAD(K_MEM, "scale");
		else if (((uint64_t)mem->mem.disp.value & am) != ((uint64_t)in->disp & am))
			BAD(K_MEM, "displacement");
		else if (zseg != in->seg && !(mm != NULL && (mm->flags & O_NOSEG)))
			BAD(K_MEM, "segment");
	}
	if (zreg != NULL && !same_reg(zreg->reg.value, in->reg, in))
		BAD(K_REG, NULL);
	if (zrm != NULL && !in->has_mem && !same_reg(zrm->reg.value, in->rm, in))
		BAD(K_RM, NULL);
	/* VEX.vvvv: the register it names, or 0 (1111b) where it is unused */
	if ((zv != NULL) != (in->vex && zi->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX &&
	    zv != NULL) || (zv == NULL && in->vex_vvvv != 0) ||
	    (zv != NULL && !same_reg(zv->reg.value, in->vex_vvvv, in)))
		BAD(K_VVVV, NULL);

	/* immediates, by the conventions at the top of decode.c */
	{
		uint64_t want = 0, want2 = 0;
		const ZydisDecodedInstructionRaw *r = &zi->raw;

		if (r->imm[0].size) {
			want = r->imm[0].value.u;
			if (r->imm[0].is_signed)
				want = sext_bits(want, r->imm[0].size);
			if (!r->imm[0].is_relative)
				want &= emu_size_mask(in->opsize);
		}
		if (r->imm[1].size)
			want2 = r->imm[1].value.u;
		if (in->imm != want || in->imm2 != want2)
			BAD(K_IMM, NULL);
	}

	/* prefixes */
	if (!!in->lock != !!(zi->attributes & ZYDIS_ATTRIB_HAS_LOCK))
		BAD(K_PREFIX, "lock");
	if (is_string_op(in->fn)) {
		bool zrep = zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
		bool zrepne = zi->attributes & ZYDIS_ATTRIB_HAS_REPNE;

		if ((in->rep == 0xf3) != zrep || (in->rep == 0xf2) != zrepne)
			BAD(K_PREFIX, "rep");
	}
#undef BAD
}

static void
one_case(struct stats *s, const struct oracle_mode *m, const ZydisDecoder *zd,
    const uint8_t *b)
{
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	struct emu_insn in;
	ZyanStatus zs;
	const char *why;
	int rc;
	bool ev, zv;

	s->cases++;
	rc = emu_decode(b, 15, m->emu, &in);
	zs = ZydisDecoderDecodeFull(zd, b, 15, &zi, zo);
	/* Past 15 bytes: emu -E2BIG (#GP(0)), Zydis "too long" (or out of our 15 bytes). */
	if (rc == -E2BIG || zs == ZYDIS_STATUS_INSTRUCTION_TOO_LONG ||
	    zs == ZYDIS_STATUS_NO_MORE_DATA) {
		if (rc != -E2BIG || (zs != ZYDIS_STATUS_INSTRUCTION_TOO_LONG &&
		    zs != ZYDIS_STATUS_NO_MORE_DATA))
			report(K_TOOLONG, s, m, b, rc, &in, zs, &zi, zo, NULL);
		return;
	}
	ev = rc == 0 && !handler_always_ud(&in, m->emu);
	zv = ZYAN_SUCCESS(zs);
	if (ev && !zv) {
		if ((why = exp_emu_only(&in, m->emu)) != NULL)
			expect(s, why);
		else
			report(K_EMU_ONLY, s, m, b, rc, &in, zs, &zi, zo, NULL);
		return;
	}
	if (!ev && zv) {
		if ((why = exp_zydis_only(&zi, m->emu)) != NULL)
			expect(s, why);
		else
			report(K_ZYDIS_ONLY, s, m, b, rc, &in, zs, &zi, zo, NULL);
		return;
	}
	if (!ev)
		return;
	s->both_valid++;
	if (in.len != zi.length) {
		report(K_LEN, s, m, b, rc, &in, zs, &zi, zo, NULL);
		return;
	}
	if (in.fn != op_unimpl)
		compare_semantics(s, m, b, &in, zs, &zi, zo);
}

/* Zydis must initialise: a failure is a broken test host, not a decoder bug. */
#define VERIFY_Z(x) do {						\
	if (!ZYAN_SUCCESS(x)) {						\
		fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);	\
		abort();						\
	}								\
} while (0)

static void zydis_init(ZydisDecoder *zd, const struct oracle_mode *m);
static void summary(const struct stats *s, const struct oracle_mode *m, const char *vx);

static long
case_count(long ci)
{
	const char *l = getenv("LHYVE_LONG");

	if (getenv("LHYVE_ORACLE_SHOW") != NULL)
		max_shown = atoi(getenv("LHYVE_ORACLE_SHOW"));

	return l != NULL && strcmp(l, "1") == 0 ? ci * 50 : ci;
}

static void
run_mode(const struct oracle_mode *m, long n, bool vex)
{
	ZydisDecoder zd;
	struct stats s;
	uint8_t b[15];
	long t;

	memset(&s, 0, sizeof(s));
	zydis_init(&zd, m);
	rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)m->emu ^ (vex ? 0x564558ULL << 32 : 0);
	for (t = 0; t < n; t++) {
		if (vex)
			gen_vex(b, m->emu == EMU_MODE_LONG64, (uint32_t)t);
		else
			gen(b, m->emu == EMU_MODE_LONG64, (uint32_t)t);
		one_case(&s, m, &zd, b);
	}
	summary(&s, m, vex ? " VEX" : "");
}

static void
zydis_init(ZydisDecoder *zd, const struct oracle_mode *m)
{
	/*
	 * Plain Zydis: Intel branches (not AMD), and the modes that reuse NOP
	 * space for extensions lhyve does not advertise (MPX, CET, CLDEMOTE)
	 * off, as on a CPU without them.  LZCNT and TZCNT (F3 0F BD/BC, BSR
	 * and BSF without ABM/BMI1) are on: vmm_cpuid.c advertises both.
	 */
	VERIFY_Z(ZydisDecoderInit(zd, m->zmode, m->zstack));
	ZydisDecoderEnableMode(zd, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
	ZydisDecoderEnableMode(zd, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
	ZydisDecoderEnableMode(zd, ZYDIS_DECODER_MODE_CLDEMOTE, ZYAN_FALSE);
	ZydisDecoderEnableMode(zd, ZYDIS_DECODER_MODE_LZCNT, ZYAN_TRUE);
	ZydisDecoderEnableMode(zd, ZYDIS_DECODER_MODE_TZCNT, ZYAN_TRUE);
	ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
}

static void
summary(const struct stats *s, const struct oracle_mode *m, const char *vx)
{
	int k;

	fprintf(stderr, "mode %s%s: %ld cases, %ld valid in both, %ld compared in detail\n",
	    m->name, vx, s->cases, s->both_valid, s->compared);
	for (k = 0; k < 32 && s->exp[k].why != NULL; k++)
		fprintf(stderr, "mode %s%s:   expected: %ld x %s\n", m->name, vx, s->exp[k].n,
		    s->exp[k].why);
	for (k = 0; k < K_COUNT; k++) {
		if (s->bad[k] != 0)
			fprintf(stderr, "mode %s%s: %ld unexplained: %s\n", m->name, vx, s->bad[k],
			    kind_name[k]);
		CHECK_EQ(s->bad[k], 0);
	}
}

TEST(decode_oracle_64)
{
	run_mode(&modes[0], case_count(50000), false);
	run_mode(&modes[0], case_count(10000), true);
}

TEST(decode_oracle_32)
{
	run_mode(&modes[1], case_count(50000), false);
	run_mode(&modes[1], case_count(10000), true);
}

TEST(decode_oracle_16)
{
	run_mode(&modes[2], case_count(25000), false);
	run_mode(&modes[3], case_count(25000), false);
	run_mode(&modes[2], case_count(5000), true);
	run_mode(&modes[3], case_count(5000), true);
}

/*
 * Every handler the random cases reach rarely, at least once: the
 * instructions of the isa branch in register and memory forms, high
 * registers, VEX.W, and VEX.L = 1 / vvvv != 1111b that must be #UD.  Each
 * runs in all four modes (where it is invalid, validity is what is compared).
 */
static const char *const directed[] = {
	"f30fb8c1", "66f30fb8c1", "f3480fb8c1", "f30fbc0c24", "f30fbdc1", "66f30fbdc1",
	"0f38f001", "660f38f101", "480f38f001", "4c0f38f10401",
	"660f38f6c1", "f30f38f6c1", "66480f38f6c1", "f30f38f60401",
	"0fc7f0", "660fc7f0", "480fc7f8", "f30fc7f8", "f3480fc7f8", "660fc7f8",
	"d7", "48d7", "67d7", "27", "2f", "37", "3f", "d40a", "d50a", "60", "61",
	"6201", "63c1", "6301", "0f02c1", "0f0301", "c401", "c501", "0fb201", "0fb401",
	"0fb501", "660fb501", "480fb201",
	/* VEX: andn blsr blsmsk blsi bextr bzhi pdep pext mulx shlx sarx shrx rorx */
	"c4e270f2c2", "c4e2f0f2c2", "c4e270f3ca", "c4e270f3d2", "c4e270f3da",
	"c4e270f7c2", "c4e270f5c2", "c4e273f5c2", "c4e272f5c2", "c4e273f6c2",
	"c4e271f7c2", "c4e272f7c2", "c4e273f7c2", "c4e37bf0c105", "c4e3fbf0c1ff",
	"c46230f70424", "c4c200f2c7", "c44280f3cf", "c4e2f3f6445501",
	/* must be #UD: VEX.L = 1, RORX with vvvv != 1111b, VEX after 66/REX */
	"c4e274f2c2", "c4e373f0c105", "66c4e270f2c2", "48c4e270f2c2",
};

TEST(decode_oracle_directed)
{
	ZydisDecoder zd;
	struct stats s;
	uint8_t b[15];
	size_t i, j;
	int k;

	for (k = 0; k < 4; k++) {
		memset(&s, 0, sizeof(s));
		zydis_init(&zd, &modes[k]);
		for (i = 0; i < sizeof(directed) / sizeof(directed[0]); i++) {
			memset(b, 0x90, sizeof(b));
			for (j = 0; directed[i][2 * j] != '\0'; j++)
				sscanf(directed[i] + 2 * j, "%2hhx", &b[j]);
			one_case(&s, &modes[k], &zd, b);
		}
		summary(&s, &modes[k], " directed");
	}
}

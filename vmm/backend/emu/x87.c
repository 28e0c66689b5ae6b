/*
 * x87.c - the x87 FPU of the software CPU: the D8-DF escapes, FWAIT (9B),
 * FXSAVE/FXRSTOR (0F AE /0 /1), SDM Vol. 1 chapter 8, Vol. 2 instruction
 * pages.
 *
 * State.  The architectural x87 state lives in st.fxsave[] in the FXSAVE64
 * layout (SDM Vol. 1 10.5.1, table 10-2): FCW at 0, FSW at 2, the abridged
 * tag word at 4 (bit i: physical register R(i) not empty), FOP at 6, FIP
 * at 8 and FDP at 16 as 64-bit offsets, ST(0)..ST(7) at 32 + 16 * i.  FCS
 * and FDS are not kept: the emulated CPU behaves as one with
 * CPUID.(EAX=07H,ECX=0):EBX[13] = 1 ("FPU CS and FPU DS deprecated", saved
 * as 0), as current Intel processors do.  MXCSR (24) and the XMM registers
 * (160) belong to the SSE files; FXSAVE/FXRSTOR here copy them.
 *
 * Execution (docs/cpu.md, "x87").  Every computing instruction runs on the
 * host's own x87 unit, with the guest's whole x87 state loaded: the host
 * state is saved (FXSAVE64), the guest image loaded (FXRSTOR64), the
 * instruction itself executed from a stub (the same opcode and ModRM, a
 * memory operand rewritten to [rdi] pointing to a buffer that holds the
 * guest's operand), the result saved back (FXSAVE64) and the host state
 * restored (FXRSTOR64).  So precision control, rounding, denormals,
 * pseudo-denormals, unsupported encodings, masked responses, the biased
 * results of unmasked overflow/underflow, FPREM's partial remainders, BCD
 * and the transcendentals are the hardware's, bit for bit.  No host state
 * leaks either way: the guest image is a private copy, and the host's x87,
 * MXCSR and XMM state are restored after each instruction.  Consecutive
 * x87 instructions share one load and one save instead ("the session",
 * below): the guest's state stays in the host unit until the block ends.
 *
 * The host must never take an exception for the guest: invalid encodings
 * are #UD here before anything runs (the stubs exist only for valid ones),
 * a waiting instruction with an unmasked exception pending raises #MF in the
 * guest before the host sees it, and no waiting instruction follows the
 * guest's in the stub (FXSAVE does not check for pending exceptions), so an
 * unmasked exception the instruction raises stays pending in the guest's
 * image.
 *
 * In C: FNSTENV/FLDENV/FNSAVE/FRSTOR (their real-mode and 16-bit formats
 * exist only here), FNSTSW, FNSTCW, FWAIT, FXSAVE/FXRSTOR and the #NM, #MF
 * and pointer (FIP/FDP/FOP) rules.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "family.h"
#include "machine.h"
#include "vmm_cpuid.h"

/* Offsets in the FXSAVE image (SDM Vol. 1 table 10-2). */
#define FX_FCW		0
#define FX_FSW		2
#define FX_FTW		4
#define FX_FOP		6
#define FX_FIP		8
#define FX_FDP		16
#define FX_MXCSR	24
#define FX_MXCSR_MASK	28
#define FX_ST		32
#define FX_XMM		160

/* FSW bits (SDM Vol. 1 8.1.3). */
#define FSW_IE		0x0001
#define FSW_EXC		0x003f		/* IE DE ZE OE UE PE */
#define FSW_SF		0x0040
#define FSW_ES		0x0080
#define FSW_B		0x8000
#define FSW_TOP_SHIFT	11

/*
 * MXCSR bits that FXRSTOR/LDMXCSR accept (the MXCSR_MASK field): DAZ is
 * supported, as on every processor since the Pentium 4 (SDM Vol. 1
 * 11.6.6); the SSE files check LDMXCSR against the same mask.
 */
#define EMU_MXCSR_MASK	0x0000ffffu

/* ---- the host stubs ---- */

/*
 * One 8-byte stub per opcode D8-DF and ModRM byte: the instruction, then
 * RET (an ENDBR64 first when built for CET).  Register forms use their own
 * ModRM; a memory form uses ModRM mod = 00, r/m = 111: [rdi].  Only valid
 * encodings are ever called.
 */
#ifdef __CET__
#define X87_ENDBR	"endbr64\n\t"
#define X87_STUB_OFF	4
#else
#define X87_ENDBR
#define X87_STUB_OFF	0
#endif
__asm__(
	".pushsection .text.emu_x87_stubs,\"ax\",@progbits\n\t"
	".balign 64\n\t"
	".globl emu_x87_stubs\n\t"
	".hidden emu_x87_stubs\n"
	"emu_x87_stubs:\n\t"
	".set x87_i, 0\n\t"
	".rept 2048\n\t"
	X87_ENDBR
	".byte 0xd8 + (x87_i >> 8), x87_i & 0xff, 0xc3\n\t"
	".balign 8, 0xcc\n\t"
	".set x87_i, x87_i + 1\n\t"
	".endr\n\t"
	".popsection\n");
extern const uint8_t emu_x87_stubs[];

#define X87_FOP_MARK	0x001

static inline const uint8_t *
x87_stub(int esc, int modrm)
{
	return emu_x87_stubs + 8 * ((esc << 8) | modrm);
}

/*
 * Run @stub on the host's x87 unit with the guest image @img loaded
 * (FXSAVE64 layout, 16-byte aligned; its MXCSR must be valid) and the
 * arithmetic flags of @gflags in RFLAGS (FCMOVcc reads them, FCOMI writes
 * them); @mem is the memory operand.  @img receives the resulting state;
 * returns RFLAGS after the instruction.  The host's x87/SSE state and
 * RFLAGS are as before.  The stack pointer moves past the red zone around
 * the call.
 */
static uint64_t
x87_host_exec(uint8_t *img, const uint8_t *stub, void *mem, uint64_t gflags)
{
	uint8_t host[512] __attribute__((aligned(16)));
	uint64_t fl;

	__asm__ volatile(
	    "fxsave64 %[host]\n\t"
	    "fxrstor64 %[img]\n\t"
	    "lea -128(%%rsp), %%rsp\n\t"
	    "pushfq\n\t"
	    "andq %[keep], (%%rsp)\n\t"
	    "orq %[gfl], (%%rsp)\n\t"
	    "popfq\n\t"
	    "call *%[stub]\n\t"
	    "pushfq\n\t"
	    "popq %[fl]\n\t"
	    "lea 128(%%rsp), %%rsp\n\t"
	    "fxsave64 %[img]\n\t"
	    "fxrstor64 %[host]\n\t"
	    : [fl] "=&r" (fl), [host] "=m" (*(uint8_t (*)[512])host),
	      [img] "+m" (*(uint8_t (*)[512])img)
	    : [stub] "r" (stub), "D" (mem), [gfl] "r" (gflags & RFL_ARITH),
	      [keep] "i" (~(int64_t)RFL_ARITH)
	    : "memory", "cc");
	return fl;
}

/* ---- classification ---- */

enum x87_kind {
	XK_INV,		/* #UD */
	XK_HOST,	/* run on the host, waiting */
	XK_HOST_NW,	/* run on the host, no wait (FNCLEX, FNINIT) */
	XK_LOAD,	/* memory operand read, then run on the host */
	XK_STORE,	/* run on the host, then the operand written */
	XK_NOP,		/* FENI FDISI FSETPM: ignored since the 80387 */
	XK_STSW_AX,	/* FNSTSW AX */
	XK_STSW,	/* FNSTSW m16 */
	XK_STCW,	/* FNSTCW m16 */
	XK_STENV,	/* FNSTENV */
	XK_LDENV,	/* FLDENV */
	XK_SAVE,	/* FNSAVE */
	XK_RSTOR,	/* FRSTOR */
};

struct x87_mdesc {
	uint8_t	kind;
	uint8_t	size;
};

/* Memory forms by escape and ModRM.reg (SDM Vol. 2D A.5, tables A-7..A-22). */
static const struct x87_mdesc x87_mem[8][8] = {
	/* D8: FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR m32fp */
	[0] = { [0 ... 7] = { XK_LOAD, 4 } },
	/* D9: FLD m32, -, FST m32, FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW */
	[1] = { { XK_LOAD, 4 }, { XK_INV, 0 }, { XK_STORE, 4 }, { XK_STORE, 4 },
		{ XK_LDENV, 0 }, { XK_LOAD, 2 }, { XK_STENV, 0 }, { XK_STCW, 2 } },
	/* DA: FIADD ... FIDIVR m32int */
	[2] = { [0 ... 7] = { XK_LOAD, 4 } },
	/* DB: FILD FISTTP FIST FISTP m32int, -, FLD m80, -, FSTP m80 */
	[3] = { { XK_LOAD, 4 }, { XK_STORE, 4 }, { XK_STORE, 4 }, { XK_STORE, 4 },
		{ XK_INV, 0 }, { XK_LOAD, 10 }, { XK_INV, 0 }, { XK_STORE, 10 } },
	/* DC: m64fp arithmetic */
	[4] = { [0 ... 7] = { XK_LOAD, 8 } },
	/* DD: FLD m64, FISTTP m64, FST m64, FSTP m64, FRSTOR, -, FNSAVE, FNSTSW */
	[5] = { { XK_LOAD, 8 }, { XK_STORE, 8 }, { XK_STORE, 8 }, { XK_STORE, 8 },
		{ XK_RSTOR, 0 }, { XK_INV, 0 }, { XK_SAVE, 0 }, { XK_STSW, 2 } },
	/* DE: m16int arithmetic */
	[6] = { [0 ... 7] = { XK_LOAD, 2 } },
	/* DF: FILD FISTTP FIST FISTP m16int, FBLD, FILD m64, FBSTP, FISTP m64 */
	[7] = { { XK_LOAD, 2 }, { XK_STORE, 2 }, { XK_STORE, 2 }, { XK_STORE, 2 },
		{ XK_LOAD, 10 }, { XK_LOAD, 8 }, { XK_STORE, 10 }, { XK_STORE, 8 } },
};

/*
 * Register forms by escape and ModRM & 0x3f.  The undocumented aliases
 * that Intel and AMD processors execute are valid (as in XED and Zydis):
 * FSTP1 (D9 D8+i), FCOM2 (DC D0+i), FCOMP3 (DC D8+i), FXCH4 (DD C8+i),
 * FCOMP5 (DE D0+i), FFREEP (DF C0+i), FXCH7 (DF C8+i), FSTP8/9 (DF D0+i,
 * D8+i).
 */
static uint8_t
x87_reg_kind(int esc, int m)
{
	switch (esc) {
	case 0: case 4:
		return XK_HOST;
	case 1:
		if ((m >= 0x11 && m <= 0x17) || m == 0x22 || m == 0x23 ||
		    m == 0x26 || m == 0x27 || m == 0x2f)
			return XK_INV;
		return XK_HOST;
	case 2:
		return m < 0x20 || m == 0x29 ? XK_HOST : XK_INV;
	case 3:
		if (m < 0x20 || (m >= 0x28 && m < 0x38))
			return XK_HOST;
		if (m == 0x22 || m == 0x23)
			return XK_HOST_NW;
		if (m == 0x20 || m == 0x21 || m == 0x24)
			return XK_NOP;
		return XK_INV;
	case 5:
		return m < 0x30 ? XK_HOST : XK_INV;
	case 6:
		return m == 0x18 || (m >= 0x1a && m < 0x20) ? XK_INV : XK_HOST;
	default:
		if (m < 0x20 || (m >= 0x28 && m < 0x38))
			return XK_HOST;
		return m == 0x20 ? XK_STSW_AX : XK_INV;
	}
}

/* For tests/unit/test_decode_oracle.c: does @in always raise #UD? */
bool
emu_x87_invalid(const struct emu_insn *in)
{
	int esc = in->opcode - 0xd8;

	if (in->fn != op_x87)
		return false;
	if (in->has_mem)
		return x87_mem[esc][in->sub & 7].kind == XK_INV;
	return x87_reg_kind(esc, (in->sub & 7) << 3 | (in->rm & 7)) == XK_INV;
}

/* ---- state helpers ---- */

static inline uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/*
 * Tag of an 80-bit register (SDM Vol. 1 8.1.7, and table 10-? "recreating
 * FSAVE format" of FXSAVE): 0 valid, 1 zero, 2 special (NaN, infinity,
 * denormal, pseudo-denormal, unnormal and the other unsupported encodings).
 */
static int
x87_tag_of(const uint8_t *r)
{
	uint64_t m = get64(r);
	unsigned e = get16(r + 8) & 0x7fff;

	if (e == 0x7fff)
		return 2;
	if (e == 0)
		return m == 0 ? 1 : 2;
	return (m >> 63) ? 0 : 2;
}

/* The full tag word from the abridged one, by physical register. */
static uint16_t
x87_full_ftw(const uint8_t *fx)
{
	unsigned top = (get16(fx + FX_FSW) >> FSW_TOP_SHIFT) & 7;
	uint16_t ftw = 0;
	int i, t;

	for (i = 0; i < 8; i++) {
		if (!(fx[FX_FTW] & (1u << i)))
			t = 3;
		else
			t = x87_tag_of(fx + FX_ST + 16 * ((i - top) & 7));
		ftw |= (uint16_t)(t << (2 * i));
	}
	return ftw;
}

static uint8_t
x87_abridged_ftw(uint16_t ftw)
{
	uint8_t a = 0;
	int i;

	for (i = 0; i < 8; i++)
		if (((ftw >> (2 * i)) & 3) != 3)
			a |= (uint8_t)(1u << i);
	return a;
}

/*
 * FNINIT (SDM Vol. 2A FINIT): FCW 037FH, FSW 0, all tags empty, FOP FIP
 * FDP 0; the registers keep their contents.
 */
/*
 * Give FSW.TOP the value @fsw holds.  The image keeps registers in stack
 * order (ST(i) at FX_ST + 16 * i), the hardware by physical register
 * (R(i) = ST((i - TOP) & 7)): a new TOP without a push or pop (FNINIT,
 * FLDENV) moves the image's registers so that each physical register
 * keeps its contents.
 */
static void
x87_set_fsw(uint8_t *fx, uint16_t fsw)
{
	unsigned otop = (get16(fx + FX_FSW) >> FSW_TOP_SHIFT) & 7;
	unsigned ntop = (fsw >> FSW_TOP_SHIFT) & 7;
	uint8_t tmp[128];
	unsigned i;

	if (otop != ntop) {
		memcpy(tmp, fx + FX_ST, sizeof(tmp));
		for (i = 0; i < 8; i++)
			memcpy(fx + FX_ST + 16 * ((otop + i - ntop) & 7), tmp + 16 * i, 16);
	}
	put16(fx + FX_FSW, fsw);
}

static void
x87_init(uint8_t *fx)
{
	x87_set_fsw(fx, 0);
	put16(fx + FX_FCW, 0x037f);
	fx[FX_FTW] = 0;
	fx[FX_FTW + 1] = 0;
	put16(fx + FX_FOP, 0);
	put64(fx + FX_FIP, 0);
	put64(fx + FX_FDP, 0);
}

/*
 * FCW and FSW as a state load (FLDCW, FLDENV, FRSTOR, FXRSTOR) leaves
 * them, measured on Intel: FCW bits 6 (reads as 1), 7 and 13-15 are
 * reserved (FCW = value & 1F3FH | 0040H); ES and B say whether an unmasked
 * exception flag is set.
 */
static void
x87_load_cw_sw(uint8_t *fx, uint16_t fcw, uint16_t fsw)
{
	fcw = (uint16_t)((fcw & 0x1f3f) | 0x0040);
	fsw &= (uint16_t)~(FSW_ES | FSW_B);
	if (fsw & ~fcw & FSW_EXC)
		fsw |= FSW_ES | FSW_B;
	put16(fx + FX_FCW, fcw);
	x87_set_fsw(fx, fsw);
}

/*
 * Device not available (SDM Vol. 3A 2.5, table 2-2): an ESC instruction
 * faults with CR0.EM or CR0.TS.
 */
static inline bool
x87_nm(const struct emu_cpu *cpu)
{
	return (cpu->st.cr0 & (CR0_EM | CR0_TS)) != 0;
}

/*
 * An unmasked exception is pending: an exception flag whose mask is clear.
 * The hardware decides by the flags, not by ES (measured: a state loaded
 * with ES set and no unmasked flag runs, and FXRSTOR/FLDENV/FRSTOR
 * recompute ES and B from the flags, see x87_load_cw_sw).
 */
static inline bool
x87_pending(const uint8_t *fx)
{
	uint16_t fsw = get16(fx + FX_FSW), fcw = get16(fx + FX_FCW);

	return (fsw & ~fcw & FSW_EXC) != 0;
}

/*
 * A waiting instruction finds an exception pending (SDM Vol. 1 8.7): with
 * CR0.NE it is #MF, taken before the instruction executes.  Without NE the
 * processor asserts FERR#, which the PC/AT routes to IRQ 13 (Vol. 1 D.2.1;
 * libvmm's intr_src.ferr, cleared by a write to port F0H): the instruction
 * then runs as if IGNNE# were asserted, the pending flags unchanged, and
 * the interrupt comes after it.  Returns EMU_FAULT or EMU_OK; *strip
 * receives the bits to hide from the host while it runs.
 */
static int
x87_wait_check(struct emu_cpu *cpu, uint16_t *strip)
{
	const uint8_t *fx = cpu->st.fxsave;
	uint16_t fsw = get16(fx + FX_FSW), fcw = get16(fx + FX_FCW);

	*strip = 0;
	if (!x87_pending(fx))
		return EMU_OK;
	if (cpu->st.cr0 & CR0_NE)
		return emu_raise(cpu, IDT_MF);
	if (cpu->intr_src.ferr != NULL)
		cpu->intr_src.ferr(cpu->intr_src.arg);
	*strip = (uint16_t)(fsw & ~fcw & FSW_EXC);
	return EMU_OK;
}

/* The opcode byte and ModRM of @in, for FOP (SDM Vol. 1 8.1.8). */
static uint16_t
x87_fop(const struct emu_insn *in)
{
	int i;

	for (i = 0; i < in->len - 1; i++)
		if (in->bytes[i] >= 0xd8 && in->bytes[i] <= 0xdf)
			return (uint16_t)(((in->bytes[i] & 7) << 8) | in->bytes[i + 1]);
	return 0;
}

/*
 * Run the instruction on the host (see the top of the file) and commit its
 * x87 state, writing the memory operand first for a store.  @buf holds the
 * operand of a load.
 */
static int
x87_run_host(struct emu_cpu *cpu, const struct emu_insn *in, int kind, int size,
    uint64_t ea, uint8_t *buf, uint16_t strip)
{
	uint8_t img[512] __attribute__((aligned(64)));
	uint8_t img2[512] __attribute__((aligned(64)));
	uint8_t buf2[16] __attribute__((aligned(16)));
	uint8_t *fx = cpu->st.fxsave;
	const uint8_t *stub;
	uint64_t fip_mark, fdp_mark, fl, gfl = 0;
	int esc = in->opcode - 0xd8, rc;
	bool flags_io;

	stub = x87_stub(esc, in->has_mem ? ((in->sub & 7) << 3) | 7 :
	    0xc0 | ((in->sub & 7) << 3) | (in->rm & 7));
	/*
	 * The guest image, with marks in FIP and FDP that tell afterwards
	 * whether the instruction replaced them (with the stub's address,
	 * the buffer's address, or 0 for FNINIT) or left them.
	 */
	memcpy(img, fx, FX_XMM);
	memset(img + FX_XMM, 0, sizeof(img) - FX_XMM);
	put32(img + FX_MXCSR, 0x1f80);
	put32(img + FX_MXCSR_MASK, 0);
	fip_mark = (uint64_t)(uintptr_t)stub + 1;
	fdp_mark = (uint64_t)(uintptr_t)buf + 1;
	put64(img + FX_FIP, fip_mark);
	put64(img + FX_FDP, fdp_mark);
	/* D8 01, a memory form no stub uses: FOP left alone shows as this */
	put16(img + FX_FOP, X87_FOP_MARK);
	put16(img + FX_FSW, (uint16_t)(get16(img + FX_FSW) & ~strip));
	/* FCMOVcc read, FCOMI/FUCOMI(P) write ZF PF CF (DA/DB C0-DF, DB/DF E8-F7). */
	flags_io = !in->has_mem && (esc == 2 || esc == 3 || esc == 7);
	if (flags_io)
		gfl = emu_rflags(cpu);
	if (kind == XK_STORE) {
		memset(buf, 0, 16);
		memcpy(img2, img, sizeof(img2));
	}
	fl = x87_host_exec(img, stub, buf, gfl);
	if (kind == XK_STORE && (get16(img + FX_FSW) & FSW_ES)) {
		/*
		 * An unmasked exception: the store may have been suppressed
		 * (SDM Vol. 1 8.5).  Run again on another fill and keep the
		 * operand only if both runs wrote the same bytes.
		 */
		memset(buf2, 0xff, sizeof(buf2));
		x87_host_exec(img2, stub, buf2, gfl);
		if (memcmp(buf, buf2, (size_t)size) != 0)
			kind = XK_HOST;
	}
	if (kind == XK_STORE) {
		rc = emu_write(cpu, in->seg, ea, buf, size);
		if (rc != EMU_OK)
			return rc;
	}

	/* Pointers: the guest's instruction and operand, or unchanged. */
	if (get64(img + FX_FIP) == (uint64_t)(uintptr_t)(stub + X87_STUB_OFF))
		put64(img + FX_FIP, cpu->st.rip);
	else if (get64(img + FX_FIP) == fip_mark)
		put64(img + FX_FIP, get64(fx + FX_FIP));
	/*
	 * FOP: Intel processors since the Pentium 4 store it only for an
	 * instruction that raised an unmasked exception, unless the FOP
	 * compatibility mode (IA32_MISC_ENABLE[2]) is on (SDM Vol. 1
	 * 8.1.9.1): whatever the host did, with the guest's opcode.
	 */
	if (get16(img + FX_FOP) == ((stub[X87_STUB_OFF] & 7) << 8 | stub[X87_STUB_OFF + 1]))
		put16(img + FX_FOP, x87_fop(in));
	else if (get16(img + FX_FOP) == X87_FOP_MARK)
		put16(img + FX_FOP, get16(fx + FX_FOP));
	if (get64(img + FX_FDP) == (uint64_t)(uintptr_t)buf)
		put64(img + FX_FDP, ea);
	else if (get64(img + FX_FDP) == fdp_mark)
		put64(img + FX_FDP, get64(fx + FX_FDP));
	if (strip)
		put16(img + FX_FSW, (uint16_t)(get16(img + FX_FSW) | strip | FSW_ES | FSW_B));

	memcpy(fx, img, FX_MXCSR);
	memcpy(fx + FX_ST, img + FX_ST, FX_XMM - FX_ST);
	if (flags_io)
		emu_set_arith_flags(cpu, RFL_ARITH, fl & RFL_ARITH);
	return EMU_OK;
}

/*
 * ---- the session: the guest's x87 state kept in the host unit ----
 *
 * x87_host_exec costs four state images per instruction (host out, guest
 * in, guest out, host in).  Consecutive x87 instructions instead share one
 * session (struct emu_x87_live, cpu.h): the first loads the guest's x87
 * state into the host unit (host image saved; the host's MXCSR and XMM
 * registers are put in the loaded image, so only the x87 part changes),
 * each then runs its stub directly, and emu_x87_flush() saves the result
 * back and restores the host's state when the block or stepped instruction
 * ends (emu.c), or before anything else reads the x87 state (FXSAVE, XSAVE,
 * XGETBV, MMX, the environment instructions: all in x87.c and sse.c).  No
 * host code runs between two instructions of a session but the emulator's
 * own C, which does not use the x87 unit (no long double).
 *
 * A session runs only what cannot need the general path: the arithmetic,
 * loads and register forms with no unmasked exception pending (a waiting
 * stub would fault on the host), stores with every exception masked (no
 * suppressed store to detect) into RAM the guest may write (checked first,
 * so a fault changes nothing), FNSTSW and FNSTCW from the values tracked
 * after each stub.  The rest closes the session and takes x87_run_host.
 * FIP, FDP and FOP are planted with marks at the load as in x87_run_host;
 * the ring records each instruction's stub, RIP, operand address and own
 * buffer, so the stub or buffer address the host unit holds at the end
 * names the guest instruction that set it.  A full ring closes the session.
 */
#define X87_SLOW	1	/* x87_live_run: take the general path */
/*
 * The session's FXRSTOR64s load XMM0-15 too (the host's values of an
 * earlier moment): nothing the compiler keeps in them may live across.
 */
#define X87_XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
	"xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define X87_PTR_MARK	1ULL	/* FIP, FDP loaded: not replaced since */

static void
x87_live_begin(struct emu_cpu *cpu)
{
	struct emu_x87_live *lv = &cpu->x87;
	const uint8_t *fx = cpu->st.fxsave;

	__asm__ volatile("fxsave64 %0" : "=m" (lv->host));
	memcpy(lv->img, fx, FX_MXCSR);
	memcpy(lv->img + FX_MXCSR, lv->host + FX_MXCSR, 4);
	put32(lv->img + FX_MXCSR_MASK, 0);
	memcpy(lv->img + FX_ST, fx + FX_ST, FX_XMM - FX_ST);
	memcpy(lv->img + FX_XMM, lv->host + FX_XMM, sizeof(lv->img) - FX_XMM);
	put64(lv->img + FX_FIP, X87_PTR_MARK);
	put64(lv->img + FX_FDP, X87_PTR_MARK);
	put16(lv->img + FX_FOP, X87_FOP_MARK);
	__asm__ volatile("fxrstor64 %[img]\n\t"
	    "fnstsw %[sw]\n\t"
	    "fnstcw %[cw]"
	    : [sw] "=m" (lv->fsw), [cw] "=m" (lv->fcw)
	    : [img] "m" (lv->img)
	    : X87_XMM_CLOBBERS);
	lv->n = 0;
	lv->on = true;
}

void
emu_x87_writeback(struct emu_cpu *cpu)
{
	struct emu_x87_live *lv = &cpu->x87;
	uint8_t *fx = cpu->st.fxsave, *img = lv->img;
	uint64_t fip, fdp;
	uint16_t fop;
	int i;

	__asm__ volatile("fxsave64 %[img]\n\t"
	    "fxrstor64 %[host]"
	    : [img] "=m" (lv->img)
	    : [host] "m" (lv->host)
	    : X87_XMM_CLOBBERS);
	lv->on = false;
	fip = get64(img + FX_FIP);
	fdp = get64(img + FX_FDP);
	fop = get16(img + FX_FOP);
	/* FNINIT leaves 0: kept as the guest's */
	if (fip == X87_PTR_MARK) {
		fip = get64(fx + FX_FIP);
	} else if (fip != 0) {
		for (i = lv->n - 1; i >= 0; i--)
			if ((uint64_t)(uintptr_t)(lv->ring[i].stub + X87_STUB_OFF) == fip)
				break;
		fip = i >= 0 ? lv->ring[i].rip : get64(fx + FX_FIP);
	}
	if (fdp == X87_PTR_MARK) {
		fdp = get64(fx + FX_FDP);
	} else if (fdp != 0) {
		for (i = lv->n - 1; i >= 0; i--)
			if ((uint64_t)(uintptr_t)lv->ring[i].buf == fdp)
				break;
		fdp = i >= 0 ? lv->ring[i].ea : get64(fx + FX_FDP);
	}
	if (fop == X87_FOP_MARK) {
		fop = get16(fx + FX_FOP);
	} else {
		for (i = lv->n - 1; i >= 0; i--) {
			const uint8_t *st = lv->ring[i].stub + X87_STUB_OFF;

			if (fop == ((st[0] & 7) << 8 | st[1])) {
				fop = lv->ring[i].fop;
				break;
			}
		}
	}
	memcpy(fx, img, FX_MXCSR);
	memcpy(fx + FX_ST, img + FX_ST, FX_XMM - FX_ST);
	put64(fx + FX_FIP, fip);
	put64(fx + FX_FDP, fdp);
	put16(fx + FX_FOP, fop);
}

/*
 * Run @stub in the session with @mem in RDI; FCMOVcc and FCOMI read and
 * write the arithmetic flags (@flags_io).  Returns RFLAGS after it.
 */
static uint64_t
x87_live_exec(struct emu_x87_live *lv, const uint8_t *stub, void *mem, uint64_t gflags,
    bool flags_io)
{
	uint64_t fl = 0;

	if (flags_io)
		__asm__ volatile(
		    "lea -128(%%rsp), %%rsp\n\t"
		    "pushfq\n\t"
		    "andq %[keep], (%%rsp)\n\t"
		    "orq %[gfl], (%%rsp)\n\t"
		    "popfq\n\t"
		    "call *%[stub]\n\t"
		    "pushfq\n\t"
		    "popq %[fl]\n\t"
		    "lea 128(%%rsp), %%rsp\n\t"
		    "fnstsw %[sw]\n\t"
		    "fnstcw %[cw]"
		    : [fl] "=&r" (fl), [sw] "=m" (lv->fsw), [cw] "=m" (lv->fcw)
		    : [stub] "r" (stub), "D" (mem), [gfl] "r" (gflags & RFL_ARITH),
		      [keep] "i" (~(int64_t)RFL_ARITH)
		    : "memory", "cc");
	else
		__asm__ volatile(
		    "lea -128(%%rsp), %%rsp\n\t"
		    "call *%[stub]\n\t"
		    "lea 128(%%rsp), %%rsp\n\t"
		    "fnstsw %[sw]\n\t"
		    "fnstcw %[cw]"
		    : [sw] "=m" (lv->fsw), [cw] "=m" (lv->fcw)
		    : [stub] "r" (stub), "D" (mem)
		    : "memory", "cc");
	return fl;
}

/*
 * Run @in in the session (opening it if need be), or return X87_SLOW with
 * the session closed.  #UD and #NM are checked already.
 */
static int
x87_live_run(struct emu_cpu *cpu, const struct emu_insn *in, int kind, int size, uint64_t ea)
{
	struct emu_x87_live *lv = &cpu->x87;
	const uint8_t *fx = cpu->st.fxsave;
	uint16_t fsw = lv->on ? lv->fsw : get16(fx + FX_FSW);
	uint16_t fcw = lv->on ? lv->fcw : get16(fx + FX_FCW);
	int esc = in->opcode - 0xd8, i, rc;
	uint8_t *hp = NULL;
	const uint8_t *stub;
	bool flags_io;
	uint64_t fl;

	switch (kind) {
	case XK_STSW_AX:
		emu_reg_write(cpu, GPR_RAX, 2, 0, fsw);
		return EMU_OK;
	case XK_STSW:
		return emu_write(cpu, in->seg, ea, &fsw, 2);
	case XK_STCW:
		return emu_write(cpu, in->seg, ea, &fcw, 2);
	case XK_HOST:
	case XK_HOST_NW:
	case XK_LOAD:
	case XK_STORE:
		break;
	default:
		emu_x87_flush(cpu);
		return X87_SLOW;
	}
	/* a waiting stub must find nothing pending (x87_wait_check decides) */
	if (kind != XK_HOST_NW && (fsw & ~fcw & FSW_EXC)) {
		emu_x87_flush(cpu);
		return X87_SLOW;
	}
	if (kind == XK_STORE) {
		if ((fcw & FSW_EXC) != FSW_EXC) {
			emu_x87_flush(cpu);
			return X87_SLOW;
		}
		rc = emu_mem_ptr(cpu, in->seg, ea, size, &hp);
		if (rc != EMU_OK)
			return rc;
		if (hp == NULL) {
			emu_x87_flush(cpu);
			return X87_SLOW;
		}
	}
	i = lv->on ? lv->n : 0;
	if (kind == XK_LOAD) {
		/* before the session opens: a fault or exit leaves no trace */
		rc = emu_read(cpu, in->seg, ea, lv->ring[i].buf, size);
		if (rc != EMU_OK)
			return rc;
	}
	if (!lv->on)
		x87_live_begin(cpu);
	stub = x87_stub(esc, in->has_mem ? ((in->sub & 7) << 3) | 7 :
	    0xc0 | ((in->sub & 7) << 3) | (in->rm & 7));
	flags_io = !in->has_mem && (esc == 2 || esc == 3 || esc == 7);
	fl = x87_live_exec(lv, stub, lv->ring[i].buf, flags_io ? emu_rflags(cpu) : 0, flags_io);
	lv->ring[i].stub = stub;
	lv->ring[i].rip = cpu->st.rip;
	lv->ring[i].ea = ea;
	lv->ring[i].fop = x87_fop(in);
	lv->n = (uint8_t)(i + 1);
	if (kind == XK_STORE)
		memcpy(hp, lv->ring[i].buf, (size_t)size);
	if (flags_io)
		emu_set_arith_flags(cpu, RFL_ARITH, fl & RFL_ARITH);
	if (lv->n == EMU_X87_RING)
		emu_x87_writeback(cpu);
	return EMU_OK;
}

/* ---- environment and state images (SDM Vol. 1 8.1.10, figures 8-9..8-12) ---- */

/*
 * Real-address mode formats hold FIP and FDP as 20/32-bit linear
 * addresses; we keep offsets (FCS, FDS deprecated) and store them as they
 * are.
 */
static int
x87_env_store(const struct emu_cpu *cpu, const struct emu_insn *in, uint8_t *env)
{
	const uint8_t *fx = cpu->st.fxsave;
	bool real = !(cpu->st.cr0 & CR0_PE);
	uint16_t fcw = get16(fx + FX_FCW), fsw = get16(fx + FX_FSW);
	uint16_t ftw = x87_full_ftw(fx), fop = get16(fx + FX_FOP) & 0x7ff;
	uint32_t fip = (uint32_t)get64(fx + FX_FIP), fdp = (uint32_t)get64(fx + FX_FDP);

	if (in->opsize == 2) {
		put16(env + 0, fcw);
		put16(env + 2, fsw);
		put16(env + 4, ftw);
		if (real) {
			put16(env + 6, (uint16_t)fip);
			put16(env + 8, (uint16_t)(((fip >> 16) & 0xf) << 12 | fop));
			put16(env + 10, (uint16_t)fdp);
			put16(env + 12, (uint16_t)(((fdp >> 16) & 0xf) << 12));
		} else {
			put16(env + 6, (uint16_t)fip);
			put16(env + 8, 0);		/* FCS */
			put16(env + 10, (uint16_t)fdp);
			put16(env + 12, 0);		/* FDS */
		}
		return 14;
	}
	put32(env + 0, 0xffff0000u | fcw);
	put32(env + 4, 0xffff0000u | fsw);
	put32(env + 8, 0xffff0000u | ftw);
	if (real) {
		put32(env + 12, 0xffff0000u | (fip & 0xffff));
		put32(env + 16, (fip >> 16) << 12 | fop);
		put32(env + 20, 0xffff0000u | (fdp & 0xffff));
		put32(env + 24, (fdp >> 16) << 12);
	} else {
		put32(env + 12, fip);
		put32(env + 16, (uint32_t)fop << 16);	/* FCS = 0 */
		put32(env + 20, fdp);
		put32(env + 24, 0xffff0000u);		/* FDS = 0 */
	}
	return 28;
}

static int
x87_env_size(const struct emu_insn *in)
{
	return in->opsize == 2 ? 14 : 28;
}

static void
x87_env_load(struct emu_cpu *cpu, const struct emu_insn *in, const uint8_t *env, uint8_t *fx)
{
	bool real = !(cpu->st.cr0 & CR0_PE);
	uint64_t fip, fdp;
	uint16_t fop;

	if (in->opsize == 2) {
		x87_load_cw_sw(fx, get16(env + 0), get16(env + 2));
		fx[FX_FTW] = x87_abridged_ftw(get16(env + 4));
		if (real) {
			fip = get16(env + 6) | (uint64_t)(get16(env + 8) >> 12) << 16;
			fop = get16(env + 8) & 0x7ff;
			fdp = get16(env + 10) | (uint64_t)(get16(env + 12) >> 12) << 16;
		} else {
			fip = get16(env + 6);
			fop = 0;
			fdp = get16(env + 10);
		}
	} else {
		x87_load_cw_sw(fx, get16(env + 0), get16(env + 4));
		fx[FX_FTW] = x87_abridged_ftw(get16(env + 8));
		if (real) {
			fip = get16(env + 12) | (uint64_t)((get32(env + 16) >> 12) & 0xffff) << 16;
			fop = get32(env + 16) & 0x7ff;
			fdp = get16(env + 20) | (uint64_t)((get32(env + 24) >> 12) & 0xffff) << 16;
		} else {
			fip = get32(env + 12);
			fop = (get32(env + 16) >> 16) & 0x7ff;
			fdp = get32(env + 20);
		}
	}
	fx[FX_FTW + 1] = 0;
	put16(fx + FX_FOP, fop);
	put64(fx + FX_FIP, fip);
	put64(fx + FX_FDP, fdp);
}

/* FNSTENV, FNSAVE: store, then mask all exceptions / reinitialize. */
static int
x87_stenv(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t ea, bool save)
{
	uint8_t buf[108];
	uint8_t *fx = cpu->st.fxsave;
	int n, i, rc;

	n = x87_env_store(cpu, in, buf);
	if (save) {
		for (i = 0; i < 8; i++)
			memcpy(buf + n + 10 * i, fx + FX_ST + 16 * i, 10);
		n += 80;
	}
	rc = emu_write(cpu, in->seg, ea, buf, n);
	if (rc != EMU_OK)
		return rc;
	if (save)
		x87_init(fx);
	else	/* all exceptions masked: ES and B clear (measured) */
		x87_load_cw_sw(fx, get16(fx + FX_FCW) | FSW_EXC, get16(fx + FX_FSW));
	return EMU_OK;
}

/* FLDENV, FRSTOR. */
static int
x87_ldenv(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t ea, bool rstor)
{
	uint8_t buf[108], img[FX_XMM];
	int n = x87_env_size(in), i, rc;

	rc = emu_read(cpu, in->seg, ea, buf, n + (rstor ? 80 : 0));
	if (rc != EMU_OK)
		return rc;
	memcpy(img, cpu->st.fxsave, sizeof(img));
	x87_env_load(cpu, in, buf, img);
	if (rstor) {
		for (i = 0; i < 8; i++) {
			memcpy(img + FX_ST + 16 * i, buf + n + 10 * i, 10);
			memset(img + FX_ST + 16 * i + 10, 0, 6);
		}
	}
	memcpy(cpu->st.fxsave, img, FX_MXCSR);
	memcpy(cpu->st.fxsave + FX_ST, img + FX_ST, FX_XMM - FX_ST);
	return EMU_OK;
}

/* ---- handlers ---- */

int
op_x87(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t buf[16] __attribute__((aligned(16))) = { 0 };
	uint8_t *fx = cpu->st.fxsave;
	int esc = in->opcode - 0xd8, kind, size = 0, rc;
	uint64_t ea = 0;
	uint16_t strip = 0;

	if (in->has_mem) {
		kind = x87_mem[esc][in->sub & 7].kind;
		size = x87_mem[esc][in->sub & 7].size;
		ea = emu_ea(cpu, in);
	} else {
		kind = x87_reg_kind(esc, (in->sub & 7) << 3 | (in->rm & 7));
	}
	if (kind == XK_INV)
		return emu_raise(cpu, IDT_UD);
	if (x87_nm(cpu))
		return emu_raise(cpu, IDT_NM);
	rc = x87_live_run(cpu, in, kind, size, ea);
	if (rc != X87_SLOW)
		return rc;

	/* The general path: the session is closed, st.fxsave is the state. */
	switch (kind) {
	case XK_STSW_AX:
		emu_reg_write(cpu, GPR_RAX, 2, 0, get16(fx + FX_FSW));
		return EMU_OK;
	case XK_STSW:
		return emu_write(cpu, in->seg, ea, fx + FX_FSW, 2);
	case XK_STCW:
		return emu_write(cpu, in->seg, ea, fx + FX_FCW, 2);
	case XK_STENV:
		return x87_stenv(cpu, in, ea, false);
	case XK_SAVE:
		return x87_stenv(cpu, in, ea, true);
	case XK_HOST_NW:
		return x87_run_host(cpu, in, kind, 0, 0, buf, 0);
	case XK_NOP:
		/* FNENI FNDISI FNSETPM: no-wait forms, ignored since the 80387 */
		return EMU_OK;
	default:
		break;
	}

	/* Waiting instructions. */
	rc = x87_wait_check(cpu, &strip);
	if (rc != EMU_OK)
		return rc;
	switch (kind) {
	case XK_LDENV:
		return x87_ldenv(cpu, in, ea, false);
	case XK_RSTOR:
		return x87_ldenv(cpu, in, ea, true);
	case XK_LOAD:
		rc = emu_read(cpu, in->seg, ea, buf, size);
		if (rc != EMU_OK)
			return rc;
		break;
	default:
		break;
	}
	return x87_run_host(cpu, in, kind, size, ea, buf, strip);
}

/*
 * 9B FWAIT (SDM Vol. 2B WAIT/FWAIT): #NM only when CR0.MP and CR0.TS
 * (table 2-2), then the pending-exception check.
 */
int
op_fwait(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t strip;

	if ((cpu->st.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		return emu_raise(cpu, IDT_NM);
	if (cpu->x87.on && !(cpu->x87.fsw & ~cpu->x87.fcw & FSW_EXC))
		return EMU_OK;		/* nothing pending: the session goes on */
	emu_x87_flush(cpu);
	return x87_wait_check(cpu, &strip);
}

/*
 * FXSAVE/FXRSTOR checks (SDM Vol. 2A FXSAVE, FXRSTOR): #UD with CR0.EM,
 * #NM with CR0.TS, #GP(0) for an operand not 16-byte aligned whatever the
 * segment (checked on the linear address, as the alignment check is).
 */
static int
fx_checks(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t *ea)
{
	uint64_t base = 0;

	emu_x87_flush(cpu);
	if (cpu->st.cr0 & CR0_EM)
		return emu_raise(cpu, IDT_UD);
	if (cpu->st.cr0 & CR0_TS)
		return emu_raise(cpu, IDT_NM);
	*ea = emu_ea(cpu, in);
	if (cpu->mode != EMU_MODE_LONG64 || in->seg == SEG_FS || in->seg == SEG_GS)
		base = cpu->st.seg[in->seg].base;
	if ((base + *ea) & 15)
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

/*
 * The FXSAVE image of the x87 and SSE state as FXSAVE and XSAVE store it
 * (@w: REX.W, 64-bit FIP/FDP), bytes 0-415.  AMD (APM Vol. 5 FXSAVE,
 * XSAVE): FOP, FIP and FDP only when an unmasked exception is pending
 * (FSW.ES), else 0.
 */
static void
fx_image(const struct emu_cpu *cpu, bool w, uint8_t img[512])
{
	const uint8_t *fx = cpu->st.fxsave;
	uint64_t fip = get64(fx + FX_FIP), fdp = get64(fx + FX_FDP);
	uint16_t fop = get16(fx + FX_FOP) & 0x7ff;
	int i;

	if (cpu->vendor == VMM_VENDOR_AMD && !(get16(fx + FX_FSW) & FSW_ES))
		fip = fdp = fop = 0;
	memset(img, 0, 512);
	memcpy(img, fx, 4);
	img[FX_FTW] = fx[FX_FTW];
	put16(img + FX_FOP, fop);
	if (w) {
		put64(img + FX_FIP, fip);
		put64(img + FX_FDP, fdp);
	} else {
		put32(img + FX_FIP, (uint32_t)fip);
		put32(img + FX_FDP, (uint32_t)fdp);
	}
	memcpy(img + FX_MXCSR, fx + FX_MXCSR, 4);
	put32(img + FX_MXCSR_MASK, EMU_MXCSR_MASK);
	for (i = 0; i < 8; i++)
		memcpy(img + FX_ST + 16 * i, fx + FX_ST + 16 * i, 10);
	memcpy(img + FX_XMM, fx + FX_XMM, 256);
}

/* Load the x87 part of an FXSAVE image (FXRSTOR, XRSTOR). */
static void
fx_load_x87(struct emu_cpu *cpu, const uint8_t *img, bool w)
{
	uint8_t *fx = cpu->st.fxsave;
	int i;

	x87_load_cw_sw(fx, get16(img + FX_FCW), get16(img + FX_FSW));
	fx[FX_FTW] = img[FX_FTW];
	fx[FX_FTW + 1] = 0;
	if (cpu->vendor != VMM_VENDOR_AMD || (get16(img + FX_FSW) & FSW_ES)) {
		put16(fx + FX_FOP, get16(img + FX_FOP) & 0x7ff);
		put64(fx + FX_FIP, w ? get64(img + FX_FIP) : get32(img + FX_FIP));
		put64(fx + FX_FDP, w ? get64(img + FX_FDP) : get32(img + FX_FDP));
	}
	for (i = 0; i < 8; i++) {
		memcpy(fx + FX_ST + 16 * i, img + FX_ST + 16 * i, 10);
		memset(fx + FX_ST + 16 * i + 10, 0, 6);
	}
}

/*
 * 0F AE /0 FXSAVE, REX.W FXSAVE64 (SDM Vol. 1 10.5.1, table 10-2 and
 * 10-4).  Bytes 0-415 in 64-bit mode (XMM0-15), 0-287 elsewhere
 * (XMM0-7); the reserved and software-available bytes past them are not
 * written.  Without REX.W, FIP and FDP are stored as 32-bit offsets with
 * FCS = FDS = 0.  AMD (APM Vol. 5 FXSAVE): FOP, FIP and FDP are stored
 * only when an unmasked exception is pending (FSW.ES), else as 0.
 */
int
op_fxsave(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t img[512];
	uint64_t ea;
	int n = cpu->mode == EMU_MODE_LONG64 ? 416 : 288, rc;

	rc = fx_checks(cpu, in, &ea);
	if (rc != EMU_OK)
		return rc;
	fx_image(cpu, (in->rex & 0x8) != 0, img);
	return emu_write(cpu, in->seg, ea, img, n);
}

/*
 * 0F AE /1 FXRSTOR, REX.W FXRSTOR64: #GP(0) when MXCSR sets a bit outside
 * MXCSR_MASK.  AMD restores FOP, FIP and FDP only when the image has
 * FSW.ES set (APM Vol. 5 FXRSTOR).
 */
int
op_fxrstor(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t img[512];
	uint8_t *fx = cpu->st.fxsave;
	int n = cpu->mode == EMU_MODE_LONG64 ? 416 : 288, rc;
	uint64_t ea;

	rc = fx_checks(cpu, in, &ea);
	if (rc != EMU_OK)
		return rc;
	rc = emu_read(cpu, in->seg, ea, img, n);
	if (rc != EMU_OK)
		return rc;
	if (get32(img + FX_MXCSR) & ~EMU_MXCSR_MASK)
		return emu_raise_err(cpu, IDT_GP, 0);
	fx_load_x87(cpu, img, (in->rex & 0x8) != 0);
	memcpy(fx + FX_MXCSR, img + FX_MXCSR, 4);
	memcpy(fx + FX_XMM, img + FX_XMM, (size_t)(n - FX_XMM));
	return EMU_OK;
}

/*
 * ---- XSAVE (SDM Vol. 1 ch. 13; Vol. 2B XSAVE, XSAVEOPT, XSAVEC, XRSTOR,
 * XGETBV, XSETBV) ----
 *
 * The supported state components are x87 (XCR0 bit 0) and SSE (bit 1),
 * both in the 512-byte legacy region; the 64-byte XSAVE header follows
 * (XSTATE_BV at 512, XCOMP_BV at 520), so the standard and the compacted
 * formats have the same 576-byte layout and differ in XCOMP_BV only.
 * XINUSE (13.6) is computed from the state: a component is in use unless
 * it is in its initial configuration, which hardware allows (it may report
 * a component in use when it is not; never the reverse).  XSAVEOPT and
 * XSAVEC apply the init optimization (13.9); the modified optimization is
 * optional and not done: every component in use is written.
 */
#define XSAVE_HDR		512
#define XSAVE_SIZE		576
#define XCR0_SUPPORTED		0x3ULL
#define XCOMP_BV_COMPACT	(1ULL << 63)
#define MXCSR_INIT		0x1f80u

/* x87 initial configuration: FCW 037FH, FSW 0, FTW all empty, pointers and registers 0. */
static bool
x87_in_init(const uint8_t *fx)
{
	static const uint8_t zero[128];

	return get16(fx + FX_FCW) == 0x037f && get16(fx + FX_FSW) == 0 && fx[FX_FTW] == 0 &&
	    get16(fx + FX_FOP) == 0 && get64(fx + FX_FIP) == 0 && get64(fx + FX_FDP) == 0 &&
	    memcmp(fx + FX_ST, zero, 128) == 0;
}

/* SSE initial configuration: XMM registers 0 and MXCSR 1F80H. */
static bool
sse_in_init(const uint8_t *fx)
{
	static const uint8_t zero[256];

	return get32(fx + FX_MXCSR) == MXCSR_INIT && memcmp(fx + FX_XMM, zero, 256) == 0;
}

uint64_t
emu_xinuse(const struct emu_cpu *cpu)
{
	return (x87_in_init(cpu->st.fxsave) ? 0 : 1) | (sse_in_init(cpu->st.fxsave) ? 0 : 2);
}

/* The x87 initial configuration (13.6); FNINIT keeps the registers, this clears them. */
static void
x87_xinit(uint8_t *fx)
{
	memset(fx, 0, 24);
	memset(fx + FX_ST, 0, 128);
	put16(fx + FX_FCW, 0x037f);
}

/* XMM0-15 in 64-bit mode, XMM0-7 elsewhere (13.8.1). */
static int
xsave_nxmm(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_LONG64 ? 16 : 8;
}

/*
 * Exceptions common to the XSAVE family: #UD without CR4.OSXSAVE, #NM
 * with CR0.TS, #GP(0) unless the linear address is 64-byte aligned.
 */
static int
xsave_checks(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t *ea)
{
	uint64_t base = 0;

	emu_x87_flush(cpu);
	if (!(cpu->st.cr4 & CR4_OSXSAVE))
		return emu_raise(cpu, IDT_UD);
	if (cpu->st.cr0 & CR0_TS)
		return emu_raise(cpu, IDT_NM);
	*ea = emu_ea(cpu, in);
	if (cpu->mode != EMU_MODE_LONG64 || in->seg == SEG_FS || in->seg == SEG_GS)
		base = cpu->st.seg[in->seg].base;
	if ((base + *ea) & 63)
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

enum xsave_kind { XS_XSAVE, XS_XSAVEOPT, XS_XSAVEC };

/*
 * Store the components of RFBM = XCR0 & EDX:EAX: XSAVE writes each of
 * them and XSTATE_BV[i] = XINUSE[i] for them, leaving the rest of the
 * header; XSAVEOPT the same but skips the data of components not in use;
 * XSAVEC (compacted) skips those too and writes XSTATE_BV = XINUSE & RFBM
 * and XCOMP_BV = RFBM | bit 63.  MXCSR and MXCSR_MASK go with RFBM[1] or
 * RFBM[2].  Everything is read before the first byte is written, then
 * written in runs, so a fault leaves at most earlier runs written, as on
 * hardware.
 */
static int
xsave_store(struct emu_cpu *cpu, const struct emu_insn *in, enum xsave_kind kind)
{
	uint8_t img[512], hdr[16];
	uint64_t ea, rfbm, inuse, save, xstate_bv;
	int rc, nxmm;

	rc = xsave_checks(cpu, in, &ea);
	if (rc != EMU_OK)
		return rc;
	rfbm = cpu->st.xcr0 & ((cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)cpu->st.gpr[GPR_RAX]);
	inuse = emu_xinuse(cpu);
	save = kind == XS_XSAVE ? rfbm : rfbm & inuse;
	fx_image(cpu, (in->rex & 0x8) != 0, img);
	nxmm = xsave_nxmm(cpu);
	if (kind == XS_XSAVEC) {
		xstate_bv = rfbm & inuse;
		put64(hdr + 8, XCOMP_BV_COMPACT | rfbm);
	} else {
		rc = emu_read(cpu, in->seg, ea + XSAVE_HDR, hdr, 8);
		if (rc != EMU_OK)
			return rc;
		xstate_bv = (get64(hdr) & ~rfbm) | (rfbm & inuse);
	}
	put64(hdr, xstate_bv);
	if (save & 1) {
		rc = emu_write(cpu, in->seg, ea, img, 24);
		if (rc == EMU_OK)
			rc = emu_write(cpu, in->seg, ea + FX_ST, img + FX_ST, 128);
		if (rc != EMU_OK)
			return rc;
	}
	if (rfbm & 6) {
		rc = emu_write(cpu, in->seg, ea + FX_MXCSR, img + FX_MXCSR, 8);
		if (rc != EMU_OK)
			return rc;
	}
	if (save & 2) {
		rc = emu_write(cpu, in->seg, ea + FX_XMM, img + FX_XMM, 16 * nxmm);
		if (rc != EMU_OK)
			return rc;
	}
	return emu_write(cpu, in->seg, ea + XSAVE_HDR, hdr, kind == XS_XSAVEC ? 16 : 8);
}

/* 0F AE /4 XSAVE (REX.W: XSAVE64) */
int
op_xsave(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return xsave_store(cpu, in, XS_XSAVE);
}

/* 0F C7 /4 XSAVEC (REX.W: XSAVEC64) */
int
op_xsavec(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return xsave_store(cpu, in, XS_XSAVEC);
}

/*
 * 0F AE /6: XSAVEOPT without a prefix; with 66 CLWB, which writes back a
 * cache line this CPU does not have (SDM Vol. 2A CLWB).  F2/F3 are other
 * instructions (#UD).
 */
int
op_xsaveopt_clwb(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->rep)
		return emu_raise(cpu, IDT_UD);
	if (in->opsize_prefix)
		return EMU_OK;
	return xsave_store(cpu, in, XS_XSAVEOPT);
}

/*
 * 0F AE /5 XRSTOR (REX.W: XRSTOR64), standard (XCOMP_BV[63] = 0) or
 * compacted form (13.8).  #GP(0), before anything changes: standard
 * form with XSTATE_BV bits outside XCR0 or header bytes 8-23 not zero;
 * compacted form with XCOMP_BV[62:0] outside XCR0, XSTATE_BV outside
 * XCOMP_BV or header bytes 16-63 not zero; a reserved MXCSR bit in a
 * value to be loaded.  For each i in RFBM: XSTATE_BV[i] = 0 initializes
 * the component, 1 loads it.  MXCSR: the standard form loads it whenever
 * RFBM[1] or RFBM[2]; the compacted form loads it when the matching
 * XSTATE_BV bit is set, else sets 1F80H.
 */
int
op_xrstor(struct emu_cpu *cpu, const struct emu_insn *in)
{
	static const uint8_t zero[48];
	uint8_t img[XSAVE_SIZE], *fx = cpu->st.fxsave;
	uint64_t ea, rfbm, xstate_bv, xcomp_bv, xcr0 = cpu->st.xcr0;
	bool compact, load_mxcsr;
	int rc, nxmm;

	rc = xsave_checks(cpu, in, &ea);
	if (rc != EMU_OK)
		return rc;
	rc = emu_read(cpu, in->seg, ea + XSAVE_HDR, img + XSAVE_HDR, 64);
	if (rc != EMU_OK)
		return rc;
	xstate_bv = get64(img + XSAVE_HDR);
	xcomp_bv = get64(img + XSAVE_HDR + 8);
	compact = (xcomp_bv & XCOMP_BV_COMPACT) != 0;
	if (compact) {
		if ((xcomp_bv & ~XCOMP_BV_COMPACT & ~xcr0) || (xstate_bv & ~xcomp_bv) ||
		    memcmp(img + XSAVE_HDR + 16, zero, 48) != 0)
			return emu_raise_err(cpu, IDT_GP, 0);
	} else if ((xstate_bv & ~xcr0) || memcmp(img + XSAVE_HDR + 8, zero, 16) != 0) {
		return emu_raise_err(cpu, IDT_GP, 0);
	}
	rfbm = xcr0 & ((cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)cpu->st.gpr[GPR_RAX]);
	rc = emu_read(cpu, in->seg, ea, img, 416);
	if (rc != EMU_OK)
		return rc;
	load_mxcsr = compact ? (rfbm & xstate_bv & 6) != 0 : (rfbm & 6) != 0;
	if (load_mxcsr && (get32(img + FX_MXCSR) & ~EMU_MXCSR_MASK))
		return emu_raise_err(cpu, IDT_GP, 0);
	nxmm = xsave_nxmm(cpu);
	if (rfbm & 1) {
		if (xstate_bv & 1)
			fx_load_x87(cpu, img, (in->rex & 0x8) != 0);
		else
			x87_xinit(fx);
	}
	if (load_mxcsr)
		memcpy(fx + FX_MXCSR, img + FX_MXCSR, 4);
	else if (rfbm & 6)
		put32(fx + FX_MXCSR, MXCSR_INIT);
	if (rfbm & 2) {
		if (xstate_bv & 2)
			memcpy(fx + FX_XMM, img + FX_XMM, 16 * (size_t)nxmm);
		else
			memset(fx + FX_XMM, 0, 16 * (size_t)nxmm);
	}
	return EMU_OK;
}

/*
 * 0F 01 D0 XGETBV: ECX 0 reads XCR0, ECX 1 XCR0 & XINUSE (CPUID.0DH.1:
 * EAX[2]); others #GP(0).  #UD without CR4.OSXSAVE.  Any CPL.
 */
int
emu_xgetbv(struct emu_cpu *cpu)
{
	uint32_t ecx = (uint32_t)cpu->st.gpr[GPR_RCX];
	uint64_t v;

	emu_x87_flush(cpu);
	if (!(cpu->st.cr4 & CR4_OSXSAVE))
		return emu_raise(cpu, IDT_UD);
	if (ecx == 0)
		v = cpu->st.xcr0;
	else if (ecx == 1)
		v = cpu->st.xcr0 & emu_xinuse(cpu);
	else
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.gpr[GPR_RAX] = (uint32_t)v;
	cpu->st.gpr[GPR_RDX] = v >> 32;
	return EMU_OK;
}

/*
 * 0F 01 D1 XSETBV: #UD without CR4.OSXSAVE; #GP(0) at CPL > 0, for an
 * XCR other than 0, an unsupported bit, bit 0 (x87) clear, or AVX (bit
 * 2) without SSE (bit 1) (SDM Vol. 1 13.3).
 */
int
emu_xsetbv(struct emu_cpu *cpu)
{
	uint64_t v = (cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)cpu->st.gpr[GPR_RAX];

	if (!(cpu->st.cr4 & CR4_OSXSAVE))
		return emu_raise(cpu, IDT_UD);
	if ((cpu->mode != EMU_MODE_REAL && cpu->cpl != 0) ||
	    (uint32_t)cpu->st.gpr[GPR_RCX] != 0 || (v & ~XCR0_SUPPORTED) || !(v & 1) ||
	    ((v & 4) && !(v & 2)))
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.xcr0 = v;
	return EMU_OK;
}

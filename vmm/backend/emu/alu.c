/*
 * alu.c - integer arithmetic and logic: the eight ALU rows (ADD OR ADC SBB
 * AND SUB XOR CMP), TEST, INC/DEC, NOT, NEG, XADD, CMPXCHG, CMPXCHG8B/16B,
 * and the locked read-modify-write every family shares (family.h).
 *
 * LOCK: a locked memory operand in RAM is updated with a host atomic
 * compare-exchange on the guest page itself, so a LOCK ADD on one vCPU
 * thread is atomic against the same on another (SDM Vol. 3A 9.1.2.2).
 * MMIO and page-crossing operands cannot be atomic on the host; they fall
 * back to read then write, which is what a device sees anyway.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

static uint64_t
atomic_load_sz(const uint8_t *hp, int size)
{
	switch (size) {
	case 1: return __atomic_load_n(hp, __ATOMIC_SEQ_CST);
	case 2: return __atomic_load_n((const uint16_t *)(const void *)hp, __ATOMIC_SEQ_CST);
	case 4: return __atomic_load_n((const uint32_t *)(const void *)hp, __ATOMIC_SEQ_CST);
	default: return __atomic_load_n((const uint64_t *)(const void *)hp, __ATOMIC_SEQ_CST);
	}
}

/* On failure *expected receives the current value, as __atomic does. */
static bool
atomic_cas_sz(uint8_t *hp, int size, uint64_t *expected, uint64_t desired)
{
	bool ok;

	switch (size) {
	case 1: {
		uint8_t e = (uint8_t)*expected;
		ok = __atomic_compare_exchange_n(hp, &e, (uint8_t)desired, false,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*expected = e;
		break;
	}
	case 2: {
		uint16_t e = (uint16_t)*expected;
		ok = __atomic_compare_exchange_n((uint16_t *)(void *)hp, &e,
		    (uint16_t)desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*expected = e;
		break;
	}
	case 4: {
		uint32_t e = (uint32_t)*expected;
		ok = __atomic_compare_exchange_n((uint32_t *)(void *)hp, &e,
		    (uint32_t)desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*expected = e;
		break;
	}
	default:
		ok = __atomic_compare_exchange_n((uint64_t *)(void *)hp, expected,
		    desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
	return ok;
}

int
emu_rmw_at(struct emu_cpu *cpu, int seg, uint64_t off, int size, bool locked,
    emu_rmw_fn *fn, const void *ctx, uint64_t *oldp)
{
	uint8_t *hp = NULL;
	uint64_t old = 0, nv;
	int rc;

	if (locked) {
		rc = emu_mem_ptr(cpu, seg, off, size, &hp);
		if (rc != EMU_OK)
			return rc;
	}
	if (hp != NULL) {
		old = atomic_load_sz(hp, size);
		do {
			nv = fn(ctx, old);
		} while (!atomic_cas_sz(hp, size, &old, nv));
		*oldp = old;
		return EMU_OK;
	}
	/* Little-endian host: a size-byte read fills the low bytes of old. */
	if (locked)
		emu_bus_lock();
	rc = emu_read(cpu, seg, off, &old, size);
	if (rc == EMU_OK) {
		nv = fn(ctx, old);
		rc = emu_write(cpu, seg, off, &nv, size);
	}
	if (locked)
		emu_bus_unlock();
	if (rc != EMU_OK)
		return rc;
	*oldp = old;
	return EMU_OK;
}

static pthread_mutex_t emu_bus_mtx = PTHREAD_MUTEX_INITIALIZER;

void
emu_bus_lock(void)
{
	pthread_mutex_lock(&emu_bus_mtx);
}

void
emu_bus_unlock(void)
{
	pthread_mutex_unlock(&emu_bus_mtx);
}

int
emu_rmw(struct emu_cpu *cpu, const struct emu_insn *in, int size,
    emu_rmw_fn *fn, const void *ctx, uint64_t *oldp)
{
	uint64_t old;

	if (!in->has_mem) {
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		emu_reg_write(cpu, in->rm, size, in->rex, fn(ctx, old));
		*oldp = old;
		return EMU_OK;
	}
	return emu_rmw_at(cpu, in->seg, emu_ea(cpu, in), size, in->lock != 0,
	    fn, ctx, oldp);
}

/* ---- the ALU rows ---- */

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

struct alu_ctx {
	int		op;
	int		size;
	uint64_t	src;
	uint64_t	cf;
};

static uint64_t
alu_compute(int op, int size, uint64_t a, uint64_t b, uint64_t cf)
{
	uint64_t r;

	switch (op) {
	case ALU_ADD: r = a + b; break;
	case ALU_OR:  r = a | b; break;
	case ALU_ADC: r = a + b + cf; break;
	case ALU_SBB: r = a - b - cf; break;
	case ALU_AND: r = a & b; break;
	case ALU_XOR: r = a ^ b; break;
	default:      r = a - b; break;	/* SUB, CMP */
	}
	return r & emu_size_mask(size);
}

static void
alu_flags(struct emu_cpu *cpu, int op, int size, uint64_t a, uint64_t b,
    uint64_t cf, uint64_t r)
{
	switch (op) {
	case ALU_ADD:
	case ALU_ADC:
		emu_flags_set(cpu, EMU_LF_ADD, size, a, b, r);
		break;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		emu_flags_set(cpu, EMU_LF_SUB, size, a, b, r);
		break;
	default:
		emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, r);
		return;
	}
	cpu->lf.cf_in = (uint8_t)cf;
}

static uint64_t
alu_rmw_fn(const void *ctx, uint64_t old)
{
	const struct alu_ctx *c = ctx;

	return alu_compute(c->op, c->size, old, c->src, c->cf);
}

int
op_alu(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct alu_ctx c;
	uint64_t a, b, r, mask;
	int size = in->opsize, op = in->sub & 7, rc;
	bool rm_dest;

	rm_dest = in->form == EMU_FORM_RM_REG || in->form == EMU_FORM_RM_IMM;
	if (emu_lock_bad(in, rm_dest && op != ALU_CMP))
		return emu_raise(cpu, IDT_UD);
	mask = emu_size_mask(size);
	c.cf = (op == ALU_ADC || op == ALU_SBB) ? emu_get_cf(cpu) : 0;
	switch (in->form) {
	case EMU_FORM_REG_RM:
		rc = emu_rm_read(cpu, in, size, &b);
		if (rc != EMU_OK)
			return rc;
		a = emu_reg_read(cpu, in->reg, size, in->rex);
		r = alu_compute(op, size, a, b, c.cf);
		if (op != ALU_CMP)
			emu_reg_write(cpu, in->reg, size, in->rex, r);
		break;
	case EMU_FORM_ACC_IMM:
		a = emu_reg_read(cpu, GPR_RAX, size, 0);
		b = in->imm & mask;
		r = alu_compute(op, size, a, b, c.cf);
		if (op != ALU_CMP)
			emu_reg_write(cpu, GPR_RAX, size, 0, r);
		break;
	default:
		b = in->form == EMU_FORM_RM_IMM ? in->imm & mask :
		    emu_reg_read(cpu, in->reg, size, in->rex);
		if (op == ALU_CMP) {
			rc = emu_rm_read(cpu, in, size, &a);
			if (rc != EMU_OK)
				return rc;
		} else {
			c.op = op;
			c.size = size;
			c.src = b;
			rc = emu_rmw(cpu, in, size, alu_rmw_fn, &c, &a);
			if (rc != EMU_OK)
				return rc;
		}
		r = alu_compute(op, size, a, b, c.cf);
		break;
	}
	alu_flags(cpu, op, size, a, b, c.cf, r);
	return EMU_OK;
}

int
op_test(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t a, b;
	int size = in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->form == EMU_FORM_ACC_IMM) {
		a = emu_reg_read(cpu, GPR_RAX, size, 0);
		b = in->imm;
	} else {
		rc = emu_rm_read(cpu, in, size, &a);
		if (rc != EMU_OK)
			return rc;
		b = in->form == EMU_FORM_RM_IMM ? in->imm :
		    emu_reg_read(cpu, in->reg, size, in->rex);
	}
	emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, a & b & emu_size_mask(size));
	return EMU_OK;
}

struct unop_ctx {
	int		op;
	uint64_t	mask;
};

enum { UN_INC, UN_DEC, UN_NOT, UN_NEG };

static uint64_t
unop_fn(const void *ctx, uint64_t old)
{
	const struct unop_ctx *c = ctx;

	switch (c->op) {
	case UN_INC: return (old + 1) & c->mask;
	case UN_DEC: return (old - 1) & c->mask;
	case UN_NOT: return ~old & c->mask;
	default:     return (0 - old) & c->mask;
	}
}

static int
unop(struct emu_cpu *cpu, const struct emu_insn *in, int op, uint64_t *oldp,
    uint64_t *resp)
{
	struct unop_ctx c;
	int rc;

	if (emu_lock_bad(in, true))
		return emu_raise(cpu, IDT_UD);
	c.op = op;
	c.mask = emu_size_mask(in->opsize);
	rc = emu_rmw(cpu, in, in->opsize, unop_fn, &c, oldp);
	if (rc != EMU_OK)
		return rc;
	*resp = unop_fn(&c, *oldp);
	return EMU_OK;
}

int
op_incdec(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t old = 0, res = 0, cf;
	int dec = in->sub & 1, rc;

	/* INC/DEC leave CF alone (SDM Vol. 2A INC): carry it in src2. */
	cf = emu_get_cf(cpu);
	rc = unop(cpu, in, dec ? UN_DEC : UN_INC, &old, &res);
	if (rc != EMU_OK)
		return rc;
	emu_flags_set(cpu, dec ? EMU_LF_DEC : EMU_LF_INC, in->opsize, old, cf, res);
	return EMU_OK;
}

int
op_not(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t old = 0, res = 0;

	return unop(cpu, in, UN_NOT, &old, &res);
}

int
op_neg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t old = 0, res = 0;
	int rc;

	rc = unop(cpu, in, UN_NEG, &old, &res);
	if (rc != EMU_OK)
		return rc;
	emu_flags_set(cpu, EMU_LF_NEG, in->opsize, old, 0, res);
	return EMU_OK;
}

struct xadd_ctx {
	uint64_t	src;
	uint64_t	mask;
};

static uint64_t
xadd_fn(const void *ctx, uint64_t old)
{
	const struct xadd_ctx *c = ctx;

	return (old + c->src) & c->mask;
}

int
op_xadd(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct xadd_ctx c;
	uint64_t old;
	int size = in->opsize, rc;

	if (emu_lock_bad(in, true))
		return emu_raise(cpu, IDT_UD);
	c.src = emu_reg_read(cpu, in->reg, size, in->rex);
	c.mask = emu_size_mask(size);
	if (in->has_mem) {
		rc = emu_rmw(cpu, in, size, xadd_fn, &c, &old);
		if (rc != EMU_OK)
			return rc;
		emu_reg_write(cpu, in->reg, size, in->rex, old);
	} else {
		/* SRC <- DEST, then DEST <- sum: XADD r, r leaves the sum. */
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		emu_reg_write(cpu, in->reg, size, in->rex, old);
		emu_reg_write(cpu, in->rm, size, in->rex, xadd_fn(&c, old));
	}
	emu_flags_set(cpu, EMU_LF_ADD, size, old, c.src, xadd_fn(&c, old));
	return EMU_OK;
}

struct cmpxchg_ctx {
	uint64_t	acc;
	uint64_t	src;
};

static uint64_t
cmpxchg_fn(const void *ctx, uint64_t old)
{
	const struct cmpxchg_ctx *c = ctx;

	return old == c->acc ? c->src : old;
}

int
op_cmpxchg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct cmpxchg_ctx c;
	uint64_t old, mask;
	int size = in->opsize, rc;

	if (emu_lock_bad(in, true))
		return emu_raise(cpu, IDT_UD);
	mask = emu_size_mask(size);
	c.acc = emu_reg_read(cpu, GPR_RAX, size, 0);
	c.src = emu_reg_read(cpu, in->reg, size, in->rex);
	/*
	 * The destination is always written, with its own value when the
	 * comparison fails (SDM Vol. 2A CMPXCHG); emu_rmw does that.  A
	 * 32-bit register destination is not zero-extended on failure, nor
	 * RAX on success (as on Zen): the register form writes only what
	 * changes.
	 */
	if (in->has_mem) {
		rc = emu_rmw(cpu, in, size, cmpxchg_fn, &c, &old);
		if (rc != EMU_OK)
			return rc;
	} else {
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		if (old == c.acc)
			emu_reg_write(cpu, in->rm, size, in->rex, c.src);
	}
	if (old != c.acc)
		emu_reg_write(cpu, GPR_RAX, size, 0, old);
	emu_flags_set(cpu, EMU_LF_SUB, size, c.acc, old, (c.acc - old) & mask);
	return EMU_OK;
}

/*
 * 16-byte compare-exchange on host memory.  GCC does not inline 16-byte
 * __atomic builtins without -mcx16 (it calls libatomic), so on an x86-64
 * host use the instruction itself; success is read from the returned value,
 * not from host flags.
 */
static bool
cas16(uint8_t *hp, uint64_t exp[2], const uint64_t nv[2])
{
#if defined(__x86_64__)
	uint64_t lo = exp[0], hi = exp[1];

	__asm__ __volatile__("lock cmpxchg16b %0"
	    : "+m" (*(volatile unsigned __int128 *)(void *)hp), "+a" (lo), "+d" (hi)
	    : "b" (nv[0]), "c" (nv[1])
	    : "memory", "cc");
	if (lo == exp[0] && hi == exp[1])
		return true;
	exp[0] = lo;
	exp[1] = hi;
	return false;
#else
	unsigned __int128 e, n;

	e = ((unsigned __int128)exp[1] << 64) | exp[0];
	n = ((unsigned __int128)nv[1] << 64) | nv[0];
	if (__atomic_compare_exchange_n((unsigned __int128 *)(void *)hp, &e, n,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return true;
	exp[0] = (uint64_t)e;
	exp[1] = (uint64_t)(e >> 64);
	return false;
#endif
}

/*
 * CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W): compare EDX:EAX (RDX:RAX) with
 * the operand; ZF reports equality, other flags are unaffected (SDM Vol. 2A).
 */
int
op_cmpxchg8b(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t acc[2], nv[2], old[2] = { 0, 0 }, off;
	uint8_t *hp = NULL;
	int half = in->opsize == 8 ? 8 : 4, rc;
	bool eq;

	if (!in->has_mem)
		return emu_raise(cpu, IDT_UD);
	acc[0] = emu_reg_read(cpu, GPR_RAX, half, 0);
	acc[1] = emu_reg_read(cpu, GPR_RDX, half, 0);
	nv[0] = emu_reg_read(cpu, GPR_RBX, half, 0);
	nv[1] = emu_reg_read(cpu, GPR_RCX, half, 0);
	off = emu_ea(cpu, in);
	/*
	 * CMPXCHG16B needs a 16-byte aligned linear address, else #GP(0) (SDM
	 * Vol. 2A CMPXCHG8B/CMPXCHG16B).  REX.W exists only in 64-bit mode,
	 * where only FS and GS add a base.
	 */
	if (half == 8 && ((off + (in->seg == SEG_FS || in->seg == SEG_GS ?
	    cpu->st.seg[in->seg].base : 0)) & 15) != 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	if (in->lock) {
		rc = emu_mem_ptr(cpu, in->seg, off, half * 2, &hp);
		if (rc != EMU_OK)
			return rc;
	}
	if (hp != NULL && half == 8) {
		old[0] = acc[0];
		old[1] = acc[1];
		eq = cas16(hp, old, nv);
	} else if (hp != NULL) {
		old[0] = acc[0] | acc[1] << 32;
		eq = __atomic_compare_exchange_n((uint64_t *)(void *)hp, &old[0],
		    nv[0] | nv[1] << 32, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		old[1] = old[0] >> 32;
		old[0] &= 0xffffffffULL;
	} else {
		if (in->lock)
			emu_bus_lock();
		rc = emu_read(cpu, in->seg, off, &old[0], half);
		if (rc == EMU_OK)
			rc = emu_read(cpu, in->seg, off + half, &old[1], half);
		eq = old[0] == acc[0] && old[1] == acc[1];
		/* The operand is written back unchanged on failure, as CMPXCHG. */
		if (rc == EMU_OK)
			rc = emu_write(cpu, in->seg, off, eq ? &nv[0] : &old[0], half);
		if (rc == EMU_OK)
			rc = emu_write(cpu, in->seg, off + half, eq ? &nv[1] : &old[1], half);
		if (in->lock)
			emu_bus_unlock();
		if (rc != EMU_OK)
			return rc;
	}
	if (!eq) {
		emu_reg_write(cpu, GPR_RAX, half, 0, old[0]);
		emu_reg_write(cpu, GPR_RDX, half, 0, old[1]);
	}
	emu_set_arith_flags(cpu, RFL_ZF, eq ? RFL_ZF : 0);
	return EMU_OK;
}

/*
 * test_task.c - hardware task switches between 32-bit TSSs (task.c) on the
 * fixture CPU (isa_fixture.h): far JMP to a TSS, far CALL through a task
 * gate and IRET back along the link, an exception through a task gate
 * (the #DF task of 32-bit Linux) with its error code on the new stack, the
 * T bit, 286-style 16-bit TSSs, and
 * the faults of SDM Vol. 3A 7.3 / table 7-1 and the JMP/CALL/IRET
 * pseudo-code.  The vendors agree (AMD APM Vol. 2 12.3).
 */
#include <stdint.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"

#define TA	(FX_DATA + 0x2000)	/* the running task's TSS, selector 38 */
#define TB	(FX_DATA + 0x3000)	/* the other task's, selector 40 */
#define IDT	(FX_DATA + 0x4000)
#define RIP0	0x1000ULL
#define EIPB	0x5000ULL
#define STKB	0x180000ULL

static void
put32(struct fx *f, uint64_t gpa, uint32_t v)
{
	memcpy(f->ram + gpa, &v, 4);
}

static uint32_t
get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, f->ram + gpa, 4);
	return v;
}

static uint64_t
tss_desc(uint64_t base, uint32_t limit, int type)
{
	return (limit & 0xffffULL) | (base & 0xffffffULL) << 16 | (uint64_t)type << 40 |
	    1ULL << 47 | (base >> 24) << 56;
}

/* 38: busy TSS A (current), 40: available TSS B, 48: task gate to 40 (DPL 0). */
static int
setup(struct fx *f)
{
	int i;

	if (fx_init(f, EMU_MODE_PROT32) != 0)
		return -1;
	fx_put64(f, FX_GDT + 0x38, tss_desc(TA, 0x67, 0xb));
	fx_put64(f, FX_GDT + 0x40, tss_desc(TB, 0x67, 0x9));
	fx_put64(f, FX_GDT + 0x48, 0x0000850000400000ULL);
	emu_desc_to_seg(fx_get64(f, FX_GDT + 0x38), 0x38, &f->cpu->st.seg[SEG_TR]);
	put32(f, TB + 0x20, EIPB);
	put32(f, TB + 0x24, 0x202);
	for (i = 0; i < 8; i++)
		put32(f, TB + 0x28 + 4 * (uint64_t)i, 0xb000 + (uint32_t)i);
	put32(f, TB + 0x38, STKB);
	put32(f, TB + 0x48, 0x10);	/* ES */
	put32(f, TB + 0x4c, 0x18);	/* CS */
	put32(f, TB + 0x50, 0x10);	/* SS */
	put32(f, TB + 0x54, 0x10);	/* DS */
	for (i = 0; i < 8; i++)
		f->cpu->st.gpr[i] = 0xa000 + (uint64_t)i;
	f->cpu->st.rip = RIP0;
	f->cpu->st.idtr.base = IDT;
	f->cpu->st.idtr.limit = 0x7ff;
	return 0;
}

static int
desc_type(struct fx *f, uint16_t sel)
{
	return (int)((fx_get64(f, FX_GDT + sel) >> 40) & 0xf);
}

static void
check_in_b(struct fx *f)
{
	CHECK_EQ(f->cpu->st.seg[SEG_TR].sel, 0x40);
	CHECK_EQ(SEG_DESC_TYPE(f->cpu->st.seg[SEG_TR].access), 0xb);
	CHECK_EQ(f->cpu->st.rip, EIPB);
	CHECK_EQ(f->cpu->next_rip, EIPB);
	CHECK_EQ(f->cpu->st.gpr[GPR_RAX], 0xb000);
	CHECK_EQ(f->cpu->st.gpr[GPR_RDI], 0xb007);
	CHECK_EQ(f->cpu->st.seg[SEG_CS].sel, 0x18);
	CHECK_EQ(f->cpu->st.seg[SEG_SS].sel, 0x10);
	CHECK(!SEG_DESC_UNUSABLE(f->cpu->st.seg[SEG_DS].access));
	CHECK(SEG_DESC_UNUSABLE(f->cpu->st.seg[SEG_GS].access));
	CHECK_EQ(f->cpu->mode, EMU_MODE_PROT32);
	CHECK(f->cpu->st.cr0 & CR0_TS);
	CHECK(emu_rflags(f->cpu) & RFL_IF);
	CHECK_EQ(desc_type(f, 0x40), 0xb);
	CHECK(!f->cpu->st.pending_valid);	/* T clear: no debug trap */
}

/* JMP 40:0 (EA): no link, no NT, the old TSS not busy any more. */
TEST(task_jmp_tss)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_OK);
	check_in_b(&f);
	CHECK(!(emu_rflags(f.cpu) & RFL_NT));
	CHECK_EQ(get32(&f, TB), 0);
	CHECK_EQ(desc_type(&f, 0x38), 0x9);
	/* the old task's dynamic fields */
	CHECK_EQ(get32(&f, TA + 0x20), RIP0 + 7);
	CHECK_EQ(get32(&f, TA + 0x28), 0xa000);
	CHECK_EQ(get32(&f, TA + 0x44), 0xa007);
	CHECK_EQ(get32(&f, TA + 0x4c), 0x18);
	CHECK_EQ(get32(&f, TA + 0x50), 0x10);
	fx_fini(&f);
}

/* CALL 48:0 through the task gate, then IRET (NT) back along the link. */
TEST(task_call_gate_iret)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	CHECK_EQ(FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x48, 0x00), EMU_OK);
	check_in_b(&f);
	CHECK(emu_rflags(f.cpu) & RFL_NT);
	CHECK_EQ(get32(&f, TB), 0x38);
	CHECK_EQ(desc_type(&f, 0x38), 0xb);

	/* nothing is popped: a stack that would fault does not matter */
	f.cpu->st.gpr[GPR_RBX] = 0x1234;
	f.cpu->st.gpr[GPR_RSP] = 0xfffffffe;
	CHECK_EQ(FX_RUN(&f, 0xcf), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x38);
	CHECK_EQ(f.cpu->st.rip, RIP0 + 7);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 0xa000);
	CHECK_EQ(f.cpu->st.gpr[GPR_RBX], 0xa003);
	CHECK(!(emu_rflags(f.cpu) & RFL_NT));
	CHECK_EQ(desc_type(&f, 0x40), 0x9);
	CHECK_EQ(desc_type(&f, 0x38), 0xb);
	/* B's state as it left: EIP after the IRET, EBX, EFLAGS with NT clear */
	CHECK_EQ(get32(&f, TB + 0x20), EIPB + 1);
	CHECK_EQ(get32(&f, TB + 0x34), 0x1234);
	CHECK(!(get32(&f, TB + 0x24) & RFL_NT));
	fx_fini(&f);
}

/* #DF through a task gate: the error code (0) on the new task's stack. */
TEST(task_exception_gate)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	fx_put64(&f, IDT + 8 * 8, 0x0000850000400000ULL);
	CHECK_EQ(emu_event_deliver(f.cpu, IDT_DF, EMU_EV_EXCEPTION, true, 0, RIP0), EMU_OK);
	check_in_b(&f);
	CHECK(emu_rflags(f.cpu) & RFL_NT);
	CHECK_EQ(get32(&f, TB), 0x38);
	CHECK_EQ(get32(&f, TA + 0x20), RIP0);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], STKB - 4);
	CHECK_EQ(get32(&f, STKB - 4), 0);
	fx_fini(&f);
}

TEST(task_faults)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	/* a busy TSS: #GP(sel); through a gate: #GP(TSS sel) */
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x38, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x38);
	fx_put64(&f, FX_GDT + 0x50, 0x0000850000380000ULL);
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x50, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x38);
	/* RPL above the TSS's DPL: #GP(sel) */
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x43, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	/* limit below 67H: #TS(sel); not present: #NP(sel) */
	fx_put64(&f, FX_GDT + 0x40, tss_desc(TB, 0x66, 0x9));
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	fx_put64(&f, FX_GDT + 0x40, tss_desc(TB, 0x67, 0x9) & ~(1ULL << 47));
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NP);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	/* none of that touched the running task */
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x38);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 0xa000);
	CHECK_EQ(desc_type(&f, 0x38), 0xb);
	CHECK_EQ(get32(&f, TA + 0x20), 0);
	/* IRET with NT and a back link to an available TSS: #TS(link) */
	fx_put64(&f, FX_GDT + 0x40, tss_desc(TB, 0x67, 0x9));
	put32(&f, TA, 0x40);
	emu_set_rflags(f.cpu, 0x2 | RFL_NT);
	CHECK_EQ(FX_RUN(&f, 0xcf), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	emu_set_rflags(f.cpu, 0x2);
	/* a bad CS in the new TSS: #TS(CS), taken in the new task */
	put32(&f, TB + 0x4c, 0x10);
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x10);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x40);
	CHECK_EQ(f.cpu->st.rip, EIPB);
	fx_fini(&f);
}

/* IA-32e mode has no task switches: JMP to a TSS is #GP(sel). */
TEST(task_long_mode)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	fx_put64(&f, FX_GDT + 0x40, tss_desc(TB, 0x67, 0x9));
	fx_put64(&f, FX_DATA, 0x40ULL << 32);
	CHECK_EQ(FX_RUN(&f, 0xff, 0x2c, 0x25, 0x00, 0x00, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	fx_fini(&f);
}

/*
 * T set in the new TSS (SDM Vol. 3A 7.2.1, 17.3.1.5): #DB with DR6.BT after
 * the switch, before the new task's first instruction.
 */
TEST(task_t_bit_jmp)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	put32(&f, TB + 0x64, 1);
	f.cpu->st.dr[6] = 0xffff0ff0;
	f.cpu->block_stop = 0;
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_OK);
	/* left pending as a trap, and the block ends so run() takes it */
	CHECK(f.cpu->st.pending_valid);
	CHECK_EQ(f.cpu->st.pending_vector, IDT_DB);
	CHECK(!f.cpu->st.pending_errcode_valid);
	CHECK(f.cpu->block_stop);
	CHECK_EQ(f.cpu->st.dr[6], 0xffff0ff0 | 0x8000);
	f.cpu->st.pending_valid = 0;	/* check_in_b wants none */
	check_in_b(&f);
	fx_fini(&f);
}

/* Single-stepped (TF) JMP to a task with T set: one #DB, BS and BT in DR6. */
TEST(task_t_bit_with_tf)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	put32(&f, TB + 0x64, 1);
	fx_put64(&f, IDT + 1 * 8, 0x00008e0000186000ULL);
	f.cpu->st.dr[6] = 0xffff0ff0;
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_OK);
	CHECK(f.cpu->st.pending_valid);
	/* what step_one does after an instruction run with TF set */
	f.cpu->st.dr[6] |= 1ULL << 14;
	f.cpu->exc_vector = IDT_DB;
	f.cpu->exc_has_err = 0;
	CHECK_EQ(emu_exception_deliver(f.cpu, EMU_EV_EXCEPTION, f.cpu->st.rip), EMU_OK);
	CHECK(!f.cpu->st.pending_valid);
	CHECK_EQ(f.cpu->st.rip, 0x6000);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], STKB - 12);	/* one frame */
	CHECK_EQ(get32(&f, STKB - 12), EIPB);
	CHECK_EQ(f.cpu->st.dr[6] & 0xc000, 0xc000);
	fx_fini(&f);
}

/* #DF through a task gate to a TSS with T set: the #DB handler runs first,
 * on the new task's stack, its frame returning to the task's first EIP. */
TEST(task_t_bit_exception)
{
	struct fx f;
	uint64_t esp;

	REQUIRE(setup(&f) == 0);
	put32(&f, TB + 0x64, 1);
	fx_put64(&f, IDT + 8 * 8, 0x0000850000400000ULL);
	/* vector 1: 32-bit interrupt gate to 18:6000 */
	fx_put64(&f, IDT + 1 * 8, 0x00008e0000186000ULL);
	f.cpu->st.dr[6] = 0xffff0ff0;
	f.cpu->exc_vector = IDT_DF;
	f.cpu->exc_has_err = 1;
	f.cpu->exc_err = 0;
	CHECK_EQ(emu_exception_deliver(f.cpu, EMU_EV_EXCEPTION, RIP0), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x40);
	CHECK_EQ(f.cpu->st.rip, 0x6000);
	CHECK(!f.cpu->st.pending_valid);
	CHECK(f.cpu->st.dr[6] & 0x8000);
	CHECK(!(emu_rflags(f.cpu) & RFL_IF));
	esp = f.cpu->st.gpr[GPR_RSP];
	CHECK_EQ(esp, STKB - 16);
	CHECK_EQ(get32(&f, esp), EIPB);		/* EIP: the task's first */
	CHECK_EQ(get32(&f, esp + 4), 0x18);	/* CS */
	CHECK(get32(&f, esp + 8) & RFL_NT);	/* EFLAGS of the new task */
	CHECK(!(get32(&f, esp + 8) & RFL_RF));	/* a trap: RF clear */
	CHECK_EQ(get32(&f, esp + 12), 0);	/* #DF's error code */
	fx_fini(&f);
}

/*
 * 16-bit TSSs (SDM Vol. 3A 7.6, figure 7-11): word fields, IP at 0EH,
 * FLAGS 10H, AX..DI 12H, ES CS SS DS 22H, LDT 2AH; limit at least 2BH;
 * no CR3, FS, GS or T bit.
 */
#define TC	(FX_DATA + 0x6000)	/* 16-bit TSS, selector 58 */
#define TD	(FX_DATA + 0x7000)	/* 16-bit TSS, selector 60 */
#define IPC	0x7000

static void
put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	memcpy(f->ram + gpa, &v, 2);
}

static uint16_t
get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, f->ram + gpa, 2);
	return v;
}

static void
setup16(struct fx *f, uint64_t base)
{
	int i;

	put16(f, base + 0x0e, IPC);
	put16(f, base + 0x10, 0x0202);
	for (i = 0; i < 8; i++)
		put16(f, base + 0x12 + 2 * (uint64_t)i, (uint16_t)(0xc000 + i));
	put16(f, base + 0x1a, 0x8000);	/* SP */
	put16(f, base + 0x22, 0x10);	/* ES */
	put16(f, base + 0x24, 0x18);	/* CS */
	put16(f, base + 0x26, 0x10);	/* SS */
	put16(f, base + 0x28, 0x10);	/* DS */
}

static void
check_in_c(struct fx *f, uint16_t tr)
{
	CHECK_EQ(f->cpu->st.seg[SEG_TR].sel, tr);
	CHECK_EQ(SEG_DESC_TYPE(f->cpu->st.seg[SEG_TR].access), 0x3);
	CHECK_EQ(f->cpu->st.rip, IPC);
	/* the upper words of the registers are all ones */
	CHECK_EQ(f->cpu->st.gpr[GPR_RAX], 0xffffc000);
	CHECK_EQ(f->cpu->st.gpr[GPR_RSP], 0xffff8000);
	CHECK_EQ(f->cpu->st.gpr[GPR_RDI], 0xffffc007);
	CHECK_EQ(f->cpu->st.seg[SEG_CS].sel, 0x18);
	CHECK_EQ(f->cpu->st.seg[SEG_SS].sel, 0x10);
	CHECK(!SEG_DESC_UNUSABLE(f->cpu->st.seg[SEG_DS].access));
	/* FS and GS null */
	CHECK_EQ(f->cpu->st.seg[SEG_FS].sel, 0);
	CHECK(SEG_DESC_UNUSABLE(f->cpu->st.seg[SEG_FS].access));
	CHECK_EQ(f->cpu->st.seg[SEG_GS].sel, 0);
	CHECK(SEG_DESC_UNUSABLE(f->cpu->st.seg[SEG_GS].access));
	CHECK(emu_rflags(f->cpu) & RFL_IF);
	CHECK(f->cpu->st.cr0 & CR0_TS);
	CHECK(!f->cpu->st.pending_valid);
}

/* CALL a 16-bit TSS from a 32-bit one, then IRET back along the link. */
TEST(task16_call_iret)
{
	struct fx f;
	uint64_t cr3;

	REQUIRE(setup(&f) == 0);
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2b, 0x1));
	setup16(&f, TC);
	put16(&f, TC + 0x2c, 1);	/* past the 16-bit TSS */
	put16(&f, TC + 0x64, 1);	/* a 32-bit TSS's T bit: a 16-bit one has none */
	cr3 = f.cpu->st.cr3;
	CHECK_EQ(FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x58, 0x00), EMU_OK);
	check_in_c(&f, 0x58);
	CHECK(emu_rflags(f.cpu) & RFL_NT);
	CHECK_EQ(f.cpu->st.cr3, cr3);
	CHECK_EQ(get16(&f, TC), 0x38);
	CHECK_EQ(desc_type(&f, 0x38), 0xb);
	CHECK_EQ(desc_type(&f, 0x58), 0x3);

	f.cpu->st.gpr[GPR_RBX] = 0x12345678;
	CHECK_EQ(FX_RUN(&f, 0xcf), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x38);
	CHECK_EQ(f.cpu->st.rip, RIP0 + 7);
	CHECK_EQ(f.cpu->st.gpr[GPR_RBX], 0xa003);
	CHECK_EQ(desc_type(&f, 0x58), 0x1);
	/* C's state as it left, in words: IP after IRET, BX, FLAGS without NT */
	CHECK_EQ(get16(&f, TC + 0x0e), IPC + 1);
	CHECK_EQ(get16(&f, TC + 0x18), 0x5678);
	CHECK_EQ(get16(&f, TC + 0x12), 0xc000);
	CHECK(!(get16(&f, TC + 0x10) & RFL_NT));
	CHECK_EQ(get16(&f, TC + 0x24), 0x18);
	CHECK_EQ(get16(&f, TC + 0x2a), 0);	/* LDT field: the old task had none */
	CHECK_EQ(get16(&f, TC + 0x2c), 1);	/* nothing written past the TSS */
	fx_fini(&f);
}

/* JMP from a 16-bit TSS to another: the old one saved as words, not busy. */
TEST(task16_jmp_16_to_16)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2b, 0x3));
	fx_put64(&f, FX_GDT + 0x60, tss_desc(TD, 0x2b, 0x1));
	emu_desc_to_seg(fx_get64(&f, FX_GDT + 0x58), 0x58, &f.cpu->st.seg[SEG_TR]);
	setup16(&f, TD);
	put16(&f, TC + 0x2a, 0x5555);	/* not a dynamic field: kept */
	put16(&f, TC + 0x2c, 0x7777);	/* past the TSS */
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x60, 0x00), EMU_OK);
	check_in_c(&f, 0x60);
	CHECK(!(emu_rflags(f.cpu) & RFL_NT));
	CHECK_EQ(desc_type(&f, 0x58), 0x1);
	CHECK_EQ(get16(&f, TC + 0x0e), RIP0 + 7);
	CHECK_EQ(get16(&f, TC + 0x12), 0xa000);
	CHECK_EQ(get16(&f, TC + 0x20), 0xa007);
	CHECK_EQ(get16(&f, TC + 0x22), 0x10);
	CHECK_EQ(get16(&f, TC + 0x24), 0x18);
	CHECK_EQ(get16(&f, TC + 0x28), 0x10);
	CHECK_EQ(get16(&f, TC + 0x2a), 0x5555);
	CHECK_EQ(get16(&f, TC + 0x2c), 0x7777);
	fx_fini(&f);
}

/* A 16-bit TSS below 2BH is #TS(sel); a 32-bit one needs 67H. */
TEST(task16_limits)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	setup16(&f, TC);
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2a, 0x1));
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x58, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x58);
	fx_put64(&f, FX_GDT + 0x40, tss_desc(TB, 0x2b, 0x9));
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x40, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x40);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x38);
	/* the running 16-bit task's own TSS below 2BH: #TS(TR) */
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2b, 0x1));
	fx_put64(&f, FX_GDT + 0x60, tss_desc(TD, 0x2a, 0x3));
	emu_desc_to_seg(fx_get64(&f, FX_GDT + 0x60), 0x60, &f.cpu->st.seg[SEG_TR]);
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x58, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_TS);
	CHECK_EQ(f.cpu->exc_err, 0x60);
	CHECK_EQ(desc_type(&f, 0x58), 0x1);
	fx_fini(&f);
}

/* #DF through a task gate to a 16-bit TSS: a word of error code. */
TEST(task16_exception_gate)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2b, 0x1));
	setup16(&f, TC);
	/* a 16-bit stack: SP, not the all-ones upper word, addresses it */
	fx_put64(&f, FX_GDT + 0x78, 0x000093000000ffffULL);
	put16(&f, TC + 0x26, 0x78);
	put16(&f, 0x7ffe, 0xeeee);
	put16(&f, 0x7ffc, 0xdddd);
	fx_put64(&f, IDT + 8 * 8, 0x0000850000580000ULL);
	CHECK_EQ(emu_event_deliver(f.cpu, IDT_DF, EMU_EV_EXCEPTION, true, 0, RIP0), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_TR].sel, 0x58);
	CHECK_EQ(f.cpu->st.rip, IPC);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0xffff7ffe);
	CHECK_EQ(get16(&f, 0x7ffe), 0);
	CHECK_EQ(get16(&f, 0x7ffc), 0xdddd);	/* a word, not a doubleword */
	CHECK_EQ(get16(&f, TC), 0x38);
	fx_fini(&f);
}

/* An interrupt from ring 3 in a 16-bit task: SS0:SP0 at 4 and 2 (7.6). */
TEST(task16_inner_stack)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	fx_put64(&f, FX_GDT + 0x58, tss_desc(TC, 0x2b, 0x3));
	emu_desc_to_seg(fx_get64(&f, FX_GDT + 0x58), 0x58, &f.cpu->st.seg[SEG_TR]);
	put16(&f, TC + 2, 0x9000);	/* SP0 */
	put16(&f, TC + 4, 0x10);	/* SS0 */
	fx_put64(&f, FX_GDT + 0x68, 0x00cffb000000ffffULL);	/* ring-3 code */
	fx_put64(&f, FX_GDT + 0x70, 0x00cff3000000ffffULL);	/* ring-3 data */
	f.cpu->st.seg[SEG_CS] = fx_flat(0x6b, 0xc0fb);
	f.cpu->st.seg[SEG_SS] = fx_flat(0x73, 0xc0f3);
	f.cpu->st.gpr[GPR_RSP] = 0x4444;
	emu_update_mode(f.cpu);
	REQUIRE(f.cpu->cpl == 3);
	fx_put64(&f, IDT + 0x20 * 8, 0x00008e0000186000ULL);
	CHECK_EQ(emu_event_deliver(f.cpu, 0x20, EMU_EV_EXTINT, false, 0, RIP0), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 0);
	CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x10);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0x9000 - 20);
	CHECK_EQ(get32(&f, 0x9000 - 8), 0x4444);	/* the old ESP */
	CHECK_EQ(get32(&f, 0x9000 - 4), 0x73);		/* the old SS */
	fx_fini(&f);
}

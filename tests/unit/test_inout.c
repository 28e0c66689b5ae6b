/*
 * test_inout.c - the port table and the MMIO range registry: registration
 * rules, dispatch, bhyve's default for unclaimed ports, x86.strictio.
 */
#include <errno.h>
#include <unistd.h>

#include "test.h"
#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "mem.h"

struct rec {
	int	in, port, bytes, calls;
	uint32_t eax;
	int	ret;
};

static int
rec_handler(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t *eax,
    void *arg)
{
	struct rec *r = arg;

	r->calls++;
	r->in = in;
	r->port = port;
	r->bytes = bytes;
	if (in)
		*eax = 0x11223344 + (uint32_t)port;
	else
		r->eax = *eax;
	return (r->ret);
}

static int
other_handler(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{

	return (0);
}

static char errbuf[1024];

/* Runs emulate_inout with stderr captured into errbuf. */
static int
io(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t *eax)
{
	struct vm_exit vme;
	FILE *tmp;
	size_t n;
	int saved, r;

	memset(&vme, 0, sizeof(vme));
	vme.exitcode = VM_EXITCODE_INOUT;
	vme.u.inout.in = in;
	vme.u.inout.port = (uint16_t)port;
	vme.u.inout.bytes = bytes & 7;
	vme.u.inout.eax = *eax;
	fflush(stderr);
	tmp = tmpfile();
	saved = dup(2);
	dup2(fileno(tmp), 2);
	r = emulate_inout(bvm, &vme);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(errbuf, 1, sizeof(errbuf) - 1, tmp);
	errbuf[n] = '\0';
	fclose(tmp);
	*eax = vme.u.inout.eax;
	return (r);
}

static struct bhyve_vm *
bare_vm(const char *strict)
{
	struct bhyve_vm *bvm = calloc(1, sizeof(*bvm));

	bvm->cfg = config_create();
	if (strict != NULL)
		set_config_value(bvm->cfg, "x86.strictio", strict);
	if (bhyve_devices_init(bvm) != 0) {
		config_destroy(bvm->cfg);
		free(bvm);
		return (NULL);
	}
	return (bvm);
}

static void
bare_free(struct bhyve_vm *bvm)
{

	bhyve_devices_fini(bvm);
	config_destroy(bvm->cfg);
	free(bvm);
}

TEST(inout_register_rules)
{
	struct inout_table *t = inout_table_create();
	struct rec r = { 0 };
	struct inout_port p = { "dev", 0x100, 8, IOPORT_F_INOUT, rec_handler,
	    &r };
	struct inout_port q;

	REQUIRE(t != NULL);
	CHECK_EQ(register_inout(t, &p), 0);
	CHECK_EQ(register_inout(t, &p), -EEXIST);
	q = p;
	q.port = 0x107;
	q.size = 1;
	CHECK_EQ(register_inout(t, &q), -EEXIST);	/* last port */
	q.port = 0xf8;
	q.size = 9;
	CHECK_EQ(register_inout(t, &q), -EEXIST);	/* first port */
	q.port = 0x108;
	q.size = 1;
	CHECK_EQ(register_inout(t, &q), 0);		/* adjacent */
	/* Bad ranges, flags and handlers. */
	q = p;
	q.port = 0xffff;
	q.size = 2;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.port = -1;
	q.size = 1;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.port = 0x200;
	q.size = 0;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.size = 1;
	q.flags = 0;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.flags = 0x80;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.flags = IOPORT_F_IN;
	q.handler = NULL;
	CHECK_EQ(register_inout(t, &q), -EINVAL);
	q.handler = rec_handler;
	q.port = 0xffff;
	CHECK_EQ(register_inout(t, &q), 0);		/* the very last port */
	/* Unregister must name exactly what was registered. */
	q = p;
	q.arg = NULL;
	CHECK_EQ(unregister_inout(t, &q), -ENOENT);
	q = p;
	q.handler = other_handler;
	CHECK_EQ(unregister_inout(t, &q), -ENOENT);
	q = p;
	q.size = 4;
	CHECK_EQ(unregister_inout(t, &q), -ENOENT);
	q.port = 0x300;
	CHECK_EQ(unregister_inout(t, &q), -ENOENT);
	CHECK_EQ(unregister_inout(t, &p), 0);
	CHECK_EQ(unregister_inout(t, &p), -ENOENT);
	CHECK_EQ(register_inout(t, &p), 0);		/* free again */
	inout_table_destroy(t);
	inout_table_destroy(NULL);
}

TEST(inout_many_ranges)
{
	struct inout_table *t = inout_table_create();
	struct inout_port p = { "one", 0, 1, IOPORT_F_IN, other_handler, NULL };
	int i;

	/* Every port its own registration: the table's capacity. */
	for (i = 0; i < MAX_IOPORTS - 1; i++) {
		p.port = i;
		if (register_inout(t, &p) != 0) {
			CHECK(0);
			break;
		}
	}
	p.port = MAX_IOPORTS - 1;
	CHECK_EQ(register_inout(t, &p), -ENOSPC);
	p.port = 5;
	CHECK_EQ(unregister_inout(t, &p), 0);
	p.port = MAX_IOPORTS - 1;
	CHECK_EQ(register_inout(t, &p), 0);		/* reuses the slot */
	inout_table_destroy(t);
}

TEST(inout_dispatch)
{
	struct bhyve_vm *bvm = bare_vm(NULL);
	struct rec r = { 0 };
	struct inout_port p = { "dev", 0x700, 4, IOPORT_F_INOUT, rec_handler,
	    &r };
	uint32_t eax;

	REQUIRE(bvm != NULL);
	CHECK_EQ(register_inout(bvm->inout, &p), 0);
	eax = 0;
	CHECK_EQ(io(bvm, 1, 0x702, 2, &eax), 0);
	CHECK_EQ(r.port, 0x702);
	CHECK_EQ(r.bytes, 2);
	CHECK_EQ(eax, 0x3344 + 0x702);		/* only the low 2 bytes */
	eax = 0xaabbccdd;
	CHECK_EQ(io(bvm, 0, 0x703, 1, &eax), 0);
	CHECK_EQ(r.eax, 0xdd);			/* handler sees the width */
	eax = 0;
	CHECK_EQ(io(bvm, 1, 0x700, 4, &eax), 0);
	CHECK_EQ(eax, 0x11223344 + 0x700);
	/* A failing handler fails the exit, naming the device. */
	r.ret = -1;
	CHECK_EQ(io(bvm, 0, 0x700, 1, &eax), -1);
	CHECK(strstr(errbuf, "dev") != NULL);
	CHECK_EQ(r.calls, 4);
	/* Widths the CPU never produces. */
	CHECK_EQ(io(bvm, 1, 0x700, 3, &eax), -1);
	CHECK_EQ(io(bvm, 1, 0x700, 0, &eax), -1);
	CHECK_EQ(r.calls, 4);
	bare_free(bvm);
}

TEST(inout_unhandled_default)
{
	struct bhyve_vm *bvm = bare_vm("false");
	struct rec r = { 0 };
	struct inout_port p = { "ro", 0x710, 1, IOPORT_F_IN, rec_handler, &r };
	uint32_t eax;

	REQUIRE(bvm != NULL);
	/* Nothing drives the bus: reads float high, writes vanish. */
	eax = 0;
	CHECK_EQ(io(bvm, 1, 0x1234, 1, &eax), 0);
	CHECK_EQ(eax, 0xff);
	CHECK_EQ(io(bvm, 1, 0x1234, 2, &eax), 0);
	CHECK_EQ(eax, 0xffff);
	CHECK_EQ(io(bvm, 1, 0xffff, 4, &eax), 0);
	CHECK_EQ(eax, 0xffffffff);
	CHECK_EQ(io(bvm, 0, 0x1234, 4, &eax), 0);
	CHECK_EQ(errbuf[0], '\0');
	/* A port without the direction behaves as unclaimed for it. */
	CHECK_EQ(register_inout(bvm->inout, &p), 0);
	eax = 1;
	CHECK_EQ(io(bvm, 0, 0x710, 1, &eax), 0);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(io(bvm, 1, 0x710, 1, &eax), 0);
	CHECK_EQ(r.calls, 1);
	bare_free(bvm);
}

TEST(inout_strictio)
{
	struct bhyve_vm *bvm = bare_vm("true");
	struct rec r = { 0 };
	struct inout_port p = { "ro", 0x710, 1, IOPORT_F_IN, rec_handler, &r };
	uint32_t eax = 0;

	REQUIRE(bvm != NULL);
	/* Unhandled under strictio: -1, and the caller (bhyverun) reports it. */
	CHECK_EQ(io(bvm, 1, 0x1234, 1, &eax), -1);
	CHECK_EQ(io(bvm, 0, 0x80, 1, &eax), -1);
	CHECK_EQ(register_inout(bvm->inout, &p), 0);
	CHECK_EQ(io(bvm, 0, 0x710, 1, &eax), -1);
	CHECK_EQ(io(bvm, 1, 0x710, 1, &eax), 0);
	bare_free(bvm);

	/* A value that is not a boolean is a config error. */
	bvm = calloc(1, sizeof(*bvm));
	bvm->cfg = config_create();
	set_config_value(bvm->cfg, "x86.strictio", "sometimes");
	fflush(stderr);
	CHECK_EQ(bhyve_devices_init(bvm), -1);
	config_destroy(bvm->cfg);
	free(bvm);
}

/* --- MMIO ranges --- */

static int
mem_rec(struct bhyve_vm *bvm, int dir, uint64_t addr, int size,
    uint64_t *val, void *arg1, long arg2)
{
	struct rec *r = arg1;

	r->calls++;
	r->bytes = size;
	r->in = dir == MEM_F_READ;
	r->port = (int)(addr - 0x10000000 + arg2);
	if (dir == MEM_F_READ)
		*val = 0x8877665544332211ULL;
	else
		r->eax = (uint32_t)*val;
	return (r->ret);
}

static int
mm(struct bhyve_vm *bvm, int write, uint64_t gpa, int size, uint64_t *val)
{
	struct vm_exit vme;
	FILE *tmp;
	size_t n;
	int saved, r;

	memset(&vme, 0, sizeof(vme));
	vme.exitcode = VM_EXITCODE_INST_EMUL;
	vme.u.mmio.gpa = gpa;
	vme.u.mmio.size = (uint8_t)size;
	vme.u.mmio.write = (uint8_t)write;
	vme.u.mmio.data = *val;
	fflush(stderr);
	tmp = tmpfile();
	saved = dup(2);
	dup2(fileno(tmp), 2);
	r = emulate_mem(bvm, &vme);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(errbuf, 1, sizeof(errbuf) - 1, tmp);
	errbuf[n] = '\0';
	fclose(tmp);
	*val = vme.u.mmio.data;
	return (r);
}

TEST(mem_register_rules)
{
	struct mem_ranges *mr = mem_ranges_create();
	struct rec r = { 0 };
	struct mem_range a = { "a", MEM_F_RW, mem_rec, &r, 0, 0x1000, 0x1000 };
	struct mem_range b;

	REQUIRE(mr != NULL);
	CHECK_EQ(register_mem(mr, &a), 0);
	CHECK_EQ(register_mem(mr, &a), -EEXIST);
	b = a;
	b.base = 0x1fff;
	b.size = 1;
	CHECK_EQ(register_mem(mr, &b), -EEXIST);
	b.base = 0x800;
	b.size = 0x801;
	CHECK_EQ(register_mem(mr, &b), -EEXIST);
	b.base = 0;
	b.size = 0x10000;
	CHECK_EQ(register_mem(mr, &b), -EEXIST);	/* covers it */
	b.base = 0x2000;
	b.size = 0x10;
	CHECK_EQ(register_mem(mr, &b), 0);
	b.base = 0x800;
	b.size = 0x800;
	CHECK_EQ(register_mem(mr, &b), 0);
	b.base = ~0ULL - 0xfff;
	b.size = 0x1000;
	CHECK_EQ(register_mem(mr, &b), 0);		/* ends at 2^64 */
	b.size = 0x1001;
	b.base = ~0ULL - 0xfff - 0x2000;
	CHECK_EQ(register_mem(mr, &b), 0);
	b.base = ~0ULL;
	b.size = 2;
	CHECK_EQ(register_mem(mr, &b), -EINVAL);	/* wraps */
	b.base = 0x8000;
	b.size = ~0ULL;
	CHECK_EQ(register_mem(mr, &b), -EINVAL);
	b.base = 0x5000;
	b.size = 0;
	CHECK_EQ(register_mem(mr, &b), -EINVAL);
	b.size = 1;
	b.flags = 0;
	CHECK_EQ(register_mem(mr, &b), -EINVAL);
	b.flags = MEM_F_RW | MEM_F_IMMUTABLE;
	CHECK_EQ(register_mem(mr, &b), 0);
	CHECK_EQ(unregister_mem(mr, &b), -ENOENT);	/* immutable */
	b = a;
	b.size = 0x800;
	CHECK_EQ(unregister_mem(mr, &b), -ENOENT);	/* wrong size */
	CHECK_EQ(unregister_mem(mr, &a), 0);
	CHECK_EQ(unregister_mem(mr, &a), -ENOENT);
	CHECK_EQ(register_mem(mr, &a), 0);
	mem_ranges_destroy(mr);
	mem_ranges_destroy(NULL);
}

TEST(mem_dispatch)
{
	struct bhyve_vm *bvm = bare_vm(NULL);
	struct rec r = { 0 };
	struct mem_range a = { "dev", MEM_F_RW, mem_rec, &r, 5, 0x10000000,
	    0x100 };
	struct mem_range ro = { "rom", MEM_F_READ, mem_rec, &r, 0, 0x10001000,
	    0x100 };
	uint64_t v;

	REQUIRE(bvm != NULL);
	CHECK_EQ(register_mem(bvm->mem, &a), 0);
	CHECK_EQ(register_mem(bvm->mem, &ro), 0);
	v = 0;
	CHECK_EQ(mm(bvm, 0, 0x10000010, 2, &v), 0);
	CHECK_EQ(v, 0x2211);
	CHECK_EQ(r.port, 0x10 + 5);			/* arg2 passed */
	CHECK_EQ(r.bytes, 2);
	v = 0x1122334455667788ULL;
	CHECK_EQ(mm(bvm, 1, 0x100000f8, 4, &v), 0);
	CHECK_EQ(r.eax, 0x55667788);			/* masked to size */
	CHECK_EQ(mm(bvm, 0, 0x100000f8, 8, &v), 0);
	CHECK_EQ(v, 0x8877665544332211ULL);
	/* Straddling the end, or unclaimed: bhyve's error. */
	CHECK_EQ(mm(bvm, 0, 0x100000fc, 8, &v), -1);
	CHECK_EQ(mm(bvm, 0, 0x0fffffff, 2, &v), -1);
	CHECK_EQ(mm(bvm, 0, 0x20000000, 4, &v), -1);
	CHECK(strcmp(errbuf, "bhyve: unhandled memory access to "
	    "0x20000000\n") == 0);
	CHECK_EQ(mm(bvm, 0, ~0ULL, 8, &v), -1);
	CHECK_EQ(mm(bvm, 0, 0x10000000, 3, &v), -1);
	/* Writes to a read-only range are dropped. */
	r.calls = 0;
	CHECK_EQ(mm(bvm, 1, 0x10001000, 4, &v), 0);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(mm(bvm, 0, 0x10001000, 1, &v), 0);
	CHECK_EQ(v, 0x11);
	r.ret = 1;
	CHECK_EQ(mm(bvm, 0, 0x10001000, 1, &v), -1);
	bare_free(bvm);
}

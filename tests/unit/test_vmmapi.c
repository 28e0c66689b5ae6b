/* test_vmmapi.c - libvmmapi round trips, owner and remote (control socket). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "vmmapi.h"

static void
fresh_store(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lhyve-api-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	setenv("VMM_DIR", dir, 1);
}

TEST(parse_memsize)
{
	size_t m;

	CHECK(vm_parse_memsize("128M", &m) == 0 && m == 128UL << 20);
	CHECK(vm_parse_memsize("2g", &m) == 0 && m == 2UL << 30);
	CHECK(vm_parse_memsize("512", &m) == 0 && m == 512UL << 20);
	CHECK(vm_parse_memsize("64k", &m) == 0 && m == 64UL << 10);
	CHECK(vm_parse_memsize("1GB", &m) == 0 && m == 1UL << 30);
	CHECK(vm_parse_memsize("12Q", &m) == -1 && errno == EINVAL);
	CHECK(vm_parse_memsize("", &m) == -1);
	CHECK(vm_parse_memsize("-5M", &m) == -1);
	CHECK(vm_parse_memsize("0", &m) == -1);
	CHECK(vm_parse_memsize("99999999999999999999", &m) == -1);
	CHECK(vm_parse_memsize("20000000T", &m) == -1);
}

TEST(create_setup_map_registers)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;
	uint64_t v, base;
	uint32_t limit, access;
	uint8_t *p;
	int regs[2] = { VM_REG_GUEST_RBX, VM_REG_GUEST_RCX };
	uint64_t vals[2] = { 11, 22 }, back[2];

	fresh_store();
	CHECK_EQ(vm_create("api"), 0);
	CHECK(vm_create("api") == -1 && errno == EEXIST);
	ctx = vm_open("api");
	REQUIRE(ctx != NULL);
	CHECK(!vm_is_running(ctx));
	CHECK_EQ(vm_setup_memory(ctx, 16 << 20, VM_MMAP_ALL), 0);
	CHECK_EQ(vm_get_lowmem_size(ctx), 16 << 20);
	CHECK_EQ(vm_get_highmem_size(ctx), 0);
	p = vm_map_gpa(ctx, 0x1000, 16);
	REQUIRE(p != NULL);
	p[0] = 0xaa;
	CHECK(vm_map_gpa(ctx, 16 << 20, 1) == NULL);
	vcpu = vm_vcpu_open(ctx, 0);
	REQUIRE(vcpu != NULL);
	CHECK_EQ(vm_set_register(vcpu, VM_REG_GUEST_RIP, 0x1000), 0);
	CHECK_EQ(vm_get_register(vcpu, VM_REG_GUEST_RIP, &v), 0);
	CHECK_EQ(v, 0x1000);
	CHECK_EQ(vm_set_register_set(vcpu, 2, regs, vals), 0);
	CHECK_EQ(vm_get_register_set(vcpu, 2, regs, back), 0);
	CHECK_EQ(back[0], 11);
	CHECK_EQ(back[1], 22);
	CHECK_EQ(vm_set_desc(vcpu, VM_REG_GUEST_ES, 0x10, 0x20, 0x93), 0);
	CHECK_EQ(vm_get_desc(vcpu, VM_REG_GUEST_ES, &base, &limit, &access), 0);
	CHECK(base == 0x10 && limit == 0x20 && access == 0x93);
	CHECK(vm_set_register(vcpu, 9999, 1) == -1 && errno == EINVAL);
	CHECK(vm_vcpu_open(ctx, VM_MAXCPU) == NULL);
	vm_vcpu_close(vcpu);
	vm_close(ctx);

	/* Everything survived the close; memory too. */
	ctx = vm_open("api");
	REQUIRE(ctx != NULL);
	vcpu = vm_vcpu_open(ctx, 0);
	CHECK_EQ(vm_get_register(vcpu, VM_REG_GUEST_RBX, &v), 0);
	CHECK_EQ(v, 11);
	p = vm_map_gpa(ctx, 0x1000, 1);
	CHECK(p != NULL && p[0] == 0xaa);
	vm_vcpu_close(vcpu);
	vm_destroy(ctx);
	CHECK(vm_open("api") == NULL && errno == ENOENT);
}

TEST(freebsd_registers)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;
	uint64_t v, base;
	uint32_t limit, access;
	uint64_t *gdt;

	fresh_store();
	ctx = vm_openf("fb", VMMAPI_OPEN_CREATE);
	REQUIRE(ctx != NULL);
	REQUIRE(vm_setup_memory(ctx, 4 << 20, VM_MMAP_ALL) == 0);
	vcpu = vm_vcpu_open(ctx, 0);
	CHECK_EQ(vm_setup_freebsd_registers(vcpu, 0x200000, 0x1000, 0x3000, 0x8000), 0);
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_EFER, &v) == 0 && v == 0x500);
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_CS, &v) == 0 && v == 8);
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_SS, &v) == 0 && v == 0x10);
	CHECK(vm_get_desc(vcpu, VM_REG_GUEST_CS, &base, &limit, &access) == 0 && access == 0x209b);
	CHECK(vm_get_desc(vcpu, VM_REG_GUEST_GDTR, &base, &limit, &access) == 0 &&
	    base == 0x3000 && limit == 23);
	gdt = vm_map_gpa(ctx, 0x3000, 24);
	CHECK(gdt != NULL && gdt[1] == 0x0020980000000000ULL);
	CHECK(vm_setup_freebsd_registers(vcpu, 0, 0, 64 << 20, 0) == -1);
	vm_vcpu_close(vcpu);
	vm_destroy(ctx);
}

TEST(remote_while_running)
{
	struct vmctx *owner, *remote;
	struct vcpu *v1, *v2;
	uint64_t v, *stats;
	int n;

	fresh_store();
	REQUIRE(vm_create("rm") == 0);
	owner = vm_openf("rm", VMMAPI_OPEN_RUN);
	REQUIRE(owner != NULL);
	REQUIRE(vm_setup_memory(owner, 4 << 20, VM_MMAP_ALL) == 0);
	REQUIRE(vm_attach_backend(owner, "emu") == 0);
	/* A second opener cannot own it: it becomes a client of the first. */
	CHECK(vm_openf("rm", VMMAPI_OPEN_RUN) == NULL && errno == EBUSY);
	remote = vm_open("rm");
	REQUIRE(remote != NULL);
	CHECK(vm_is_running(remote));
	CHECK_EQ(vm_runner_pid(remote), getpid());
	CHECK_EQ(vm_get_lowmem_size(remote), 4 << 20);
	v1 = vm_vcpu_open(owner, 0);
	v2 = vm_vcpu_open(remote, 0);
	CHECK_EQ(vm_set_register(v2, VM_REG_GUEST_RAX, 0x5a5a), 0);
	CHECK(vm_get_register(v1, VM_REG_GUEST_RAX, &v) == 0 && v == 0x5a5a);
	CHECK_EQ(vm_set_register(v1, VM_REG_GUEST_RDX, 77), 0);
	CHECK(vm_get_register(v2, VM_REG_GUEST_RDX, &v) == 0 && v == 77);
	CHECK(vm_set_register(v2, VM_REG_LAST, 1) == -1 && errno == EINVAL);
	stats = vm_get_stats(v2, NULL, &n);
	CHECK(stats != NULL && n > 0);
	CHECK(vm_setup_memory(remote, 4 << 20, VM_MMAP_ALL) == -1 && errno == EBUSY);
	CHECK(vm_map_gpa(remote, 0, 4096) != NULL);
	CHECK_EQ(vm_suspend(remote, VM_SUSPEND_POWEROFF), 0);
	vm_vcpu_close(v1);
	vm_vcpu_close(v2);
	vm_close(remote);
	vm_destroy(owner);
}

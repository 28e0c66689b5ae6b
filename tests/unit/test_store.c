/* test_store.c - the instance store: names, create/open/destroy, lock, state file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vmm_core.h"
#include "vmm_store.h"

static void
fresh_store(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lhyve-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	setenv("VMM_DIR", dir, 1);
}

TEST(names)
{
	CHECK_EQ(vmm_store_check_name("vm0"), 0);
	CHECK_EQ(vmm_store_check_name("a.b-c_d"), 0);
	CHECK_EQ(vmm_store_check_name(""), -EINVAL);
	CHECK_EQ(vmm_store_check_name("a/b"), -EINVAL);
	CHECK_EQ(vmm_store_check_name(".."), -EINVAL);
	CHECK_EQ(vmm_store_check_name("a b"), -EINVAL);
	CHECK_EQ(vmm_store_check_name("0123456789012345678901234567890"), 0);
	CHECK_EQ(vmm_store_check_name("01234567890123456789012345678901"), -ENAMETOOLONG);
}

TEST(create_open_destroy)
{
	struct vm *vm;

	fresh_store();
	CHECK_EQ(vmm_store_create("t1"), 0);
	CHECK_EQ(vmm_store_create("t1"), -EEXIST);
	CHECK(vmm_store_exists("t1"));
	REQUIRE(vmm_open("t1", &vm) == 0);
	CHECK_EQ(vmm_setup_memory(vm, 1 << 20, 0), 0);
	CHECK(vmm_gpa_map(vm, 0, 1 << 20) != NULL);
	CHECK(vmm_gpa_map(vm, 1 << 20, 1) == NULL);
	CHECK(vmm_gpa_map(vm, (1 << 20) - 8, 16) == NULL);
	CHECK(vmm_gpa_map(vm, ~0ULL - 4, 8) == NULL);
	CHECK_EQ(vmm_setup_memory(vm, 2 << 20, 0), -EEXIST);
	CHECK_EQ(vmm_close(vm), 0);
	CHECK_EQ(vmm_store_destroy("t1"), 0);
	CHECK(!vmm_store_exists("t1"));
	CHECK_EQ(vmm_store_destroy("t1"), -ENOENT);
	CHECK_EQ(vmm_open("t1", &vm), -ENOENT);
}

TEST(lock_excludes_second_owner)
{
	struct vm *a, *b;

	fresh_store();
	REQUIRE(vmm_store_create("t2") == 0);
	REQUIRE(vmm_open("t2", &a) == 0);
	/* flock is per open file: a second open in this process is refused too. */
	CHECK_EQ(vmm_open("t2", &b), -EBUSY);
	CHECK_EQ(vmm_store_lock_owner("t2"), getpid());
	vmm_close(a);
	REQUIRE(vmm_open("t2", &b) == 0);
	vmm_close(b);
	vmm_store_destroy("t2");
}

TEST(registers_persist_between_opens)
{
	struct vm *vm;
	struct seg_desc d = { 0x1000, 0xffff, 0x93 }, got;
	uint64_t v;

	fresh_store();
	REQUIRE(vmm_store_create("t3") == 0);
	REQUIRE(vmm_open("t3", &vm) == 0);
	CHECK_EQ(vmm_set_reg(vm, 0, VM_REG_GUEST_RIP, 0x12345), 0);
	CHECK_EQ(vmm_set_reg(vm, 1, VM_REG_GUEST_RAX, 0xdeadbeef), 0);
	CHECK_EQ(vmm_set_desc(vm, 0, VM_REG_GUEST_DS, &d), 0);
	CHECK_EQ(vmm_set_reg(vm, 0, VM_REG_LAST, 1), -EINVAL);
	CHECK_EQ(vmm_set_reg(vm, VM_MAXCPU, VM_REG_GUEST_RAX, 1), -EINVAL);
	CHECK_EQ(vmm_set_reg(vm, -1, VM_REG_GUEST_RAX, 1), -EINVAL);
	vmm_close(vm);
	REQUIRE(vmm_open("t3", &vm) == 0);
	CHECK_EQ(vmm_get_reg(vm, 0, VM_REG_GUEST_RIP, &v), 0);
	CHECK_EQ(v, 0x12345);
	CHECK_EQ(vmm_get_reg(vm, 1, VM_REG_GUEST_RAX, &v), 0);
	CHECK_EQ(v, 0xdeadbeef);
	CHECK_EQ(vmm_get_desc(vm, 0, VM_REG_GUEST_DS, &got), 0);
	CHECK_EQ(got.base, 0x1000);
	CHECK_EQ(got.limit, 0xffff);
	CHECK_EQ(got.access, 0x93);
	vmm_close(vm);
	vmm_store_destroy("t3");
}

TEST(state_roundtrip_and_corruption)
{
	struct vmm_image *img = calloc(1, sizeof(*img)), *back = calloc(1, sizeof(*back));
	uint8_t *buf;
	size_t len, i;

	REQUIRE(img != NULL && back != NULL);
	vmm_image_init(img);
	img->memsize = img->lowmem = 64 << 20;
	img->ncpus = 2;
	img->cpu[1].gpr[3] = 42;
	img->stats[0][VMST_INSNS] = 7;
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	CHECK(memcmp(img, back, sizeof(*img)) == 0);
	/* Every single-byte corruption is caught (header CRC or payload CRC). */
	for (i = 0; i < len; i += 97) {
		buf[i] ^= 0x40;
		CHECK(vmm_state_parse(buf, len, back) < 0);
		buf[i] ^= 0x40;
	}
	/* Every truncation is caught. */
	for (i = 0; i < len; i += 131)
		CHECK(vmm_state_parse(buf, i, back) < 0);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	free(buf);
	free(img);
	free(back);
}

TEST(state_rejects_inconsistent_layout)
{
	struct vmm_image *img = calloc(1, sizeof(*img)), *back = calloc(1, sizeof(*back));
	uint8_t *buf;
	size_t len;

	REQUIRE(img != NULL && back != NULL);
	vmm_image_init(img);
	img->memsize = 64 << 20;	/* lowmem not set: inconsistent */
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	CHECK_EQ(vmm_state_parse(buf, len, back), -EBADMSG);
	free(buf);
	img->memsize = img->lowmem = 64 << 20;
	img->ncpus = 0;
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	CHECK_EQ(vmm_state_parse(buf, len, back), -EBADMSG);
	free(buf);
	free(img);
	free(back);
}

TEST(failed_load_leaves_state_alone)
{
	struct vm *vm;
	char path[512];
	struct stat before, after;
	int fd;

	fresh_store();
	REQUIRE(vmm_store_create("t4") == 0);
	vmm_store_path(path, sizeof(path), "t4", "state");
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "X", 1, 300) == 1);
	close(fd);
	stat(path, &before);
	CHECK_EQ(vmm_open("t4", &vm), -EBADMSG);
	CHECK(strstr(vmm_store_strerror(), "checksum") != NULL);
	stat(path, &after);
	CHECK_EQ(before.st_ino, after.st_ino);
	CHECK_EQ(before.st_mtime, after.st_mtime);
	vmm_store_destroy("t4");
}

TEST(memory_space_checked)
{
	struct vm *vm;

	fresh_store();
	setenv("VMM_MEM_DIR", getenv("VMM_DIR"), 1);
	REQUIRE(vmm_store_create("t5") == 0);
	REQUIRE(vmm_open("t5", &vm) == 0);
	CHECK_EQ(vmm_setup_memory(vm, 1ULL << 40, 0), -ENOSPC);
	CHECK(strstr(vmm_store_strerror(), "not enough space") != NULL);
	CHECK_EQ(vmm_setup_memory(vm, 12345, 0), -EINVAL);
	vmm_close(vm);
	vmm_store_destroy("t5");
	unsetenv("VMM_MEM_DIR");
}

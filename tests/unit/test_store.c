/* test_store.c - the instance store: names, create/open/destroy, lock, state file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "test.h"
#include "vmm_core.h"
#include "vmm_store.h"
#include "io/vatpic.h"
#include "io/vatpit.h"
#include "io/vhpet.h"
#include "io/vioapic.h"
#include "io/vlapic.h"
#include "io/vpmtmr.h"
#include "io/vrtc.h"

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

/* What a dead owner left (its socket, a save cut short) goes with the next owner. */
TEST(leftovers_of_a_dead_owner_cleaned)
{
	char path[512];
	struct vm *vm;
	FILE *fp;

	fresh_store();
	REQUIRE(vmm_store_create("t6") == 0);
	vmm_store_path(path, sizeof(path), "t6", "state.Ab12Cd");
	REQUIRE((fp = fopen(path, "w")) != NULL);
	fclose(fp);
	vmm_store_path(path, sizeof(path), "t6", "ctl");
	REQUIRE((fp = fopen(path, "w")) != NULL);
	fclose(fp);
	REQUIRE(vmm_open("t6", &vm) == 0);
	CHECK(access(path, F_OK) != 0);
	vmm_store_path(path, sizeof(path), "t6", "state.Ab12Cd");
	CHECK(access(path, F_OK) != 0);
	vmm_store_path(path, sizeof(path), "t6", "state");
	CHECK(access(path, F_OK) == 0);
	vmm_close(vm);
	vmm_store_destroy("t6");
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
	vmm_image_fini(back);
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
	vmm_image_fini(back);
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

/* ---- the version 2 format, byte by byte (docs/store.md) ---- */

/* Files the tests write are the fuzzer's seed corpus ($LHYVE_STATE_SEEDS). */
static void
seed(const char *name, const uint8_t *buf, size_t len)
{
	const char *dir = getenv("LHYVE_STATE_SEEDS");
	char path[512];
	FILE *f;

	if (dir == NULL || dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

/* A hand-made file: header and sections with correct checksums. */
struct fb {
	uint8_t		buf[65536 * 2];
	size_t		len;
	uint32_t	nsec;
};

static void
fb_start(struct fb *f)
{
	memset(f, 0, sizeof(*f));
	f->len = 32;
}

static void
fb_sec(struct fb *f, uint32_t type, uint16_t flags, uint16_t vcpu, const char *name,
    const void *data, uint32_t len)
{
	uint8_t *p = f->buf + f->len;
	uLong crc;

	memset(p, 0, 32);
	memcpy(p, &type, 4);
	memcpy(p + 4, &flags, 2);
	memcpy(p + 6, &vcpu, 2);
	memcpy(p + 8, &len, 4);
	if (name != NULL)
		memcpy(p + 16, name, strlen(name));
	memcpy(p + 32, data, len);
	crc = crc32(crc32(crc32(0, p, 12), p + 16, 16), p + 32, len);
	memcpy(p + 12, &(uint32_t){ (uint32_t)crc }, 4);
	f->len += 32 + len;
	f->nsec++;
}

static void
fb_finish(struct fb *f, uint32_t version)
{
	uint64_t plen = f->len - 32;
	uint32_t hs = 32, crc;

	memcpy(f->buf, "LHYVEVM", 8);
	memcpy(f->buf + 8, &version, 4);
	memcpy(f->buf + 12, &hs, 4);
	memcpy(f->buf + 16, &plen, 8);
	if (version == 1)
		memcpy(f->buf + 24, &(uint32_t){ (uint32_t)crc32(0, f->buf + 32, (uInt)plen) }, 4);
	else
		memcpy(f->buf + 24, &f->nsec, 4);
	crc = (uint32_t)crc32(0, f->buf, 28);
	memcpy(f->buf + 28, &crc, 4);
}

/* The minimum of a valid file: VM, RUN and vCPU 0's four sections. */
static void
fb_minimal(struct fb *f, int skip_type)
{
	uint8_t vm[48] = { 0 }, run[56] = { 0 }, cpu[536] = { 0 }, xs[576] = { 0 };
	uint8_t msrs[8] = { 0 }, ev[32] = { 0 };
	uint32_t one = 1;
	uint64_t xcr0 = 1;

	memcpy(vm + 28, &one, 4);			/* ncpus */
	memcpy(cpu + 528, &xcr0, 8);
	xs[24] = 0x80, xs[25] = 0x1f;			/* MXCSR */
	xs[512] = 3;					/* XSTATE_BV */
	if (skip_type != VMM_SEC_VM)
		fb_sec(f, VMM_SEC_VM, 1, 0xffff, NULL, vm, sizeof(vm));
	if (skip_type != VMM_SEC_RUN)
		fb_sec(f, VMM_SEC_RUN, 1, 0xffff, NULL, run, sizeof(run));
	if (skip_type != VMM_SEC_CPU)
		fb_sec(f, VMM_SEC_CPU, 1, 0, NULL, cpu, sizeof(cpu));
	if (skip_type != VMM_SEC_XSAVE)
		fb_sec(f, VMM_SEC_XSAVE, 1, 0, NULL, xs, sizeof(xs));
	if (skip_type != VMM_SEC_MSRS)
		fb_sec(f, VMM_SEC_MSRS, 1, 0, NULL, msrs, sizeof(msrs));
	if (skip_type != VMM_SEC_EVENTS)
		fb_sec(f, VMM_SEC_EVENTS, 1, 0, NULL, ev, sizeof(ev));
}

/*
 * The same bytes as an instance's state: opening it is refused with -@err
 * and the file is left as it was, byte for byte, with no temporary left.
 */
static void
refused_in_store(const struct fb *f, int err)
{
	char path[512], dir[512];
	struct vm *vm;
	uint8_t *back = malloc(sizeof(f->buf) + 1);
	struct dirent *de;
	FILE *fp;
	DIR *d;
	size_t n;

	REQUIRE(back != NULL);
	REQUIRE(vmm_store_create("bad") == 0);
	vmm_store_path(path, sizeof(path), "bad", "state");
	REQUIRE((fp = fopen(path, "w")) != NULL);
	CHECK(fwrite(f->buf, 1, f->len, fp) == f->len);
	fclose(fp);
	CHECK_EQ(vmm_open("bad", &vm), -err);
	CHECK(strchr(vmm_store_strerror(), '\n') == NULL);
	REQUIRE((fp = fopen(path, "r")) != NULL);
	n = fread(back, 1, sizeof(f->buf) + 1, fp);
	fclose(fp);
	CHECK(n == f->len && memcmp(back, f->buf, n) == 0);
	vmm_store_path(dir, sizeof(dir), "bad", "");
	REQUIRE((d = opendir(dir)) != NULL);
	while ((de = readdir(d)) != NULL)
		CHECK(strncmp(de->d_name, "state.", 6) != 0);
	closedir(d);
	CHECK_EQ(vmm_store_destroy("bad"), 0);
	free(back);
}

/* Parse: refused with -@err and a one-line reason containing @what. */
static void
expect_refused(const char *seedname, struct fb *f, int err, const char *what)
{
	struct vmm_image *img = calloc(1, sizeof(*img));
	int rc;

	REQUIRE(img != NULL);
	seed(seedname, f->buf, f->len);
	rc = vmm_state_parse(f->buf, f->len, img);
	if (rc != -err || strstr(vmm_store_strerror(), what) == NULL ||
	    strchr(vmm_store_strerror(), '\n') != NULL) {
		fprintf(stderr, "%s: rc %d, reason '%s', wanted -%d and '%s'\n", seedname, rc,
		    vmm_store_strerror(), err, what);
		test_failed_ = 1;
	}
	CHECK(img->sec == NULL);
	free(img);
	refused_in_store(f, err);
}

TEST(v2_every_section_round_trips)
{
	struct vmm_image *img = calloc(1, sizeof(*img)), *back = calloc(1, sizeof(*back));
	const struct vmm_section *s;
	uint8_t *buf, *buf2;
	size_t len, len2;
	int i, k;

	REQUIRE(img != NULL && back != NULL);
	vmm_image_init(img);
	img->memsize = img->lowmem = 64 << 20;
	img->memflags = 2;
	img->ncpus = 3;
	snprintf(img->backend, sizeof(img->backend), "emu");
	snprintf(img->vendor, sizeof(img->vendor), "amd");
	img->run.running = 1;
	img->run.pid = 4242;
	snprintf(img->run.boot_id, sizeof(img->run.boot_id), "boot-xyz");
	for (i = 0; i < 3; i++) {
		struct vm_cpu_state *st = &img->cpu[i];
		for (k = 0; k < GPR_COUNT; k++)
			st->gpr[k] = 0x1111111111111111ULL * (uint64_t)(k + 1) + (uint64_t)i;
		st->rip = 0x10000 + (uint64_t)i;
		st->cr3 = 0x2000;
		st->seg[SEG_CS].sel = 8;
		st->seg[SEG_CS].access = 0x209b;
		st->gdtr.base = 0x5000;
		st->star = 1, st->lstar = 2, st->cstar = 3, st->sfmask = 4, st->kgs_base = 5;
		st->sysenter_cs = 6, st->sysenter_esp = 7, st->sysenter_eip = 8;
		st->pat = 9, st->tsc = 11, st->tsc_aux = 12, st->misc_enable = 13;
		st->pdpte[2] = 14;
		st->intr_shadow = 1;
		st->halted = 1;
		st->pending_valid = 1, st->pending_vector = 14;
		st->pending_errcode_valid = 1, st->pending_errcode = 2;
		st->nmi_pending = 1;
		for (k = 32; k < 416; k++)
			st->fxsave[k] = (uint8_t)(k + i);
		st->xcr0 = 3;
		/* vCPU 1 has AVX state, vCPU 2 AVX, AVX-512 and AMX (the KVM backend's). */
		if (i > 0) {
			uint32_t off, size;
			int bit;

			st->xcr0 = i == 1 ? 0x7 : 0x600e7;
			st->xstate_bv = i == 1 ? 0x4 : 0x600a4;	/* ZMM_Hi256 initial */
			st->xfd = i == 2 ? 0x40000 : 0;		/* tile data armed for #NM */
			st->xfd_err = i == 2 ? 0x40000 : 0;
			for (bit = 2; bit < 19; bit++)
				if ((st->xstate_bv & (1ULL << bit)) && vm_xstate_layout(bit, &off, &size))
					for (k = 0; k < (int)size; k++)
						st->xsave_ext[off - 576 + (uint32_t)k] = (uint8_t)(k * 7 + bit);
		}
		st->mtrr_deftype = 0xc06 + (uint64_t)i;
		for (k = 0; k < 11; k++)
			st->mtrr_fixed[k] = 0x0606060606060606ULL + (uint64_t)k;
		for (k = 0; k < 16; k++)
			st->mtrr_var[k] = 0x1000ULL * (uint64_t)(k + 1) + (uint64_t)i;
		st->tsc_adjust = 15, st->spec_ctrl = 1, st->hwcr = 0x01000041;
		st->kvm_system_time = 0x3001, st->kvm_wall_clock = 0x4000;
		img->stats[i][VMST_INSNS] = 1000 + (uint64_t)i;
	}
	/* A vCPU beyond ncpus that holds something is kept too. */
	img->cpu[9].gpr[GPR_RBX] = 99;
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_DEVICE, 0, 0xffff, "uart0", "abc", 3), 0);
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_BACKEND, 0, 1, "kvm", "events", 6), 0);
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_LAPIC, 0, 0, NULL, "page", 4), 0);
	CHECK_EQ(vmm_image_put_section(img, 777, 0, 0xffff, "future", "", 0), 0);
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	seed("v2-every-section", buf, len);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	CHECK(memcmp(img->cpu, back->cpu, sizeof(img->cpu)) == 0);
	CHECK(memcmp(img->stats, back->stats, sizeof(img->stats)) == 0);
	CHECK(memcmp(&img->run, &back->run, sizeof(img->run)) == 0);
	CHECK_EQ(back->memflags, 2);
	CHECK_EQ(back->ncpus, 3);
	CHECK(strcmp(back->vendor, "amd") == 0 && strcmp(back->backend, "emu") == 0);
	CHECK_EQ(back->nsec, 4);
	s = vmm_image_section(back, VMM_SEC_DEVICE, 0xffff, "uart0");
	CHECK(s != NULL && s->len == 3 && memcmp(s->data, "abc", 3) == 0);
	s = vmm_image_section(back, VMM_SEC_BACKEND, 1, "kvm");
	CHECK(s != NULL && s->len == 6 && memcmp(s->data, "events", 6) == 0);
	CHECK(vmm_image_section(back, VMM_SEC_LAPIC, 0, NULL) != NULL);
	CHECK(vmm_image_section(back, 777, 0xffff, "future") != NULL);
	/* Written again, the file is the same, byte for byte. */
	REQUIRE(vmm_state_serialize(back, &buf2, &len2) == 0);
	CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
	free(buf2);
	free(buf);
	vmm_image_fini(back);
	vmm_image_fini(img);
	free(img);
	free(back);
}

TEST(v2_format_is_as_documented)
{
	struct vmm_image *img = calloc(1, sizeof(*img)), *back = calloc(1, sizeof(*back));
	struct fb *f = calloc(1, sizeof(*f));
	uint8_t *buf;
	size_t len;

	REQUIRE(img != NULL && back != NULL && f != NULL);
	/* A file made from docs/store.md alone is read. */
	fb_start(f);
	fb_minimal(f, 0);
	fb_finish(f, 2);
	seed("v2-minimal", f->buf, f->len);
	CHECK_EQ(vmm_state_parse(f->buf, f->len, back), 0);
	CHECK_EQ(back->ncpus, 1);
	CHECK_EQ(back->cpu[0].rip, 0);
	CHECK_EQ(back->cpu[1].rip, 0xfff0);	/* absent: RESET */
	/* MSRs an (older) file does not list keep their RESET values. */
	CHECK_EQ(back->cpu[0].mtrr_deftype, 0x806);
	CHECK_EQ(back->cpu[0].misc_enable, 0x1801);
	CHECK_EQ(back->cpu[0].kvm_system_time, 0);
	CHECK_EQ(back->cpu[0].tsc_adjust, 0);
	vmm_image_fini(back);

	/*
	 * APs written active at RESET (before lhyve started APs) wait for
	 * SIPI; an AP active anywhere else stays active.
	 */
	{
		uint8_t cpu[536] = { 0 }, xs[576] = { 0 }, msrs[8] = { 0 }, ev[32] = { 0 };
		uint64_t v;

		fb_start(f);
		fb_minimal(f, 0);
		xs[24] = 0x80, xs[25] = 0x1f, xs[512] = 3;
		v = 1;
		memcpy(cpu + 528, &v, 8);			/* xcr0 */
		v = 0xfff0;
		memcpy(cpu + 128, &v, 8);			/* rip */
		v = 0xffff0000ULL;
		memcpy(cpu + 256 + 24, &v, 8);			/* CS base */
		memcpy(cpu + 256 + 24 + 16, &(uint16_t){ 0xf000 }, 2);	/* CS selector */
		fb_sec(f, VMM_SEC_CPU, 1, 1, NULL, cpu, sizeof(cpu));
		fb_sec(f, VMM_SEC_XSAVE, 1, 1, NULL, xs, sizeof(xs));
		fb_sec(f, VMM_SEC_MSRS, 1, 1, NULL, msrs, sizeof(msrs));
		fb_sec(f, VMM_SEC_EVENTS, 1, 1, NULL, ev, sizeof(ev));
		v = 0x9000;
		memcpy(cpu + 128, &v, 8);			/* rip: past a SIPI */
		v = 0x9000;
		memcpy(cpu + 256 + 24, &v, 8);
		memcpy(cpu + 256 + 24 + 16, &(uint16_t){ 0x900 }, 2);
		fb_sec(f, VMM_SEC_CPU, 1, 2, NULL, cpu, sizeof(cpu));
		fb_sec(f, VMM_SEC_XSAVE, 1, 2, NULL, xs, sizeof(xs));
		fb_sec(f, VMM_SEC_MSRS, 1, 2, NULL, msrs, sizeof(msrs));
		fb_sec(f, VMM_SEC_EVENTS, 1, 2, NULL, ev, sizeof(ev));
		fb_finish(f, 2);
		seed("v2-aps", f->buf, f->len);
		CHECK_EQ(vmm_state_parse(f->buf, f->len, back), 0);
		CHECK_EQ(back->cpu[0].halted, VM_ACTIVITY_ACTIVE);
		CHECK_EQ(back->cpu[1].halted, VM_ACTIVITY_WAIT_SIPI);
		CHECK_EQ(back->cpu[2].halted, VM_ACTIVITY_ACTIVE);
		vmm_image_fini(back);
	}
	/* And the writer's header and first section are what the page says. */
	vmm_image_init(img);
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	CHECK(memcmp(buf, "LHYVEVM", 8) == 0);
	CHECK_EQ(buf[8], 2);
	CHECK_EQ(buf[12], 32);
	CHECK_EQ(buf[32], VMM_SEC_VM);
	CHECK_EQ(buf[36], 1);		/* REQUIRED */
	CHECK(buf[38] == 0xff && buf[39] == 0xff);
	CHECK_EQ(buf[40], 48);
	free(buf);
	free(f);
	free(img);
	free(back);
}

TEST(v2_bad_input_refused)
{
	struct fb *f = calloc(1, sizeof(*f));
	uint8_t big[70000] = { 0 }, msrs[8 + 32], ev[32] = { 0 };
	uint32_t n;

	REQUIRE(f != NULL);
	fresh_store();
	fb_start(f); fb_minimal(f, 0);
	fb_sec(f, VMM_SEC_RUN, 1, 0xffff, NULL, big, 56);
	fb_finish(f, 2);
	expect_refused("v2-repeated", f, EBADMSG, "RUN section repeated");

	fb_start(f); fb_minimal(f, 0);
	fb_sec(f, 99, VMM_SECF_REQUIRED, 0xffff, "newdev", "x", 1);
	fb_finish(f, 2);
	expect_refused("v2-required-unknown", f, EPROTO, "type 99, newdev) is needed");

	fb_start(f); fb_minimal(f, 0);
	fb_sec(f, 99, 0, 0xffff, "x", "x", 1);
	fb_sec(f, 99, 0, 0xffff, "x", "y", 1);
	fb_finish(f, 2);
	expect_refused("v2-repeated-unknown", f, EBADMSG, "repeated");

	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 2);
	f->len -= 10;
	expect_refused("v2-truncated", f, EBADMSG, "truncated");

	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 2);
	f->buf[f->len - 3] ^= 1;
	expect_refused("v2-corrupt-section", f, EBADMSG, "checksum mismatch in EVENTS section");

	/* A section that claims more bytes than the file has. */
	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 2);
	n = 1u << 30;
	memcpy(f->buf + 32 + 8, &n, 4);
	expect_refused("v2-overrun", f, EBADMSG, "claims 1073741824 bytes");

	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 2);
	memcpy(f->buf + 24, &(uint32_t){ 1u << 31 }, 4);
	memcpy(f->buf + 28, &(uint32_t){ (uint32_t)crc32(0, f->buf, 28) }, 4);
	expect_refused("v2-huge-nsec", f, EBADMSG, "sections (at most");

	fb_start(f); fb_minimal(f, VMM_SEC_MSRS);
	n = 100000;
	memset(msrs, 0, sizeof(msrs));
	memcpy(msrs, &n, 4);
	fb_sec(f, VMM_SEC_MSRS, 1, 0, NULL, msrs, sizeof(msrs));
	fb_finish(f, 2);
	expect_refused("v2-huge-msrs", f, EBADMSG, "100000 MSRs");

	fb_start(f); fb_minimal(f, 0);
	n = 5000;
	memset(msrs, 0, sizeof(msrs));
	memcpy(msrs, &n, 4);
	fb_sec(f, VMM_SEC_STATS, 0, 0, NULL, msrs, sizeof(msrs));
	fb_finish(f, 2);
	expect_refused("v2-huge-stats", f, EBADMSG, "5000 counters");

	fb_start(f); fb_minimal(f, VMM_SEC_MSRS);
	n = 2;
	memset(msrs, 0, sizeof(msrs));
	memcpy(msrs, &n, 4);
	memcpy(msrs + 8, &(uint32_t){ 0xc0000080 }, 4);
	fb_sec(f, VMM_SEC_MSRS, 1, 0, NULL, msrs, sizeof(msrs));
	fb_finish(f, 2);
	expect_refused("v2-unknown-msr", f, EBADMSG, "MSR 0xc0000080 is not one");

	fb_start(f); fb_minimal(f, VMM_SEC_XSAVE);
	n = 65536 + 64;
	big[512] = 3;
	fb_sec(f, VMM_SEC_XSAVE, 1, 0, NULL, big, n);
	fb_finish(f, 2);
	expect_refused("v2-xsave-too-big", f, EBADMSG, "65600 bytes is larger than 65536");

	fb_start(f); fb_minimal(f, VMM_SEC_XSAVE);
	big[512] = 7;	/* AVX state in an area that ends before it */
	fb_sec(f, VMM_SEC_XSAVE, 1, 0, NULL, big, 576);
	fb_finish(f, 2);
	expect_refused("v2-xsave-avx-short", f, EBADMSG, "ends inside state component 2 (bytes 576-831)");

	fb_start(f); fb_minimal(f, VMM_SEC_XSAVE);
	fb_sec(f, VMM_SEC_XSAVE, 1, 0, NULL, big, 832);	/* the minimal CPU's XCR0 is 1 */
	fb_finish(f, 2);
	expect_refused("v2-xsave-avx-not-enabled", f, EBADMSG,
	    "holds state components 0x4 that XCR0 0x1 does not enable");

	fb_start(f); fb_minimal(f, VMM_SEC_XSAVE);
	big[512] = 3;
	big[513] = 2;	/* PKRU (component 9): not kept */
	fb_sec(f, VMM_SEC_XSAVE, 1, 0, NULL, big, 2696);
	fb_finish(f, 2);
	expect_refused("v2-xsave-pkru", f, EBADMSG, "state components 0x200 this lhyve cannot load");
	big[513] = 0;

	/* AMX's two components only together (SDM Vol. 1 13.3): TILECFG alone is refused. */
	{
		uint8_t cpu[536] = { 0 };
		uint64_t v = 0x20003;

		fb_start(f); fb_minimal(f, VMM_SEC_CPU);
		memcpy(cpu + 528, &v, 8);
		fb_sec(f, VMM_SEC_CPU, 1, 0, NULL, cpu, sizeof(cpu));
		fb_finish(f, 2);
		expect_refused("v2-xcr0-half-amx", f, EBADMSG, "invalid XCR0 0x20003");
	}

	fb_start(f); fb_minimal(f, VMM_SEC_EVENTS);
	ev[8] = 5;	/* pending_valid */
	fb_sec(f, VMM_SEC_EVENTS, 1, 0, NULL, ev, sizeof(ev));
	fb_finish(f, 2);
	expect_refused("v2-bad-events", f, EBADMSG, "bad event state");

	fb_start(f); fb_minimal(f, VMM_SEC_EVENTS);
	fb_finish(f, 2);
	expect_refused("v2-incomplete-vcpu", f, EBADMSG, "vCPU 0 is incomplete");

	fb_start(f); fb_minimal(f, VMM_SEC_VM);
	fb_finish(f, 2);
	expect_refused("v2-no-vm", f, EBADMSG, "no VM section");

	fb_start(f); fb_minimal(f, 0);
	fb_sec(f, VMM_SEC_CPU, 1, 16, NULL, big, 536);
	fb_finish(f, 2);
	expect_refused("v2-vcpu-range", f, EBADMSG, "CPU section for vCPU 16");

	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 2);
	f->buf[f->len++] = 0;
	expect_refused("v2-trailing", f, EBADMSG, "after the last section");

	fb_start(f); fb_minimal(f, 0);
	fb_finish(f, 3);
	expect_refused("v3", f, EPROTO, "version 3");
	free(f);
}

/* A version-1 file as lhyve wrote them: VM, then VCPU and STATS per vCPU. */
static void
fb_v1(struct fb *f, uint32_t pending_valid, uint16_t mxcsr_hi)
{
	uint8_t vm[48] = { 0 }, vc[8 + 1304] = { 0 }, st[8 + 8 * 3] = { 0 }, prof[16] = "intel";
	uint64_t v;
	uint32_t u, tag, len;
	int i;

	fb_start(f);
	v = 64 << 20;
	memcpy(vm, &v, 8);
	memcpy(vm + 8, &v, 8);
	u = 2;
	memcpy(vm + 28, &u, 4);			/* ncpus: bhyve -c 2 */
	memcpy(vm + 32, "emu", 3);
#define V1SEC(t, d) do { tag = (t); len = sizeof(d); memcpy(f->buf + f->len, &tag, 4); \
	memcpy(f->buf + f->len + 4, &len, 4); memcpy(f->buf + f->len + 8, d, len); \
	f->len += 8 + len; } while (0)
	V1SEC(1, vm);
	V1SEC(4, prof);
	for (i = 0; i < 2; i++) {
		memset(vc, 0, sizeof(vc));
		memcpy(vc, &(uint32_t){ (uint32_t)i }, 4);
		v = 0x10000 + (uint64_t)i;
		memcpy(vc + 8 + 128, &v, 8);		/* rip */
		v = 0xc0ffee;
		memcpy(vc + 8 + 504, &v, 8);		/* lstar */
		memcpy(vc + 8 + 640, &pending_valid, 4);
		vc[8 + 664 + 24] = 0x80, vc[8 + 664 + 25] = 0x1f;
		memcpy(vc + 8 + 664 + 26, &mxcsr_hi, 2);
		vc[8 + 664 + 200] = 0x5a;		/* an XMM byte */
		v = 1;
		memcpy(vc + 8 + 1176, &v, 8);		/* xcr0 */
		V1SEC(2, vc);
		memset(st, 0, sizeof(st));
		memcpy(st, &(uint32_t){ (uint32_t)i }, 4);
		memcpy(st + 4, &(uint32_t){ 3 }, 4);
		v = 77;
		memcpy(st + 8 + 16, &v, 8);
		V1SEC(3, st);
	}
#undef V1SEC
	fb_finish(f, 1);
}

TEST(v1_file_read_and_converted)
{
	struct fb *f = calloc(1, sizeof(*f));
	struct vmm_image *img = calloc(1, sizeof(*img));
	struct vm *vm;
	uint64_t v;
	char path[512];
	FILE *fp;
	uint8_t hdr[12];

	REQUIRE(f != NULL && img != NULL);
	fb_v1(f, 0, 0);
	seed("v1", f->buf, f->len);
	CHECK_EQ(vmm_state_parse(f->buf, f->len, img), 0);
	CHECK_EQ(img->memsize, 64 << 20);
	CHECK_EQ(img->cpu[1].rip, 0x10001);
	CHECK_EQ(img->cpu[1].lstar, 0xc0ffee);
	CHECK_EQ(img->cpu[0].fxsave[200], 0x5a);
	CHECK_EQ(img->stats[1][2], 77);
	CHECK(strcmp(img->vendor, "intel") == 0);
	/* Version 1 wrote APs active at RESET; they wait for SIPI now. */
	CHECK_EQ(img->cpu[0].halted, VM_ACTIVITY_ACTIVE);
	CHECK_EQ(img->cpu[1].halted, VM_ACTIVITY_WAIT_SIPI);
	vmm_image_fini(img);

	/* Opened from the store and saved: now a version 2 file, same values. */
	fresh_store();
	REQUIRE(vmm_store_create("v1") == 0);
	vmm_store_path(path, sizeof(path), "v1", "state");
	REQUIRE((fp = fopen(path, "w")) != NULL);
	fwrite(f->buf, 1, f->len, fp);
	fclose(fp);
	setenv("VMM_MEM_DIR", getenv("VMM_DIR"), 1);
	REQUIRE(vmm_open("v1", &vm) == -ENXIO);	/* the memory file is missing */
	vmm_store_destroy("v1");
	fb_v1(f, 0, 0);
	/* memsize 0: an instance without memory */
	memset(f->buf + 32 + 8, 0, 16);
	fb_finish(f, 1);
	REQUIRE(vmm_store_create("v1") == 0);
	REQUIRE((fp = fopen(path, "w")) != NULL);
	fwrite(f->buf, 1, f->len, fp);
	fclose(fp);
	REQUIRE(vmm_open("v1", &vm) == 0);
	CHECK_EQ(vmm_set_reg(vm, 0, VM_REG_GUEST_RAX, 5), 0);
	CHECK_EQ(vmm_close(vm), 0);
	REQUIRE((fp = fopen(path, "r")) != NULL);
	CHECK(fread(hdr, 1, sizeof(hdr), fp) == sizeof(hdr));
	fclose(fp);
	CHECK_EQ(hdr[8], 2);
	REQUIRE(vmm_open("v1", &vm) == 0);
	CHECK_EQ(vmm_get_reg(vm, 1, VM_REG_GUEST_RIP, &v), 0);
	CHECK_EQ(v, 0x10001);
	CHECK_EQ(vmm_get_reg(vm, 0, VM_REG_GUEST_RAX, &v), 0);
	CHECK_EQ(v, 5);
	vmm_close(vm);
	REQUIRE(vmm_store_load("v1", img) == 0);
	CHECK_EQ(img->cpu[1].halted, VM_ACTIVITY_WAIT_SIPI);	/* written so */
	vmm_image_fini(img);
	vmm_store_destroy("v1");
	unsetenv("VMM_MEM_DIR");

	/* Corrupt fields in a version 1 file are refused too. */
	fb_v1(f, 9, 0);
	expect_refused("v1-bad-event", f, EBADMSG, "bad event state");
	fb_v1(f, 0, 0xffff);
	expect_refused("v1-bad-mxcsr", f, EBADMSG, "MXCSR");
	fb_v1(f, 0, 0);
	f->buf[40] ^= 1;
	expect_refused("v1-corrupt", f, EBADMSG, "checksum");
	free(f);
	free(img);
}

TEST(unknown_sections_survive_a_save)
{
	struct vmm_image *img = calloc(1, sizeof(*img)), *back = calloc(1, sizeof(*back));
	struct vm *vm;
	uint8_t *buf;
	size_t len;
	const struct vmm_section *s;

	REQUIRE(img != NULL && back != NULL);
	fresh_store();
	REQUIRE(vmm_store_create("u1") == 0);
	REQUIRE(vmm_store_load("u1", img) == 0);
	CHECK_EQ(vmm_image_put_section(img, 4000, 0, 0xffff, "later", "keep me", 7), 0);
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_BACKEND, 0, 0, "kvm", "xyz", 3), 0);
	REQUIRE(vmm_store_save("u1", img) == 0);
	REQUIRE(vmm_open("u1", &vm) == 0);
	CHECK_EQ(vmm_set_reg(vm, 0, VM_REG_GUEST_RBX, 7), 0);	/* saves */
	vmm_close(vm);
	vmm_image_fini(img);
	REQUIRE(vmm_store_load("u1", back) == 0);
	s = vmm_image_section(back, 4000, 0xffff, "later");
	CHECK(s != NULL && s->len == 7 && memcmp(s->data, "keep me", 7) == 0);
	CHECK(vmm_image_section(back, VMM_SEC_BACKEND, 0, "kvm") != NULL);
	CHECK_EQ(back->cpu[0].gpr[GPR_RBX], 7);
	REQUIRE(vmm_state_serialize(back, &buf, &len) == 0);
	seed("v2-unknown-kept", buf, len);
	free(buf);
	vmm_image_fini(back);
	vmm_store_destroy("u1");
	free(img);
	free(back);
}

/* Device hooks: restored on registration, saved with every save. */
static int hook_restored;
static ssize_t
hook_save(void *arg, uint8_t *buf, size_t cap)
{
	const char *msg = arg;

	if (strlen(msg) <= cap)
		memcpy(buf, msg, strlen(msg));
	return (ssize_t)strlen(msg);
}

static int
hook_restore(void *arg, const uint8_t *data, size_t len)
{
	hook_restored = (int)len;
	if (len == 999)
		return vmm_store_fail(EINVAL, "bad register image");
	return len == 998 ? -EINVAL : 0;
}

TEST(device_snapshot_hooks)
{
	struct vm *vm;
	char state[] = "device state of some length";
	struct vmm_image *img = calloc(1, sizeof(*img));
	uint8_t *junk = calloc(1, 999);

	fresh_store();
	REQUIRE(vmm_store_create("d1") == 0);
	REQUIRE(vmm_open("d1", &vm) == 0);
	hook_restored = -1;
	CHECK_EQ(vmm_snapshot_register(vm, "uart0", hook_save, hook_restore, state), 0);
	CHECK_EQ(hook_restored, -1);		/* nothing saved yet */
	CHECK_EQ(vmm_snapshot_register(vm, "uart0", hook_save, hook_restore, state), -EEXIST);
	CHECK_EQ(vmm_snapshot_register(vm, "a-name-that-is-too-long", hook_save, NULL, state),
	    -EINVAL);
	CHECK_EQ(vmm_save(vm), 0);
	vmm_close(vm);
	REQUIRE(vmm_open("d1", &vm) == 0);
	CHECK_EQ(vmm_snapshot_register(vm, "uart0", hook_save, hook_restore, state), 0);
	CHECK_EQ(hook_restored, (int)strlen(state));
	vmm_snapshot_unregister(vm, "uart0");
	vmm_close(vm);

	/* A saved state a device cannot take: one line naming the device and why. */
	REQUIRE(img != NULL && junk != NULL);
	REQUIRE(vmm_store_load("d1", img) == 0);
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_DEVICE, 0, 0xffff, "uart1", junk, 999), 0);
	CHECK_EQ(vmm_image_put_section(img, VMM_SEC_DEVICE, 0, 0xffff, "uart2", junk, 998), 0);
	REQUIRE(vmm_store_save("d1", img) == 0);
	vmm_image_fini(img);
	REQUIRE(vmm_open("d1", &vm) == 0);
	vmm_store_fail(EIO, "an earlier error");
	CHECK_EQ(vmm_snapshot_register(vm, "uart1", hook_save, hook_restore, state), -EINVAL);
	CHECK(strcmp(vmm_store_strerror(), "VM 'd1': the saved state of device uart1 cannot be "
	    "restored (bad register image)") == 0);
	vmm_store_fail(EIO, "an earlier error");
	CHECK_EQ(vmm_snapshot_register(vm, "uart2", hook_save, hook_restore, state), -EINVAL);
	CHECK(strcmp(vmm_store_strerror(), "VM 'd1': the saved state of device uart2 cannot be "
	    "restored (Invalid argument)") == 0);
	vmm_close(vm);
	vmm_store_destroy("d1");
	free(img);
	free(junk);
}

TEST(left_running_and_force_reset)
{
	struct vmm_image *img = calloc(1, sizeof(*img));
	struct vm *vm;
	long pid;
	bool same;
	uint64_t v;

	REQUIRE(img != NULL);
	fresh_store();
	REQUIRE(vmm_store_create("c1") == 0);
	REQUIRE(vmm_store_load("c1", img) == 0);
	img->run.running = 1;
	img->run.pid = 12345;
	img->cpu[0].rip = 0x10000;
	vmm_store_boot_id(img->run.boot_id, sizeof(img->run.boot_id));
	REQUIRE(vmm_store_save("c1", img) == 0);
	REQUIRE(vmm_open("c1", &vm) == 0);
	CHECK_EQ(vmm_left_running(vm, &pid, &same), 1);
	CHECK_EQ(pid, 12345);
	CHECK(same);
	/* Editing a register does not clear the mark. */
	CHECK_EQ(vmm_set_reg(vm, 0, VM_REG_GUEST_RAX, 1), 0);
	vmm_close(vm);
	REQUIRE(vmm_open("c1", &vm) == 0);
	CHECK_EQ(vmm_left_running(vm, &pid, &same), 1);
	setenv("LHYVE_BOOT_ID", "another-boot", 1);
	CHECK_EQ(vmm_left_running(vm, &pid, &same), 1);
	CHECK(!same);
	unsetenv("LHYVE_BOOT_ID");
	CHECK_EQ(vmm_force_reset(vm), 0);
	CHECK_EQ(vmm_left_running(vm, &pid, &same), 0);
	vmm_close(vm);
	REQUIRE(vmm_open("c1", &vm) == 0);
	CHECK_EQ(vmm_left_running(vm, &pid, &same), 0);
	CHECK_EQ(vmm_get_reg(vm, 0, VM_REG_GUEST_RIP, &v), 0);
	CHECK_EQ(v, 0xfff0);
	vmm_close(vm);
	vmm_store_destroy("c1");
	vmm_image_fini(img);
	free(img);
}

/* docs/store.md gives these sections byte by byte: a change here changes that page. */
TEST(device_sections_as_documented)
{
	CHECK_EQ(VLAPIC_SNAP_SIZE, 208);
	CHECK_EQ(VIOAPIC_SNAP_SIZE, 212);
	CHECK_EQ(VATPIC_SNAP_SIZE, 40);
	CHECK_EQ(VATPIT_SNAP_SIZE, 164);
	CHECK_EQ(VHPET_SNAP_SIZE, 120);
	CHECK_EQ(VRTC_SNAP_SIZE, 168);
	CHECK_EQ(VPMTMR_SNAP_SIZE, 28);
}

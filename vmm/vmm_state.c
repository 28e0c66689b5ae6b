/*
 * vmm_state.c - the state file format, version 2, and the reader of
 * version 1 (docs/store.md, "The state file", byte by byte).
 *
 * Pure functions on buffers: vmm_state_parse() treats its input as hostile
 * (fuzzed by tests/fuzz/fuzz_state.c) and says what is wrong in one line.
 * Integers are little-endian; the only hosts are x86-64, so fields are
 * copied with memcpy, but every offset is spelled out here and never taken
 * from a C structure, so that struct vm_cpu_state may change without
 * changing the file.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vmm_cpuid.h"
#include "vmm_store.h"

#define HDR_SIZE	32
#define SEC_HDR_SIZE	32
#define MAX_SECTIONS	4096
#define MAX_MSRS	1024
#define MAX_STATS	1024
#define XSAVE_LEGACY	VM_XSAVE_LEGACY
#define XSAVE_HARD_MAX	(1u << 16)
/* State components a struct vm_cpu_state holds (vmm_backend.h, SDM Vol. 1 13.1). */
#define XSTATE_HELD	VM_XSTATE_ALL

#define CPU_SIZE	536
#define EVENTS_SIZE	32
#define VM_SIZE		48
#define PROFILE_SIZE	16
#define TOPOLOGY_SIZE	16
#define RUN_SIZE	56

/* ---- the image ---- */

void
vmm_image_init(struct vmm_image *img)
{
	int i;

	memset(img, 0, sizeof(*img));
	img->ncpus = 1;
	for (i = 0; i < VM_MAXCPU; i++)
		vm_cpu_state_reset(&img->cpu[i], i);
}

void
vmm_image_fini(struct vmm_image *img)
{
	size_t i;

	for (i = 0; i < img->nsec; i++)
		free(img->sec[i].data);
	free(img->sec);
	img->sec = NULL;
	img->nsec = 0;
}

const struct vmm_section *
vmm_image_section(const struct vmm_image *img, uint32_t type, uint16_t vcpu,
    const char *name)
{
	size_t i;

	for (i = 0; i < img->nsec; i++) {
		const struct vmm_section *s = &img->sec[i];
		if (s->type == type && s->vcpu == vcpu &&
		    strncmp(s->name, name ? name : "", VMM_SEC_NAMELEN) == 0)
			return s;
	}
	return NULL;
}

void
vmm_image_drop_section(struct vmm_image *img, uint32_t type, uint16_t vcpu, const char *name)
{
	struct vmm_section *s = (struct vmm_section *)vmm_image_section(img, type, vcpu, name);

	if (s == NULL)
		return;
	free(s->data);
	memmove(s, s + 1, (size_t)(img->sec + img->nsec - (s + 1)) * sizeof(*s));
	img->nsec--;
}

int
vmm_image_put_section(struct vmm_image *img, uint32_t type, uint16_t flags, uint16_t vcpu,
    const char *name, const void *data, size_t len)
{
	struct vmm_section *s, *n;
	uint8_t *copy;

	if (name == NULL)
		name = "";
	if (strlen(name) >= VMM_SEC_NAMELEN)
		return vmm_store_fail(ENAMETOOLONG, "section name '%s' is longer than %d characters",
		    name, VMM_SEC_NAMELEN - 1);
	if (len > VMM_STATE_MAX_SIZE / 2)
		return vmm_store_fail(EFBIG, "section '%s' of %zu bytes is too large", name, len);
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		return vmm_store_fail(ENOMEM, "out of memory");
	if (len)
		memcpy(copy, data, len);
	s = (struct vmm_section *)vmm_image_section(img, type, vcpu, name);
	if (s == NULL) {
		n = realloc(img->sec, (img->nsec + 1) * sizeof(*n));
		if (n == NULL) {
			free(copy);
			return vmm_store_fail(ENOMEM, "out of memory");
		}
		img->sec = n;
		s = &img->sec[img->nsec++];
		memset(s, 0, sizeof(*s));
		s->type = type;
		s->vcpu = vcpu;
		snprintf(s->name, sizeof(s->name), "%s", name);
	} else {
		free(s->data);
	}
	s->flags = flags;
	s->len = (uint32_t)len;
	s->data = copy;
	return 0;
}

int
vmm_image_copy_sections(struct vmm_image *dst, const struct vmm_image *src)
{
	size_t i;
	int error;

	vmm_image_fini(dst);
	for (i = 0; i < src->nsec; i++) {
		const struct vmm_section *s = &src->sec[i];
		error = vmm_image_put_section(dst, s->type, s->flags, s->vcpu, s->name,
		    s->data, s->len);
		if (error != 0)
			return error;
	}
	return 0;
}

/* The standard-format area up to the end of the last kept component @xcr0 enables. */
static uint32_t
xsave_len(uint64_t xcr0)
{
	uint32_t len = XSAVE_LEGACY, off, size;
	int bit;

	for (bit = 2; bit < 64; bit++)
		if ((xcr0 & (1ULL << bit)) && vm_xstate_layout(bit, &off, &size) && off + size > len)
			len = off + size;
	return len;
}

/* ---- writing ---- */

struct wbuf {
	uint8_t	*p;
	size_t	len, cap;
	bool	oom;
};

static uint8_t *
w_room(struct wbuf *w, size_t n)
{
	uint8_t *np;
	size_t cap;

	if (w->oom)
		return NULL;
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (np == NULL) {
			w->oom = true;
			return NULL;
		}
		memset(np + w->cap, 0, cap - w->cap);
		w->p = np;
		w->cap = cap;
	}
	w->len += n;
	return w->p + w->len - n;
}

static void
w_bytes(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *d = w_room(w, n);

	if (d != NULL && n != 0)
		memcpy(d, src, n);
}

static void
w_u16(struct wbuf *w, uint16_t v)
{
	w_bytes(w, &v, 2);
}

static void
w_u32(struct wbuf *w, uint32_t v)
{
	w_bytes(w, &v, 4);
}

static void
w_u64(struct wbuf *w, uint64_t v)
{
	w_bytes(w, &v, 8);
}

static void
w_name(struct wbuf *w, const char *name, size_t size)
{
	uint8_t *d = w_room(w, size);
	size_t n = name ? strnlen(name, size - 1) : 0;

	/* NUL-padded; w_room zeroed the room. */
	if (d != NULL && n != 0)
		memcpy(d, name, n);
}

/* Section header: type flags vcpu len crc name[16]; crc filled by sec_end. */
static size_t
sec_begin(struct wbuf *w, uint32_t type, uint16_t flags, uint16_t vcpu, const char *name)
{
	size_t at = w->len;

	w_u32(w, type);
	w_u16(w, flags);
	w_u16(w, vcpu);
	w_u32(w, 0);
	w_u32(w, 0);
	w_name(w, name, VMM_SEC_NAMELEN);
	return at;
}

/* The section CRC covers its header (without the CRC field) and its data. */
static uint32_t
sec_crc(const uint8_t *sec, uint32_t len)
{
	uLong crc = crc32(0, sec, 12);

	crc = crc32(crc, sec + 16, SEC_HDR_SIZE - 16);
	return (uint32_t)crc32(crc, sec + SEC_HDR_SIZE, len);
}

static void
sec_end(struct wbuf *w, size_t at, uint32_t *nsec)
{
	uint32_t len, crc;

	if (w->oom)
		return;
	len = (uint32_t)(w->len - at - SEC_HDR_SIZE);
	memcpy(w->p + at + 8, &len, 4);
	crc = sec_crc(w->p + at, len);
	memcpy(w->p + at + 12, &crc, 4);
	(*nsec)++;
}

static void
w_seg(struct wbuf *w, const struct vm_seg *s)
{
	w_u64(w, s->base);
	w_u32(w, s->limit);
	w_u32(w, s->access);
	w_u16(w, s->sel);
	w_u16(w, 0);
	w_u32(w, 0);
}

/* MSRs of struct vm_cpu_state by architectural number (SDM Vol. 4). */
static const struct {
	uint32_t	index;
	size_t		off;
} msr_map[] = {
	{ 0x00000010, offsetof(struct vm_cpu_state, tsc) },
	{ 0x0000001b, offsetof(struct vm_cpu_state, apic_base) },
	{ 0x00000174, offsetof(struct vm_cpu_state, sysenter_cs) },
	{ 0x00000175, offsetof(struct vm_cpu_state, sysenter_esp) },
	{ 0x00000176, offsetof(struct vm_cpu_state, sysenter_eip) },
	{ 0x000001a0, offsetof(struct vm_cpu_state, misc_enable) },
	{ 0x00000277, offsetof(struct vm_cpu_state, pat) },
	{ 0xc0000081, offsetof(struct vm_cpu_state, star) },
	{ 0xc0000082, offsetof(struct vm_cpu_state, lstar) },
	{ 0xc0000083, offsetof(struct vm_cpu_state, cstar) },
	{ 0xc0000084, offsetof(struct vm_cpu_state, sfmask) },
	{ 0xc0000102, offsetof(struct vm_cpu_state, kgs_base) },
	{ 0xc0000103, offsetof(struct vm_cpu_state, tsc_aux) },
	/* Added after the first version 2 files: older files simply lack them. */
	{ 0x0000003b, offsetof(struct vm_cpu_state, tsc_adjust) },
	{ 0x00000048, offsetof(struct vm_cpu_state, spec_ctrl) },
	{ 0x000002ff, offsetof(struct vm_cpu_state, mtrr_deftype) },
#define MTRR_FIXED(i, msr) { msr, offsetof(struct vm_cpu_state, mtrr_fixed) + 8 * (i) }
	MTRR_FIXED(0, 0x250), MTRR_FIXED(1, 0x258), MTRR_FIXED(2, 0x259),
	MTRR_FIXED(3, 0x268), MTRR_FIXED(4, 0x269), MTRR_FIXED(5, 0x26a),
	MTRR_FIXED(6, 0x26b), MTRR_FIXED(7, 0x26c), MTRR_FIXED(8, 0x26d),
	MTRR_FIXED(9, 0x26e), MTRR_FIXED(10, 0x26f),
#undef MTRR_FIXED
#define MTRR_VAR(i) { 0x200 + (i), offsetof(struct vm_cpu_state, mtrr_var) + 8 * (i) }
	MTRR_VAR(0), MTRR_VAR(1), MTRR_VAR(2), MTRR_VAR(3), MTRR_VAR(4), MTRR_VAR(5),
	MTRR_VAR(6), MTRR_VAR(7), MTRR_VAR(8), MTRR_VAR(9), MTRR_VAR(10), MTRR_VAR(11),
	MTRR_VAR(12), MTRR_VAR(13), MTRR_VAR(14), MTRR_VAR(15),
#undef MTRR_VAR
	{ 0xc0010015, offsetof(struct vm_cpu_state, hwcr) },
	{ 0x4b564d00, offsetof(struct vm_cpu_state, kvm_wall_clock) },
	{ 0x4b564d01, offsetof(struct vm_cpu_state, kvm_system_time) },
	{ 0x000001c4, offsetof(struct vm_cpu_state, xfd) },
	{ 0x000001c5, offsetof(struct vm_cpu_state, xfd_err) },
};
#define NMSR_MAP	(sizeof(msr_map) / sizeof(msr_map[0]))
_Static_assert(NMSR_MAP <= 64, "r_msrs keeps a 64-bit set of the MSRs seen");

static uint64_t *
msr_field(struct vm_cpu_state *st, size_t i)
{
	return (uint64_t *)((uint8_t *)st + msr_map[i].off);
}

static void
w_vcpu(struct wbuf *w, const struct vmm_image *img, int id, uint32_t *nsec)
{
	const struct vm_cpu_state *st = &img->cpu[id];
	size_t at, i;
	int k;

	at = sec_begin(w, VMM_SEC_CPU, VMM_SECF_REQUIRED, (uint16_t)id, NULL);
	for (k = 0; k < GPR_COUNT; k++)
		w_u64(w, st->gpr[k]);
	w_u64(w, st->rip);
	w_u64(w, st->rflags);
	w_u64(w, st->cr0);
	w_u64(w, st->cr2);
	w_u64(w, st->cr3);
	w_u64(w, st->cr4);
	w_u64(w, st->cr8);
	w_u64(w, st->efer);
	for (k = 0; k < 8; k++)
		w_u64(w, st->dr[k]);
	for (k = 0; k < SEG_COUNT; k++)
		w_seg(w, &st->seg[k]);
	w_seg(w, &st->gdtr);
	w_seg(w, &st->idtr);
	for (k = 0; k < 4; k++)
		w_u64(w, st->pdpte[k]);
	w_u64(w, st->xcr0);
	sec_end(w, at, nsec);

	/*
	 * XSAVE: the legacy region, a header saying x87, SSE and the extended
	 * components in use are there, then the area up to the end of the
	 * last component XCR0 enables (576 bytes with x87 and SSE alone).
	 */
	at = sec_begin(w, VMM_SEC_XSAVE, VMM_SECF_REQUIRED, (uint16_t)id, NULL);
	w_bytes(w, st->fxsave, sizeof(st->fxsave));
	w_u64(w, VM_XSTATE_X87 | VM_XSTATE_SSE | (st->xstate_bv & st->xcr0 & VM_XSTATE_EXT));
	w_u64(w, 0);			/* XCOMP_BV: standard format */
	w_room(w, 48);
	w_bytes(w, st->xsave_ext, xsave_len(st->xcr0) - XSAVE_LEGACY);
	sec_end(w, at, nsec);

	at = sec_begin(w, VMM_SEC_MSRS, VMM_SECF_REQUIRED, (uint16_t)id, NULL);
	w_u32(w, (uint32_t)NMSR_MAP);
	w_u32(w, 0);
	for (i = 0; i < NMSR_MAP; i++) {
		w_u32(w, msr_map[i].index);
		w_u32(w, 0);
		w_u64(w, *msr_field((struct vm_cpu_state *)st, i));
	}
	sec_end(w, at, nsec);

	at = sec_begin(w, VMM_SEC_EVENTS, VMM_SECF_REQUIRED, (uint16_t)id, NULL);
	w_u32(w, st->intr_shadow);
	w_u32(w, st->halted);
	w_u32(w, st->pending_valid);
	w_u32(w, st->pending_vector);
	w_u32(w, st->pending_errcode_valid);
	w_u32(w, st->pending_errcode);
	w_u32(w, st->nmi_pending);
	w_u32(w, 0);
	sec_end(w, at, nsec);

	at = sec_begin(w, VMM_SEC_STATS, 0, (uint16_t)id, NULL);
	w_u32(w, VMST_COUNT);
	w_u32(w, 0);
	w_bytes(w, img->stats[id], sizeof(img->stats[id]));
	sec_end(w, at, nsec);
}

/* vCPUs beyond ncpus are written only when they hold something. */
static bool
vcpu_worth_writing(const struct vmm_image *img, int id, struct vm_cpu_state *scratch)
{
	int k;

	if ((uint32_t)id < img->ncpus)
		return true;
	for (k = 0; k < VMST_COUNT; k++)
		if (img->stats[id][k] != 0)
			return true;
	vm_cpu_state_reset(scratch, id);
	return memcmp(scratch, &img->cpu[id], sizeof(*scratch)) != 0;
}

/* TOPOLOGY: sockets:u32 cores:u32 threads:u32 pad:u32 (docs/store.md). */
static void
w_topology(struct wbuf *w, const struct vmm_image *img, uint32_t *nsec)
{
	size_t at = sec_begin(w, VMM_SEC_TOPOLOGY, VMM_SECF_REQUIRED, VMM_SEC_VM_LEVEL, NULL);

	w_u32(w, img->topo.sockets);
	w_u32(w, img->topo.cores);
	w_u32(w, img->topo.threads);
	w_u32(w, 0);
	sec_end(w, at, nsec);
}

int
vmm_state_serialize(const struct vmm_image *img, uint8_t **bufp, size_t *lenp)
{
	struct wbuf w = { 0 };
	struct vm_cpu_state *scratch;
	uint32_t nsec = 0, crc, version = VMM_STATE_VERSION, hsize = HDR_SIZE;
	uint64_t plen;
	size_t at, i;
	int id;

	scratch = malloc(sizeof(*scratch));
	if (scratch == NULL)
		return vmm_store_fail(ENOMEM, "out of memory");
	w_room(&w, HDR_SIZE);

	at = sec_begin(&w, VMM_SEC_VM, VMM_SECF_REQUIRED, VMM_SEC_VM_LEVEL, NULL);
	w_u64(&w, img->memsize);
	w_u64(&w, img->lowmem);
	w_u64(&w, img->highmem);
	w_u32(&w, img->memflags);
	w_u32(&w, img->ncpus);
	w_name(&w, img->backend, sizeof(img->backend));
	sec_end(&w, at, &nsec);

	if (img->vendor[0] != '\0') {
		at = sec_begin(&w, VMM_SEC_PROFILE, VMM_SECF_REQUIRED, VMM_SEC_VM_LEVEL, NULL);
		w_name(&w, img->vendor, sizeof(img->vendor));
		sec_end(&w, at, &nsec);
	}

	if (img->topo.sockets != 0)
		w_topology(&w, img, &nsec);

	at = sec_begin(&w, VMM_SEC_RUN, VMM_SECF_REQUIRED, VMM_SEC_VM_LEVEL, NULL);
	w_u32(&w, img->run.running);
	w_u32(&w, 0);
	w_u64(&w, (uint64_t)img->run.pid);
	w_name(&w, img->run.boot_id, sizeof(img->run.boot_id));
	sec_end(&w, at, &nsec);

	for (id = 0; id < VM_MAXCPU; id++)
		if (vcpu_worth_writing(img, id, scratch))
			w_vcpu(&w, img, id, &nsec);
	free(scratch);

	/* Kept sections (devices, backend-private, unknown) go back as they came. */
	for (i = 0; i < img->nsec; i++) {
		const struct vmm_section *s = &img->sec[i];
		at = sec_begin(&w, s->type, s->flags, s->vcpu, s->name);
		w_bytes(&w, s->data, s->len);
		sec_end(&w, at, &nsec);
	}

	if (w.oom || w.len > VMM_STATE_MAX_SIZE) {
		free(w.p);
		return vmm_store_fail(w.oom ? ENOMEM : EFBIG, "state of %zu bytes is too large",
		    w.len);
	}
	/* Header: magic version hdr_size payload_len nsections hdr_crc */
	plen = w.len - HDR_SIZE;
	memcpy(w.p, VMM_STATE_MAGIC, 8);
	memcpy(w.p + 8, &version, 4);
	memcpy(w.p + 12, &hsize, 4);
	memcpy(w.p + 16, &plen, 8);
	memcpy(w.p + 24, &nsec, 4);
	crc = (uint32_t)crc32(0, w.p, 28);
	memcpy(w.p + 28, &crc, 4);
	*bufp = w.p;
	*lenp = w.len;
	return 0;
}

/* ---- reading ---- */

static uint16_t
g16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t
g32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
g64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static const char *
sec_type_name(uint32_t type)
{
	switch (type) {
	case VMM_SEC_VM: return "VM";
	case VMM_SEC_PROFILE: return "PROFILE";
	case VMM_SEC_RUN: return "RUN";
	case VMM_SEC_TOPOLOGY: return "TOPOLOGY";
	case VMM_SEC_CPU: return "CPU";
	case VMM_SEC_XSAVE: return "XSAVE";
	case VMM_SEC_MSRS: return "MSRS";
	case VMM_SEC_EVENTS: return "EVENTS";
	case VMM_SEC_STATS: return "STATS";
	case VMM_SEC_LAPIC: return "LAPIC";
	case VMM_SEC_DEVICE: return "DEVICE";
	case VMM_SEC_BACKEND: return "BACKEND";
	default: return "unknown";
	}
}

/* A NUL-terminated string of at most @size - 1 printable characters. */
static bool
good_string(const uint8_t *p, size_t size, bool nonempty)
{
	size_t i;

	for (i = 0; i < size && p[i] != '\0'; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	if (i == size || (nonempty && i == 0))
		return false;
	for (; i < size; i++)
		if (p[i] != '\0')
			return false;
	return true;
}

static void
r_seg(const uint8_t *p, struct vm_seg *s)
{
	s->base = g64(p);
	s->limit = g32(p + 8);
	s->access = g32(p + 12);
	s->sel = g16(p + 16);
}

static void
r_cpu(const uint8_t *p, struct vm_cpu_state *st)
{
	int k;

	for (k = 0; k < GPR_COUNT; k++)
		st->gpr[k] = g64(p + 8 * k);
	st->rip = g64(p + 128);
	st->rflags = g64(p + 136);
	st->cr0 = g64(p + 144);
	st->cr2 = g64(p + 152);
	st->cr3 = g64(p + 160);
	st->cr4 = g64(p + 168);
	st->cr8 = g64(p + 176);
	st->efer = g64(p + 184);
	for (k = 0; k < 8; k++)
		st->dr[k] = g64(p + 192 + 8 * k);
	for (k = 0; k < SEG_COUNT; k++)
		r_seg(p + 256 + 24 * k, &st->seg[k]);
	r_seg(p + 448, &st->gdtr);
	r_seg(p + 472, &st->idtr);
	for (k = 0; k < 4; k++)
		st->pdpte[k] = g64(p + 496 + 8 * k);
	st->xcr0 = g64(p + 528);
}

static int
r_xsave(const uint8_t *p, uint32_t len, uint32_t id, struct vm_cpu_state *st)
{
	uint64_t xstate_bv, xcomp_bv;
	uint32_t off, size;
	int bit;

	if (len < XSAVE_LEGACY)
		return vmm_store_fail(EBADMSG,
		    "state file: vCPU %u: XSAVE area of %u bytes is shorter than %u", id, len,
		    XSAVE_LEGACY);
	if (len > XSAVE_HARD_MAX)
		return vmm_store_fail(EBADMSG,
		    "state file: vCPU %u: XSAVE area of %u bytes is larger than %u", id, len,
		    XSAVE_HARD_MAX);
	xstate_bv = g64(p + 512);
	xcomp_bv = g64(p + 520);
	if (xcomp_bv & (1ULL << 63))
		return vmm_store_fail(EBADMSG,
		    "state file: vCPU %u: XSAVE area in compacted format", id);
	if (xstate_bv & ~XSTATE_HELD)
		return vmm_store_fail(EBADMSG,
		    "state file: vCPU %u: XSAVE area holds state components 0x%llx this lhyve cannot load",
		    id, (unsigned long long)(xstate_bv & ~XSTATE_HELD));
	/* MXCSR reserved bits make FXRSTOR fault (SDM Vol. 1 10.5.1.1). */
	if (g32(p + 24) & 0xffff0000u)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: MXCSR 0x%x has reserved bits set",
		    id, g32(p + 24));
	memcpy(st->fxsave, p, sizeof(st->fxsave));
	memset(st->xsave_ext, 0, sizeof(st->xsave_ext));
	st->xstate_bv = xstate_bv & VM_XSTATE_EXT;
	for (bit = 2; bit < 64; bit++) {
		if (!(st->xstate_bv & (1ULL << bit)) || !vm_xstate_layout(bit, &off, &size))
			continue;
		if (len < off + size)
			return vmm_store_fail(EBADMSG, "state file: vCPU %u: XSAVE area of %u bytes "
			    "ends inside state component %d (bytes %u-%u)", id, len, bit, off,
			    off + size - 1);
		memcpy(st->xsave_ext + (off - XSAVE_LEGACY), p + off, size);
	}
	/* A component absent from XSTATE_BV is in its initial configuration (SDM Vol. 1 13.6). */
	if (!(xstate_bv & 1)) {
		memset(st->fxsave, 0, 24);
		memset(st->fxsave + 32, 0, 128);
		st->fxsave[0] = 0x7f;
		st->fxsave[1] = 0x03;
	}
	if (!(xstate_bv & 2))
		memset(st->fxsave + 160, 0, 256);
	return 0;
}

static int
r_msrs(const uint8_t *p, uint32_t len, uint32_t id, struct vm_cpu_state *st)
{
	uint32_t n, i, idx;
	uint64_t seen = 0;
	size_t k;

	if (len < 8)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: MSR list truncated", id);
	n = g32(p);
	if (n > MAX_MSRS)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: %u MSRs (at most %u)", id, n,
		    MAX_MSRS);
	if (len != 8 + 16 * n)
		return vmm_store_fail(EBADMSG,
		    "state file: vCPU %u: MSR list of %u entries in %u bytes", id, n, len);
	for (i = 0; i < n; i++) {
		idx = g32(p + 8 + 16 * i);
		for (k = 0; k < NMSR_MAP && msr_map[k].index != idx; k++)
			;
		if (k == NMSR_MAP)
			return vmm_store_fail(EBADMSG,
			    "state file: vCPU %u: MSR 0x%x is not one this lhyve keeps", id, idx);
		if (seen & (1ULL << k))
			return vmm_store_fail(EBADMSG, "state file: vCPU %u: MSR 0x%x listed twice",
			    id, idx);
		seen |= 1ULL << k;
		*msr_field(st, k) = g64(p + 8 + 16 * i + 8);
	}
	return 0;
}

static int
r_events(const uint8_t *p, uint32_t id, struct vm_cpu_state *st)
{
	st->intr_shadow = g32(p);
	st->halted = g32(p + 4);
	st->pending_valid = g32(p + 8);
	st->pending_vector = g32(p + 12);
	st->pending_errcode_valid = g32(p + 16);
	st->pending_errcode = g32(p + 20);
	st->nmi_pending = g32(p + 24);
	(void)id;
	return 0;
}

/* Counters: 8 bytes holding the count at @count_off, then the counters. */
static int
r_stats(const uint8_t *p, uint32_t len, uint32_t id, uint64_t *stats, uint32_t count_off)
{
	const uint32_t hdr = 8;
	uint32_t n, i;

	if (len < hdr)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: counters truncated", id);
	n = g32(p + count_off);
	if (n > MAX_STATS)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: %u counters (at most %u)", id,
		    n, MAX_STATS);
	if (len != hdr + 8 * n)
		return vmm_store_fail(EBADMSG, "state file: vCPU %u: %u counters in %u bytes", id,
		    n, len);
	/* Counters this lhyve does not know are dropped; missing ones are 0. */
	for (i = 0; i < n && i < VMST_COUNT; i++)
		stats[i] = g64(p + hdr + 8 * i);
	return 0;
}

/*
 * TOPOLOGY: each count 1 to VM_MAXCPU and their product too.  Whether it
 * matches the vCPU count is vmm.c's question when a run starts (the count
 * may change while the guest has not run).
 */
static int
r_topology(const uint8_t *p, struct vmm_image *img)
{
	uint32_t s = g32(p), c = g32(p + 4), t = g32(p + 8);

	if (s < 1 || c < 1 || t < 1 || s > VM_MAXCPU || c > VM_MAXCPU || t > VM_MAXCPU ||
	    s * c * t > VM_MAXCPU || g32(p + 12) != 0)
		return vmm_store_fail(EBADMSG,
		    "state file: topology of %u sockets x %u cores x %u threads (1 to %d vCPUs)",
		    s, c, t, VM_MAXCPU);
	img->topo.sockets = s;
	img->topo.cores = c;
	img->topo.threads = t;
	return 0;
}

/* Checks every reader makes on the result, whatever the file's version. */
static int
image_validate(const struct vmm_image *img)
{
	const struct vm_cpu_state *st;
	enum vmm_vendor v;
	int i;

	if (img->ncpus < 1 || img->ncpus > VM_MAXCPU)
		return vmm_store_fail(EBADMSG, "state file: %u vCPUs (1 to %d)", img->ncpus,
		    VM_MAXCPU);
	if (img->memsize != img->lowmem + img->highmem ||
	    img->lowmem > VM_LOWMEM_LIMIT || (img->highmem != 0 && img->lowmem != VM_LOWMEM_LIMIT) ||
	    img->memsize > (1ULL << 40) || (img->memsize & 0xfff) != 0)
		return vmm_store_fail(EBADMSG, "state file: inconsistent memory layout");
	if (memchr(img->backend, '\0', sizeof(img->backend)) == NULL)
		return vmm_store_fail(EBADMSG, "state file: bad backend name");
	if (img->vendor[0] != '\0' && (strcmp(img->vendor, "host") == 0 ||
	    vmm_vendor_parse(img->vendor, &v) != 0))
		return vmm_store_fail(EBADMSG, "state file: unknown CPU vendor");
	if (img->run.running > 1)
		return vmm_store_fail(EBADMSG, "state file: bad running flag %u", img->run.running);
	for (i = 0; i < VM_MAXCPU; i++) {
		st = &img->cpu[i];
		if ((st->halted != VM_ACTIVITY_ACTIVE && st->halted != VM_ACTIVITY_HLT &&
		    st->halted != VM_ACTIVITY_WAIT_SIPI) || st->pending_valid > 1 || st->pending_errcode_valid > 1 ||
		    st->nmi_pending > 1 || (st->intr_shadow & ~0xfu) != 0)
			return vmm_store_fail(EBADMSG, "state file: vCPU %d: bad event state", i);
		if (st->pending_valid && st->pending_vector > 255)
			return vmm_store_fail(EBADMSG, "state file: vCPU %d: pending vector %u", i,
			    st->pending_vector);
		/*
		 * XCR0 as XSETBV takes it (vm_xcr0_valid).  Components lhyve
		 * does not keep are refused by name of the bits.
		 */
		if (!vm_xcr0_valid(st->xcr0))
			return vmm_store_fail(EBADMSG, "state file: vCPU %d: invalid XCR0 0x%llx", i,
			    (unsigned long long)st->xcr0);
		if (st->xcr0 & ~XSTATE_HELD)
			return vmm_store_fail(EBADMSG, "state file: vCPU %d: XCR0 0x%llx enables state "
			    "components 0x%llx this lhyve cannot keep", i, (unsigned long long)st->xcr0,
			    (unsigned long long)(st->xcr0 & ~XSTATE_HELD));
		if (st->xstate_bv & ~st->xcr0)
			return vmm_store_fail(EBADMSG, "state file: vCPU %d: XSAVE area holds state "
			    "components 0x%llx that XCR0 0x%llx does not enable", i,
			    (unsigned long long)(st->xstate_bv & ~st->xcr0),
			    (unsigned long long)st->xcr0);
	}
	return 0;
}

/* One known section, already checked for CRC, size class and duplicates. */
static int
parse_known(const uint8_t *p, uint32_t type, uint32_t len, uint16_t vcpu, struct vmm_image *img)
{
	struct vm_cpu_state *st = vcpu < VM_MAXCPU ? &img->cpu[vcpu] : NULL;

	switch (type) {
	case VMM_SEC_VM:
		img->memsize = g64(p);
		img->lowmem = g64(p + 8);
		img->highmem = g64(p + 16);
		img->memflags = g32(p + 24);
		img->ncpus = g32(p + 28);
		if (!good_string(p + 32, sizeof(img->backend), false))
			return vmm_store_fail(EBADMSG, "state file: bad backend name");
		memcpy(img->backend, p + 32, sizeof(img->backend));
		return 0;
	case VMM_SEC_PROFILE:
		if (!good_string(p, sizeof(img->vendor), true))
			return vmm_store_fail(EBADMSG, "state file: unknown CPU vendor");
		memcpy(img->vendor, p, sizeof(img->vendor));
		return 0;
	case VMM_SEC_TOPOLOGY:
		return r_topology(p, img);
	case VMM_SEC_RUN:
		img->run.running = g32(p);
		img->run.pid = (int64_t)g64(p + 8);
		if (!good_string(p + 16, sizeof(img->run.boot_id), false))
			return vmm_store_fail(EBADMSG, "state file: bad boot id");
		memcpy(img->run.boot_id, p + 16, sizeof(img->run.boot_id));
		return 0;
	case VMM_SEC_CPU:
		r_cpu(p, st);
		return 0;
	case VMM_SEC_XSAVE:
		return r_xsave(p, len, vcpu, st);
	case VMM_SEC_MSRS:
		return r_msrs(p, len, vcpu, st);
	case VMM_SEC_EVENTS:
		return r_events(p, vcpu, st);
	case VMM_SEC_STATS:
		return r_stats(p, len, vcpu, img->stats[vcpu], 0);
	}
	return vmm_store_fail(EBADMSG, "state file: section type %u", type);
}

/* Size of a known section's data (0: any size, checked by its reader). */
static uint32_t
known_size(uint32_t type)
{
	switch (type) {
	case VMM_SEC_VM: return VM_SIZE;
	case VMM_SEC_PROFILE: return PROFILE_SIZE;
	case VMM_SEC_TOPOLOGY: return TOPOLOGY_SIZE;
	case VMM_SEC_RUN: return RUN_SIZE;
	case VMM_SEC_CPU: return CPU_SIZE;
	case VMM_SEC_EVENTS: return EVENTS_SIZE;
	default: return 0;
	}
}

static bool
known_type(uint32_t type)
{
	return type == VMM_SEC_VM || type == VMM_SEC_PROFILE || type == VMM_SEC_RUN ||
	    type == VMM_SEC_TOPOLOGY || type == VMM_SEC_CPU || type == VMM_SEC_XSAVE || type == VMM_SEC_MSRS ||
	    type == VMM_SEC_EVENTS || type == VMM_SEC_STATS;
}

static bool
per_vcpu(uint32_t type)
{
	return type >= VMM_SEC_CPU && type <= VMM_SEC_LAPIC;
}

static int
parse_v2(const uint8_t *buf, size_t len, struct vmm_image *img)
{
	uint64_t plen = g64(buf + 16);
	uint32_t nsec = g32(buf + 24), n = 0, type, slen, crc;
	uint16_t flags, vcpu;
	const uint8_t *p, *end;
	/* seen[type][vcpu] for known types; VM-level ones use index VM_MAXCPU */
	static const uint32_t ntypes = VMM_SEC_STATS + 1;
	uint8_t seen[VMM_SEC_STATS + 1][VM_MAXCPU + 1];
	int error, i;

	if (g32(buf + 12) != HDR_SIZE)
		return vmm_store_fail(EBADMSG, "state file: header size %u, expected %u",
		    g32(buf + 12), HDR_SIZE);
	if (plen > len - HDR_SIZE)
		return vmm_store_fail(EBADMSG,
		    "state file truncated: header says %llu bytes of sections, %zu present",
		    (unsigned long long)plen, len - HDR_SIZE);
	if (plen < len - HDR_SIZE)
		return vmm_store_fail(EBADMSG, "state file: %zu bytes after the last section",
		    (size_t)(len - HDR_SIZE - plen));
	if (nsec > MAX_SECTIONS)
		return vmm_store_fail(EBADMSG, "state file: %u sections (at most %u)", nsec,
		    MAX_SECTIONS);
	memset(seen, 0, sizeof(seen));
	p = buf + HDR_SIZE;
	end = p + plen;
	while (p < end) {
		if ((size_t)(end - p) < SEC_HDR_SIZE)
			return vmm_store_fail(EBADMSG, "state file: truncated section header");
		type = g32(p);
		flags = g16(p + 4);
		vcpu = g16(p + 6);
		slen = g32(p + 8);
		crc = g32(p + 12);
		if (slen > (size_t)(end - p) - SEC_HDR_SIZE)
			return vmm_store_fail(EBADMSG,
			    "state file: %s section (type %u) claims %u bytes, %zu left", sec_type_name(type),
			    type, slen, (size_t)(end - p) - SEC_HDR_SIZE);
		if (crc != sec_crc(p, slen))
			return vmm_store_fail(EBADMSG,
			    "state file: checksum mismatch in %s section (type %u, vCPU %d) (corrupt)",
			    sec_type_name(type), type, vcpu == VMM_SEC_VM_LEVEL ? -1 : vcpu);
		if (++n > nsec)
			return vmm_store_fail(EBADMSG, "state file: more sections than the header's %u",
			    nsec);
		if (!good_string(p + 16, VMM_SEC_NAMELEN, false))
			return vmm_store_fail(EBADMSG, "state file: %s section with a bad name",
			    sec_type_name(type));
		/* vcpu: a vCPU for per-vCPU types, VM-level for VM, PROFILE, TOPOLOGY, RUN, DEVICE. */
		if ((vcpu >= VM_MAXCPU && vcpu != VMM_SEC_VM_LEVEL) ||
		    (per_vcpu(type) && vcpu >= VM_MAXCPU) ||
		    ((known_type(type) || type == VMM_SEC_DEVICE) && !per_vcpu(type) &&
		    vcpu != VMM_SEC_VM_LEVEL))
			return vmm_store_fail(EBADMSG, "state file: %s section for vCPU %u",
			    sec_type_name(type), vcpu);
		if (known_type(type)) {
			uint32_t want = known_size(type);
			int col = vcpu < VM_MAXCPU ? vcpu : VM_MAXCPU;

			if (want != 0 && slen != want)
				return vmm_store_fail(EBADMSG,
				    "state file: %s section of %u bytes, expected %u",
				    sec_type_name(type), slen, want);
			if (type < ntypes && seen[type][col]++)
				return vmm_store_fail(EBADMSG, "state file: %s section repeated%s",
				    sec_type_name(type), col < VM_MAXCPU ? " for a vCPU" : "");
			if ((error = parse_known(p + SEC_HDR_SIZE, type, slen, vcpu, img)) != 0)
				return error;
		} else if (flags & VMM_SECF_REQUIRED) {
			return vmm_store_fail(EPROTO,
			    "state file: %s section (type %u%s%.16s) is needed but this lhyve cannot use it",
			    sec_type_name(type), type, p[16] ? ", " : "", (const char *)(p + 16));
		} else {
			char name[VMM_SEC_NAMELEN];

			memcpy(name, p + 16, sizeof(name));
			if ((type == VMM_SEC_DEVICE || type == VMM_SEC_BACKEND) && name[0] == '\0')
				return vmm_store_fail(EBADMSG, "state file: %s section without a name",
				    sec_type_name(type));
			if (vmm_image_section(img, type, vcpu, name) != NULL)
				return vmm_store_fail(EBADMSG, "state file: %s section '%s' repeated",
				    sec_type_name(type), name);
			if ((error = vmm_image_put_section(img, type, flags, vcpu, name,
			    p + SEC_HDR_SIZE, slen)) != 0)
				return error;
		}
		p += SEC_HDR_SIZE + slen;
	}
	if (n != nsec)
		return vmm_store_fail(EBADMSG, "state file truncated: %u of %u sections", n, nsec);
	if (!seen[VMM_SEC_VM][VM_MAXCPU])
		return vmm_store_fail(EBADMSG, "state file: no VM section");
	if (!seen[VMM_SEC_RUN][VM_MAXCPU])
		return vmm_store_fail(EBADMSG, "state file: no RUN section");
	/* A vCPU is written whole: a part without the rest is damage. */
	for (i = 0; i < VM_MAXCPU; i++) {
		bool any = false, all = true;
		uint32_t t;

		for (t = VMM_SEC_CPU; t <= VMM_SEC_EVENTS; t++) {
			any |= seen[t][i] != 0;
			all &= seen[t][i] != 0;
		}
		if ((any && !all) || ((uint32_t)i < img->ncpus && !all && img->ncpus <= VM_MAXCPU))
			return vmm_store_fail(EBADMSG, "state file: vCPU %d is incomplete", i);
	}
	return 0;
}

/*
 * Version 1: header magic version hdr_size payload_len:u64 payload_crc hdr_crc;
 * sections tag:u32 len:u32 data; VM (1), VCPU (2: vcpuid pad and struct
 * vm_cpu_state as it was laid out then, 1304 bytes), STATS (3), PROFILE (4).
 */
#define V1_CPU_SIZE	1304

static void
r_v1_cpu(const uint8_t *p, struct vm_cpu_state *st)
{
	int k;

	/* The first 496 bytes are laid out as the version 2 CPU section. */
	r_cpu(p, st);
	st->star = g64(p + 496);
	st->lstar = g64(p + 504);
	st->cstar = g64(p + 512);
	st->sfmask = g64(p + 520);
	st->kgs_base = g64(p + 528);
	st->sysenter_cs = g64(p + 536);
	st->sysenter_esp = g64(p + 544);
	st->sysenter_eip = g64(p + 552);
	st->pat = g64(p + 560);
	st->apic_base = g64(p + 568);
	st->tsc = g64(p + 576);
	st->tsc_aux = g64(p + 584);
	st->misc_enable = g64(p + 592);
	for (k = 0; k < 4; k++)
		st->pdpte[k] = g64(p + 600 + 8 * k);
	st->intr_shadow = g32(p + 632);
	st->halted = g32(p + 636);
	st->pending_valid = g32(p + 640);
	st->pending_vector = g32(p + 644);
	st->pending_errcode_valid = g32(p + 648);
	st->pending_errcode = g32(p + 652);
	st->nmi_pending = g32(p + 656);
	memcpy(st->fxsave, p + 664, sizeof(st->fxsave));
	st->xcr0 = g64(p + 1176);
}

static int
parse_v1(const uint8_t *buf, size_t len, struct vmm_image *img)
{
	uint64_t plen = g64(buf + 16);
	const uint8_t *p, *end;
	uint32_t tag, slen, vcpuid;
	int have_vm = 0, ncpu = 0, error;

	if (g32(buf + 12) != HDR_SIZE || plen > len - HDR_SIZE)
		return vmm_store_fail(EBADMSG, "state file (version 1) truncated");
	if (g32(buf + 24) != (uint32_t)crc32(0, buf + HDR_SIZE, (uInt)plen))
		return vmm_store_fail(EBADMSG, "state file checksum mismatch (corrupt)");
	p = buf + HDR_SIZE;
	end = p + plen;
	while (p < end) {
		if ((size_t)(end - p) < 8)
			return vmm_store_fail(EBADMSG, "state file: truncated section header");
		tag = g32(p);
		slen = g32(p + 4);
		p += 8;
		if (slen > (size_t)(end - p))
			return vmm_store_fail(EBADMSG, "state file: section %u overruns the file", tag);
		switch (tag) {
		case 1:
			if (slen != VM_SIZE)
				return vmm_store_fail(EBADMSG, "state file: bad VM section size");
			if ((error = parse_known(p, VMM_SEC_VM, slen, VMM_SEC_VM_LEVEL, img)) != 0)
				return error;
			have_vm = 1;
			break;
		case 2:
			if (slen != 8 + V1_CPU_SIZE)
				return vmm_store_fail(EBADMSG, "state file: bad vCPU section size");
			vcpuid = g32(p);
			if (vcpuid >= VM_MAXCPU)
				return vmm_store_fail(EBADMSG, "state file: vCPU %u out of range", vcpuid);
			r_v1_cpu(p + 8, &img->cpu[vcpuid]);
			if (g32(img->cpu[vcpuid].fxsave + 24) & 0xffff0000u)
				return vmm_store_fail(EBADMSG, "state file: vCPU %u: bad MXCSR", vcpuid);
			ncpu++;
			break;
		case 3:
			if (slen < 8)
				return vmm_store_fail(EBADMSG, "state file: bad stats section size");
			vcpuid = g32(p);
			if (vcpuid >= VM_MAXCPU)
				return vmm_store_fail(EBADMSG, "state file: vCPU %u out of range", vcpuid);
			if ((error = r_stats(p, slen, vcpuid, img->stats[vcpuid], 4)) != 0)
				return error;
			break;
		case 4:
			if (slen != PROFILE_SIZE)
				return vmm_store_fail(EBADMSG, "state file: bad profile section size");
			if ((error = parse_known(p, VMM_SEC_PROFILE, slen, VMM_SEC_VM_LEVEL, img)) != 0)
				return error;
			break;
		default:
			/* Version 1 skipped unknown tags; so does its reader. */
			break;
		}
		p += slen;
	}
	if (!have_vm || ncpu == 0)
		return vmm_store_fail(EBADMSG, "state file: missing sections");
	return 0;
}

/*
 * lhyve before INIT/SIPI (every version 1 file, and version 2 files of that
 * time) never started APs and wrote them active (0) at RESET.  An AP after
 * RESET waits for INIT-SIPI-SIPI (SDM Vol. 3A 9.4.1): converted so, it does
 * not run from 0xfff0 beside the BSP once bhyve -c 2 starts every vCPU.  In
 * version 1 every active AP is one that never ran; in version 2 one active
 * at the reset vector (CS base FFFF0000, which only RESET loads) is.
 */
static void
aps_wait_for_sipi(struct vmm_image *img, bool v1)
{
	struct vm_cpu_state *st;
	int i;

	for (i = 1; i < VM_MAXCPU; i++) {
		st = &img->cpu[i];
		if (st->halted != VM_ACTIVITY_ACTIVE)
			continue;
		if (v1 || (st->rip == 0xfff0 && st->seg[SEG_CS].sel == 0xf000 &&
		    st->seg[SEG_CS].base == 0xffff0000ULL && !(st->cr0 & 1)))
			st->halted = VM_ACTIVITY_WAIT_SIPI;
	}
}

int
vmm_state_parse(const uint8_t *buf, size_t len, struct vmm_image *img)
{
	uint32_t version;
	int error;

	vmm_image_init(img);
	if (len > VMM_STATE_MAX_SIZE)
		return vmm_store_fail(EFBIG, "state file of %zu bytes is too large", len);
	if (len < HDR_SIZE)
		return vmm_store_fail(EBADMSG, "state file truncated (%zu bytes)", len);
	if (memcmp(buf, VMM_STATE_MAGIC, 8) != 0)
		return vmm_store_fail(EBADMSG, "state file has no lhyve header");
	if (g32(buf + 28) != (uint32_t)crc32(0, buf, 28))
		return vmm_store_fail(EBADMSG, "state file header checksum mismatch");
	version = g32(buf + 8);
	if (version == 1)
		error = parse_v1(buf, len, img);
	else if (version == VMM_STATE_VERSION)
		error = parse_v2(buf, len, img);
	else
		error = vmm_store_fail(EPROTO, "state file version %u, this lhyve reads 1 and %u",
		    version, VMM_STATE_VERSION);
	if (error == 0)
		error = image_validate(img);
	if (error == 0)
		aps_wait_for_sipi(img, version == 1);
	if (error != 0)
		vmm_image_fini(img);
	return error;
}

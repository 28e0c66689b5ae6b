/*
 * test_vendor.c - the vendor profiles (vmm_cpuid.h) on fixed vectors, on any
 * host: CPUID identity, the choices each vendor makes where the SDM leaves
 * flags or results undefined, and the profile's place in the store.
 *
 * The Intel rows were read off an Intel Xeon and the AMD rows off AMD Zen
 * (tests/unit/test_flags_diff.c compares the host's profile with the host
 * on random operands; these rows keep the other vendor honest).  Flags are
 * compared on CF PF AF ZF SF OF.
 */
#include <errno.h>

#include "cpu.h"
#include "test.h"
#include "vmm_cpuid.h"
#include "vmm_store.h"

struct vvec {
	const char	*name;
	emu_op_fn	*fn;
	uint8_t		size, form, sub, opcode;
	uint64_t	rax, rbx;		/* operand (RAX) and source/divisor (RBX) */
	unsigned	cl;
	uint64_t	flags_in;
	enum vmm_vendor	vendor;
	uint64_t	rax_out, rdx_out, flags_out;
};

static const struct vvec vectors[] = {
	{ "shl32", op_shift, 4, EMU_FORM_RM_CL, 4, 0xd3, 0xf79dba31, 0, 11, 0x857, VMM_VENDOR_INTEL, 0xedd18800, 0, 0x084 },
	{ "shl32", op_shift, 4, EMU_FORM_RM_CL, 4, 0xd3, 0xf79dba31, 0, 11, 0x857, VMM_VENDOR_AMD, 0xedd18800, 0, 0x894 },
	{ "shl32", op_shift, 4, EMU_FORM_RM_CL, 4, 0xd3, 0x82dfd0cd, 0, 11, 0x013, VMM_VENDOR_INTEL, 0xfe866800, 0, 0x884 },
	{ "shl32", op_shift, 4, EMU_FORM_RM_CL, 4, 0xd3, 0x82dfd0cd, 0, 11, 0x013, VMM_VENDOR_AMD, 0xfe866800, 0, 0x894 },
	{ "shr32", op_shift, 4, EMU_FORM_RM_CL, 5, 0xd3, 0xda141f29, 0, 2, 0x8d3, VMM_VENDOR_INTEL, 0x368507ca, 0, 0x804 },
	{ "shr32", op_shift, 4, EMU_FORM_RM_CL, 5, 0xd3, 0xda141f29, 0, 2, 0x8d3, VMM_VENDOR_AMD, 0x368507ca, 0, 0x014 },
	{ "sar16", op_shift, 2, EMU_FORM_RM_CL, 7, 0xd3, 0x8001, 0, 3, 0x8d3, VMM_VENDOR_INTEL, 0xf000, 0, 0x084 },
	{ "sar16", op_shift, 2, EMU_FORM_RM_CL, 7, 0xd3, 0x8001, 0, 3, 0x8d3, VMM_VENDOR_AMD, 0xf000, 0, 0x094 },
	{ "rol32", op_shift, 4, EMU_FORM_RM_CL, 0, 0xd3, 0xf79dba31, 0, 11, 0x857, VMM_VENDOR_INTEL, 0xedd18fbc, 0, 0x054 },
	{ "rol32", op_shift, 4, EMU_FORM_RM_CL, 0, 0xd3, 0xf79dba31, 0, 11, 0x857, VMM_VENDOR_AMD, 0xedd18fbc, 0, 0x854 },
	{ "ror32", op_shift, 4, EMU_FORM_RM_CL, 1, 0xd3, 0xd79f, 0, 2, 0x007, VMM_VENDOR_INTEL, 0xc00035e7, 0, 0x805 },
	{ "ror32", op_shift, 4, EMU_FORM_RM_CL, 1, 0xd3, 0xd79f, 0, 2, 0x007, VMM_VENDOR_AMD, 0xc00035e7, 0, 0x005 },
	{ "rcl8", op_shift, 1, EMU_FORM_RM_CL, 2, 0xd3, 0x15, 0, 9, 0x846, VMM_VENDOR_INTEL, 0x15, 0, 0x844 },
	{ "rcl8", op_shift, 1, EMU_FORM_RM_CL, 2, 0xd3, 0x15, 0, 9, 0x846, VMM_VENDOR_AMD, 0x15, 0, 0x044 },
	{ "rcr16", op_shift, 2, EMU_FORM_RM_CL, 3, 0xd3, 0x46fc, 0, 17, 0x846, VMM_VENDOR_INTEL, 0x46fc, 0, 0x844 },
	{ "rcr16", op_shift, 2, EMU_FORM_RM_CL, 3, 0xd3, 0x46fc, 0, 17, 0x846, VMM_VENDOR_AMD, 0x46fc, 0, 0x844 },
	{ "rcr32", op_shift, 4, EMU_FORM_RM_CL, 3, 0xd3, 0x75bde146, 0, 26, 0x013, VMM_VENDOR_INTEL, 0xdef0a35d, 0, 0x810 },
	{ "rcr32", op_shift, 4, EMU_FORM_RM_CL, 3, 0xd3, 0x75bde146, 0, 26, 0x013, VMM_VENDOR_AMD, 0xdef0a35d, 0, 0x010 },
	{ "shld16", op_shld, 2, EMU_FORM_RM_CL, 0, 0xa5, 0x1234, 0xabcd, 20, 0x002, VMM_VENDOR_INTEL, 0xbcd1, 0, 0x084 },
	{ "shld16", op_shld, 2, EMU_FORM_RM_CL, 0, 0xa5, 0x1234, 0xabcd, 20, 0x002, VMM_VENDOR_AMD, 0xbcda, 0, 0x090 },
	{ "shrd16", op_shrd, 2, EMU_FORM_RM_CL, 0, 0xad, 0x1234, 0xabcd, 20, 0x002, VMM_VENDOR_INTEL, 0x4abc, 0, 0x801 },
	{ "shrd16", op_shrd, 2, EMU_FORM_RM_CL, 0, 0xad, 0x1234, 0xabcd, 20, 0x002, VMM_VENDOR_AMD, 0xdabc, 0, 0x090 },
	{ "shld32", op_shld, 4, EMU_FORM_RM_CL, 0, 0xa5, 0x99f01a70, 0x419ac241, 6, 0x8c3, VMM_VENDOR_INTEL, 0x7c069c10, 0, 0x800 },
	{ "shld32", op_shld, 4, EMU_FORM_RM_CL, 0, 0xa5, 0x99f01a70, 0x419ac241, 6, 0x8c3, VMM_VENDOR_AMD, 0x7c069c10, 0, 0x010 },
	{ "shrd32", op_shrd, 4, EMU_FORM_RM_CL, 0, 0xad, 0x17b2367, 0x5c482a97, 25, 0x8c2, VMM_VENDOR_INTEL, 0x24154b80, 0, 0x801 },
	{ "shrd32", op_shrd, 4, EMU_FORM_RM_CL, 0, 0xad, 0x17b2367, 0x5c482a97, 25, 0x8c2, VMM_VENDOR_AMD, 0x24154b80, 0, 0x011 },
	{ "mul32", op_muldiv, 4, EMU_FORM_RM, 4, 0xf7, 0x80000000, 0x80000000, 0, 0x047, VMM_VENDOR_INTEL, 0, 0x40000000, 0x805 },
	{ "mul32", op_muldiv, 4, EMU_FORM_RM, 4, 0xf7, 0x80000000, 0x80000000, 0, 0x047, VMM_VENDOR_AMD, 0, 0x40000000, 0x845 },
	{ "imul8", op_muldiv, 1, EMU_FORM_RM, 5, 0xf6, 0x10, 0, 0, 0x812, VMM_VENDOR_INTEL, 0, 0, 0x004 },
	{ "imul8", op_muldiv, 1, EMU_FORM_RM, 5, 0xf6, 0x10, 0, 0, 0x812, VMM_VENDOR_AMD, 0, 0, 0x010 },
	{ "div32", op_muldiv, 4, EMU_FORM_RM, 6, 0xf7, 0x3e8, 0x7, 0, 0x8d3, VMM_VENDOR_INTEL, 0x8e, 0x6, 0x8d1 },
	{ "div32", op_muldiv, 4, EMU_FORM_RM, 6, 0xf7, 0x3e8, 0x7, 0, 0x8d3, VMM_VENDOR_AMD, 0x8e, 0x6, 0x811 },
};

static struct emu_cpu vcpu;

/*
 * Each vector runs through the generic handler (shift by CL), and shifts of
 * 32/64-bit registers also by an immediate through the handler the engine
 * specialises them to (fast.c, shift.c), which has its own vendor code.
 */
static void
run_vectors(bool specialised)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vvec *v = &vectors[i];
		struct emu_insn in;
		int rc;

		if (specialised && (v->fn != op_shift || v->size < 4))
			continue;
		memset(&vcpu, 0, sizeof(vcpu));
		memset(&in, 0, sizeof(in));
		vcpu.mode = EMU_MODE_LONG64;
		vcpu.exc_vector = -1;
		vcpu.vendor = (uint8_t)v->vendor;
		vcpu.st.gpr[GPR_RAX] = v->rax;
		vcpu.st.gpr[GPR_RBX] = v->rbx;
		vcpu.st.gpr[GPR_RCX] = v->cl;
		emu_set_rflags(&vcpu, v->flags_in);
		in.opsize = v->size;
		in.form = v->form;
		in.sub = v->sub;
		in.opcode = v->opcode;
		in.map = 1;
		/* MUL/DIV take RBX as r/m; shifts shift RAX by CL (SHxD fill from RBX). */
		in.rm = v->fn == op_muldiv ? GPR_RBX : GPR_RAX;
		in.reg = GPR_RBX;
		in.addrsize = 8;
		in.base = EMU_REG_NONE;
		in.index = EMU_REG_NONE;
		in.fn = v->fn;
		if (specialised) {
			in.form = EMU_FORM_RM_IMM;
			in.imm = v->cl;
			emu_specialize(&in);
			CHECK(in.fn != op_shift || (v->sub & 7) == 2 || (v->sub & 7) == 3);
		}
		rc = in.fn(&vcpu, &in);
		if (rc != EMU_OK || vcpu.st.gpr[GPR_RAX] != v->rax_out ||
		    vcpu.st.gpr[GPR_RDX] != v->rdx_out ||
		    (emu_rflags(&vcpu) & RFL_ARITH) != v->flags_out) {
			fprintf(stderr, "%s%s (%s): rc %d rax %#llx rdx %#llx flags %#llx, "
			    "want rax %#llx rdx %#llx flags %#llx\n", v->name,
			    specialised ? " (specialised)" : "",
			    vmm_vendor_name(v->vendor), rc,
			    (unsigned long long)vcpu.st.gpr[GPR_RAX],
			    (unsigned long long)vcpu.st.gpr[GPR_RDX],
			    (unsigned long long)(emu_rflags(&vcpu) & RFL_ARITH),
			    (unsigned long long)v->rax_out, (unsigned long long)v->rdx_out,
			    (unsigned long long)v->flags_out);
			test_failed_ = 1;
		}
	}
}

TEST(undefined_flags_per_vendor)
{
	run_vectors(false);
}

TEST(undefined_flags_per_vendor_specialised)
{
	run_vectors(true);
}

static void
vendor_string(const struct vmm_cpu_profile *p, uint32_t leaf, char out[13])
{
	uint32_t r[4];

	vmm_cpuid(p, 0, leaf, 0, r);
	memcpy(out, &r[1], 4);
	memcpy(out + 4, &r[3], 4);
	memcpy(out + 8, &r[2], 4);
	out[12] = '\0';
}

TEST(cpuid_identity)
{
	struct vmm_cpu_profile intel = { .vendor = VMM_VENDOR_INTEL };
	struct vmm_cpu_profile amd = { .vendor = VMM_VENDOR_AMD };
	uint32_t r[4], r1[4];
	char s[13];

	vendor_string(&intel, 0, s);
	CHECK(strcmp(s, "GenuineIntel") == 0);
	vendor_string(&amd, 0, s);
	CHECK(strcmp(s, "AuthenticAMD") == 0);
	/* AMD repeats the vendor in 0x80000000; Intel leaves it zero. */
	vendor_string(&amd, 0x80000000u, s);
	CHECK(strcmp(s, "AuthenticAMD") == 0);
	vmm_cpuid(&intel, 0, 0x80000000u, 0, r);
	CHECK_EQ(r[1] | r[2] | r[3], 0);
	vmm_cpuid(&intel, 0, 1, 0, r);
	CHECK_EQ(r[0], VMM_CPUID_SIGNATURE_INTEL);
	vmm_cpuid(&amd, 3, 1, 0, r1);
	CHECK_EQ(r1[0], VMM_CPUID_SIGNATURE_AMD);
	/* The same features either way; the APIC ID is the vCPU's. */
	CHECK_EQ(r[2], r1[2]);
	CHECK_EQ(r[3], r1[3]);
	CHECK_EQ(r1[1] >> 24, 3);
	/*
	 * x87, FXSR, MMX, SSE, SSE2, SSE4.2, AES, PCLMULQDQ, XSAVE are
	 * implemented; OSXSAVE is the CPU's (CR4), never the policy's; no
	 * AVX, no MONITOR.
	 */
	CHECK_EQ(r[3] & 0x07800001u, 0x07800001u);
	CHECK((r[2] & (1u << 20)) && (r[2] & (1u << 26)) && !(r[2] & (1u << 27)));
	CHECK((r[2] & (1u << 25)) && (r[2] & (1u << 1)));
	CHECK(!(r[2] & (1u << 28)) && !(r[2] & (1u << 3)));
	/* AMD mirrors leaf 1 EDX bits in 0x80000001 EDX (CX8, CMOV, ...). */
	vmm_cpuid(&amd, 0, 0x80000001u, 0, r);
	CHECK((r[3] & (1u << 8)) && (r[3] & (1u << 15)) && (r[3] & (1u << 29)));
	vmm_cpuid(&intel, 0, 0x80000001u, 0, r);
	CHECK(!(r[3] & (1u << 15)) && (r[3] & (1u << 29)));
}

TEST(vendor_names)
{
	enum vmm_vendor v;

	CHECK(vmm_vendor_parse("intel", &v) == 0 && v == VMM_VENDOR_INTEL);
	CHECK(vmm_vendor_parse("amd", &v) == 0 && v == VMM_VENDOR_AMD);
	CHECK(vmm_vendor_parse("host", &v) == 0 && v == vmm_host_vendor());
	CHECK(vmm_vendor_parse("Intel", &v) != 0);
	CHECK(vmm_vendor_parse("", &v) != 0);
	CHECK(strcmp(vmm_vendor_name(VMM_VENDOR_AMD), "amd") == 0);
	CHECK(strcmp(vmm_vendor_name(VMM_VENDOR_INTEL), "intel") == 0);
}

/* The chosen vendor is kept in the state file, and a bad one is refused. */
TEST(vendor_in_state_file)
{
	static struct vmm_image img, back;
	uint8_t *buf;
	size_t len;

	vmm_image_init(&img);
	REQUIRE(vmm_state_serialize(&img, &buf, &len) == 0);
	REQUIRE(vmm_state_parse(buf, len, &back) == 0);
	CHECK_EQ(back.vendor[0], 0);
	free(buf);

	snprintf(img.vendor, sizeof(img.vendor), "amd");
	REQUIRE(vmm_state_serialize(&img, &buf, &len) == 0);
	REQUIRE(vmm_state_parse(buf, len, &back) == 0);
	CHECK(strcmp(back.vendor, "amd") == 0);
	free(buf);

	snprintf(img.vendor, sizeof(img.vendor), "cyrix");
	REQUIRE(vmm_state_serialize(&img, &buf, &len) == 0);
	CHECK(vmm_state_parse(buf, len, &back) == -EBADMSG);
	free(buf);
}

/*
 * The XSAVE components a KVM profile offers (prof->xstate) show up as
 * CPUID features and leaf 0DH sizes; AMX (SDM Vol. 1 13.3, Vol. 2A CPUID
 * 1DH/1EH) on the Intel profile only, with XFD, which Linux needs for it.
 */
TEST(cpuid_xstate_features)
{
	struct vmm_cpu_profile intel = { .vendor = VMM_VENDOR_INTEL };
	struct vmm_cpu_profile amd = { .vendor = VMM_VENDOR_AMD };
	uint32_t r[4];

	/* The software CPU's profile: x87 and SSE only. */
	vmm_cpuid(&intel, 0, 0xd, 0, r);
	CHECK_EQ(r[0], 3);
	CHECK_EQ(r[2], 576);
	vmm_cpuid(&intel, 0, 7, 0, r);
	CHECK_EQ(r[3] & (1u << 24), 0);
	vmm_cpuid(&intel, 0, 0x1d, 1, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);

	intel.xstate = amd.xstate = VM_XSTATE_EXT;
	vmm_cpuid(&intel, 0, 0xd, 0, r);
	CHECK_EQ(r[0], 0x600e7);
	CHECK_EQ(r[2], 11008);			/* the end of XTILEDATA */
	vmm_cpuid(&intel, 0, 0xd, 1, r);
	CHECK(r[0] & (1u << 4));		/* XFD */
	vmm_cpuid(&intel, 0, 0xd, 17, r);
	CHECK(r[0] == 64 && r[1] == 2752);
	vmm_cpuid(&intel, 0, 0xd, 18, r);
	CHECK(r[0] == 8192 && r[1] == 2816);
	vmm_cpuid(&intel, 0, 7, 0, r);
	CHECK_EQ(r[3] & (1u << 22 | 1u << 24 | 1u << 25), 1u << 22 | 1u << 24 | 1u << 25);
	CHECK(r[1] & (1u << 16));		/* AVX512F */
	vmm_cpuid(&intel, 0, 7, 1, r);
	CHECK(r[0] & (1u << 21));		/* AMX-FP16 */
	vmm_cpuid(&intel, 0, 0x1d, 0, r);
	CHECK_EQ(r[0], 1);			/* palette 1 */
	vmm_cpuid(&intel, 0, 0x1d, 1, r);
	CHECK(r[0] == (8192 | 1024u << 16) && r[1] == (64 | 8u << 16) && r[2] == 16);
	vmm_cpuid(&intel, 0, 0x1e, 0, r);
	CHECK_EQ(r[1], 16 | 64u << 8);

	/* No AMX on the AMD profile (its basic leaves end at 0DH). */
	vmm_cpuid(&amd, 0, 7, 0, r);
	CHECK_EQ(r[3] & (1u << 24), 0);
	vmm_cpuid(&amd, 0, 0x1d, 1, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);

	/* XCR0 as XSETBV takes it: AMX's two bits only together. */
	CHECK(vm_xcr0_valid(0x60003));
	CHECK(!vm_xcr0_valid(0x20003));
	CHECK(!vm_xcr0_valid(0x40003));
	CHECK(vm_xcr0_valid(0xe7));
	CHECK(!vm_xcr0_valid(0x67));
	CHECK(!vm_xcr0_valid(0x5));
}

/*
 * test_topology.c - the CPUID topology leaves for bhyve -c's sockets,
 * cores and threads (vmm_cpuid.c): leaf 1 EBX[23:16] and HTT, leaf 4
 * EAX[31:26], leaves 0BH and 1FH (SDM Vol. 2A CPUID), and on the AMD profile
 * 80000008H ECX and 8000001EH (AMD APM Vol. 3 E.4.7, E.4.15).  APIC ID =
 * vCPU id, split as package | core | thread.
 */
#include <stdint.h>

#include "test.h"
#include "vmm_cpuid.h"

static void
q(const struct vmm_cpu_profile *p, int vcpu, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	vmm_cpuid(p, vcpu, leaf, sub, r);
}

/* 2 sockets x 2 cores x 2 threads; vCPU 5 = package 1, core 0, thread 1. */
TEST(topology_intel_2x2x2)
{
	struct vmm_cpu_profile p = { .vendor = VMM_VENDOR_INTEL, .ncpus = 8,
	    .sockets = 2, .cores = 2, .threads = 2 };
	uint32_t r[4];

	q(&p, 5, 0xb, 0, r);
	CHECK_EQ(r[0], 1);
	CHECK_EQ(r[1], 2);
	CHECK_EQ(r[2], 0x100);
	CHECK_EQ(r[3], 5);
	q(&p, 5, 0xb, 1, r);
	CHECK_EQ(r[0], 2);
	CHECK_EQ(r[1], 4);
	CHECK_EQ(r[2], 0x201);
	CHECK_EQ(r[3], 5);
	q(&p, 5, 0xb, 2, r);
	CHECK_EQ(r[0], 0);
	CHECK_EQ(r[1], 0);
	CHECK_EQ(r[2], 2);
	q(&p, 5, 1, 0, r);
	CHECK_EQ((r[1] >> 16) & 0xff, 4);
	CHECK_EQ(r[1] >> 24, 5);
	CHECK(r[3] & (1u << 28));
	q(&p, 5, 4, 0, r);
	CHECK_EQ(r[0] >> 26, 1);
}

TEST(topology_amd_2x2x2)
{
	struct vmm_cpu_profile p = { .vendor = VMM_VENDOR_AMD, .ncpus = 8,
	    .sockets = 2, .cores = 2, .threads = 2 };
	uint32_t r[4];

	q(&p, 0, 0x80000000u, 0, r);
	CHECK(r[0] >= 0x8000001eu);
	q(&p, 0, 0x80000001u, 0, r);
	CHECK(r[2] & (1u << 22));	/* TOPOEXT */
	q(&p, 5, 0x80000008u, 0, r);
	CHECK_EQ(r[2], 3 | 2 << 12);
	q(&p, 5, 0x8000001eu, 0, r);
	CHECK_EQ(r[0], 5);
	CHECK_EQ(r[1], 0x100);		/* core 0, 2 threads per core */
	CHECK_EQ(r[2], 1);		/* node = package 1 */
	q(&p, 6, 0x8000001eu, 0, r);
	CHECK_EQ(r[1], 0x101);
	CHECK_EQ(r[2], 1);
	/* Intel's profile answers neither AMD leaf */
	p.vendor = VMM_VENDOR_INTEL;
	q(&p, 5, 0x8000001eu, 0, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
	q(&p, 5, 0x80000008u, 0, r);
	CHECK_EQ(r[2], 0);
}

/* No topology, or one that does not multiply to ncpus: one socket of ncpus cores. */
TEST(topology_default)
{
	struct vmm_cpu_profile p = { .vendor = VMM_VENDOR_INTEL, .ncpus = 3 };
	uint32_t r[4];

	q(&p, 2, 0xb, 0, r);
	CHECK_EQ(r[0], 0);
	CHECK_EQ(r[1], 1);
	q(&p, 2, 0xb, 1, r);
	CHECK_EQ(r[0], 2);
	CHECK_EQ(r[1], 3);
	p.sockets = 2;
	p.cores = 2;
	p.threads = 1;
	q(&p, 2, 0xb, 1, r);
	CHECK_EQ(r[1], 3);
	p.ncpus = 1;
	p.sockets = p.cores = p.threads = 0;
	q(&p, 0, 1, 0, r);
	CHECK(!(r[3] & (1u << 28)));
	CHECK_EQ((r[1] >> 16) & 0xff, 1);
}

/*
 * Leaf 1FH (V2 extended topology) on the Intel profile: within the
 * maximum basic leaf, and level for level the same as 0BH, for every
 * topology and vCPU.  The AMD profile stops at 0DH and answers zeros.
 */
TEST(topology_leaf_1f)
{
	static const int shapes[][4] = {	/* ncpus, sockets, cores, threads */
		{ 1, 0, 0, 0 }, { 3, 0, 0, 0 }, { 8, 2, 2, 2 }, { 12, 1, 3, 4 },
		{ 16, 2, 8, 1 }, { 6, 3, 1, 2 },
	};
	struct vmm_cpu_profile p = { .vendor = VMM_VENDOR_INTEL };
	uint32_t r[4], b[4];
	size_t i;
	int v;
	uint32_t sub;

	q(&p, 0, 0, 0, r);
	CHECK(r[0] >= 0x1f);
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		p.ncpus = shapes[i][0];
		p.sockets = shapes[i][1];
		p.cores = shapes[i][2];
		p.threads = shapes[i][3];
		for (v = 0; v < p.ncpus; v++) {
			for (sub = 0; sub < 4; sub++) {
				q(&p, v, 0x1f, sub, r);
				q(&p, v, 0xb, sub, b);
				CHECK_EQ(r[0], b[0]);
				CHECK_EQ(r[1], b[1]);
				CHECK_EQ(r[2], b[2]);
				CHECK_EQ(r[3], b[3]);
			}
		}
	}
	/* 2 x 2 x 2, vCPU 5: the levels themselves */
	p.ncpus = 8;
	p.sockets = p.cores = p.threads = 2;
	q(&p, 5, 0x1f, 1, r);
	CHECK_EQ(r[0], 2);
	CHECK_EQ(r[1], 4);
	CHECK_EQ(r[2], 0x201);
	CHECK_EQ(r[3], 5);
	q(&p, 5, 0x1f, 2, r);
	CHECK_EQ(r[0] | r[1], 0);
	CHECK_EQ(r[2], 2);			/* level type 0: past the last */
	p.vendor = VMM_VENDOR_AMD;
	q(&p, 0, 0, 0, r);
	CHECK(r[0] < 0x1f);
	q(&p, 5, 0x1f, 0, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
}

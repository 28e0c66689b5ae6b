/*
 * simple-loader - the "simple loader" of the bhyve article (seeds/001),
 * written against lhyve's libvmmapi.
 *
 * It creates an instance, gives it 128 MiB, builds identity-mapped page
 * tables (2 MiB pages over the first 1 GiB) and a GDT, copies a four-
 * instruction program to 0x10000 and sets the boot CPU's registers so the
 * first instruction already runs in 64-bit long mode.  Nothing executes
 * until bhyve runs the instance; the program prints '*' on COM1 forever:
 *
 *	mov $0x2a,%al ; mov $0x3f8,%edx ; out %al,(%dx) ; jmp <out>
 *
 *   simple-loader vm0
 *   bhyve -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio vm0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmmapi.h"

#define VM_MEM_SIZE	(128UL * 1024 * 1024)

#define MSR_EFER	0xc0000080
#define CR4_PAE		0x00000020
#define CR4_PSE		0x00000010
#define CR0_PG		0x80000000
#define CR0_PE		0x00000001
#define CR0_NE		0x00000020
#define EFER_LME	0x00000100
#define EFER_LMA	0x00000400

#define PG_V		0x001
#define PG_RW		0x002
#define PG_U		0x004
#define PG_PS		0x080

#define ADDR_PT4	0x2000
#define ADDR_PT3	0x3000
#define ADDR_PT2	0x4000
#define ADDR_GDT	0x5000
#define ADDR_STACK	0x6000
#define ADDR_ENTRY	0x10000

#define GUEST_NULL_SEL	0
#define GUEST_CODE_SEL	1
#define GUEST_DATA_SEL	2
#define GUEST_GDTR_LIMIT (3 * 8 - 1)
#define GSEL(s, rpl)	(((s) << 3) | (rpl))

static const unsigned char program[] = {
	0xb0, 0x2a,			/* mov    $0x2a,%al */
	0xba, 0xf8, 0x03, 0x00, 0x00,	/* mov    $0x3f8,%edx */
	0xee,				/* out    %al,(%dx) */
	0xeb, 0xfd			/* jmp    <out> */
};

static void
die(const char *what)
{
	fprintf(stderr, "simple-loader: %s: %s\n", what,
	    vm_last_error()[0] ? vm_last_error() : strerror(errno));
	exit(1);
}

int
main(int argc, char **argv)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;
	uint64_t *pt4, *pt3, *pt2, *gdt;
	unsigned char *entry;
	int i;

	if (argc != 2) {
		fprintf(stderr, "usage: simple-loader vmname\n");
		return 1;
	}
	if (vm_create(argv[1]) != 0)
		die("vm_create");
	ctx = vm_open(argv[1]);
	if (ctx == NULL)
		die("vm_open");
	if (vm_setup_memory(ctx, VM_MEM_SIZE, VM_MMAP_ALL) != 0)
		die("vm_setup_memory");
	vcpu = vm_vcpu_open(ctx, 0);

	pt4 = vm_map_gpa(ctx, ADDR_PT4, sizeof(uint64_t) * 512);
	pt3 = vm_map_gpa(ctx, ADDR_PT3, sizeof(uint64_t) * 512);
	pt2 = vm_map_gpa(ctx, ADDR_PT2, sizeof(uint64_t) * 512);
	gdt = vm_map_gpa(ctx, ADDR_GDT, sizeof(uint64_t) * 3);
	entry = vm_map_gpa(ctx, ADDR_ENTRY, sizeof(program));
	if (!pt4 || !pt3 || !pt2 || !gdt || !entry)
		die("vm_map_gpa");

	/* Identity map: PML4[0] -> PDPT[0] -> 512 2 MiB pages (1 GiB). */
	memset(pt4, 0, sizeof(uint64_t) * 512);
	memset(pt3, 0, sizeof(uint64_t) * 512);
	pt4[0] = ADDR_PT3 | PG_V | PG_RW | PG_U;
	pt3[0] = ADDR_PT2 | PG_V | PG_RW | PG_U;
	for (i = 0; i < 512; i++)
		pt2[i] = ((uint64_t)i << 21) | PG_V | PG_RW | PG_U | PG_PS;

	gdt[GUEST_NULL_SEL] = 0;
	gdt[GUEST_CODE_SEL] = 0x0020980000000000ULL;	/* 64-bit code, DPL 0 */
	gdt[GUEST_DATA_SEL] = 0x0000900000000000ULL;	/* data, DPL 0 */
	memcpy(entry, program, sizeof(program));

	/* Hidden parts of the segment registers, in VMCS access-rights form. */
	if (vm_set_desc(vcpu, VM_REG_GUEST_CS, 0, 0, 0x0000209B) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_DS, 0, 0, 0x00000093) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_ES, 0, 0, 0x00000093) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_FS, 0, 0, 0x00000093) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_GS, 0, 0, 0x00000093) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_SS, 0, 0, 0x00000093) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_TR, 0, 0, 0x0000008b) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_LDTR, 0, 0, DESC_UNUSABLE) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_GDTR, ADDR_GDT, GUEST_GDTR_LIMIT, 0))
		die("vm_set_desc");

	if (vm_set_register(vcpu, VM_REG_GUEST_CS, GSEL(GUEST_CODE_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_DS, GSEL(GUEST_DATA_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_ES, GSEL(GUEST_DATA_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_FS, GSEL(GUEST_DATA_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_GS, GSEL(GUEST_DATA_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_SS, GSEL(GUEST_DATA_SEL, 0)) ||
	    vm_set_register(vcpu, VM_REG_GUEST_TR, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_LDTR, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CR0, CR0_PG | CR0_PE | CR0_NE) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CR3, ADDR_PT4) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CR4, CR4_PAE) ||
	    vm_set_register(vcpu, VM_REG_GUEST_EFER, EFER_LMA | EFER_LME) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RFLAGS, 0x2) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RSP, ADDR_STACK) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RIP, ADDR_ENTRY))
		die("vm_set_register");

	vm_vcpu_close(vcpu);
	vm_close(ctx);
	return 0;
}

/*
 * pci_emul.c - the PCI bus: configuration mechanism #1 (0xcf8/0xcfc) and
 * ECAM, type 0 config headers, BAR allocation and decoding, capability
 * lists, and the table of device emulations.
 *
 * Concurrency: devices are created before vCPUs start and live until
 * pci_emul_fini().  At run time every config space access (from any vCPU,
 * through either mechanism) runs under pb_mtx, which also serializes BAR
 * moves and decode changes.  BAR handlers run without pb_mtx and read a
 * BAR's base atomically: a guest racing its own BAR reprogramming may see an
 * access land at a wrong, but always in-range, offset.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "vmmapi.h"

#define	CONF1_ENABLE		0x80000000u
#define	CONF1_ADDR_MASK		0x00fffffcu	/* bus, slot, func, dword reg */
#define	CAP_START_OFFSET	0x40
#define	PCI_IO_BAR_MAXSIZE	256		/* PCI 3.0, 6.2.5.1 */

struct pci_businfo {
	struct pci_devinst *bi_dev[MAXSLOTS][MAXFUNCS];
};

struct pci_bus {
	pthread_mutex_t		pb_mtx;
	uint32_t		pb_cf8;		/* CONF1 address register */
	struct pci_businfo	*pb_bus[MAXBUSES];
	/* Allocation cursors and ends of the BAR windows. */
	uint64_t		pb_iobase, pb_iolimit;
	uint64_t		pb_mem32base, pb_mem32limit;
	uint64_t		pb_mem64base, pb_mem64limit;
};

extern const struct pci_devemu *const __start_pci_devemu_set[]
    __attribute__((weak));
extern const struct pci_devemu *const __stop_pci_devemu_set[]
    __attribute__((weak));

const struct pci_devemu *const *
pci_emul_table(size_t *countp)
{

	if (__start_pci_devemu_set == NULL) {
		*countp = 0;
		return (NULL);
	}
	*countp = (size_t)(__stop_pci_devemu_set - __start_pci_devemu_set);
	return (__start_pci_devemu_set);
}

const struct pci_devemu *
pci_emul_finddev(const char *name)
{
	const struct pci_devemu *const *tab;
	size_t i, n;

	tab = pci_emul_table(&n);
	for (i = 0; i < n; i++)
		if (strcmp(tab[i]->pe_emu, name) == 0)
			return (tab[i]);
	return (NULL);
}

static int
pci_devemu_cmp(const void *a, const void *b)
{
	const struct pci_devemu *const *pa = a, *const *pb = b;

	return (strcmp((*pa)->pe_emu, (*pb)->pe_emu));
}

void
pci_print_supported_devices(void)
{
	const struct pci_devemu *const *tab;
	const struct pci_devemu **sorted;
	size_t i, n;

	tab = pci_emul_table(&n);
	sorted = calloc(n + 1, sizeof(*sorted));
	if (sorted == NULL)
		return;
	memcpy(sorted, tab, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), pci_devemu_cmp);
	for (i = 0; i < n; i++)
		printf("%s\n", sorted[i]->pe_emu);
	free(sorted);
}

/* "a=b,c" -> node.a=b, node.c=true (bhyve's legacy -s option syntax). */
int
pci_parse_legacy_config(struct config *cfg, const char *node, const char *opts)
{
	char *copy, *str, *tok, *eq;
	int error = 0;

	if (opts == NULL)
		return (0);
	copy = str = strdup(opts);
	if (copy == NULL)
		return (-ENOMEM);
	while (error == 0 && (tok = strsep(&str, ",")) != NULL) {
		if (*tok == '\0')
			continue;
		eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq = '\0';
			error = set_config_value_node(cfg, node, tok, eq + 1);
		} else
			error = set_config_bool_node(cfg, node, tok, true);
	}
	free(copy);
	return (error);
}

/* A decimal number in [0, max]; no sign, no junk. */
static int
pci_parse_num(const char *s, int max)
{
	long v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s - '0');
		if (v > max)
			return (-1);
	}
	return ((int)v);
}

int
pci_parse_slot(struct config *cfg, const char *opt)
{
	const struct pci_devemu *pde;
	char *copy, *str, *slotstr, *emul, *conf, *f[3];
	char node[32];
	int nf, bnum, snum, fnum, error = -1;

	copy = str = strdup(opt);
	if (copy == NULL)
		return (-1);
	slotstr = strsep(&str, ",");
	emul = strsep(&str, ",");
	conf = str;
	if (emul == NULL || *emul == '\0') {
		fprintf(stderr, "bhyve: invalid -s option '%s' (expected "
		    "slot[:func],emulation[,conf] or bus:slot:func,...)\n",
		    opt);
		goto done;
	}

	/* slot | slot:func | bus:slot:func */
	str = slotstr;
	for (nf = 0; nf < 3 && str != NULL; nf++)
		f[nf] = strsep(&str, ":");
	bnum = 0;
	fnum = 0;
	if (str != NULL)
		snum = -1;
	else if (nf == 3) {
		bnum = pci_parse_num(f[0], MAXBUSES - 1);
		snum = pci_parse_num(f[1], MAXSLOTS - 1);
		fnum = pci_parse_num(f[2], MAXFUNCS - 1);
	} else if (nf == 2) {
		snum = pci_parse_num(f[0], MAXSLOTS - 1);
		fnum = pci_parse_num(f[1], MAXFUNCS - 1);
	} else
		snum = pci_parse_num(f[0], MAXSLOTS - 1);
	if (bnum < 0 || snum < 0 || fnum < 0) {
		/* slotstr was cut up by strsep: report the option's prefix */
		fprintf(stderr, "bhyve: invalid slot '%.*s'\n",
		    (int)strcspn(opt, ","), opt);
		goto done;
	}

	pde = pci_emul_finddev(emul);
	if (pde == NULL) {
		fprintf(stderr, "bhyve: unknown emulation '%s' (try -s help)\n",
		    emul);
		goto done;
	}
	snprintf(node, sizeof(node), "pci.%d.%d.%d", bnum, snum, fnum);
	if (config_node_exists(cfg, node)) {
		fprintf(stderr, "bhyve: slot %d:%d:%d is already in use\n",
		    bnum, snum, fnum);
		goto done;
	}
	if (set_config_value_node(cfg, node, "device",
	    pde->pe_alias != NULL ? pde->pe_alias : pde->pe_emu) != 0)
		goto done;
	if (pde->pe_legacy_config != NULL)
		error = pde->pe_legacy_config(cfg, node, conf);
	else
		error = pci_parse_legacy_config(cfg, node, conf);
	error = error == 0 ? 0 : -1;
done:
	free(copy);
	return (error);
}

struct pci_devinst *
pci_emul_find_devinst(struct bhyve_vm *bvm, int bus, int slot, int func)
{
	struct pci_bus *pb = bvm->pci;

	if (pb == NULL || bus < 0 || bus >= MAXBUSES || slot < 0 ||
	    slot >= MAXSLOTS || func < 0 || func >= MAXFUNCS ||
	    pb->pb_bus[bus] == NULL)
		return (NULL);
	return (pb->pb_bus[bus]->bi_dev[slot][func]);
}

void
pci_emul_set_wmask(struct pci_devinst *pi, int offset, int bytes,
    uint32_t mask)
{
	int i;

	VERIFY(offset >= 0 && bytes >= 1 && bytes <= 4 &&
	    offset + bytes <= PCI_REGMAX + 1);
	for (i = 0; i < bytes; i++)
		pi->pi_cfgwmask[offset + i] = (uint8_t)(mask >> (8 * i));
}

/* Which bits of the type 0 header a guest may change (PCI 3.0, 6.2). */
static void
pci_emul_init_wmask(struct pci_devinst *pi)
{

	memset(pi->pi_cfgwmask, 0, CAP_START_OFFSET);
	/*
	 * Command bits 0-6 and 8-10 (6.2.2); bit 7 and 11-15 are reserved.
	 * The status bits that are RW1C are never set by an emulation, so
	 * status is read-only (bhyve does the same).
	 */
	pci_emul_set_wmask(pi, PCIR_COMMAND, 2, 0x077f);
	pci_emul_set_wmask(pi, PCIR_CACHELNSZ, 1, 0xff);
	pci_emul_set_wmask(pi, PCIR_LATTIMER, 1, 0xff);
	pci_emul_set_wmask(pi, PCIR_INTLINE, 1, 0xff);
	/* Device-specific space: writable unless a capability claims it. */
	memset(&pi->pi_cfgwmask[CAP_START_OFFSET], 0xff,
	    PCI_REGMAX + 1 - CAP_START_OFFSET);
}

static bool
pci_bar_decode_enabled(const struct pci_devinst *pi, int idx)
{
	uint16_t cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);

	if (pi->pi_bar[idx].type == PCIBAR_IO)
		return ((cmd & PCIM_CMD_PORTEN) != 0);
	return ((cmd & PCIM_CMD_MEMEN) != 0);
}

static int
pci_emul_io_handler(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pci_devinst *pi = arg;
	const struct pci_devemu *pe = pi->pi_d;
	uint64_t base, offset;
	int i;

	for (i = 0; i <= PCI_BARMAX; i++) {
		if (pi->pi_bar[i].type != PCIBAR_IO)
			continue;
		base = __atomic_load_n(&pi->pi_bar[i].addr, __ATOMIC_ACQUIRE);
		offset = (uint64_t)port - base;
		if ((uint64_t)port < base || offset + bytes > pi->pi_bar[i].size)
			continue;
		if (in)
			*eax = pe->pe_barread != NULL ?
			    (uint32_t)pe->pe_barread(pi, i, offset, bytes) :
			    0xffffffff;
		else if (pe->pe_barwrite != NULL)
			pe->pe_barwrite(pi, i, offset, bytes, *eax);
		return (0);
	}
	/* Straddles the end of the BAR: nothing claims the rest. */
	if (in)
		*eax = 0xffffffff;
	return (0);
}

static int
pci_emul_mem_handler(struct bhyve_vm *bvm, int dir, uint64_t addr, int size,
    uint64_t *val, void *arg1, long arg2)
{
	struct pci_devinst *pi = arg1;
	const struct pci_devemu *pe = pi->pi_d;
	uint64_t offset;
	int idx = (int)arg2;

	/* The range lock is held, so the BAR cannot move under us (mem.c). */
	offset = addr - __atomic_load_n(&pi->pi_bar[idx].addr, __ATOMIC_ACQUIRE);
	if (pci_msix_table_bar(pi, idx)) {
		if (dir == MEM_F_WRITE)
			pci_msix_write(pi, offset, size, *val);
		else
			*val = pci_msix_read(pi, offset, size);
		return (0);
	}
	if (dir == MEM_F_WRITE) {
		if (pe->pe_barwrite != NULL)
			pe->pe_barwrite(pi, idx, offset, size, *val);
	} else
		*val = pe->pe_barread != NULL ?
		    pe->pe_barread(pi, idx, offset, size) : ~0ULL;
	return (0);
}

/* Starts or stops decoding one BAR at its current address. */
static void
pci_bar_set_decode(struct pci_devinst *pi, int idx, bool on)
{
	struct bhyve_vm *bvm = pi->pi_vm;
	struct pcibar *bar = &pi->pi_bar[idx];
	struct inout_port iop;
	struct mem_range mr;
	int error;

	if (bar->decoding == on)
		return;
	if (bar->type == PCIBAR_IO) {
		iop = (struct inout_port){ .name = pi->pi_name,
		    .port = (int)bar->addr, .size = (int)bar->size,
		    .flags = IOPORT_F_INOUT, .handler = pci_emul_io_handler,
		    .arg = pi };
		error = on ? register_inout(bvm->inout, &iop) :
		    unregister_inout(bvm->inout, &iop);
	} else {
		mr = (struct mem_range){ .name = pi->pi_name,
		    .flags = MEM_F_RW, .handler = pci_emul_mem_handler,
		    .arg1 = pi, .arg2 = idx, .base = bar->addr,
		    .size = bar->size };
		error = on ? register_mem(bvm->mem, &mr) :
		    unregister_mem(bvm->mem, &mr);
	}
	/*
	 * A guest may place a BAR over another device's or beyond the end of
	 * the address space; the first owner keeps the addresses and this BAR
	 * decodes nothing, as with conflicting hardware.
	 */
	if (error == 0)
		bar->decoding = on;
	else
		VERIFY(on);
	if (error == 0 && pi->pi_d->pe_baraddr != NULL)
		pi->pi_d->pe_baraddr(pi, idx, on, bar->addr);
}

static void
pci_bar_move(struct pci_devinst *pi, int idx, uint64_t addr)
{

	pci_bar_set_decode(pi, idx, false);
	__atomic_store_n(&pi->pi_bar[idx].addr, addr, __ATOMIC_RELEASE);
	pci_bar_set_decode(pi, idx, pci_bar_decode_enabled(pi, idx));
}

static void pci_msi_refresh(struct pci_devinst *pi);

void
pci_restore_decode(struct pci_devinst *pi, const uint64_t *addrs)
{
	int i;

	for (i = 0; i <= PCI_BARMAX; i++) {
		switch (pi->pi_bar[i].type) {
		case PCIBAR_IO:
		case PCIBAR_MEM32:
		case PCIBAR_MEM64:
			pci_bar_set_decode(pi, i, false);
			__atomic_store_n(&pi->pi_bar[i].addr, addrs[i], __ATOMIC_RELEASE);
			pci_bar_set_decode(pi, i, pci_bar_decode_enabled(pi, i));
			break;
		default:
			break;
		}
	}
	if (pi->pi_msi.capoff != 0)
		pci_msi_refresh(pi);
	pci_msix_refresh(pi);
	pci_lintr_refresh(pi);
}

/* Only dword writes program a BAR (bhyve ignores narrower ones too). */
static void
pci_bar_write(struct pci_devinst *pi, int coff, int bytes, uint32_t val)
{
	struct pcibar *bar, *lo;
	uint64_t mask, addr;
	uint32_t reg;
	int idx;

	if (bytes != 4)
		return;
	idx = (coff - PCIR_BAR(0)) / 4;
	bar = &pi->pi_bar[idx];
	switch (bar->type) {
	case PCIBAR_IO:
		mask = ~(bar->size - 1);
		addr = val & mask & 0xffff;
		reg = (uint32_t)addr | bar->lobits;
		if (addr != bar->addr)
			pci_bar_move(pi, idx, addr);
		break;
	case PCIBAR_MEM32:
		mask = ~(bar->size - 1);
		addr = val & mask & 0xffffffff;
		reg = (uint32_t)addr | bar->lobits;
		if (addr != bar->addr)
			pci_bar_move(pi, idx, addr);
		break;
	case PCIBAR_MEM64:
		mask = ~(bar->size - 1);
		addr = (bar->addr & ~0xffffffffULL) | (val & mask & 0xffffffff);
		reg = (uint32_t)(addr & mask) | bar->lobits;
		if (addr != bar->addr)
			pci_bar_move(pi, idx, addr);
		break;
	case PCIBAR_MEMHI64:
		lo = &pi->pi_bar[idx - 1];
		mask = ~(lo->size - 1);
		addr = (((uint64_t)val << 32) & mask) | (lo->addr & 0xffffffff);
		reg = (uint32_t)(addr >> 32);
		if (addr != lo->addr)
			pci_bar_move(pi, idx - 1, addr);
		break;
	case PCIBAR_NONE:
	default:
		reg = 0;	/* unimplemented BARs read as 0 (6.2.5.1) */
		break;
	}
	pci_set_cfgdata32(pi, coff, reg);
}

/* The command register changed: follow its I/O and memory decode bits. */
static void
pci_cmd_changed(struct pci_devinst *pi, uint16_t old)
{
	uint16_t new = pci_get_cfgdata16(pi, PCIR_COMMAND);
	int i;

	if ((old ^ new) & PCIM_CMD_INTxDIS)
		pci_lintr_refresh(pi);
	if (((old ^ new) & (PCIM_CMD_PORTEN | PCIM_CMD_MEMEN)) == 0)
		return;
	for (i = 0; i <= PCI_BARMAX; i++) {
		switch (pi->pi_bar[i].type) {
		case PCIBAR_IO:
		case PCIBAR_MEM32:
		case PCIBAR_MEM64:
			pci_bar_set_decode(pi, i, pci_bar_decode_enabled(pi, i));
			break;
		default:
			break;
		}
	}
}

/* MSI state follows its capability registers (PCI 3.0, 6.8.1). */
static void
pci_msi_refresh(struct pci_devinst *pi)
{
	int off = pi->pi_msi.capoff;
	uint16_t ctrl;
	int mme;

	ctrl = pci_get_cfgdata16(pi, off + 2);
	pthread_mutex_lock(&pi->pi_irq.mtx);
	pi->pi_msi.enabled = (ctrl & PCIM_MSICTRL_MSI_ENABLE) != 0;
	pi->pi_msi.addr = pci_get_cfgdata32(pi, off + 4) |
	    (uint64_t)pci_get_cfgdata32(pi, off + 8) << 32;
	pi->pi_msi.msg_data = pci_get_cfgdata16(pi, off + 12);
	mme = (ctrl & PCIM_MSICTRL_MME_MASK) >> 4;
	pi->pi_msi.msgnum = 1 << mme;
	if (pi->pi_msi.msgnum > pi->pi_msi.maxmsgnum)
		pi->pi_msi.msgnum = pi->pi_msi.maxmsgnum;
	pthread_mutex_unlock(&pi->pi_irq.mtx);
}

static void
pci_cfgrw_locked(struct bhyve_vm *bvm, int in, int bus, int slot, int func,
    int coff, int bytes, uint32_t *eax)
{
	struct pci_devinst *pi;
	const struct pci_devemu *pe;
	uint32_t val, mask;
	uint16_t oldcmd;
	int i;

	pi = pci_emul_find_devinst(bvm, bus, slot, func);
	/* Nobody answers: the host bridge returns all ones (PCI 3.0, 6.1). */
	if (pi == NULL || (bytes != 1 && bytes != 2 && bytes != 4) ||
	    coff < 0 || (coff & (bytes - 1)) != 0 ||
	    coff + bytes > PCIE_REGMAX + 1) {
		if (in)
			*eax = 0xffffffff;
		return;
	}
	pe = pi->pi_d;
	if (in) {
		if (pe->pe_cfgread != NULL &&
		    pe->pe_cfgread(pi, coff, bytes, eax) == 0)
			return;
		val = 0;
		for (i = 0; i < bytes; i++)
			val |= (uint32_t)pi->pi_cfgdata[coff + i] << (8 * i);
		*eax = val;
		return;
	}

	if (pe->pe_cfgwrite != NULL &&
	    pe->pe_cfgwrite(pi, coff, bytes, *eax) == 0)
		return;
	/* No extended capabilities: the extended space is read-only. */
	if (coff > PCI_REGMAX)
		return;
	if (coff >= PCIR_BAR(0) && coff < PCIR_BAR(PCI_BARMAX + 1)) {
		pci_bar_write(pi, coff, bytes, *eax);
		return;
	}
	oldcmd = pci_get_cfgdata16(pi, PCIR_COMMAND);
	for (i = 0; i < bytes; i++) {
		mask = pi->pi_cfgwmask[coff + i];
		pi->pi_cfgdata[coff + i] = (uint8_t)((pi->pi_cfgdata[coff + i] &
		    ~mask) | ((*eax >> (8 * i)) & mask));
	}
	if (coff < PCIR_COMMAND + 2 && coff + bytes > PCIR_COMMAND)
		pci_cmd_changed(pi, oldcmd);
	if (pi->pi_msi.capoff != 0 && coff < pi->pi_msi.capoff + 14 &&
	    coff + bytes > pi->pi_msi.capoff)
		pci_msi_refresh(pi);
	if (pi->pi_msix.capoff != 0 && coff < pi->pi_msix.capoff + 4 &&
	    coff + bytes > pi->pi_msix.capoff + 2)
		pci_msix_refresh(pi);
}

uint32_t
pci_emul_cfgread(struct bhyve_vm *bvm, int bus, int slot, int func, int coff,
    int bytes)
{
	uint32_t val = 0xffffffff;

	pthread_mutex_lock(&bvm->pci->pb_mtx);
	pci_cfgrw_locked(bvm, 1, bus, slot, func, coff, bytes, &val);
	pthread_mutex_unlock(&bvm->pci->pb_mtx);
	if (bytes < 4 && bytes > 0)
		val &= (1u << (8 * bytes)) - 1;
	return (val);
}

void
pci_emul_cfgwrite(struct bhyve_vm *bvm, int bus, int slot, int func, int coff,
    int bytes, uint32_t val)
{

	pthread_mutex_lock(&bvm->pci->pb_mtx);
	pci_cfgrw_locked(bvm, 0, bus, slot, func, coff, bytes, &val);
	pthread_mutex_unlock(&bvm->pci->pb_mtx);
}

/* CONFIG_ADDRESS at 0xcf8 (PCI 3.0, 3.2.2.3.2): dword accesses only. */
static int
pci_emul_cfgaddr(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pci_bus *pb = arg;

	if (bytes != 4) {
		if (in)
			*eax = 0xffffffff;
		return (0);
	}
	pthread_mutex_lock(&pb->pb_mtx);
	if (in)
		*eax = pb->pb_cf8;
	else
		pb->pb_cf8 = *eax & (CONF1_ENABLE | CONF1_ADDR_MASK);
	pthread_mutex_unlock(&pb->pb_mtx);
	return (0);
}

/* CONFIG_DATA at 0xcfc-0xcff: any width at any byte lane. */
static int
pci_emul_cfgdata(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pci_bus *pb = arg;
	uint32_t cf8;
	int coff;

	pthread_mutex_lock(&pb->pb_mtx);
	cf8 = pb->pb_cf8;
	if ((cf8 & CONF1_ENABLE) == 0) {
		/* Without the enable bit this is an ordinary, absent port. */
		if (in)
			*eax = 0xffffffff;
	} else {
		coff = (int)(cf8 & 0xfc) + (port - MACHINE_IO_PCI_CONF1_DATA);
		pci_cfgrw_locked(bvm, in, (cf8 >> 16) & 0xff, (cf8 >> 11) & 0x1f,
		    (cf8 >> 8) & 0x7, coff, bytes, eax);
	}
	pthread_mutex_unlock(&pb->pb_mtx);
	return (0);
}

/* ECAM (PCIe Base 3.0, 7.2.2): bus 27:20, device 19:15, function 14:12. */
static int
pci_emul_ecfg_handler(struct bhyve_vm *bvm, int dir, uint64_t addr, int size,
    uint64_t *val, void *arg1, long arg2)
{
	uint64_t off = addr - MACHINE_PCI_ECFG_BASE;
	uint32_t lo, hi;
	int bus, slot, func, coff;

	bus = (int)(off >> 20) & 0xff;
	slot = (int)(off >> 15) & 0x1f;
	func = (int)(off >> 12) & 0x7;
	coff = (int)(off & 0xfff);
	if (size == 8) {
		/* Split into two dword transactions, low first. */
		if (dir == MEM_F_WRITE) {
			pci_emul_cfgwrite(bvm, bus, slot, func, coff, 4,
			    (uint32_t)*val);
			pci_emul_cfgwrite(bvm, bus, slot, func, coff + 4, 4,
			    (uint32_t)(*val >> 32));
		} else {
			lo = pci_emul_cfgread(bvm, bus, slot, func, coff, 4);
			hi = pci_emul_cfgread(bvm, bus, slot, func, coff + 4, 4);
			*val = lo | (uint64_t)hi << 32;
		}
		return (0);
	}
	if (dir == MEM_F_WRITE)
		pci_emul_cfgwrite(bvm, bus, slot, func, coff, size,
		    (uint32_t)*val);
	else
		*val = pci_emul_cfgread(bvm, bus, slot, func, coff, size);
	return (0);
}

static uint64_t
pci_roundup_pow2(uint64_t size)
{
	uint64_t p = 1;

	while (p < size && p != 0)
		p <<= 1;
	return (p);
}

int
pci_emul_alloc_bar(struct pci_devinst *pi, int idx, enum pcibar_type type,
    uint64_t size)
{
	struct pci_bus *pb = pi->pi_vm->pci;
	uint64_t *cursor, limit, base;
	uint8_t lobits;
	uint16_t cmd;

	VERIFY(idx >= 0 && idx <= PCI_BARMAX);
	VERIFY(pi->pi_bar[idx].type == PCIBAR_NONE);
	VERIFY(type == PCIBAR_IO || type == PCIBAR_MEM32 ||
	    type == PCIBAR_MEM64);
	VERIFY(type != PCIBAR_MEM64 || idx < PCI_BARMAX);
	size = pci_roundup_pow2(size);
	/* Minimum BAR sizes from PCI 3.0, 6.2.5.1. */
	if (type == PCIBAR_IO) {
		if (size < 4)
			size = 4;
		VERIFY(size <= PCI_IO_BAR_MAXSIZE);
		cursor = &pb->pb_iobase;
		limit = pb->pb_iolimit;
		lobits = PCIM_BAR_IO_SPACE;
	} else {
		if (size < 16)
			size = 16;
		VERIFY(size != 0 && (type == PCIBAR_MEM64 || size <= (1ULL << 31)));
		if (type == PCIBAR_MEM64 && size > MACHINE_PCI_MEM64_MINBAR) {
			cursor = &pb->pb_mem64base;
			limit = pb->pb_mem64limit;
			lobits = PCIM_BAR_MEM_64 | PCIM_BAR_MEM_PREFETCH;
		} else {
			cursor = &pb->pb_mem32base;
			limit = pb->pb_mem32limit;
			lobits = type == PCIBAR_MEM64 ? PCIM_BAR_MEM_64 : 0;
		}
	}
	/* Natural alignment, so the sizing mask yields the base (6.2.5.1). */
	base = (*cursor + size - 1) & ~(size - 1);
	if (base < *cursor || base + size > limit || base + size < base) {
		fprintf(stderr, "bhyve: %s: no room for a %#lx-byte BAR %d\n",
		    pi->pi_name, (unsigned long)size, idx);
		return (-ENOSPC);
	}
	*cursor = base + size;

	pi->pi_bar[idx] = (struct pcibar){ .type = type, .size = size,
	    .addr = base, .lobits = lobits };
	pci_set_cfgdata32(pi, PCIR_BAR(idx), (uint32_t)base | lobits);
	if (type == PCIBAR_MEM64) {
		pi->pi_bar[idx + 1] = (struct pcibar){ .type = PCIBAR_MEMHI64 };
		pci_set_cfgdata32(pi, PCIR_BAR(idx + 1), (uint32_t)(base >> 32));
	}
	/* Decode from the start, as firmware would leave it (bhyve does too). */
	cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);
	cmd |= type == PCIBAR_IO ? PCIM_CMD_PORTEN : PCIM_CMD_MEMEN;
	pci_set_cfgdata16(pi, PCIR_COMMAND, cmd);
	pci_bar_set_decode(pi, idx, true);
	if (!pi->pi_bar[idx].decoding) {
		fprintf(stderr, "bhyve: %s: BAR %d at %#lx overlaps another "
		    "device\n", pi->pi_name, idx, (unsigned long)base);
		return (-EEXIST);
	}
	return (0);
}

/* Appends a capability to the list at 0x34 (PCI 3.0, 6.7). */
int
pci_emul_add_capability(struct pci_devinst *pi, const uint8_t *capdata,
    int caplen)
{
	int capoff, reallen;

	VERIFY(caplen >= 2);
	if ((pci_get_cfgdata16(pi, PCIR_STATUS) & PCIM_STATUS_CAPPRESENT) == 0)
		capoff = CAP_START_OFFSET;
	else
		capoff = (pi->pi_capend + 1 + 3) & ~3;
	reallen = (caplen + 3) & ~3;
	if (capoff + reallen > PCI_REGMAX + 1)
		return (-ENOSPC);

	memcpy(&pi->pi_cfgdata[capoff], capdata, caplen);
	memset(&pi->pi_cfgdata[capoff + caplen], 0, reallen - caplen);
	pi->pi_cfgdata[capoff + 1] = 0;		/* end of list */
	memset(&pi->pi_cfgwmask[capoff], 0, reallen);
	if ((pci_get_cfgdata16(pi, PCIR_STATUS) & PCIM_STATUS_CAPPRESENT) == 0) {
		pci_set_cfgdata8(pi, PCIR_CAP_PTR, (uint8_t)capoff);
		pci_set_cfgdata16(pi, PCIR_STATUS,
		    pci_get_cfgdata16(pi, PCIR_STATUS) | PCIM_STATUS_CAPPRESENT);
	} else
		pci_set_cfgdata8(pi, pi->pi_prevcap + 1, (uint8_t)capoff);
	pi->pi_prevcap = capoff;
	pi->pi_capend = capoff + reallen - 1;
	return (capoff);
}

/* 64-bit MSI without per-vector masking (PCI 3.0, 6.8.1). */
int
pci_emul_add_msicap(struct pci_devinst *pi, int msgnum)
{
	uint8_t cap[14];
	uint16_t ctrl;
	int capoff, mmc;

	VERIFY(msgnum >= 1 && msgnum <= 32 && (msgnum & (msgnum - 1)) == 0);
	VERIFY(pi->pi_msi.capoff == 0);
	for (mmc = 0; (1 << mmc) < msgnum; mmc++)
		continue;
	memset(cap, 0, sizeof(cap));
	ctrl = PCIM_MSICTRL_64BIT | (uint16_t)(mmc << 1);
	cap[0] = PCIY_MSI;
	cap[2] = (uint8_t)ctrl;
	cap[3] = (uint8_t)(ctrl >> 8);
	capoff = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (capoff < 0)
		return (capoff);
	pci_emul_set_wmask(pi, capoff + 2, 2,
	    PCIM_MSICTRL_MSI_ENABLE | PCIM_MSICTRL_MME_MASK);
	pci_emul_set_wmask(pi, capoff + 4, 4, 0xfffffffc);	/* dword aligned */
	pci_emul_set_wmask(pi, capoff + 8, 4, 0xffffffff);
	pci_emul_set_wmask(pi, capoff + 12, 2, 0xffff);
	pi->pi_msi.capoff = capoff;
	pi->pi_msi.maxmsgnum = msgnum;
	pci_msi_refresh(pi);
	return (0);
}

/* PCI Express capability, version 2: 60 bytes (PCIe Base 3.0, 7.8). */
int
pci_emul_add_pciecap(struct pci_devinst *pi, int type)
{
	uint8_t cap[60];
	uint16_t caps;
	int capoff;

	/* bhyve has one root complex bus: its endpoints are integrated. */
	if (type == PCIEM_TYPE_ENDPOINT && pi->pi_bus == 0)
		type = PCIEM_TYPE_ROOT_INT_EP;
	memset(cap, 0, sizeof(cap));
	caps = PCIECAP_VERSION | (uint16_t)type;
	cap[0] = PCIY_EXPRESS;
	cap[2] = (uint8_t)caps;
	cap[3] = (uint8_t)(caps >> 8);
	if (type != PCIEM_TYPE_ROOT_INT_EP) {
		/* Link capabilities and status: 2.5 GT/s, x1 (bhyve's). */
		cap[0x0c] = 0x11;
		cap[0x0d] = 0x04;
		cap[0x12] = 0x11;
	}
	capoff = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (capoff < 0)
		return (capoff);
	/* Control registers are read-write; capabilities and status are not. */
	pci_emul_set_wmask(pi, capoff + 0x08, 2, 0x7fff);	/* device control */
	pci_emul_set_wmask(pi, capoff + 0x10, 2, 0x0fdf);	/* link control */
	pci_emul_set_wmask(pi, capoff + 0x18, 2, 0x1fff);	/* slot control */
	pci_emul_set_wmask(pi, capoff + 0x1c, 2, 0x001f);	/* root control */
	pci_emul_set_wmask(pi, capoff + 0x28, 2, 0xffff);	/* device control 2 */
	pci_emul_set_wmask(pi, capoff + 0x30, 2, 0xffff);	/* link control 2 */
	pci_emul_set_wmask(pi, capoff + 0x38, 2, 0xffff);	/* slot control 2 */
	return (0);
}

static void
pci_emul_free_devinst(struct pci_devinst *pi)
{

	if (pi->pi_d->pe_deinit != NULL)
		pi->pi_d->pe_deinit(pi);
	pci_irq_fini(pi);
	free(pi);
}

static int
pci_emul_init_func(struct bhyve_vm *bvm, int bus, int slot, int func)
{
	struct pci_bus *pb = bvm->pci;
	const struct pci_devemu *pde;
	struct pci_devinst *pi;
	const char *dev;
	char node[32];

	snprintf(node, sizeof(node), "pci.%u.%u.%u", bus & 0xffu,
	    slot & 0x1fu, func & 0x7u);
	if (!config_node_exists(bvm->cfg, node))
		return (0);
	dev = get_config_value_node(bvm->cfg, node, "device");
	if (dev == NULL) {
		fprintf(stderr, "bhyve: %s: no device set (%s.device)\n", node,
		    node);
		return (-1);
	}
	pde = pci_emul_finddev(dev);
	if (pde == NULL) {
		fprintf(stderr, "bhyve: %s: unknown emulation '%s' "
		    "(try -s help)\n", node, dev);
		return (-1);
	}
	if (pb->pb_bus[bus] == NULL) {
		pb->pb_bus[bus] = calloc(1, sizeof(struct pci_businfo));
		if (pb->pb_bus[bus] == NULL)
			return (-1);
	}
	pi = calloc(1, sizeof(*pi));
	if (pi == NULL)
		return (-1);
	pi->pi_d = pde;
	pi->pi_vm = bvm;
	pi->pi_bus = (uint8_t)bus;
	pi->pi_slot = (uint8_t)slot;
	pi->pi_func = (uint8_t)func;
	snprintf(pi->pi_name, sizeof(pi->pi_name), "%s@%s", pde->pe_emu, node);
	pci_emul_init_wmask(pi);
	pci_irq_init(pi);
	/* Stored first so a failing pe_init's BARs are torn down by fini. */
	pb->pb_bus[bus]->bi_dev[slot][func] = pi;
	if (pde->pe_init(pi, node) != 0)
		return (-1);
	/* A kept guest finds the function as it left it. */
	return (pci_snapshot_register(pi));
}

static int
pci_emul_register_conf(struct bhyve_vm *bvm)
{
	struct pci_bus *pb = bvm->pci;
	struct inout_port cf8 = { "pci_cfgaddr", MACHINE_IO_PCI_CONF1_ADDR, 1,
	    IOPORT_F_INOUT, pci_emul_cfgaddr, pb };
	struct inout_port cfc = { "pci_cfgdata", MACHINE_IO_PCI_CONF1_DATA, 4,
	    IOPORT_F_INOUT, pci_emul_cfgdata, pb };
	struct mem_range ecfg = { .name = "pci_ecfg",
	    .flags = MEM_F_RW | MEM_F_IMMUTABLE,
	    .handler = pci_emul_ecfg_handler, .base = MACHINE_PCI_ECFG_BASE,
	    .size = MACHINE_PCI_ECFG_SIZE };

	if (register_inout(bvm->inout, &cf8) != 0 ||
	    register_inout(bvm->inout, &cfc) != 0 ||
	    register_mem(bvm->mem, &ecfg) != 0) {
		fprintf(stderr, "bhyve: PCI config ports or ECAM window "
		    "already taken\n");
		return (-1);
	}
	return (0);
}

int
pci_emul_init(struct bhyve_vm *bvm)
{
	struct pci_bus *pb;
	struct pci_devinst *pi;
	uint64_t highend;
	char node[16];
	int bus, slot, func, nfuncs;

	pb = calloc(1, sizeof(*pb));
	if (pb == NULL)
		return (-1);
	pthread_mutex_init(&pb->pb_mtx, NULL);
	pb->pb_iobase = MACHINE_PCI_IO_BASE;
	if (get_config_bool_default(bvm->cfg, "lpc.pc-testdev", false))
		pb->pb_iobase = MACHINE_IO_TESTDEV_IRQ + MACHINE_TESTDEV_NIRQ;
	pb->pb_iolimit = MACHINE_PCI_IO_LIMIT;
	pb->pb_mem32base = MACHINE_PCI_MEM32_BASE;
	highend = VM_HIGHMEM_BASE;
	if (bvm->ctx != NULL) {
		pb->pb_mem32base = vm_get_lowmem_limit(bvm->ctx);
		highend = vm_get_highmem_base(bvm->ctx) +
		    vm_get_highmem_size(bvm->ctx);
	}
	pb->pb_mem32limit = MACHINE_PCI_MEM32_LIMIT;
	pb->pb_mem64base = machine_pci_mem64_base(highend);
	pb->pb_mem64limit = pb->pb_mem64base + MACHINE_PCI_MEM64_SIZE;
	bvm->pci = pb;

	if (pci_emul_register_conf(bvm) != 0)
		return (-1);
	for (bus = 0; bus < MAXBUSES; bus++) {
		snprintf(node, sizeof(node), "pci.%d", bus);
		if (!config_node_exists(bvm->cfg, node))
			continue;
		for (slot = 0; slot < MAXSLOTS; slot++) {
			nfuncs = 0;
			for (func = 0; func < MAXFUNCS; func++) {
				if (pci_emul_init_func(bvm, bus, slot, func) != 0)
					return (-1);
				if (pci_emul_find_devinst(bvm, bus, slot, func))
					nfuncs++;
			}
			/* Header type bit 7 announces the other functions (6.2.1). */
			pi = pci_emul_find_devinst(bvm, bus, slot, 0);
			if (pi != NULL && nfuncs > 1)
				pci_set_cfgdata8(pi, PCIR_HDRTYPE,
				    pci_get_cfgdata8(pi, PCIR_HDRTYPE) | PCIM_MFDEV);
		}
	}
	return (0);
}

void
pci_emul_fini(struct bhyve_vm *bvm)
{
	struct pci_bus *pb = bvm->pci;
	struct pci_devinst *pi;
	int bus, slot, func;

	if (pb == NULL)
		return;
	for (bus = 0; bus < MAXBUSES; bus++) {
		if (pb->pb_bus[bus] == NULL)
			continue;
		for (slot = 0; slot < MAXSLOTS; slot++)
			for (func = 0; func < MAXFUNCS; func++) {
				pi = pb->pb_bus[bus]->bi_dev[slot][func];
				if (pi != NULL)
					pci_emul_free_devinst(pi);
			}
		free(pb->pb_bus[bus]);
	}
	pthread_mutex_destroy(&pb->pb_mtx);
	free(pb);
	bvm->pci = NULL;
}

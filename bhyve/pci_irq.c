/*
 * pci_irq.c - how PCI devices interrupt: MSI (PCI Local Bus 3.0, 6.8.1),
 * MSI-X (6.8.2: a table of address/data/vector-control entries and a
 * pending-bit array in a BAR, per-vector and function masks) and INTx
 * (a level-triggered line routed to an IOAPIC pin by the machine map, the
 * DSDT's _PRT saying the same; Command.INTxDIS and Status.INTx, 6.2.2-3).
 *
 * Messages go out through bvm->msi, INTx levels through bvm->ioapic_pin
 * (libvmmapi's vm_lapic_msi and vm_ioapic_assert/deassert_irq in bhyve;
 * fakes in tests).  Devices call these from any thread; the guest's table
 * and config writes come from vCPU threads: pi_irq.mtx orders them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pci_emul.h"

#define PCIY_MSIX		0x11
#define PCIM_MSIXCTRL_ENABLE	0x8000
#define PCIM_MSIXCTRL_FMASK	0x4000
#define MSIX_ENTRY_SIZE		16
#define MSIX_VCTRL_MASK		0x1
#define PCIM_STATUS_INTxSTATE	0x0008

static void
irq_lock(struct pci_devinst *pi)
{
	pthread_mutex_lock(&pi->pi_irq.mtx);
}

static void
irq_unlock(struct pci_devinst *pi)
{
	pthread_mutex_unlock(&pi->pi_irq.mtx);
}

static void
deliver(struct pci_devinst *pi, uint64_t addr, uint32_t data)
{
	struct bhyve_vm *bvm = pi->pi_vm;

	if (bvm->msi != NULL)
		bvm->msi(bvm, addr, data);
}

/* ---- MSI ---- */

bool
pci_msi_enabled(struct pci_devinst *pi)
{
	return pi->pi_msi.capoff != 0 && pi->pi_msi.enabled;
}

int
pci_msi_maxmsgnum(struct pci_devinst *pi)
{
	return pi->pi_msi.msgnum;
}

/* Message @index of a multiple-message MSI: its number in the data's low bits. */
void
pci_generate_msi(struct pci_devinst *pi, int index)
{
	uint64_t addr;
	uint32_t data;

	irq_lock(pi);
	if (!pci_msi_enabled(pi) || index < 0 || index >= pi->pi_msi.msgnum) {
		irq_unlock(pi);
		return;
	}
	addr = pi->pi_msi.addr;
	data = (uint32_t)(pi->pi_msi.msg_data | index);
	irq_unlock(pi);
	deliver(pi, addr, data);
}

/* ---- MSI-X ---- */

int
pci_emul_add_msixcap(struct pci_devinst *pi, int nvec, int barnum)
{
	uint8_t cap[12];
	uint32_t tablesz, pbasz, barsz;
	int capoff;

	VERIFY(nvec >= 1 && nvec <= 2048);
	VERIFY(barnum >= 0 && barnum <= PCI_BARMAX && pi->pi_msix.capoff == 0);
	tablesz = (uint32_t)nvec * MSIX_ENTRY_SIZE;
	pbasz = ((uint32_t)nvec + 63) / 64 * 8;
	/* The table and the PBA in their own 4 KiB pages (6.8.2.2 recommends it). */
	pi->pi_msix.table_off = 0;
	pi->pi_msix.pba_off = (tablesz + 4095) & ~4095u;
	barsz = pi->pi_msix.pba_off + ((pbasz + 4095) & ~4095u);
	pi->pi_msix.table = calloc((size_t)nvec, sizeof(*pi->pi_msix.table));
	pi->pi_msix.pba = calloc(((size_t)nvec + 63) / 64, sizeof(uint64_t));
	if (pi->pi_msix.table == NULL || pi->pi_msix.pba == NULL)
		return (-ENOMEM);
	/* Every vector starts masked (6.8.2.9). */
	for (int i = 0; i < nvec; i++)
		pi->pi_msix.table[i].vctrl = MSIX_VCTRL_MASK;
	pi->pi_msix.nvec = nvec;
	pi->pi_msix.bar = barnum;
	memset(cap, 0, sizeof(cap));
	cap[0] = PCIY_MSIX;
	cap[2] = (uint8_t)(nvec - 1);
	cap[3] = (uint8_t)((nvec - 1) >> 8);
	cap[4] = (uint8_t)(pi->pi_msix.table_off | (uint32_t)barnum);
	cap[5] = (uint8_t)(pi->pi_msix.table_off >> 8);
	cap[6] = (uint8_t)(pi->pi_msix.table_off >> 16);
	cap[7] = (uint8_t)(pi->pi_msix.table_off >> 24);
	cap[8] = (uint8_t)(pi->pi_msix.pba_off | (uint32_t)barnum);
	cap[9] = (uint8_t)(pi->pi_msix.pba_off >> 8);
	cap[10] = (uint8_t)(pi->pi_msix.pba_off >> 16);
	cap[11] = (uint8_t)(pi->pi_msix.pba_off >> 24);
	capoff = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (capoff < 0)
		return (capoff);
	pci_emul_set_wmask(pi, capoff + 2, 2, PCIM_MSIXCTRL_ENABLE | PCIM_MSIXCTRL_FMASK);
	pi->pi_msix.capoff = capoff;
	return (pci_emul_alloc_bar(pi, barnum, PCIBAR_MEM32, barsz));
}

/* Deliver what became deliverable: pending vectors now unmasked. */
static void
msix_flush_pending(struct pci_devinst *pi, uint64_t *addrs, uint32_t *datas, int *n, int max)
{
	int i;

	if (!pi->pi_msix.enabled || pi->pi_msix.fmask)
		return;
	for (i = 0; i < pi->pi_msix.nvec && *n < max; i++) {
		uint64_t bit = 1ULL << (i % 64);
		struct pci_msix_entry *e = &pi->pi_msix.table[i];

		if (!(pi->pi_msix.pba[i / 64] & bit) || (e->vctrl & MSIX_VCTRL_MASK))
			continue;
		pi->pi_msix.pba[i / 64] &= ~bit;
		addrs[*n] = e->addr_lo | (uint64_t)e->addr_hi << 32;
		datas[*n] = e->data;
		(*n)++;
	}
}

#define MSIX_FLUSH_MAX	32

static void
msix_deliver_batch(struct pci_devinst *pi, const uint64_t *addrs, const uint32_t *datas, int n)
{
	for (int i = 0; i < n; i++)
		deliver(pi, addrs[i], datas[i]);
}

/* The MSI-X control word changed (called with the PCI bus lock held). */
void
pci_msix_refresh(struct pci_devinst *pi)
{
	uint64_t addrs[MSIX_FLUSH_MAX];
	uint32_t datas[MSIX_FLUSH_MAX];
	uint16_t ctrl;
	int n = 0;

	if (pi->pi_msix.capoff == 0)
		return;
	ctrl = pci_get_cfgdata16(pi, pi->pi_msix.capoff + 2);
	irq_lock(pi);
	pi->pi_msix.enabled = (ctrl & PCIM_MSIXCTRL_ENABLE) != 0;
	pi->pi_msix.fmask = (ctrl & PCIM_MSIXCTRL_FMASK) != 0;
	msix_flush_pending(pi, addrs, datas, &n, MSIX_FLUSH_MAX);
	irq_unlock(pi);
	msix_deliver_batch(pi, addrs, datas, n);
}

bool
pci_msix_enabled(struct pci_devinst *pi)
{
	return pi->pi_msix.capoff != 0 && pi->pi_msix.enabled;
}

void
pci_generate_msix(struct pci_devinst *pi, int index)
{
	struct pci_msix_entry *e;
	uint64_t addr;
	uint32_t data;

	irq_lock(pi);
	if (!pci_msix_enabled(pi) || index < 0 || index >= pi->pi_msix.nvec) {
		irq_unlock(pi);
		return;
	}
	e = &pi->pi_msix.table[index];
	/* Masked: remember it in the PBA, send it when unmasked (6.8.2.9). */
	if (pi->pi_msix.fmask || (e->vctrl & MSIX_VCTRL_MASK)) {
		pi->pi_msix.pba[index / 64] |= 1ULL << (index % 64);
		irq_unlock(pi);
		return;
	}
	addr = e->addr_lo | (uint64_t)e->addr_hi << 32;
	data = e->data;
	irq_unlock(pi);
	deliver(pi, addr, data);
}

bool
pci_msix_table_bar(struct pci_devinst *pi, int baridx)
{
	return pi->pi_msix.capoff != 0 && baridx == pi->pi_msix.bar;
}

/*
 * Table and PBA accesses: dword or qword, naturally aligned (6.8.2); other
 * sizes read as zero and write nothing.  The PBA is read-only.
 */
uint64_t
pci_msix_read(struct pci_devinst *pi, uint64_t offset, int size)
{
	uint64_t val = 0;

	if ((size != 4 && size != 8) || (offset & (uint64_t)(size - 1)) != 0)
		return (0);
	irq_lock(pi);
	if (offset >= pi->pi_msix.table_off &&
	    offset - pi->pi_msix.table_off < (uint64_t)pi->pi_msix.nvec * MSIX_ENTRY_SIZE) {
		uint64_t o = offset - pi->pi_msix.table_off;
		const struct pci_msix_entry *e = &pi->pi_msix.table[o / MSIX_ENTRY_SIZE];
		uint32_t w[4] = { e->addr_lo, e->addr_hi, e->data, e->vctrl };
		int dw = (int)(o % MSIX_ENTRY_SIZE) / 4;

		val = w[dw];
		if (size == 8)
			val |= (uint64_t)w[dw + 1] << 32;
	} else if (offset >= pi->pi_msix.pba_off &&
	    offset - pi->pi_msix.pba_off < ((uint64_t)pi->pi_msix.nvec + 63) / 64 * 8) {
		uint64_t o = offset - pi->pi_msix.pba_off;
		uint64_t q = pi->pi_msix.pba[o / 8];

		val = size == 8 ? q : (q >> (8 * (o % 8))) & 0xffffffff;
	}
	irq_unlock(pi);
	return (val);
}

void
pci_msix_write(struct pci_devinst *pi, uint64_t offset, int size, uint64_t val)
{
	uint64_t addrs[MSIX_FLUSH_MAX];
	uint32_t datas[MSIX_FLUSH_MAX];
	int n = 0;

	if ((size != 4 && size != 8) || (offset & (uint64_t)(size - 1)) != 0)
		return;
	if (offset < pi->pi_msix.table_off ||
	    offset - pi->pi_msix.table_off >= (uint64_t)pi->pi_msix.nvec * MSIX_ENTRY_SIZE)
		return;		/* the PBA and the gaps are read-only */
	irq_lock(pi);
	{
		uint64_t o = offset - pi->pi_msix.table_off;
		struct pci_msix_entry *e = &pi->pi_msix.table[o / MSIX_ENTRY_SIZE];
		uint32_t *w[4] = { &e->addr_lo, &e->addr_hi, &e->data, &e->vctrl };
		int dw = (int)(o % MSIX_ENTRY_SIZE) / 4;

		*w[dw] = (uint32_t)val;
		if (size == 8)
			*w[dw + 1] = (uint32_t)(val >> 32);
		e->vctrl &= MSIX_VCTRL_MASK;	/* the other bits are reserved */
	}
	msix_flush_pending(pi, addrs, datas, &n, MSIX_FLUSH_MAX);
	irq_unlock(pi);
	msix_deliver_batch(pi, addrs, datas, n);
}

/* ---- INTx ---- */

/*
 * The wired-OR of an IOAPIC pin's level sources: the pin goes high with
 * the first source that asserts it and low with the last that lets go.  A
 * deassert with nobody asserting (a caller's bug) changes nothing.
 */
void
pci_intx_pin_set(struct bhyve_vm *bvm, int pin, bool level, bool drive)
{
	uint16_t *count;
	bool change;

	if (pin < 0 || pin >= MACHINE_IOAPIC_NPINS)
		return;
	count = &bvm->intx_count[pin];
	pthread_mutex_lock(&bvm->intx_mtx);
	if (level)
		change = (*count)++ == 0;
	else {
		change = *count == 1;
		if (*count > 0)
			(*count)--;
	}
	if (change && drive && bvm->ioapic_pin != NULL)
		bvm->ioapic_pin(bvm, pin, level);
	pthread_mutex_unlock(&bvm->intx_mtx);
}

int
pci_lintr_request(struct pci_devinst *pi)
{
	/* INTA#, routed by the slot's swizzle (machine.h; the DSDT's _PRT agrees). */
	pi->pi_lintr.pin = 1;
	pi->pi_lintr.ioapic_pin = machine_pci_intx_pin(pi->pi_slot, pi->pi_lintr.pin);
	pci_set_cfgdata8(pi, PCIR_INTPIN, (uint8_t)pi->pi_lintr.pin);
	pci_set_cfgdata8(pi, PCIR_INTLINE, (uint8_t)pi->pi_lintr.ioapic_pin);
	return (0);
}

static void
lintr_update(struct pci_devinst *pi)
{
	struct bhyve_vm *bvm = pi->pi_vm;
	bool disabled = (pci_get_cfgdata16(pi, PCIR_COMMAND) & PCIM_CMD_INTxDIS) != 0;
	bool level = pi->pi_lintr.state && !disabled;
	uint16_t status = pci_get_cfgdata16(pi, PCIR_STATUS);

	/* Status.Interrupt follows the device's request whatever INTxDIS says. */
	status = pi->pi_lintr.state ? status | PCIM_STATUS_INTxSTATE :
	    status & ~PCIM_STATUS_INTxSTATE;
	pci_set_cfgdata16(pi, PCIR_STATUS, status);
	if (level != pi->pi_lintr.asserted) {
		pi->pi_lintr.asserted = level;
		pci_intx_pin_set(bvm, pi->pi_lintr.ioapic_pin, level, true);
	}
}

/*
 * A restore set the device's request (pi_lintr.state) and its command
 * register: count what it drives now without telling the IOAPIC, whose
 * section already holds the pin's level, so the device's next deassert
 * lowers the pin (and another function's does not).  Called with the
 * function's IRQ lock held.
 */
void
pci_lintr_restored(struct pci_devinst *pi)
{
	bool disabled = (pci_get_cfgdata16(pi, PCIR_COMMAND) & PCIM_CMD_INTxDIS) != 0;
	bool level = pi->pi_lintr.state && !disabled;

	if (pi->pi_lintr.pin == 0 || level == pi->pi_lintr.asserted)
		return;
	pi->pi_lintr.asserted = level;
	pci_intx_pin_set(pi->pi_vm, pi->pi_lintr.ioapic_pin, level, false);
}

void
pci_lintr_assert(struct pci_devinst *pi)
{
	if (pi->pi_lintr.pin == 0)
		return;
	irq_lock(pi);
	pi->pi_lintr.state = true;
	lintr_update(pi);
	irq_unlock(pi);
}

void
pci_lintr_deassert(struct pci_devinst *pi)
{
	if (pi->pi_lintr.pin == 0)
		return;
	irq_lock(pi);
	pi->pi_lintr.state = false;
	lintr_update(pi);
	irq_unlock(pi);
}

/* The command register changed: INTxDIS gates the line. */
void
pci_lintr_refresh(struct pci_devinst *pi)
{
	if (pi->pi_lintr.pin == 0)
		return;
	irq_lock(pi);
	lintr_update(pi);
	irq_unlock(pi);
}

void
pci_irq_init(struct pci_devinst *pi)
{
	pthread_mutex_init(&pi->pi_irq.mtx, NULL);
}

void
pci_irq_fini(struct pci_devinst *pi)
{
	free(pi->pi_msix.table);
	free(pi->pi_msix.pba);
	pi->pi_msix.table = NULL;
	pi->pi_msix.pba = NULL;
	pthread_mutex_destroy(&pi->pi_irq.mtx);
}

/*
 * pci_snapshot.c - a PCI function's state in the instance store, so that a
 * kept guest (bhyvectl --suspend, Ctrl-A x) finds its devices as it left
 * them: the configuration space (BAR addresses, command, capabilities with
 * MSI and MSI-X control), the MSI-X table and pending bits, the INTx state,
 * and what the emulation adds (pe_snapshot_save/restore).
 *
 * Section "pci.B.S.F", little-endian:
 *   u32 version, u32 cfg_len (4096), cfg[cfg_len], u64 bar_addr[6],
 *   u32 msix_nvec, {u32 addr_lo, addr_hi, data, vctrl}[nvec],
 *   u64 pba[(nvec + 63) / 64], u8 intx_state, u32 dev_len, dev[dev_len]
 * Everything is checked against the device as configured now (the same
 * -s options): a section that does not fit is refused, never half applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci_emul.h"
#include "vmmapi.h"

#define PCI_SNAP_VERSION	1
#define PCI_SNAP_CFG		(PCIE_REGMAX + 1)

struct wbuf {
	uint8_t	*p;
	size_t	len, cap;
};

static void
put(struct wbuf *w, const void *v, size_t n)
{
	if (w->len + n <= w->cap)
		memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void
put32(struct wbuf *w, uint32_t v)
{
	put(w, &v, 4);
}

static void
put64(struct wbuf *w, uint64_t v)
{
	put(w, &v, 8);
}

struct rbuf {
	const uint8_t *p;
	size_t	len, off;
	bool	bad;
};

static const void *
get(struct rbuf *r, size_t n)
{
	const void *v;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	v = r->p + r->off;
	r->off += n;
	return v;
}

static uint32_t
get32(struct rbuf *r)
{
	const void *v = get(r, 4);
	uint32_t x = 0;

	if (v != NULL)
		memcpy(&x, v, 4);
	return x;
}

static uint64_t
get64(struct rbuf *r)
{
	const void *v = get(r, 8);
	uint64_t x = 0;

	if (v != NULL)
		memcpy(&x, v, 8);
	return x;
}

static ssize_t
pci_snap_save(void *arg, uint8_t *buf, size_t cap)
{
	struct pci_devinst *pi = arg;
	struct wbuf w = { buf, 0, cap };
	int i;

	put32(&w, PCI_SNAP_VERSION);
	put32(&w, PCI_SNAP_CFG);
	put(&w, pi->pi_cfgdata, PCI_SNAP_CFG);
	for (i = 0; i <= PCI_BARMAX; i++)
		put64(&w, __atomic_load_n(&pi->pi_bar[i].addr, __ATOMIC_ACQUIRE));
	pthread_mutex_lock(&pi->pi_irq.mtx);
	put32(&w, (uint32_t)pi->pi_msix.nvec);
	for (i = 0; i < pi->pi_msix.nvec; i++) {
		put32(&w, pi->pi_msix.table[i].addr_lo);
		put32(&w, pi->pi_msix.table[i].addr_hi);
		put32(&w, pi->pi_msix.table[i].data);
		put32(&w, pi->pi_msix.table[i].vctrl);
	}
	for (i = 0; i < (pi->pi_msix.nvec + 63) / 64; i++)
		put64(&w, pi->pi_msix.pba[i]);
	uint8_t st = pi->pi_lintr.state;
	put(&w, &st, 1);
	pthread_mutex_unlock(&pi->pi_irq.mtx);
	if (pi->pi_d->pe_snapshot_save != NULL) {
		size_t at = w.len;
		ssize_t n;

		put32(&w, 0);
		n = pi->pi_d->pe_snapshot_save(pi, w.len <= cap ? buf + w.len : NULL,
		    w.len <= cap ? cap - w.len : 0);
		if (n < 0)
			return n;
		if (at + 4 <= cap)
			memcpy(buf + at, &(uint32_t){ (uint32_t)n }, 4);
		w.len += (size_t)n;
	} else
		put32(&w, 0);
	return (ssize_t)w.len;
}

static int
pci_snap_restore(void *arg, const uint8_t *data, size_t len)
{
	struct pci_devinst *pi = arg;
	struct rbuf r = { data, len, 0, false };
	const uint8_t *cfg, *dev;
	uint64_t bars[PCI_BARMAX + 1];
	uint32_t nvec, devlen;
	int i, error;

	if (get32(&r) != PCI_SNAP_VERSION || get32(&r) != PCI_SNAP_CFG)
		return -EINVAL;
	cfg = get(&r, PCI_SNAP_CFG);
	for (i = 0; i <= PCI_BARMAX; i++)
		bars[i] = get64(&r);
	nvec = get32(&r);
	if (r.bad || nvec != (uint32_t)pi->pi_msix.nvec)
		return -EINVAL;
	/* The identity must be the device's: the same emulation in the slot. */
	if (memcmp(cfg, pi->pi_cfgdata, 4) != 0 ||
	    cfg[PCIR_HDRTYPE] != pi->pi_cfgdata[PCIR_HDRTYPE])
		return -EINVAL;
	const uint8_t *tab = get(&r, (size_t)nvec * 16);
	const uint8_t *pba = get(&r, ((size_t)nvec + 63) / 64 * 8);
	const uint8_t *st = get(&r, 1);
	devlen = get32(&r);
	dev = get(&r, devlen);
	if (r.bad || r.off != len)
		return -EINVAL;
	for (i = 0; i <= PCI_BARMAX; i++) {
		const struct pcibar *b = &pi->pi_bar[i];
		if (b->type == PCIBAR_NONE || b->type == PCIBAR_MEMHI64)
			continue;
		if ((bars[i] & (b->size - 1)) != 0 ||
		    (b->type == PCIBAR_IO && bars[i] > 0xffff) ||
		    (b->type == PCIBAR_MEM32 && bars[i] > 0xffffffffULL))
			return -EINVAL;
	}
	/* The emulation first: it may refuse its part. */
	if (pi->pi_d->pe_snapshot_restore != NULL) {
		if ((error = pi->pi_d->pe_snapshot_restore(pi, dev, devlen)) != 0)
			return error;
	} else if (devlen != 0)
		return -EINVAL;
	memcpy(pi->pi_cfgdata, cfg, PCI_SNAP_CFG);
	pthread_mutex_lock(&pi->pi_irq.mtx);
	for (i = 0; i < (int)nvec; i++) {
		memcpy(&pi->pi_msix.table[i].addr_lo, tab + 16 * i, 4);
		memcpy(&pi->pi_msix.table[i].addr_hi, tab + 16 * i + 4, 4);
		memcpy(&pi->pi_msix.table[i].data, tab + 16 * i + 8, 4);
		memcpy(&pi->pi_msix.table[i].vctrl, tab + 16 * i + 12, 4);
		pi->pi_msix.table[i].vctrl &= 1;
	}
	for (i = 0; i < ((int)nvec + 63) / 64; i++)
		memcpy(&pi->pi_msix.pba[i], pba + 8 * i, 8);
	pi->pi_lintr.state = *st != 0;
	pci_lintr_restored(pi);
	pthread_mutex_unlock(&pi->pi_irq.mtx);
	pci_restore_decode(pi, bars);
	return 0;
}

int
pci_snapshot_register(struct pci_devinst *pi)
{
	char name[32];

	if (pi->pi_vm->ctx == NULL)
		return 0;
	snprintf(name, sizeof(name), "pci.%u.%u.%u", pi->pi_bus, pi->pi_slot, pi->pi_func);
	if (vm_snapshot_register(pi->pi_vm->ctx, name, pci_snap_save, pci_snap_restore, pi) != 0) {
		fprintf(stderr, "bhyve: %s: saved state: %s\n", pi->pi_name, vm_last_error());
		return -1;
	}
	return 0;
}

/* For tests: the same bytes the store gets. */
ssize_t
pci_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap)
{
	return pci_snap_save(pi, buf, cap);
}

int
pci_snapshot_restore(struct pci_devinst *pi, const uint8_t *data, size_t len)
{
	return pci_snap_restore(pi, data, len);
}

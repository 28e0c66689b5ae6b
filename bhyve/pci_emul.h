/*
 * pci_emul.h - bhyve's PCI bus: config space, BARs, capabilities and the
 * table of device emulations (usr.sbin/bhyve/pci_emul.h).
 */
#ifndef LHYVE_PCI_EMUL_H
#define LHYVE_PCI_EMUL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bhyve.h"

struct config;
struct pci_devinst;

#define	MAXBUSES	256
#define	MAXSLOTS	32
#define	MAXFUNCS	8
#define	PCI_REGMAX	0xff		/* conventional config space */
#define	PCIE_REGMAX	0xfff		/* PCI Express extended config space */
#define	PCI_BARMAX	5
#define	PI_NAMESZ	48

/* Type 0 header offsets (PCI Local Bus spec 3.0, 6.1). */
#define	PCIR_VENDOR	0x00
#define	PCIR_DEVICE	0x02
#define	PCIR_COMMAND	0x04
#define	PCIR_STATUS	0x06
#define	PCIR_REVID	0x08
#define	PCIR_PROGIF	0x09
#define	PCIR_SUBCLASS	0x0a
#define	PCIR_CLASS	0x0b
#define	PCIR_CACHELNSZ	0x0c
#define	PCIR_LATTIMER	0x0d
#define	PCIR_HDRTYPE	0x0e
#define	PCIR_BIST	0x0f
#define	PCIR_BAR(x)	(0x10 + (x) * 4)
#define	PCIR_SUBVEND_0	0x2c
#define	PCIR_SUBDEV_0	0x2e
#define	PCIR_BIOS	0x30
#define	PCIR_CAP_PTR	0x34
#define	PCIR_INTLINE	0x3c
#define	PCIR_INTPIN	0x3d

#define	PCIM_CMD_PORTEN		0x0001
#define	PCIM_CMD_MEMEN		0x0002
#define	PCIM_CMD_BUSMASTEREN	0x0004
#define	PCIM_CMD_INTxDIS	0x0400
#define	PCIM_STATUS_CAPPRESENT	0x0010
#define	PCIM_HDRTYPE_NORMAL	0x00
#define	PCIM_MFDEV		0x80

#define	PCIM_BAR_IO_SPACE	0x01
#define	PCIM_BAR_MEM_64		0x04
#define	PCIM_BAR_MEM_PREFETCH	0x08

#define	PCIC_BRIDGE		0x06
#define	PCIS_BRIDGE_HOST	0x00
#define	PCIS_BRIDGE_ISA		0x01

#define	PCIY_MSI		0x05
#define	PCIY_EXPRESS		0x10
#define	PCIM_MSICTRL_MSI_ENABLE	0x0001
#define	PCIM_MSICTRL_MMC_MASK	0x000e
#define	PCIM_MSICTRL_MME_MASK	0x0070
#define	PCIM_MSICTRL_64BIT	0x0080

/* PCI Express capability: device/port type, PCIe Base 3.0, 7.8.2. */
#define	PCIEM_TYPE_ENDPOINT	0x0000
#define	PCIEM_TYPE_ROOT_PORT	0x0040
#define	PCIEM_TYPE_ROOT_INT_EP	0x0090
#define	PCIECAP_VERSION		0x0002

enum pcibar_type {
	PCIBAR_NONE,
	PCIBAR_IO,
	PCIBAR_MEM32,
	PCIBAR_MEM64,
	PCIBAR_MEMHI64		/* upper half of the MEM64 BAR below it */
};

struct pcibar {
	enum pcibar_type type;
	uint64_t	size;
	uint64_t	addr;		/* guest-programmed base; atomic access */
	uint8_t		lobits;		/* read-only low bits of the register */
	bool		decoding;	/* registered in the port/mem tables */
};

struct pci_devinst {
	const struct pci_devemu *pi_d;
	struct bhyve_vm	*pi_vm;
	uint8_t		pi_bus;
	uint8_t		pi_slot;
	uint8_t		pi_func;
	char		pi_name[PI_NAMESZ];
	int		pi_prevcap;	/* offset of the last capability */
	int		pi_capend;	/* last byte used by capabilities */
	struct {
		int		capoff;	/* 0 without an MSI capability */
		bool		enabled;
		uint64_t	addr;
		uint16_t	msg_data;
		int		maxmsgnum;
		int		msgnum;
	} pi_msi;
	struct {
		int		capoff;	/* 0 without an MSI-X capability */
		int		bar;	/* BAR holding the table and the PBA */
		uint32_t	table_off, pba_off;
		int		nvec;
		bool		enabled, fmask;
		struct pci_msix_entry {
			uint32_t addr_lo, addr_hi, data, vctrl;
		}		*table;
		uint64_t	*pba;	/* pending bits */
	} pi_msix;
	struct {
		int		pin;	/* INTx pin 1-4 (INTA#-INTD#), 0: none */
		int		ioapic_pin;
		bool		state;	/* the device asserts it */
		bool		asserted; /* what the IOAPIC was told */
	} pi_lintr;
	struct {
		pthread_mutex_t	mtx;	/* pi_msi, pi_msix, pi_lintr */
	} pi_irq;
	void		*pi_arg;	/* device emulation's softc */
	struct pcibar	pi_bar[PCI_BARMAX + 1];
	uint8_t		pi_cfgdata[PCIE_REGMAX + 1];
	uint8_t		pi_cfgwmask[PCI_REGMAX + 1];	/* guest-writable bits */
};

/*
 * A device emulation.  Config callbacks return 0 when they handled the
 * access and nonzero to fall back to the default behaviour.  pe_init
 * receives the config node ("pci.B.S.F") holding the device's options and
 * prints a one-line error before failing.
 */
struct pci_devemu {
	const char	*pe_emu;
	const char	*pe_alias;	/* "device" value written by -s parsing */
	int		(*pe_legacy_config)(struct config *cfg, const char *node,
			    const char *opts);
	int		(*pe_init)(struct pci_devinst *pi, const char *node);
	void		(*pe_deinit)(struct pci_devinst *pi);	/* lhyve: teardown */
	int		(*pe_cfgwrite)(struct pci_devinst *pi, int offset,
			    int bytes, uint32_t val);
	int		(*pe_cfgread)(struct pci_devinst *pi, int offset,
			    int bytes, uint32_t *retval);
	void		(*pe_barwrite)(struct pci_devinst *pi, int baridx,
			    uint64_t offset, int size, uint64_t value);
	uint64_t	(*pe_barread)(struct pci_devinst *pi, int baridx,
			    uint64_t offset, int size);
	/*
	 * Optional (bhyve's pe_baraddr): BAR @baridx started (@decoding) or
	 * stopped decoding at @addr: the guest moved it or changed the
	 * command register's enables.
	 */
	void		(*pe_baraddr)(struct pci_devinst *pi, int baridx,
			    bool decoding, uint64_t addr);
	/*
	 * lhyve: the emulation's own state for the instance store, beside
	 * the generic PCI state (pci_snapshot.c).  save returns the length
	 * (more than @cap: call again with that much room; @buf may be NULL
	 * then); restore validates everything and changes nothing on error.
	 */
	ssize_t		(*pe_snapshot_save)(struct pci_devinst *pi, uint8_t *buf, size_t cap);
	int		(*pe_snapshot_restore)(struct pci_devinst *pi, const uint8_t *data,
			    size_t len);
};

/*
 * Registration: a device file ends with PCI_EMUL_SET(pci_de_foo), placing a
 * pointer in the "pci_devemu_set" section.  An object nobody references is
 * dropped from a static library, so libbhyve.a must be linked whole
 * (-Wl,--whole-archive); test_pci checks that the table is complete.
 */
#define	PCI_EMUL_SET(x)							\
	static const struct pci_devemu *const pci_devemu_set_##x	\
	    __attribute__((used, section("pci_devemu_set"),		\
	    aligned(sizeof(void *)))) = &(x)

const struct pci_devemu *pci_emul_finddev(const char *name);
/* The registered emulations, in link order; *countp gets their number. */
const struct pci_devemu *const *pci_emul_table(size_t *countp);

int	pci_parse_legacy_config(struct config *cfg, const char *node,
	    const char *opts);

/* Called by bhyve_devices_init()/bhyve_devices_fini(). */
int	pci_emul_init(struct bhyve_vm *bvm);
void	pci_emul_fini(struct bhyve_vm *bvm);

struct pci_devinst *pci_emul_find_devinst(struct bhyve_vm *bvm, int bus,
	    int slot, int func);

/* Config space access, as the guest would (for tests and other buses). */
uint32_t pci_emul_cfgread(struct bhyve_vm *bvm, int bus, int slot, int func,
	    int coff, int bytes);
void	pci_emul_cfgwrite(struct bhyve_vm *bvm, int bus, int slot, int func,
	    int coff, int bytes, uint32_t val);

/* Device-side helpers, used from pe_init. */
int	pci_emul_alloc_bar(struct pci_devinst *pi, int idx,
	    enum pcibar_type type, uint64_t size);
int	pci_emul_add_capability(struct pci_devinst *pi, const uint8_t *capdata,
	    int caplen);
int	pci_emul_add_msicap(struct pci_devinst *pi, int msgnum);
int	pci_emul_add_pciecap(struct pci_devinst *pi, int pcie_device_type);
void	pci_emul_set_wmask(struct pci_devinst *pi, int offset, int bytes,
	    uint32_t mask);

/*
 * Interrupts (pci_irq.c): MSI, MSI-X and INTx.  A device picks what the
 * guest enabled: MSI-X, else MSI, else INTx.
 */
int	pci_emul_add_msixcap(struct pci_devinst *pi, int nvec, int barnum);
bool	pci_msi_enabled(struct pci_devinst *pi);
int	pci_msi_maxmsgnum(struct pci_devinst *pi);
void	pci_generate_msi(struct pci_devinst *pi, int index);
bool	pci_msix_enabled(struct pci_devinst *pi);
void	pci_generate_msix(struct pci_devinst *pi, int index);
int	pci_lintr_request(struct pci_devinst *pi);
void	pci_lintr_assert(struct pci_devinst *pi);
void	pci_lintr_deassert(struct pci_devinst *pi);
/* For pci_emul.c: the BAR, config and command paths. */
bool	pci_msix_table_bar(struct pci_devinst *pi, int baridx);
uint64_t pci_msix_read(struct pci_devinst *pi, uint64_t offset, int size);
void	pci_msix_write(struct pci_devinst *pi, uint64_t offset, int size, uint64_t val);
void	pci_msix_refresh(struct pci_devinst *pi);
void	pci_lintr_refresh(struct pci_devinst *pi);
void	pci_lintr_restored(struct pci_devinst *pi);
void	pci_irq_init(struct pci_devinst *pi);
void	pci_irq_fini(struct pci_devinst *pi);

/* The instance store (pci_snapshot.c): section "pci.B.S.F" per function. */
int	pci_snapshot_register(struct pci_devinst *pi);
ssize_t	pci_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap);
int	pci_snapshot_restore(struct pci_devinst *pi, const uint8_t *data, size_t len);
/* After a restore: BARs at @addrs, decoding as the command register says. */
void	pci_restore_decode(struct pci_devinst *pi, const uint64_t *addrs);

/* Config space helpers; offsets come from the device, never the guest. */
static inline void
pci_set_cfgdata8(struct pci_devinst *pi, int offset, uint8_t val)
{

	VERIFY(offset >= 0 && offset <= PCIE_REGMAX);
	pi->pi_cfgdata[offset] = val;
}

static inline void
pci_set_cfgdata16(struct pci_devinst *pi, int offset, uint16_t val)
{

	VERIFY(offset >= 0 && offset + 1 <= PCIE_REGMAX);
	pi->pi_cfgdata[offset] = (uint8_t)val;
	pi->pi_cfgdata[offset + 1] = (uint8_t)(val >> 8);
}

static inline void
pci_set_cfgdata32(struct pci_devinst *pi, int offset, uint32_t val)
{

	VERIFY(offset >= 0 && offset + 3 <= PCIE_REGMAX);
	pci_set_cfgdata16(pi, offset, (uint16_t)val);
	pci_set_cfgdata16(pi, offset + 2, (uint16_t)(val >> 16));
}

static inline uint8_t
pci_get_cfgdata8(const struct pci_devinst *pi, int offset)
{

	VERIFY(offset >= 0 && offset <= PCIE_REGMAX);
	return (pi->pi_cfgdata[offset]);
}

static inline uint16_t
pci_get_cfgdata16(const struct pci_devinst *pi, int offset)
{

	VERIFY(offset >= 0 && offset + 1 <= PCIE_REGMAX);
	return ((uint16_t)(pi->pi_cfgdata[offset] |
	    pi->pi_cfgdata[offset + 1] << 8));
}

static inline uint32_t
pci_get_cfgdata32(const struct pci_devinst *pi, int offset)
{

	VERIFY(offset >= 0 && offset + 3 <= PCIE_REGMAX);
	return (pci_get_cfgdata16(pi, offset) |
	    (uint32_t)pci_get_cfgdata16(pi, offset + 2) << 16);
}

#endif /* LHYVE_PCI_EMUL_H */

/*
 * qemu_fwcfg.h - QEMU's firmware configuration device (-l fwcfg,qemu and
 * -f name,string=...|file=..., bhyve.8), as QEMU docs/specs/fw_cfg.rst
 * describes it: the register model, and its attachment to the LPC bridge's
 * I/O ports.
 */
#ifndef LHYVE_QEMU_FWCFG_H
#define LHYVE_QEMU_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bhyve_vm;
struct config;
struct fwcfg;

/* Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
#define	FW_CFG_SIGNATURE	0x00
#define	FW_CFG_ID		0x01
#define	FW_CFG_RAM_SIZE		0x03
#define	FW_CFG_NB_CPUS		0x05
#define	FW_CFG_MAX_CPUS		0x0f
#define	FW_CFG_FILE_DIR		0x19
#define	FW_CFG_FILE_FIRST	0x20
#define	FW_CFG_FILE_SLOTS	64		/* files this device holds */
#define	FW_CFG_ARCH_LOCAL	0x8000
#define	FW_CFG_WRITE_CHANNEL	0x4000
#define	FW_CFG_ENTRY_MASK	0x3fff
#define	FW_CFG_MAX_ENTRY	(FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS)

#define	FW_CFG_ID_TRADITIONAL	0x01
#define	FW_CFG_ID_DMA		0x02
#define	FW_CFG_MAX_FILE_PATH	56
#define	FW_CFG_MAX_FILE_SIZE	(64u << 20)	/* -f files, each */

/* FWCfgDmaAccess control bits ("Guest-side DMA Interface"). */
#define	FW_CFG_DMA_CTL_ERROR	0x01
#define	FW_CFG_DMA_CTL_READ	0x02
#define	FW_CFG_DMA_CTL_SKIP	0x04
#define	FW_CFG_DMA_CTL_SELECT	0x08
#define	FW_CFG_DMA_CTL_WRITE	0x10
#define	FW_CFG_DMA_SIGNATURE	"QEMU CFG"	/* the DMA register reads it */

/*
 * Guest memory for DMA: a host pointer to [gpa, gpa + len) if all of it
 * is guest RAM, else NULL; and the notice that a device wrote there.
 */
struct fwcfg_mem {
	void	*(*fm_map)(void *arg, uint64_t gpa, size_t len);
	void	(*fm_written)(void *arg, uint64_t gpa, size_t len);
	void	*fm_arg;
};

/* --- the register model (no locking: the attachment serializes) --- */

struct fwcfg *fwcfg_create(const struct fwcfg_mem *mem);
void	fwcfg_destroy(struct fwcfg *fc);
/* A fixed item; the data is copied.  0, -EINVAL or -ENOMEM. */
int	fwcfg_add_item(struct fwcfg *fc, uint16_t key, const void *data,
	    uint32_t len);
/*
 * A file item, listed in the directory; the data is copied.  0, -EINVAL
 * (bad name), -EEXIST (name taken), -ENOSPC (no slot) or -ENOMEM.
 */
int	fwcfg_add_file(struct fwcfg *fc, const char *name, const void *data,
	    uint32_t len);
/* Builds the file directory (sorted by name); after the last add. */
int	fwcfg_finish(struct fwcfg *fc);

void	fwcfg_select(struct fwcfg *fc, uint16_t key);
uint8_t	fwcfg_data_read(struct fwcfg *fc);
/* The DMA address register, bytes at offsets 0-7 (big-endian). */
uint8_t	fwcfg_dma_read(struct fwcfg *fc, int off);
void	fwcfg_dma_write(struct fwcfg *fc, int off, int bytes, uint32_t val);

/* --- the device --- */

/* -l fwcfg,qemu ("bhyve", FreeBSD's own interface, is refused). */
int	qemu_fwcfg_parse(struct config *cfg, const char *opts);
/* -f name,string=STRING | name,file=PATH */
int	qemu_fwcfg_parse_file(struct config *cfg, const char *opt);
bool	qemu_fwcfg_enabled(struct config *cfg);
/* -f without -l fwcfg,qemu: one line, -1. */
int	qemu_fwcfg_check_config(struct config *cfg);
/* Creates the device if enabled (*fcp stays NULL if not). */
int	qemu_fwcfg_init(struct bhyve_vm *bvm, struct fwcfg **fcp);
void	qemu_fwcfg_fini(struct bhyve_vm *bvm, struct fwcfg *fc);

#endif /* LHYVE_QEMU_FWCFG_H */

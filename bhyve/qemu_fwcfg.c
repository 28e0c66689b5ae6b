/*
 * qemu_fwcfg.c - QEMU's fw_cfg (-l fwcfg,qemu), as QEMU docs/specs/fw_cfg.rst
 * describes it for x86:
 *
 *	0x510	selector, 16-bit writes (little-endian)
 *	0x511	data, byte reads; writes are ignored (QEMU >= 2.4)
 *	0x514	DMA address, 64-bit big-endian as two dword writes, high
 *		half first; the low half starts the transfer; reads give
 *		"QEMU CFG"
 *
 * Items: the signature "QEMU", the feature bitmap (traditional and DMA),
 * the RAM size, the CPU counts, the file directory, and files: "etc/e820"
 * (the machine's memory map) and those given with -f.  Every item is
 * read-only to the guest.
 *
 * The register model (fwcfg_*) keeps no lock; the port handlers hold
 * fc_mtx around it, so vCPUs, the store's snapshot hook and teardown see
 * one state.  DMA addresses and lengths are checked against guest RAM
 * before every copy; a transfer that leaves RAM stops with the error bit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "qemu_fwcfg.h"
#include "vmmapi.h"

struct fwcfg_entry {
	uint8_t		*fe_data;
	uint32_t	fe_len;
};

struct fwcfg_file {
	char		ff_name[FW_CFG_MAX_FILE_PATH];
	uint8_t		*ff_data;
	uint32_t	ff_len;
};

struct fwcfg {
	pthread_mutex_t		fc_mtx;		/* the attachment's, not the model's */
	struct fwcfg_mem	fc_mem;
	struct fwcfg_entry	fc_ent[2][FW_CFG_MAX_ENTRY];	/* [arch local] */
	struct fwcfg_file	fc_files[FW_CFG_FILE_SLOTS];
	int			fc_nfiles;
	bool			fc_valid;	/* fc_key names an entry */
	uint16_t		fc_key;
	uint32_t		fc_off;
	uint8_t			fc_dma[8];	/* the address register */
};

static void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static uint64_t
be64_get(const uint8_t *p)
{
	return ((uint64_t)be32_get(p) << 32 | be32_get(p + 4));
}

struct fwcfg *
fwcfg_create(const struct fwcfg_mem *mem)
{
	struct fwcfg *fc = calloc(1, sizeof(*fc));

	if (fc == NULL)
		return (NULL);
	pthread_mutex_init(&fc->fc_mtx, NULL);
	if (mem != NULL)
		fc->fc_mem = *mem;
	return (fc);
}

void
fwcfg_destroy(struct fwcfg *fc)
{
	int a, i;

	if (fc == NULL)
		return;
	for (a = 0; a < 2; a++)
		for (i = 0; i < FW_CFG_MAX_ENTRY; i++)
			free(fc->fc_ent[a][i].fe_data);
	for (i = 0; i < fc->fc_nfiles; i++)
		free(fc->fc_files[i].ff_data);
	pthread_mutex_destroy(&fc->fc_mtx);
	free(fc);
}

static int
fwcfg_set(struct fwcfg_entry *e, const void *data, uint32_t len)
{
	uint8_t *p = NULL;

	if (len != 0) {
		p = malloc(len);
		if (p == NULL)
			return (-ENOMEM);
		memcpy(p, data, len);
	}
	free(e->fe_data);
	e->fe_data = p;
	e->fe_len = len;
	return (0);
}

int
fwcfg_add_item(struct fwcfg *fc, uint16_t key, const void *data, uint32_t len)
{
	if ((key & FW_CFG_ENTRY_MASK) >= FW_CFG_FILE_FIRST ||
	    (key & FW_CFG_WRITE_CHANNEL) != 0)
		return (-EINVAL);
	return (fwcfg_set(&fc->fc_ent[(key & FW_CFG_ARCH_LOCAL) != 0]
	    [key & FW_CFG_ENTRY_MASK], data, len));
}

int
fwcfg_add_file(struct fwcfg *fc, const char *name, const void *data,
    uint32_t len)
{
	struct fwcfg_file *f;
	size_t n = strlen(name);
	int i;

	if (n == 0 || n >= FW_CFG_MAX_FILE_PATH)
		return (-EINVAL);
	for (i = 0; i < fc->fc_nfiles; i++)
		if (strcmp(fc->fc_files[i].ff_name, name) == 0)
			return (-EEXIST);
	if (fc->fc_nfiles == FW_CFG_FILE_SLOTS)
		return (-ENOSPC);
	f = &fc->fc_files[fc->fc_nfiles];
	memset(f, 0, sizeof(*f));
	memcpy(f->ff_name, name, n);
	if (len != 0) {
		f->ff_data = malloc(len);
		if (f->ff_data == NULL)
			return (-ENOMEM);
		memcpy(f->ff_data, data, len);
	}
	f->ff_len = len;
	fc->fc_nfiles++;
	return (0);
}

static int
fwcfg_file_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct fwcfg_file *)a)->ff_name,
	    ((const struct fwcfg_file *)b)->ff_name));
}

/*
 * The directory (FW_CFG_FILE_DIR): a big-endian count, then per file its
 * big-endian size and key, two reserved bytes and its 56-byte name.
 */
int
fwcfg_finish(struct fwcfg *fc)
{
	uint8_t *dir;
	uint32_t len;
	int i, error;

	qsort(fc->fc_files, (size_t)fc->fc_nfiles, sizeof(fc->fc_files[0]),
	    fwcfg_file_cmp);
	len = 4 + 64 * (uint32_t)fc->fc_nfiles;
	dir = calloc(1, len);
	if (dir == NULL)
		return (-ENOMEM);
	be32_put(dir, (uint32_t)fc->fc_nfiles);
	/* File i, in name order, is key FW_CFG_FILE_FIRST + i. */
	for (i = 0; i < fc->fc_nfiles; i++) {
		struct fwcfg_file *f = &fc->fc_files[i];
		uint8_t *d = dir + 4 + 64 * i;

		be32_put(d, f->ff_len);
		d[4] = (uint8_t)((FW_CFG_FILE_FIRST + i) >> 8);
		d[5] = (uint8_t)(FW_CFG_FILE_FIRST + i);
		memcpy(d + 8, f->ff_name, FW_CFG_MAX_FILE_PATH);
	}
	error = fwcfg_set(&fc->fc_ent[0][FW_CFG_FILE_DIR], dir, len);
	free(dir);
	return (error);
}

static const uint8_t *
fwcfg_entry_data(struct fwcfg *fc, uint32_t *lenp)
{
	unsigned idx = fc->fc_key & FW_CFG_ENTRY_MASK;
	int arch = (fc->fc_key & FW_CFG_ARCH_LOCAL) != 0;

	*lenp = 0;
	if (!fc->fc_valid)
		return (NULL);
	if (!arch && idx >= FW_CFG_FILE_FIRST) {
		if (idx - FW_CFG_FILE_FIRST >= (unsigned)fc->fc_nfiles)
			return (NULL);
		*lenp = fc->fc_files[idx - FW_CFG_FILE_FIRST].ff_len;
		return (fc->fc_files[idx - FW_CFG_FILE_FIRST].ff_data);
	}
	*lenp = fc->fc_ent[arch][idx].fe_len;
	return (fc->fc_ent[arch][idx].fe_data);
}

/* Selector: any key; one past the table selects nothing (reads give 0). */
void
fwcfg_select(struct fwcfg *fc, uint16_t key)
{
	fc->fc_off = 0;
	fc->fc_key = key;
	fc->fc_valid = (key & FW_CFG_ENTRY_MASK) < FW_CFG_MAX_ENTRY;
}

/* Data register: the next byte of the item, 0 past its end. */
uint8_t
fwcfg_data_read(struct fwcfg *fc)
{
	const uint8_t *data;
	uint32_t len;

	data = fwcfg_entry_data(fc, &len);
	if (data == NULL || fc->fc_off >= len)
		return (0);
	return (data[fc->fc_off++]);
}

uint8_t
fwcfg_dma_read(struct fwcfg *fc, int off)
{
	return (off >= 0 && off < 8 ? (uint8_t)FW_CFG_DMA_SIGNATURE[off] : 0xff);
}

/* Guest RAM for [gpa, gpa + len), or NULL (outside RAM, or wrapping). */
static uint8_t *
fwcfg_map(struct fwcfg *fc, uint64_t gpa, uint64_t len)
{
	if (fc->fc_mem.fm_map == NULL || len == 0 || gpa + len < gpa)
		return (NULL);
	return (fc->fc_mem.fm_map(fc->fc_mem.fm_arg, gpa, (size_t)len));
}

static void
fwcfg_written(struct fwcfg *fc, uint64_t gpa, uint64_t len)
{
	if (fc->fc_mem.fm_written != NULL)
		fc->fc_mem.fm_written(fc->fc_mem.fm_arg, gpa, (size_t)len);
}

/*
 * One FWCfgDmaAccess at gpa ("Guest-side DMA Interface"): select, then
 * read (copy out, zeros past the item's end), skip, or write (every item
 * is read-only: error); the control word is replaced by 0 or the error bit.
 */
static void
fwcfg_dma_transfer(struct fwcfg *fc, uint64_t gpa)
{
	uint8_t *acc, *dst;
	const uint8_t *data;
	uint32_t control, length, ilen, result = 0, n;
	uint64_t addr;
	int op;

	acc = fwcfg_map(fc, gpa, 16);
	if (acc == NULL)
		return;		/* nowhere to report the error */
	control = be32_get(acc);
	length = be32_get(acc + 4);
	addr = be64_get(acc + 8);
	if (control & FW_CFG_DMA_CTL_SELECT)
		fwcfg_select(fc, (uint16_t)(control >> 16));
	if (control & FW_CFG_DMA_CTL_READ)
		op = FW_CFG_DMA_CTL_READ;
	else if (control & FW_CFG_DMA_CTL_WRITE)
		op = FW_CFG_DMA_CTL_WRITE;
	else if (control & FW_CFG_DMA_CTL_SKIP)
		op = FW_CFG_DMA_CTL_SKIP;
	else
		op = 0, length = 0;

	while (length > 0 && (result & FW_CFG_DMA_CTL_ERROR) == 0) {
		data = fwcfg_entry_data(fc, &ilen);
		if (!fc->fc_valid || fc->fc_off >= ilen) {
			/* Past the end: reads fill with zeros, writes fail. */
			n = length;
			if (op == FW_CFG_DMA_CTL_READ) {
				if ((dst = fwcfg_map(fc, addr, n)) == NULL)
					result |= FW_CFG_DMA_CTL_ERROR;
				else {
					memset(dst, 0, n);
					fwcfg_written(fc, addr, n);
				}
			} else if (op == FW_CFG_DMA_CTL_WRITE)
				result |= FW_CFG_DMA_CTL_ERROR;
		} else {
			n = ilen - fc->fc_off < length ? ilen - fc->fc_off : length;
			if (op == FW_CFG_DMA_CTL_READ) {
				if ((dst = fwcfg_map(fc, addr, n)) == NULL)
					result |= FW_CFG_DMA_CTL_ERROR;
				else {
					memcpy(dst, data + fc->fc_off, n);
					fwcfg_written(fc, addr, n);
				}
			} else if (op == FW_CFG_DMA_CTL_WRITE)
				result |= FW_CFG_DMA_CTL_ERROR;
			fc->fc_off += n;
		}
		addr += n;
		length -= n;
	}
	be32_put(acc, result);
	fwcfg_written(fc, gpa, 4);
}

/*
 * The DMA address register takes dword writes at offset 0 (high half) and
 * 4 (low half, which starts the transfer), as QEMU's; other writes are
 * dropped.  It reads 0 again after each transfer.
 */
void
fwcfg_dma_write(struct fwcfg *fc, int off, int bytes, uint32_t val)
{
	uint64_t gpa;
	int i;

	if (bytes != 4 || (off != 0 && off != 4))
		return;
	for (i = 0; i < 4; i++)
		fc->fc_dma[off + i] = (uint8_t)(val >> (8 * i));
	if (off == 0)
		memset(fc->fc_dma + 4, 0, 4);
	else {
		gpa = be64_get(fc->fc_dma);
		memset(fc->fc_dma, 0, sizeof(fc->fc_dma));
		fwcfg_dma_transfer(fc, gpa);
	}
}

/* --- the device on the LPC bridge's ports --- */

static int
fwcfg_io(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t *eax,
    void *arg)
{
	struct fwcfg *fc = arg;

	pthread_mutex_lock(&fc->fc_mtx);
	if (port == MACHINE_IO_FWCFG && bytes == 2 && !in)
		fwcfg_select(fc, (uint16_t)*eax);
	else if (port == MACHINE_IO_FWCFG + 1 && bytes == 1 && in)
		*eax = fwcfg_data_read(fc);
	else if (in)
		*eax = 0xffffffff;	/* not an access QEMU accepts */
	pthread_mutex_unlock(&fc->fc_mtx);
	return (0);
}

static int
fwcfg_dma_io(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t *eax,
    void *arg)
{
	struct fwcfg *fc = arg;
	int off = port - MACHINE_IO_FWCFG_DMA, i;
	uint32_t val = 0;

	pthread_mutex_lock(&fc->fc_mtx);
	if (in) {
		for (i = 0; i < bytes; i++)
			val |= (uint32_t)fwcfg_dma_read(fc, off + i) << (8 * i);
		*eax = val;
	} else
		fwcfg_dma_write(fc, off, bytes, *eax);
	pthread_mutex_unlock(&fc->fc_mtx);
	return (0);
}

static void *
fwcfg_vm_map(void *arg, uint64_t gpa, size_t len)
{
	return (vm_map_gpa(arg, gpa, len));
}

static void
fwcfg_vm_written(void *arg, uint64_t gpa, size_t len)
{
	vm_mem_written(arg, gpa, len);
}

/* Store v2 device section "lpc.fwcfg": the selection and the DMA register. */
#define	FWCFG_SNAP_LEN	20

static ssize_t
fwcfg_snap_save(void *arg, uint8_t *buf, size_t cap)
{
	struct fwcfg *fc = arg;

	if (cap < FWCFG_SNAP_LEN)
		return (FWCFG_SNAP_LEN);	/* the size it needs (vmm.c) */
	pthread_mutex_lock(&fc->fc_mtx);
	be32_put(buf, 1);				/* version */
	be32_put(buf + 4, fc->fc_key | (fc->fc_valid ? 1u << 16 : 0));
	be32_put(buf + 8, fc->fc_off);
	memcpy(buf + 12, fc->fc_dma, 8);
	pthread_mutex_unlock(&fc->fc_mtx);
	return (FWCFG_SNAP_LEN);
}

static int
fwcfg_snap_restore(void *arg, const uint8_t *data, size_t len)
{
	struct fwcfg *fc = arg;
	uint32_t sel;

	if (len != FWCFG_SNAP_LEN || be32_get(data) != 1)
		return (-EINVAL);
	sel = be32_get(data + 4);
	pthread_mutex_lock(&fc->fc_mtx);
	/* Reselected, so a bad key in the file selects nothing. */
	fwcfg_select(fc, (uint16_t)sel);
	fc->fc_valid = fc->fc_valid && (sel & (1u << 16)) != 0;
	fc->fc_off = be32_get(data + 8);
	memcpy(fc->fc_dma, data + 12, 8);
	pthread_mutex_unlock(&fc->fc_mtx);
	return (0);
}

int
qemu_fwcfg_parse(struct config *cfg, const char *opts)
{
	if (opts != NULL && strcmp(opts, "qemu") == 0)
		return (set_config_value(cfg, "lpc.fwcfg", "qemu") == 0 ? 0 : -1);
	if (opts != NULL && strcmp(opts, "bhyve") == 0)
		fprintf(stderr, "bhyve: -l fwcfg,bhyve (FreeBSD's own interface) is "
		    "not supported; use -l fwcfg,qemu\n");
	else
		fprintf(stderr, "bhyve: -l fwcfg needs 'qemu' (-l fwcfg,qemu), "
		    "not '%s'\n", opts != NULL ? opts : "");
	return (-1);
}

bool
qemu_fwcfg_enabled(struct config *cfg)
{
	const char *v = get_config_value(cfg, "lpc.fwcfg");

	return (v != NULL && strcmp(v, "qemu") == 0);
}

/* "%" is the config tree's reference character: store it as "%%". */
static char *
fwcfg_config_escape(const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char *out = malloc(2 * n + 1);

	if (out == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		out[j++] = s[i];
		if (s[i] == '%')
			out[j++] = '%';
	}
	out[j] = '\0';
	return (out);
}

int
qemu_fwcfg_parse_file(struct config *cfg, const char *opt)
{
	char node[32], *copy, *name, *val = NULL, *esc;
	const char *kind;
	int n, fd, error = -1;

	copy = strdup(opt);
	if (copy == NULL)
		return (-1);
	name = copy;
	val = strchr(copy, ',');
	if (val != NULL)
		*val++ = '\0';
	if (*name == '\0' || strchr(name, '=') != NULL) {
		fprintf(stderr, "bhyve: -f %s: no name (expected "
		    "name,string=STRING or name,file=PATH)\n", opt);
		goto done;
	}
	if (val == NULL) {
		fprintf(stderr, "bhyve: -f %s: no contents (expected "
		    "name,string=STRING or name,file=PATH)\n", opt);
		goto done;
	}
	if (strlen(name) >= FW_CFG_MAX_FILE_PATH) {
		fprintf(stderr, "bhyve: -f %s: the name is longer than %d "
		    "characters\n", name, FW_CFG_MAX_FILE_PATH - 1);
		goto done;
	}
	if (strncmp(val, "string=", 7) == 0) {
		kind = "string";
		val += 7;
	} else if (strncmp(val, "file=", 5) == 0) {
		kind = "file";
		val += 5;
		fd = open(val, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "bhyve: -f %s: cannot open '%s': %s\n",
			    name, val, strerror(errno));
			goto done;
		}
		close(fd);
	} else {
		fprintf(stderr, "bhyve: -f %s: expected string=STRING or "
		    "file=PATH after the name, not '%s'\n", name, val);
		goto done;
	}
	for (n = 0; ; n++) {
		snprintf(node, sizeof(node), "fw_cfg.%d", n);
		if (!config_node_exists(cfg, node))
			break;
	}
	esc = fwcfg_config_escape(val);
	if (esc != NULL && set_config_value_node(cfg, node, "name", name) == 0 &&
	    set_config_value_node(cfg, node, kind, esc) == 0)
		error = 0;
	free(esc);
done:
	free(copy);
	return (error);
}

int
qemu_fwcfg_check_config(struct config *cfg)
{
	if (config_node_exists(cfg, "fw_cfg") && !qemu_fwcfg_enabled(cfg)) {
		fprintf(stderr, "bhyve: -f needs QEMU's fw_cfg: -l fwcfg,qemu "
		    "(and an LPC bridge)\n");
		return (-1);
	}
	return (0);
}

/* A -f file=PATH item: the whole file, at most FW_CFG_MAX_FILE_SIZE. */
static int
fwcfg_read_file(const char *name, const char *path, uint8_t **datap,
    uint32_t *lenp)
{
	struct stat st;
	uint8_t *p;
	ssize_t r;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "bhyve: -f %s: cannot read '%s': %s\n", name,
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FW_CFG_MAX_FILE_SIZE) {
		fprintf(stderr, "bhyve: -f %s: '%s' is %s\n", name, path,
		    S_ISREG(st.st_mode) ? "larger than 64 MiB" :
		    "not a regular file");
		close(fd);
		return (-1);
	}
	p = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (p == NULL) {
		close(fd);
		return (-1);
	}
	while (off < (size_t)st.st_size) {
		r = read(fd, p + off, (size_t)st.st_size - off);
		if (r <= 0) {
			fprintf(stderr, "bhyve: -f %s: cannot read '%s': %s\n",
			    name, path, r < 0 ? strerror(errno) : "file shrank");
			free(p);
			close(fd);
			return (-1);
		}
		off += (size_t)r;
	}
	close(fd);
	*datap = p;
	*lenp = (uint32_t)off;
	return (0);
}

static int
fwcfg_add_user_files(struct bhyve_vm *bvm, struct fwcfg *fc)
{
	char node[32];
	const char *name, *s, *path;
	uint8_t *data;
	uint32_t len;
	int n, error;

	for (n = 0; ; n++) {
		snprintf(node, sizeof(node), "fw_cfg.%d", n);
		if (!config_node_exists(bvm->cfg, node))
			return (0);
		name = get_config_value_node(bvm->cfg, node, "name");
		s = get_config_value_node(bvm->cfg, node, "string");
		path = get_config_value_node(bvm->cfg, node, "file");
		if (name == NULL || (s == NULL) == (path == NULL)) {
			fprintf(stderr, "bhyve: %s: needs a name and one of "
			    "string or file\n", node);
			return (-1);
		}
		if (s != NULL)
			error = fwcfg_add_file(fc, name, s, (uint32_t)strlen(s));
		else {
			if (fwcfg_read_file(name, path, &data, &len) != 0)
				return (-1);
			error = fwcfg_add_file(fc, name, data, len);
			free(data);
		}
		if (error != 0) {
			fprintf(stderr, "bhyve: -f %s: %s\n", name,
			    error == -EEXIST ? "this name is given twice" :
			    error == -ENOSPC ? "too many fw_cfg files" :
			    error == -EINVAL ? "not a valid name" : strerror(-error));
			return (-1);
		}
	}
}

int
qemu_fwcfg_init(struct bhyve_vm *bvm, struct fwcfg **fcp)
{
	struct machine_e820_entry e820[MACHINE_E820_MAX];
	struct fwcfg_mem mem = { fwcfg_vm_map, fwcfg_vm_written, bvm->ctx };
	uint8_t buf[MACHINE_E820_MAX * 20], le[8];
	uint64_t lowmem = 0, highmem = 0;
	struct inout_port iop[2];
	struct fwcfg *fc;
	uint16_t ncpus;
	int i, n;

	*fcp = NULL;
	if (!qemu_fwcfg_enabled(bvm->cfg))
		return (0);
	fc = fwcfg_create(bvm->ctx != NULL ? &mem : NULL);
	if (fc == NULL)
		return (-1);
	*fcp = fc;
	if (bvm->ctx != NULL) {
		lowmem = vm_get_lowmem_size(bvm->ctx);
		highmem = vm_get_highmem_size(bvm->ctx);
	}
	ncpus = (uint16_t)(bvm->ncpus > 0 ? bvm->ncpus : 1);
	for (i = 0; i < 8; i++)
		le[i] = (uint8_t)((lowmem + highmem) >> (8 * i));
	if (fwcfg_add_item(fc, FW_CFG_SIGNATURE, "QEMU", 4) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_ID, (uint8_t[4]){ FW_CFG_ID_TRADITIONAL |
	    FW_CFG_ID_DMA, 0, 0, 0 }, 4) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_RAM_SIZE, le, 8) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_NB_CPUS, (uint8_t[2]){ (uint8_t)ncpus,
	    (uint8_t)(ncpus >> 8) }, 2) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_MAX_CPUS, (uint8_t[2]){ (uint8_t)ncpus,
	    (uint8_t)(ncpus >> 8) }, 2) != 0)
		goto nomem;
	/* etc/e820: QEMU's struct e820_entry, { le64 address, length; le32 type }. */
	n = machine_e820(lowmem, highmem, e820);
	for (i = 0; i < n; i++) {
		uint8_t *p = buf + 20 * i;
		int b;

		for (b = 0; b < 8; b++) {
			p[b] = (uint8_t)(e820[i].addr >> (8 * b));
			p[8 + b] = (uint8_t)(e820[i].len >> (8 * b));
		}
		for (b = 0; b < 4; b++)
			p[16 + b] = (uint8_t)(e820[i].type >> (8 * b));
	}
	if (fwcfg_add_file(fc, "etc/e820", buf, (uint32_t)(20 * n)) != 0)
		goto nomem;
	if (fwcfg_add_user_files(bvm, fc) != 0)
		return (-1);
	if (fwcfg_finish(fc) != 0)
		goto nomem;
	if (bvm->ctx != NULL && vm_snapshot_register(bvm->ctx, "lpc.fwcfg",
	    fwcfg_snap_save, fwcfg_snap_restore, fc) != 0) {
		fprintf(stderr, "bhyve: lpc: fwcfg: saved state: %s\n",
		    vm_last_error());
		return (-1);
	}
	iop[0] = (struct inout_port){ "fw_cfg", MACHINE_IO_FWCFG, 2,
	    IOPORT_F_INOUT, fwcfg_io, fc };
	iop[1] = (struct inout_port){ "fw_cfg_dma", MACHINE_IO_FWCFG_DMA, 8,
	    IOPORT_F_INOUT, fwcfg_dma_io, fc };
	for (i = 0; i < 2; i++) {
		if (register_inout(bvm->inout, &iop[i]) != 0) {
			fprintf(stderr, "bhyve: fw_cfg: ports %#x-%#x are taken\n",
			    iop[i].port, iop[i].port + iop[i].size - 1);
			return (-1);
		}
	}
	return (0);
nomem:
	fprintf(stderr, "bhyve: fw_cfg: out of memory\n");
	return (-1);
}

/* After every vCPU has stopped and the snapshot hooks are gone. */
void
qemu_fwcfg_fini(struct bhyve_vm *bvm, struct fwcfg *fc)
{
	fwcfg_destroy(fc);
}

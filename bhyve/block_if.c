/*
 * block_if.c - disk images served by a pool of I/O threads.  See block_if.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_if.h"
#include "config.h"
#include "pci_emul.h"

#define BLOCKIF_NTHREADS	4

struct blockif_ctxt {
	int		fd;
	char		*path;
	uint64_t	size;
	int		sectsz, psectsz;
	bool		ro, candelete, isblk;
	pthread_mutex_t	mtx;
	pthread_cond_t	cond;		/* work queued, or closing */
	pthread_cond_t	idle;		/* a request finished */
	struct blockif_req *head, *tail;
	int		busy;		/* requests taken, not yet done */
	bool		closing;
	int		nthreads;
	pthread_t	threads[BLOCKIF_NTHREADS];
};

/* Full transfers: a short read past the end of a file reads zeros. */
static int
do_rw(struct blockif_ctxt *bc, struct blockif_req *r)
{
	struct iovec iov[BLOCKIF_IOV_MAX];
	uint64_t off = r->offset;
	int niov = r->niov, first = 0;

	memcpy(iov, r->iov, sizeof(iov[0]) * (size_t)niov);
	while (first < niov) {
		ssize_t n = r->op == BOP_READ ?
		    preadv(bc->fd, iov + first, niov - first, (off_t)off) :
		    pwritev(bc->fd, iov + first, niov - first, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0) {
			if (r->op != BOP_READ)
				return EIO;
			for (; first < niov; first++)
				memset(iov[first].iov_base, 0, iov[first].iov_len);
			break;
		}
		off += (uint64_t)n;
		while (n > 0 && first < niov) {
			if ((size_t)n >= iov[first].iov_len) {
				n -= (ssize_t)iov[first].iov_len;
				first++;
			} else {
				iov[first].iov_base = (uint8_t *)iov[first].iov_base + n;
				iov[first].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

/* Zeros without fallocate (a block device without the ioctl, odd file systems). */
static int
write_zeros(struct blockif_ctxt *bc, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];

	while (len > 0) {
		size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ssize_t w = pwrite(bc->fd, zero, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int
do_req(struct blockif_ctxt *bc, struct blockif_req *r)
{
	switch (r->op) {
	case BOP_READ:
	case BOP_WRITE:
		return do_rw(bc, r);
	case BOP_FLUSH:
		return fdatasync(bc->fd) == 0 ? 0 : errno;
	case BOP_DISCARD:
		if (!bc->candelete)
			return EOPNOTSUPP;
		if (bc->isblk) {
			uint64_t range[2] = { r->offset, r->length };
			return ioctl(bc->fd, BLKDISCARD, range) == 0 ? 0 : errno;
		}
		return fallocate(bc->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)r->offset, (off_t)r->length) == 0 ? 0 : errno;
	case BOP_ZERO:
		if (!bc->isblk && fallocate(bc->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		    (off_t)r->offset, (off_t)r->length) == 0)
			return 0;
		return write_zeros(bc, r->offset, r->length);
	}
	return EINVAL;
}

static void *
blockif_thr(void *arg)
{
	struct blockif_ctxt *bc = arg;
	struct blockif_req *r;

	pthread_mutex_lock(&bc->mtx);
	for (;;) {
		while (bc->head == NULL && !bc->closing)
			pthread_cond_wait(&bc->cond, &bc->mtx);
		if (bc->head == NULL)
			break;
		r = bc->head;
		bc->head = r->next;
		if (bc->head == NULL)
			bc->tail = NULL;
		bc->busy++;
		pthread_mutex_unlock(&bc->mtx);
		r->done(r, do_req(bc, r));
		pthread_mutex_lock(&bc->mtx);
		bc->busy--;
		pthread_cond_broadcast(&bc->idle);
	}
	pthread_mutex_unlock(&bc->mtx);
	return NULL;
}

int
blockif_submit(struct blockif_ctxt *bc, struct blockif_req *req)
{
	if (bc->ro && (req->op == BOP_WRITE || req->op == BOP_DISCARD || req->op == BOP_ZERO))
		return -EROFS;
	req->next = NULL;
	pthread_mutex_lock(&bc->mtx);
	if (bc->tail != NULL)
		bc->tail->next = req;
	else
		bc->head = req;
	bc->tail = req;
	pthread_cond_signal(&bc->cond);
	pthread_mutex_unlock(&bc->mtx);
	return 0;
}

void
blockif_drain(struct blockif_ctxt *bc)
{
	pthread_mutex_lock(&bc->mtx);
	while (bc->head != NULL || bc->busy > 0)
		pthread_cond_wait(&bc->idle, &bc->mtx);
	pthread_mutex_unlock(&bc->mtx);
}

static int
parse_sectsz(const char *s, int *lp, int *pp)
{
	char *end;
	long l, p;

	l = strtol(s, &end, 10);
	p = l;
	if (*end == '/')
		p = strtol(end + 1, &end, 10);
	if (*end != '\0')
		return -1;
	/* Powers of two from 512 to 4096; physical at least logical (as bhyve). */
	if (l < 512 || l > 4096 || (l & (l - 1)) || p < l || p > 65536 || (p & (p - 1)))
		return -1;
	*lp = (int)l;
	*pp = (int)p;
	return 0;
}

struct blockif_ctxt *
blockif_open(struct config *cfg, const char *node, const char *ident)
{
	struct blockif_ctxt *bc;
	const char *path, *ss;
	bool nocache = false, direct = false, ro = false, nodelete = false;
	struct stat sb;
	int fd, flags, i;

	path = get_config_value_node(cfg, node, "path");
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "bhyve: %s: no disk image given (-s N,virtio-blk,PATH)\n", ident);
		return NULL;
	}
	if (config_get_bool_node(cfg, node, "nocache", &nocache) == -EINVAL ||
	    config_get_bool_node(cfg, node, "direct", &direct) == -EINVAL ||
	    config_get_bool_node(cfg, node, "ro", &ro) == -EINVAL ||
	    config_get_bool_node(cfg, node, "nodelete", &nodelete) == -EINVAL) {
		fprintf(stderr, "bhyve: %s: nocache, direct, ro and nodelete take no value\n", ident);
		return NULL;
	}
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL)
		return NULL;
	bc->sectsz = 512;
	bc->psectsz = 512;
	ss = get_config_value_node(cfg, node, "sectorsize");
	if (ss != NULL && parse_sectsz(ss, &bc->sectsz, &bc->psectsz) != 0) {
		fprintf(stderr, "bhyve: %s: invalid sectorsize '%s' (512-4096, a power of two, "
		    "optionally /physical)\n", ident, ss);
		free(bc);
		return NULL;
	}
	flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (nocache ? O_DIRECT : 0) |
	    (direct ? O_SYNC : 0);
	fd = open(path, flags);
	if (fd < 0 && !ro && (errno == EROFS || errno == EACCES)) {
		fd = open(path, (flags & ~O_RDWR) | O_RDONLY);
		if (fd >= 0) {
			fprintf(stderr, "bhyve: %s: %s is read-only: the guest gets a read-only disk\n",
			    ident, path);
			ro = true;
		}
	}
	if (fd < 0) {
		fprintf(stderr, "bhyve: %s: cannot open disk image '%s': %s\n", ident, path,
		    strerror(errno));
		free(bc);
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))) {
		fprintf(stderr, "bhyve: %s: '%s' is neither a file nor a block device\n", ident, path);
		goto fail;
	}
	/* One writer per image, as a disk has one controller. */
	if (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
		fprintf(stderr, "bhyve: %s: disk image '%s' is in use by another process\n",
		    ident, path);
		goto fail;
	}
	bc->isblk = S_ISBLK(sb.st_mode);
	if (bc->isblk) {
		int lsz = 0;
		if (ioctl(fd, BLKGETSIZE64, &bc->size) != 0) {
			fprintf(stderr, "bhyve: %s: cannot size '%s': %s\n", ident, path,
			    strerror(errno));
			goto fail;
		}
		if (ss == NULL && ioctl(fd, BLKSSZGET, &lsz) == 0 && lsz >= 512 && lsz <= 4096)
			bc->sectsz = bc->psectsz = lsz;
	} else
		bc->size = (uint64_t)sb.st_size;
	if (bc->size % (uint64_t)bc->sectsz != 0)
		fprintf(stderr, "bhyve: %s: '%s' is not a whole number of %d-byte sectors: "
		    "the last %llu bytes are not seen\n", ident, path, bc->sectsz,
		    (unsigned long long)(bc->size % (uint64_t)bc->sectsz));
	bc->size -= bc->size % (uint64_t)bc->sectsz;
	bc->fd = fd;
	bc->ro = ro;
	bc->candelete = !ro && !nodelete;
	bc->path = strdup(path);
	pthread_mutex_init(&bc->mtx, NULL);
	pthread_cond_init(&bc->cond, NULL);
	pthread_cond_init(&bc->idle, NULL);
	for (i = 0; i < BLOCKIF_NTHREADS; i++) {
		if (pthread_create(&bc->threads[i], NULL, blockif_thr, bc) != 0)
			break;
		bc->nthreads++;
	}
	if (bc->nthreads == 0) {
		fprintf(stderr, "bhyve: %s: cannot start I/O threads\n", ident);
		close(fd);
		free(bc->path);
		free(bc);
		return NULL;
	}
	return bc;
fail:
	close(fd);
	free(bc);
	return NULL;
}

void
blockif_close(struct blockif_ctxt *bc)
{
	int i;

	if (bc == NULL)
		return;
	blockif_drain(bc);
	pthread_mutex_lock(&bc->mtx);
	bc->closing = true;
	pthread_cond_broadcast(&bc->cond);
	pthread_mutex_unlock(&bc->mtx);
	for (i = 0; i < bc->nthreads; i++)
		pthread_join(bc->threads[i], NULL);
	/* Nothing the guest wrote is left in the host's cache on exit. */
	if (!bc->ro && fsync(bc->fd) != 0)
		fprintf(stderr, "bhyve: cannot flush disk image '%s': %s\n", bc->path,
		    strerror(errno));
	close(bc->fd);
	pthread_mutex_destroy(&bc->mtx);
	pthread_cond_destroy(&bc->cond);
	pthread_cond_destroy(&bc->idle);
	free(bc->path);
	free(bc);
}

uint64_t blockif_size(struct blockif_ctxt *bc) { return bc->size; }
int blockif_sectsz(struct blockif_ctxt *bc) { return bc->sectsz; }
int blockif_psectsz(struct blockif_ctxt *bc) { return bc->psectsz; }
bool blockif_is_ro(struct blockif_ctxt *bc) { return bc->ro; }
bool blockif_candelete(struct blockif_ctxt *bc) { return bc->candelete; }

int
blockif_legacy_config(struct config *cfg, const char *node, const char *opts)
{
	char *copy, *comma;
	int error;

	if (opts == NULL || *opts == '\0')
		return 0;	/* blockif_open says what is missing */
	copy = strdup(opts);
	if (copy == NULL)
		return -ENOMEM;
	comma = strchr(copy, ',');
	if (comma != NULL)
		*comma = '\0';
	error = set_config_value_node(cfg, node, "path", copy);
	if (error == 0 && comma != NULL)
		error = pci_parse_legacy_config(cfg, node, comma + 1);
	free(copy);
	return error;
}

/*
 * block_if.h - a disk image behind a pool of I/O threads (bhyve's
 * block_if.c): raw files and block devices, read, write, flush (fdatasync),
 * discard (punch a hole), write zeroes, served off the vCPU threads.
 *
 * Options (bhyve.8): path[,nocache][,direct][,ro][,sectorsize=L[/P]][,nodelete]
 *   nocache   O_DIRECT: bypass the host's page cache
 *   direct    O_SYNC: every write is on stable storage when acknowledged
 *   ro        read-only
 *   sectorsize logical (and physical) sector size: 512, 1024, 2048 or 4096
 *   nodelete  do not punch holes on discard
 * The image is locked (flock, exclusive; shared when read-only) so that two
 * bhyves never write one disk.
 */
#ifndef LHYVE_BLOCK_IF_H
#define LHYVE_BLOCK_IF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct config;
struct blockif_ctxt;

enum blockop { BOP_READ, BOP_WRITE, BOP_FLUSH, BOP_DISCARD, BOP_ZERO };

#define BLOCKIF_IOV_MAX	256

struct blockif_req {
	enum blockop	op;
	uint64_t	offset;		/* bytes */
	uint64_t	length;		/* discard / zero: bytes */
	int		niov;
	struct iovec	iov[BLOCKIF_IOV_MAX];
	/* Completion, on an I/O thread: 0 or a positive errno. */
	void		(*done)(struct blockif_req *req, int error);
	void		*arg;
	struct blockif_req *next;	/* the pool's queue */
};

/*
 * Open the image named by the config node's "path" with its options.
 * NULL with a one-line message on stderr naming the problem.
 */
struct blockif_ctxt *blockif_open(struct config *cfg, const char *node, const char *ident);
/* Wait for every queued request, flush the image, close it. */
void	blockif_close(struct blockif_ctxt *bc);
/* Queue a request; it completes through req->done.  -EROFS for writes to ro. */
int	blockif_submit(struct blockif_ctxt *bc, struct blockif_req *req);
/* Wait until every queued request has completed (device reset). */
void	blockif_drain(struct blockif_ctxt *bc);

uint64_t blockif_size(struct blockif_ctxt *bc);		/* bytes */
int	blockif_sectsz(struct blockif_ctxt *bc);		/* logical */
int	blockif_psectsz(struct blockif_ctxt *bc);		/* physical */
bool	blockif_is_ro(struct blockif_ctxt *bc);
bool	blockif_candelete(struct blockif_ctxt *bc);

/* "path,opt,..." -> node.path and the options (-s N,virtio-blk,...). */
int	blockif_legacy_config(struct config *cfg, const char *node, const char *opts);

#endif /* LHYVE_BLOCK_IF_H */

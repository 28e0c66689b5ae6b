/*
 * pci_virtio_block.c - virtio block device (virtio 1.2, 5.2) over a disk
 * image (block_if.c).  Requests are taken from the queue on the notifying
 * vCPU's thread, checked, and served by block_if's I/O threads, which
 * complete them: status byte, used ring, interrupt.
 *
 * -s N,virtio-blk,path[,nocache][,direct][,ro][,sectorsize=L[/P]][,nodelete][,ser=ID]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_if.h"
#include "config.h"
#include "pci_emul.h"
#include "virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX		(1ULL << 2)
#define VIRTIO_BLK_F_RO			(1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE		(1ULL << 6)
#define VIRTIO_BLK_F_FLUSH		(1ULL << 9)
#define VIRTIO_BLK_F_TOPOLOGY		(1ULL << 10)
#define VIRTIO_BLK_F_DISCARD		(1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES	(1ULL << 14)

/* Request types and status (5.2.6). */
#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13
#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2
#define VIRTIO_BLK_ID_BYTES		20
#define VIRTIO_BLK_WZ_UNMAP		1

#define VBLK_QSIZE		256
#define VBLK_SEG_MAX		(VQ_CHAIN_MAX - 2)	/* a header and a status besides */
#define VBLK_MAX_DISCARD	(1u << 22)		/* sectors per discard/zero request */

/* Device configuration (5.2.4), little-endian. */
struct vblk_config {
	uint64_t	capacity;		/* 512-byte sectors */
	uint32_t	size_max;
	uint32_t	seg_max;
	uint16_t	cylinders;
	uint8_t		heads, sectors;
	uint32_t	blk_size;
	uint8_t		physical_block_exp, alignment_offset;
	uint16_t	min_io_size;
	uint32_t	opt_io_size;
	uint8_t		writeback, unused0;
	uint16_t	num_queues;
	uint32_t	max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t	max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t		write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));

struct vblk_softc;

struct vblk_req {
	struct vblk_softc	*sc;
	struct vq_chain		chain;
	struct blockif_req	br;
	uint8_t			*status;
	uint32_t		done_len;	/* bytes for the used ring */
	struct vblk_req		*next_free;
};

struct vblk_softc {
	struct virtio_softc	vs;
	struct vqueue_info	vq;
	struct virtio_consts	consts;
	struct vblk_config	cfg;
	struct blockif_ctxt	*bc;
	pthread_mutex_t		mtx;	/* the queue and the free list */
	struct vblk_req		*reqs, *free;
	char			ident[VIRTIO_BLK_ID_BYTES + 1];
};

/* Copy @len bytes at @off of the chain's readable part into @dst. */
static bool
chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (int i = 0; i < c->n && len > 0; i++) {
		if (c->flags[i] & VRING_DESC_F_WRITE)
			break;
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		size_t n = c->iov[i].iov_len - off < len ? c->iov[i].iov_len - off : len;
		memcpy(d, (uint8_t *)c->iov[i].iov_base + off, n);
		d += n;
		len -= n;
		off = 0;
	}
	return len == 0;
}

/*
 * The iovecs of [off, off + len) of the readable (@writable false) or
 * writable part of the chain, into @out.  Returns the count, -1 if it
 * does not fit.
 */
static int
chain_slice(const struct vq_chain *c, bool writable, size_t off, size_t len,
    struct iovec *out, int max)
{
	int n = 0;

	for (int i = 0; i < c->n && len > 0; i++) {
		if (((c->flags[i] & VRING_DESC_F_WRITE) != 0) != writable)
			continue;
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		if (n == max)
			return -1;
		size_t k = c->iov[i].iov_len - off < len ? c->iov[i].iov_len - off : len;
		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return len == 0 ? n : -1;
}

static void
vblk_complete(struct vblk_req *r, uint8_t status)
{
	struct vblk_softc *sc = r->sc;

	*r->status = status;
	pthread_mutex_lock(&sc->mtx);
	vq_relchain(&sc->vq, &r->chain, r->done_len);
	vq_endchains(&sc->vq, false);
	r->next_free = sc->free;
	sc->free = r;
	pthread_mutex_unlock(&sc->mtx);
}

static void
vblk_io_done(struct blockif_req *br, int error)
{
	struct vblk_req *r = br->arg;

	vblk_complete(r, error == 0 ? VIRTIO_BLK_S_OK :
	    error == EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
}

/*
 * Check one request and hand it to block_if; requests that cannot be
 * served complete at once with their status.  Called with sc->mtx held;
 * completion takes it, so completions found here are finished after
 * unlocking (*now).
 */
static bool
vblk_start(struct vblk_softc *sc, struct vblk_req *r, uint8_t *now_status)
{
	struct vq_chain *c = &r->chain;
	size_t rlen = 0, wlen = 0;
	uint8_t hdr[16];
	uint32_t type;
	uint64_t sector, cap = sc->cfg.capacity;
	int i, wlast = -1;

	for (i = 0; i < c->n; i++) {
		if (c->flags[i] & VRING_DESC_F_WRITE) {
			wlen += c->iov[i].iov_len;
			if (c->iov[i].iov_len > 0)
				wlast = i;
		} else
			rlen += c->iov[i].iov_len;
	}
	/* Without a status byte there is no way to answer: a broken driver. */
	if (wlast < 0) {
		vq_break(&sc->vq, "a request has no status byte");
		r->status = NULL;
		return false;
	}
	r->status = (uint8_t *)c->iov[wlast].iov_base + c->iov[wlast].iov_len - 1;
	r->done_len = 1;
	if (rlen < sizeof(hdr) || !chain_read(c, 0, hdr, sizeof(hdr))) {
		*now_status = VIRTIO_BLK_S_IOERR;
		return false;
	}
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	memset(&r->br, 0, sizeof(r->br));
	r->br.done = vblk_io_done;
	r->br.arg = r;
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = type == VIRTIO_BLK_T_IN;
		size_t dlen = in ? wlen - 1 : rlen - sizeof(hdr);

		/* Whole sectors, inside the disk (5.2.6.1, 5.2.6.2). */
		if (dlen % 512 != 0 || sector > cap || dlen / 512 > cap - sector) {
			*now_status = VIRTIO_BLK_S_IOERR;
			return false;
		}
		r->br.op = in ? BOP_READ : BOP_WRITE;
		r->br.offset = sector * 512;
		r->br.niov = chain_slice(c, in, in ? 0 : sizeof(hdr), dlen, r->br.iov,
		    BLOCKIF_IOV_MAX);
		if (r->br.niov < 0) {
			*now_status = VIRTIO_BLK_S_IOERR;
			return false;
		}
		if (in)
			r->done_len = (uint32_t)(dlen + 1);
		if (dlen == 0) {
			*now_status = VIRTIO_BLK_S_OK;
			return false;
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		r->br.op = BOP_FLUSH;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		struct iovec id[VQ_CHAIN_MAX];
		size_t room = wlen - 1 < VIRTIO_BLK_ID_BYTES ? wlen - 1 : VIRTIO_BLK_ID_BYTES;
		int n = chain_slice(c, true, 0, room, id, VQ_CHAIN_MAX);
		size_t off = 0;

		for (i = 0; i < n; i++) {
			memcpy(id[i].iov_base, sc->ident + off, id[i].iov_len);
			off += id[i].iov_len;
		}
		r->done_len = (uint32_t)(room + 1);
		*now_status = VIRTIO_BLK_S_OK;
		return false;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		uint8_t seg[16];
		uint64_t s;
		uint32_t num, flags;
		bool zero = type == VIRTIO_BLK_T_WRITE_ZEROES;

		if ((zero ? !(sc->vs.negotiated & VIRTIO_BLK_F_WRITE_ZEROES) :
		    !(sc->vs.negotiated & VIRTIO_BLK_F_DISCARD))) {
			*now_status = VIRTIO_BLK_S_UNSUPP;
			return false;
		}
		/* One segment per request: max_*_seg is 1 (5.2.6.3). */
		if (rlen - sizeof(hdr) != sizeof(seg) || !chain_read(c, sizeof(hdr), seg, sizeof(seg))) {
			*now_status = VIRTIO_BLK_S_UNSUPP;
			return false;
		}
		memcpy(&s, seg, 8);
		memcpy(&num, seg + 8, 4);
		memcpy(&flags, seg + 12, 4);
		if ((flags & ~(uint32_t)(zero ? VIRTIO_BLK_WZ_UNMAP : 0)) != 0) {
			*now_status = VIRTIO_BLK_S_UNSUPP;
			return false;
		}
		if (num > VBLK_MAX_DISCARD || s > cap || num > cap - s) {
			*now_status = VIRTIO_BLK_S_IOERR;
			return false;
		}
		r->br.op = zero ? BOP_ZERO : BOP_DISCARD;
		r->br.offset = s * 512;
		r->br.length = (uint64_t)num * 512;
		break;
	}
	default:
		*now_status = VIRTIO_BLK_S_UNSUPP;
		return false;
	}
	if (blockif_submit(sc->bc, &r->br) != 0) {
		*now_status = VIRTIO_BLK_S_IOERR;
		return false;
	}
	return true;
}

static void
vblk_notify(void *dev, struct vqueue_info *vq)
{
	struct vblk_softc *sc = dev;
	struct vblk_req *done[VBLK_QSIZE];
	uint8_t st[VBLK_QSIZE];
	int ndone = 0;

	pthread_mutex_lock(&sc->mtx);
	while (sc->free != NULL && ndone < VBLK_QSIZE) {
		struct vblk_req *r = sc->free;

		if (vq_getchain(vq, &r->chain, VQ_CHAIN_MAX) <= 0)
			break;
		sc->free = r->next_free;
		st[ndone] = VIRTIO_BLK_S_IOERR;
		if (!vblk_start(sc, r, &st[ndone])) {
			if (r->status == NULL) {	/* unanswerable: the queue stops */
				r->next_free = sc->free;
				sc->free = r;
				break;
			}
			done[ndone++] = r;
		}
	}
	pthread_mutex_unlock(&sc->mtx);
	for (int i = 0; i < ndone; i++)
		vblk_complete(done[i], st[i]);
}

static void
vblk_reset(void *dev)
{
	struct vblk_softc *sc = dev;

	/* No notify is mid-way (the queue is disabled now); wait for the I/O. */
	pthread_mutex_lock(&sc->mtx);
	pthread_mutex_unlock(&sc->mtx);
	blockif_drain(sc->bc);
}

static void
vblk_quiesce(void *dev)
{
	struct vblk_softc *sc = dev;

	blockif_drain(sc->bc);
}

static void
vblk_make_ident(struct vblk_softc *sc, const char *node, struct pci_devinst *pi)
{
	const char *ser = get_config_value_node(pi->pi_vm->cfg, node, "ser");
	const char *path = get_config_value_node(pi->pi_vm->cfg, node, "path");
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a of the path, as a stable serial */

	if (ser != NULL) {
		snprintf(sc->ident, sizeof(sc->ident), "%s", ser);
		return;
	}
	for (const char *p = path ? path : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	snprintf(sc->ident, sizeof(sc->ident), "BHYVE-%04X-%04X-%04X", (unsigned)(h >> 48),
	    (unsigned)(h >> 32) & 0xffff, (unsigned)(h >> 16) & 0xffff);
}

static int
vblk_init(struct pci_devinst *pi, const char *node)
{
	struct vblk_softc *sc;
	int sectsz, psectsz, exp = 0, i;

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->vs.pi = pi;
	pi->pi_arg = &sc->vs;
	sc->vs.dev = sc;
	sc->bc = blockif_open(pi->pi_vm->cfg, node, pi->pi_name);
	if (sc->bc == NULL)
		return -1;
	sc->reqs = calloc(VBLK_QSIZE, sizeof(*sc->reqs));
	if (sc->reqs == NULL)
		return -1;
	for (i = 0; i < VBLK_QSIZE; i++) {
		sc->reqs[i].sc = sc;
		sc->reqs[i].next_free = sc->free;
		sc->free = &sc->reqs[i];
	}
	vblk_make_ident(sc, node, pi);
	sectsz = blockif_sectsz(sc->bc);
	psectsz = blockif_psectsz(sc->bc);
	while ((sectsz << exp) < psectsz)
		exp++;
	sc->cfg.capacity = blockif_size(sc->bc) / 512;
	sc->cfg.seg_max = VBLK_SEG_MAX;
	sc->cfg.blk_size = (uint32_t)sectsz;
	sc->cfg.physical_block_exp = (uint8_t)exp;
	sc->cfg.min_io_size = 1;
	sc->cfg.opt_io_size = 0;
	sc->cfg.writeback = 1;
	sc->cfg.num_queues = 1;
	sc->cfg.max_discard_sectors = VBLK_MAX_DISCARD;
	sc->cfg.max_discard_seg = 1;
	sc->cfg.discard_sector_alignment = (uint32_t)(sectsz / 512);
	sc->cfg.max_write_zeroes_sectors = VBLK_MAX_DISCARD;
	sc->cfg.max_write_zeroes_seg = 1;
	sc->cfg.write_zeroes_may_unmap = blockif_candelete(sc->bc);
	sc->consts = (struct virtio_consts){
		.name = "virtio-blk",
		.nvq = 1,
		.device_id = VIRTIO_ID_BLOCK,
		.class = 0x01, .subclass = 0x80,	/* mass storage, other */
		.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
		    VIRTIO_BLK_F_TOPOLOGY |
		    (blockif_is_ro(sc->bc) ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_WRITE_ZEROES) |
		    (blockif_candelete(sc->bc) ? VIRTIO_BLK_F_DISCARD : 0),
		.cfg = &sc->cfg,
		.cfgsize = sizeof(sc->cfg),
		.reset = vblk_reset,
		.qnotify = vblk_notify,
		.quiesce = vblk_quiesce,
	};
	sc->vq.max = VBLK_QSIZE;
	return vs_init(&sc->vs, &sc->consts, sc, pi, &sc->vq);
}

static void
vblk_deinit(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vblk_softc *sc;

	if (vs == NULL)
		return;
	sc = vs->dev;
	vs_deinit(&sc->vs);
	blockif_close(sc->bc);
	free(sc->reqs);
	pthread_mutex_destroy(&sc->mtx);
	if (sc->vs.vc != NULL)
		pthread_mutex_destroy(&sc->vs.mtx);
	free(sc);
	pi->pi_arg = NULL;
}

VIRTIO_PCI_EMUL(pci_de_vblk, "virtio-blk", blockif_legacy_config, vblk_init, vblk_deinit, true);

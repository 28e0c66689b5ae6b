/*
 * pci_virtio_rnd.c - virtio entropy device (virtio 1.2, 5.4): one queue of
 * device-writable buffers, filled from the host kernel's random pool
 * (getrandom(2)) when the guest makes them available.  Filling happens on
 * the notifying vCPU's thread: it is short and never blocks once the host's
 * pool is initialized.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pci_emul.h"
#include "virtio.h"

/* Out of fairness to other devices, at most this much per notification. */
#define RND_MAX_PER_NOTIFY	(1 << 20)

struct rnd_softc {
	struct virtio_softc	vs;
	struct vqueue_info	vq;
	pthread_mutex_t		mtx;	/* one filler at a time */
	struct vq_chain		chain;
};

static void
rnd_fill(void *dev, struct vqueue_info *vq)
{
	struct rnd_softc *sc = dev;
	struct vq_chain *c = &sc->chain;
	size_t total = 0;

	pthread_mutex_lock(&sc->mtx);
	while (total < RND_MAX_PER_NOTIFY && vq_getchain(vq, c, VQ_CHAIN_MAX) > 0) {
		uint32_t len = 0;

		for (int i = 0; i < c->n; i++) {
			if (!(c->flags[i] & VRING_DESC_F_WRITE))
				continue;
			/* getrandom returns at most 32 MiB - 1 per call; loop for the rest. */
			size_t done = 0, want = c->iov[i].iov_len;
			while (done < want) {
				ssize_t n = getrandom((uint8_t *)c->iov[i].iov_base + done,
				    want - done, 0);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				done += (size_t)n;
			}
			len += (uint32_t)done;
			if (done < want)
				break;
		}
		vq_relchain(vq, c, len);
		total += len;
	}
	vq_endchains(vq, true);
	pthread_mutex_unlock(&sc->mtx);
}

static void
rnd_reset(void *dev)
{
	struct rnd_softc *sc = dev;

	/* A filler in progress finishes before the queue goes away. */
	pthread_mutex_lock(&sc->mtx);
	pthread_mutex_unlock(&sc->mtx);
}

static const struct virtio_consts rnd_consts = {
	.name = "virtio-rnd",
	.nvq = 1,
	.device_id = VIRTIO_ID_ENTROPY,
	.class = 0xff,		/* PCI class: unassigned, as QEMU's */
	.subclass = 0x00,
	.reset = rnd_reset,
	.qnotify = rnd_fill,
};

static int
rnd_init(struct pci_devinst *pi, const char *node)
{
	struct rnd_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return -1;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->vq.max = 64;
	if (vs_init(&sc->vs, &rnd_consts, sc, pi, &sc->vq) != 0)
		return -1;
	return 0;
}

static void
rnd_deinit(struct pci_devinst *pi)
{
	struct rnd_softc *sc = pi->pi_arg ? ((struct virtio_softc *)pi->pi_arg)->dev : NULL;

	if (sc == NULL)
		return;
	vs_deinit(&sc->vs);
	pthread_mutex_destroy(&sc->mtx);
	pthread_mutex_destroy(&sc->vs.mtx);
	free(sc);
}

VIRTIO_PCI_EMUL(pci_de_vrnd, "virtio-rnd", NULL, rnd_init, rnd_deinit, true);

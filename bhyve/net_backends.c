/*
 * net_backends.c - network backends: the registry, the -s option syntax,
 * the hold queue for frames the guest has no room for yet, and the tap
 * backend.  See net_backends.h; slirp lives in net_backend_slirp.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "bhyve.h"
#include "config.h"
#include "net_backends.h"
#include "net_offload.h"

extern const struct net_backend_ops *const __start_net_backend_set[] __attribute__((weak));
extern const struct net_backend_ops *const __stop_net_backend_set[] __attribute__((weak));

static size_t
netbe_count(void)
{
	if (__start_net_backend_set == NULL)
		return 0;
	return (size_t)(__stop_net_backend_set - __start_net_backend_set);
}

/* "tap0" names the tap backend: the prefix, then nothing or digits. */
static bool
netbe_matches(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0)
		return false;
	for (name += n; *name != '\0'; name++)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

const char *
netbe_names(void)
{
	static char buf[256];
	size_t i, n = netbe_count(), off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "",
		    __start_net_backend_set[i]->prefix);
	return buf;
}

int
netbe_init(struct config *cfg, const char *node, const char *devname, netbe_rx_t rx,
    void *arg, struct net_backend **bep)
{
	const char *name = get_config_value_node(cfg, node, "backend");
	const struct net_backend_ops *ops = NULL;
	struct net_backend *be;
	size_t i, n = netbe_count();

	*bep = NULL;
	if (name == NULL)
		return 0;
	for (i = 0; i < n && ops == NULL; i++)
		if (netbe_matches(__start_net_backend_set[i]->prefix, name))
			ops = __start_net_backend_set[i];
	if (ops == NULL) {
		fprintf(stderr, "bhyve: %s: unknown network backend '%s' (known: %s)\n",
		    devname, name, netbe_names());
		return -1;
	}
	be = calloc(1, sizeof(*be));
	if (be == NULL || (ops->priv_size && (be->priv = calloc(1, ops->priv_size)) == NULL)) {
		fprintf(stderr, "bhyve: %s: out of memory\n", devname);
		free(be);
		return -1;
	}
	be->ops = ops;
	be->rx = rx;
	be->rx_arg = arg;
	if (ops->init(be, cfg, node, devname) != 0) {
		free(be->priv);
		free(be);
		return -1;
	}
	*bep = be;
	return 0;
}

int
netbe_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
    int iovcnt, size_t len)
{
	int error = be->ops->send(be, hdr, iov, iovcnt, len);

	if (error != 0)
		__atomic_add_fetch(&be->tx_dropped, 1, __ATOMIC_RELAXED);
	return error;
}

void
netbe_rx_ready(struct net_backend *be)
{
	if (be != NULL)
		be->ops->rx_ready(be);
}

int
netbe_set_features(struct net_backend *be, uint64_t features)
{
	if (be == NULL || be->ops->set_features == NULL)
		return 0;
	return be->ops->set_features(be, features);
}

void
netbe_cleanup(struct net_backend *be)
{
	if (be == NULL)
		return;
	be->ops->cleanup(be);
	free(be->priv);
	free(be);
}

int
netbe_legacy_config(struct config *cfg, const char *node, const char *opts)
{
	char *copy, *str, *tok, *eq;
	const char *old;
	int error = 0;
	bool first = true;

	if (opts == NULL)
		return 0;
	copy = str = strdup(opts);
	if (copy == NULL)
		return -ENOMEM;
	while (error == 0 && (tok = strsep(&str, ",")) != NULL) {
		eq = strchr(tok, '=');
		if (first && eq == NULL) {
			/* The backend: "slirp", "tap0". */
			first = false;
			if (*tok != '\0')
				error = set_config_value_node(cfg, node, "backend", tok);
			continue;
		}
		first = false;
		if (*tok == '\0')
			continue;
		if (eq != NULL)
			*eq = '\0';
		if (eq == NULL || (strcmp(tok, "mac") != 0 && strcmp(tok, "mtu") != 0 &&
		    strcmp(tok, "hostfwd") != 0 && strcmp(tok, "tap") != 0 &&
		    strcmp(tok, "backend") != 0)) {
			fprintf(stderr, "bhyve: virtio-net: unknown option '%s' (a backend first, "
			    "then mac=, mtu=, hostfwd=, tap=)\n", tok);
			error = -EINVAL;
			break;
		}
		if (strcmp(tok, "tap") == 0)
			error = set_config_value_node(cfg, node, "backend", "tap");
		if (error == 0 && strcmp(tok, "hostfwd") == 0 &&
		    (old = get_config_value_node(cfg, node, "hostfwd")) != NULL) {
			/* Repeated hostfwd= rules add up, as ';'-separated ones do. */
			char *joined;

			if (asprintf(&joined, "%s;%s", old, eq + 1) < 0) {
				error = -ENOMEM;
				break;
			}
			error = set_config_value_node(cfg, node, tok, joined);
			free(joined);
			continue;
		}
		if (error == 0)
			error = set_config_value_node(cfg, node, tok, eq + 1);
	}
	free(copy);
	return error;
}

/* ---- the hold queue ---- */

#define HOLDQ_MAX_FRAMES	1024
#define HOLDQ_MAX_BYTES		(4u << 20)

struct netbe_held {
	struct netbe_held *next;
	size_t		len;
	uint8_t		data[];
};

void
netbe_holdq_init(struct netbe_holdq *q)
{
	memset(q, 0, sizeof(*q));
}

void
netbe_holdq_fini(struct netbe_holdq *q)
{
	struct netbe_held *h;

	while ((h = q->head) != NULL) {
		q->head = h->next;
		free(h);
	}
	q->tail = NULL;
	q->count = q->bytes = 0;
}

void
netbe_holdq_flush(struct net_backend *be, struct netbe_holdq *q)
{
	struct netbe_held *h;

	while ((h = q->head) != NULL) {
		if (be->rx(be->rx_arg, NULL, h->data, h->len) == -EAGAIN)
			return;
		q->head = h->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->count--;
		q->bytes -= h->len;
		free(h);
	}
}

void
netbe_holdq_deliver(struct net_backend *be, struct netbe_holdq *q, const void *frame,
    size_t len)
{
	struct netbe_held *h;

	/* In order: older frames first. */
	netbe_holdq_flush(be, q);
	if (q->head == NULL && be->rx(be->rx_arg, NULL, frame, len) != -EAGAIN)
		return;
	if (q->count >= HOLDQ_MAX_FRAMES || q->bytes + len > HOLDQ_MAX_BYTES ||
	    (h = malloc(sizeof(*h) + len)) == NULL) {
		__atomic_add_fetch(&be->rx_dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	h->next = NULL;
	h->len = len;
	memcpy(h->data, frame, len);
	if (q->tail != NULL)
		q->tail->next = h;
	else
		q->head = h;
	q->tail = h;
	q->count++;
	q->bytes += len;
}

/*
 * ---- tap: a Linux tap interface through /dev/net/tun ----
 *
 * Opened with IFF_VNET_HDR and a 12-byte header (TUNSETVNETHDRSZ): each
 * frame read or written starts with a struct virtio_net_hdr_v1, in host
 * order (Linux Documentation/networking/tuntap.rst; the kernel checks what
 * it is given, as virtio_net_hdr_to_skb()).  The kernel takes partial
 * checksums and TSO frames from us whatever the offload setting; what it
 * hands us is limited by TUNSETOFFLOAD to what the guest negotiated.
 */

/* Frames read from the tap per wake-up, so a flood cannot starve a stop. */
#define TAP_READ_BURST		64
#define TAP_HOST_CAPS		(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | \
				 VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN)
#define TAP_GUEST_CAPS		(VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | \
				 VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN)

struct tap_priv {
	int		fd;		/* the tap; O_NONBLOCK */
	int		wakefd;		/* eventfd: rx_ready, stop */
	pthread_t	thread;
	bool		stop;		/* atomic */
	bool		dead;		/* the tap failed: no more reading */
	size_t		held;		/* length of the frame held in buf; 0: none */
	/* A header and a frame; one byte more tells a frame too big to take. */
	uint8_t		buf[VNET_HDR_LEN + NETBE_MAX_FRAME + 1];
};

static void
tap_wake(struct tap_priv *tp)
{
	uint64_t one = 1;

	/* A full eventfd counter is already a pending wake-up. */
	if (write(tp->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

/*
 * Receiving: read a frame, hand it over; when the guest has no room, keep
 * it and stop reading (the kernel queues, then drops, what follows) until
 * the guest adds buffers.
 */
static void *
tap_thread(void *arg)
{
	struct net_backend *be = arg;
	struct tap_priv *tp = be->priv;
	uint64_t cnt;

	while (!__atomic_load_n(&tp->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p[2] = {
			{ .fd = tp->wakefd, .events = POLLIN },
			{ .fd = tp->dead ? -1 : tp->fd, .events = tp->held ? 0 : POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bhyve: tap: poll: %s\n", strerror(errno));
			break;
		}
		if (p[0].revents & POLLIN)
			(void)!read(tp->wakefd, &cnt, sizeof(cnt));
		if (tp->held) {
			if (be->rx(be->rx_arg, (const struct vnet_hdr *)tp->buf,
			    tp->buf + VNET_HDR_LEN, tp->held - VNET_HDR_LEN) == -EAGAIN)
				continue;
			tp->held = 0;
		}
		for (int i = 0; i < TAP_READ_BURST && !tp->dead; i++) {
			ssize_t n = read(tp->fd, tp->buf, sizeof(tp->buf));

			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* E.g. the interface was deleted: say so once, do not spin. */
				fprintf(stderr, "bhyve: tap: read: %s; receiving stops\n",
				    strerror(errno));
				tp->dead = true;
			}
			if (n <= 0)
				break;
			if (n < VNET_HDR_LEN) {
				__atomic_add_fetch(&be->rx_dropped, 1, __ATOMIC_RELAXED);
				continue;
			}
			if (be->rx(be->rx_arg, (const struct vnet_hdr *)tp->buf,
			    tp->buf + VNET_HDR_LEN, (size_t)n - VNET_HDR_LEN) == -EAGAIN) {
				tp->held = (size_t)n;
				break;
			}
		}
	}
	return NULL;
}

static int
tap_init(struct net_backend *be, struct config *cfg, const char *node, const char *devname)
{
	struct tap_priv *tp = be->priv;
	const char *name = get_config_value_node(cfg, node, "backend");
	struct ifreq ifr;
	int error, hdrsz;

	if (strcmp(name, "tap") == 0)
		name = get_config_value_node(cfg, node, "tap");
	if (name == NULL || *name == '\0' || strlen(name) >= IFNAMSIZ || strchr(name, '/')) {
		fprintf(stderr, "bhyve: %s: tap needs an interface name of 1 to %d characters "
		    "(tap0 or tap=NAME)\n", devname, IFNAMSIZ - 1);
		return -1;
	}
	tp->wakefd = -1;
	tp->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tp->fd < 0) {
		fprintf(stderr, "bhyve: %s: tap '%s': /dev/net/tun: %s\n", devname, name,
		    strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(tp->fd, TUNSETIFF, &ifr) != 0) {
		error = errno;
		fprintf(stderr, "bhyve: %s: tap '%s': %s%s\n", devname, name, strerror(error),
		    error == EPERM ? " (it needs CAP_NET_ADMIN, or a tap made for this user "
		    "with 'ip tuntap add NAME mode tap user USER')" : "");
		close(tp->fd);
		return -1;
	}
	hdrsz = VNET_HDR_LEN;
	if (ioctl(tp->fd, TUNSETVNETHDRSZ, &hdrsz) != 0) {
		fprintf(stderr, "bhyve: %s: tap '%s': TUNSETVNETHDRSZ: %s\n", devname, name,
		    strerror(errno));
		close(tp->fd);
		return -1;
	}
	/* What the guest may receive: probe, then off until a driver negotiates. */
	be->vnet_hdr = true;
	be->caps = TAP_HOST_CAPS;
	if (ioctl(tp->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0)
		be->caps |= TAP_GUEST_CAPS;
	else if (ioctl(tp->fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
		be->caps |= VIRTIO_NET_F_GUEST_CSUM;
	(void)ioctl(tp->fd, TUNSETOFFLOAD, 0);
	tp->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (tp->wakefd < 0 || (error = pthread_create(&tp->thread, NULL, tap_thread, be)) != 0) {
		fprintf(stderr, "bhyve: %s: tap '%s': cannot start its thread\n", devname, name);
		if (tp->wakefd >= 0)
			close(tp->wakefd);
		close(tp->fd);
		return -1;
	}
	return 0;
}

static int
tap_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
    int iovcnt, size_t len)
{
	struct tap_priv *tp = be->priv;
	struct iovec v[NETBE_MAX_IOV + 1];
	ssize_t n;

	if (hdr == NULL || iovcnt > NETBE_MAX_IOV)
		return -EINVAL;
	v[0].iov_base = (void *)hdr;
	v[0].iov_len = VNET_HDR_LEN;
	memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
	/* One write is one frame; a full tap queue drops it, as a wire would. */
	do
		n = writev(tp->fd, v, iovcnt + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == VNET_HDR_LEN + len ? 0 : -EIO;
}

/* Let through to the guest only the offloads its driver took (5.1.6.4.1). */
static int
tap_set_features(struct net_backend *be, uint64_t features)
{
	struct tap_priv *tp = be->priv;
	unsigned int tun = 0;

	if (features & VIRTIO_NET_F_GUEST_CSUM) {
		tun = TUN_F_CSUM;
		if (features & VIRTIO_NET_F_GUEST_TSO4)
			tun |= TUN_F_TSO4;
		if (features & VIRTIO_NET_F_GUEST_TSO6)
			tun |= TUN_F_TSO6;
		if ((features & VIRTIO_NET_F_GUEST_ECN) && (tun & (TUN_F_TSO4 | TUN_F_TSO6)))
			tun |= TUN_F_TSO_ECN;
	}
	return ioctl(tp->fd, TUNSETOFFLOAD, tun) == 0 ? 0 : -errno;
}

static void
tap_rx_ready(struct net_backend *be)
{
	tap_wake(be->priv);
}

static void
tap_cleanup(struct net_backend *be)
{
	struct tap_priv *tp = be->priv;

	__atomic_store_n(&tp->stop, true, __ATOMIC_RELEASE);
	tap_wake(tp);
	pthread_join(tp->thread, NULL);
	close(tp->wakefd);
	close(tp->fd);
}

static const struct net_backend_ops tap_backend = {
	.prefix = "tap",
	.priv_size = sizeof(struct tap_priv),
	.init = tap_init,
	.send = tap_send,
	.rx_ready = tap_rx_ready,
	.set_features = tap_set_features,
	.cleanup = tap_cleanup,
};
NET_BACKEND_SET(tap_backend);

/*
 * pci_virtio_console.c - virtio console device (virtio 1.2, 5.3) with
 * MULTIPORT: each port is a UNIX stream socket bhyve listens on, as
 * FreeBSD's bhyve does.
 *
 * -s N,virtio-console,NAME=/path/to/sock[,NAME2=/path2...][,console=NAME]
 *
 * One client per port at a time (others are accepted and closed); bytes
 * flow both ways while it is connected, and the guest sees it come and go
 * through PORT_OPEN messages.  The guest sees each port's NAME (PORT_NAME;
 * Linux makes /dev/virtio-ports/NAME).  console=NAME (lhyve) announces
 * that port as a console port (CONSOLE_PORT: Linux's hvc0).
 *
 * Queues (5.3.2): port 0 receiveq 0 and transmitq 1, control receiveq 2
 * and transmitq 3, port n receiveq 2n+2 and transmitq 2n+3.
 *
 * Threads: one device thread does all the work, under sc->mtx: it accepts
 * clients, moves bytes between sockets and queues, and speaks the control
 * protocol.  A guest notification only wakes it (an eventfd), so a slow or
 * absent client never blocks a vCPU; a client that does not read holds
 * the guest's transmit buffers until it does, a guest that gives no
 * receive buffers leaves the client's bytes in its socket.
 *
 * Saved state (docs/store.md): the transport, the configuration space and
 * the control protocol's state; not the host side (sockets, clients).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "pci_emul.h"
#include "pci_virtio_console.h"
#include "virtio.h"

/* Feature bits (5.3.3). */
#define VIRTIO_CONSOLE_F_MULTIPORT	(1ULL << 1)
#define VIRTIO_CONSOLE_F_EMERG_WRITE	(1ULL << 2)

#define VTCON_MAXPORTS		16
#define VTCON_QSIZE		64
#define VTCON_CTRL_RXQ		2
#define VTCON_CTRL_TXQ		3
#define VTCON_NAME_MAX		63

struct vtcon_config {
	uint16_t	cols, rows;
	uint32_t	max_nr_ports;
	uint32_t	emerg_wr;
} __attribute__((packed));

struct vtcon_port {
	int		id;
	char		name[VTCON_NAME_MAX + 1];
	char		path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		lfd;		/* listening socket */
	int		cfd;		/* the client, -1 without one */
	bool		console;
	/* Control protocol state (5.3.6.2). */
	bool		added;		/* DEVICE_ADD sent */
	bool		ready;		/* the driver sent PORT_READY */
	bool		guest_open;	/* the driver's last PORT_OPEN */
	bool		hup;		/* the client hung up; bytes may remain to read */
	bool		pend_add, pend_console, pend_name;
	int		sent_open;	/* the host state the driver knows: 0, 1 */
	/* A transmit chain the client has not taken all of yet. */
	struct vq_chain	txc;
	bool		tx_held;
	size_t		tx_off;
};

struct vtcon_softc {
	struct virtio_softc	vs;
	struct vqueue_info	vq[2 * (VTCON_MAXPORTS + 1)];
	struct virtio_consts	consts;
	struct vtcon_config	cfg;
	struct vtcon_config	cfg_ro;		/* what the guest may not change */
	pthread_mutex_t		mtx;
	int			nports;
	struct vtcon_port	ports[VTCON_MAXPORTS];
	bool			multiport;	/* negotiated; atomic */
	bool			dev_ready;	/* the driver sent DEVICE_READY */
	int			wakefd;
	pthread_t		thread;
	bool			started, stop;
	struct vq_chain		chain;		/* scratch */
	struct vtcon_stats	st;
};

static struct vqueue_info *
port_rxq(struct vtcon_softc *sc, struct vtcon_port *p)
{
	return &sc->vq[p->id == 0 ? 0 : 2 * p->id + 2];
}

static struct vqueue_info *
port_txq(struct vtcon_softc *sc, struct vtcon_port *p)
{
	return &sc->vq[p->id == 0 ? 1 : 2 * p->id + 3];
}

/* Whether the driver may use the port's queues now. */
static bool
port_usable(struct vtcon_softc *sc, struct vtcon_port *p)
{
	return __atomic_load_n(&sc->multiport, __ATOMIC_ACQUIRE) ? p->ready : p->id == 0;
}

static void
vtcon_wake(struct vtcon_softc *sc)
{
	uint64_t one = 1;

	if (write(sc->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

static void
port_disconnect(struct vtcon_softc *sc, struct vtcon_port *p)
{
	if (p->cfd < 0)
		return;
	close(p->cfd);
	p->cfd = -1;
	if (p->tx_held) {
		/* What the client did not take is lost with it. */
		vq_relchain(port_txq(sc, p), &p->txc, 0);
		vq_endchains(port_txq(sc, p), false);
		p->tx_held = false;
	}
}

/* ---- control messages (5.3.6.2) ---- */

/* Send one message to the driver; false when it has no buffer for it now. */
static bool
ctrl_send(struct vtcon_softc *sc, uint32_t id, uint16_t event, uint16_t value,
    const char *payload)
{
	struct vqueue_info *vq = &sc->vq[VTCON_CTRL_RXQ];
	struct vq_chain *c = &sc->chain;
	uint8_t msg[8 + VTCON_NAME_MAX];
	size_t len = 8, off = 0;

	if (vq_getchain(vq, c, VQ_CHAIN_MAX) <= 0)
		return false;
	memcpy(msg, &id, 4);
	memcpy(msg + 4, &event, 2);
	memcpy(msg + 6, &value, 2);
	if (payload != NULL) {
		memcpy(msg + 8, payload, strlen(payload));
		len += strlen(payload);
	}
	/* A buffer too small for the message gets what fits. */
	for (int i = 0; i < c->n && off < len; i++) {
		size_t k;

		if (!(c->flags[i] & VRING_DESC_F_WRITE))
			continue;
		k = c->iov[i].iov_len < len - off ? c->iov[i].iov_len : len - off;
		memcpy(c->iov[i].iov_base, msg + off, k);
		off += k;
	}
	vq_relchain(vq, c, (uint32_t)off);
	sc->st.ctrl_sent++;
	return true;
}

/* What the driver should hear about the ports, in order, while it has buffers. */
static void
ctrl_flush(struct vtcon_softc *sc)
{
	struct vqueue_info *vq = &sc->vq[VTCON_CTRL_RXQ];
	bool sent = false;

	if (!__atomic_load_n(&sc->multiport, __ATOMIC_ACQUIRE) || !sc->dev_ready)
		return;
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *p = &sc->ports[i];
		int open = p->cfd >= 0;

		if (p->pend_add) {
			if (!ctrl_send(sc, (uint32_t)p->id, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL))
				break;
			p->pend_add = false;
			p->added = true;
			sent = true;
		}
		if (!p->ready)
			continue;
		if (p->pend_console) {
			if (!ctrl_send(sc, (uint32_t)p->id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL))
				break;
			p->pend_console = false;
			p->sent_open = 1;	/* a console port starts open (Linux) */
			sent = true;
		}
		if (p->pend_name) {
			if (!ctrl_send(sc, (uint32_t)p->id, VIRTIO_CONSOLE_PORT_NAME, 0, p->name))
				break;
			p->pend_name = false;
			sent = true;
		}
		if (p->sent_open != open) {
			if (!ctrl_send(sc, (uint32_t)p->id, VIRTIO_CONSOLE_PORT_OPEN,
			    (uint16_t)open, NULL))
				break;
			p->sent_open = open;
			sent = true;
		}
	}
	if (sent)
		vq_endchains(vq, false);
}

static void
ctrl_handle(struct vtcon_softc *sc, uint32_t id, uint16_t event, uint16_t value)
{
	struct vtcon_port *p = id < (uint32_t)sc->nports ? &sc->ports[id] : NULL;

	sc->st.ctrl_received++;
	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		/* value 1: the driver is ready for the ports (0: it failed). */
		if (value != 1 || sc->dev_ready)
			break;
		sc->dev_ready = true;
		for (int i = 0; i < sc->nports; i++)
			sc->ports[i].pend_add = true;
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		if (p == NULL || !p->added || p->ready || value != 1)
			break;
		p->ready = true;
		p->pend_console = p->console;
		p->pend_name = true;
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (p != NULL && p->ready)
			p->guest_open = value != 0;
		break;
	default:
		/* Unknown, or a device-to-driver event: ignored. */
		sc->st.ctrl_ignored++;
		break;
	}
}

/* The driver's control messages: 8 bytes each, {le32 id, le16 event, le16 value}. */
static void
ctrl_receive(struct vtcon_softc *sc)
{
	struct vqueue_info *vq = &sc->vq[VTCON_CTRL_TXQ];
	struct vq_chain *c = &sc->chain;
	bool any = false;

	while (vq_getchain(vq, c, VQ_CHAIN_MAX) > 0) {
		uint8_t msg[8];
		size_t got = 0;

		for (int i = 0; i < c->n && got < sizeof(msg); i++) {
			size_t k;

			if (c->flags[i] & VRING_DESC_F_WRITE)
				continue;
			k = c->iov[i].iov_len < sizeof(msg) - got ? c->iov[i].iov_len :
			    sizeof(msg) - got;
			memcpy(msg + got, c->iov[i].iov_base, k);
			got += k;
		}
		if (got == sizeof(msg)) {
			uint32_t id;
			uint16_t event, value;

			memcpy(&id, msg, 4);
			memcpy(&event, msg + 4, 2);
			memcpy(&value, msg + 6, 2);
			ctrl_handle(sc, id, event, value);
		} else
			sc->st.ctrl_ignored++;
		vq_relchain(vq, c, 0);
		any = true;
	}
	if (any)
		vq_endchains(vq, true);
}

/* ---- data ---- */

/* Guest -> client, without blocking: what the client cannot take now waits. */
static void
port_transmit(struct vtcon_softc *sc, struct vtcon_port *p)
{
	struct vqueue_info *vq = port_txq(sc, p);
	bool any = false;

	for (;;) {
		if (!p->tx_held) {
			if (vq_getchain(vq, &p->txc, VQ_CHAIN_MAX) <= 0)
				break;
			p->tx_held = true;
			p->tx_off = 0;
		}
		if (p->cfd >= 0) {
			struct iovec iov[VQ_CHAIN_MAX];
			struct msghdr mh = { .msg_iov = iov };
			size_t off = p->tx_off, total = 0;
			ssize_t n;

			for (int i = 0; i < p->txc.n; i++) {
				if (p->txc.flags[i] & VRING_DESC_F_WRITE)
					continue;
				if (off >= p->txc.iov[i].iov_len) {
					off -= p->txc.iov[i].iov_len;
					continue;
				}
				iov[mh.msg_iovlen].iov_base = (uint8_t *)p->txc.iov[i].iov_base + off;
				iov[mh.msg_iovlen].iov_len = p->txc.iov[i].iov_len - off;
				total += iov[mh.msg_iovlen].iov_len;
				mh.msg_iovlen++;
				off = 0;
			}
			if (total > 0) {
				n = sendmsg(p->cfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					break;		/* POLLOUT brings us back */
				if (n < 0) {
					port_disconnect(sc, p);
					continue;	/* the chain was given back */
				}
				sc->st.tx_bytes += (uint64_t)n;
				p->tx_off += (size_t)n;
				if ((size_t)n < total)
					break;
			}
		} else
			sc->st.tx_discarded++;	/* nobody listens: the bytes go nowhere */
		vq_relchain(vq, &p->txc, 0);
		p->tx_held = false;
		any = true;
	}
	if (any)
		vq_endchains(vq, true);
}

/* Client -> guest, while both have something. */
static void
port_receive(struct vtcon_softc *sc, struct vtcon_port *p)
{
	struct vqueue_info *vq = port_rxq(sc, p);
	struct vq_chain *c = &sc->chain;
	bool any = false;

	while (p->cfd >= 0 && vq_getchain(vq, c, VQ_CHAIN_MAX) > 0) {
		struct iovec iov[VQ_CHAIN_MAX];
		int niov = 0;
		ssize_t n;

		for (int i = 0; i < c->n; i++)
			if ((c->flags[i] & VRING_DESC_F_WRITE) && c->iov[i].iov_len > 0)
				iov[niov++] = c->iov[i];
		if (niov == 0) {
			/* No room at all in this one: give it back empty. */
			vq_relchain(vq, c, 0);
			any = true;
			continue;
		}
		n = readv(p->cfd, iov, niov);
		if (n > 0) {
			vq_relchain(vq, c, (uint32_t)n);
			sc->st.rx_bytes += (uint64_t)n;
			any = true;
			continue;
		}
		vq_retchain(vq);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		port_disconnect(sc, p);		/* end of file, or an error */
	}
	if (any)
		vq_endchains(vq, false);
}

static void
port_accept(struct vtcon_softc *sc, struct vtcon_port *p)
{
	int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (p->cfd >= 0) {
		close(fd);	/* one client at a time (bhyve.8) */
		return;
	}
	p->cfd = fd;
	p->hup = false;
	sc->st.connects++;
}

/* Everything there is to do now.  Called with sc->mtx held. */
static void
vtcon_work(struct vtcon_softc *sc)
{
	if (__atomic_load_n(&sc->multiport, __ATOMIC_ACQUIRE))
		ctrl_receive(sc);
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *p = &sc->ports[i];

		if (!port_usable(sc, p))
			continue;
		port_transmit(sc, p);
		port_receive(sc, p);
	}
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *p = &sc->ports[i];
		int unread = 0;

		/* A client that hung up goes once the guest has had all it sent. */
		if (p->cfd >= 0 && p->hup &&
		    (ioctl(p->cfd, FIONREAD, &unread) != 0 || unread == 0))
			port_disconnect(sc, p);
	}
	ctrl_flush(sc);
	sc->st.work_passes++;
}

static void *
vtcon_thread(void *arg)
{
	struct vtcon_softc *sc = arg;
	struct pollfd pfd[1 + 2 * VTCON_MAXPORTS];
	uint64_t cnt;

	pthread_mutex_lock(&sc->mtx);
	while (!sc->stop) {
		int n = 0;

		vtcon_work(sc);
		pfd[n++] = (struct pollfd){ .fd = sc->wakefd, .events = POLLIN };
		for (int i = 0; i < sc->nports; i++) {
			struct vtcon_port *p = &sc->ports[i];
			short ev = 0;

			pfd[n++] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
			if (p->cfd < 0) {
				pfd[n++] = (struct pollfd){ .fd = -1 };
				continue;
			}
			/* Read only when the guest has room; write only when held back. */
			if (port_usable(sc, p) && vq_has_descs(port_rxq(sc, p)))
				ev |= POLLIN;
			if (p->tx_held)
				ev |= POLLOUT;
			/* A hung-up client with nothing to do would wake us forever. */
			pfd[n++] = (struct pollfd){ .fd = p->hup && ev == 0 ? -1 : p->cfd,
			    .events = ev };
		}
		pthread_mutex_unlock(&sc->mtx);
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "bhyve: virtio-console: poll: %s\n", strerror(errno));
			pthread_mutex_lock(&sc->mtx);
			break;
		}
		pthread_mutex_lock(&sc->mtx);
		if (pfd[0].revents & POLLIN)
			(void)!read(sc->wakefd, &cnt, sizeof(cnt));
		for (int i = 0; i < sc->nports; i++) {
			struct vtcon_port *p = &sc->ports[i];

			if (pfd[1 + 2 * i].revents & POLLIN)
				port_accept(sc, p);
			/*
			 * A hang-up: what the client sent before it is read when
			 * the guest has room, then the end of file disconnects.
			 */
			if (p->cfd >= 0 && pfd[2 + 2 * i].fd == p->cfd &&
			    (pfd[2 + 2 * i].revents & (POLLHUP | POLLERR)))
				p->hup = true;
		}
	}
	pthread_mutex_unlock(&sc->mtx);
	return NULL;
}

static void
vtcon_notify(void *dev, struct vqueue_info *vq)
{
	vtcon_wake(dev);
}

static void
vtcon_driver_ok(void *dev)
{
	vtcon_wake(dev);
}

/*
 * Called with the transport's lock held, which the device thread takes
 * (interrupts) while holding sc->mtx: no sc->mtx here.  The features are
 * set before DRIVER_OK, when the thread leaves the queues alone.
 */
static void
vtcon_apply_features(void *dev, uint64_t features)
{
	struct vtcon_softc *sc = dev;

	__atomic_store_n(&sc->multiport, (features & VIRTIO_CONSOLE_F_MULTIPORT) != 0,
	    __ATOMIC_RELEASE);
}

static void
vtcon_reset(void *dev)
{
	struct vtcon_softc *sc = dev;

	/* Clients stay connected across a reset; the protocol starts over. */
	pthread_mutex_lock(&sc->mtx);
	__atomic_store_n(&sc->multiport, false, __ATOMIC_RELEASE);
	sc->dev_ready = false;
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *p = &sc->ports[i];

		p->added = p->ready = p->guest_open = false;
		p->pend_add = p->pend_console = p->pend_name = false;
		p->sent_open = 0;
		p->tx_held = false;
	}
	pthread_mutex_unlock(&sc->mtx);
}

/* Emergency write (5.3.4): a byte for port 0, even before the driver is set up. */
static void
vtcon_cfgwrite(void *dev, uint32_t offset, int size)
{
	struct vtcon_softc *sc = dev;
	uint8_t b;

	/* Only emerg_wr is writable (5.3.4): the transport stored any write; undo the rest. */
	pthread_mutex_lock(&sc->vs.mtx);
	b = (uint8_t)sc->cfg.emerg_wr;
	sc->cfg = sc->cfg_ro;
	pthread_mutex_unlock(&sc->vs.mtx);
	if (offset != offsetof(struct vtcon_config, emerg_wr))
		return;
	pthread_mutex_lock(&sc->mtx);
	if (sc->ports[0].cfd >= 0 && send(sc->ports[0].cfd, &b, 1,
	    MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
		sc->st.tx_bytes++;
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- set-up ---- */

/*
 * The listening socket at @path.  A socket file nobody listens on (left
 * by an earlier bhyve) is replaced; anything else there is an error.
 */
static int
port_listen(struct vtcon_port *p, const char *devname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd;

	memcpy(sun.sun_path, p->path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int probe;
		bool stale;

		if (errno != EADDRINUSE || lstat(p->path, &sb) != 0 || !S_ISSOCK(sb.st_mode))
			goto fail;
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		stale = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) != 0 &&
		    errno == ECONNREFUSED;
		if (probe >= 0)
			close(probe);
		if (!stale) {
			errno = EADDRINUSE;
			goto fail;
		}
		if (unlink(p->path) != 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			goto fail;
	}
	if (listen(fd, 1) != 0)
		goto fail;
	p->lfd = fd;
	return 0;
fail:
	fprintf(stderr, "bhyve: %s: port '%s': cannot listen on '%s': %s\n", devname, p->name,
	    p->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static bool
vtcon_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VTCON_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/*
 * The -s options into port.N.name and port.N.path, N in command-line
 * order (the port's id), and console=NAME.
 */
static int
vtcon_legacy_config(struct config *cfg, const char *node, const char *opts)
{
	char *copy, *str, *tok, *eq, key[64];
	int error = 0, n = 0;

	if (opts == NULL)
		return 0;
	copy = str = strdup(opts);
	if (copy == NULL)
		return -ENOMEM;
	while (error == 0 && (tok = strsep(&str, ",")) != NULL) {
		if (*tok == '\0')
			continue;
		eq = strchr(tok, '=');
		if (eq == NULL || eq == tok || eq[1] == '\0') {
			fprintf(stderr, "bhyve: virtio-console: '%s' is not NAME=/path/to/socket\n",
			    tok);
			error = -EINVAL;
			break;
		}
		*eq = '\0';
		if (strcmp(tok, "console") == 0) {
			error = set_config_value_node(cfg, node, "console", eq + 1);
			continue;
		}
		if (n == VTCON_MAXPORTS) {
			fprintf(stderr, "bhyve: virtio-console: more than %d ports\n", VTCON_MAXPORTS);
			error = -EINVAL;
			break;
		}
		snprintf(key, sizeof(key), "port.%d.name", n);
		error = set_config_value_node(cfg, node, key, tok);
		snprintf(key, sizeof(key), "port.%d.path", n);
		if (error == 0)
			error = set_config_value_node(cfg, node, key, eq + 1);
		n++;
	}
	free(copy);
	return error;
}

static int
vtcon_init(struct pci_devinst *pi, const char *node)
{
	struct config *cfg = pi->pi_vm->cfg;
	const char *console = get_config_value_node(cfg, node, "console");
	struct vtcon_softc *sc;
	char devname[PI_NAMESZ + 32], key[64];
	int error;

	snprintf(devname, sizeof(devname), "virtio-console at %d:%d.%d", pi->pi_bus, pi->pi_slot,
	    pi->pi_func);
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->wakefd = -1;
	sc->vs.pi = pi;
	sc->vs.dev = sc;
	pi->pi_arg = &sc->vs;
	for (int i = 0; i < VTCON_MAXPORTS; i++)
		sc->ports[i].lfd = sc->ports[i].cfd = -1;
	for (int i = 0; i < VTCON_MAXPORTS; i++) {
		struct vtcon_port *p = &sc->ports[i];
		const char *name, *path;

		snprintf(key, sizeof(key), "port.%d.name", i);
		name = get_config_value_node(cfg, node, key);
		snprintf(key, sizeof(key), "port.%d.path", i);
		path = get_config_value_node(cfg, node, key);
		if (name == NULL && path == NULL)
			break;
		if (name == NULL || !vtcon_name_ok(name)) {
			fprintf(stderr, "bhyve: %s: port %d: a name of 1 to %d letters, digits, "
			    "'.', '_' or '-' is needed\n", devname, i, VTCON_NAME_MAX);
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(sc->ports[j].name, name) == 0) {
				fprintf(stderr, "bhyve: %s: two ports named '%s'\n", devname, name);
				return -1;
			}
		if (path == NULL || *path == '\0' || strlen(path) >= sizeof(p->path)) {
			fprintf(stderr, "bhyve: %s: port '%s': a socket path of 1 to %zu bytes is "
			    "needed\n", devname, name, sizeof(p->path) - 1);
			return -1;
		}
		p->id = i;
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->path, sizeof(p->path), "%s", path);
		p->console = console != NULL && strcmp(console, name) == 0;
		sc->nports++;
		if (port_listen(p, devname) != 0)
			return -1;
	}
	if (sc->nports == 0) {
		fprintf(stderr, "bhyve: %s: no port: NAME=/path/to/socket is needed\n", devname);
		return -1;
	}
	if (console != NULL) {
		bool found = false;

		for (int i = 0; i < sc->nports; i++)
			found |= sc->ports[i].console;
		if (!found) {
			fprintf(stderr, "bhyve: %s: console=%s names no port\n", devname, console);
			return -1;
		}
	}
	sc->cfg.cols = 80;
	sc->cfg.rows = 25;
	sc->cfg.max_nr_ports = (uint32_t)sc->nports;
	sc->cfg_ro = sc->cfg;
	sc->consts = (struct virtio_consts){
		.name = "virtio-console",
		.nvq = 2 * (sc->nports + 1),
		.device_id = VIRTIO_ID_CONSOLE,
		.class = 0x07, .subclass = 0x80,	/* simple communications, other */
		.features = VIRTIO_CONSOLE_F_MULTIPORT | VIRTIO_CONSOLE_F_EMERG_WRITE,
		.cfg = &sc->cfg,
		.cfgsize = sizeof(sc->cfg),
		.reset = vtcon_reset,
		.qnotify = vtcon_notify,
		.cfgwrite = vtcon_cfgwrite,
		.apply_features = vtcon_apply_features,
		.driver_ok = vtcon_driver_ok,
	};
	for (int i = 0; i < sc->consts.nvq; i++)
		sc->vq[i].max = VTCON_QSIZE;
	if (vs_init(&sc->vs, &sc->consts, sc, pi, sc->vq) != 0)
		return -1;
	sc->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sc->wakefd < 0 || (error = pthread_create(&sc->thread, NULL, vtcon_thread, sc)) != 0) {
		fprintf(stderr, "bhyve: %s: cannot start its thread\n", devname);
		return -1;
	}
	sc->started = true;
	return 0;
}

static void
vtcon_deinit(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtcon_softc *sc;

	if (vs == NULL)
		return;
	sc = vs->dev;
	vs_deinit(&sc->vs);
	if (sc->started) {
		pthread_mutex_lock(&sc->mtx);
		sc->stop = true;
		pthread_mutex_unlock(&sc->mtx);
		vtcon_wake(sc);
		pthread_join(sc->thread, NULL);
	}
	for (int i = 0; i < VTCON_MAXPORTS; i++) {
		struct vtcon_port *p = &sc->ports[i];

		if (p->cfd >= 0)
			close(p->cfd);
		if (p->lfd >= 0) {
			close(p->lfd);
			unlink(p->path);	/* ours: made by port_listen */
		}
	}
	if (sc->wakefd >= 0)
		close(sc->wakefd);
	pthread_mutex_destroy(&sc->mtx);
	if (sc->vs.vc != NULL)
		pthread_mutex_destroy(&sc->vs.mtx);
	free(sc);
	pi->pi_arg = NULL;
}

int
vtcon_get_stats(struct pci_devinst *pi, struct vtcon_stats *st)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtcon_softc *sc;

	if (vs == NULL || vs->vc == NULL || vs->vc->device_id != VIRTIO_ID_CONSOLE)
		return -ENODEV;
	sc = vs->dev;
	pthread_mutex_lock(&sc->mtx);
	*st = sc->st;
	pthread_mutex_unlock(&sc->mtx);
	return 0;
}

/* ---- the instance store ---- */

/*
 * Device data (docs/store.md): u32 vs_len, the transport's state
 * (vs_snapshot_save), then u8 version, u8 nports, u8 dev_ready, u8 0,
 * the config space (5.3.4: u16 cols, u16 rows, u32 max_nr_ports,
 * u32 emerg_wr) and one flags byte per port.  The host side (sockets,
 * clients) is not saved: it comes from the command line again.
 */
#define VTCON_SNAP_VERSION	1
#define VTCON_SNAP_FIXED	(4 + 12)
#define PF_ADDED		0x01
#define PF_READY		0x02
#define PF_GUEST_OPEN		0x04
#define PF_PEND_ADD		0x08
#define PF_PEND_CONSOLE		0x10
#define PF_PEND_NAME		0x20
#define PF_SENT_OPEN		0x40

static ssize_t
vtcon_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap)
{
	struct vtcon_softc *sc = ((struct virtio_softc *)pi->pi_arg)->dev;
	ssize_t vlen = vs_snapshot_save(pi, NULL, 0);
	size_t len;
	uint8_t *p;
	uint32_t v32;

	if (vlen < 0)
		return vlen;
	len = 4 + (size_t)vlen + VTCON_SNAP_FIXED + (size_t)sc->nports;
	if (buf == NULL || cap < len)
		return (ssize_t)len;
	pthread_mutex_lock(&sc->mtx);
	/*
	 * A transmit chain held for a slow client goes back to the available
	 * ring in the file (2.7.13): the restored device takes it again.
	 */
	pthread_mutex_lock(&sc->vs.mtx);
	for (int i = 0; i < sc->nports; i++)
		if (sc->ports[i].tx_held)
			port_txq(sc, &sc->ports[i])->last_avail--;
	pthread_mutex_unlock(&sc->vs.mtx);
	v32 = (uint32_t)vlen;
	memcpy(buf, &v32, 4);
	vlen = vs_snapshot_save(pi, buf + 4, (size_t)vlen);
	pthread_mutex_lock(&sc->vs.mtx);
	for (int i = 0; i < sc->nports; i++)
		if (sc->ports[i].tx_held)
			port_txq(sc, &sc->ports[i])->last_avail++;
	p = buf + 4 + v32;
	p[0] = VTCON_SNAP_VERSION;
	p[1] = (uint8_t)sc->nports;
	p[2] = sc->dev_ready;
	p[3] = 0;
	memcpy(p + 4, &sc->cfg.cols, 2);
	memcpy(p + 6, &sc->cfg.rows, 2);
	memcpy(p + 8, &sc->cfg.max_nr_ports, 4);
	memcpy(p + 12, &sc->cfg.emerg_wr, 4);
	pthread_mutex_unlock(&sc->vs.mtx);
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *pt = &sc->ports[i];

		p[VTCON_SNAP_FIXED + i] = (uint8_t)((pt->added ? PF_ADDED : 0) |
		    (pt->ready ? PF_READY : 0) | (pt->guest_open ? PF_GUEST_OPEN : 0) |
		    (pt->pend_add ? PF_PEND_ADD : 0) | (pt->pend_console ? PF_PEND_CONSOLE : 0) |
		    (pt->pend_name ? PF_PEND_NAME : 0) | (pt->sent_open ? PF_SENT_OPEN : 0));
	}
	pthread_mutex_unlock(&sc->mtx);
	return vlen < 0 ? vlen : (ssize_t)len;
}

/* Whether a port's saved flags are a state the control protocol reaches (5.3.6.2). */
static bool
vtcon_flags_ok(const struct vtcon_port *p, uint8_t f, bool dev_ready)
{
	if (f & ~0x7f)
		return false;
	if (!dev_ready)
		return f == 0;
	if ((f & PF_ADDED) && (f & PF_PEND_ADD))
		return false;
	if (!(f & PF_ADDED) && !(f & PF_PEND_ADD))
		return false;
	if ((f & PF_READY) && !(f & PF_ADDED))
		return false;
	if ((f & (PF_GUEST_OPEN | PF_PEND_CONSOLE | PF_PEND_NAME | PF_SENT_OPEN)) &&
	    !(f & PF_READY))
		return false;
	return !(f & PF_PEND_CONSOLE) || p->console;
}

static int
vtcon_snapshot_restore(struct pci_devinst *pi, const uint8_t *data, size_t len)
{
	struct vtcon_softc *sc = ((struct virtio_softc *)pi->pi_arg)->dev;
	struct vtcon_config cfg;
	const uint8_t *p;
	uint32_t vlen;
	bool dev_ready;
	int error;

	/* Untrusted: every size and value is checked before anything changes. */
	if (data == NULL || len < 4)
		return -EINVAL;
	memcpy(&vlen, data, 4);
	if (vlen > len - 4 ||
	    len - 4 - vlen != VTCON_SNAP_FIXED + (size_t)sc->nports)
		return -EINVAL;
	p = data + 4 + vlen;
	if (p[0] != VTCON_SNAP_VERSION || p[1] != sc->nports || p[2] > 1 || p[3] != 0)
		return -EINVAL;
	dev_ready = p[2] != 0;
	memcpy(&cfg.cols, p + 4, 2);
	memcpy(&cfg.rows, p + 6, 2);
	memcpy(&cfg.max_nr_ports, p + 8, 4);
	memcpy(&cfg.emerg_wr, p + 12, 4);
	/* Only emerg_wr is the driver's to write (5.3.4). */
	if (cfg.cols != sc->cfg_ro.cols || cfg.rows != sc->cfg_ro.rows ||
	    cfg.max_nr_ports != sc->cfg_ro.max_nr_ports)
		return -EINVAL;
	for (int i = 0; i < sc->nports; i++)
		if (!vtcon_flags_ok(&sc->ports[i], p[VTCON_SNAP_FIXED + i], dev_ready))
			return -EINVAL;
	/* sc->mtx before vs.mtx, as the device thread takes them. */
	pthread_mutex_lock(&sc->mtx);
	if ((error = vs_snapshot_restore(pi, data + 4, vlen)) != 0) {
		pthread_mutex_unlock(&sc->mtx);
		return error;
	}
	pthread_mutex_lock(&sc->vs.mtx);
	sc->cfg = cfg;
	pthread_mutex_unlock(&sc->vs.mtx);
	sc->dev_ready = dev_ready;
	for (int i = 0; i < sc->nports; i++) {
		struct vtcon_port *pt = &sc->ports[i];
		uint8_t f = p[VTCON_SNAP_FIXED + i];

		pt->added = f & PF_ADDED;
		pt->ready = f & PF_READY;
		pt->guest_open = f & PF_GUEST_OPEN;
		pt->pend_add = f & PF_PEND_ADD;
		pt->pend_console = f & PF_PEND_CONSOLE;
		pt->pend_name = f & PF_PEND_NAME;
		/*
		 * The driver's idea of the host side; a port whose client is
		 * gone hears PORT_OPEN 0 from the next flush.
		 */
		pt->sent_open = (f & PF_SENT_OPEN) ? 1 : 0;
		pt->tx_held = false;	/* the file gave held chains back */
	}
	pthread_mutex_unlock(&sc->mtx);
	vtcon_wake(sc);
	return 0;
}

static const struct pci_devemu pci_de_vcon = {
	.pe_emu = "virtio-console",
	.pe_legacy_config = vtcon_legacy_config,
	.pe_init = vtcon_init,
	.pe_deinit = vtcon_deinit,
	.pe_barread = vs_bar_read,
	.pe_barwrite = vs_bar_write,
	.pe_cfgread = vs_cfgread,
	.pe_cfgwrite = vs_cfgwrite,
	.pe_baraddr = vs_baraddr,
	.pe_snapshot_save = vtcon_snapshot_save,
	.pe_snapshot_restore = vtcon_snapshot_restore,
};
PCI_EMUL_SET(pci_de_vcon);

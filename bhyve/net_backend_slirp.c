/*
 * net_backend_slirp.c - user-mode networking through libslirp: the guest
 * is on 10.0.2.0/24 behind NAT, as with QEMU's "-nic user": the host side
 * is 10.0.2.2, DNS 10.0.2.3, DHCP hands out 10.0.2.15 onwards.  No
 * privileges needed.
 *
 *   -s N,virtio-net,slirp[,hostfwd=RULE[;RULE...]]...[,mtu=N]
 *   RULE: tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport
 *
 * The device's mtu= (1500 without) is slirp's MTU and MRU too, so the
 * TCP segments slirp sends the guest, and the MSS it offers, follow it.
 *
 * libslirp is not thread-safe, so one thread owns the Slirp instance: it
 * polls slirp's sockets, runs its timers, feeds it the guest's frames
 * (queued by netbe_send() on a vCPU thread, with an eventfd to wake it),
 * and delivers slirp's frames to the guest.  Before the thread starts, the
 * main thread creates the instance and adds the forwards (so a port in use
 * is an error before the guest runs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "bhyve.h"
#include "config.h"
#include "net_backends.h"

/* Guest frames waiting for the slirp thread: bounded, then dropped. */
#define SLIRP_TXQ_MAX_FRAMES	1024
#define SLIRP_TXQ_MAX_BYTES	(4u << 20)
/* libslirp's IF_MTU_MAX. */
#define SLIRP_MAX_MTU		65521
/* Guest errors slirp reports that we print; the rest are counted. */
#define SLIRP_GUEST_ERRORS	5

struct slirp_frame {
	struct slirp_frame *next;
	size_t		len;
	uint8_t		data[];
};

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb	cb;
	void		*cb_opaque;
	int64_t		expire_ms;	/* -1: not armed */
};

struct slirp_priv {
	Slirp		*slirp;
	const char	*devname;
	int		wakefd;
	pthread_t	thread;
	bool		started;
	bool		stop;		/* atomic */
	/* Guest -> slirp frames, under txq_mtx. */
	pthread_mutex_t	txq_mtx;
	struct slirp_frame *txq_head, *txq_tail;
	size_t		txq_count, txq_bytes;
	/* Slirp -> guest frames the guest has no room for (slirp thread). */
	struct netbe_holdq holdq;
	struct net_backend *be;
	/* Slirp's timers and poll set (slirp thread). */
	struct slirp_timer *timers;
	struct pollfd	*pfds;
	int		npfds, maxpfds;
	int		guest_errors;
};

static int64_t
slirp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
slirp_wake(struct slirp_priv *sp)
{
	uint64_t one = 1;

	if (write(sp->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

/* ---- callbacks from libslirp, on the slirp thread (or init) ---- */

static ssize_t
cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_priv *sp = opaque;

	netbe_holdq_deliver(sp->be, &sp->holdq, buf, len);
	return (ssize_t)len;
}

static void
cb_guest_error(const char *msg, void *opaque)
{
	struct slirp_priv *sp = opaque;

	if (sp->guest_errors++ < SLIRP_GUEST_ERRORS)
		fprintf(stderr, "bhyve: %s: slirp: guest error: %s\n", sp->devname, msg);
}

static int64_t
cb_clock_get_ns(void *opaque)
{
	return slirp_now_ns();
}

static void *
cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_priv *sp = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = sp->timers;
	sp->timers = t;
	return t;
}

static void
cb_timer_free(void *timer, void *opaque)
{
	struct slirp_priv *sp = opaque;

	for (struct slirp_timer **pp = &sp->timers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
}

static void
cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct slirp_timer *)timer)->expire_ms = expire_ms;
}

static void
cb_register_poll_fd(int fd, void *opaque)
{
}

static void
cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void
cb_notify(void *opaque)
{
	slirp_wake(opaque);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

static int
add_poll(int fd, int events, void *opaque)
{
	struct slirp_priv *sp = opaque;
	short ev = 0;

	if (sp->npfds == sp->maxpfds) {
		int n = sp->maxpfds ? 2 * sp->maxpfds : 16;
		struct pollfd *p = realloc(sp->pfds, (size_t)n * sizeof(*p));

		if (p == NULL)
			return -1;
		sp->pfds = p;
		sp->maxpfds = n;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	sp->pfds[sp->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return sp->npfds++;
}

static int
get_revents(int idx, void *opaque)
{
	struct slirp_priv *sp = opaque;
	short rev;
	int r = 0;

	if (idx < 0 || idx >= sp->npfds)
		return 0;
	rev = sp->pfds[idx].revents;
	if (rev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		r |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* Feed slirp the guest's queued frames. */
static void
slirp_drain_txq(struct slirp_priv *sp)
{
	struct slirp_frame *f, *next;

	pthread_mutex_lock(&sp->txq_mtx);
	f = sp->txq_head;
	sp->txq_head = sp->txq_tail = NULL;
	sp->txq_count = sp->txq_bytes = 0;
	pthread_mutex_unlock(&sp->txq_mtx);
	for (; f != NULL; f = next) {
		next = f->next;
		slirp_input(sp->slirp, f->data, (int)f->len);
		free(f);
	}
}

static void
slirp_run_timers(struct slirp_priv *sp)
{
	int64_t now = slirp_now_ns() / 1000000;
	bool again = true;

	/* A callback may free or re-arm timers: rescan after each. */
	while (again) {
		again = false;
		for (struct slirp_timer *t = sp->timers; t != NULL; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				t->cb(t->cb_opaque);
				again = true;
				break;
			}
	}
}

static void *
slirp_thread(void *arg)
{
	struct slirp_priv *sp = arg;
	uint64_t cnt;

	while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
		uint32_t timeout = UINT32_MAX;
		int64_t now_ms = slirp_now_ns() / 1000000;
		int n;

		sp->npfds = 0;
		add_poll(sp->wakefd, SLIRP_POLL_IN, sp);
		slirp_pollfds_fill(sp->slirp, &timeout, add_poll, sp);
		for (struct slirp_timer *t = sp->timers; t != NULL; t = t->next)
			if (t->expire_ms >= 0) {
				int64_t d = t->expire_ms - now_ms;
				uint32_t dd = d < 0 ? 0 : d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;

				if (dd < timeout)
					timeout = dd;
			}
		n = poll(sp->pfds, (nfds_t)sp->npfds, timeout == UINT32_MAX ? -1 :
		    timeout > 1000000 ? 1000000 : (int)timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "bhyve: %s: slirp: poll: %s\n", sp->devname, strerror(errno));
			break;
		}
		if (n > 0 && (sp->pfds[0].revents & POLLIN))
			(void)!read(sp->wakefd, &cnt, sizeof(cnt));
		/* Frames held for the guest first: the wake-up may be its new buffers. */
		netbe_holdq_flush(sp->be, &sp->holdq);
		slirp_drain_txq(sp);
		slirp_pollfds_poll(sp->slirp, n < 0, get_revents, sp);
		slirp_run_timers(sp);
	}
	return NULL;
}

/* "[addr]:port" into @sin; @what names it in errors. */
static int
parse_addr_port(char *s, struct sockaddr_in *sin, const char *rule, const char *what,
    const char *devname, bool port_zero_ok)
{
	char *colon = strrchr(s, ':'), *end;
	unsigned long port;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (colon == NULL) {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': the %s needs [address]:port\n",
		    devname, rule, what);
		return -1;
	}
	*colon = '\0';
	if (*s != '\0' && inet_pton(AF_INET, s, &sin->sin_addr) != 1) {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': '%s' is not an IPv4 address\n",
		    devname, rule, s);
		return -1;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port > 65535 ||
	    (port == 0 && !port_zero_ok)) {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': bad %s port '%s'\n", devname, rule,
		    what, colon + 1);
		return -1;
	}
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

/* An empty host address is every address of the host. */
int
slirp_parse_hostfwd(const char *rule, bool *udp, struct sockaddr_in *host,
    struct sockaddr_in *guest, const char *devname)
{
	char *copy = strdup(rule), *p, *dash;
	int error = -1;

	if (copy == NULL)
		return -1;
	p = strchr(copy, ':');
	if (p == NULL) {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': expected tcp|udp:[hostaddr]:hostport-"
		    "[guestaddr]:guestport\n", devname, rule);
		goto out;
	}
	*p++ = '\0';
	if (strcmp(copy, "tcp") == 0)
		*udp = false;
	else if (strcmp(copy, "udp") == 0)
		*udp = true;
	else {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': unknown protocol '%s' (tcp or udp)\n",
		    devname, rule, copy);
		goto out;
	}
	dash = strchr(p, '-');
	if (dash == NULL) {
		fprintf(stderr, "bhyve: %s: hostfwd '%s': no '-' between the host and the guest "
		    "side\n", devname, rule);
		goto out;
	}
	*dash++ = '\0';
	if (parse_addr_port(p, host, rule, "host", devname, false) != 0 ||
	    parse_addr_port(dash, guest, rule, "guest", devname, false) != 0)
		goto out;
	if (guest->sin_addr.s_addr == htonl(INADDR_ANY))
		guest->sin_addr.s_addr = htonl(0x0a00020f);	/* 10.0.2.15 */
	error = 0;
out:
	free(copy);
	return error;
}

static int
slirp_add_forwards(struct slirp_priv *sp, const char *rules)
{
	char *copy = strdup(rules), *str, *rule;
	int error = 0;

	if (copy == NULL)
		return -1;
	str = copy;
	while (error == 0 && (rule = strsep(&str, ";")) != NULL) {
		struct sockaddr_in host, guest;
		bool udp;

		if (*rule == '\0')
			continue;
		if (slirp_parse_hostfwd(rule, &udp, &host, &guest, sp->devname) != 0) {
			error = -1;
			break;
		}
		errno = 0;
		if (slirp_add_hostxfwd(sp->slirp, (struct sockaddr *)&host, sizeof(host),
		    (struct sockaddr *)&guest, sizeof(guest), udp ? SLIRP_HOSTFWD_UDP : 0) != 0) {
			fprintf(stderr, "bhyve: %s: hostfwd '%s': cannot listen on the host port: %s\n",
			    sp->devname, rule, errno ? strerror(errno) : "refused by slirp");
			error = -1;
		}
	}
	free(copy);
	return error;
}

static void
slirp_free_state(struct slirp_priv *sp)
{
	struct slirp_frame *f;

	if (sp->slirp != NULL)
		slirp_cleanup(sp->slirp);
	sp->slirp = NULL;
	while (sp->timers != NULL) {
		struct slirp_timer *t = sp->timers;

		sp->timers = t->next;
		free(t);
	}
	while ((f = sp->txq_head) != NULL) {
		sp->txq_head = f->next;
		free(f);
	}
	netbe_holdq_fini(&sp->holdq);
	free(sp->pfds);
	if (sp->wakefd >= 0)
		close(sp->wakefd);
	pthread_mutex_destroy(&sp->txq_mtx);
}

static int
slirp_be_init(struct net_backend *be, struct config *cfg, const char *node,
    const char *devname)
{
	struct slirp_priv *sp = be->priv;
	const char *rules = get_config_value_node(cfg, node, "hostfwd");
	const char *mtu = get_config_value_node(cfg, node, "mtu");
	SlirpConfig sc = {
		.version = 4,
		.restricted = false,
		.in_enabled = true,
		.vnetwork.s_addr = htonl(0x0a000200),		/* 10.0.2.0/24 */
		.vnetmask.s_addr = htonl(0xffffff00),
		.vhost.s_addr = htonl(0x0a000202),		/* 10.0.2.2 */
		.vdhcp_start.s_addr = htonl(0x0a00020f),	/* 10.0.2.15 */
		.vnameserver.s_addr = htonl(0x0a000203),	/* 10.0.2.3 */
		.in6_enabled = false,
		.if_mtu = 1500,
		.if_mru = 1500,
		.enable_emu = false,
	};
	int error;

	/* The device checked mtu= as a number from 68 (libslirp's IF_MTU_MIN too). */
	if (mtu != NULL) {
		unsigned long v = strtoul(mtu, NULL, 10);

		if (v > SLIRP_MAX_MTU) {
			fprintf(stderr, "bhyve: %s: slirp carries an mtu of at most %d\n", devname,
			    SLIRP_MAX_MTU);
			return -1;
		}
		sc.if_mtu = sc.if_mru = v;
	}
	sp->be = be;
	sp->devname = devname;
	/* slirp wants whole frames, and checksums what it builds. */
	be->rx_csum_valid = true;
	sp->wakefd = -1;
	pthread_mutex_init(&sp->txq_mtx, NULL);
	netbe_holdq_init(&sp->holdq);
	sp->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sp->wakefd < 0) {
		fprintf(stderr, "bhyve: %s: slirp: eventfd: %s\n", devname, strerror(errno));
		goto fail;
	}
	sp->slirp = slirp_new(&sc, &slirp_callbacks, sp);
	if (sp->slirp == NULL) {
		fprintf(stderr, "bhyve: %s: slirp: cannot create the user-mode network\n", devname);
		goto fail;
	}
	if (rules != NULL && slirp_add_forwards(sp, rules) != 0)
		goto fail;
	if ((error = pthread_create(&sp->thread, NULL, slirp_thread, sp)) != 0) {
		fprintf(stderr, "bhyve: %s: slirp: cannot start its thread: %s\n", devname,
		    strerror(error));
		goto fail;
	}
	sp->started = true;
	return 0;
fail:
	slirp_free_state(sp);
	return -1;
}

static int
slirp_be_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
    int iovcnt, size_t len)
{
	struct slirp_priv *sp = be->priv;
	struct slirp_frame *f;
	size_t off = 0;

	pthread_mutex_lock(&sp->txq_mtx);
	if (sp->txq_count >= SLIRP_TXQ_MAX_FRAMES || sp->txq_bytes + len > SLIRP_TXQ_MAX_BYTES) {
		pthread_mutex_unlock(&sp->txq_mtx);
		return -ENOBUFS;
	}
	sp->txq_count++;
	sp->txq_bytes += len;
	pthread_mutex_unlock(&sp->txq_mtx);
	f = malloc(sizeof(*f) + len);
	if (f == NULL) {
		pthread_mutex_lock(&sp->txq_mtx);
		sp->txq_count--;
		sp->txq_bytes -= len;
		pthread_mutex_unlock(&sp->txq_mtx);
		return -ENOMEM;
	}
	for (int i = 0; i < iovcnt; i++) {
		memcpy(f->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	f->len = len;
	f->next = NULL;
	pthread_mutex_lock(&sp->txq_mtx);
	if (sp->txq_tail != NULL)
		sp->txq_tail->next = f;
	else
		sp->txq_head = f;
	sp->txq_tail = f;
	pthread_mutex_unlock(&sp->txq_mtx);
	slirp_wake(sp);
	return 0;
}

static void
slirp_be_rx_ready(struct net_backend *be)
{
	slirp_wake(be->priv);
}

static void
slirp_be_cleanup(struct net_backend *be)
{
	struct slirp_priv *sp = be->priv;

	if (sp->started) {
		__atomic_store_n(&sp->stop, true, __ATOMIC_RELEASE);
		slirp_wake(sp);
		pthread_join(sp->thread, NULL);
	}
	slirp_free_state(sp);
}

static const struct net_backend_ops slirp_backend = {
	.prefix = "slirp",
	.priv_size = sizeof(struct slirp_priv),
	.init = slirp_be_init,
	.send = slirp_be_send,
	.rx_ready = slirp_be_rx_ready,
	.cleanup = slirp_be_cleanup,
};
NET_BACKEND_SET(slirp_backend);

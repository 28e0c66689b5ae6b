/*
 * net_backends.h - the host side of a guest network interface: where the
 * frames a guest sends go, and where the frames it receives come from
 * (FreeBSD's usr.sbin/bhyve/net_backends.h, reduced to what lhyve's
 * virtio-net needs).
 *
 * A backend is chosen by the device's "backend" configuration value:
 *   slirp       user-mode NAT through libslirp (net_backend_slirp.c)
 *   tapN        a Linux tap interface (also backend=tap with tap=NAME)
 * Backends register themselves with NET_BACKEND_SET() (a linker section,
 * as PCI devices do), so a test can add its own.
 *
 * Threads: netbe_send() runs on the caller's thread (a vCPU) and never
 * blocks.  Each backend delivers received frames from a thread of its own
 * by calling the rx callback; when the callback reports that the guest has
 * no buffers, the backend holds the frame (a bounded number of them), and
 * tries again after netbe_rx_ready().  Frames beyond the bound are dropped
 * and counted: the backend never waits for the guest.
 */
#ifndef LHYVE_NET_BACKENDS_H
#define LHYVE_NET_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <netinet/in.h>

struct config;
struct net_backend;
struct vnet_hdr;

/* Largest Ethernet frame a backend carries (no FCS): 64 KiB, as virtio-net. */
#define NETBE_MAX_FRAME		65536
/* Most buffers a frame from the guest comes in (a virtqueue chain). */
#define NETBE_MAX_IOV		256

/*
 * Hand a received frame to the guest; called from the backend's thread.
 * @hdr is the frame's virtio-net header from a backend with vnet_hdr set,
 * else NULL.  Returns 0 when the frame was taken (delivered or dropped by
 * the device), -EAGAIN when the guest has no room for it now.
 */
typedef int (*netbe_rx_t)(void *arg, const struct vnet_hdr *hdr, const void *frame,
    size_t len);

struct net_backend_ops {
	const char	*prefix;	/* "slirp"; "tap" matches tap0 too */
	size_t		priv_size;
	/*
	 * Set up from the device's config node (@devname names the device in
	 * messages) and start delivering; prints one line and fails on a
	 * bad option or a host resource it cannot get.
	 */
	int		(*init)(struct net_backend *be, struct config *cfg,
			    const char *node, const char *devname);
	/*
	 * One frame from the guest; 0, or a negative errno if dropped.  @hdr
	 * (checked against the negotiated features) when vnet_hdr is set,
	 * else NULL.
	 */
	int		(*send)(struct net_backend *be, const struct vnet_hdr *hdr,
			    const struct iovec *iov, int iovcnt, size_t len);
	/* The guest made receive buffers available: deliver held frames. */
	void		(*rx_ready)(struct net_backend *be);
	/*
	 * The driver negotiated @features (0 at reset): a vnet_hdr backend
	 * lets through only the offloads the guest takes.  May be NULL.
	 */
	int		(*set_features)(struct net_backend *be, uint64_t features);
	/* Stop the backend's thread and free what init took. */
	void		(*cleanup)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	netbe_rx_t	rx;
	void		*rx_arg;
	void		*priv;		/* ops->priv_size bytes */
	/*
	 * Set by init.  vnet_hdr: frames cross with a struct vnet_hdr both
	 * ways, and caps are the virtio-net offload features (VIRTIO_NET_F_*)
	 * the backend carries that way (a tap).  Without it the device does
	 * the offloads itself.  rx_csum_valid: the frames it delivers have
	 * correct checksums (slirp builds them), so the device may say
	 * DATA_VALID.
	 */
	bool		vnet_hdr;
	uint64_t	caps;
	bool		rx_csum_valid;
	/* Frames dropped by the backend: its queues were full. */
	uint64_t	tx_dropped, rx_dropped;	/* atomic */
};

#define NET_BACKEND_SET(x)						\
	static const struct net_backend_ops *const net_backend_set_##x	\
	    __attribute__((used, section("net_backend_set"),		\
	    aligned(sizeof(void *)))) = &(x)

/*
 * The backend named by the node's "backend" value, started, in *bep; -1
 * with one line on stderr if it is unknown or fails.  A node without a
 * backend is not an error (*bep is NULL): an unconnected interface.
 */
int	netbe_init(struct config *cfg, const char *node, const char *devname,
	    netbe_rx_t rx, void *arg, struct net_backend **bep);
int	netbe_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
	    int iovcnt, size_t len);
void	netbe_rx_ready(struct net_backend *be);
int	netbe_set_features(struct net_backend *be, uint64_t features);
void	netbe_cleanup(struct net_backend *be);
/* The registered backends' prefixes, for messages: "slirp, tap". */
const char *netbe_names(void);

/*
 * -s N,virtio-net,BACKEND[,key=value...]: the first word is the backend;
 * hostfwd= may be repeated (the rules are joined with ';').
 */
int	netbe_legacy_config(struct config *cfg, const char *node, const char *opts);

/*
 * One slirp hostfwd rule, bhyve.8's tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport
 * (net_backend_slirp.c); an empty guest address is 10.0.2.15.  0, or -1
 * with one line naming the problem.
 */
int	slirp_parse_hostfwd(const char *rule, bool *udp, struct sockaddr_in *host,
	    struct sockaddr_in *guest, const char *devname);

/*
 * A bounded queue of received frames a backend holds while the guest has
 * no buffers (copies), for backends whose source cannot be left unread.
 * Only the backend's thread uses it.
 */
struct netbe_holdq {
	struct netbe_held *head, *tail;
	size_t		count, bytes;
};

void	netbe_holdq_init(struct netbe_holdq *q);
void	netbe_holdq_fini(struct netbe_holdq *q);
/*
 * Deliver @frame, or hold it behind frames already held; counts a drop
 * when the queue is full.  Backend thread only.
 */
void	netbe_holdq_deliver(struct net_backend *be, struct netbe_holdq *q,
	    const void *frame, size_t len);
/* Deliver held frames until the guest runs out of room.  Backend thread only. */
void	netbe_holdq_flush(struct net_backend *be, struct netbe_holdq *q);

#endif /* LHYVE_NET_BACKENDS_H */

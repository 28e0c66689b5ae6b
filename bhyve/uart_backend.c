/*
 * uart_backend.c - host side of the serial ports: "stdio" (our stdin and
 * stdout), a terminal path, a new pseudo-terminal ("/dev/ptmx" or
 * "/dev/pts/ptmx": its name is printed, as nmdm serves bhyve users), or a
 * TCP socket ("tcp=ip:port": one client at a time, reconnects).
 *
 * Each backend has one I/O thread that polls the input, the output and an
 * eventfd, and feeds the port through its rx callback.  Output from the
 * vCPU thread that wrote THR goes into a ring the I/O thread drains, so a
 * console nobody reads (a stopped terminal, a full pipe, no TCP client)
 * never blocks a vCPU: when the ring is full, bytes are dropped and
 * counted.
 *
 * Process-wide state: a terminal's mode belongs to the terminal, not to a
 * VM, and a signal handler must be able to put it back without any VM
 * pointer.  So the saved termios live in one static table (one slot per
 * terminal we made raw) read by the async-signal-safe
 * uart_backend_restore_all(); likewise "stdio" can serve one port of one VM
 * at a time.  Everything else is per backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bhyve.h"
#include "uart_backend.h"

#define	UART_TTY_SLOTS	8	/* com1-com4 of a VM, with room to spare */
#define	UART_PENDSZ	64
#define	UART_OUTSZ	(256 * 1024)	/* output ring */

struct uart_backend {
	const char	*ub_name;
	int		ub_rfd;		/* -1 without input */
	bool		ub_rdone;	/* input hit EOF or a hard error */
	int		ub_wfd;
	bool		ub_close_rfd;	/* we opened it */
	bool		ub_close_wfd;
	bool		ub_stdio;
	int		ub_tty_slot;	/* -1 if we did not change a terminal */
	int		ub_evfd;	/* wakeups: room in the port, or quit */
	bool		ub_quit;	/* atomic */
	bool		ub_wdead;	/* atomic: output failed for good */
	pthread_t	ub_thread;
	bool		ub_thread_started;
	uart_backend_rx_t ub_rx;
	void		*ub_rx_arg;
	uint8_t		ub_pend[UART_PENDSZ];	/* read but not yet taken */
	size_t		ub_pendoff;
	size_t		ub_npend;
	bool		ub_esc;		/* stdio terminal: Ctrl-A seen */
	/* Output ring: vCPU threads fill it, the I/O thread drains it. */
	pthread_mutex_t	ub_omtx;
	uint8_t		*ub_out;
	size_t		ub_ohead, ub_onum;
	uint64_t	ub_dropped;
	/* tcp=: the listening socket, and the client (ub_rfd = ub_wfd) if any. */
	int		ub_lfd;
	/* A pty we made: our own slave fd keeps the master from EIO/HUP. */
	int		ub_pty_slave;
};

/*
 * The console escape on a stdio terminal, as QEMU's: the terminal is raw,
 * so Ctrl-C belongs to the guest; Ctrl-A x stops bhyve and keeps the guest
 * (bhyve's escape hook: stop-and-keep, exit status 5; SIGTERM without one),
 * Ctrl-A Ctrl-A sends one Ctrl-A.
 */
#define	UART_ESC	0x01

static void (*_Atomic uart_escape_hook)(void);

void
uart_backend_set_escape_hook(void (*fn)(void))
{
	uart_escape_hook = fn;
}

/*
 * Filters @n bytes of @in into @out (room for 2 * @n: an escape that began
 * in an earlier read may add back its Ctrl-A); returns the bytes for the guest.
 */
static size_t
uart_backend_escape(struct uart_backend *be, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (!be->ub_esc) {
			if (in[i] == UART_ESC)
				be->ub_esc = true;
			else
				out[o++] = in[i];
			continue;
		}
		be->ub_esc = false;
		if (in[i] == 'x' || in[i] == 'X') {
			void (*fn)(void) = uart_escape_hook;

			if (fn != NULL)
				fn();
			else
				kill(getpid(), SIGTERM);
			continue;
		}
		/* Ctrl-A Ctrl-A: one Ctrl-A; anything else goes through as typed. */
		if (in[i] != UART_ESC)
			out[o++] = UART_ESC;
		out[o++] = in[i];
	}
	return (o);
}

static struct uart_tty_saved {
	volatile sig_atomic_t	ts_valid;
	int			ts_fd;
	struct termios		ts_tio;
} uart_tty_saved[UART_TTY_SLOTS];
static pthread_mutex_t uart_tty_mtx = PTHREAD_MUTEX_INITIALIZER;
static bool uart_stdio_busy;

void
uart_backend_restore_all(void)
{
	int i;

	/* tcsetattr() is async-signal-safe (POSIX.1-2008, 2.4.3). */
	for (i = 0; i < UART_TTY_SLOTS; i++)
		if (uart_tty_saved[i].ts_valid)
			(void)tcsetattr(uart_tty_saved[i].ts_fd, TCSANOW,
			    &uart_tty_saved[i].ts_tio);
}

/*
 * Raw input so every key reaches the guest (^C included); output keeps
 * OPOST|ONLCR so host messages printed meanwhile still start at column 0.
 */
static int
uart_tty_make_raw(int fd)
{
	struct termios orig, raw;
	int i, slot = -1;

	if (tcgetattr(fd, &orig) != 0)
		return (-1);
	pthread_mutex_lock(&uart_tty_mtx);
	for (i = 0; i < UART_TTY_SLOTS; i++)
		if (!uart_tty_saved[i].ts_valid) {
			slot = i;
			break;
		}
	if (slot >= 0) {
		uart_tty_saved[slot].ts_fd = fd;
		uart_tty_saved[slot].ts_tio = orig;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uart_tty_saved[slot].ts_valid = 1;
	}
	pthread_mutex_unlock(&uart_tty_mtx);
	if (slot < 0)
		return (-1);
	raw = orig;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR;
	raw.c_cflag |= CLOCAL;
	(void)tcsetattr(fd, TCSANOW, &raw);
	return (slot);
}

static void
uart_tty_restore(int slot)
{

	if (slot < 0)
		return;
	pthread_mutex_lock(&uart_tty_mtx);
	(void)tcsetattr(uart_tty_saved[slot].ts_fd, TCSANOW,
	    &uart_tty_saved[slot].ts_tio);
	uart_tty_saved[slot].ts_valid = 0;
	pthread_mutex_unlock(&uart_tty_mtx);
}

/*
 * Our own open file description of stdin (or stdout), so that it can be
 * non-blocking without changing the O_NONBLOCK flag the shell shares with
 * us.
 */
static int
uart_stdfd_reopen(int fd, int flags)
{
	struct stat sb;
	char path[32];
	int nfd;

	/* A regular file never blocks; a new description would lose its offset. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		return (fcntl(fd, F_DUPFD_CLOEXEC, 0));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);	/* a socket */
	return (nfd);
}

static void
uart_backend_client_gone(struct uart_backend *be)
{
	/* TCP: the client left; wait for the next one. */
	close(be->ub_rfd);
	be->ub_rfd = be->ub_wfd = -1;
	be->ub_npend = 0;
	pthread_mutex_lock(&be->ub_omtx);
	be->ub_onum = 0;	/* what was meant for the old client */
	pthread_mutex_unlock(&be->ub_omtx);
}

static void
uart_backend_input(struct uart_backend *be)
{
	ssize_t n;

	uint8_t raw[UART_PENDSZ / 2];

	if (be->ub_stdio && be->ub_tty_slot >= 0) {
		/* A terminal: the console escape applies (see UART_ESC). */
		n = read(be->ub_rfd, raw, sizeof(raw));
		if (n > 0) {
			be->ub_pendoff = 0;
			be->ub_npend = uart_backend_escape(be, raw, (size_t)n, be->ub_pend);
			return;
		}
	} else {
		n = read(be->ub_rfd, be->ub_pend, sizeof(be->ub_pend));
	}
	if (n > 0) {
		be->ub_pendoff = 0;
		be->ub_npend = (size_t)n;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (be->ub_lfd >= 0) {
		uart_backend_client_gone(be);
		return;
	}
	/*
	 * EOF, or an error such as EIO on a hung-up pty: input is over.  The
	 * fd stays open until close; output may share it.
	 */
	be->ub_rdone = true;
}

static void
uart_backend_accept(struct uart_backend *be)
{
	int fd = accept4(be->ub_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (be->ub_rfd >= 0) {
		/* One client at a time: the port is busy. */
		static const char busy[] = "bhyve: this serial port has a client already\r\n";
		(void)write(fd, busy, sizeof(busy) - 1);
		close(fd);
		return;
	}
	be->ub_rfd = be->ub_wfd = fd;
	be->ub_rdone = false;
}

/* Write what the ring holds, as much as the host takes now. */
static void
uart_backend_drain(struct uart_backend *be)
{
	for (;;) {
		size_t off, n;
		ssize_t w;

		pthread_mutex_lock(&be->ub_omtx);
		n = be->ub_onum;
		off = be->ub_ohead;
		if (n > UART_OUTSZ - off)
			n = UART_OUTSZ - off;
		pthread_mutex_unlock(&be->ub_omtx);
		if (n == 0 || be->ub_wfd < 0)
			return;
		w = write(be->ub_wfd, be->ub_out + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && errno != EAGAIN) {
				if (be->ub_lfd >= 0 && be->ub_rfd >= 0)
					uart_backend_client_gone(be);
				else
					__atomic_store_n(&be->ub_wdead, true, __ATOMIC_RELAXED);
			}
			return;
		}
		pthread_mutex_lock(&be->ub_omtx);
		be->ub_ohead = (be->ub_ohead + (size_t)w) % UART_OUTSZ;
		be->ub_onum -= (size_t)w;
		pthread_mutex_unlock(&be->ub_omtx);
	}
}

static bool
uart_backend_has_output(struct uart_backend *be)
{
	bool r;

	pthread_mutex_lock(&be->ub_omtx);
	r = be->ub_onum > 0;
	pthread_mutex_unlock(&be->ub_omtx);
	return (r);
}

static void *
uart_backend_thread(void *arg)
{
	struct uart_backend *be = arg;
	struct pollfd pfd[3];
	uint64_t cnt;
	size_t took;
	int nfds, in = -1, out = -1, lis = -1;

	for (;;) {
		if (__atomic_load_n(&be->ub_quit, __ATOMIC_ACQUIRE))
			break;
		if (be->ub_npend > 0) {
			took = be->ub_rx(be->ub_rx_arg,
			    be->ub_pend + be->ub_pendoff, be->ub_npend);
			if (took > be->ub_npend)
				took = be->ub_npend;
			be->ub_pendoff += took;
			be->ub_npend -= took;
		}
		pfd[0] = (struct pollfd){ .fd = be->ub_evfd, .events = POLLIN };
		nfds = 1;
		in = out = lis = -1;
		/* Read more only once the port took everything (flow control). */
		if (be->ub_rfd >= 0 && !be->ub_rdone && be->ub_npend == 0) {
			in = nfds;
			pfd[nfds++] = (struct pollfd){ .fd = be->ub_rfd, .events = POLLIN };
		}
		if (be->ub_wfd >= 0 && !__atomic_load_n(&be->ub_wdead, __ATOMIC_RELAXED) &&
		    uart_backend_has_output(be)) {
			if (in >= 0 && pfd[in].fd == be->ub_wfd) {
				pfd[in].events |= POLLOUT;
				out = in;
			} else {
				out = nfds;
				pfd[nfds++] = (struct pollfd){ .fd = be->ub_wfd, .events = POLLOUT };
			}
		}
		if (be->ub_lfd >= 0 && be->ub_rfd < 0) {
			lis = nfds;
			pfd[nfds++] = (struct pollfd){ .fd = be->ub_lfd, .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN)
			(void)read(be->ub_evfd, &cnt, sizeof(cnt));
		if (out >= 0 && (pfd[out].revents & (POLLOUT | POLLERR | POLLHUP)))
			uart_backend_drain(be);
		if (in >= 0 && be->ub_rfd >= 0 && (pfd[in].revents & ~POLLOUT) != 0)
			uart_backend_input(be);
		if (lis >= 0 && (pfd[lis].revents & POLLIN))
			uart_backend_accept(be);
	}
	return (NULL);
}

static void
uart_backend_kick(struct uart_backend *be)
{
	uint64_t one = 1;

	/* An eventfd counter cannot block or fail short of overflow. */
	(void)write(be->ub_evfd, &one, sizeof(one));
}

void
uart_backend_rx_wakeup(struct uart_backend *be)
{

	if (be != NULL)
		uart_backend_kick(be);
}

void
uart_backend_write(struct uart_backend *be, uint8_t byte)
{
	bool was_empty;

	if (be == NULL || __atomic_load_n(&be->ub_wdead, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&be->ub_omtx);
	if (be->ub_onum == UART_OUTSZ) {
		/* Nobody drains the host side: drop, never stall the vCPU. */
		be->ub_dropped++;
		pthread_mutex_unlock(&be->ub_omtx);
		return;
	}
	be->ub_out[(be->ub_ohead + be->ub_onum) % UART_OUTSZ] = byte;
	was_empty = be->ub_onum++ == 0;
	pthread_mutex_unlock(&be->ub_omtx);
	if (was_empty)
		uart_backend_kick(be);
}

static int
uart_backend_open_stdio(struct uart_backend *be)
{
	bool busy;

	pthread_mutex_lock(&uart_tty_mtx);
	busy = uart_stdio_busy;
	uart_stdio_busy = true;
	pthread_mutex_unlock(&uart_tty_mtx);
	if (busy) {
		fprintf(stderr, "bhyve: %s: stdio is already used by another "
		    "port\n", be->ub_name);
		return (-EBUSY);
	}
	be->ub_stdio = true;
	be->ub_wfd = uart_stdfd_reopen(STDOUT_FILENO, O_WRONLY);
	be->ub_close_wfd = be->ub_wfd >= 0;
	be->ub_rfd = uart_stdfd_reopen(STDIN_FILENO, O_RDONLY);
	be->ub_close_rfd = be->ub_rfd >= 0;
	if (isatty(STDIN_FILENO))
		be->ub_tty_slot = uart_tty_make_raw(STDIN_FILENO);
	return (0);
}

static int
uart_backend_open_tty(struct uart_backend *be, const char *path)
{
	int fd, error;

	fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		error = -errno;
		fprintf(stderr, "bhyve: %s: cannot open '%s': %s\n",
		    be->ub_name, path, strerror(errno));
		return (error);
	}
	if (!isatty(fd)) {
		fprintf(stderr, "bhyve: %s: '%s' is not a terminal\n",
		    be->ub_name, path);
		close(fd);
		return (-ENOTTY);
	}
	be->ub_rfd = be->ub_wfd = fd;
	be->ub_close_rfd = be->ub_close_wfd = true;
	be->ub_tty_slot = uart_tty_make_raw(fd);
	return (0);
}

/* A new pseudo-terminal: the guest's console is its slave, named on stderr. */
static int
uart_backend_open_pty(struct uart_backend *be)
{
	struct termios tio;
	const char *name;
	int m, error;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || (name = ptsname(m)) == NULL) {
		error = -errno;
		fprintf(stderr, "bhyve: %s: cannot create a pseudo-terminal: %s\n",
		    be->ub_name, strerror(errno));
		if (m >= 0)
			close(m);
		return (error);
	}
	/* Keep a slave open so the master never sees EIO/HUP between users. */
	be->ub_pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (be->ub_pty_slave >= 0 && tcgetattr(be->ub_pty_slave, &tio) == 0) {
		cfmakeraw(&tio);
		(void)tcsetattr(be->ub_pty_slave, TCSANOW, &tio);
	}
	fprintf(stderr, "bhyve: %s: %s\n", be->ub_name, name);
	be->ub_rfd = be->ub_wfd = m;
	be->ub_close_rfd = be->ub_close_wfd = true;
	return (0);
}

/* tcp=ip:port ("[v6]:port" too): listen, serve one client at a time. */
static int
uart_backend_open_tcp(struct uart_backend *be, const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST |
	    AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[128], *port, *end;
	int fd, one = 1, error;
	long pn;

	snprintf(host, sizeof(host), "%s", spec);
	port = strrchr(host, ':');
	if (port == NULL || port == host) {
		fprintf(stderr, "bhyve: %s: tcp=%s: expected tcp=ADDRESS:PORT\n",
		    be->ub_name, spec);
		return (-EINVAL);
	}
	*port++ = '\0';
	pn = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || pn < 1 || pn > 65535) {
		fprintf(stderr, "bhyve: %s: tcp=%s: '%s' is not a port number\n",
		    be->ub_name, spec, port);
		return (-EINVAL);
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((error = getaddrinfo(host, port, &hints, &ai)) != 0) {
		fprintf(stderr, "bhyve: %s: tcp=%s: '%s' is not an IP address\n",
		    be->ub_name, spec, host);
		return (-EINVAL);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0) {
		error = -errno;
		fprintf(stderr, "bhyve: %s: tcp=%s: cannot listen: %s\n", be->ub_name, spec,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return (error);
	}
	freeaddrinfo(ai);
	be->ub_lfd = fd;
	return (0);
}

int
uart_backend_open(struct uart_backend **bep, const char *name,
    const char *path, uart_backend_rx_t rx, void *arg)
{
	struct uart_backend *be;
	int error;

	*bep = NULL;
	be = calloc(1, sizeof(*be));
	if (be == NULL)
		return (-ENOMEM);
	be->ub_name = name;
	be->ub_rfd = be->ub_wfd = -1;
	be->ub_lfd = -1;
	be->ub_pty_slave = -1;
	be->ub_tty_slot = -1;
	be->ub_rx = rx;
	be->ub_rx_arg = arg;
	pthread_mutex_init(&be->ub_omtx, NULL);
	be->ub_out = malloc(UART_OUTSZ);
	be->ub_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (be->ub_evfd < 0 || be->ub_out == NULL) {
		error = be->ub_evfd < 0 ? -errno : -ENOMEM;
		fprintf(stderr, "bhyve: %s: %s\n", name, strerror(-error));
		if (be->ub_evfd >= 0)
			close(be->ub_evfd);
		free(be->ub_out);
		free(be);
		return (error);
	}
	if (strcmp(path, "stdio") == 0)
		error = uart_backend_open_stdio(be);
	else if (strcmp(path, "/dev/ptmx") == 0 || strcmp(path, "/dev/pts/ptmx") == 0)
		error = uart_backend_open_pty(be);
	else if (strncmp(path, "tcp=", 4) == 0)
		error = uart_backend_open_tcp(be, path + 4);
	else
		error = uart_backend_open_tty(be, path);
	if (error != 0) {
		close(be->ub_evfd);
		free(be->ub_out);
		free(be);
		return (error);
	}
	error = -pthread_create(&be->ub_thread, NULL, uart_backend_thread, be);
	if (error != 0) {
		fprintf(stderr, "bhyve: %s: cannot start reader thread\n",
		    name);
		uart_backend_close(be);
		return (error);
	}
	be->ub_thread_started = true;
	*bep = be;
	return (0);
}

/* At exit: what the guest printed last still reaches the host, within a bound. */
static void
uart_backend_flush_out(struct uart_backend *be)
{
	int tries;

	for (tries = 0; tries < 100 && be->ub_wfd >= 0 && uart_backend_has_output(be) &&
	    !__atomic_load_n(&be->ub_wdead, __ATOMIC_RELAXED); tries++) {
		struct pollfd p = { .fd = be->ub_wfd, .events = POLLOUT };

		if (poll(&p, 1, 20) > 0)
			uart_backend_drain(be);
	}
}

void
uart_backend_close(struct uart_backend *be)
{

	if (be == NULL)
		return;
	if (be->ub_thread_started) {
		__atomic_store_n(&be->ub_quit, true, __ATOMIC_RELEASE);
		uart_backend_kick(be);
		pthread_join(be->ub_thread, NULL);
	}
	uart_backend_flush_out(be);
	if (be->ub_dropped != 0)
		fprintf(stderr, "bhyve: %s: %llu bytes of output dropped: nobody read them\n",
		    be->ub_name, (unsigned long long)be->ub_dropped);
	uart_tty_restore(be->ub_tty_slot);
	if (be->ub_close_rfd && be->ub_rfd >= 0)
		close(be->ub_rfd);
	if (be->ub_close_wfd && be->ub_wfd >= 0 && be->ub_wfd != be->ub_rfd)
		close(be->ub_wfd);
	if (be->ub_lfd >= 0) {
		if (be->ub_rfd >= 0 && !be->ub_close_rfd)
			close(be->ub_rfd);
		close(be->ub_lfd);
	}
	if (be->ub_pty_slave >= 0)
		close(be->ub_pty_slave);
	if (be->ub_stdio) {
		pthread_mutex_lock(&uart_tty_mtx);
		uart_stdio_busy = false;
		pthread_mutex_unlock(&uart_tty_mtx);
	}
	pthread_mutex_destroy(&be->ub_omtx);
	free(be->ub_out);
	close(be->ub_evfd);
	free(be);
}

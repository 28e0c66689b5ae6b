/*
 * uart_backend.c - host side of the serial ports: "stdio" (our stdin and
 * stdout) or a terminal path.  Each backend has one reader thread that
 * polls the input and an eventfd, and feeds the port through its rx
 * callback; output is written by the vCPU thread that wrote THR.
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

#include "bhyve.h"
#include "uart_backend.h"

#define	UART_TTY_SLOTS	8	/* com1-com4 of a VM, with room to spare */
#define	UART_PENDSZ	64

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
 * Our own open file description of stdin, so that it can be non-blocking
 * without changing the O_NONBLOCK flag the shell shares with us.
 */
static int
uart_stdin_reopen(void)
{
	int fd;

	fd = open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd < 0)
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);	/* a socket */
	return (fd);
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
	/*
	 * EOF, or an error such as EIO on a hung-up pty: input is over.  The
	 * fd stays open until close; output may share it.
	 */
	be->ub_rdone = true;
}

static void *
uart_backend_thread(void *arg)
{
	struct uart_backend *be = arg;
	struct pollfd pfd[2];
	uint64_t cnt;
	size_t took;
	int nfds;

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
		/* Read more only once the port took everything (flow control). */
		if (be->ub_rfd >= 0 && !be->ub_rdone && be->ub_npend == 0) {
			pfd[1] = (struct pollfd){ .fd = be->ub_rfd,
			    .events = POLLIN };
			nfds = 2;
		}
		if (poll(pfd, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN)
			(void)read(be->ub_evfd, &cnt, sizeof(cnt));
		if (nfds == 2 && pfd[1].revents != 0)
			uart_backend_input(be);
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
	ssize_t n;

	if (be == NULL || __atomic_load_n(&be->ub_wdead, __ATOMIC_RELAXED))
		return;
	do {
		n = write(be->ub_wfd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	/*
	 * EAGAIN: a terminal nobody drains; the byte is dropped rather than
	 * stalling the vCPU (bhyve does the same).  Other errors (EPIPE,
	 * EIO) are permanent.
	 */
	if (n < 0 && errno != EAGAIN)
		__atomic_store_n(&be->ub_wdead, true, __ATOMIC_RELAXED);
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
	be->ub_wfd = STDOUT_FILENO;
	be->ub_rfd = uart_stdin_reopen();
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
	be->ub_tty_slot = -1;
	be->ub_rx = rx;
	be->ub_rx_arg = arg;
	be->ub_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (be->ub_evfd < 0) {
		error = -errno;
		fprintf(stderr, "bhyve: %s: eventfd: %s\n", name,
		    strerror(errno));
		free(be);
		return (error);
	}
	if (strcmp(path, "stdio") == 0)
		error = uart_backend_open_stdio(be);
	else
		error = uart_backend_open_tty(be, path);
	if (error != 0) {
		close(be->ub_evfd);
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
	uart_tty_restore(be->ub_tty_slot);
	if (be->ub_close_rfd && be->ub_rfd >= 0)
		close(be->ub_rfd);
	if (be->ub_close_wfd && be->ub_wfd >= 0 && be->ub_wfd != be->ub_rfd)
		close(be->ub_wfd);
	if (be->ub_stdio) {
		pthread_mutex_lock(&uart_tty_mtx);
		uart_stdio_busy = false;
		pthread_mutex_unlock(&uart_tty_mtx);
	}
	close(be->ub_evfd);
	free(be);
}

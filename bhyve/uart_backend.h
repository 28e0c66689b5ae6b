/*
 * uart_backend.h - the host side of a serial port: our stdin/stdout
 * ("stdio") or a terminal device path ("/dev/pts/3").
 */
#ifndef LHYVE_UART_BACKEND_H
#define LHYVE_UART_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct uart_backend;

/*
 * Called from the backend's reader thread with host input; returns how
 * many bytes the port took.  The rest is kept and offered again after
 * uart_backend_rx_wakeup().
 */
typedef size_t (*uart_backend_rx_t)(void *arg, const uint8_t *buf, size_t len);

/*
 * Opens path ("stdio" or a tty) for the port called name and starts its
 * reader thread.  Returns 0 or a negative errno after printing one line.
 */
int	uart_backend_open(struct uart_backend **bep, const char *name,
	    const char *path, uart_backend_rx_t rx, void *arg);
/* Stops the reader, restores the terminal and closes what was opened. */
void	uart_backend_close(struct uart_backend *be);
/* Sends one byte to the host; drops it if the host cannot take it now. */
void	uart_backend_write(struct uart_backend *be, uint8_t byte);
/* The port has room again: offer it the kept input.  Never blocks. */
void	uart_backend_rx_wakeup(struct uart_backend *be);

void	uart_backend_restore_all(void);

#endif /* LHYVE_UART_BACKEND_H */

/*
 * uart_emul.h - the NS16550A register model (bhyve's uart_emul.c).
 *
 * A pure state machine: no locks and no system calls.  The attachment
 * (pci_lpc.c's COM ports, pci_uart.c's BAR) serializes every call with its own mutex and provides the
 * callbacks; the host side (uart_backend.c) feeds input with uart_rx_push().
 */
#ifndef LHYVE_UART_EMUL_H
#define LHYVE_UART_EMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define	UART_IO_BAR_SIZE	8
#define	UART_FIFOSZ		16

/* Register offsets (16550A datasheet, Table 2). */
#define	UART_REG_DATA	0	/* RBR / THR; DLL when LCR.DLAB */
#define	UART_REG_IER	1	/* DLM when LCR.DLAB */
#define	UART_REG_IIR	2	/* read */
#define	UART_REG_FCR	2	/* write */
#define	UART_REG_LCR	3
#define	UART_REG_MCR	4
#define	UART_REG_LSR	5
#define	UART_REG_MSR	6
#define	UART_REG_SCR	7

#define	UART_IER_ERBFI	0x01	/* received data available */
#define	UART_IER_ETBEI	0x02	/* THR empty */
#define	UART_IER_ELSI	0x04	/* receiver line status */
#define	UART_IER_EDSSI	0x08	/* modem status */

#define	UART_IIR_NOPEND	0x01
#define	UART_IIR_MLSC	0x00
#define	UART_IIR_TXRDY	0x02
#define	UART_IIR_RXRDY	0x04
#define	UART_IIR_RLS	0x06
#define	UART_IIR_RXTOUT	0x0c
#define	UART_IIR_FIFO	0xc0	/* both set while FIFOs are enabled */

#define	UART_FCR_ENABLE	0x01
#define	UART_FCR_RXRST	0x02
#define	UART_FCR_TXRST	0x04
#define	UART_FCR_DMA	0x08
#define	UART_FCR_RXTRIG	0xc0

#define	UART_LCR_DLAB	0x80

#define	UART_MCR_DTR	0x01
#define	UART_MCR_RTS	0x02
#define	UART_MCR_OUT1	0x04
#define	UART_MCR_OUT2	0x08
#define	UART_MCR_LOOP	0x10

#define	UART_LSR_DR	0x01
#define	UART_LSR_OE	0x02
#define	UART_LSR_PE	0x04
#define	UART_LSR_FE	0x08
#define	UART_LSR_BI	0x10
#define	UART_LSR_THRE	0x20
#define	UART_LSR_TEMT	0x40

#define	UART_MSR_DCTS	0x01
#define	UART_MSR_DDSR	0x02
#define	UART_MSR_TERI	0x04
#define	UART_MSR_DDCD	0x08
#define	UART_MSR_DELTA	0x0f
#define	UART_MSR_CTS	0x10
#define	UART_MSR_DSR	0x20
#define	UART_MSR_RI	0x40
#define	UART_MSR_DCD	0x80

struct uart_ops {
	/* The INTR output changed level; called only on a change. */
	void	(*uo_intr)(void *arg, bool level);
	/* One byte leaves on the serial line (not called in loopback). */
	void	(*uo_tx)(void *arg, uint8_t byte);
	/* The receive FIFO had no room and now has some (may be NULL). */
	void	(*uo_rx_space)(void *arg);
};

struct uart_fifo {
	uint8_t	uf_buf[UART_FIFOSZ];
	int	uf_first;
	int	uf_num;
	int	uf_size;	/* 16 in FIFO mode, 1 in 16450 mode */
};

struct uart_softc {
	const struct uart_ops *sc_ops;
	void	*sc_arg;

	uint8_t	sc_ier;
	uint8_t	sc_fcr;		/* write-only; shadow for IIR and trigger */
	uint8_t	sc_lcr;
	uint8_t	sc_mcr;
	uint8_t	sc_lsr;		/* only OE is state; DR/THRE/TEMT derived */
	uint8_t	sc_msr;
	uint8_t	sc_scr;
	uint8_t	sc_dll;
	uint8_t	sc_dlh;
	uint8_t	sc_rbr;		/* last byte read: an empty RBR reads it again */
	bool	sc_thre_pending;
	bool	sc_intr;	/* level last reported through uo_intr */
	struct uart_fifo sc_rxfifo;
};

void	uart_init(struct uart_softc *sc, const struct uart_ops *ops, void *arg);
void	uart_reset(struct uart_softc *sc);
uint8_t	uart_read(struct uart_softc *sc, int offset);
void	uart_write(struct uart_softc *sc, int offset, uint8_t value);
/* Queues host input; returns how many bytes fit (all of them in loopback, dropped). */
size_t	uart_rx_push(struct uart_softc *sc, const uint8_t *buf, size_t len);
size_t	uart_rx_room(const struct uart_softc *sc);
bool	uart_intr_asserted(const struct uart_softc *sc);
/*
 * The register state and receive FIFO as bytes (the store's device section):
 * returns the length, which is more than @cap when @buf is too small (then
 * nothing is written); restore refuses malformed data with -EINVAL and
 * changes nothing.
 */
ssize_t	uart_snapshot_save(const struct uart_softc *sc, uint8_t *buf, size_t cap);
int	uart_snapshot_restore(struct uart_softc *sc, const uint8_t *data, size_t len);

#endif /* LHYVE_UART_EMUL_H */

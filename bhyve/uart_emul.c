/*
 * uart_emul.c - NS16550A register model, following the National
 * Semiconductor PC16550D datasheet (June 1995): register set in Table 2,
 * interrupt identification in Table 4, FIFO operation in section 8.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to
 * uo_tx, so THR and the transmitter are always empty (LSR THRE|TEMT) and the
 * transmit FIFO never holds data.  Host input is flow-controlled: the
 * backend pushes only what fits, so overrun happens only in loopback.
 * Callers serialize all calls on one softc.
 */
#include <errno.h>
#include <string.h>

#include "uart_emul.h"

/* 1.8432 MHz crystal / (16 * divisor 1) = 115200 baud, bhyve's default. */
#define	UART_DEFAULT_DIVISOR	1

static bool
uart_fifo_mode(const struct uart_softc *sc)
{

	return ((sc->sc_fcr & UART_FCR_ENABLE) != 0);
}

static void
uart_rxfifo_reset(struct uart_softc *sc, int size)
{
	struct uart_fifo *f = &sc->sc_rxfifo;

	memset(f->uf_buf, 0, sizeof(f->uf_buf));
	f->uf_first = 0;
	f->uf_num = 0;
	f->uf_size = size;
}

static bool
uart_rxfifo_full(const struct uart_softc *sc)
{

	return (sc->sc_rxfifo.uf_num >= sc->sc_rxfifo.uf_size);
}

static void
uart_rxfifo_put(struct uart_softc *sc, uint8_t byte)
{
	struct uart_fifo *f = &sc->sc_rxfifo;

	f->uf_buf[(f->uf_first + f->uf_num) % UART_FIFOSZ] = byte;
	f->uf_num++;
}

static uint8_t
uart_rxfifo_get(struct uart_softc *sc)
{
	struct uart_fifo *f = &sc->sc_rxfifo;
	uint8_t byte;

	byte = f->uf_buf[f->uf_first];
	f->uf_first = (f->uf_first + 1) % UART_FIFOSZ;
	f->uf_num--;
	return (byte);
}

/* FCR bits 7:6 select the receive trigger level (datasheet 8.4, FCR). */
static int
uart_rx_trigger(const struct uart_softc *sc)
{
	static const int levels[4] = { 1, 4, 8, 14 };

	return (levels[(sc->sc_fcr & UART_FCR_RXTRIG) >> 6]);
}

/*
 * Modem inputs.  In loopback the outputs feed the inputs (datasheet 8.6,
 * MCR bit 4): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.  Otherwise DCD and
 * DSR are held asserted so a guest tty open never waits for carrier.
 */
static uint8_t
uart_modem_inputs(uint8_t mcr)
{
	uint8_t msr = 0;

	if ((mcr & UART_MCR_LOOP) == 0)
		return (UART_MSR_DCD | UART_MSR_DSR);
	if (mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return (msr);
}

/* Highest-priority pending source (datasheet Table 4). */
static uint8_t
uart_intr_reason(const struct uart_softc *sc)
{

	if ((sc->sc_lsr & UART_LSR_OE) != 0 && (sc->sc_ier & UART_IER_ELSI))
		return (UART_IIR_RLS);
	if (sc->sc_rxfifo.uf_num > 0 && (sc->sc_ier & UART_IER_ERBFI)) {
		/*
		 * Below the trigger level a FIFO reports a character timeout;
		 * input arrives all at once here, so the timeout has passed.
		 */
		if (uart_fifo_mode(sc) &&
		    sc->sc_rxfifo.uf_num < uart_rx_trigger(sc))
			return (UART_IIR_RXTOUT);
		return (UART_IIR_RXRDY);
	}
	if (sc->sc_thre_pending && (sc->sc_ier & UART_IER_ETBEI))
		return (UART_IIR_TXRDY);
	if ((sc->sc_msr & UART_MSR_DELTA) != 0 && (sc->sc_ier & UART_IER_EDSSI))
		return (UART_IIR_MLSC);
	return (UART_IIR_NOPEND);
}

static void
uart_update_intr(struct uart_softc *sc)
{
	bool level;

	level = uart_intr_reason(sc) != UART_IIR_NOPEND;
	if (level == sc->sc_intr)
		return;
	sc->sc_intr = level;
	if (sc->sc_ops != NULL && sc->sc_ops->uo_intr != NULL)
		sc->sc_ops->uo_intr(sc->sc_arg, level);
}

static void
uart_rx_space(struct uart_softc *sc, bool was_full)
{

	if (was_full && !uart_rxfifo_full(sc) && sc->sc_ops != NULL &&
	    sc->sc_ops->uo_rx_space != NULL)
		sc->sc_ops->uo_rx_space(sc->sc_arg);
}

void
uart_reset(struct uart_softc *sc)
{

	sc->sc_ier = 0;
	sc->sc_fcr = 0;
	sc->sc_lcr = 0;
	sc->sc_mcr = 0;
	sc->sc_lsr = 0;
	sc->sc_scr = 0;
	sc->sc_rbr = 0;
	sc->sc_dll = UART_DEFAULT_DIVISOR & 0xff;
	sc->sc_dlh = UART_DEFAULT_DIVISOR >> 8;
	sc->sc_msr = uart_modem_inputs(0);
	sc->sc_thre_pending = false;
	uart_rxfifo_reset(sc, 1);	/* 16450 mode until FCR enables FIFOs */
	uart_update_intr(sc);
}

void
uart_init(struct uart_softc *sc, const struct uart_ops *ops, void *arg)
{

	memset(sc, 0, sizeof(*sc));
	sc->sc_ops = ops;
	sc->sc_arg = arg;
	uart_reset(sc);
}

/* A loopback character arriving at the receiver (datasheet 8.5, LSR bit 1). */
static void
uart_loopback_rx(struct uart_softc *sc, uint8_t byte)
{
	struct uart_fifo *f = &sc->sc_rxfifo;

	if (!uart_rxfifo_full(sc)) {
		uart_rxfifo_put(sc, byte);
		return;
	}
	sc->sc_lsr |= UART_LSR_OE;
	/*
	 * A 16450 overwrites the unread RBR; a full FIFO keeps its contents
	 * and the character in the shift register is lost.
	 */
	if (!uart_fifo_mode(sc))
		f->uf_buf[f->uf_first] = byte;
}

static void
uart_write_mcr(struct uart_softc *sc, uint8_t value)
{
	uint8_t old, new;

	sc->sc_mcr = value & 0x1f;	/* bits 7:5 are always 0 on a 16550A */
	old = sc->sc_msr;
	new = uart_modem_inputs(sc->sc_mcr);
	/* Delta bits record input changes since the last MSR read (8.7). */
	if ((old ^ new) & UART_MSR_CTS)
		sc->sc_msr |= UART_MSR_DCTS;
	if ((old ^ new) & UART_MSR_DSR)
		sc->sc_msr |= UART_MSR_DDSR;
	if ((old ^ new) & UART_MSR_DCD)
		sc->sc_msr |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) != 0 && (new & UART_MSR_RI) == 0)
		sc->sc_msr |= UART_MSR_TERI;	/* trailing edge only */
	sc->sc_msr = (sc->sc_msr & UART_MSR_DELTA) | new;
}

static void
uart_write_fcr(struct uart_softc *sc, uint8_t value)
{
	bool was_full;

	was_full = uart_rxfifo_full(sc);
	/* Switching between FIFO and 16450 mode clears the FIFOs (FCR bit 0). */
	if ((sc->sc_fcr ^ value) & UART_FCR_ENABLE)
		uart_rxfifo_reset(sc, (value & UART_FCR_ENABLE) ?
		    UART_FIFOSZ : 1);
	/* The other bits are only programmed while bit 0 is set. */
	if ((value & UART_FCR_ENABLE) == 0)
		sc->sc_fcr = 0;
	else {
		if (value & UART_FCR_RXRST)
			uart_rxfifo_reset(sc, UART_FIFOSZ);
		sc->sc_fcr = value &
		    (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_RXTRIG);
	}
	uart_rx_space(sc, was_full);
}

void
uart_write(struct uart_softc *sc, int offset, uint8_t value)
{
	bool dlab = (sc->sc_lcr & UART_LCR_DLAB) != 0;

	switch (offset) {
	case UART_REG_DATA:
		if (dlab) {
			sc->sc_dll = value;
			break;
		}
		if (sc->sc_mcr & UART_MCR_LOOP)
			uart_loopback_rx(sc, value);
		else if (sc->sc_ops != NULL && sc->sc_ops->uo_tx != NULL)
			sc->sc_ops->uo_tx(sc->sc_arg, value);
		/* The byte is gone at once: THR is empty again. */
		sc->sc_thre_pending = true;
		break;
	case UART_REG_IER:
		if (dlab) {
			sc->sc_dlh = value;
			break;
		}
		/*
		 * Enabling ETBEI while THR is empty raises the THRE
		 * interrupt at once (datasheet 8.10, IER bit 1).
		 */
		if ((sc->sc_ier & UART_IER_ETBEI) == 0 &&
		    (value & UART_IER_ETBEI) != 0)
			sc->sc_thre_pending = true;
		sc->sc_ier = value & 0x0f;
		break;
	case UART_REG_FCR:
		uart_write_fcr(sc, value);
		break;
	case UART_REG_LCR:
		sc->sc_lcr = value;
		break;
	case UART_REG_MCR:
		uart_write_mcr(sc, value);
		break;
	case UART_REG_LSR:
	case UART_REG_MSR:
		/* Factory test registers: writes have no defined effect. */
		break;
	case UART_REG_SCR:
		sc->sc_scr = value;
		break;
	default:
		break;
	}
	uart_update_intr(sc);
}

uint8_t
uart_read(struct uart_softc *sc, int offset)
{
	bool dlab = (sc->sc_lcr & UART_LCR_DLAB) != 0;
	bool was_full;
	uint8_t reg, reason;

	switch (offset) {
	case UART_REG_DATA:
		if (dlab) {
			reg = sc->sc_dll;
			break;
		}
		if (sc->sc_rxfifo.uf_num > 0) {
			was_full = uart_rxfifo_full(sc);
			sc->sc_rbr = uart_rxfifo_get(sc);
			uart_rx_space(sc, was_full);
		}
		reg = sc->sc_rbr;
		break;
	case UART_REG_IER:
		reg = dlab ? sc->sc_dlh : sc->sc_ier;
		break;
	case UART_REG_IIR:
		reason = uart_intr_reason(sc);
		/* Reading IIR while it names THRE clears that source (Table 4). */
		if (reason == UART_IIR_TXRDY)
			sc->sc_thre_pending = false;
		reg = reason | (uart_fifo_mode(sc) ? UART_IIR_FIFO : 0);
		break;
	case UART_REG_LCR:
		reg = sc->sc_lcr;
		break;
	case UART_REG_MCR:
		reg = sc->sc_mcr;
		break;
	case UART_REG_LSR:
		reg = UART_LSR_THRE | UART_LSR_TEMT |
		    (sc->sc_lsr & (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE |
		    UART_LSR_BI));
		if (sc->sc_rxfifo.uf_num > 0)
			reg |= UART_LSR_DR;
		/* Error bits clear when LSR is read (datasheet 8.5). */
		sc->sc_lsr &= ~(UART_LSR_OE | UART_LSR_PE | UART_LSR_FE |
		    UART_LSR_BI);
		break;
	case UART_REG_MSR:
		reg = sc->sc_msr;
		sc->sc_msr &= ~UART_MSR_DELTA;
		break;
	case UART_REG_SCR:
		reg = sc->sc_scr;
		break;
	default:
		reg = 0xff;
		break;
	}
	uart_update_intr(sc);
	return (reg);
}

size_t
uart_rx_push(struct uart_softc *sc, const uint8_t *buf, size_t len)
{
	size_t n;

	/* In loopback the serial input is disconnected (datasheet 8.6). */
	if (sc->sc_mcr & UART_MCR_LOOP)
		return (len);
	for (n = 0; n < len && !uart_rxfifo_full(sc); n++)
		uart_rxfifo_put(sc, buf[n]);
	uart_update_intr(sc);
	return (n);
}

size_t
uart_rx_room(const struct uart_softc *sc)
{

	return ((size_t)(sc->sc_rxfifo.uf_size - sc->sc_rxfifo.uf_num));
}

bool
uart_intr_asserted(const struct uart_softc *sc)
{

	return (sc->sc_intr);
}

/*
 * Snapshot (the store's device sections, docs/store.md): version 1 is
 *   version:u8 ier fcr lcr mcr lsr msr scr dll dlh rbr thre_pending:u8
 *   rx_count:u8 rx_bytes[rx_count]
 * The receive FIFO is saved oldest byte first.  The interrupt level is not
 * saved: restore recomputes it from the registers and reports it.
 */
#define UART_SNAP_VERSION	1
#define UART_SNAP_HDR		13

ssize_t
uart_snapshot_save(const struct uart_softc *sc, uint8_t *buf, size_t cap)
{
	const struct uart_fifo *f = &sc->sc_rxfifo;
	size_t len = UART_SNAP_HDR + (size_t)f->uf_num;
	int i;

	/* Too small: say how much is needed (vmm_snapshot_register's contract). */
	if (cap < len)
		return ((ssize_t)len);
	buf[0] = UART_SNAP_VERSION;
	buf[1] = sc->sc_ier;
	buf[2] = sc->sc_fcr;
	buf[3] = sc->sc_lcr;
	buf[4] = sc->sc_mcr;
	buf[5] = sc->sc_lsr;
	buf[6] = sc->sc_msr;
	buf[7] = sc->sc_scr;
	buf[8] = sc->sc_dll;
	buf[9] = sc->sc_dlh;
	buf[10] = sc->sc_rbr;
	buf[11] = sc->sc_thre_pending;
	buf[12] = (uint8_t)f->uf_num;
	for (i = 0; i < f->uf_num; i++)
		buf[UART_SNAP_HDR + i] = f->uf_buf[(f->uf_first + i) % UART_FIFOSZ];
	return ((ssize_t)len);
}

/* The data comes from a file: every field is checked before any is used. */
int
uart_snapshot_restore(struct uart_softc *sc, const uint8_t *data, size_t len)
{
	int i, size;

	if (len < UART_SNAP_HDR || data[0] != UART_SNAP_VERSION)
		return (-EINVAL);
	size = (data[2] & UART_FCR_ENABLE) ? UART_FIFOSZ : 1;
	if (data[12] > size || len != UART_SNAP_HDR + (size_t)data[12] || data[11] > 1)
		return (-EINVAL);
	sc->sc_ier = data[1] & 0x0f;
	sc->sc_fcr = data[2];
	sc->sc_lcr = data[3];
	sc->sc_mcr = data[4] & 0x1f;
	sc->sc_lsr = data[5];
	sc->sc_msr = data[6];
	sc->sc_scr = data[7];
	sc->sc_dll = data[8];
	sc->sc_dlh = data[9];
	sc->sc_rbr = data[10];
	sc->sc_thre_pending = data[11] != 0;
	uart_rxfifo_reset(sc, size);
	for (i = 0; i < data[12]; i++)
		uart_rxfifo_put(sc, data[UART_SNAP_HDR + i]);
	uart_update_intr(sc);
	return (0);
}

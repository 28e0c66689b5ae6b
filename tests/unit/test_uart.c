/*
 * test_uart.c - the 16550A register model with fake callbacks, then the
 * LPC attachment with real host backends (a pty, and pipes as stdio).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "uart_emul.h"

struct fake {
	uint8_t	tx[64];
	int	ntx;
	bool	level;
	int	nintr;		/* callbacks, each a level change */
	int	nspace;
};

static void
fake_intr(void *arg, bool level)
{
	struct fake *f = arg;

	f->level = level;
	f->nintr++;
}

static void
fake_tx(void *arg, uint8_t byte)
{
	struct fake *f = arg;

	if (f->ntx < (int)sizeof(f->tx))
		f->tx[f->ntx++] = byte;
}

static void
fake_rx_space(void *arg)
{
	struct fake *f = arg;

	f->nspace++;
}

static const struct uart_ops fake_ops = {
	.uo_intr = fake_intr,
	.uo_tx = fake_tx,
	.uo_rx_space = fake_rx_space,
};

static void
setup(struct uart_softc *sc, struct fake *f)
{

	memset(f, 0, sizeof(*f));
	uart_init(sc, &fake_ops, f);
}

TEST(uart_reset_values)
{
	struct uart_softc sc;
	struct fake f;

	setup(&sc, &f);
	CHECK_EQ(uart_read(&sc, UART_REG_IER), 0);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_NOPEND);
	CHECK_EQ(uart_read(&sc, UART_REG_LCR), 0);
	CHECK_EQ(uart_read(&sc, UART_REG_MCR), 0);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DCD | UART_MSR_DSR);
	CHECK_EQ(uart_read(&sc, UART_REG_SCR), 0);
	CHECK(!f.level);
	CHECK_EQ(f.nintr, 0);
	/* Offsets past the 8 registers are not registers. */
	CHECK_EQ(uart_read(&sc, 8), 0xff);
	uart_write(&sc, 8, 0x55);
	uart_write(&sc, -1, 0x55);
	CHECK_EQ(uart_read(&sc, -1), 0xff);
}

/* A saved UART comes back with its registers, FIFO and interrupt level. */
TEST(uart_snapshot_round_trip)
{
	struct uart_softc a, b;
	struct fake fa, fb;
	uint8_t buf[64], bad[64];
	ssize_t n;

	setup(&a, &fa);
	uart_write(&a, UART_REG_LCR, UART_LCR_DLAB | 0x03);
	uart_write(&a, UART_REG_DATA, 0x0c);	/* DLL: 9600 baud */
	uart_write(&a, UART_REG_LCR, 0x03);
	uart_write(&a, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(&a, UART_REG_IER, UART_IER_ERBFI);
	uart_write(&a, UART_REG_SCR, 0x5a);
	CHECK_EQ(uart_rx_push(&a, (const uint8_t *)"xyz", 3), 3);
	CHECK_EQ(uart_read(&a, UART_REG_DATA), 'x');	/* FIFO: "yz" left */
	n = uart_snapshot_save(&a, buf, sizeof(buf));
	REQUIRE(n == 13 + 2);
	CHECK_EQ(uart_snapshot_save(&a, buf, 10), 15);	/* needs 15 bytes */

	setup(&b, &fb);
	REQUIRE(uart_snapshot_restore(&b, buf, (size_t)n) == 0);
	CHECK(fb.level);			/* received data pending, ERBFI on */
	CHECK_EQ(uart_read(&b, UART_REG_LCR), 0x03);
	CHECK_EQ(uart_read(&b, UART_REG_SCR), 0x5a);
	CHECK_EQ(uart_read(&b, UART_REG_IER), UART_IER_ERBFI);
	CHECK_EQ(uart_read(&b, UART_REG_DATA), 'y');
	CHECK_EQ(uart_read(&b, UART_REG_DATA), 'z');
	CHECK(!(uart_read(&b, UART_REG_LSR) & UART_LSR_DR));
	uart_write(&b, UART_REG_LCR, UART_LCR_DLAB);
	CHECK_EQ(uart_read(&b, UART_REG_DATA), 0x0c);

	/* Malformed sections change nothing. */
	setup(&b, &fb);
	memcpy(bad, buf, (size_t)n);
	bad[0] = 2;
	CHECK(uart_snapshot_restore(&b, bad, (size_t)n) == -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[12] = 17;					/* more than the FIFO holds */
	CHECK(uart_snapshot_restore(&b, bad, (size_t)n) == -EINVAL);
	CHECK(uart_snapshot_restore(&b, buf, (size_t)n - 1) == -EINVAL);
	CHECK(uart_snapshot_restore(&b, buf, 5) == -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[2] = 0;					/* 16450 mode: one byte at most */
	CHECK(uart_snapshot_restore(&b, bad, (size_t)n) == -EINVAL);
	CHECK_EQ(uart_read(&b, UART_REG_SCR), 0);
	CHECK_EQ(uart_read(&b, UART_REG_LCR), 0);
}

TEST(uart_dlab_divisor_latch)
{
	struct uart_softc sc;
	struct fake f;

	setup(&sc, &f);
	CHECK_EQ(uart_read(&sc, UART_REG_LCR), 0);
	uart_write(&sc, UART_REG_IER, UART_IER_ERBFI);
	uart_write(&sc, UART_REG_LCR, UART_LCR_DLAB | 0x03);
	/* Default divisor 1: 115200 baud from 1.8432 MHz. */
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 1);
	CHECK_EQ(uart_read(&sc, UART_REG_IER), 0);
	uart_write(&sc, UART_REG_DATA, 0x0c);	/* 9600 baud */
	uart_write(&sc, UART_REG_IER, 0x12);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 0x0c);
	CHECK_EQ(uart_read(&sc, UART_REG_IER), 0x12);
	CHECK_EQ(f.ntx, 0);			/* DLL write is not THR */
	uart_write(&sc, UART_REG_LCR, 0x03);
	CHECK_EQ(uart_read(&sc, UART_REG_IER), UART_IER_ERBFI);
	CHECK_EQ(uart_read(&sc, UART_REG_LCR), 0x03);
	uart_write(&sc, UART_REG_DATA, 'x');
	CHECK_EQ(f.ntx, 1);
	CHECK_EQ(f.tx[0], 'x');
	uart_write(&sc, UART_REG_LCR, UART_LCR_DLAB);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 0x0c);	/* latch kept */
	CHECK_EQ(uart_read(&sc, UART_REG_IER), 0x12);
}

TEST(uart_tx_and_lsr)
{
	struct uart_softc sc;
	struct fake f;
	const char *msg = "hello";
	int i;

	setup(&sc, &f);
	for (i = 0; msg[i] != '\0'; i++)
		uart_write(&sc, UART_REG_DATA, (uint8_t)msg[i]);
	CHECK_EQ(f.ntx, 5);
	CHECK(memcmp(f.tx, "hello", 5) == 0);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	/* LSR and MSR are not writable. */
	uart_write(&sc, UART_REG_LSR, 0xff);
	uart_write(&sc, UART_REG_MSR, 0xff);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DCD | UART_MSR_DSR);
	/* Reserved bits: IER 7:4 and MCR 7:5 read 0. */
	uart_write(&sc, UART_REG_IER, 0xf0);
	CHECK_EQ(uart_read(&sc, UART_REG_IER), 0);
	uart_write(&sc, UART_REG_MCR, 0xe3);
	CHECK_EQ(uart_read(&sc, UART_REG_MCR), 0x03);
	uart_write(&sc, UART_REG_SCR, 0xa5);
	CHECK_EQ(uart_read(&sc, UART_REG_SCR), 0xa5);
}

TEST(uart_thre_interrupt)
{
	struct uart_softc sc;
	struct fake f;

	setup(&sc, &f);
	/* Enabling ETBEI with THR empty raises THRE at once. */
	uart_write(&sc, UART_REG_IER, UART_IER_ETBEI);
	CHECK(f.level);
	CHECK(uart_intr_asserted(&sc));
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_TXRDY);
	/* Reading IIR that reported THRE clears it. */
	CHECK(!f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_NOPEND);
	/* Writing THR: the byte leaves at once, THR is empty again. */
	uart_write(&sc, UART_REG_DATA, 'a');
	CHECK(f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_TXRDY);
	CHECK(!f.level);
	/* Rewriting IER with ETBEI still set is no new edge. */
	uart_write(&sc, UART_REG_IER, UART_IER_ETBEI);
	CHECK(!f.level);
	/* Masking hides a pending THRE; unmasking re-arms it. */
	uart_write(&sc, UART_REG_DATA, 'b');
	CHECK(f.level);
	uart_write(&sc, UART_REG_IER, 0);
	CHECK(!f.level);
	uart_write(&sc, UART_REG_IER, UART_IER_ETBEI);
	CHECK(f.level);
	CHECK_EQ(f.nintr, 7);	/* each a change of level */
}

TEST(uart_rx_16450_mode)
{
	struct uart_softc sc;
	struct fake f;
	const uint8_t in[3] = { 'a', 'b', 'c' };

	setup(&sc, &f);
	/* No FIFO until FCR enables it: one holding register. */
	CHECK_EQ(uart_rx_room(&sc), 1);
	CHECK_EQ(uart_rx_push(&sc, in, 3), 1);
	CHECK_EQ(uart_rx_room(&sc), 0);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, UART_LSR_DR);
	CHECK(!f.level);			/* ERBFI off */
	uart_write(&sc, UART_REG_IER, UART_IER_ERBFI);
	CHECK(f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_RXRDY);
	CHECK_EQ(f.nspace, 0);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'a');
	CHECK_EQ(f.nspace, 1);			/* full -> room */
	CHECK(!f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);
	/* An empty RBR reads its last byte again. */
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'a');
	CHECK_EQ(f.nspace, 1);
	CHECK_EQ(uart_rx_push(&sc, in + 1, 2), 1);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'b');
}

TEST(uart_fifo_enable_reset)
{
	struct uart_softc sc;
	struct fake f;
	uint8_t in[20];
	int i;

	setup(&sc, &f);
	for (i = 0; i < 20; i++)
		in[i] = (uint8_t)('A' + i);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_NOPEND);
	CHECK_EQ(uart_rx_push(&sc, in, 20), UART_FIFOSZ);
	CHECK_EQ(uart_rx_push(&sc, in, 1), 0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'A' + i);
	CHECK_EQ(f.nspace, 1);
	CHECK_EQ(uart_rx_push(&sc, in + 16, 4), 4);	/* wraps around */
	for (i = 4; i < 20; i++)
		CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'A' + i);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);

	/* RCVR FIFO reset (FCR bit 1) empties the FIFO. */
	CHECK_EQ(uart_rx_push(&sc, in, 20), UART_FIFOSZ);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE | UART_FCR_RXRST);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);
	CHECK_EQ(uart_rx_room(&sc), UART_FIFOSZ);
	CHECK_EQ(f.nspace, 3);
	/* Bits other than 0 are ignored while bit 0 is clear. */
	CHECK_EQ(uart_rx_push(&sc, in, 3), 3);
	uart_write(&sc, UART_REG_FCR, UART_FCR_RXRST | UART_FCR_RXTRIG);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_NOPEND);
	CHECK_EQ(uart_rx_room(&sc), 1);	/* back to 16450 mode, emptied */
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);
	/* Re-enabling also starts from an empty FIFO. */
	CHECK_EQ(uart_rx_push(&sc, in, 3), 1);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);
}

TEST(uart_fifo_trigger_level)
{
	struct uart_softc sc;
	struct fake f;
	uint8_t in[16] = { 0 };

	setup(&sc, &f);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE | UART_FCR_RXTRIG);
	uart_write(&sc, UART_REG_IER, UART_IER_ERBFI);
	CHECK_EQ(uart_rx_push(&sc, in, 5), 5);
	/* Below 14 bytes: character timeout indication. */
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RXTOUT);
	CHECK_EQ(uart_rx_push(&sc, in, 9), 9);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RXRDY);
	/* Trigger level 4 (FCR 7:6 = 01). */
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE | 0x40);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RXRDY);
}

TEST(uart_iir_priority)
{
	struct uart_softc sc;
	struct fake f;
	int i;

	setup(&sc, &f);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE);
	/* Loopback with every output set: MSR deltas appear. */
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP | 0x0f);
	for (i = 0; i < UART_FIFOSZ + 1; i++)
		uart_write(&sc, UART_REG_DATA, (uint8_t)i);	/* overruns */
	uart_write(&sc, UART_REG_IER, 0x0f);
	CHECK(f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RLS);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RLS);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_OE, UART_LSR_OE);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_RXRDY);
	for (i = 0; i < UART_FIFOSZ; i++)
		CHECK_EQ(uart_read(&sc, UART_REG_DATA), i);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_TXRDY);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_MLSC);
	CHECK(f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR) & UART_MSR_DELTA,
	    UART_MSR_DCTS);	/* only CTS changed: DSR and DCD were on */
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_FIFO | UART_IIR_NOPEND);
	CHECK(!f.level);
}

TEST(uart_loopback)
{
	struct uart_softc sc;
	struct fake f;
	const uint8_t host[2] = { 'h', 'i' };

	setup(&sc, &f);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP);
	/* Outputs off: DCD and DSR drop, and say so. */
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DDCD | UART_MSR_DDSR);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), 0);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_CTS | UART_MSR_DCTS);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DSR | UART_MSR_DCTS |
	    UART_MSR_DDSR);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_RI | UART_MSR_DDSR);
	/* RI reports its trailing edge only. */
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DCD | UART_MSR_TERI |
	    UART_MSR_DDCD);
	/* THR feeds RBR; nothing reaches the line. */
	uart_write(&sc, UART_REG_DATA, 'z');
	CHECK_EQ(f.ntx, 0);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, UART_LSR_DR);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), 'z');
	/* The serial input is disconnected: host bytes are dropped. */
	CHECK_EQ(uart_rx_push(&sc, host, 2), 2);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);
	/* Leaving loopback: modem inputs back to DCD|DSR, with deltas. */
	uart_write(&sc, UART_REG_MCR, 0);
	CHECK_EQ(uart_read(&sc, UART_REG_MSR), UART_MSR_DCD | UART_MSR_DSR |
	    UART_MSR_DDSR);
	uart_write(&sc, UART_REG_DATA, 'q');
	CHECK_EQ(f.ntx, 1);
}

TEST(uart_overrun)
{
	struct uart_softc sc;
	struct fake f;
	int i;

	/* FIFO mode: the 17th character is lost, the FIFO kept. */
	setup(&sc, &f);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP);
	for (i = 0; i < UART_FIFOSZ + 1; i++)
		uart_write(&sc, UART_REG_DATA, (uint8_t)(0x30 + i));
	CHECK_EQ(uart_read(&sc, UART_REG_LSR), UART_LSR_THRE | UART_LSR_TEMT |
	    UART_LSR_OE | UART_LSR_DR);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_OE, 0);	/* cleared */
	for (i = 0; i < UART_FIFOSZ; i++)
		CHECK_EQ(uart_read(&sc, UART_REG_DATA), 0x30 + i);
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & UART_LSR_DR, 0);

	/* 16450 mode: the unread byte is overwritten. */
	setup(&sc, &f);
	uart_write(&sc, UART_REG_MCR, UART_MCR_LOOP);
	uart_write(&sc, UART_REG_DATA, '1');
	uart_write(&sc, UART_REG_DATA, '2');
	CHECK_EQ(uart_read(&sc, UART_REG_LSR) & (UART_LSR_OE | UART_LSR_DR),
	    UART_LSR_OE | UART_LSR_DR);
	CHECK_EQ(uart_read(&sc, UART_REG_DATA), '2');
	/* Overrun raises the line status interrupt when ELSI is on. */
	uart_write(&sc, UART_REG_DATA, '3');
	uart_write(&sc, UART_REG_DATA, '4');
	uart_write(&sc, UART_REG_IER, UART_IER_ELSI);
	CHECK(f.level);
	CHECK_EQ(uart_read(&sc, UART_REG_IIR), UART_IIR_RLS);
	(void)uart_read(&sc, UART_REG_LSR);
	CHECK(!f.level);
}

TEST(uart_intr_callback_on_change_only)
{
	struct uart_softc sc;
	struct fake f;
	const uint8_t b = 'x';

	setup(&sc, &f);
	uart_write(&sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(&sc, UART_REG_IER, UART_IER_ERBFI);
	CHECK_EQ(f.nintr, 0);
	uart_rx_push(&sc, &b, 1);
	uart_rx_push(&sc, &b, 1);
	(void)uart_read(&sc, UART_REG_LSR);
	CHECK_EQ(f.nintr, 1);
	(void)uart_read(&sc, UART_REG_DATA);
	CHECK_EQ(f.nintr, 1);
	(void)uart_read(&sc, UART_REG_DATA);
	CHECK_EQ(f.nintr, 2);
	CHECK(!f.level);
	/* Reset drops the line. */
	uart_rx_push(&sc, &b, 1);
	CHECK(f.level);
	uart_reset(&sc);
	CHECK(!f.level);
	CHECK_EQ(f.nintr, 4);
}

/* Every register at every value: the model never misbehaves. */
TEST(uart_register_sweep)
{
	struct uart_softc sc;
	struct fake f;
	unsigned int seed = 1;
	int i, off;

	setup(&sc, &f);
	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245 + 12345;
		off = (int)((seed >> 16) % 10) - 1;
		if (seed & 0x80000000u)
			(void)uart_read(&sc, off);
		else
			uart_write(&sc, off, (uint8_t)(seed >> 8));
		if ((seed & 0x700) == 0)
			(void)uart_rx_push(&sc, (const uint8_t *)"abc", 3);
		if (sc.sc_rxfifo.uf_num < 0 ||
		    sc.sc_rxfifo.uf_num > sc.sc_rxfifo.uf_size ||
		    sc.sc_intr != f.level) {
			CHECK(0);
			break;
		}
	}
}

/* --- the LPC attachment with real host backends --- */

static struct bhyve_vm *
lpc_vm(const char *com1_path)
{
	struct bhyve_vm *bvm;

	bvm = test_bvm_alloc();
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	if (com1_path != NULL)
		set_config_value(bvm->cfg, "lpc.com1.path", com1_path);
	return (test_bvm_init(bvm));
}

/* Waits up to 2 s for the reader thread to deliver input. */
static bool
wait_dr(struct bhyve_vm *bvm, int base)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (test_pio(bvm, 1, base + UART_REG_LSR, 1, 0) & UART_LSR_DR)
			return (true);
		nanosleep(&ts, NULL);
	}
	return (false);
}

static int
open_pty(char *name, size_t len)
{
	int m;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0)
		return (-1);
	if (grantpt(m) != 0 || unlockpt(m) != 0 ||
	    ptsname_r(m, name, len) != 0) {
		close(m);
		return (-1);
	}
	return (m);
}

TEST(lpc_com_ports_and_irq)
{
	struct bhyve_vm *bvm;
	const int ports[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
	const int irqs[4] = { 4, 3, 4, 3 };
	int i;

	bvm = lpc_vm(NULL);
	REQUIRE(bvm != NULL);
	for (i = 0; i < 4; i++) {
		/* Scratch register proves each port answers on its own. */
		test_pio(bvm, 0, ports[i] + UART_REG_SCR, 1, 0x10 + i);
		CHECK_EQ(test_pio(bvm, 1, ports[i] + UART_REG_LSR, 1, 0), 0x60);
	}
	for (i = 0; i < 4; i++)
		CHECK_EQ(test_pio(bvm, 1, ports[i] + UART_REG_SCR, 1, 0), 0x10 + i);
	CHECK(!lpc_irq_asserted(bvm, 3));
	CHECK(!lpc_irq_asserted(bvm, 4));
	for (i = 0; i < 4; i++) {
		test_pio(bvm, 0, ports[i] + UART_REG_IER, 1, UART_IER_ETBEI);
		CHECK(lpc_irq_asserted(bvm, irqs[i]));
	}
	/* IRQ 4 is shared by com1 and com3: it stays up until both drop. */
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + UART_REG_IIR, 1, 0), UART_IIR_TXRDY);
	CHECK(lpc_irq_asserted(bvm, 4));
	CHECK_EQ(test_pio(bvm, 1, 0x3e8 + UART_REG_IIR, 1, 0), UART_IIR_TXRDY);
	CHECK(!lpc_irq_asserted(bvm, 4));
	CHECK(lpc_irq_asserted(bvm, 3));
	CHECK(!lpc_irq_asserted(bvm, -1));
	CHECK(!lpc_irq_asserted(bvm, 16));
	/* Wide accesses split into byte cycles: SCR then past the end. */
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + UART_REG_SCR, 2, 0), 0xff10);
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + UART_REG_LCR, 4, 0), 0xa0600000);
	test_pio(bvm, 0, 0x3f8 + UART_REG_LCR, 2, 0x0b03);
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + UART_REG_MCR, 1, 0), 0x0b);
	test_bvm_free(bvm);
}

TEST(lpc_uart_pty_backend)
{
	struct bhyve_vm *bvm;
	struct termios tio;
	char name[128], buf[16];
	struct pollfd pfd;
	size_t got;
	ssize_t n;
	int m, s;

	m = open_pty(name, sizeof(name));
	if (m < 0)
		SKIP("no pty: %s", strerror(errno));
	/* Keep a slave open so the reader never sees a hangup. */
	s = open(name, O_RDWR | O_NOCTTY);
	REQUIRE(s >= 0);
	REQUIRE(tcgetattr(s, &tio) == 0);
	CHECK(tio.c_lflag & ICANON);
	bvm = lpc_vm(name);
	REQUIRE(bvm != NULL);
	REQUIRE(tcgetattr(s, &tio) == 0);
	CHECK((tio.c_lflag & ICANON) == 0);	/* raw */
	CHECK(tio.c_oflag & OPOST);

	test_pio(bvm, 0, 0x3f8, 1, 'o');
	test_pio(bvm, 0, 0x3f8, 1, 'k');
	/* The pty may hand the two bytes over in two reads. */
	for (got = 0; got < 2; got += (size_t)n) {
		pfd = (struct pollfd){ .fd = m, .events = POLLIN };
		if (poll(&pfd, 1, 2000) != 1)
			break;
		n = read(m, buf + got, 2 - got);
		if (n <= 0)
			break;
	}
	CHECK_EQ(got, 2);
	CHECK(memcmp(buf, "ok", 2) == 0);

	/* 20 bytes against a 1-byte 16450 holding register: flow control. */
	test_pio(bvm, 0, 0x3f8 + UART_REG_IER, 1, UART_IER_ERBFI);
	CHECK_EQ(write(m, "abcdefghijklmnopqrst", 20), 20);
	for (int i = 0; i < 20; i++) {
		if (!wait_dr(bvm, 0x3f8)) {
			CHECK(0);
			break;
		}
		CHECK(lpc_irq_asserted(bvm, 4));
		CHECK_EQ(test_pio(bvm, 1, 0x3f8, 1, 0), 'a' + i);
	}
	CHECK(!lpc_irq_asserted(bvm, 4));
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + UART_REG_LSR, 1, 0) & UART_LSR_OE, 0);
	test_bvm_free(bvm);
	REQUIRE(tcgetattr(s, &tio) == 0);
	CHECK(tio.c_lflag & ICANON);		/* restored */
	close(s);
	close(m);
}

TEST(lpc_uart_stdio_pipes)
{
	struct bhyve_vm *bvm;
	int in[2], out[2], save0, save1;
	char buf[8];
	bool got;

	REQUIRE(pipe(in) == 0 && pipe(out) == 0);
	fflush(stdout);
	save0 = dup(0);
	save1 = dup(1);
	dup2(in[0], 0);
	dup2(out[1], 1);
	close(in[0]);
	close(out[1]);
	CHECK_EQ(write(in[1], "xy", 2), 2);
	close(in[1]);				/* then EOF */

	bvm = lpc_vm("stdio");
	if (bvm != NULL) {
		test_pio(bvm, 0, 0x3f8, 1, 'A');
		got = wait_dr(bvm, 0x3f8);
		CHECK(got);
		CHECK_EQ(test_pio(bvm, 1, 0x3f8, 1, 0), 'x');
		CHECK(wait_dr(bvm, 0x3f8));
		CHECK_EQ(test_pio(bvm, 1, 0x3f8, 1, 0), 'y');
		test_bvm_free(bvm);
	}
	dup2(save0, 0);
	dup2(save1, 1);
	close(save0);
	close(save1);
	REQUIRE(bvm != NULL);
	CHECK_EQ(read(out[0], buf, sizeof(buf)), 1);
	CHECK_EQ(buf[0], 'A');
	close(out[0]);
}

TEST(lpc_uart_backend_errors)
{
	struct bhyve_vm *bvm;

	/* Not a terminal, and absent: both fail cleanly. */
	CHECK(lpc_vm("/dev/null") == NULL);
	CHECK(lpc_vm("/nonexistent/tty") == NULL);
	/* Restore with nothing saved is harmless. */
	uart_backend_restore_all();
	bvm = lpc_vm(NULL);
	REQUIRE(bvm != NULL);
	test_bvm_free(bvm);
}

/*
 * vatpic.h - two cascaded 8259A interrupt controllers (Intel 8259A
 * datasheet; bhyve's sys/amd64/vmm/io/vatpic.c) and the PIIX edge/level
 * control registers (ELCR).
 *
 * Master at ports 0x20/0x21, slave at 0xa0/0xa1 with its INT on the
 * master's IR2, ELCR at 0x4d0/0x4d1.  ICW1-ICW4, OCW1-OCW3, IRR/ISR/IMR,
 * fully nested and special fully nested modes, specific and non-specific
 * EOI, rotating priority, auto-EOI, special mask mode, poll mode and
 * spurious IRQ 7/15.  The master's INT output goes to a sink (the BSP's
 * LINT0, programmed ExtINT); the CPU then runs an acknowledge cycle with
 * vatpic_intr_ack(), which returns the vector.
 *
 * Lines: ISA IRQ n is input n (8-15 on the slave; IRQ 2 is the cascade).
 * An input is edge triggered (the request latches on a rising edge, so a
 * pulse is enough, as bhyve and QEMU model it) unless its ELCR bit or
 * ICW1's LTIM makes it level triggered (the request follows the line).
 * The cascade input follows the slave's INT level, as the wire does.
 *
 * Not modelled: 8080/8085 mode (ICW4 bit 0 clear, or ICW1 without IC4):
 * the acknowledge returns the x86 vector regardless; buffered mode.
 *
 * Concurrency: none inside; the caller serializes calls (one lock).
 */
#ifndef LHYVE_VATPIC_H
#define LHYVE_VATPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VATPIC_MASTER		0x20
#define VATPIC_SLAVE		0xa0
#define VATPIC_ELCR		0x4d0	/* 0x4d0 master, 0x4d1 slave */
#define VATPIC_NIRQ		16

struct vatpic_sink {
	/* The master's INT output changed level. */
	void	(*intr_changed)(void *arg, bool level);
	void	*arg;
};

struct vatpic_chip {
	uint8_t		icw_next;	/* 0: ready; 2, 3, 4: expecting that ICW */
	bool		icw4;		/* ICW1 IC4 */
	bool		single;		/* ICW1 SNGL */
	bool		ltim;		/* ICW1 LTIM: every input level triggered */
	uint8_t		base;		/* ICW2: vector base, bits 7:3 */
	uint8_t		icw3;
	bool		aeoi, sfnm;	/* ICW4 */
	bool		rotate_aeoi;	/* OCW2 "rotate in auto-EOI" */
	bool		smm;		/* OCW3 special mask mode */
	bool		read_isr;	/* OCW3 RR/RIS: ISR rather than IRR */
	bool		poll;		/* OCW3 P: the next read is the poll byte */
	uint8_t		irr, isr, imr, elcr;
	uint8_t		pins;		/* input line levels */
	uint8_t		lowprio;	/* the lowest-priority input (rotation) */
	bool		intr;		/* INT output */
};

struct vatpic {
	struct vatpic_sink sink;
	struct vatpic_chip chip[2];	/* master, slave */
};

/* @elcr: the reset ELCR (bit n: IRQ n level triggered), e.g. VMM_IRQMAP_ELCR. */
void	vatpic_init(struct vatpic *pic, uint16_t elcr, const struct vatpic_sink *sink);
void	vatpic_reset(struct vatpic *pic, uint16_t elcr);

/* One byte at ports 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1; -EINVAL otherwise. */
int	vatpic_read(struct vatpic *pic, uint16_t port, uint8_t *val);
int	vatpic_write(struct vatpic *pic, uint16_t port, uint8_t val);

/* ISA IRQ lines 0-15 but 2 (the cascade); -EINVAL otherwise. */
int	vatpic_set_irq(struct vatpic *pic, int irq, bool level);
int	vatpic_assert_irq(struct vatpic *pic, int irq);
int	vatpic_deassert_irq(struct vatpic *pic, int irq);
int	vatpic_pulse_irq(struct vatpic *pic, int irq);

/* The master's INT output. */
bool	vatpic_intr_pending(const struct vatpic *pic);
/*
 * The INTA cycle (datasheet "Interrupt Sequence"): the vector of the
 * highest-priority request, which moves from IRR to ISR (not with auto
 * EOI); with nothing to acknowledge (the CPU saw INT, then the line went
 * away), the spurious IRQ 7 vector with no ISR bit set.  The master's IR2
 * request follows the slave's INT, so the slave always has something when
 * the master picks IR2; IRQ 15's vector is the answer only if it does not.
 */
uint8_t	vatpic_intr_ack(struct vatpic *pic);

#define VATPIC_SNAP_SIZE	(8 + 2 * 16)
ssize_t	vatpic_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vatpic_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VATPIC_H */

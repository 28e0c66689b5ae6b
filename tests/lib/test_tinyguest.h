/*
 * test_tinyguest.h - a 32-bit guest for interrupt tests through libvmmapi
 * (test_intr.c, test_platform.c): flat segments, a handler per vector
 * 0x60-0x6f that counts its vector in guest memory and EOIs the LAPIC
 * (plus what the test adds), the test's set-up code, then "sti; hlt" in a
 * loop on the software CPU, run by a thread of its own.
 */
#ifndef LHYVE_TEST_TINYGUEST_H
#define LHYVE_TEST_TINYGUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmmapi.h"

#define	TINY_CODE	0x1000
#define	TINY_GDT	0x2000
#define	TINY_IDT	0x3000
#define	TINY_HANDLERS	0x4000		/* 32 bytes per vector 0x60-0x6f */
#define	TINY_COUNTS	0x5000		/* u32 per vector 0x60-0x6f */
#define	TINY_NMI_VEC	0x6e		/* the NMI (vector 2) shares its handler */

struct tinyguest {
	struct vmctx	*ctx;
	struct vcpu	*vcpu;
	uint8_t		*mem;
	pthread_t	thread;
	atomic_int	ready;
	atomic_int	bad_exit;	/* exit code + 1 of an unexpected exit */
};

/* mov dword [addr], val */
uint8_t	*tiny_emit_store(uint8_t *p, uint32_t addr, uint32_t val);
/* mov al, val; out port, al */
uint8_t	*tiny_emit_out(uint8_t *p, uint8_t port, uint8_t val);
/* IOAPIC pin @pin: redirection entry @lo, destination APIC 0. */
uint8_t	*tiny_emit_rte(uint8_t *p, int pin, uint32_t lo);

/*
 * A fresh store (VMM_DIR) and VM @name with 1 MiB; @handler_tail (may be
 * NULL) emits the handlers' code after the LAPIC EOI, @setup the code
 * before the HLT loop.  Returns when the guest reached the loop: 0, or -1
 * after printing why (then nothing needs tiny_stop).
 */
int	tiny_start(struct tinyguest *g, const char *name,
	    uint8_t *(*handler_tail)(uint8_t *q), uint8_t *(*setup)(uint8_t *p));
/* Powers the guest off; returns its bad_exit (0: only expected exits). */
int	tiny_stop(struct tinyguest *g);
uint32_t tiny_count(struct tinyguest *g, int vector);
/* Waits (up to 10 s) until @vector was taken at least @n times. */
bool	tiny_wait_count(struct tinyguest *g, int vector, uint32_t n);
/* A fresh, empty store for the next VMs (VMM_DIR under /tmp). */
void	tiny_fresh_store(const char *prefix);

#endif /* LHYVE_TEST_TINYGUEST_H */

/*
 * vrtc.h - the MC146818 real-time clock and its CMOS RAM (Motorola
 * MC146818A datasheet; bhyve's sys/amd64/vmm/io/vrtc.c and
 * usr.sbin/bhyve/rtc.c).
 *
 * Ports 0x70 (index; bit 7 is the NMI mask) and 0x71 (data).  128 bytes:
 * the calendar (0x00-0x09, BCD or binary, 12- or 24-hour), the alarm
 * (with don't-care values 0xc0-0xff), registers A-D at 0x0a-0x0d, NVRAM
 * 0x0e-0x7f with the century at 0x32 and the memory sizes bhyve writes
 * (vrtc_set_memsize).  Interrupts: periodic (rate select in register A),
 * alarm and update-ended, on IRQ 8 through the sink, held until register
 * C is read.  UIP is set in the 244 us before each update; SET stops the
 * calendar so the guest can write it; a divider other than 010 stops the
 * oscillator chain.
 *
 * Time: the host's real time (UTC, read once at init and carried on by the
 * monotonic clock) shown as local time through clock.utc_offset, or as
 * UTC with bhyve's -u.  The guest setting the calendar, or
 * vrtc_settime(), stores an offset from the host's UTC time, which is
 * what the snapshot keeps: the RTC goes on with real time across a
 * suspend, as a battery-backed one does.  A calendar the guest sets to an
 * impossible date (month 13, BCD digits above 9) stops, showing what was
 * written, until a valid time is set (bhyve does the same).
 *
 * Not modelled: daylight saving (DSE is stored), the square-wave pin.
 *
 * The model never sleeps: vrtc_deadline() is the next enabled interrupt
 * (host ns), vrtc_update() raises what is due.  Flags whose interrupt is
 * disabled are brought up to date when register C is read.
 *
 * Concurrency: none inside; the caller serializes calls (one lock).
 */
#ifndef LHYVE_VRTC_H
#define LHYVE_VRTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vio_common.h"

#define VRTC_PORT_INDEX		0x70
#define VRTC_PORT_DATA		0x71
#define VRTC_NREGS		128

#define RTC_SEC			0x00
#define RTC_SEC_ALARM		0x01
#define RTC_MIN			0x02
#define RTC_MIN_ALARM		0x03
#define RTC_HOUR		0x04
#define RTC_HOUR_ALARM		0x05
#define RTC_WDAY		0x06
#define RTC_MDAY		0x07
#define RTC_MONTH		0x08
#define RTC_YEAR		0x09
#define RTC_REG_A		0x0a
#define RTC_REG_B		0x0b
#define RTC_REG_C		0x0c
#define RTC_REG_D		0x0d
#define RTC_CENTURY		0x32
/* bhyve's NVRAM layout (usr.sbin/bhyve/rtc.c) and the PC's (0x15-0x18, 0x30). */
#define RTC_BASEMEM_LO		0x15	/* KiB below 1 MiB */
#define RTC_BASEMEM_HI		0x16
#define RTC_EXTMEM_LO		0x17	/* KiB above 1 MiB, at most 0xffff */
#define RTC_EXTMEM_HI		0x18
#define RTC_EXTMEM2_LO		0x30	/* the same, as the POST found it */
#define RTC_EXTMEM2_HI		0x31
#define RTC_LMEM_LSB		0x34	/* 64 KiB units above 16 MiB, below 4G */
#define RTC_LMEM_MSB		0x35
#define RTC_HMEM_LSB		0x5b	/* 64 KiB units above 4 GiB */
#define RTC_HMEM_SB		0x5c
#define RTC_HMEM_MSB		0x5d

#define RTCSA_UIP		0x80
#define RTCSA_DV		0x70
#define RTCSA_DV_NORMAL		0x20	/* 32.768 kHz time base */
#define RTCSA_RS		0x0f
#define RTCSB_SET		0x80
#define RTCSB_PIE		0x40
#define RTCSB_AIE		0x20
#define RTCSB_UIE		0x10
#define RTCSB_SQWE		0x08
#define RTCSB_BIN		0x04
#define RTCSB_24HR		0x02
#define RTCSB_DSE		0x01
#define RTCIR_INT		0x80	/* IRQF */
#define RTCIR_PF		0x40
#define RTCIR_AF		0x20
#define RTCIR_UF		0x10
#define RTCSD_VRT		0x80

struct vrtc_clock {
	uint64_t	(*now_ns)(void *arg);		/* monotonic host time */
	int64_t		(*wall_ns)(void *arg);		/* host UTC, ns since the Epoch */
	/* Optional: the host zone's offset from UTC (s) at @utc_secs. */
	int32_t		(*utc_offset)(void *arg, int64_t utc_secs);
	void		*arg;
};

struct vrtc_sink {
	/* IRQ 8 (IRQF) changed level. */
	void	(*irq8)(void *arg, bool level);
	void	*arg;
};

struct vrtc {
	struct vrtc_clock clock;
	struct vrtc_sink sink;
	int64_t		wall_base;	/* host UTC ns at mono_base */
	uint64_t	mono_base;
	uint8_t		ram[VRTC_NREGS];	/* NVRAM, alarms; the calendar when stopped */
	uint8_t		reg_a, reg_b, reg_c;
	uint8_t		index;		/* port 0x70 bits 6:0 */
	bool		nmi_masked;	/* port 0x70 bit 7 */
	bool		stopped;	/* calendar held in ram[] (SET, divider, bad date) */
	bool		broken;		/* ... because the date written is impossible */
	int64_t		offset_ns;	/* divider time = host UTC + offset, while running */
	int64_t		dv_frozen_ns;	/* divider time while the divider is off */
	int64_t		ev_ns;		/* divider time up to which flags are set */
	bool		irq;		/* last level told to the sink */
};

/* @utc: show UTC (bhyve -u), else the host's local time. */
void	vrtc_init(struct vrtc *rtc, bool utc, const struct vrtc_clock *clock,
	    const struct vrtc_sink *sink);
/* The RESET pin (machine reset): interrupt enables and flags clear (datasheet). */
void	vrtc_reset(struct vrtc *rtc);

/* One byte at port 0x70 or 0x71; -EINVAL for another port. */
int	vrtc_read(struct vrtc *rtc, uint16_t port, uint8_t *val);
int	vrtc_write(struct vrtc *rtc, uint16_t port, uint8_t val);
/* Whether port 0x70 bit 7 masks NMIs. */
bool	vrtc_nmi_masked(const struct vrtc *rtc);

/*
 * Direct access for the machine and libvmmapi (vm_rtc_read/write,
 * vm_rtc_settime/gettime): @off 0-127 as the guest would see it; time in
 * seconds since the Epoch as the RTC shows it.  -EINVAL for @off out of
 * range, or a time outside years 1900-2199 (a calendar the guest sets
 * outside them is an impossible date); vrtc_gettime() is -1 while the
 * calendar holds an impossible date.
 */
int	vrtc_nvram_read(struct vrtc *rtc, int off, uint8_t *val);
int	vrtc_nvram_write(struct vrtc *rtc, int off, uint8_t val);
int	vrtc_settime(struct vrtc *rtc, int64_t secs);
int64_t	vrtc_gettime(struct vrtc *rtc);
/* bhyve's memory size fields: RAM below 4G (@lowmem) and above (@highmem). */
void	vrtc_set_memsize(struct vrtc *rtc, uint64_t lowmem, uint64_t highmem);

uint64_t vrtc_deadline(struct vrtc *rtc);
void	vrtc_update(struct vrtc *rtc);

/*
 * Snapshot: registers, RAM, the offset from the host's UTC time.  Flags
 * pending are kept; events that would have happened while the snapshot
 * rested are not replayed.
 */
#define VRTC_SNAP_SIZE		(8 + 8 + VRTC_NREGS + 24)
ssize_t	vrtc_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vrtc_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VRTC_H */

#!/bin/sh
# guest-test.sh - /test.sh of the boot tests' initramfs (scripts/
# build-initramfs.sh -x): reports what tests/boot/test_boot.sh checks, then
# does what the kernel command line's lhyve.action= says.
echo "UNAME $(uname -r)"
echo "CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "SIBLINGS $(grep -m1 '^siblings' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') CORES $(grep -m1 '^cpu cores' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')"
echo "CLOCKSOURCE $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
dmesg > /tmp/dmesg
grep -E "BUG|WARNING|Call Trace|unhandled|unchecked MSR|[Uu]nable to calibrate|calibration failed|TSC.*unstable" /tmp/dmesg |
	sed 's/^/DMESG-BAD /'
echo "DMESG-LINES $(wc -l < /tmp/dmesg)"
case "$(cat /proc/cmdline)" in
*lhyve.action=reboot*)
	reboot -f ;;
*lhyve.action=wait*)
	echo WAITING-FOR-POWER-BUTTON
	while :; do sleep 1; done ;;
esac

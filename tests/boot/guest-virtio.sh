#!/bin/sh
# guest-virtio.sh - /test.sh of tests/boot/test_virtio_linux.sh's initramfs
# (scripts/build-initramfs.sh -x): exercises the virtio devices from inside
# Debian's kernel and prints "VT ..." lines the host checks.  The kernel
# command line says what to do:
#   lhyve.vt=main  the disks, slirp (DHCP, a fetch from the host, a served
#                  file for a host forward), virtio-rnd, a console port;
#                  then unmounts and powers off
#   lhyve.vt=kill  writes a file, syncs, says SYNCED and waits for the host
#                  to kill -9 bhyve; with lhyve.tap=1 first pings and
#                  fetches through a tap
#   lhyve.port=N   the host's HTTP server (slirp: 10.0.2.2, tap: 10.9.0.1),
#                  which answers a POST with the sha256 of its body
. /lib/lhyve/guest-lib.sh
say() { echo "VT $*"; }
port=$(arg port)
# The virtio-net device's negotiated features, bit 0 first (the driver's sysfs file).
netfeatures() {
	for v in /sys/bus/virtio/devices/*; do
		[ "$(cat "$v/device")" = 0x0001 ] && cat "$v/features"
	done
}
# post URL WHAT: 2 MB from the guest (TCP segmentation offload, when on);
# the server's sha256 of what it got
post() {
	seq 1 300000 > /tmp/up.txt
	wget -q -O /tmp/post.out --post-file /tmp/up.txt "$1" 2>/tmp/post.err &&
		say "$2 $(cat /tmp/post.out)" || say "$2 failed $(tail -n 1 /tmp/post.err)"
}

main() {
	say "RNG $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)"

	# The writable disk: a file of known content, synced, unmounted.
	d=$(disk lhyve-rw)
	mkdir -p /mnt /ro /www
	if [ -n "$d" ] && mount -t ext4 "$d" /mnt; then
		seq 1 200000 > /mnt/seq.txt
		sync
		say "BLK-WROTE $(sum </mnt/seq.txt)"
		umount /mnt && say "BLK-UMOUNT ok"
	else
		say "BLK-MOUNT failed (disk '$d')"
	fi

	# The read-only disk: flagged read-only, raw and file writes refused,
	# reads work.
	d=$(disk lhyve-ro)
	say "RO-GETRO $(blockdev --getro "$d")"
	dd if=/dev/zero of="$d" bs=4096 count=1 conv=fsync 2>/tmp/dd.err &&
		say "RO-RAW written" || say "RO-RAW refused $(tail -n 1 /tmp/dd.err)"
	# busybox mount falls back to read-only when rw is refused.
	mount -t ext4 -o rw "$d" /ro 2>/tmp/mnt.err
	say "RO-MOUNT $(awk '$2 == "/ro" { print $4 }' /proc/mounts | cut -d, -f1)"
	say "RO-READ $(sum </ro/hello.txt)"
	echo x 2>/tmp/w.err > /ro/new.txt && sync && say "RO-FS written" ||
		say "RO-FS refused $(tail -n 1 /tmp/w.err)"
	umount /ro

	# slirp: DHCP, then a file from the host's server through 10.0.2.2.
	dhcp || say "DHCP-FAILED $(tail -n 1 /tmp/dhcp.log)"
	say "DHCP $(eth0_addr)"
	wget -q -O /tmp/blob "http://10.0.2.2:$port/blob" 2>/tmp/wget.err &&
		say "WGET $(sum </tmp/blob)" || say "WGET failed $(tail -n 1 /tmp/wget.err)"
	say "NET-FEATURES $(netfeatures)"
	post "http://10.0.2.2:$port/up" POST

	# A server for the host's forward; the host fetches, then talks on the
	# console port, which tells this side it is done.
	seq 1 50000 | sed 's/^/fwd /' > /www/fwd.txt
	httpd -p 8080 -h /www
	say "FWD-READY $(sum </www/fwd.txt)"

	# virtio-console: the port named lhyve.0, one line in, one line out.
	p=""
	for v in /sys/class/virtio-ports/vport*; do
		[ "$(cat "$v/name" 2>/dev/null)" = lhyve.0 ] && p=/dev/${v##*/}
	done
	if [ -n "$p" ] && exec 3<>"$p"; then
		# A read gives end-of-file while no client is connected.
		got=""
		for i in $(seq 1 120); do
			read -r line <&3 && { got=1; break; }
			sleep 1
		done
		if [ -n "$got" ]; then
			echo "guest got: $line" >&3
			say "CONSOLE-GOT $line"
		else
			say "CONSOLE-TIMEOUT"
		fi
		exec 3>&-
	else
		say "CONSOLE-NOPORT '$p'"
	fi
	killall httpd
	say "DONE"
}

kill_test() {
	if [ "$(arg tap)" = 1 ]; then
		ip link set lo up
		ip link set eth0 up
		ip addr add 10.9.0.2/24 dev eth0
		ping -c 3 -W 5 10.9.0.1 >/tmp/ping.log 2>&1 &&
			say "TAP-PING ok" || say "TAP-PING failed $(tail -n 2 /tmp/ping.log | tr '\n' ' ')"
		wget -q -O /tmp/blob "http://10.9.0.1:$port/blob" 2>/tmp/wget.err &&
			say "TAP-WGET $(sum </tmp/blob)" || say "TAP-WGET failed $(tail -n 1 /tmp/wget.err)"
		say "TAP-FEATURES $(netfeatures)"
		post "http://10.9.0.1:$port/up" TAP-POST
	fi
	mkdir -p /mnt
	mount -t ext4 "$(disk lhyve-rw)" /mnt || { say "KILL-MOUNT failed"; return; }
	seq 200001 300000 > /mnt/kill.txt
	sync
	say "SYNCED $(sum </mnt/kill.txt)"
	while :; do sleep 1; done
}

case $(arg vt) in
main) main ;;
kill) kill_test ;;
*) say "UNKNOWN-MODE $(cat /proc/cmdline)" ;;
esac

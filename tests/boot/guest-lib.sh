# guest-lib.sh - shell helpers for the test scripts that run inside Linux
# guests (guest-virtio.sh, guest-suspend.sh, tests/nested/guest-kvmio.sh):
# the initramfs holds it as /lib/lhyve/guest-lib.sh (build-initramfs.sh -f)
# and each script sources it.  busybox sh.

# arg NAME: the value of lhyve.NAME= on the kernel command line
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^lhyve\.$1=//p"; }

# sum: the sha256 of stdin
sum() { sha256sum | cut -d' ' -f1; }

# disk SERIAL: the /dev/vdX whose virtio-blk serial (ser=) is SERIAL
disk() {
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && echo "/dev/${d##*/}"
	done
}

# dhcp: lo and eth0 up, eth0's address and default route from a DHCP server
# (slirp's at 10.0.2.2); fails, with udhcpc's log in /tmp/dhcp.log, when
# none answers.
dhcp() {
	cat > /tmp/dhcp.sh <<-'EOS'
	#!/bin/sh
	[ "$1" = bound ] || exit 0
	ip addr add "$ip/${mask:-24}" dev "$interface"
	ip route add default via "$router" dev "$interface"
	EOS
	chmod +x /tmp/dhcp.sh
	ip link set lo up
	ip link set eth0 up
	udhcpc -i eth0 -n -q -t 10 -T 2 -s /tmp/dhcp.sh >/tmp/dhcp.log 2>&1
}

# eth0_addr: eth0's IPv4 address/prefix
eth0_addr() { ip -4 addr show eth0 | awk '$1 == "inet" { print $2 }'; }

#!/bin/sh
# guest-kvmio.sh - /test.sh of the Linux guest tests/nested/l1.sh boots on
# KVM with a virtio-blk disk and a virtio-net NIC on slirp, whose queue
# notifications go through KVM_IOEVENTFD (docs/kvm.md, "ioeventfd").
# Prints "KV ..." lines; L1 checks them against its own view.
. /lib/lhyve/guest-lib.sh
say() { echo "KV $*"; }

# 16 MiB of random bytes in 4 KiB direct writes (a request, and a
# notification, each), read back the same way.
dd if=/dev/urandom of=/tmp/pat bs=1M count=16 2>/dev/null
say "PAT $(sum </tmp/pat)"
dd if=/tmp/pat of=/dev/vda bs=4096 oflag=direct 2>/tmp/dd.err ||
	say "BLK-WRITE failed $(tail -n 1 /tmp/dd.err)"
say "BLK-READ $(dd if=/dev/vda bs=4096 count=4096 iflag=direct 2>/dev/null | sum)"
# /sys/block/vda/stat: reads completed (field 1), writes completed (field 5).
say "BLK-REQS $(awk '{ print $1 + $5 }' /sys/block/vda/stat)"

# slirp: an address by DHCP, then 1 MiB from L1's server through 10.0.2.2.
dhcp || say "DHCP-FAILED $(tail -n 1 /tmp/dhcp.log)"
say "DHCP $(eth0_addr)"
wget -q -O /tmp/blob "http://10.0.2.2:$(arg port)/blob" 2>/tmp/wget.err &&
	say "WGET $(sum </tmp/blob)" || say "WGET failed $(tail -n 1 /tmp/wget.err)"
say DONE

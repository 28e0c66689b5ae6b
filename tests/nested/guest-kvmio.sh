#!/bin/sh
# guest-kvmio.sh - /test.sh of the Linux guest tests/nested/l1.sh boots on
# KVM with a virtio-blk disk and a virtio-net NIC on slirp, whose queue
# notifications go through KVM_IOEVENTFD (docs/kvm.md, "ioeventfd").
# Prints "KV ..." lines; L1 checks them against its own view.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^lhyve\.$1=//p"; }
say() { echo "KV $*"; }
sum() { sha256sum | cut -d' ' -f1; }

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
cat > /tmp/dhcp.sh <<-'EOS'
#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/${mask:-24}" dev "$interface"
ip route add default via "$router" dev "$interface"
EOS
chmod +x /tmp/dhcp.sh
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /tmp/dhcp.sh >/tmp/dhcp.log 2>&1 ||
	say "DHCP-FAILED $(tail -n 1 /tmp/dhcp.log)"
say "DHCP $(ip -4 addr show eth0 | awk '$1 == "inet" { print $2 }')"
wget -q -O /tmp/blob "http://10.0.2.2:$(arg port)/blob" 2>/tmp/wget.err &&
	say "WGET $(sum </tmp/blob)" || say "WGET failed $(tail -n 1 /tmp/wget.err)"
say DONE

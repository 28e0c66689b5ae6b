#!/bin/sh
# guest-suspend.sh - /test.sh of tests/boot/test_suspend_linux.sh's
# initramfs: disk and network traffic that goes on while the host suspends
# bhyve (bhyvectl --suspend) and starts it again.  Prints "SU ..." lines:
#   SU UP                     DHCP done, the disk mounted
#   SU ROUND n disk-sum net   after each round: a file written and synced,
#                             a fetch from the host (net = ok | retried K | failed)
#   SU FILES sum              the sum of every file written, read back
#   SU DONE                   unmounted; /init powers off
# lhyve.port=N is the host's HTTP server (through slirp's 10.0.2.2),
# lhyve.rounds=N the number of rounds.
. /lib/lhyve/guest-lib.sh
say() { echo "SU $*"; }
port=$(arg port)
rounds=$(arg rounds)

dhcp || say "DHCP-FAILED $(tail -n 1 /tmp/dhcp.log)"
mkdir -p /mnt
d=$(disk lhyve-su)
mount -t ext4 "$d" /mnt || { say "MOUNT-FAILED '$d'"; exit 0; }
say UP

i=1
while [ "$i" -le "$rounds" ]; do
	seq $((i * 100000)) $((i * 100000 + 20000)) > "/mnt/round$i.txt"
	sync
	# A connection open when bhyve stops is the old slirp's: the new bhyve's
	# slirp resets it, and the fetch is made again (docs/virtio.md).  Not
	# wget -T: busybox 1.35's static wget dies of SIGSEGV with it (under
	# QEMU too).
	net=failed
	for try in 1 2 3 4 5; do
		if timeout 30 wget -q -O /tmp/blob "http://10.0.2.2:$port/blob" 2>/tmp/wget.err &&
		    [ "$(sum </tmp/blob)" = "$(arg blobsum)" ]; then
			[ "$try" = 1 ] && net=ok || net="retried $((try - 1))"
			break
		fi
	done
	[ "$net" = failed ] && net="failed $(tail -n 1 /tmp/wget.err)"
	say "ROUND $i $(sum <"/mnt/round$i.txt") $net"
	i=$((i + 1))
done
i=1
while [ "$i" -le "$rounds" ]; do cat "/mnt/round$i.txt"; i=$((i + 1)); done > /tmp/all
say "FILES $(sum </tmp/all)"
umount /mnt && say DONE

#!/usr/bin/bash
# kvm-l1.sh - bench/kvm-nested's part inside L1 (real KVM, nested SVM).
export PATH=/usr/bin:/bin:/usr/sbin:/sbin VMM_DIR=/tmp/vmm VMM_MEM_DIR=/tmp/mem
mkdir -p /tmp/mem
[ -c /dev/kvm ] || { echo "BENCH no /dev/kvm in L1"; exit 0; }
L=/lhyve
# secs WANT CMD...: wall seconds of CMD; a status other than WANT is reported.
secs() { local want=$1; shift; local t0=$EPOCHREALTIME
	timeout 300 "$@" >/dev/null 2>/tmp/secs.err </dev/null
	local rc=$?
	echo "$t0 $EPOCHREALTIME" | awk '{ printf "%.4f\n", $2 - $1 }'
	[ $rc = "$want" ] || echo "BENCH FAILED: $1 exited $rc, not $want: $(head -c 300 /tmp/secs.err)" >/dev/console; }
lhyve_out() {
	$L/bhyveload -m 64M -k /bench/outloop-$1.bin@0x100000 b >/dev/null
	secs 1 $L/bhyve -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -o vmm.backend=kvm b
	$L/bhyvectl --vm=b --destroy
}
qemu_out() {
	secs 99 qemu-system-x86_64 -accel kvm -M pc -m 64M -nic none -display none -serial null \
		-monitor none -device isa-debug-exit,iobase=0xf4,iosize=1 \
		-kernel /bench/outloop-$1.bin -no-reboot
}
best3() { for i in 1 2 3; do "$@"; done | sort -g | head -n 1; }
echo "BENCH start: exit round trips"
for vmm in lhyve qemu; do
	t1=$(best3 ${vmm}_out 2000)
	t2=$(best3 ${vmm}_out 20000)
	echo "$vmm $t1 $t2" | awk '{ d = $3 - $2; printf "BENCH exit round trip, %s/KVM: 2000 exits %.3f s, 20000 exits %.3f s: %.2f us per exit, %.0f exits/s\n", $1, $2, $3, d / 18000 * 1e6, 18000 / d }'
done

# RSS beyond guest memory, 128 MiB guest with every page written.
rss() {	# PID: VmRSS and RssShmem in KiB
	awk '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 } END { print r, s }' /proc/$1/status
}
wait_R() { for i in $(seq 1 600); do grep -q R "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
$L/bhyveload -m 128M -k /bench/touchall.bin@0x100000 m >/dev/null
$L/bhyve -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio -o vmm.backend=kvm m >/tmp/m.con 2>/dev/null </dev/null &
pid=$!
if wait_R /tmp/m.con; then
	set -- $(rss $pid)
	# Files of the initramfs are shmem too, so count guest memory as its 128 MiB.
	echo "BENCH RSS lhyve/KVM, 128 MiB guest: VmRSS $1 KiB (RssShmem $2 KiB), beyond guest memory $(($1 - 131072)) KiB"
else
	echo "BENCH RSS lhyve: the guest did not start"
fi
$L/bhyvectl --vm=m --force-poweroff >/dev/null 2>&1
for i in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { echo "BENCH FAILED: bhyve did not stop on --force-poweroff"; kill -9 $pid; }
wait $pid 2>/dev/null; $L/bhyvectl --vm=m --destroy
qemu-system-x86_64 -accel kvm -M pc -m 128M -nic none -display none -serial file:/tmp/q.con \
	-monitor none -kernel /bench/touchall.bin -no-reboot </dev/null >/dev/null 2>/tmp/q.err &
pid=$!
if wait_R /tmp/q.con; then
	set -- $(rss $pid)
	echo "BENCH RSS qemu/KVM (-M pc), 128 MiB guest: VmRSS $1 KiB, beyond guest memory $(($1 - 131072)) KiB"
else
	echo "BENCH RSS qemu: the guest did not start: $(head -c 300 /tmp/q.err)"
fi
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
echo "BENCH done"

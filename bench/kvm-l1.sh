#!/usr/bin/bash
# kvm-l1.sh - bench/kvm-nested's part inside L1 (real KVM, nested SVM).
export PATH=/usr/bin:/bin:/usr/sbin:/sbin VMM_DIR=/tmp/vmm VMM_MEM_DIR=/tmp/mem
mkdir -p /tmp/mem
[ -c /dev/kvm ] || { echo "BENCH no /dev/kvm in L1"; exit 0; }
L=/lhyve
secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 </dev/null; local rc=$?
	echo "$t0 $EPOCHREALTIME" | awk '{ printf "%.4f\n", $2 - $1 }'; return $rc; }
lhyve_out() {
	$L/bhyveload -m 64M -k /bench/outloop-$1.bin@0x100000 b >/dev/null
	secs $L/bhyve -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -o vmm.backend=kvm b
	$L/bhyvectl --vm=b --destroy
}
qemu_out() {
	secs qemu-system-x86_64 -accel kvm -M pc -m 64M -display none -serial null \
		-monitor none -device isa-debug-exit,iobase=0xf4,iosize=1 \
		-kernel /bench/outloop-$1.bin -no-reboot
}
best3() { for i in 1 2 3; do "$@"; done | sort -g | head -n 1; }
for vmm in lhyve qemu; do
	t1=$(best3 ${vmm}_out 100000)
	t2=$(best3 ${vmm}_out 1000000)
	echo "$vmm $t1 $t2" | awk '{ d = $3 - $2; printf "BENCH exit round trip, %s/KVM: 1e5 exits %.3f s, 1e6 exits %.3f s: %.2f us per exit, %.0f exits/s\n", $1, $2, $3, d / 9e5 * 1e6, 9e5 / d }'
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
	echo "BENCH RSS lhyve/KVM, 128 MiB guest: VmRSS $(($1 / 1024)) MiB, guest memory (RssShmem) $(($2 / 1024)) MiB, beyond guest memory $((($1 - $2) / 1024)) MiB ($(($1 - $2)) KiB)"
else
	echo "BENCH RSS lhyve: the guest did not start"
fi
$L/bhyvectl --vm=m --force-poweroff >/dev/null 2>&1; wait $pid; $L/bhyvectl --vm=m --destroy
qemu-system-x86_64 -accel kvm -M pc -m 128M -display none -serial file:/tmp/q.con \
	-monitor none -kernel /bench/touchall.bin -no-reboot </dev/null >/dev/null 2>&1 &
pid=$!
if wait_R /tmp/q.con; then
	set -- $(rss $pid)
	echo "BENCH RSS qemu/KVM (-M pc), 128 MiB guest: VmRSS $(($1 / 1024)) MiB, beyond guest memory $((($1 - 131072) / 1024)) MiB ($(($1 - 131072)) KiB)"
else
	echo "BENCH RSS qemu: the guest did not start"
fi
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
echo "BENCH done"

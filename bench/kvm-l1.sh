#!/usr/bin/bash
# kvm-l1.sh - bench/kvm-nested's part inside L1 (real KVM, nested SVM).
export PATH=/usr/bin:/bin:/usr/sbin:/sbin VMM_DIR=/tmp/vmm VMM_MEM_DIR=/tmp/mem
mkdir -p /tmp/mem
[ -c /dev/kvm ] || { echo "BENCH no /dev/kvm in L1"; exit 0; }
L=/lhyve
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^lhyve\.$1=//p"; }
PARTS=$(arg parts | tr ',' ' ') RUNS=$(arg runs)
PARTS=${PARTS:-exit rss boot blk msi} RUNS=${RUNS:-2}
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
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
has exit && echo "BENCH start: exit round trips"
has exit && for vmm in lhyve qemu; do
	t1=$(best3 ${vmm}_out 2000)
	t2=$(best3 ${vmm}_out 20000)
	echo "$vmm $t1 $t2" | awk '{ d = $3 - $2; printf "BENCH exit round trip, %s/KVM: 2000 exits %.3f s, 20000 exits %.3f s: %.2f us per exit, %.0f exits/s\n", $1, $2, $3, d / 18000 * 1e6, 18000 / d }'
done

# RSS beyond guest memory, 128 MiB guest with every page written.
rss() {	# PID: VmRSS and RssShmem in KiB
	awk '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 } END { print r, s }' /proc/$1/status
}
wait_R() { for i in $(seq 1 600); do grep -q R "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
rss_part() {
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
}
has rss && rss_part

# ---- Linux to its userland marker: lhyve/KVM, QEMU/KVM microvm and pc.
# noxsave: see tests/nested/l1.sh (XSAVE of a guest nested under TCG).
CMD="console=ttyS0 panic=-1 quiet noxsave"
MARKER=LHYVE-USERLAND-UP
# boot_once WHO: "MARKER_S END_S" from the VMM's start (NaN: no marker).
boot_once() {
	local who=$1 t0 tm=NaN line
	t0=$EPOCHREALTIME
	case $who in
	lhyve) set -- bash -c "$L/bhyveload -m 256M -k /bench/vmlinuz -i /bench/boot-initrd \
		-a '$CMD' bt >/dev/null && exec $L/bhyve -c 1 -m 256M -s 0,hostbridge -s 31,lpc \
		-l com1,stdio -o vmm.backend=kvm bt" ;;
	qemu-microvm|qemu-pc) set -- qemu-system-x86_64 -accel kvm -M ${who#qemu-} -m 256M \
		-nographic -no-reboot -nic none -kernel /bench/vmlinuz -initrd /bench/boot-initrd \
		-append "$CMD" ;;
	esac
	# A pipe, not a process substitution: L1 has no /dev/fd.
	tm=$(timeout -s INT 400 "$@" </dev/null 2>&1 | tee /tmp/boot.log | {
		tm=NaN
		while IFS= read -r line; do
			case $line in
			*$MARKER*) [ $tm = NaN ] && tm=$(echo "$t0 $EPOCHREALTIME" | awk '{ printf "%.2f", $2 - $1 }') ;;
			esac
		done
		echo $tm; })
	if [ $tm = NaN ]; then
		echo "BENCH FAILED: $who: no marker: $(tail -n 3 /tmp/boot.log | tr '\n' ' ')"
		[ $who = lhyve ] && $L/bhyvectl --vm=bt --get-rip --get-rflags --get-stats 2>&1 |
			grep -E '^(rip|rflags)|exits to userland|exits: (hlt|bogus|inout)' | tr -s ' \t' ' ' |
			tr '\n' ';' | sed 's/^/BENCH FAILED: lhyve at the stop: /'
	fi >/dev/console
	echo "$tm $(echo "$t0 $EPOCHREALTIME" | awk '{ printf "%.2f", $2 - $1 }')"
	[ $who = lhyve ] && $L/bhyvectl --vm=bt --destroy >/dev/null 2>&1
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
if has boot; then
	echo "BENCH start: Linux boot to the marker, $RUNS runs each"
	declare -A BM BE
	for i in $(seq 1 "$RUNS"); do
		for who in lhyve qemu-microvm qemu-pc; do
			set -- $(boot_once $who)
			BM[$who]+="$1 " BE[$who]+="$2 "
		done
	done
	for who in lhyve qemu-microvm qemu-pc; do
		echo "BENCH boot $who/KVM: to marker median $(echo ${BM[$who]} | tr ' ' '\n' | median) s (runs: ${BM[$who]}), to exit median $(echo ${BE[$who]} | tr ' ' '\n' | median) s (runs: ${BE[$who]})"
	done
fi

# ---- virtio-blk: the guest's dd times (its own clock), MB/s from the
# difference of two sizes, best of the guest's two passes.
blk_run() {	# WHO: the guest's BENCH-G lines into /tmp/blk-WHO.out
	local who=$1 mmio
	dd if=/dev/zero of=/tmp/blk.img bs=1M count=80 2>/dev/null
	case $who in
	lhyve*)
		$L/bhyveload -m 256M -k /bench/vmlinuz -i /bench/blk-initrd -a "$CMD" bk >/dev/null
		# SIGINT: bhyve stops the guest at once (SIGTERM presses its power button).
		timeout -s INT 600 $L/bhyve -c 1 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
			-s 2,virtio-blk,/tmp/blk.img -o vmm.backend=kvm \
			$([ $who = lhyve-exits ] && echo "-o virtio.ioeventfd=false") bk \
			</dev/null 2>/tmp/blk-$who.err | tr -d '\r' >/tmp/blk-$who.out
		mmio=$($L/bhyvectl --vm=bk --get-stats 2>/dev/null |
			awk -F'\t' '/^exits: inst_emul/ { print $2 + 0 }')
		echo "BENCH-G MMIO $mmio" >>/tmp/blk-$who.out
		$L/bhyvectl --vm=bk --destroy >/dev/null 2>&1 ;;
	qemu-pc)
		timeout 600 qemu-system-x86_64 -accel kvm -M pc -m 256M -nographic -no-reboot \
			-nic none -kernel /bench/vmlinuz -initrd /bench/blk-initrd -append "$CMD" \
			-drive file=/tmp/blk.img,if=virtio,format=raw </dev/null 2>/dev/null |
			tr -d '\r' >/tmp/blk-$who.out ;;
	esac
	# A guest that did not finish: its console and bhyve's lines, for the record.
	grep -q '^BENCH-G REQS' /tmp/blk-$who.out || {
		echo "BENCH FAILED: $who did not finish"
		tail -n 20 /tmp/blk-$who.out /tmp/blk-$who.err 2>/dev/null | sed "s/^/# L2 $who: /"; }
	rm -f /tmp/blk.img
	grep -q '^BENCH-G FAIL' /tmp/blk-$who.out && echo "BENCH FAILED: a dd failed on $who"
}
blk_best() {	# OUT WHAT MIB: the least time
	awk -v w="$2" -v n="$3" '$1 == "BENCH-G" && $2 == w && $3 == n { print $4 }' "$1" | sort -g | head -n 1
}
blk_rate() {	# OUT WHAT SMALL LARGE [UNIT]: MB/s, or requests/s of 4 KiB with UNIT=req
	local t1 t2
	t1=$(blk_best "$1" "$2" "$3") t2=$(blk_best "$1" "$2" "$4")
	[ -n "$t1" ] && [ -n "$t2" ] || { echo NaN; return; }
	echo "$3 $4 $t1 $t2 ${5:-mb}" | awk '{ d = $4 - $3; if (d <= 0) { print "NaN"; exit }
		if ($5 == "req") printf "%.0f", ($2 - $1) * 256 / d; else printf "%.1f", ($2 - $1) * 1.048576 / d }'
}
if has blk; then
	echo "BENCH start: virtio-blk"
	for who in lhyve-ioeventfd lhyve-exits qemu-pc; do
		blk_run $who
		f=/tmp/blk-$who.out
		echo "BENCH blk $who/KVM: 4 KiB direct writes $(blk_rate $f w4k 4 16 req) req/s ($(blk_rate $f w4k 4 16) MB/s), 1 MiB direct writes $(blk_rate $f w1m 16 64) MB/s, 1 MiB direct reads $(blk_rate $f r1m 16 64) MB/s; disk requests $(awk '$2 == "REQS" { print $3 }' $f), MMIO exits $(awk '$2 == "MMIO" { print $3 }' $f)"
		grep '^BENCH-G [wr]' $f | tr '\n' ' ' | sed 's/BENCH-G //g; s/^/BENCH raw: /'; echo
	done
fi
# The sender's cost of one MSI: KVM_SIGNAL_MSI (lhyve) against irqfd (docs/kvm.md "irqfd").
if has msi; then
	echo "BENCH start: MSI"
	/bench/kvm-msi || echo "BENCH FAILED: kvm-msi"
fi
echo "BENCH done"

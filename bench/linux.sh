# linux.sh - sourced by the Linux-guest I/O benches (bench/blk, bench/net),
# after lib.sh: Debian's kernel and the project's initramfs with a guest
# script, booted on lhyve (software CPU) and on QEMU TCG with the same
# kernel, initramfs and command line.  The guest times its own transfers
# and prints "BENCH ..." lines; start-up is outside what it times.
K=$(scripts/fetch-kernel.sh) || exit 1
KERNEL=$(ls "$K"/boot/vmlinuz-*)
MEM=${MEM:-512M}
CMD="console=ttyS0 panic=-1 quiet"
have_qemu || { echo "qemu-system-x86_64 not installed: no reference (apt-get install qemu-system-x86)" >&2; exit 1; }

# The guest's clock in seconds to the microsecond (busybox's date has no %N).
GUEST_NOW='now() { adjtimex | awk '"'"'$1 == "time.tv_sec:" { s = $2 } $1 == "time.tv_usec:" { u = $2 } END { printf "%d.%06d\n", s, u }'"'"'; }'

# guest_initrd SCRIPT [build-initramfs options]: $work/initrd runs SCRIPT
# (a file) as /test.sh
guest_initrd() {
	local script=$1; shift
	scripts/build-initramfs.sh -x "$script" "$@" "$work/initrd" >/dev/null || exit 1
}

# lhyve_linux OUT DEVICE-ARGS...: boot on lhyve, console into OUT
lhyve_linux() {
	local out=$1; shift
	$B/bhyveload -m $MEM -k "$KERNEL" -i "$work/initrd" -a "$CMD" benchlx >/dev/null || exit 1
	timeout 900 $B/bhyve -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio "$@" benchlx \
		</dev/null >"$out.raw" 2>"$out.err"
	tr -d '\r' <"$out.raw" >"$out"
	$B/bhyvectl --vm=benchlx --destroy >/dev/null 2>&1
}

# qemu_linux OUT QEMU-ARGS...: boot on QEMU TCG, console into OUT
qemu_linux() {
	local out=$1; shift
	timeout 900 qemu-system-x86_64 -accel tcg -m $MEM -nographic -no-reboot -nic none \
		-kernel "$KERNEL" -initrd "$work/initrd" -append "$CMD" "$@" \
		</dev/null >"$out.raw" 2>"$out.err"
	tr -d '\r' <"$out.raw" >"$out"
}

# best OUT WHAT SIZE: the least of the guest's times for "BENCH WHAT SIZE SECONDS"
best() {
	awk -v w="$2" -v n="$3" '$1 == "BENCH" && $2 == w && $3 == n { print $4 }' "$1" | sort -g | head -n 1
}

# rate OUT WHAT SMALL LARGE: MB/s (10^6) from the difference of the best
# times at two sizes (MiB), so what both share (process start, set-up)
# cancels
rate() {
	local t1 t2
	t1=$(best "$1" "$2" "$3") t2=$(best "$1" "$2" "$4")
	if [ -z "$t1" ] || [ -z "$t2" ]; then echo NaN; return; fi
	echo "($4 - $3) * 1.048576 / ($t2 - $t1)" | bc -l
}

# lib.sh - shared by the bench scripts: build a bench guest, time it on lhyve
# (software CPU) and on QEMU TCG.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
work=$(mktemp -d /tmp/lhyve-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export VMM_DIR=$work/vmm

# build_guest NAME: bench/guests/NAME.S -> $work/NAME.bin
build_guest() {
	cc -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-Ttext=0x100000 \
		-Ibench/guests -o "$work/$1.elf" "bench/guests/$1.S" || exit 1
	objcopy -O binary "$work/$1.elf" "$work/$1.bin"
}

# set_iters NAME N OUT: OUT is NAME.bin with its 64-bit `iters` (boot.h) set to N
set_iters() {
	local addr off hex le i
	addr=$(nm "$work/$1.elf" | awk '$3 == "iters" { print $1 }')
	[ -n "$addr" ] || { echo "$1: no iters symbol" >&2; exit 1; }
	off=$((0x$addr - 0x100000))
	hex=$(printf '%016x' "$2")
	le=
	for i in 14 12 10 8 6 4 2 0; do le="$le\\x${hex:$i:2}"; done
	cp "$work/$1.bin" "$3"
	printf "$le" | dd of="$3" bs=1 seek=$off conv=notrunc status=none
}

# timed CMD...: run CMD (its output to /dev/null, errors shown), leave
# "WALL CPU" in $tm (seconds; CPU = user + system of CMD and its threads, which
# other load on the machine barely changes) and return CMD's status.
timed() {
	local TIMEFORMAT='%R %U %S' rc
	{ time "$@" >/dev/null </dev/null 2>&4; } 4>&2 2>"$work/time"
	rc=$?
	tm=$(awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$work/time")
	return $rc
}

# lhyve_run BIN: "WALL CPU RETIRED" for one bhyve run of the flat binary BIN
# (bhyveload not counted); RETIRED is the vCPU's "instructions retired".
lhyve_run() {
	local rc n
	$B/bhyveload -m 64M -k "$1@0x100000" bench >/dev/null || return 1
	timed $B/bhyve -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio bench
	rc=$?
	n=$($B/bhyvectl --vm=bench --get-stats | awk '$1 == "instructions" && $2 == "retired" { print $3 }')
	$B/bhyvectl --vm=bench --destroy
	[ $rc = 1 ] || { echo "lhyve: bhyve exited $rc" >&2; return 1; }
	echo "$tm $n"
}

# qemu_run BIN: "WALL CPU" for one QEMU TCG run of the same binary; with
# QEMU_CPU set, that CPU model (the default, qemu64, lacks SSSE3 and SSE4,
# and TCG raises #UD for instructions its CPUID model does not report)
qemu_run() {
	local rc
	timed qemu-system-x86_64 -accel tcg ${QEMU_CPU:+-cpu "$QEMU_CPU"} -M pc -m 64M \
		-display none -serial null -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=1 -kernel "$1" -no-reboot
	rc=$?
	# isa-debug-exit: status (0x31 << 1) | 1 once the guest reached BENCH_END
	[ $rc = 99 ] || { echo "qemu: exited $rc" >&2; return 1; }
	echo "$tm"
}

have_qemu() { command -v qemu-system-x86_64 >/dev/null; }

# lhyve_time NAME, qemu_time NAME: seconds for one run of bench/guests/NAME
lhyve_time() { lhyve_run "$work/$1.bin" | cut -d' ' -f1; }
qemu_time() { qemu_run "$work/$1.bin" | cut -d' ' -f1; }

best3() { for i in 1 2 3; do "$@"; done | sort -g | head -n1; }

# compare NAME COUNT UNIT: print both rates and their ratio
compare() {
	local l q
	build_guest "$1"
	l=$(best3 lhyve_time "$1")
	printf 'lhyve (emu)   %d %s in %.3f s: %.0f %s/s\n' "$2" "$3" "$l" "$(echo "$2 / $l" | bc -l)" "$3"
	if have_qemu; then
		q=$(best3 qemu_time "$1")
		printf 'qemu (tcg)    %d %s in %.3f s: %.0f %s/s\n' "$2" "$3" "$q" "$(echo "$2 / $q" | bc -l)" "$3"
		printf 'ratio lhyve/qemu: %.2f (above 1: lhyve faster)\n' "$(echo "$q / $l" | bc -l)"
	else
		echo "qemu-system-x86_64 not installed: no reference (apt-get install qemu-system-x86)"
	fi
}

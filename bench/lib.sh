# lib.sh - shared by the bench scripts: build a bench guest, time it on lhyve
# (software CPU) and on QEMU TCG, best of 3 runs each.
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

now() { date +%s.%N; }

# lhyve_time NAME: seconds for one bhyve run of the guest (load not counted)
lhyve_time() {
	$B/bhyveload -m 64M -k "$work/$1.bin@0x100000" bench >/dev/null || return 1
	local t0 t1 rc
	t0=$(now)
	$B/bhyve -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio bench >/dev/null </dev/null
	rc=$?
	t1=$(now)
	$B/bhyvectl --vm=bench --destroy
	[ $rc = 1 ] || { echo "lhyve: bhyve exited $rc" >&2; return 1; }
	echo "$t1 - $t0" | bc -l
}

# qemu_time NAME: seconds for one QEMU TCG run of the same binary
qemu_time() {
	local t0 t1
	t0=$(now)
	qemu-system-x86_64 -accel tcg -M pc -m 64M -display none -serial null -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=1 -kernel "$work/$1.bin" \
		-no-reboot </dev/null >/dev/null 2>&1
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

best3() { for i in 1 2 3; do "$@"; done | sort -g | head -n1; }

# compare NAME COUNT UNIT: print both rates and their ratio
compare() {
	local l q
	build_guest "$1"
	l=$(best3 lhyve_time "$1")
	printf 'lhyve (emu)   %d %s in %.3f s: %.0f %s/s\n' "$2" "$3" "$l" "$(echo "$2 / $l" | bc -l)" "$3"
	if command -v qemu-system-x86_64 >/dev/null; then
		q=$(best3 qemu_time "$1")
		printf 'qemu (tcg)    %d %s in %.3f s: %.0f %s/s\n' "$2" "$3" "$q" "$(echo "$2 / $q" | bc -l)" "$3"
		printf 'ratio lhyve/qemu: %.2f (above 1: lhyve faster)\n' "$(echo "$q / $l" | bc -l)"
	else
		echo "qemu-system-x86_64 not installed: no reference (apt-get install qemu-system-x86)"
	fi
}

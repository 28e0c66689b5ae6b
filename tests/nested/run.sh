#!/bin/bash
# run.sh BUILD - lhyve's KVM backend on real KVM, one level down (docs/kvm.md,
# "The nested harness").  The host has no usable /dev/kvm (none, or PVM), so
# this boots Debian's stock kernel (scripts/fetch-kernel.sh) under
#   qemu-system-x86_64 -accel tcg -cpu max -m 1536M
# whose CPU has SVM with nested paging; its initramfs loads kvm and kvm-amd
# and holds lhyve's programs, the test guests and the test scripts, and
# /test.sh (tests/nested/l1.sh) runs the guest and CLI tests there with the
# KVM backend, then boots the same Debian kernel with the boot tests'
# initramfs (tests/boot/guest-test.sh) on KVM with -c 2, all in one boot.
# Their ok / not ok / skip lines come back on the serial console and are
# printed here for tests/run.sh to count.
# Skipped, loudly, only when qemu or the kernel package cannot be had.
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
TIMEOUT=${NESTED_TIMEOUT:-900}
# NESTED_ONLY="guest backend session linux": run only those parts in L1;
# "suspend", "kvmio" and "xsave" run only when named
# (l1.sh reads it from the kernel command line), for development.
ONLY=$(echo "${NESTED_ONLY:-}" | tr -c 'a-z_\n' ',')

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "skip - nested: qemu-system-x86_64 is not installed (package qemu-system-x86)"
	exit 0
fi
if ! kdir=$(scripts/fetch-kernel.sh 2>"${TMPDIR:-/tmp}/nested-fetch.$$"); then
	echo "skip - nested: Debian's kernel package cannot be had: $(cat "${TMPDIR:-/tmp}/nested-fetch.$$")"
	rm -f "${TMPDIR:-/tmp}/nested-fetch.$$"
	exit 0
fi
rm -f "${TMPDIR:-/tmp}/nested-fetch.$$"
kver=$(cat "$kdir/KVER")
work=$(mktemp -d /tmp/lhyve-nested.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The tree as the tests see it: build/ (programs, guests) and tests/.
files=()
for p in bhyve bhyveload bhyvectl simple-loader; do
	[ -x "$B/$p" ] || { echo "not ok - nested: $B/$p is not built"; exit 0; }
	files+=(-b "$B/$p" -f "$B/$p:/lhyve/build/$p")
done
files+=(-f "$B/guests:/lhyve/build/guests" -f "tests/cli:/lhyve/tests/cli" -f "tests/guest:/lhyve/tests/guest")
# Linux on KVM, one level down: the kernel and the boot tests' initramfs.
if scripts/build-initramfs.sh -x tests/boot/guest-test.sh "$work/l2-initrd.gz" \
    >"$work/l2-build.log" 2>&1; then
	files+=(-f "$kdir/boot/vmlinuz-$kver:/lhyve/linux/vmlinuz"
	    -f "$work/l2-initrd.gz:/lhyve/linux/initrd.gz")
else
	echo "not ok - nested: the Linux guest's initramfs builds"
	sed 's/^/# /' "$work/l2-build.log" >&2
fi
# ---- kvmio: a Linux guest with virtio-blk and virtio-net on KVM, whose
# doorbells go through KVM_IOEVENTFD (tests/nested/guest-kvmio.sh).
if [ -f "$work/l2-initrd.gz" ]; then
	if scripts/build-initramfs.sh -x tests/nested/guest-kvmio.sh \
	    -f tests/boot/guest-lib.sh:/lib/lhyve/guest-lib.sh "$work/l2-kvmio.gz" \
	    >"$work/l2-kvmio.log" 2>&1; then
		files+=(-f "$work/l2-kvmio.gz:/lhyve/linux/initrd-kvmio.gz")
	else
		echo "not ok - nested: kvmio: the virtio guest's initramfs builds"
		sed 's/^/# /' "$work/l2-kvmio.log" >&2
	fi
fi
# ---- end kvmio
if ! scripts/build-initramfs.sh -m kvm -m kvm-amd -b /bin/bash "${files[@]}" \
	-x "$PWD/tests/nested/l1.sh" -M NESTED-L1-UP "$work/initrd.gz" >"$work/build.log" 2>&1; then
	echo "not ok - nested: initramfs build"
	sed 's/^/# /' "$work/build.log" >&2
	exit 0
fi

# run_l1: one L1 boot, its console in $work/console, qemu's status in rc.
# L1 prints a line after each test and each of its own time-outs (300 s at
# most), so a console that stays silent for $SILENT s means L1's own kernel
# has stopped: that is QEMU TCG's nested SVM under us, not a test's result
# (seen in about one batch in seven, in the first Linux boot: docs/kvm.md).
# Then L1 is killed and silent=1.
SILENT=${NESTED_SILENT:-300}
# QEMU's monitor, on a free local port: where a silent L1's CPU is.
MONPORT=$((20000 + $$ % 20000))
# l1_cpu_sample: RIP, CS and CR3 of L1's CPU (in L2 when nested SVM runs
# it: then CS's RPL and CR3 say so; no KASLR in L1, so RIP can be looked
# up in L1's /proc/kallsyms).
l1_cpu_sample() {
	local out rip
	{ exec 3<>"/dev/tcp/127.0.0.1/$MONPORT"; } 2>/dev/null || return
	printf 'info registers\n' >&3
	out=$(timeout 2 cat <&3 | tr -d '\r')
	exec 3>&-
	rip=$(echo "$out" | grep -o 'RIP=[0-9a-f]*' | head -n 1 | cut -d= -f2)
	[ -n "$rip" ] || return
	echo "# nested: L1 CPU: RIP=$rip $(echo "$out" | grep -o -E '(CS =[0-9a-f]{4}|CR3=[0-9a-f]*|EFL=[0-9a-f]*|HLT=[01])' | tr '\n' ' ')" >&2
}
# l1_lapic: L1's local APIC as QEMU has it (a lost or blocked interrupt).
l1_lapic() {
	{ exec 3<>"/dev/tcp/127.0.0.1/$MONPORT"; } 2>/dev/null || return
	printf 'info lapic\n' >&3
	timeout 2 cat <&3 | tr -d '\r' | grep -v -E '^(QEMU|\(qemu\))' | sed 's/^/# nested: L1 LAPIC: /' >&2
	exec 3>&-
}
run_l1() {
	local qpid last=0 size idle=0 k
	silent=0
	# 1.5 GiB: the initramfs with a kernel and an initramfs inside, and the
	# Linux guest's 256 MiB of RAM in L1's tmpfs.
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 1536M -smp 1 -nographic \
		-no-reboot -nic none -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" \
		-monitor "tcp:127.0.0.1:$MONPORT,server,nowait" \
		-append "console=ttyS0 panic=-1 quiet nokaslr${ONLY:+ lhyve.nested_only=$ONLY}" </dev/null >"$work/console" 2>&1 &
	qpid=$!
	while kill -0 $qpid 2>/dev/null; do
		sleep 5
		size=$(stat -c %s "$work/console" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size idle=0
		elif [ $((idle += 5)) -ge "$SILENT" ]; then
			silent=1
			for k in 1 2 3; do l1_cpu_sample; sleep 0.3; done
			l1_lapic
			pkill -KILL -P $qpid 2>/dev/null
			kill -KILL $qpid 2>/dev/null
			break
		fi
	done
	wait $qpid
	rc=$?
}

start=$(date +%s)
run_l1
if [ $silent = 1 ]; then
	# Once: the batch again from the start, said loudly, counted from the rerun.
	echo "# nested: L1 went silent for $SILENT s after $(($(date +%s) - start)) s; its last lines:" >&2
	tr -d '\r' <"$work/console" | tail -n 8 | sed 's/^/# /' >&2
	echo "# nested: running the L1 batch again (docs/kvm.md, \"The nested harness\")" >&2
	start=$(date +%s)
	run_l1
	[ $silent = 1 ] && echo "# nested: L1 went silent again" >&2
fi
secs=$(($(date +%s) - start))
tr -d '\r' <"$work/console" >"$work/log"
grep -E '^(ok|not ok|skip) - ' "$work/log" | sed 's/^\(ok\|not ok\|skip\) - /\1 - nested: /'
grep -E '^# ' "$work/log" >&2
if ! grep -q '^NESTED-DONE' "$work/log"; then
	echo "not ok - nested: L1 did not finish (qemu status $rc after $secs s)"
	tail -n 30 "$work/log" | sed 's/^/# /' >&2
fi
echo "# nested: L1 boot and tests took $secs s" >&2
exit 0

# test_boot.sh - Debian's stock kernel boots to its initramfs on lhyve:
# userland runs, uname, two CPUs with -c 2 (/proc/cpuinfo: two cores; with
# -c threads=2 one core of two threads), a clean dmesg with a stable
# clocksource; poweroff exits 1, reboot exits 0 and vmrun.sh loads again,
# SIGTERM presses the ACPI power button and the guest shuts down (exit 1);
# the same kernel through its own decompressor and through its PVH entry.
# Release build only (tests/run.sh): boots are long under ASan.
. "$(dirname "$0")/../cli/lib.sh"

if ! K=$(scripts/fetch-kernel.sh 2>"$T/fetch"); then
	echo "skip - linux boot: no Debian kernel ($(cat "$T/fetch"))"
	exit 0
fi
KERNEL=$(ls "$K"/boot/vmlinuz-*)
KVER=$(cat "$K/KVER")
if ! scripts/build-initramfs.sh -x tests/boot/guest-test.sh "$T/initrd" >"$T/mk" 2>&1; then
	echo "skip - linux boot: cannot build the initramfs ($(tail -n 1 "$T/mk"))"
	exit 0
fi
MEM=512M
CMD="console=ttyS0 panic=-1"
# A boot takes ~20 s on an idle host; the bound is for a hang, and wide
# enough for a host loaded several times over (CI has seen 180 s there).
BOOT_TIMEOUT=${BOOT_TIMEOUT:-400}

# boot NAME ACTION [bhyveload args...] : load and run, console in $T/NAME.con
boot() {
	local name=$1 action=$2; shift 2
	if ! $BHYVELOAD -m $MEM "$@" -i "$T/initrd" -a "$CMD lhyve.action=$action" "$name" \
	    >"$T/$name.load" 2>&1; then
		notok "$name: loads" "$(cat "$T/$name.load")"
		return 1
	fi
	timeout $BOOT_TIMEOUT $BHYVE -c ${TOPO:-2} -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio \
		"$name" >"$T/$name.raw" 2>"$T/$name.err" </dev/null
	echo $? > "$T/$name.rc"
	# The guest's tty ends lines with CR LF.
	tr -d '\r' <"$T/$name.raw" >"$T/$name.con"
}

# report NAME WANT_RC : the checks on one boot's console
report() {
	local name=$1 want=$2 rc
	rc=$(cat "$T/$name.rc")
	if grep -q '^LHYVE-USERLAND-UP' "$T/$name.con"; then
		ok "$name: userland runs"
	else
		notok "$name: userland runs" "exit $rc; console tail: $(tail -c 1500 "$T/$name.con"); stderr: $(tail -c 300 "$T/$name.err")"
		return
	fi
	grep -qx "UNAME $KVER" "$T/$name.con" && ok "$name: uname -r is $KVER" ||
		notok "$name: uname" "$(grep '^UNAME' "$T/$name.con")"
	grep -qx "CPUS 2" "$T/$name.con" && ok "$name: /proc/cpuinfo shows 2 CPUs" ||
		notok "$name: 2 CPUs" "$(grep '^CPUS' "$T/$name.con")"
	# -c 2: two cores of one socket; -c threads=2 (TOPO): one core, two threads.
	grep -qx "SIBLINGS 2 CORES ${CORES:-2}" "$T/$name.con" &&
		ok "$name: /proc/cpuinfo siblings and cpu cores follow -c ${TOPO:-2}" ||
		notok "$name: siblings/cores for -c ${TOPO:-2}" "$(grep '^SIBLINGS' "$T/$name.con")"
	grep -qE '^CLOCKSOURCE (tsc|kvm-clock|hpet)$' "$T/$name.con" &&
		ok "$name: stable clocksource ($(grep '^CLOCKSOURCE' "$T/$name.con" | cut -d' ' -f2))" ||
		notok "$name: clocksource" "$(grep '^CLOCKSOURCE' "$T/$name.con")"
	if grep -q '^DMESG-BAD' "$T/$name.con"; then
		notok "$name: dmesg has no BUG/WARNING/Call Trace/unchecked MSR/calibration lines" \
			"$(grep '^DMESG-BAD' "$T/$name.con" | head -n 5)"
	else
		ok "$name: dmesg is clean"
	fi
	[ "$rc" = "$want" ] && ok "$name: bhyve exits $want" ||
		notok "$name: bhyve exits $want" "exit $rc; $(tail -c 300 "$T/$name.err")"
}

boot lx-off poweroff -k "$KERNEL" && report lx-off 1
TOPO=threads=2 CORES=1
boot lx-reboot reboot -k "$KERNEL" && report lx-reboot 0
unset TOPO CORES

# SIGTERM: bhyve presses the power button; acpid in the guest powers off.
if $BHYVELOAD -m $MEM -k "$KERNEL" -i "$T/initrd" -a "$CMD lhyve.action=wait" lx-term \
    >"$T/lx-term.load" 2>&1; then
	$BHYVE -c 2 -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio lx-term \
		>"$T/lx-term.con" 2>"$T/lx-term.err" </dev/null &
	pid=$!
	if wait_for "$T/lx-term.con" '^WAITING-FOR-POWER-BUTTON' $BOOT_TIMEOUT; then
		kill -TERM $pid
		for i in $(seq 1 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
		kill -9 $pid 2>/dev/null
		wait $pid
		rc=$?
		[ $rc = 1 ] && grep -q 'reboot: Power down' "$T/lx-term.con" &&
			ok "SIGTERM: the guest shuts down through ACPI, bhyve exits 1" ||
			notok "SIGTERM shutdown" "exit $rc; $(tail -c 600 "$T/lx-term.con")"
	else
		kill -9 $pid 2>/dev/null
		notok "SIGTERM: guest reached its wait" "$(tail -c 1000 "$T/lx-term.con")"
	fi
fi

# vmrun.sh loads the guest again after a reboot.
PATH=$B:$PATH timeout $((BOOT_TIMEOUT * 2)) sh scripts/vmrun.sh -m $MEM -c 2 -k "$KERNEL" \
	-i "$T/initrd" -a "$CMD lhyve.action=reboot" lx-vmrun >"$T/vmrun.con" 2>&1 </dev/null &
vpid=$!
for i in $(seq 1 $((BOOT_TIMEOUT * 20))); do
	[ "$(grep -c '^LHYVE-USERLAND-UP' "$T/vmrun.con")" -ge 2 ] && break
	kill -0 $vpid 2>/dev/null || break
	sleep 0.05
done
[ "$(grep -c '^LHYVE-USERLAND-UP' "$T/vmrun.con")" -ge 2 ] &&
	ok "vmrun.sh: reboot loads and boots the guest again" ||
	notok "vmrun.sh reload" "$(tail -c 600 "$T/vmrun.con")"
pkill -TERM -P $vpid 2>/dev/null; kill $vpid 2>/dev/null; wait $vpid 2>/dev/null
$BHYVECTL --vm=lx-vmrun --destroy >/dev/null 2>&1

# The kernel's own decompressor, and its PVH entry.
boot lx-guestdecomp poweroff -o boot.decompress=guest -k "$KERNEL" && report lx-guestdecomp 1
if scripts/extract-vmlinux.sh "$KERNEL" "$T/vmlinux" 2>/dev/null; then
	boot lx-pvh poweroff -k "$T/vmlinux" && report lx-pvh 1
else
	echo "skip - PVH boot: the kernel's payload is not xz"
fi

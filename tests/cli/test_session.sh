# The issue's CLI session: the article's loader, bhyve, bhyvectl, destroy.
. "$(dirname "$0")/lib.sh"

expect "simple-loader creates vm0" 0 $LOADER vm0
[ "$(ls "$VMM_DIR")" = vm0 ] && ok "store lists vm0" || notok "store lists vm0" "$(ls "$VMM_DIR")"

RUN="$BHYVE -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio vm0"
$RUN >"$T/console" 2>"$T/err" </dev/null &
pid=$!
if wait_for "$T/console" '\*{200}' 20; then ok "guest prints stars"; else
	notok "guest prints stars" "$(head -c 300 "$T/console") $(cat "$T/err")"; fi

# While it runs: bhyvectl talks to this bhyve.
expect_err "second bhyve refused" 4 "already running" $RUN
out=$($BHYVECTL --vm=vm0 --get-rip 2>&1)
echo "$out" | grep -qE '^rip\[0\]\s+0x00000000000100(0[0-9a]|0[0-9])$' && ok "get-rip while running" ||
	notok "get-rip while running" "$out"
expect_err "reinit refused while running" 1 "running" $BHYVELOAD -m 128M -k /dev/null vm0

kill -TERM $pid
wait $pid; rc=$?
[ $rc = 1 ] && ok "SIGTERM stops bhyve (exit 1)" || notok "SIGTERM stops bhyve (exit 1)" "rc=$rc $(cat "$T/err")"
grep -q 'state saved' "$T/err" && ok "bhyve says state saved" || notok "bhyve says state saved" "$(cat "$T/err")"

$BHYVECTL --vm=vm0 --get-all >"$T/all" 2>&1
# CR0.ET (bit 4) is hardwired to 1 on hardware (SDM Vol. 3A 2.5), so KVM shows it.
for pat in '^rip\[0\]' '^rsp\[0\]' '^rflags\[0\]' '^cr0\[0\]\s+0x00000000800000[23]1' \
	'^cr3\[0\]\s+0x0000000000002000' '^cr4\[0\]\s+0x0000000000000020' '^efer\[0\]\s+0x0000000000000500' \
	'^cs\[0\]\s+0x0008' '^cs desc\[0\]\s+0x0000000000000000/0x00000000/0x0000209b' \
	'^ds\[0\]\s+0x0010' '^gdtr\[0\]\s+0x0000000000005000/0x00000017' '^idtr\[0\]'; do
	grep -qE "$pat" "$T/all" && ok "get-all shows /$pat/" || notok "get-all shows /$pat/" "$(cat "$T/all")"
done

expect "set-rip" 0 $BHYVECTL --vm=vm0 --set-rip=0x10000
out=$($BHYVECTL --vm=vm0 --get-rip)
[ "$out" = "$(printf 'rip[0]\t\t0x0000000000010000')" ] && ok "get-rip after set" || notok "get-rip after set" "$out"

$BHYVECTL --vm=vm0 --get-stats >"$T/stats" 2>&1
inout=$(awk -F'\t' '/^exits: inout/ {print $2}' "$T/stats")
insns=$(awk -F'\t' '/^instructions retired/ {print $2}' "$T/stats")
[ "${inout:-0}" -gt 200 ] && ok "stats count inout exits ($inout)" || notok "stats count inout exits" "$(cat "$T/stats")"
if grep -qE '^CPU backend\s+emu$' "$T/stats"; then
	[ "${insns:-0}" -gt 600 ] && ok "stats count instructions ($insns)" || notok "stats count instructions" "$(cat "$T/stats")"
else
	echo "skip - stats count instructions: only the software CPU counts them"
fi

# A second bhyve continues from the saved state; --force-poweroff ends it with 1.
$RUN >"$T/console2" 2>"$T/err2" </dev/null &
pid=$!
if wait_for "$T/console2" '\*{50}' 20; then ok "second run continues"; else
	notok "second run continues" "$(cat "$T/err2")"; fi
expect "force-poweroff" 0 $BHYVECTL --vm=vm0 --force-poweroff
wait $pid; rc=$?
[ $rc = 1 ] && ok "force-poweroff exit 1" || notok "force-poweroff exit 1" "rc=$rc $(cat "$T/err2")"

# --force-reset: exit 0
$RUN >"$T/console3" 2>"$T/err3" </dev/null &
pid=$!
wait_for "$T/console3" '\*' 20
expect "force-reset" 0 $BHYVECTL --vm=vm0 --force-reset
wait $pid; rc=$?
[ $rc = 0 ] && ok "force-reset exit 0" || notok "force-reset exit 0" "rc=$rc $(cat "$T/err3")"

memfile=$(readlink "$VMM_DIR/vm0/mem")
expect "destroy" 0 $BHYVECTL --vm=vm0 --destroy
[ -z "$(ls "$VMM_DIR")" ] && ok "store empty after destroy" || notok "store empty after destroy" "$(ls "$VMM_DIR")"
[ -n "$memfile" ] && [ ! -e "$memfile" ] && ok "guest memory file removed" || notok "guest memory file removed" "$memfile"

# Console output nobody reads blocks the vCPU inside the UART; SIGTERM must
# still stop bhyve (after a grace period), save the state and exit 1.
mkfifo "$T/fifo"
sleep 60 <"$T/fifo" &
reader=$!
$LOADER vm1 >/dev/null
$BHYVE -m 128M -s 31,lpc -l com1,stdio vm1 >"$T/fifo" 2>"$T/err4" </dev/null &
pid=$!
sleep 1
kill -TERM $pid
for i in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	notok "SIGTERM with unread console output" "bhyve still running after 10 s"
	kill -9 $pid
else
	wait $pid; rc=$?
	[ $rc = 1 ] && grep -q 'state saved' "$T/err4" && ok "SIGTERM with unread console output" ||
		notok "SIGTERM with unread console output" "rc=$rc $(cat "$T/err4")"
fi
kill $reader 2>/dev/null
$BHYVECTL --vm=vm1 --get-rip >/dev/null 2>&1 && ok "state readable after a blocked stop" ||
	notok "state readable after a blocked stop"
$BHYVECTL --vm=vm1 --destroy >/dev/null 2>&1
true

# Capabilities belong to the running backend.
$LOADER vm2 >/dev/null
expect_err "getcap on a stopped VM" 1 "only while a bhyve runs" $BHYVECTL --vm=vm2 --capname=hlt_exit --getcap
$BHYVE -m 128M -s 31,lpc -l com1,stdio vm2 >/dev/null 2>&1 </dev/null &
pid=$!
wait_for_ctl() { for i in $(seq 1 100); do [ -S "$VMM_DIR/vm2/ctl" ] && return 0; sleep 0.05; done; return 1; }
wait_for_ctl
out=$($BHYVECTL --vm=vm2 --capname=hlt_exit --getcap 2>&1)
[ "$out" = 'Capability "hlt_exit" is set on vcpu 0' ] && ok "getcap while running" || notok "getcap while running" "$out"
expect "setcap mtrap_exit=0 while running" 0 $BHYVECTL --vm=vm2 --capname=mtrap_exit --setcap=0
expect_err "unknown capability" 1 "unknown capability" $BHYVECTL --vm=vm2 --capname=nosuch --getcap
$BHYVECTL --vm=vm2 --force-poweroff >/dev/null 2>&1
wait $pid
$BHYVECTL --vm=vm2 --destroy >/dev/null 2>&1
true

# HLT with interrupts on: the vCPU sleeps (no CPU used), bhyvectl still
# reaches it, and --force-poweroff wakes it to stop.
$BHYVELOAD -m 64M -k "${GUESTS:-build/guests}/cli_hltsleep.elf" vm3 >/dev/null
$BHYVE -c 2 -m 64M -s 31,lpc -l com1,stdio vm3 >"$T/con5" 2>"$T/err5" </dev/null &
pid=$!
wait_for "$T/con5" 'PASS cli_hltsleep' 20
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }	# utime + stime, 1/100 s
cpu=$(ticks)
sleep 1
cpu2=$(ticks)
[ -n "$cpu" ] && [ $((cpu2 - cpu)) -lt 5 ] && ok "halted vCPU uses no CPU" ||
	notok "halted vCPU uses no CPU" "cpu ticks $cpu -> $cpu2 in 1 s"
out=$($BHYVECTL --vm=vm3 --get-rflags 2>&1)
fl=$(echo "$out" | awk '{print $2}')
[ -n "$fl" ] && [ $((fl & 0x200)) != 0 ] && ok "bhyvectl reaches a halted vCPU (IF set)" ||
	notok "bhyvectl reaches a halted vCPU" "$out"
# -c 2: the AP sleeps in wait-for-SIPI; the VM is neither halted nor busy.
out=$($BHYVECTL --vm=vm3 --get-lapic 2>&1)
echo "$out" | grep -q '^apic_base\[0\].*0x00000000fee00900 (xAPIC)' && echo "$out" | grep -q '^lvt_timer\[0\]' &&
	ok "bhyvectl --get-lapic" || notok "bhyvectl --get-lapic" "$out"
out=$($BHYVECTL --vm=vm3 --cpu=1 --get-lapic 2>&1)
echo "$out" | grep -q '^apic_id\[1\]	0x01000000' && ok "bhyvectl --get-lapic --cpu=1" ||
	notok "bhyvectl --get-lapic --cpu=1" "$out"
expect "force-poweroff wakes a halted vCPU" 0 $BHYVECTL --vm=vm3 --force-poweroff
wait $pid; rc=$?
[ $rc = 1 ] && ! grep -q FAIL "$T/con5" && ok "halted guest powered off (exit 1)" ||
	notok "halted guest powered off (exit 1)" "rc=$rc $(cat "$T/con5" "$T/err5")"
$BHYVECTL --vm=vm3 --destroy >/dev/null 2>&1
true

# SIGTERM presses the ACPI power button; a guest in ACPI mode that ignores
# it keeps running, and a second SIGTERM stops it (state saved, exit 1).
$BHYVELOAD -m 64M -k "${GUESTS:-build/guests}/cli_pwrbtn.elf" pb >/dev/null 2>&1
$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio pb >"$T/pb.out" 2>"$T/pb.err" </dev/null &
pid=$!
if wait_for "$T/pb.out" '^ARMED' 10; then
	kill -TERM $pid
	sleep 1
	if kill -0 $pid 2>/dev/null && grep -q 'power button pressed' "$T/pb.err"; then
		ok "SIGTERM presses the power button of a guest in ACPI mode"
	else
		notok "SIGTERM presses the power button" "$(cat "$T/pb.err")"
	fi
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 1 ] && grep -q 'state saved' "$T/pb.err" &&
		ok "a second SIGTERM stops a guest that ignores the button" ||
		notok "second SIGTERM" "rc=$rc $(cat "$T/pb.err")"
else
	kill -9 $pid
	notok "power button guest runs" "$(cat "$T/pb.out" "$T/pb.err")"
fi
$BHYVECTL --vm=pb --destroy >/dev/null 2>&1

# A guest that handles the button: SIGTERM raises the SCI on IOAPIC pin 9,
# its handler clears PWRBTN_STS and it powers off (exit 1).  On the
# software CPU: the KVM backend does not take libvmm's interrupts yet
# (tests/guest/run.sh skips such guests there too).
$BHYVELOAD -m 64M -k "${GUESTS:-build/guests}/cli_sci.elf" sci >/dev/null 2>&1
$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -o vmm.backend=emu sci \
	>"$T/sci.out" 2>"$T/sci.err" </dev/null &
pid=$!
if wait_for "$T/sci.out" '^ARMED' 10; then
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 1 ] && grep -qx "PASS cli_sci" "$T/sci.out" && ! grep -q FAIL "$T/sci.out" &&
		ok "SIGTERM: the guest's SCI handler takes the power button and powers off" ||
		notok "SCI handler" "rc=$rc $(cat "$T/sci.out" "$T/sci.err")"
else
	kill -9 $pid
	notok "SCI guest runs" "$(cat "$T/sci.out" "$T/sci.err")"
fi
$BHYVECTL --vm=sci --destroy >/dev/null 2>&1

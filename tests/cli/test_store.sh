# The instance store across stops, crashes and reboots (issue 8):
# --suspend and continue (one vCPU and two), kill -9, --force-reset,
# --destroy of a running VM, an idle control client, an owner that never
# answers, and a simulated host reboot.  The state files the guests leave
# join fuzz_state's seed corpus ($LHYVE_STATE_SEEDS).
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
export VMM_MEM_DIR="$T/mem"	# on the test's file system, not /dev/shm
mkdir -p "$VMM_MEM_DIR"
RUN="$BHYVE -m 64M -s 31,lpc -l com1,stdio"
N=$((1 << 26))			# cli_count's steps; one dot per 2^20
dots() { tr -cd . <"$1" | wc -c; }
SF="python3 $(dirname "$0")/statefile.py"	# edits a state file, checksums right

# --suspend stops the guest mid-computation; the next bhyve continues it.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" s1 >/dev/null
$RUN s1 >"$T/c1" 2>"$T/e1" </dev/null &
pid=$!
wait_for "$T/c1" '\.\.\.' 120 || notok "cli_count runs" "$(cat "$T/c1" "$T/e1")"
expect "bhyvectl --suspend" 0 $BHYVECTL --vm=s1 --suspend
wait $pid; rc=$?
[ $rc = 5 ] && grep -q "suspended and kept" "$T/e1" && ok "suspended bhyve exits 5" ||
	notok "suspended bhyve exits 5" "rc=$rc $(cat "$T/e1")"
rcx=$($BHYVECTL --vm=s1 --get-rcx | awk '{print $2}')
[ -n "$rcx" ] && [ $((rcx)) -gt 0 ] && [ $((rcx)) -lt $N ] && ok "stopped mid-computation (rcx $((rcx)))" ||
	notok "stopped mid-computation" "rcx=$rcx"
$RUN s1 >"$T/c2" 2>"$T/e2" </dev/null; rc=$?
[ $rc = 1 ] && grep -qx "PASS cli_count" "$T/c2" && ! grep -q START "$T/c2" &&
	ok "bhyve continues the guest to the right result" ||
	notok "bhyve continues the guest to the right result" "rc=$rc $(tail -c 200 "$T/c2") $(cat "$T/e2")"
total=$(($(dots "$T/c1") + $(dots "$T/c2")))
[ $total = 64 ] && ok "no device access lost or repeated across the stop" ||
	notok "no device access lost or repeated across the stop" "$total dots, want 64"
$BHYVECTL --vm=s1 --destroy >/dev/null 2>&1

# A consistent save of a 2-vCPU guest: both vCPUs count (their registers,
# their own words and a shared LOCKed counter), are stopped in one cut, and
# continue; the shared counter would run over if they were not (cli_smpcount.S).
$BHYVELOAD -m 64M -k "$G/cli_smpcount.elf" m1 >/dev/null
$RUN -c 2 m1 >"$T/m1" 2>"$T/me1" </dev/null &
pid=$!
wait_for "$T/m1" '\..*\..*\.' 120 && wait_for "$T/m1" '\+.*\+' 120 ||
	notok "cli_smpcount: both vCPUs count" "$(cat "$T/m1" "$T/me1")"
expect "bhyvectl --suspend a 2-vCPU guest" 0 $BHYVECTL --vm=m1 --suspend
wait $pid; rc=$?
[ $rc = 5 ] && ok "suspended 2-vCPU bhyve exits 5" || notok "suspended 2-vCPU bhyve exits 5" "rc=$rc $(cat "$T/me1")"
M=$((1 << 24))
for c in 0 1; do
	rcx=$($BHYVECTL --vm=m1 --cpu=$c --get-rcx | awk '{print $2}')
	[ -n "$rcx" ] && [ $((rcx)) -gt 0 ] && [ $((rcx)) -lt $M ] &&
		ok "vCPU $c stopped mid-count (ecx $((rcx)))" || notok "vCPU $c stopped mid-count" "rcx=$rcx"
done
[ -n "${LHYVE_STATE_SEEDS:-}" ] && cp "$VMM_DIR/m1/state" "$LHYVE_STATE_SEEDS/cli-smp-suspended" 2>/dev/null
timeout 120 $RUN -c 2 m1 >"$T/m2" 2>"$T/me2" </dev/null; rc=$?
[ $rc = 1 ] && grep -qx "PASS cli_smpcount" "$T/m2" && ! grep -q START "$T/m2" &&
	ok "both vCPUs continue to the right counts" ||
	notok "both vCPUs continue to the right counts" "rc=$rc $(tail -c 200 "$T/m2") $(cat "$T/me2")"
plus() { tr -cd + <"$1" | wc -c; }
total="$(($(dots "$T/m1") + $(dots "$T/m2"))) $(($(plus "$T/m1") + $(plus "$T/m2")))"
[ "$total" = "16 16" ] && ok "no device access of either vCPU lost or repeated" ||
	notok "no device access of either vCPU lost or repeated" "'.' and '+': $total, want 16 16"
$BHYVECTL --vm=m1 --destroy >/dev/null 2>&1

# The LAPIC timer, its pending interrupts and the IOAPIC continue across
# --suspend (their state is in the store's LAPIC and vioapic sections).
$BHYVELOAD -m 64M -k "$G/cli_apictimer.elf" t1 >/dev/null
$RUN t1 >"$T/t1" 2>"$T/te1" </dev/null &
pid=$!
wait_for "$T/t1" '\.\.' 60 || notok "cli_apictimer ticks" "$(cat "$T/t1" "$T/te1")"
expect "bhyvectl --suspend a guest in HLT" 0 $BHYVECTL --vm=t1 --suspend
wait $pid; rc=$?
[ $rc = 5 ] && ok "suspended timer guest exits 5" || notok "suspended timer guest exits 5" "rc=$rc $(cat "$T/te1")"
[ -n "${LHYVE_STATE_SEEDS:-}" ] && cp "$VMM_DIR/t1/state" "$LHYVE_STATE_SEEDS/cli-apictimer-suspended" 2>/dev/null
# A section whose checksum is right but whose device cannot take it: bhyve
# refuses with one line naming it, and the file stays as it was.
cp "$VMM_DIR/t1/state" "$T/t1.state"
for bad in "21 0 - local APIC of vCPU 0 cannot be restored" \
	"32 65535 lpc.com1 device lpc.com1 cannot be restored" \
	"32 65535 vatpit device vatpit cannot be restored"; do
	set -- $bad
	$SF "$VMM_DIR/t1/state" corrupt "$1" "$2" "$3" || notok "section $3 found"
	cp "$VMM_DIR/t1/state" "$T/t1.bad"
	shift 3
	expect_err "a $* section: refused" 4 "$*" $RUN t1
	cmp -s "$VMM_DIR/t1/state" "$T/t1.bad" && ok "... and the file left as it was" ||
		notok "... and the file left as it was ($*)"
	cp "$T/t1.state" "$VMM_DIR/t1/state"
done
# Sections this lhyve does not know, and another backend's, ride along.
$SF "$VMM_DIR/t1/state" add 4000 65535 future "a later lhyve's"
$SF "$VMM_DIR/t1/state" add 33 0 kvm "KVM's vCPU events"
timeout 60 $RUN t1 >"$T/t2" 2>"$T/te2" </dev/null; rc=$?
[ $rc = 1 ] && grep -qx "PASS cli_apictimer" "$T/t2" && ! grep -q START "$T/t2" &&
	ok "LAPIC timer and IOAPIC continue after a stop" ||
	notok "LAPIC timer and IOAPIC continue after a stop" "rc=$rc $(tail -c 200 "$T/t2") $(cat "$T/te2")"
total=$(($(dots "$T/t1") + $(dots "$T/t2")))
[ $total = 20 ] && ok "every timer tick counted once across the stop" ||
	notok "every timer tick counted once across the stop" "$total dots, want 20"
$SF "$VMM_DIR/t1/state" has 4000 65535 future "a later lhyve's" &&
	$SF "$VMM_DIR/t1/state" has 33 0 kvm "KVM's vCPU events" &&
	ok "unknown and other backends' sections kept across a run" ||
	notok "unknown and other backends' sections kept across a run"
$BHYVECTL --vm=t1 --destroy >/dev/null 2>&1

# suspend_continue GUEST VM WAIT-FOR DOTS WHAT: GUEST runs until WAIT-FOR
# shows, is suspended (exit 5, before its end), and a new bhyve continues
# it to PASS with DOTS dots in all: WHAT continues, nothing lost or
# repeated.  The suspended state file seeds fuzz_state.
suspend_continue() {
	local guest=$1 vm=$2 wait=$3 want=$4 what=$5 rc total
	$BHYVELOAD -m 64M -k "$G/$guest.elf" $vm >/dev/null
	$RUN $vm >"$T/$vm.1" 2>"$T/$vm.e1" </dev/null &
	local pid=$!
	wait_for "$T/$vm.1" "$wait" 60 || notok "$guest runs" "$(cat "$T/$vm.1" "$T/$vm.e1")"
	expect "bhyvectl --suspend $guest" 0 $BHYVECTL --vm=$vm --suspend
	wait $pid; rc=$?
	[ $rc = 5 ] && ! grep -q PASS "$T/$vm.1" && ok "suspended $guest exits 5 before its end" ||
		notok "suspended $guest exits 5 before its end" "rc=$rc $(cat "$T/$vm.1" "$T/$vm.e1")"
	[ -n "${LHYVE_STATE_SEEDS:-}" ] &&
		cp "$VMM_DIR/$vm/state" "$LHYVE_STATE_SEEDS/cli-${guest#cli_}-suspended" 2>/dev/null
	timeout 60 $RUN $vm >"$T/$vm.2" 2>"$T/$vm.e2" </dev/null; rc=$?
	[ $rc = 1 ] && grep -qx "PASS $guest" "$T/$vm.2" && ! grep -q START "$T/$vm.2" &&
		ok "$what continue after a stop" ||
		notok "$what continue after a stop" "rc=$rc $(tail -c 200 "$T/$vm.2") $(cat "$T/$vm.e2")"
	total=$(($(dots "$T/$vm.1") + $(dots "$T/$vm.2")))
	[ $total = "$want" ] && ok "$guest: nothing lost or repeated across the stop" ||
		notok "$guest: nothing lost or repeated across the stop" "$total dots, want $want"
	$BHYVECTL --vm=$vm --destroy >/dev/null 2>&1
}
# The 8254 and the 8259 (ExtINT through LINT0) continue across --suspend
# too (the store's vatpit and vatpic sections).
suspend_continue cli_pittimer p1 '\.\.' 20 "PIT and 8259"
# x87 and SSE registers, FCW and MXCSR continue across --suspend while the
# LAPIC timer interrupts the loop (issue 9; cli_fpsuspend.S).
suspend_continue cli_fpsuspend f1 '\.\.\.' 16 "x87 and SSE state"

# kill -9: the state on disk says "running"; the next bhyve refuses.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" k1 >/dev/null
$RUN k1 >"$T/c3" 2>"$T/e3" </dev/null &
pid=$!
wait_for "$T/c3" '\.\.' 120
kill -9 $pid; wait $pid 2>/dev/null
[ -n "${LHYVE_STATE_SEEDS:-}" ] && cp "$VMM_DIR/k1/state" "$LHYVE_STATE_SEEDS/cli-left-running" 2>/dev/null
[ -S "$VMM_DIR/k1/ctl" ] && ok "a killed bhyve leaves its socket" || notok "a killed bhyve leaves its socket"
expect_err "bhyve refuses what a killed bhyve left" 4 \
	"left running by process $pid, which is gone.*--force-reset.*bhyveload" $RUN k1
[ ! -e "$VMM_DIR/k1/ctl" ] && ok "stale ctl socket removed" || notok "stale ctl socket removed"
cmp -s <(od -An -tu8 -j $((0x80000)) -N8 "$VMM_DIR/k1/mem") /dev/null && notok "guest counter in memory" ||
	ok "guest counter in memory"
before=$(od -An -tu8 -j $((0x80000)) -N8 "$VMM_DIR/k1/mem")
expect "--force-reset of a crashed instance" 0 $BHYVECTL --vm=k1 --force-reset
out=$($BHYVECTL --vm=k1 --get-rip)
[ "$out" = "$(printf 'rip[0]\t\t0x000000000000fff0')" ] && ok "force-reset: vCPU at the reset vector" ||
	notok "force-reset: vCPU at the reset vector" "$out"
after=$(od -An -tu8 -j $((0x80000)) -N8 "$VMM_DIR/k1/mem")
[ "$before" = "$after" ] && [ $((after)) -gt 0 ] && ok "force-reset keeps memory ($((after)))" ||
	notok "force-reset keeps memory" "$before -> $after"
timeout 10 $RUN k1 >/dev/null 2>"$T/e4" </dev/null
! grep -q "left running" "$T/e4" && ok "bhyve runs it after --force-reset" ||
	notok "bhyve runs it after --force-reset" "$(cat "$T/e4")"
# bhyveload is the other way on.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" k2 >/dev/null
$RUN k2 >"$T/c4" 2>/dev/null </dev/null &
pid=$!
wait_for "$T/c4" START 60
kill -9 $pid; wait $pid 2>/dev/null
$BHYVELOAD -m 64M -k "$G/hello.elf" k2 >/dev/null 2>&1
expect "bhyve runs it after bhyveload" 1 $RUN k2
$BHYVECTL --vm=k1 --destroy >/dev/null 2>&1
$BHYVECTL --vm=k2 --destroy >/dev/null 2>&1

# --destroy of a running VM stops its bhyve (status 4, as FreeBSD), then removes it.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" d1 >/dev/null
$RUN d1 >"$T/c5" 2>"$T/e5" </dev/null &
pid=$!
wait_for "$T/c5" START 60
memfile=$(readlink "$VMM_DIR/d1/mem")
expect "--destroy a running VM" 0 $BHYVECTL --vm=d1 --destroy
wait $pid; rc=$?
[ $rc = 4 ] && ok "destroyed VM's bhyve exits 4" || notok "destroyed VM's bhyve exits 4" "rc=$rc $(cat "$T/e5")"
[ ! -e "$VMM_DIR/d1" ] && [ ! -e "$memfile" ] && ok "destroyed VM's files removed" ||
	notok "destroyed VM's files removed" "$(ls "$VMM_DIR" "$VMM_MEM_DIR")"

# An idle control client does not block a second one.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" i1 >/dev/null
$RUN i1 >"$T/c6" 2>/dev/null </dev/null &
pid=$!
wait_for "$T/c6" START 60
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
time.sleep(30)' "$VMM_DIR/i1/ctl" &
idle=$!
sleep 0.3
out=$(timeout 8 $BHYVECTL --vm=i1 --get-rip 2>&1)
echo "$out" | grep -qE '^rip\[0\]' && ok "an idle ctl client does not block --get-rip" ||
	notok "an idle ctl client does not block --get-rip" "$out"
kill $idle 2>/dev/null
$BHYVECTL --vm=i1 --destroy >/dev/null 2>&1
wait $pid 2>/dev/null

# A request the owner never answers is an error after 10 s, not a hang: a
# fake owner holds the lock and accepts on the socket, but never replies.
$BHYVECTL --vm=h1 --create >/dev/null
python3 -c '
import fcntl, os, socket, sys
d = sys.argv[1]
lk = os.open(d + "/lock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(lk, fcntl.LOCK_EX)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(d + "/ctl")
s.listen(4)
open(sys.argv[2], "w").close()
held = []
while True:
	held.append(s.accept()[0])' "$VMM_DIR/h1" "$T/h1.ready" &
mute=$!
wait_for_file() { for i in $(seq 1 $((${2:-5} * 20))); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
wait_for_file "$T/h1.ready"
# Meanwhile: --destroy takes NAME/lock before it removes a file, so an owner
# that holds it without serving NAME/ctl (a bhyveload at work) keeps them.
$BHYVECTL --vm=h2 --create >/dev/null
python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "/lock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, b"%d\n" % os.getpid())
open(sys.argv[2], "w").close()
time.sleep(60)' "$VMM_DIR/h2" "$T/h2.ready" &
holder=$!
wait_for_file "$T/h2.ready"
(timeout 30 $BHYVECTL --vm=h2 --destroy >"$T/h2.out" 2>&1; echo $? >"$T/h2.rc") &
start=$(date +%s)
expect_err "an unanswered request fails" 1 "did not answer within 10 s" timeout 30 $BHYVECTL --vm=h1 --get-rip
took=$(($(date +%s) - start))
[ $took -ge 9 ] && [ $took -le 20 ] && ok "after the 10 s time-out (${took} s)" ||
	notok "after the 10 s time-out" "took ${took} s"
kill $mute 2>/dev/null; wait $mute 2>/dev/null
$BHYVECTL --vm=h1 --destroy >/dev/null 2>&1
wait_for_file "$T/h2.rc" 20
[ "$(cat "$T/h2.rc")" = 1 ] && grep -qx "bhyvectl: h2: VM 'h2' is in use by process $holder" "$T/h2.out" &&
	[ "$(wc -l <"$T/h2.out")" = 1 ] && [ -e "$VMM_DIR/h2/state" ] &&
	ok "--destroy leaves an instance whose owner holds the lock" ||
	notok "--destroy leaves an instance whose owner holds the lock" "rc=$(cat "$T/h2.rc") $(cat "$T/h2.out")"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
expect "--destroy once the owner is gone" 0 $BHYVECTL --vm=h2 --destroy
[ ! -e "$VMM_DIR/h2" ] && ok "... removes it" || notok "... removes it" "$(ls "$VMM_DIR/h2")"

# vmrun.sh keeps a suspended instance.
mkdir -p "$T/bin"
for p in bhyve bhyveload bhyvectl; do ln -sf "$(realpath "$B/$p")" "$T/bin/$p"; done
PATH="$T/bin:$PATH" sh scripts/vmrun.sh -m 64M -k "$G/cli_count.elf" v1 >"$T/c7" 2>&1 </dev/null &
pid=$!
wait_for "$T/c7" '\.' 120
$BHYVECTL --vm=v1 --suspend >/dev/null 2>&1
wait $pid; rc=$?
[ $rc = 5 ] && [ -e "$VMM_DIR/v1/state" ] && ok "vmrun.sh keeps a suspended instance (exit 5)" ||
	notok "vmrun.sh keeps a suspended instance" "rc=$rc $(tail -c 300 "$T/c7")"
$BHYVECTL --vm=v1 --destroy >/dev/null 2>&1

# A simulated host reboot: a fresh /dev/shm in a private mount namespace and
# another boot id.  With VMM_DIR and VMM_MEM_DIR on disk the instance survives.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	reboot() { unshare -m sh -c 'mount -t tmpfs tmpfs /dev/shm && exec "$@"' sh "$@"; }
	$BHYVELOAD -m 64M -k "$G/cli_count.elf" r1 >/dev/null
	case $(readlink "$VMM_DIR/r1/mem") in
	"$VMM_MEM_DIR"/lhyve-r1-??????) ok "guest memory in VMM_MEM_DIR on disk" ;;
	*) notok "guest memory in VMM_MEM_DIR on disk" "$(ls -l "$VMM_DIR/r1")" ;;
	esac
	$RUN r1 >"$T/c8" 2>/dev/null </dev/null &
	pid=$!
	wait_for "$T/c8" '\.\.' 120
	$BHYVECTL --vm=r1 --suspend >/dev/null; wait $pid
	LHYVE_BOOT_ID=after-reboot reboot $RUN r1 >"$T/c9" 2>"$T/e9" </dev/null; rc=$?
	[ $rc = 1 ] && grep -qx "PASS cli_count" "$T/c9" && ok "disk store survives a simulated reboot" ||
		notok "disk store survives a simulated reboot" "rc=$rc $(cat "$T/e9")"
	$BHYVECTL --vm=r1 --destroy >/dev/null 2>&1
	# Left running when the host went down: refused, and said so.
	$BHYVELOAD -m 64M -k "$G/cli_count.elf" r2 >/dev/null
	$RUN r2 >"$T/c10" 2>/dev/null </dev/null &
	pid=$!
	wait_for "$T/c10" START 60
	kill -9 $pid; wait $pid 2>/dev/null
	LHYVE_BOOT_ID=after-reboot expect_err "running at a reboot: refused" 4 \
		"when the host went down" reboot $RUN r2
	$BHYVECTL --vm=r2 --destroy >/dev/null 2>&1
	# Guest memory in /dev/shm does not survive a reboot: said in one line.
	VMM_MEM_DIR= $BHYVELOAD -m 64M -k "$G/hello.elf" r3 >/dev/null
	expect_err "memory in /dev/shm lost at a reboot" 4 "guest memory of 'r3'.*VMM_MEM_DIR" \
		reboot $RUN r3
	$BHYVECTL --vm=r3 --destroy >/dev/null 2>&1
else
	echo "skip - simulated reboot: needs root and unshare -m"
fi

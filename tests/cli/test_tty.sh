# The stdio console on a real terminal: raw while bhyve runs, restored on
# every way out (power-off, SIGTERM, triple fault).
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
if ! command -v python3 >/dev/null; then
	echo "skip - tty: python3 (used to drive a pseudo-terminal) is not installed"
	exit 0
fi

# tty_run NAME WANT_STATUS ACTION ARGS... : bhyve on a fresh pty (ACTION: 0
# let it end, term send SIGTERM, else a shell command run once output flows); checks
# that the terminal was raw during the run and cooked again after.
tty_run() {
	local name=$1 want=$2 kill=$3; shift 3
	python3 - "$want" "$kill" "$@" >"$T/tty" 2>&1 <<'PY'
import os, pty, sys, termios, time, signal
want, action, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
kill = action != "0"
master, slave = pty.openpty()
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(argv[0], argv)
raw_seen = False
deadline = time.time() + 20
out = b""
while time.time() < deadline:
    lflag = termios.tcgetattr(slave)[3]
    if not (lflag & termios.ICANON) and not (lflag & termios.ECHO):
        raw_seen = True
    if raw_seen and kill and len(out) > 100:
        if action == "term":
            os.kill(pid, signal.SIGTERM)
        elif action == "esc":   # the console escape: Ctrl-A x
            os.write(master, b"\x01x")
        else:   # stop it from outside, as a user would: bhyvectl
            os.system(action)
        kill = False
    r, status = os.waitpid(pid, os.WNOHANG)
    if r == pid:
        break
    try:
        import select
        if select.select([master], [], [], 0.01)[0]:
            out += os.read(master, 4096)
    except OSError:
        pass
else:
    os.kill(pid, signal.SIGKILL)
    print("timeout"); sys.exit(1)
after = termios.tcgetattr(slave)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
print("raw_seen=%s restored=%s status=%d" % (raw_seen, after == before, code))
sys.exit(0 if raw_seen and after == before and code == want else 1)
PY
	if [ $? = 0 ]; then ok "$name"; else notok "$name" "$(cat "$T/tty")"; fi
}

$LOADER t1 >/dev/null
tty_run "tty restored after power-off" 1 "$BHYVECTL --vm=t1 --force-poweroff" \
	"$BHYVE" -m 128M -s 31,lpc -l com1,stdio t1
$LOADER t2 >/dev/null
tty_run "tty restored after SIGTERM" 1 term "$BHYVE" -m 128M -s 31,lpc -l com1,stdio t2
$LOADER t4 >/dev/null
tty_run "Ctrl-A x suspends bhyve (exit 5), tty restored" 5 esc "$BHYVE" -m 128M -s 31,lpc -l com1,stdio t4

# RIP outside the guest's page tables: #PF with no IDT, a triple fault (exit 3).
$LOADER t3 >/dev/null
tty_run "tty restored after a triple fault" 3 "$BHYVECTL --vm=t3 --set-rip=0x80000000" \
	"$BHYVE" -m 128M -s 31,lpc -l com1,stdio t3
for v in t1 t2 t3 t4; do $BHYVECTL --vm=$v --destroy >/dev/null 2>&1; done

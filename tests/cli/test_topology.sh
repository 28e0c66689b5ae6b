# The CPU topology is kept with the instance (docs/store.md "TOPOLOGY",
# docs/cpu.md "CPU topology"): a later start without -c's topology keys
# gets the one the instance last ran with, a reloaded guest may take
# another, and a guest that continues after --suspend never sees it change:
# a -c that would change it is refused in one line, exit 4.
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
export VMM_MEM_DIR="$T/mem"
mkdir -p "$VMM_MEM_DIR"
RUN="$BHYVE -m 64M -s 31,lpc -l com1,stdio -o cpu.vendor=intel"

# topo NAME WANT BHYVE-ARGS...: cli_topology (reloaded first) prints WANT
# (leaf 0BH levels 0/1, leaf 1, AMD leaves, leaf 1FH levels 0/1).
topo() {
	local name=$1 want=$2
	shift 2
	$BHYVELOAD -m 64M -k "$G/cli_topology.elf" k1 >/dev/null 2>&1
	$RUN "$@" k1 >"$T/con" 2>"$T/err" </dev/null
	grep -qx "TOPO $want" "$T/con" && ok "$name" || notok "$name" "$(cat "$T/con" "$T/err")"
}
topo "-c sockets=2,cores=2,threads=2" "02 04 04 00 00 02 04" -c sockets=2,cores=2,threads=2
topo "reloaded, -c 8: the instance's topology again" "02 04 04 00 00 02 04" -c 8
topo "reloaded, another -c topology: taken" "01 08 08 00 00 01 08" -c cpus=8,sockets=1,cores=8,threads=1
topo "reloaded, -c 4: does not fit 8 vCPUs, one socket of 4 cores" "01 04 04 00 00 01 04" -c 4
$BHYVECTL --vm=k1 --destroy >/dev/null 2>&1

# A guest stopped mid-computation keeps its topology.
$BHYVELOAD -m 64M -k "$G/cli_count.elf" k2 >/dev/null
$RUN -c sockets=2,cores=1,threads=1 k2 >"$T/c1" 2>"$T/e1" </dev/null &
pid=$!
wait_for "$T/c1" '\.\.\.' 120 || notok "cli_count runs on 2 sockets" "$(cat "$T/c1" "$T/e1")"
expect "bhyvectl --suspend" 0 $BHYVECTL --vm=k2 --suspend
wait $pid; rc=$?
[ $rc = 5 ] && ok "suspended bhyve exits 5" || notok "suspended bhyve exits 5" "rc=$rc $(cat "$T/e1")"
expect_err "continuing with another topology is refused" 4 \
	"runs with 2 sockets x 1 cores x 1 threads, not 1 x 2 x 1" \
	$RUN -c sockets=1,cores=2,threads=1 k2
python3 - "$VMM_DIR/k2/state" <<'EOF' && ok "the state file keeps the topology" ||
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 32
for _ in range(struct.unpack_from("<I", b, 24)[0]):
    t, fl, v, n = struct.unpack_from("<IHHI", b, off)
    if t == 6:
        sys.exit(0 if (fl, v, n) == (1, 0xffff, 16) and
                 struct.unpack_from("<4I", b, off + 32) == (2, 1, 1, 0) else 1)
    off += 32 + n
sys.exit(1)
EOF
	notok "the state file keeps the topology"
$RUN -c sockets=2,cores=1,threads=1 k2 >"$T/c2" 2>"$T/e2" </dev/null; rc=$?
[ $rc = 1 ] && grep -qx "PASS cli_count" "$T/c2" && ! grep -q START "$T/c2" &&
	ok "continuing with the same topology" ||
	notok "continuing with the same topology" "rc=$rc $(tail -c 200 "$T/c2") $(cat "$T/e2")"
$BHYVECTL --vm=k2 --destroy >/dev/null 2>&1
true

# lib.sh - helpers for CLI tests (sourced).  Each check prints one line:
# "ok - NAME" or "not ok - NAME" (with the reason on stderr).
B=${BUILD:-build}
BHYVE=$B/bhyve
BHYVELOAD=$B/bhyveload
BHYVECTL=$B/bhyvectl
LOADER=$B/simple-loader
T=$(mktemp -d /tmp/lhyve-cli-t.XXXXXX)
# Each test script gets a store of its own, removed with it.
export VMM_DIR="$T/vmm"
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; shift; [ $# -gt 0 ] && echo "  $*" >&2; return 0; }

# expect NAME STATUS CMD... : CMD exits with STATUS (stdout+stderr in $T/out)
expect() {
	local name=$1 want=$2; shift 2
	"$@" >"$T/out" 2>&1 </dev/null
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else
		notok "$name" "exit $rc, wanted $want: $(head -c 400 "$T/out")"; fi
}

# expect_err NAME STATUS PATTERN CMD... : also, output matches PATTERN and is one line
# (bhyve's start-up line naming the CPU backend aside)
expect_err() {
	local name=$1 want=$2 pat=$3; shift 3
	"$@" 2>&1 </dev/null | grep -v '^bhyve: .*: CPU backend ' >"$T/out"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" != "$want" ]; then
		notok "$name" "exit $rc, wanted $want: $(head -c 400 "$T/out")"
	elif ! grep -qE "$pat" "$T/out"; then
		notok "$name" "output lacks /$pat/: $(head -c 400 "$T/out")"
	elif [ "$(wc -l <"$T/out")" -gt 1 ]; then
		notok "$name" "more than one line: $(head -c 400 "$T/out")"
	else ok "$name"; fi
}

# wait_for FILE PATTERN SECONDS : until FILE matches PATTERN
wait_for() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

#!/bin/bash
# run.sh BUILD [ASAN_BUILD] - run every test and count the results.
#
# Unit binaries, CLI scripts and guest tests all print one line per case:
#   ok - NAME | not ok - NAME | skip - NAME: why
# A binary or script that dies without saying "not ok" counts as a failure.
# The last line is "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)

pass=0 fail=0 skip=0
failed_names=()
work=$(mktemp -d /tmp/lhyve-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Every test gets a private store; nothing touches /run/vmm.
export VMM_DIR="$work/vmm"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# test_store writes the state files it builds here: fuzz_state's seed corpus.
export LHYVE_STATE_SEEDS="$work/corpus-fuzz_state"
mkdir -p "$LHYVE_STATE_SEEDS"

# run_one LABEL CMD... : run, echo its lines, count them.
run_one() {
	local label=$1; shift
	local out="$work/out.$$" rc np nf ns
	if declare -F "$1" >/dev/null; then
		"$@" >"$out" 2>"$out.err"
	else
		timeout "${RUN_TIMEOUT:-300}" "$@" >"$out" 2>"$out.err"
	fi
	rc=$?
	np=$(grep -c '^ok - ' "$out")
	nf=$(grep -c '^not ok - ' "$out")
	ns=$(grep -c '^skip - ' "$out")
	sed "s|^|[$label] |" "$out" | grep -E '^\[[^]]*\] (ok|not ok|skip) - ' | grep -v '^\[[^]]*\] ok - ' || true
	# Kept for the end: CI shows a log's tail, which must name what failed.
	sed -n "s|^not ok - |not ok - [$label] |p" "$out" >>"$work/failures"
	if [ $nf -gt 0 ] || [ $rc -ne 0 ]; then
		sed "s|^|[$label] |" "$out.err" | tail -n 30 >&2
	fi
	if [ $rc -ne 0 ] && [ $nf -eq 0 ]; then
		echo "not ok - [$label] exited with status $rc" | tee -a "$work/failures"
		nf=1
	fi
	pass=$((pass + np)); fail=$((fail + nf)); skip=$((skip + ns))
	[ $nf -eq 0 ] || failed_names+=("$label")
	printf '%-40s %4d passed %3d failed %3d skipped\n' "$label" "$np" "$nf" "$ns"
}

for b in "${builds[@]}"; do
	kind=release; case $b in *asan*) kind=asan ;; esac
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$kind:unit:$(basename "$t")" "$t"
	done
	for t in tests/cli/test_*.sh; do
		[ -f "$t" ] || continue
		run_one "$kind:cli:$(basename "$t" .sh)" env BUILD="$b" GUESTS=build/guests bash "$t"
	done
	# Linux boots are long: release build only (issue: not under ASan).
	if [ $kind = release ]; then
		for t in tests/boot/test_*.sh; do
			[ -f "$t" ] || continue
			# Several Linux boots: a budget of its own (CI's total is 60 min).
			RUN_TIMEOUT=2400 run_one "$kind:boot:$(basename "$t" .sh)" env BUILD="$b" \
			    GUESTS=build/guests bash "$t"
		done
	fi
	for t in tests/guest/run.sh; do
		[ -f "$t" ] || continue
		run_one "$kind:guest" env BUILD="$b" GUESTS=build/guests bash "$t"
	done
done

# The KVM backend on real KVM, inside a QEMU TCG guest (tests/nested/run.sh).
# It boots Linux on KVM too: about 550 s for the L1 batch, and room for
# one rerun after L1 went silent (NESTED_SILENT, 300 s: docs/kvm.md).
RUN_TIMEOUT=1500 run_one "nested" bash tests/nested/run.sh "${builds[0]}"

# Fuzz the parsers of guest and user data for a few seconds each (libFuzzer).
fuzz_one() {
	local f=$1 secs=$2
	mkdir -p "$work/corpus-$(basename "$f")"
	local maxlen=512
	case $f in *fuzz_state) maxlen=65536 ;; esac	# seeds are whole state files
	if "$f" -max_total_time="$secs" -max_len=$maxlen -rss_limit_mb=4096 \
		"$work/corpus-$(basename "$f")" >"$work/fuzz.out" 2>&1; then
		echo "ok - $(basename "$f") ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/fuzz.out" | grep -o '[0-9]*$' || echo ?) runs)"
	else
		echo "not ok - $(basename "$f")"
		tail -n 30 "$work/fuzz.out" >&2
	fi
}
fuzz_all() {
	local f
	for f in "${builds[0]}"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		case $f in *emu) fuzz_one "$f" 20 ;; *) fuzz_one "$f" 5 ;; esac
	done
	ls "${builds[0]}"/fuzz/fuzz_* >/dev/null 2>&1 ||
		echo "skip - fuzz: clang with libFuzzer is not installed"
}
run_one "fuzz" fuzz_all

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failing: ${failed_names[*]}"
	head -n 40 "$work/failures"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]

# Guest memory is sparse: when its file system fills up after the instance
# was created, bhyve says so in one line and exits 4 (no silent SIGBUS).
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
	! unshare -m true 2>/dev/null; then
	echo "skip - memory file system full: needs root and unshare -m for a private tmpfs"
	exit 0
fi
mnt="$T/mnt"
mkdir -p "$mnt"
unshare -m sh -c '
	mount -t tmpfs -o size=20m lhyve-test "$1" || exit 99
	export VMM_MEM_DIR="$1"
	"$2" -m 16M -k "$3" full || exit 98
	# Someone else fills the file system: the sparse guest RAM cannot grow.
	dd if=/dev/zero of="$1/filler" bs=1M count=19 2>/dev/null
	"$4" -m 16M -s 31,lpc -l com1,stdio full
' sh "$mnt" "$BHYVELOAD" "$G/touchmem.elf" "$BHYVE" >"$T/out" 2>"$T/err" </dev/null
rc=$?
if [ $rc = 99 ]; then
	echo "skip - memory file system full: cannot mount a tmpfs here"
elif [ $rc = 4 ] && grep -q 'guest memory backing store is exhausted' "$T/err" &&
	[ "$(grep -vc '^bhyve: .*: CPU backend ' "$T/err")" = 1 ]; then
	ok "full memory file system: one-line error, exit 4"
else
	notok "full memory file system: one-line error, exit 4" "rc=$rc $(head -c 300 "$T/err")"
fi
# Its memory file is gone with the private tmpfs: destroy must still work.
expect "destroy an instance whose memory is gone" 0 $BHYVECTL --vm=full --destroy
true

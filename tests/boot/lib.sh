# lib.sh - what the Linux boot tests share, on top of tests/cli/lib.sh.
#
# boot_prepare WHAT GUEST-SCRIPT TOOL...: Debian's kernel in $KERNEL and an
# initramfs in $T/initrd running GUEST-SCRIPT (with tests/boot/guest-lib.sh
# as /lib/lhyve/guest-lib.sh); without the kernel, a TOOL or the initramfs,
# "skip - WHAT: why" and the test ends there.
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

boot_prepare() {
	local what=$1 script=$2 tool K
	shift 2
	if ! K=$(scripts/fetch-kernel.sh 2>"$T/fetch"); then
		echo "skip - $what: no Debian kernel ($(cat "$T/fetch"))"
		exit 0
	fi
	KERNEL=$(ls "$K"/boot/vmlinuz-*)
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 && continue
		echo "skip - $what: $tool is not installed"
		exit 0
	done
	if ! scripts/build-initramfs.sh -x "$script" \
	    -f tests/boot/guest-lib.sh:/lib/lhyve/guest-lib.sh "$T/initrd" >"$T/mk" 2>&1; then
		echo "skip - $what: cannot build the initramfs ($(tail -n 1 "$T/mk"))"
		exit 0
	fi
}

# A free TCP port on 127.0.0.1; the SHA-256 of stdin.
freeport() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sha() { sha256sum | cut -d' ' -f1; }

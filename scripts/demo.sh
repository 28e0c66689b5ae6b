#!/bin/sh
# demo.sh BUILD - Debian's stock kernel on lhyve, to a busybox shell on the
# console: the kernel and the initramfs come from Debian's packages through
# scripts/fetch-kernel.sh and scripts/build-initramfs.sh (cached under
# ~/.cache/lhyve).  Type `poweroff` (bhyve exits 1) or Ctrl-A x (stop and
# keep; `bhyve demo` continues it).  Without the kernel package (no
# network), it falls back to the bhyve article's tiny guest.
B=${1:-build}
export VMM_DIR=${VMM_DIR:-$(mktemp -d /tmp/lhyve-demo.XXXXXX)/vmm}
here=$(cd "$(dirname "$0")" && pwd)
cache=${LHYVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lhyve}
if K=$("$here/fetch-kernel.sh") && mkdir -p "$cache" &&
    "$here/build-initramfs.sh" "$cache/demo-initrd.gz" >/dev/null; then
	set -x
	$B/bhyvectl --vm=demo --destroy 2>/dev/null
	$B/bhyveload -m 512M -k "$(ls "$K"/boot/vmlinuz-*)" -i "$cache/demo-initrd.gz" \
		-a "console=ttyS0 quiet" demo || exit 1
	$B/bhyve -c 2 -m 512M -s 0,hostbridge -s 31,lpc -l com1,stdio demo
	rc=$?
	[ $rc = 5 ] || $B/bhyvectl --vm=demo --destroy
	exit 0
fi
echo "demo: Debian's kernel is not available; the tiny guest instead" >&2
set -x
$B/bhyvectl --vm=demo --destroy 2>/dev/null
$B/simple-loader demo || exit 1
ls "$VMM_DIR"
timeout -s TERM 1 $B/bhyve -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio demo
echo
$B/bhyvectl --vm=demo --get-rip
$B/bhyvectl --vm=demo --get-stats | grep -E 'inout|instructions'
$B/bhyvectl --vm=demo --destroy

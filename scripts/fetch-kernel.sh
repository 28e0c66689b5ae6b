#!/bin/sh
# fetch-kernel.sh - Debian's stock kernel as guest material, without installing it.
#
# Downloads the linux-image package that linux-image-amd64 depends on today
# (apt-get download: nothing goes into /boot or /lib/modules), unpacks it
# with dpkg -x into a cache outside the source tree, keyed by the package's
# name and version, and prints that directory.  It holds:
#   boot/vmlinuz-KVER          the bzImage
#   lib/modules/KVER/...       its modules and modules.dep
#   KVER                       a file holding the kernel release
# A fresh clone on the same machine (CI) reuses the cache.
#
# usage: scripts/fetch-kernel.sh            prints the cache directory
# exit 2 with one line on stderr when the package cannot be had.
set -eu
cache=${LHYVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lhyve}
mkdir -p "$cache"
exec 9>"$cache/.kernel.lock"
flock 9

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
if [ -z "$pkg" ]; then
	echo "fetch-kernel: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2
	exit 2
fi
ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2; exit }')
dir="$cache/kernel/$pkg-$ver"
if [ ! -f "$dir/.done" ]; then
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	if ! (cd "$dir.tmp" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1); then
		rm -rf "$dir.tmp"
		echo "fetch-kernel: cannot download $pkg=$ver" >&2
		exit 2
	fi
	dpkg -x "$dir.tmp"/*.deb "$dir.tmp/root"
	kver=$(ls "$dir.tmp/root/lib/modules" | head -n 1)
	# The package leaves modules.dep to depmod at install time.
	depmod -b "$dir.tmp/root" "$kver"
	echo "$kver" > "$dir.tmp/root/KVER"
	mv "$dir.tmp/root" "$dir"
	rm -rf "$dir.tmp"
	touch "$dir/.done"
fi
echo "$dir"

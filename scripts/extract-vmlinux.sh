#!/bin/sh
# extract-vmlinux.sh BZIMAGE OUT - the ELF vmlinux inside an xz-compressed
# bzImage, found through the setup header's payload_offset and
# payload_length (Documentation/arch/x86/boot.rst), for tests of the PVH
# ELF path.  Exit 2 when the payload is not xz.
set -eu
in=$1 out=$2
field() {	# field OFFSET SIZE: little-endian unsigned from the header
	od -An -tu"$2" -j "$1" -N "$2" "$in" | tr -d ' '
}
sects=$(field $((0x1f1)) 1)
[ "$sects" = 0 ] && sects=4
off=$(( (sects + 1) * 512 + $(field $((0x248)) 4) ))
len=$(field $((0x24c)) 4)
magic=$(od -An -tx1 -j "$off" -N 6 "$in" | tr -d ' ')
[ "$magic" = fd377a585a00 ] || { echo "extract-vmlinux: payload is not xz" >&2; exit 2; }
tail -c +$((off + 1)) "$in" | head -c "$len" | xz -dc --single-stream > "$out"

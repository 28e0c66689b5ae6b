#!/bin/bash
# build-initramfs.sh - a busybox initramfs for Debian's stock kernel.
#
# usage: scripts/build-initramfs.sh [-x SCRIPT] [-M MARKER] [-m MODULE]...
#                                   [-f SRC:DEST]... [-b BINARY]... OUT
#   -x SCRIPT  copy SCRIPT to /test.sh: /init runs it instead of the shell,
#              then powers off (tests); without -x /init gives a shell on
#              the console and powers off when it exits (make demo)
#   -M MARKER  line /init prints once userland runs (default LHYVE-USERLAND-UP)
#   -m MODULE  also load MODULE (and what modules.dep says it needs)
#   -f SRC:DEST  copy the host file or directory SRC to DEST in the image
#   -b BINARY  copy a dynamically linked host program to its own path, with
#              the shared libraries ldd lists for it
#
# The kernel and its modules come from scripts/fetch-kernel.sh, busybox from
# Debian's busybox-static package (downloaded, not installed).  /init mounts
# proc, sysfs and devtmpfs, loads the virtio, evdev, ACPI button and ext4
# modules with their dependencies from modules.dep (and crc32c, which ext4
# asks the crypto API for at mount time rather than depending on it),
# starts busybox's acpid (the power button runs poweroff) and then the
# shell or the test script.  With root=DEVICE on the kernel command line
# /init mounts DEVICE (ext4, read-write unless `ro`) after the modules and
# switch_root's into its /sbin/init (or init=), as for a Debian system on a
# virtio disk (scripts/build-debian-image.sh, docs/debian.md).  Debian's
# modules are plain .ko files (6.1); .ko.xz/.zst are unpacked if found.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script="" marker=LHYVE-USERLAND-UP
files_abs=()
mods=(virtio_pci virtio_blk virtio_net virtio_console virtio_rng evdev button crc32c_generic ext4)
files=() bins=()
while getopts "x:M:m:f:b:" opt; do
	case $opt in
	x) script=$(realpath "$OPTARG") ;;
	M) marker=$OPTARG ;;
	m) mods+=("$OPTARG") ;;
	f) files+=("$OPTARG") ;;
	b) bins+=("$(realpath "$OPTARG")") ;;
	*) sed -n '4,14p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || { sed -n '4,14p' "$0" >&2; exit 2; }
for f in "${files[@]}"; do
	[ -e "${f%%:*}" ] || { echo "build-initramfs: no such file: ${f%%:*}" >&2; exit 2; }
	files_abs+=("$(realpath "${f%%:*}"):${f#*:}")
done
out=$(realpath -m "$1")

kdir=$("$here/fetch-kernel.sh")
kver=$(cat "$kdir/KVER")
moddir=$kdir/lib/modules/$kver

cache=${LHYVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lhyve}
bbdir=$cache/busybox
if [ ! -x "$bbdir/bin/busybox" ]; then
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q busybox-static >/dev/null 2>&1) || {
		rm -rf "$tmp"; echo "build-initramfs: cannot download busybox-static" >&2; exit 2; }
	dpkg -x "$tmp"/*.deb "$tmp/root"
	rm -rf "$bbdir"; mkdir -p "$bbdir/bin"
	cp "$tmp/root/bin/busybox" "$bbdir/bin/busybox"
	rm -rf "$tmp"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cd "$stage"
mkdir -p bin sbin etc proc sys dev tmp root usr/bin usr/sbin lib/modules etc/acpi/PWRF var/log var/run
cp "$bbdir/bin/busybox" bin/busybox
for app in $(bin/busybox --list-full); do
	[ -e "$app" ] || ln -s /bin/busybox "$app"
done

# Modules in dependency order, each once (modules.dep: "path: dep dep ...").
declare -A seen=()
order=()
add_mod() {
	local rel=$1 dep
	[ -n "${seen[$rel]:-}" ] && return 0
	seen[$rel]=1
	for dep in $(awk -v m="$rel:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep"); do
		add_mod "$dep"
	done
	order+=("$rel")
}
for m in "${mods[@]}"; do
	name=${m//[-_]/[-_]}
	rel=$(cut -d: -f1 "$moddir/modules.dep" | grep -E "/${name}\.ko(\.xz|\.zst)?$" | head -n 1 || true)
	if [ -z "$rel" ]; then
		# Built into the kernel (modules.builtin) needs no file.
		grep -qE "/${name}\.ko$" "$moddir/modules.builtin" 2>/dev/null && continue
		echo "build-initramfs: module $m not found for $kver" >&2; exit 1
	fi
	add_mod "$rel"
done
: > etc/modules.order
for rel in "${order[@]}"; do
	base=$(basename "$rel")
	case $base in
	*.ko.xz)  xz -dc "$moddir/$rel" > "lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$moddir/$rel" > "lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*)        cp "$moddir/$rel" "lib/modules/$base" ;;
	esac
	echo "/lib/modules/$base" >> etc/modules.order
done

# busybox acpid: the power button event runs /etc/acpi/PWRF/00000080.
printf '#!/bin/sh\nsync\npoweroff -f\n' > etc/acpi/PWRF/00000080
chmod +x etc/acpi/PWRF/00000080
[ -n "$script" ] && { cp "$script" test.sh; chmod +x test.sh; }
for f in "${files_abs[@]}"; do
	src=${f%%:*} dst=${f#*:}
	mkdir -p ".$(dirname "$dst")"
	if [ -d "$src" ]; then mkdir -p ".$dst"; cp -rL "$src/." ".$dst/"; else cp -L "$src" ".$dst"; fi
done
for b in "${bins[@]}"; do
	for f in "$b" $(ldd "$b" | grep -oE '/[^ ]+'); do
		mkdir -p ".$(dirname "$f")"
		cp -L "$f" ".$f"
	done
done

# root=DEVICE on the kernel command line: /init mounts DEVICE (ext4) and
# switch_root's into its init (docs/debian.md), after loading the modules.
cat > etc/switch-root.sh <<'EOF_ROOT'
# Sourced by /init (PID 1) when the command line names root=; returns only
# when the root cannot be mounted, and /init goes on to its shell.  The
# root's init is usually a symlink into the root (systemd), so -L will do.
rootdev= rootinit=/sbin/init rootmode=rw
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) rootdev=${arg#root=} ;;
	init=*) rootinit=${arg#init=} ;;
	ro) rootmode=ro ;;
	esac
done
# No udev here: devtmpfs shows the disk once virtio_blk has probed it.
i=0
while [ ! -b "$rootdev" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /newroot
if mount -t ext4 -o "$rootmode" "$rootdev" /newroot 2>/dev/null &&
    { [ -L "/newroot$rootinit" ] || [ -x "/newroot$rootinit" ]; }; then
	mount --move /dev /newroot/dev
	mount --move /proc /newroot/proc
	mount --move /sys /newroot/sys
	exec switch_root /newroot "$rootinit"
fi
echo "init: cannot mount root $rootdev or run its $rootinit; staying in the initramfs"
umount /newroot 2>/dev/null
EOF_ROOT

cat > init <<EOF_INIT
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "\$m" 2>/dev/null || echo "init: cannot load \$m"; done < /etc/modules.order
grep -qE '(^| )root=' /proc/cmdline && . /etc/switch-root.sh
acpid
echo $marker
if [ -x /test.sh ]; then
	/test.sh
	poweroff -f
fi
setsid cttyhack sh
poweroff -f
EOF_INIT
chmod +x init
find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet | gzip -6 > "$out"
echo "$out"

#!/bin/sh
# build-debian-image.sh - a Debian 12 (bookworm) system with systemd on an
# ext4 disk image, for a virtio-blk disk (docs/debian.md).
#
# debootstrap builds the root (systemd, systemd-sysv, udev, dbus,
# openssh-server, systemd-networkd with DHCP on the virtio NIC); root has
# an empty password (the serial getty on ttyS0 logs it in without one) and
# an ssh key the build generates; /lib/modules holds the modules of
# scripts/fetch-kernel.sh's kernel, so udev loads what the initramfs did
# not; /etc/fstab mounts /dev/vda on /.  `mke2fs -t ext4 -d` turns the root
# into the image.  The result is cached outside the source tree, keyed by a
# hash of this script and the kernel's version (a fresh clone reuses it):
#   DIR/debian.img       the disk image (sparse, SIZE bytes)
#   DIR/id_ed25519       the private key root's authorized_keys accepts
#   DIR/id_ed25519.pub
# (an image built by another version of this script is removed).
#
# usage: scripts/build-debian-image.sh      prints DIR/debian.img
# Environment: LHYVE_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# LHYVE_DEBIAN_SIZE (default 2G).  Needs root (debootstrap, chroot) and
# debootstrap (`make setup` installs it).  exit 2 with one line on stderr
# when debootstrap or the network is unavailable.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${LHYVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lhyve}
mirror=${LHYVE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
size=${LHYVE_DEBIAN_SIZE:-2G}
fail() { echo "build-debian-image: $*" >&2; exit 2; }

command -v debootstrap >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed (make setup)"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"
kdir=$("$here/fetch-kernel.sh") || exit 2
kver=$(cat "$kdir/KVER")

key=$( { cat "$0"; echo "$kver $mirror $size"; } | sha256sum | cut -c1-16)
dir=$cache/debian/bookworm-$key
img=$dir/debian.img
mkdir -p "$cache/debian"
exec 9>"$cache/debian/.lock"
flock 9
if [ -f "$dir/.done" ]; then
	echo "$img"
	exit 0
fi

tmp=$dir.tmp
root=$tmp/root
cleanup() {
	for m in proc sys dev/pts dev; do umount "$root/$m" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
mkdir -p "$root"

# minbase: no Recommends, no tasks; what a systemd boot with ssh needs.
pkgs=systemd,systemd-sysv,udev,dbus,kmod,openssh-server,iproute2,procps,netbase
log=$cache/debian/debootstrap.log
# The downloaded packages are kept for the next build (a changed script).
mkdir -p "$cache/debian/debs"
if ! debootstrap --variant=minbase --include="$pkgs" --cache-dir="$cache/debian/debs" \
    bookworm "$root" "$mirror" >"$log" 2>&1; then
	fail "debootstrap failed: $(tail -n 1 "$log") (log: $log)"
fi

echo debian > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	> "$root/etc/hosts"
# bhyve's virtio-blk is /dev/vda; the initramfs mounts it read-write, so no fsck.
printf '/dev/vda\t/\text4\tdefaults\t0\t0\n' > "$root/etc/fstab"
# Empty root password: login on the serial console asks for none (Debian's
# pam_unix has nullok); sshd refuses empty passwords, so ssh takes the key.
chroot "$root" passwd -d root >/dev/null

mkdir -p "$root/root/.ssh"
ssh-keygen -q -t ed25519 -N "" -C "lhyve-debian" -f "$tmp/id_ed25519"
cp "$tmp/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
chmod 700 "$root/root/.ssh"
chmod 600 "$root/root/.ssh/authorized_keys"

# slirp's DHCP server hands out 10.0.2.15; the NIC's name is enp0sN.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/80-virtio.network"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Units that cannot work in this VM, masked with the reason:
# - systemd-networkd-wait-online: nothing here orders after
#   network-online.target's readiness except itself, and on a loaded host
#   DHCP may outlast its timeout, which would only mark the boot degraded.
chroot "$root" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1

# The modules of the kernel bhyveload boots, for udev (the initramfs loads
# the virtio, input and ext4 ones before switch_root).  No sound, GPU,
# media, wireless (cfg80211 too) or InfiniBand drivers: the VM has none
# of those devices.
mkdir -p "$root/lib/modules"
cp -a "$kdir/lib/modules/$kver" "$root/lib/modules/"
for d in sound drivers/gpu drivers/media drivers/net/wireless net/wireless drivers/infiniband; do
	rm -rf "$root/lib/modules/$kver/kernel/$d"
done
depmod -b "$root" "$kver"

# The packages' caches are not needed in the image.
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

rm -f "$tmp/debian.img"
if ! mke2fs -q -t ext4 -L debian -d "$root" "$tmp/debian.img" "$size" >"$tmp/mke2fs.log" 2>&1; then
	fail "mke2fs failed: $(tail -n 1 "$tmp/mke2fs.log")"
fi
rm -rf "$dir"
mkdir -p "$dir"
mv "$tmp/debian.img" "$tmp/id_ed25519" "$tmp/id_ed25519.pub" "$dir/"
touch "$dir/.done"
# Images of earlier versions of this script or kernel are not used again.
for old in "$cache"/debian/bookworm-*; do
	[ "$old" = "$dir" ] || rm -rf "$old"
done
echo "$img"

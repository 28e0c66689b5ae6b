#!/bin/sh
# l1.sh - runs inside the L1 guest (tests/nested/run.sh): Debian's kernel
# under QEMU TCG, with kvm and kvm-amd loaded, so /dev/kvm is real KVM
# (nested SVM).  Runs the guest and CLI tests on lhyve's KVM backend and
# prints their "ok / not ok / skip" lines on the console, diagnostics as
# "# ..." lines, and NESTED-DONE at the end.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
cd /lhyve || { echo "not ok - no /lhyve in the initramfs"; echo NESTED-DONE; exit 0; }
mkdir -p /tmp/mem
export VMM_MEM_DIR=/tmp/mem
echo "# L1: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU, $(grep -m1 -o -w -E 'svm|vmx' /proc/cpuinfo)"
if [ -c /dev/kvm ]; then
	echo "ok - /dev/kvm in L1 (nested $(ls -d /sys/module/kvm_amd /sys/module/kvm_intel 2>/dev/null | xargs -n1 basename))"
else
	echo "not ok - /dev/kvm in L1"
	dmesg | grep -i -E 'kvm|svm' | tail -n 5 | sed 's/^/# /'
	echo NESTED-DONE
	exit 0
fi
for t in tests/guest/run.sh tests/cli/test_backend.sh tests/cli/test_session.sh; do
	case $t in tests/guest/*) label=guest ;; *) label=$(basename "$t" .sh) ;; esac
	start=$(date +%s)
	BUILD=build GUESTS=build/guests BACKENDS=kvm bash "$t" >/tmp/out 2>/tmp/err
	rc=$?
	grep -E '^(ok|not ok|skip) - ' /tmp/out | sed "s|^\(ok\|not ok\|skip\) - |\1 - $label: |"
	if grep -q '^not ok - ' /tmp/out || [ $rc != 0 ]; then
		tail -n 60 /tmp/err | sed 's/^/# /'
	fi
	[ $rc = 0 ] || echo "not ok - $label: exited with status $rc"
	echo "# $t: $(($(date +%s) - start)) s"
done
# Debian's kernel on KVM with two vCPUs (tests/boot/test_boot.sh's checks).
# noxsave: under QEMU's TCG, XSAVE in the nested guest writes an XSTATE_BV
# beyond its XCR0 (docs/kvm.md, xsave_clock), and the kernel's signal
# frames then fail to restore ("init[1] bad frame in rt_sigreturn").
if [ -f linux/vmlinuz ]; then
	start=$(date +%s)
	if build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd.gz \
	    -a "console=ttyS0 panic=-1 noxsave lhyve.action=poweroff" lx >/tmp/lx.load 2>&1; then
		timeout 300 build/bhyve -c 2 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -o vmm.backend=kvm lx >/tmp/lx.raw 2>/tmp/lx.err </dev/null
		rc=$?
		tr -d '\r' </tmp/lx.raw >/tmp/lx.con
		if grep -q '^LHYVE-USERLAND-UP' /tmp/lx.con; then
			echo "ok - linux: Debian's kernel reaches userland on KVM (-c 2)"
			grep -qx "CPUS 2" /tmp/lx.con && echo "ok - linux: /proc/cpuinfo shows 2 CPUs" ||
				echo "not ok - linux: 2 CPUs ($(grep '^CPUS' /tmp/lx.con))"
			# Timing lines (TSC, hrtimer) are the nested TCG's: reported, not judged.
			grep '^DMESG-BAD' /tmp/lx.con | head -n 5 | sed 's/^/# linux: /'
			[ $rc = 1 ] && echo "ok - linux: poweroff, bhyve exits 1" ||
				echo "not ok - linux: poweroff, bhyve exits 1 (exit $rc)"
		else
			echo "not ok - linux: Debian's kernel reaches userland on KVM (exit $rc)"
			tail -n 25 /tmp/lx.con | sed 's/^/# /'
			tail -n 5 /tmp/lx.err | sed 's/^/# /'
		fi
		build/bhyvectl --vm=lx --destroy >/dev/null 2>&1
	else
		echo "not ok - linux: bhyveload ($(tail -n 1 /tmp/lx.load))"
	fi
	echo "# linux: $(($(date +%s) - start)) s"
fi
# ---- kvmio (docs/kvm.md, "ioeventfd"): Debian's kernel on KVM with a
# virtio-blk disk and a virtio-net NIC on slirp.  The guest writes 16 MiB
# in 4 KiB direct requests and reads them back; L1 finds the same bytes in
# the image; DHCP and a fetch from L1 through slirp.  The doorbells go
# through KVM_IOEVENTFD: the vCPU's MMIO exits, all of the boot's
# included, stay fewer than the disk requests (each of which notified).
if [ -f linux/vmlinuz ] && [ -f linux/initrd-kvmio.gz ]; then
	start=$(date +%s)
	ip link set lo up 2>/dev/null
	mkdir -p /tmp/www
	head -c 1048576 /dev/urandom >/tmp/www/blob
	busybox httpd -p 127.0.0.1:8089 -h /tmp/www
	dd if=/dev/zero of=/tmp/kv.img bs=1M count=20 2>/dev/null
	if build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd-kvmio.gz \
	    -a "console=ttyS0 panic=-1 noxsave lhyve.port=8089" kv >/tmp/kv.load 2>&1; then
		timeout 300 build/bhyve -c 1 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -s 2,virtio-blk,/tmp/kv.img -s 3,virtio-net,slirp \
		    -o vmm.backend=kvm kv >/tmp/kv.raw 2>/tmp/kv.err </dev/null
		rc=$?
		tr -d '\r' </tmp/kv.raw >/tmp/kv.con
		kv() { sed -n "s/^KV $1 //p" /tmp/kv.con | head -n 1; }
		pat=$(kv PAT)
		if grep -q '^KV DONE' /tmp/kv.con && [ -n "$pat" ]; then
			host=$(head -c 16777216 /tmp/kv.img | sha256sum | cut -d' ' -f1)
			[ "$(kv BLK-READ)" = "$pat" ] && [ "$host" = "$pat" ] &&
				echo "ok - kvmio: virtio-blk on KVM: 16 MiB written, read back, and in the image" ||
				echo "not ok - kvmio: virtio-blk on KVM: pattern $pat, guest read $(kv BLK-READ), image $host"
			[ "$(kv DHCP)" = 10.0.2.15/24 ] &&
			    [ "$(kv WGET)" = "$(sha256sum </tmp/www/blob | cut -d' ' -f1)" ] &&
				echo "ok - kvmio: virtio-net on KVM: DHCP and 1 MiB through slirp" ||
				echo "not ok - kvmio: virtio-net on KVM: DHCP '$(kv DHCP)', fetch '$(kv WGET)'"
			mmio=$(build/bhyvectl --vm=kv --get-stats 2>/dev/null |
			    awk -F'\t' '/^exits: inst_emul/ { print $2 + 0 }')
			reqs=$(kv BLK-REQS)
			echo "# kvmio: $reqs disk requests, ${mmio:-?} MMIO exits in the whole boot"
			[ -n "$mmio" ] && [ -n "$reqs" ] && [ "$reqs" -ge 8192 ] && [ "$mmio" -gt 0 ] && [ "$mmio" -lt "$reqs" ] &&
				echo "ok - kvmio: virtio doorbells through ioeventfd (MMIO exits $mmio < requests $reqs)" ||
				echo "not ok - kvmio: virtio doorbells through ioeventfd (MMIO exits '$mmio', requests '$reqs')"
			[ $rc = 1 ] || echo "not ok - kvmio: poweroff, bhyve exits 1 (exit $rc)"
		else
			echo "not ok - kvmio: the virtio guest finishes on KVM (exit $rc)"
			tail -n 25 /tmp/kv.con | sed 's/^/# /'
			tail -n 5 /tmp/kv.err | sed 's/^/# /'
		fi
		build/bhyvectl --vm=kv --destroy >/dev/null 2>&1
	else
		echo "not ok - kvmio: bhyveload ($(tail -n 1 /tmp/kv.load))"
	fi
	rm -f /tmp/kv.img
	echo "# kvmio: $(($(date +%s) - start)) s"
fi
# ---- end kvmio
echo NESTED-DONE

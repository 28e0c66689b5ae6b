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
# L1's own TSC (KVM keeps its guests' TSCs together only on a stable host TSC).
echo "# L1: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
dmesg | grep -i -E 'tsc|clocksource' | tail -n 6 | sed 's/^/# L1: /'
if [ -c /dev/kvm ]; then
	echo "ok - /dev/kvm in L1 (nested $(ls -d /sys/module/kvm_amd /sys/module/kvm_intel 2>/dev/null | xargs -n1 basename))"
else
	echo "not ok - /dev/kvm in L1"
	dmesg | grep -i -E 'kvm|svm' | tail -n 5 | sed 's/^/# /'
	echo NESTED-DONE
	exit 0
fi
# run.sh's NESTED_ONLY: only the parts named (guest, backend, session, linux).
only=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^lhyve.nested_only=//p')
want() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}
# Parts run only when named: diagnostics, and boots that have stopped L1
# itself (docs/kvm.md "Nested harness").
opted() {
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}
# L1's memory after each part: tmpfs (guest memory files, consoles) is RAM here.
mem_note() {
	echo "# L1 memory after $1: $(awk '/^MemAvailable/ { print $2 / 1024 " MiB available" }' /proc/meminfo), /tmp $(du -sm /tmp 2>/dev/null | cut -f1) MiB, $(ls /tmp/mem 2>/dev/null | wc -l) guest memory files"
}
mem_note "boot"
for t in tests/guest/run.sh tests/cli/test_backend.sh tests/cli/test_session.sh; do
	case $t in tests/guest/*) label=guest ;; *) label=$(basename "$t" .sh) ;; esac
	want "${label#test_}" || continue
	start=$(date +%s)
	BUILD=build GUESTS=build/guests BACKENDS=kvm bash "$t" >/tmp/out 2>/tmp/err
	rc=$?
	grep -E '^(ok|not ok|skip) - ' /tmp/out | sed "s|^\(ok\|not ok\|skip\) - |\1 - $label: |"
	grep '^# ' /tmp/out | sed "s|^# |# $label: |"
	if grep -q '^not ok - ' /tmp/out || [ $rc != 0 ]; then
		tail -n 60 /tmp/err | sed 's/^/# /'
	fi
	[ $rc = 0 ] || echo "not ok - $label: exited with status $rc"
	echo "# $t: $(($(date +%s) - start)) s"
	mem_note "$label"
done
# Debian's kernel on KVM with two vCPUs (tests/boot/test_boot.sh's checks).
# A hung guest ignores timeout's SIGTERM (bhyve's ACPI power button): KILL.
# noxsave: under QEMU's TCG, XSAVE in the nested guest writes XSTATE_BV
# without SSE though SSE is in use (docs/kvm.md "XSAVE", NESTED_ONLY=xsave
# below), and the kernel's signal frames then fail to restore ("init[1]
# bad frame in rt_sigreturn").
if [ -f linux/vmlinuz ] && want linux; then
	start=$(date +%s)
	if build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd.gz \
	    -a "console=ttyS0 panic=-1 noxsave lhyve.action=poweroff" lx >/tmp/lx.load 2>&1; then
		timeout -s KILL 300 build/bhyve -c 2 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -o vmm.backend=kvm lx >/tmp/lx.raw 2>/tmp/lx.err </dev/null
		rc=$?
		tr -d '\r' </tmp/lx.raw >/tmp/lx.con
		if grep -q '^LHYVE-USERLAND-UP' /tmp/lx.con; then
			echo "ok - linux: Debian's kernel reaches userland on KVM (-c 2)"
			grep -qx "CPUS 2" /tmp/lx.con && echo "ok - linux: /proc/cpuinfo shows 2 CPUs" ||
				echo "not ok - linux: 2 CPUs ($(grep '^CPUS' /tmp/lx.con))"
			# Timing lines (hrtimer) are the nested TCG's: reported, not judged.
			grep '^DMESG-BAD' /tmp/lx.con | head -n 5 | sed 's/^/# linux: /'
			# But not the TSC's: one offset for every vCPU, an invariant TSC (docs/kvm.md "Time").
			grep -q 'TSCs unsynchronized' /tmp/lx.con &&
				echo "not ok - linux: the two vCPUs' TSCs are synchronized" ||
				echo "ok - linux: the two vCPUs' TSCs are synchronized (no \"TSCs unsynchronized\")"
			grep -E '^CLOCKSOURCE' /tmp/lx.con | sed 's/^/# linux: /'
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
	mem_note linux
fi
# Stopped with --suspend right after both CPUs are up (LAPIC timers,
# TSC, kvmclock live), continued by a new bhyve: it must go on to
# userland and power off (docs/kvm.md "State").  Only when asked
# (NESTED_ONLY=suspend): in CI runs L1 itself (QEMU TCG) has twice stopped
# for good during the continued boot, silencing the whole batch; the
# same save and restore is covered by test_suspend_linux on the software
# CPU and by the session tests on KVM.
if [ -f linux/vmlinuz ] && opted suspend; then
	start=$(date +%s)
	if build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd.gz \
	    -a "console=ttyS0 panic=-1 noxsave lhyve.action=poweroff" lx2 >/tmp/lx2.load 2>&1; then
		build/bhyve -c 2 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -o vmm.backend=kvm lx2 >/tmp/lx2.raw 2>/tmp/lx2.err </dev/null &
		pid=$!
		i=0
		while [ $i -lt 240 ] && ! grep -q 'smp: Brought up' /tmp/lx2.raw 2>/dev/null &&
		    kill -0 $pid 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
		build/bhyvectl --vm=lx2 --suspend >/dev/null 2>&1
		# A guest that never stops is a failure, not a hang of the batch.
		i=0
		while [ $i -lt 120 ] && kill -0 $pid 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
		kill -9 $pid 2>/dev/null
		wait $pid
		rc=$?
		if [ $rc = 1 ] && grep -q '^LHYVE-USERLAND-UP' /tmp/lx2.raw; then
			echo "skip - linux: --suspend and continue on KVM: Linux finished before --suspend reached it"
		else
			[ $rc = 5 ] && echo "ok - linux: --suspend stops Linux on KVM mid-boot (exit 5)" ||
				echo "not ok - linux: --suspend stops Linux on KVM mid-boot (exit $rc: $(tail -n 2 /tmp/lx2.err))"
			timeout -s KILL 300 build/bhyve -c 2 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
			    -o vmm.backend=kvm lx2 >/tmp/lx3.raw 2>/tmp/lx3.err </dev/null
			rc=$?
			tr -d '\r' </tmp/lx3.raw >/tmp/lx3.con
			if [ $rc = 1 ] && grep -q '^LHYVE-USERLAND-UP' /tmp/lx3.con && grep -qx "CPUS 2" /tmp/lx3.con; then
				echo "ok - linux: continued on KVM, reaches userland with 2 CPUs and powers off"
			else
				echo "not ok - linux: continued on KVM, reaches userland with 2 CPUs and powers off (exit $rc)"
				tail -n 25 /tmp/lx3.con | sed 's/^/# /'
				tail -n 5 /tmp/lx3.err | sed 's/^/# /'
			fi
			grep '^DMESG-BAD' /tmp/lx3.con | head -n 5 | sed 's/^/# linux (continued): /'
		fi
		build/bhyvectl --vm=lx2 --destroy >/dev/null 2>&1
	else
		echo "not ok - linux: bhyveload for --suspend ($(tail -n 1 /tmp/lx2.load))"
	fi
	echo "# linux --suspend: $(($(date +%s) - start)) s"
	mem_note "linux --suspend"
elif [ -f linux/vmlinuz ] && want linux; then
	echo "skip - linux: --suspend and continue on KVM: only with NESTED_ONLY=suspend (it has stopped L1 itself, docs/kvm.md)"
fi
# Only when asked (NESTED_ONLY=xsave): what XSAVE does in a guest on KVM
# here, for docs/kvm.md "XSAVE": xsave_clock's XSAVE header, then Linux
# booted without noxsave, its x86/fpu lines and whether init runs.
if opted xsave; then
	build/bhyveload -m 64M -k build/guests/xsave_clock.elf xs >/dev/null 2>&1
	timeout 60 build/bhyve -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -o vmm.backend=kvm \
	    -o cpu.vendor=intel xs >/tmp/xs.con 2>&1 </dev/null
	echo "# xsave: xsave_clock exit $?: $(tr -d '\r' </tmp/xs.con | tr '\n' ' ' | tail -c 200)"
	m=$(ls /tmp/mem/lhyve-xs-* 2>/dev/null | head -n 1)
	[ -n "$m" ] && echo "# xsave: header at 0x20200: $(od -A x -t x8 -j $((0x20200)) -N 32 "$m" | head -n 2 | tr '\n' ' ')"
	build/bhyvectl --vm=xs --get-rax --get-r15 --get-cr4 2>&1 | tr '\n' ' ' | sed 's/^/# xsave: /'; echo
	build/bhyvectl --vm=xs --destroy >/dev/null 2>&1
	if [ -f linux/vmlinuz ] && build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd.gz \
	    -a "console=ttyS0 panic=-1 lhyve.action=poweroff" lxs >/dev/null 2>&1; then
		timeout -s KILL 300 build/bhyve -c 1 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -o vmm.backend=kvm lxs >/tmp/lxs.raw 2>&1 </dev/null
		echo "# xsave: linux without noxsave: exit $?"
		tr -d '\r' </tmp/lxs.raw | grep -E 'fpu|xstate|XSAVE|xsave|bad frame|LHYVE-USERLAND|Kernel panic' |
		    head -n 20 | sed 's/^/# xsave: /'
		tr -d '\r' </tmp/lxs.raw | tail -n 12 | sed 's/^/# xsave: tail: /'
		build/bhyvectl --vm=lxs --destroy >/dev/null 2>&1
	fi
fi
# ---- kvmio (docs/kvm.md, "ioeventfd"): Debian's kernel on KVM with a
# virtio-blk disk and a virtio-net NIC on slirp.  The guest writes 16 MiB
# in 4 KiB direct requests and reads them back; L1 finds the same bytes in
# the image; DHCP and a fetch from L1 through slirp.  The doorbells go
# through KVM_IOEVENTFD: the vCPU's MMIO exits, all of the boot's
# included, stay fewer than the disk requests (each of which notified).
# Only when asked (NESTED_ONLY=kvmio): L1 itself stopped during this boot
# in both attempts of a CI run (docs/kvm.md, "The nested harness").
if [ -f linux/vmlinuz ] && [ -f linux/initrd-kvmio.gz ] && ! opted kvmio; then
	echo "skip - kvmio: virtio on KVM through ioeventfd: only with NESTED_ONLY=kvmio (it has stopped L1 itself, docs/kvm.md)"
elif [ -f linux/vmlinuz ] && [ -f linux/initrd-kvmio.gz ]; then
	start=$(date +%s)
	ip link set lo up 2>/dev/null
	mkdir -p /tmp/www
	head -c 1048576 /dev/urandom >/tmp/www/blob
	busybox httpd -p 127.0.0.1:8089 -h /tmp/www
	dd if=/dev/zero of=/tmp/kv.img bs=1M count=20 2>/dev/null
	# kv_boot: load and run the guest; a guest still running after 240 s
	# is hung (it finishes in about 80 s): where it stands is printed, then
	# it is killed (a hung guest ignores SIGTERM, bhyve's power button).
	kv_boot() {
		build/bhyvectl --vm=kv --destroy >/dev/null 2>&1
		build/bhyveload -m 256M -k linux/vmlinuz -i linux/initrd-kvmio.gz \
		    -a "console=ttyS0 panic=-1 noxsave lhyve.port=8089" kv >/tmp/kv.load 2>&1 || return 2
		build/bhyve -c 1 -m 256M -s 0,hostbridge -s 31,lpc -l com1,stdio \
		    -s 2,virtio-blk,/tmp/kv.img -s 3,virtio-net,slirp \
		    -o vmm.backend=kvm kv >/tmp/kv.raw 2>/tmp/kv.err </dev/null &
		pid=$!
		i=0
		while kill -0 $pid 2>/dev/null && [ $i -lt 240 ]; do sleep 1; i=$((i + 1)); done
		if kill -0 $pid 2>/dev/null; then
			echo "# kvmio: the guest hung: $(build/bhyvectl --vm=kv --get-rip --get-rflags 2>&1 | tr '\n' ' ')"
			tr -d '\r' </tmp/kv.raw | tail -n 6 | sed 's/^/# kvmio: console: /'
			kill -KILL $pid
		fi
		wait $pid
		rc=$?
		tr -d '\r' </tmp/kv.raw >/tmp/kv.con
		return 0
	}
	kv_boot
	if [ $? = 0 ] && ! grep -q '^KV DONE' /tmp/kv.con; then
		# Once more, loudly: a Linux boot one level down under QEMU TCG
		# has been seen to stop in about one run in ten (docs/kvm.md).
		echo "# kvmio: the first boot did not finish (exit $rc); booting again"
		kv_boot
	fi
	if [ -f /tmp/kv.con ]; then
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

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
echo NESTED-DONE

# test_debian.sh - a whole Debian 12 system with systemd on a virtio disk
# (docs/debian.md): scripts/build-debian-image.sh's image, booted through
# the project's initramfs (root=/dev/vda, switch_root) with virtio-blk,
# virtio-net (slirp, hostfwd to the guest's sshd) and virtio-rnd.  The
# login prompt on the serial console, root logs in, `systemctl
# is-system-running` says running, ssh through hostfwd runs a command,
# SIGTERM to bhyve shuts the guest down through logind and the ACPI power
# button (exit 1).  Prints the time from bhyve's start to the login prompt.
# On each backend the machine has: the software CPU, and KVM where
# /dev/kvm is real (not PVM); BACKENDS=emu|kvm|"emu kvm" chooses.
# Skipped, loudly, without debootstrap, root or the network.
# The nested harness runs it inside its L1 on KVM (tests/nested/run.sh) with
# DEBIAN_DISK (the image as a block device, used in place), DEBIAN_KERNEL,
# DEBIAN_INITRD, DEBIAN_KEY and DEBIAN_KVER given, DEBIAN_MEM smaller.
# Release build only (tests/run.sh); about 3.5 minutes on a 2-core host.
. "$(dirname "$0")/../cli/lib.sh"

if [ -n "${DEBIAN_DISK:-}" ]; then
	DISK=$DEBIAN_DISK KERNEL=$DEBIAN_KERNEL INITRD=$DEBIAN_INITRD KEY=$DEBIAN_KEY
	KVER=$DEBIAN_KVER
else
	if ! IMG=$(scripts/build-debian-image.sh 2>"$T/img"); then
		echo "skip - debian: no Debian image ($(tail -n 1 "$T/img"))"
		exit 0
	fi
	if ! K=$(scripts/fetch-kernel.sh 2>"$T/fetch"); then
		echo "skip - debian: no Debian kernel ($(cat "$T/fetch"))"
		exit 0
	fi
	KERNEL=$(ls "$K"/boot/vmlinuz-*)
	KVER=$(cat "$K/KVER")
	INITRD=$T/initrd
	if ! scripts/build-initramfs.sh "$INITRD" >"$T/mk" 2>&1; then
		echo "skip - debian: cannot build the initramfs ($(tail -n 1 "$T/mk"))"
		exit 0
	fi
	KEY=$(dirname "$IMG")/id_ed25519
	DISK=$T/disk.img
fi
cp "$KEY" "$T/key"
chmod 600 "$T/key"

if [ -z "${BACKENDS:-}" ]; then
	BACKENDS=emu
	if [ -c /dev/kvm ] && [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ]; then
		BACKENDS="emu kvm"
	elif [ -c /dev/kvm ]; then
		echo "skip - debian on kvm: /dev/kvm here is $( [ -e /sys/module/kvm_pvm ] && echo PVM || echo not writable) (tests/nested runs it on real KVM)"
	else
		echo "skip - debian on kvm: no /dev/kvm (tests/nested runs it on real KVM)"
	fi
fi
MEM=${DEBIAN_MEM:-1G}
TIMEOUT=${DEBIAN_TIMEOUT:-900}
PORT=$((20000 + RANDOM % 20000))
while ss -ltn 2>/dev/null | grep -q ":$PORT "; do PORT=$((20000 + RANDOM % 20000)); done

# now: seconds since the epoch, with a fraction where date can give one.
now() {
	local t
	t=$(date +%s.%N)
	case $t in *N*) date +%s ;; *) echo "$t" ;; esac
}

# boot_debian BACKEND: the whole test on one CPU backend.
boot_debian() {
	local backend=$1 N=debian pid rc state out i t0
	[ "$backend" = emu ] || N="debian on $backend"
	# The cached image stays as built: the guest writes to a sparse copy.
	[ -n "${DEBIAN_DISK:-}" ] || cp --sparse=always "$IMG" "$DISK"
	$BHYVECTL --vm=debian --destroy >/dev/null 2>&1
	rm -f "$T/in" "$T/con"
	if ! $BHYVELOAD -m $MEM -k "$KERNEL" -i "$INITRD" -a "console=ttyS0 root=/dev/vda panic=-1" \
	    debian >"$T/load" 2>&1; then
		notok "$N: loads" "$(cat "$T/load")"
		return
	fi
	# The console's input is a FIFO the test writes to (held open, never EOF).
	mkfifo "$T/in"
	exec 7<>"$T/in"
	t0=$(now)
	$BHYVE -o vmm.backend=$backend -c 2 -m $MEM -s 0,hostbridge -s 2,virtio-blk,"$DISK" \
		-s 3,virtio-net,slirp,hostfwd=tcp::$PORT-:22 -s 4,virtio-rnd -s 31,lpc -l com1,stdio \
		debian <&7 >"$T/con" 2>"$T/err" &
	pid=$!
	con() { tr -d '\r' <"$T/con" | tail -c "${1:-1500}"; }
	type_line() { printf '%s\r' "$1" >&7; }

	if ! wait_for "$T/con" 'debian login:' $TIMEOUT; then
		notok "$N: login prompt on the serial console" "$(con); stderr: $(tail -c 300 "$T/err")"
		kill -9 $pid 2>/dev/null
		return
	fi
	ok "$N: login prompt on the serial console after $(awk "BEGIN { printf \"%.1f\", $(now) - $t0 }") s"

	type_line root
	if wait_for "$T/con" 'root@debian:~#' 120; then
		ok "$N: root logs in on ttyS0 without a password"
	else
		notok "$N: root logs in" "$(con)"
		kill -9 $pid 2>/dev/null
		return
	fi

	type_line 'echo SYSTEM-$(timeout 600 systemctl is-system-running --wait); systemctl --failed --plain --no-legend | sed "s/^/FAILED-UNIT /"; echo END-FAILED'
	if wait_for "$T/con" '^END-FAILED' 700; then
		# bash turns bracketed paste off (ESC [?2004l) before each command's output.
		state=$(tr -d '\r' <"$T/con" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' |
			grep -oE '^SYSTEM-[a-z-]*' | tail -n 1)
		if [ "$state" = SYSTEM-running ]; then
			ok "$N: systemctl is-system-running says running"
		else
			notok "$N: systemctl is-system-running says running" \
				"${state#SYSTEM-}; $(tr -d '\r' <"$T/con" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' |
					grep '^FAILED-UNIT' | tr '\n' ';')"
		fi
	else
		notok "$N: systemctl is-system-running answers" "$(con)"
	fi

	SSH="ssh -p $PORT -i $T/key -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=30 -o LogLevel=ERROR root@127.0.0.1"
	if ! command -v ssh >/dev/null 2>&1; then
		echo "skip - $N: ssh through hostfwd (no ssh client)"
	else
		out=
		for i in 1 2 3 4 5; do
			out=$($SSH 'echo SSH-$(uname -r)' 2>"$T/ssh.err" </dev/null) && break
			sleep 5
		done
		[ "$out" = "SSH-$KVER" ] && ok "$N: ssh through hostfwd runs a command" ||
			notok "$N: ssh through hostfwd" "got '$out'; $(tail -c 300 "$T/ssh.err")"
	fi

	# SIGTERM: bhyve presses the ACPI power button; logind powers off.
	kill -TERM $pid
	for i in $(seq 1 1200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	kill -9 $pid 2>/dev/null
	wait $pid
	rc=$?
	[ $rc = 1 ] && grep -q 'reboot: Power down' "$T/con" &&
		ok "$N: SIGTERM shuts the system down through systemd, bhyve exits 1" ||
		notok "$N: SIGTERM shutdown" "exit $rc; $(con 800)"
	exec 7>&-
	$BHYVECTL --vm=debian --destroy >/dev/null 2>&1
}

for backend in $BACKENDS; do
	boot_debian "$backend"
done

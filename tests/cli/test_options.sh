# bhyve options that change behaviour: -e, -D, -S, -C, -k, -o, -c.
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
RUN="$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio"

load() { $BHYVELOAD -m 64M -k "$G/$1.elf" "$2" >/dev/null 2>&1; }

load ioport o1
expect "unclaimed port tolerated" 1 $RUN o1
load ioport o1
expect_err "-e: unclaimed port is fatal" 4 "unhandled out of 1 byte\(s\) at port 0x2f0" $RUN -e o1
$BHYVECTL --vm=o1 --destroy >/dev/null 2>&1

load hello o2
expect "-D: guest powers off" 1 $RUN -D o2
[ ! -e "$VMM_DIR/o2" ] && ok "-D destroyed the instance" || notok "-D destroyed the instance"

load hello o3
expect "-S: wired memory" 1 $RUN -S o3
expect "-C: memory in core" 1 $RUN -C o3
expect "without -m: the instance's size" 1 $BHYVE -s 31,lpc -l com1,stdio o3
expect_err "-m differs from the instance" 4 "already has 64 MiB" $BHYVE -m 128M o3

printf '# a config file\nlpc.com1.path=stdio\nx86.strictio=true\n' >"$T/cfg"
expect "-k config file" 1 $BHYVE -m 64M -s 31,lpc -k "$T/cfg" o3
expect_err "-k missing file" 4 "$T/nope" $BHYVE -k "$T/nope" o3
$BHYVE -o config.dump=true -s 0,hostbridge -o x86.strictmsr=false o3 >"$T/dump" 2>&1
grep -qx 'x86.strictmsr=false' "$T/dump" && grep -q '^pci\.0\.0\.0\.device=hostbridge$' "$T/dump" &&
	ok "-o config.dump" || notok "-o config.dump" "$(cat "$T/dump")"
expect_err "-o without =" 4 "" $BHYVE -o novalue o3
expect_err "unknown backend" 4 "unknown backend 'foo'" $BHYVE -o vmm.backend=foo o3
expect_err "kvm backend without /dev/kvm" 4 "/nonexistent/kvm does not exist" \
	env LHYVE_KVM_DEV=/nonexistent/kvm $BHYVE -o vmm.backend=kvm o3
expect_err "unknown CPU vendor" 4 "unknown CPU vendor 'cyrix'" $BHYVE -o cpu.vendor=cyrix o3
expect "-o cpu.vendor=amd" 1 $RUN -o cpu.vendor=amd o3
expect "-c 2 (APs wait for INIT-SIPI)" 1 $RUN -c 2 o3
expect_err "-c: topology must match cpus" 4 "does not match 3 vCPUs" $RUN -c cpus=3,sockets=2 o3

# -c's topology reaches CPUID (tests/guest/cli_topology.S prints it; docs/cpu.md "CPU topology").
topo() {	# NAME VENDOR WANT -c-ARG
	load cli_topology o7
	$RUN -o cpu.vendor=$2 -c $4 o7 >"$T/con" 2>"$T/err" </dev/null
	grep -qx "TOPO $3" "$T/con" && ok "$1" || notok "$1" "$(cat "$T/con" "$T/err")"
	$BHYVECTL --vm=o7 --destroy >/dev/null 2>&1
}
topo "-c 4: one socket of 4 cores" intel "01 04 04 00 00 01 04" 4
topo "-c sockets=2,cores=2,threads=2 (Intel)" intel "02 04 04 00 00 02 04" sockets=2,cores=2,threads=2
topo "-c sockets=2,cores=2,threads=2 (AMD)" amd "02 04 04 03 01 00 00" sockets=2,cores=2,threads=2
expect "vmrun.sh-style reload" 0 $BHYVELOAD -m 64M -k "$G/hello.elf" o3
expect_err "bhyveload: other size" 1 "has 64 MiB of memory, not 128 MiB" $BHYVELOAD -m 128M -k "$G/hello.elf" o3
expect "destroy" 0 $BHYVECTL --vm=o3 --destroy

# A failed bhyveload leaves nothing behind.
expect_err "segment outside memory" 1 "does not fit in guest memory" $BHYVELOAD -m 1M -k "$G/hello.bin@0x200000" o4
[ ! -e "$VMM_DIR/o4" ] && ok "failed load leaves no instance" || notok "failed load leaves no instance" "$(ls "$VMM_DIR")"
expect_err "segment over the loader" 1 "overlaps the loader" $BHYVELOAD -m 1M -k "$G/hello.bin@0x1000" o4

# -w: unknown MSRs read as 0 and writes are dropped, instead of #GP.
load msr o5
$RUN -w o5 >"$T/con" 2>"$T/err" </dev/null; rc=$?
[ $rc = 1 ] && grep -q 'FAIL msr: wrmsr of an unknown MSR did not raise #GP' "$T/con" &&
	ok "-w ignores unknown MSRs" || notok "-w ignores unknown MSRs" "rc=$rc $(cat "$T/con" "$T/err")"
load msr o5
$RUN o5 >"$T/con" 2>"$T/err" </dev/null; rc=$?
[ $rc = 1 ] && grep -qx 'PASS msr' "$T/con" && grep -q 'wrmsr of unknown MSR 0x12345 on vCPU 0: #GP injected' "$T/err" &&
	ok "unknown MSRs raise #GP by default, and bhyve says so" || notok "unknown MSRs raise #GP by default" "rc=$rc $(cat "$T/con" "$T/err")"
$BHYVECTL --vm=o5 --destroy >/dev/null 2>&1
true

# -P: every PAUSE leaves the CPU (counted in the stats); without it none does.
pauses() { $BHYVECTL --vm=o6 --get-stats | awk -F'\t' '/^exits: pause/ {print $2}'; }
load pause o6
expect "-P: guest runs" 1 $RUN -P o6
n=$(pauses)
[ "${n:-0}" -ge 100 ] && ok "-P: PAUSE exits counted ($n)" || notok "-P: PAUSE exits counted" "$n"
$BHYVECTL --vm=o6 --destroy >/dev/null 2>&1
load pause o6
expect "without -P: guest runs" 1 $RUN o6
n=$(pauses)
[ "${n:-1}" = 0 ] && ok "without -P: no PAUSE exits" || notok "without -P: no PAUSE exits" "$n"
$BHYVECTL --vm=o6 --destroy >/dev/null 2>&1
true

# vmrun.sh: load, run, reload on reboot (exit 0), destroy at the end.
PATH="$B:$PATH" sh scripts/vmrun.sh -m 64M -k "$G/reboot.elf" o7 >"$T/con" 2>"$T/err" </dev/null
rc=$?
[ $rc = 1 ] && grep -qx 'PASS reboot' "$T/con" && grep -qx 'PASS reboot: second boot' "$T/con" &&
	[ ! -e "$VMM_DIR/o7" ] && ok "vmrun.sh: reboot reloads, power-off destroys" ||
	notok "vmrun.sh: reboot reloads, power-off destroys" "rc=$rc $(cat "$T/con" "$T/err")"
true

# vmrun.sh -d/-t: a virtio disk in slot 2 and a NIC in slot 3 (bhyve's
# arguments recorded by a wrapper).
mkdir -p "$T/vbin"
printf '#!/bin/sh\necho "$*" > %s/vargs\nexec %s "$@"\n' "$T" "$(realpath "$BHYVE")" > "$T/vbin/bhyve"
chmod +x "$T/vbin/bhyve"
truncate -s 1M "$T/vdisk"
PATH="$T/vbin:$B:$PATH" sh scripts/vmrun.sh -m 64M -d "$T/vdisk" -t slirp -k "$G/hello.elf" o8 \
	>"$T/con" 2>"$T/err" </dev/null
rc=$?
[ $rc = 1 ] && grep -qx 'PASS hello' "$T/con" &&
	grep -q -- "-s 2,virtio-blk,$T/vdisk -s 3,virtio-net,slirp " "$T/vargs" &&
	ok "vmrun.sh -d -t: a virtio disk and NIC" ||
	notok "vmrun.sh -d -t: a virtio disk and NIC" "rc=$rc $(cat "$T/vargs" "$T/con" "$T/err")"
true

# test_load.sh - bhyveload's kernel formats.  A Multiboot kernel of our own
# (tests/guest/cli_multiboot.S) runs and reports what it was given; with
# Debian's stock kernel, both decompression paths set up the 64-bit boot
# protocol and the vmlinux inside enters through its PVH note; bad kernels,
# initrds and command lines get one line and leave no instance behind.
. "$(dirname "$0")/../cli/lib.sh"

# Multiboot: magic, memory sizes, command line, modules with strings.
printf 'ABCDefgh' > "$T/m1"
printf 'WXYZ' > "$T/m2"
for form in elf bin; do
	expect "multiboot ($form) loads" 0 $BHYVELOAD -m 64M -k "$GUESTS/cli_multiboot.$form" \
		-i "$T/m1,first module" -i "$T/m2" -a "hello world" mb
	timeout 20 $BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio mb >"$T/con" 2>&1 </dev/null
	rc=$?
	if [ $rc = 1 ] && grep -qx "PASS multiboot" "$T/con" &&
	    grep -qx "CMDLINE $GUESTS/cli_multiboot.$form hello world" "$T/con" &&
	    grep -qx "MODULE first module: ABCD" "$T/con" && grep -qx "MODULE $T/m2: WXYZ" "$T/con"; then
		ok "multiboot ($form) kernel sees its magic, memory, command line and modules"
	else
		notok "multiboot ($form) run" "exit $rc: $(head -c 400 "$T/con")"
	fi
	$BHYVECTL --vm=mb --destroy >/dev/null 2>&1
done
# A header whose addresses cannot be: load_addr above the header.
cp "$GUESTS/cli_multiboot.bin" "$T/badmb"
printf '\xff\xff\xff\x7f' | dd of="$T/badmb" bs=1 seek=20 conv=notrunc 2>/dev/null
printf '\xff\xff\xff\x7f' | dd of="$T/badmb" bs=1 seek=24 conv=notrunc 2>/dev/null
expect_err "multiboot header with impossible addresses" 1 "impossible addresses" \
	$BHYVELOAD -m 64M -k "$T/badmb" mbbad

if ! K=$(scripts/fetch-kernel.sh 2>"$T/fetch"); then
	echo "skip - linux loader: no Debian kernel ($(cat "$T/fetch"))"
	exit 0
fi
KERNEL=$(ls "$K"/boot/vmlinuz-*)

# gone NAME VM : the instance does not exist
gone() {
	if $BHYVECTL --vm="$2" --get-rip >/dev/null 2>&1; then
		notok "$1" "instance $2 was left behind"
	else ok "$1"; fi
}

head -c 4096 /dev/urandom > "$T/initrd"
expect "bzImage loads (host decompression)" 0 \
	$BHYVELOAD -m 256M -k "$KERNEL" -i "$T/initrd" -a "console=ttyS0 quiet" lx
$BHYVECTL --vm=lx --get-rip --get-rsi --get-cs >"$T/regs" 2>&1
grep -q 'rip\[0\].*0x0*1000000$' "$T/regs" && grep -q 'rsi\[0\].*0x0*9000$' "$T/regs" &&
	grep -q 'cs\[0\].*0x0*10$' "$T/regs" &&
	ok "host path enters startup_64 at 16 MiB with RSI = zero page, CS = __BOOT_CS" ||
	notok "host path entry registers" "$(cat "$T/regs")"
expect "bzImage loads (guest decompression)" 0 \
	$BHYVELOAD -m 256M -o boot.decompress=guest -k "$KERNEL" lx
$BHYVECTL --vm=lx --get-rip >"$T/regs" 2>&1
grep -q 'rip\[0\].*0x0*1000200$' "$T/regs" &&
	ok "guest path enters the decompressor's 64-bit entry" ||
	notok "guest path entry" "$(cat "$T/regs")"
$BHYVECTL --vm=lx --destroy >/dev/null 2>&1

# The vmlinux inside: an ELF with Xen's PVH note, entered in 32-bit mode.
if scripts/extract-vmlinux.sh "$KERNEL" "$T/vmlinux" 2>"$T/x"; then
	expect "vmlinux with a PVH note loads" 0 \
		$BHYVELOAD -m 256M -k "$T/vmlinux" -i "$T/initrd" -a "console=ttyS0" lxp
	$BHYVECTL --vm=lxp --get-rip --get-rbx --get-cr0 --get-efer >"$T/regs" 2>&1
	grep -q 'cr0\[0\].*0x0*11$' "$T/regs" && grep -q 'rbx\[0\].*0x0*9000$' "$T/regs" &&
		grep -q 'efer\[0\].*0x0*0$' "$T/regs" &&
		ok "PVH entry: 32-bit protected mode, paging off, EBX = start_info" ||
		notok "PVH entry registers" "$(cat "$T/regs")"
	$BHYVECTL --vm=lxp --destroy >/dev/null 2>&1
	rm -f "$T/vmlinux"
else
	echo "skip - PVH vmlinux: $(cat "$T/x")"
fi

head -c 300000 "$KERNEL" > "$T/trunc"
expect_err "truncated bzImage" 1 "truncated|outside the file" \
	$BHYVELOAD -m 256M -k "$T/trunc" bad1
gone "truncated bzImage leaves no instance" bad1

# Damage the middle of the XZ payload.
cp "$KERNEL" "$T/corrupt"
size=$(stat -c %s "$T/corrupt")
printf '\x55\xaa\x55\xaa\x55\xaa\x55\xaa' | dd of="$T/corrupt" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_err "corrupt xz payload" 1 "xz payload is corrupt" \
	$BHYVELOAD -m 256M -k "$T/corrupt" bad2
gone "corrupt payload leaves no instance" bad2

expect_err "command line longer than cmdline_size" 1 "command line has 3000 bytes" \
	$BHYVELOAD -m 256M -k "$KERNEL" -a "$(head -c 3000 /dev/zero | tr '\0' x)" bad3
gone "long command line leaves no instance" bad3

head -c $((80 << 20)) /dev/zero > "$T/bigrd"
expect_err "initrd that does not fit" 1 "initrd .* does not fit" \
	$BHYVELOAD -m 128M -k "$KERNEL" -i "$T/bigrd" bad4
gone "big initrd leaves no instance" bad4
rm -f "$T/bigrd"

expect_err "too little memory for the kernel" 1 "needs memory up to|does not fit in guest memory" \
	$BHYVELOAD -m 32M -k "$KERNEL" bad5
expect_err "-i with a plain ELF kernel" 1 "go with a Linux, PVH or multiboot kernel" \
	$BHYVELOAD -m 64M -k "$GUESTS/hello.elf" -i "$T/initrd" bad6
expect_err "missing initrd" 1 "cannot open initrd" \
	$BHYVELOAD -m 256M -k "$KERNEL" -i "$T/nonexistent" bad7
expect_err "two initrds for Linux" 1 "takes one initrd" \
	$BHYVELOAD -m 256M -k "$KERNEL" -i "$T/initrd" -i "$T/initrd" bad9
expect_err "unknown -o setting" 1 "unknown setting" \
	$BHYVELOAD -m 256M -o boot.decompress=maybe -k "$KERNEL" bad8

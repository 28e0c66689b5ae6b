# test_load.sh - bhyveload with Debian's stock kernel: both decompression
# paths set up the 64-bit boot protocol; bad kernels, initrds and command
# lines get one line and leave no instance behind.
. "$(dirname "$0")/../cli/lib.sh"

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
expect_err "-i with a non-Linux kernel" 1 "go with a Linux bzImage" \
	$BHYVELOAD -m 64M -k "$GUESTS/hello.elf" -i "$T/initrd" bad6
expect_err "missing initrd" 1 "cannot open initrd" \
	$BHYVELOAD -m 256M -k "$KERNEL" -i "$T/nonexistent" bad7
expect_err "unknown -o setting" 1 "unknown setting" \
	$BHYVELOAD -m 256M -o boot.decompress=maybe -k "$KERNEL" bad8

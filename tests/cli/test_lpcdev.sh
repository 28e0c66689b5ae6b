# -l pc-testdev (and its bad forms): one line naming the problem, exit 4
# before the guest runs.
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}

expect_err "-l pc-testdev,junk" 4 "pc-testdev takes no options, not 'junk'" $BHYVE -l pc-testdev,junk e1
$BHYVE -l help >"$T/l" 2>&1; grep -qx pc-testdev "$T/l" && ok "-l help lists pc-testdev" || notok "-l help lists pc-testdev" "$(cat "$T/l")"
$BHYVELOAD -m 64M -k "$G/testdev.elf" t1 >/dev/null 2>&1
expect_err "-l pc-testdev without lpc" 4 "pc-testdev needs an LPC bridge" $BHYVE -m 64M -s 0,hostbridge -l pc-testdev t1
expect "-o config.dump shows lpc.pc-testdev" 0 $BHYVE -o config.dump=true -l pc-testdev t1
grep -qx 'lpc.pc-testdev=true' "$T/out" && ok "lpc.pc-testdev=true in the config" || notok "lpc.pc-testdev=true in the config" "$(cat "$T/out")"
# isa-debug-exit's status, and -D destroys the instance as after a power-off.
expect "isa-debug-exit 0x10: exit 33" 33 timeout 20 $BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -l pc-testdev -D t1
[ ! -e "$VMM_DIR/t1" ] && ok "-D after isa-debug-exit destroys the instance" ||
	notok "-D after isa-debug-exit destroys the instance"
$BHYVECTL --vm=t1 --destroy >/dev/null 2>&1

# -l fwcfg and -f: bad forms are refused before the guest runs.
expect_err "-l fwcfg,junk" 4 "bhyve: -l fwcfg needs 'qemu'" $BHYVE -l fwcfg,junk e1
expect_err "-l fwcfg,bhyve" 4 "fwcfg,bhyve .* not supported" $BHYVE -l fwcfg,bhyve e1
expect_err "-f with a missing file" 4 "bhyve: -f opt/x: cannot open '/nonexistent/x': No such file" \
	$BHYVE -l fwcfg,qemu -f opt/x,file=/nonexistent/x e1
expect_err "-f without name" 4 "bhyve: -f string=abc: no name" $BHYVE -l fwcfg,qemu -f string=abc e1
expect_err "-f without contents" 4 "bhyve: -f opt/x: no contents" $BHYVE -l fwcfg,qemu -f opt/x e1
expect_err "-f with an unknown kind" 4 "expected string=STRING or file=PATH" $BHYVE -f opt/x,data=1 e1
$BHYVELOAD -m 64M -k "$G/fwcfg.elf" w1 >/dev/null 2>&1
expect_err "-f without -l fwcfg,qemu" 4 "bhyve: -f needs QEMU's fw_cfg" \
	$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -f opt/x,string=1 w1
expect_err "-f twice with one name" 4 "bhyve: -f opt/x: this name is given twice" \
	$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l fwcfg,qemu -f opt/x,string=1 -f opt/x,string=2 w1
# A -f file reaches the guest (tests/guest/fwcfg.S prints what key 0x21 holds).
echo data >"$T/f"
expect "-f file: the guest reads it" 1 timeout 20 $BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio \
	-l fwcfg,qemu -f "opt/t,file=$T/f" w1
grep -qx 'PASS data' "$T/out" && ok "-f file: contents through DMA" || notok "-f file: contents through DMA" "$(head -c 300 "$T/out")"
$BHYVECTL --vm=w1 --destroy >/dev/null 2>&1

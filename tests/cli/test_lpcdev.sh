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
# (Loaded again: a bhyve that fails at device set-up leaves the instance
# marked running, which bhyve then refuses; see bhyverun.c's error path.)
$BHYVELOAD -m 64M -k "$G/testdev.elf" t1 >/dev/null 2>&1
expect "isa-debug-exit 0x10: exit 33" 33 timeout 20 $BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio -l pc-testdev -D t1
[ ! -e "$VMM_DIR/t1" ] && ok "-D after isa-debug-exit destroys the instance" ||
	notok "-D after isa-debug-exit destroys the instance"
$BHYVECTL --vm=t1 --destroy >/dev/null 2>&1

# Bad input gets a one-line error, and nothing is lost (issue #3).
. "$(dirname "$0")/lib.sh"

expect_err "unknown VM (bhyvectl)" 1 "does not exist" $BHYVECTL --vm=nosuch --get-rip
expect_err "unknown VM (bhyve)" 4 "does not exist" $BHYVE -s 0,hostbridge nosuch
expect_err "name with slash" 1 "invalid VM name" $BHYVECTL --vm=a/b --create
expect_err "name too long" 1 "longer than 31" $BHYVECTL --vm=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --create
expect_err "name dotdot" 1 "invalid VM name" $BHYVECTL --vm=.. --create
expect "create" 0 $BHYVECTL --vm=e1 --create
expect_err "create existing" 1 "already exists" $BHYVECTL --vm=e1 --create
expect_err "bad memsize" 1 "invalid memory size" $BHYVELOAD -m 12Q -k /bin/true e2
expect_err "memsize too big" 1 "(not enough space|larger than)" $BHYVELOAD -m 100T -k /bin/true e3
expect_err "missing kernel" 1 "cannot open kernel '/nonexistent'" $BHYVELOAD -m 64M -k /nonexistent e4
expect_err "non-ELF kernel without address" 1 "not an ELF file" $BHYVELOAD -m 64M -k "$0" e5
expect_err "no kernel" 1 "no kernel given" $BHYVELOAD -m 64M e6
expect_err "unknown -s emulation" 4 "unknown emulation" $BHYVE -s 3,nosuchdev e1
expect_err "bad -c" 4 "cpus must be" $BHYVE -c 99 e1
expect_err "bhyve without memory" 4 "no memory" $BHYVE -s 0,hostbridge e1
expect_err "bad register value" 1 "not a number" $BHYVECTL --vm=e1 --set-rip=zz
expect_err "bad vcpu" 1 "vCPU" $BHYVECTL --vm=e1 --cpu=99 --get-rip

# A corrupt state file is refused by its checksum, and never overwritten.
printf 'x' | dd of="$VMM_DIR/e1/state" bs=1 seek=200 conv=notrunc 2>/dev/null
cp "$VMM_DIR/e1/state" "$T/corrupt"
expect_err "corrupt state rejected" 1 "checksum" $BHYVECTL --vm=e1 --get-rip
expect_err "corrupt state: bhyve refuses" 4 "checksum" $BHYVE -m 64M e1
cmp -s "$VMM_DIR/e1/state" "$T/corrupt" && ok "corrupt state left as it was" || notok "corrupt state left as it was"
head -c 100 "$T/corrupt" >"$VMM_DIR/e1/state"
expect_err "truncated state rejected" 1 "(truncated|checksum)" $BHYVECTL --vm=e1 --get-rip
expect "destroy a corrupt instance" 0 $BHYVECTL --vm=e1 --destroy
[ ! -e "$VMM_DIR/e1" ] && ok "corrupt instance removed" || notok "corrupt instance removed"

# -s help / -l help list what exists
$BHYVE -s help >"$T/s" 2>&1; grep -qx hostbridge "$T/s" && grep -qx lpc "$T/s" && ok "-s help" || notok "-s help" "$(cat "$T/s")"
$BHYVE -l help >"$T/l" 2>&1; grep -qx com1 "$T/l" && ok "-l help" || notok "-l help" "$(cat "$T/l")"
expect "bhyve -h" 0 $BHYVE -h
expect "bhyvectl --help" 0 $BHYVECTL --help

# Firmware tables in guest memory: the RSDP at 0xf2400 and the MP floating
# pointer at 0xf0000 after bhyve starts a freshly loaded guest; -Y and
# acpi_tables=false leave them out; a continued guest keeps what it has.
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}

# at VM OFFSET COUNT: the bytes of guest memory, as hex
at() { od -A n -t x1 -v -j $(($2)) -N $3 "$VMM_DIR/$1/mem" | tr -d ' \n'; }
run() { timeout 20 $BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio "$@" >"$T/con" 2>"$T/err" </dev/null; }
rsdp() { at "$1" 0xf2400 8; }
mp() { at "$1" 0xf0000 4; }

$BHYVELOAD -m 64M -k "$G/hello.elf" f1 >/dev/null 2>&1
run f1
[ "$(rsdp f1)" = 5253442050545220 ] && ok "RSDP at 0xf2400 (default -A)" ||
	notok "RSDP at 0xf2400 (default -A)" "found $(rsdp f1); $(cat "$T/err")"
[ "$(mp f1)" = 5f4d505f ] && ok "MP floating pointer at 0xf0000" ||
	notok "MP floating pointer at 0xf0000" "found $(mp f1)"

# A continued guest: bhyve leaves the tables (and the FACS) as they are.
printf '\0\0\0\0\0\0\0\0' | dd of="$VMM_DIR/f1/mem" bs=1 seek=$((0xf2400)) conv=notrunc 2>/dev/null
run f1
[ "$(rsdp f1)" = 0000000000000000 ] && ok "continued guest: tables not rewritten" ||
	notok "continued guest: tables not rewritten" "found $(rsdp f1)"
# Loaded again: written again.
$BHYVELOAD -m 64M -k "$G/hello.elf" f1 >/dev/null 2>&1
run f1
[ "$(rsdp f1)" = 5253442050545220 ] && ok "reloaded guest: tables written again" ||
	notok "reloaded guest: tables written again" "found $(rsdp f1)"
$BHYVECTL --vm=f1 --destroy >/dev/null 2>&1

# -Y: no MP table; -o acpi_tables=false: no ACPI tables.
$BHYVELOAD -m 64M -k "$G/hello.elf" f2 >/dev/null 2>&1
run -Y f2
[ "$(mp f2)" = 00000000 ] && [ "$(rsdp f2)" = 5253442050545220 ] && ok "-Y: ACPI without MP table" ||
	notok "-Y: ACPI without MP table" "mp $(mp f2) rsdp $(rsdp f2)"
$BHYVECTL --vm=f2 --destroy >/dev/null 2>&1
$BHYVELOAD -m 64M -k "$G/hello.elf" f3 >/dev/null 2>&1
run -o acpi_tables=false f3
[ "$(rsdp f3)" = 0000000000000000 ] && [ "$(mp f3)" = 5f4d505f ] && ok "acpi_tables=false: MP table only" ||
	notok "acpi_tables=false: MP table only" "mp $(mp f3) rsdp $(rsdp f3)"
$BHYVECTL --vm=f3 --destroy >/dev/null 2>&1

# -c 4: the MADT has four local APICs (44 + 4 * 8 + 38 bytes).
$BHYVELOAD -m 64M -k "$G/hello.elf" f4 >/dev/null 2>&1
run -c 4 f4
dd if="$VMM_DIR/f4/mem" of="$T/bios" bs=4096 skip=$((0xf0000 / 4096)) count=16 2>/dev/null
off=$(grep -obUa APIC "$T/bios" | head -n 1 | cut -d: -f1)
len=$([ -n "$off" ] && od -A n -t u4 -j $((off + 4)) -N 4 "$T/bios" | tr -d ' ')
[ "$len" = 114 ] && ok "-c 4: MADT with four local APICs" || notok "-c 4: MADT with four local APICs" "MADT at ${off:-?}, length ${len:-?}"
$BHYVECTL --vm=f4 --destroy >/dev/null 2>&1

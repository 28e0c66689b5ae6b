#!/bin/sh
# demo.sh BUILD - the bhyve article's guest on the software CPU: create,
# load, run (stars on the console for a few seconds), inspect, destroy.
B=${1:-build}
export VMM_DIR=${VMM_DIR:-$(mktemp -d /tmp/lhyve-demo.XXXXXX)/vmm}
set -x
$B/bhyvectl --vm=demo --destroy 2>/dev/null
$B/simple-loader demo || exit 1
ls "$VMM_DIR"
timeout -s TERM 1 $B/bhyve -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio demo
echo
$B/bhyvectl --vm=demo --get-rip
$B/bhyvectl --vm=demo --get-stats | grep -E 'inout|instructions'
$B/bhyvectl --vm=demo --destroy

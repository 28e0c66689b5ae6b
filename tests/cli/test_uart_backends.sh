# test_uart_backends.sh - COM port backends: a TCP socket (one client at a
# time, reconnects), a new pseudo-terminal, and a console nobody reads,
# which must not stop the guest; bad backend options.
. "$(dirname "$0")/lib.sh"

# The article's guest prints '*' forever on COM1.
star_vm() { $LOADER "$1" >/dev/null 2>&1; }
port=$((20000 + $$ % 20000))

star_vm u1
$BHYVE -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,tcp=127.0.0.1:$port u1 \
	>"$T/u1.out" 2>&1 </dev/null &
pid=$!
got=
for i in $(seq 1 100); do
	if { exec 3<>/dev/tcp/127.0.0.1/$port; } 2>/dev/null; then
		got=$(timeout 5 head -c 20 <&3)
		exec 3<&-
		break
	fi
	sleep 0.05
done
[ "$got" = "********************" ] && ok "tcp=: a client reads the console" ||
	notok "tcp=: client reads" "got '$got'; $(cat "$T/u1.out")"
# The first client left: a second one is served.
got=
if { exec 3<>/dev/tcp/127.0.0.1/$port; } 2>/dev/null; then
	got=$(timeout 5 head -c 10 <&3)
	exec 3<&-
fi
[ "$got" = "**********" ] && ok "tcp=: the next client is served after the first leaves" ||
	notok "tcp=: reconnect" "got '$got'"
kill -TERM $pid; wait $pid
$BHYVECTL --vm=u1 --destroy >/dev/null 2>&1

# A pseudo-terminal: bhyve names it; reading it gives the console.
star_vm u2
$BHYVE -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,/dev/ptmx u2 \
	>"$T/u2.out" 2>&1 </dev/null &
pid=$!
if wait_for "$T/u2.out" 'com1: /dev/pts/[0-9]+' 5; then
	pts=$(grep -oE '/dev/pts/[0-9]+' "$T/u2.out" | head -n 1)
	got=$(timeout 5 head -c 16 "$pts")
	[ "$got" = "****************" ] && ok "/dev/ptmx: bhyve prints the pty; it carries the console" ||
		notok "pty console" "got '$got' from $pts"
else
	notok "pty: name printed" "$(cat "$T/u2.out")"
fi
kill -TERM $pid; wait $pid
$BHYVECTL --vm=u2 --destroy >/dev/null 2>&1

# Nobody reads stdout (a pipe into a sleeping reader): the guest keeps running.
star_vm u3
mkfifo "$T/fifo"
sleep 30 <"$T/fifo" &
sleeper=$!
$BHYVE -c 1 -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio u3 >"$T/fifo" 2>"$T/u3.err" </dev/null &
pid=$!
sleep 2
a=$($BHYVECTL --vm=u3 --get-stats | awk '/instructions retired/ { print $3 }')
sleep 1
b=$($BHYVECTL --vm=u3 --get-stats | awk '/instructions retired/ { print $3 }')
[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] &&
	ok "a console nobody reads does not stop the guest" ||
	notok "unread console" "retired $a then $b; $(cat "$T/u3.err")"
expect "--suspend works with an unread console" 0 $BHYVECTL --vm=u3 --suspend
wait $pid
kill $sleeper 2>/dev/null; wait $sleeper 2>/dev/null
$BHYVECTL --vm=u3 --destroy >/dev/null 2>&1

star_vm u4
expect_err "tcp= without a port" 4 "expected tcp=ADDRESS:PORT" \
	$BHYVE -m 128M -s 0,hostbridge -s 31,lpc -l com1,tcp=nonsense u4
expect_err "tcp= with a bad port" 4 "is not a port number" \
	$BHYVE -m 128M -s 0,hostbridge -s 31,lpc -l com1,tcp=127.0.0.1:99999 u4
expect_err "tcp= with a bad address" 4 "is not an IP address" \
	$BHYVE -m 128M -s 0,hostbridge -s 31,lpc -l com1,tcp=localhost:4444 u4
expect_err "two consoles on stdio" 4 "stdio is already used" \
	$BHYVE -m 128M -s 0,hostbridge -s 31,lpc -l com1,stdio -l com2,stdio u4
$BHYVECTL --vm=u4 --destroy >/dev/null 2>&1

# The PCI uart (-s N,uart,backend) takes the same backends: on stdio it
# carries what the guest writes to its BAR 0 (tests/guest/pciuart.S).
$BHYVELOAD -m 64M -k "${GUESTS:-build/guests}/pciuart.elf" u5 >/dev/null 2>&1
timeout 60 $BHYVE -m 64M -s 0,hostbridge -s 5,uart,stdio -s 31,lpc u5 \
	>"$T/u5.out" 2>"$T/u5.err" </dev/null
rc=$?
[ $rc = 1 ] && grep -qx "pciuart: hello through BAR 0" "$T/u5.out" &&
	ok "-s 5,uart,stdio: the guest's PCI uart is the console" ||
	notok "-s 5,uart,stdio" "exit $rc; $(head -c 300 "$T/u5.out"); $(head -c 300 "$T/u5.err")"
expect_err "-s N,uart with a bad backend" 4 "uart@pci.0.5.0: tcp=nonsense: expected tcp=ADDRESS:PORT" \
	$BHYVE -m 64M -s 0,hostbridge -s 5,uart,tcp=nonsense -s 31,lpc u5
expect_err "-s N,uart and com1 on stdio both" 4 "stdio is already used" \
	$BHYVE -m 64M -s 0,hostbridge -s 5,uart,stdio -s 31,lpc -l com1,stdio u5
$BHYVECTL --vm=u5 --destroy >/dev/null 2>&1

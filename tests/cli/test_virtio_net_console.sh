# virtio-net and virtio-console on bhyve's command line: bad options get one
# line and exit 4 before the guest runs; good ones let a guest run and stop
# cleanly (the slirp and console threads end, the sockets go).
. "$(dirname "$0")/lib.sh"
G=${GUESTS:-build/guests}
RUN="$BHYVE -m 64M -s 0,hostbridge -s 31,lpc -l com1,stdio"

# A device that fails leaves the instance marked as left running (bhyve
# attached it first), so each case starts from a freshly loaded guest.
fresh() { $BHYVELOAD -m 64M -k "$G/hello.elf" n1 >/dev/null 2>&1; }
# bad NAME PATTERN ARGS... : one line matching PATTERN, exit 4
bad() { local name=$1 pat=$2; shift 2; fresh; expect_err "$name" 4 "$pat" $RUN "$@" n1; }

bad "unknown network backend" "unknown network backend 'nosuch'" \
	-s 3,virtio-net,nosuch
bad "unknown virtio-net option" "unknown option 'speed'" \
	-s 3,virtio-net,slirp,speed=10
bad "malformed hostfwd" "hostfwd 'tcp:2222-:22'" \
	-s 3,virtio-net,slirp,hostfwd=tcp:2222-:22
bad "hostfwd protocol" "unknown protocol 'sctp'" \
	-s 3,virtio-net,slirp,hostfwd=sctp::2222-:22
bad "hostfwd port range" "bad host port '70000'" \
	-s 3,virtio-net,slirp,hostfwd=tcp::70000-:22
bad "hostfwd without slirp" "hostfwd is an option of the slirp backend" \
	-s 3,virtio-net,tap0,hostfwd=tcp::2222-:22
bad "bad mac" "mac 'zz:00:00:00:00:01'" \
	-s 3,virtio-net,slirp,mac=zz:00:00:00:00:01
bad "bad mtu" "mtu '9'" -s 3,virtio-net,slirp,mtu=9

# A port in use (held by a listener here) is refused before the guest runs.
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/port" &
	holder=$!
	for i in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	port=$(cat "$T/port")
	bad "hostfwd port in use" "127.0.0.1:$port-:22'.*Address already in use" \
		-s 3,virtio-net,slirp,hostfwd=tcp:127.0.0.1:$port-:22
	kill $holder 2>/dev/null; wait $holder 2>/dev/null
else
	echo "skip - hostfwd port in use: no python3 to hold a port"
fi

# A tap that cannot be had: one line naming it.  (As root, /dev/net/tun may
# work: then the tap is made and the guest runs.)
fresh
$RUN -s 3,virtio-net,tap=lhyvetst0 n1 >"$T/out" 2>&1 </dev/null
rc=$?
if [ $rc = 4 ] && [ "$(wc -l <"$T/out")" = 1 ] && grep -q "tap 'lhyvetst0'" "$T/out"; then
	ok "tap without permission: one line"
elif [ $rc = 1 ] && grep -q "PASS hello" "$T/out"; then
	ok "tap: attached (this user may make taps)"
	# A device that fails leaves the instance marked as left running (bhyve
# attached it first), so each case starts from a freshly loaded guest.
fresh() { $BHYVELOAD -m 64M -k "$G/hello.elf" n1 >/dev/null 2>&1; }
# bad NAME PATTERN ARGS... : one line matching PATTERN, exit 4
bad() { local name=$1 pat=$2; shift 2; fresh; expect_err "$name" 4 "$pat" $RUN "$@" n1; }
else
	notok "tap error" "exit $rc: $(head -c 400 "$T/out")"
fi

bad "console without ports" "no port" -s 4,virtio-console
bad "console bad port spec" "'port1' is not NAME=/path/to/socket" \
	-s 4,virtio-console,port1
bad "console socket directory missing" "cannot listen on '/nonexistent/x.sock'" \
	-s 4,virtio-console,port1=/nonexistent/x.sock
bad "console names no port" "console=other names no port" \
	-s 4,virtio-console,port1=$T/c.sock,console=other

# Good options: the guest runs and powers off; the threads end, the socket goes.
# The same instance, loaded again: bhyveload's reinit dropped the tap run's
# device state (a reset machine), so a virtio-net over slirp, which offers
# other features than over a tap, starts afresh rather than refusing it.
fresh
fport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 47123)
expect "virtio-net slirp with forwards, virtio-console" 1 \
	$RUN -s 3,virtio-net,slirp,hostfwd=tcp:127.0.0.1:$fport-:22 -s 4,virtio-console,port1=$T/c.sock n1
grep -q "PASS hello" "$T/out" && ok "guest ran with the devices" || notok "guest ran with the devices" "$(head -c 400 "$T/out")"
[ ! -e "$T/c.sock" ] && ok "console socket removed at exit" || notok "console socket removed at exit"
$BHYVE -s help >"$T/s" 2>&1
grep -qx virtio-net "$T/s" && grep -qx virtio-console "$T/s" && ok "-s help lists them" ||
	notok "-s help lists them" "$(cat "$T/s")"
$BHYVECTL --vm=n1 --destroy >/dev/null 2>&1

# test_virtio_linux.sh - the virtio devices under Debian's stock kernel on
# the software CPU, driven by tests/boot/guest-virtio.sh in the initramfs,
# checked from the host:
#   boot 1: virtio-blk (an ext4 image made here: the guest writes a file,
#     syncs, unmounts; debugfs reads it back, e2fsck finds it clean), a
#     read-only disk (raw and file writes refused, image unchanged), slirp
#     (DHCP gives 10.0.2.15, a file from an HTTP server on the host's
#     127.0.0.1 through 10.0.2.2 and 2 MB back to it, a guest server
#     reached through hostfwd; the offloads slirp allows negotiated),
#     virtio-rnd (/dev/hwrng), virtio-console (a port carries a line each
#     way through its unix socket);
#   boot 2: a file written and synced, then kill -9 of bhyve: the data is in
#     the image (after e2fsck replays the journal); first, in a network
#     namespace made here, a tap: the guest pings, fetches from the host's
#     side and sends 2 MB to it, with checksum and TSO offloads both ways
#     negotiated (skipped, saying why, when no namespace or tap can be had).
# Release build only (tests/run.sh).
. "$(dirname "$0")/lib.sh"

boot_prepare "virtio under linux" tests/boot/guest-virtio.sh mke2fs debugfs e2fsck python3 curl
MEM=512M
CMD="console=ttyS0 panic=-1 quiet"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}

# vt FILE KEY: the rest of the guest's "VT KEY ..." line
vt() { tr -d '\r' <"$1" | sed -n "s/^VT $2 *//p" | head -n 1; }

# The host's HTTP server, reached by the guest through slirp's 10.0.2.2:
# files from $T/www, and a POST answered with the sha256 of its body.
mkdir -p "$T/www"
head -c 1048576 /dev/urandom > "$T/www/blob"
blobsum=$(sha <"$T/www/blob")
upsum=$(seq 1 300000 | sha)
cat > "$T/srv.py" <<-'EOF'
	import functools, hashlib, http.server, sys
	class Handler(http.server.SimpleHTTPRequestHandler):
	    def do_POST(self):
	        n = int(self.headers.get("Content-Length", 0))
	        h = hashlib.sha256()
	        while n > 0:
	            b = self.rfile.read(min(n, 65536))
	            if not b:
	                break
	            h.update(b)
	            n -= len(b)
	        body = h.hexdigest().encode()
	        self.send_response(200)
	        self.send_header("Content-Length", str(len(body)))
	        self.end_headers()
	        self.wfile.write(body)
	http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])),
	    functools.partial(Handler, directory=sys.argv[3])).serve_forever()
	EOF
# feature BITS N: bit N of a virtio features string (sysfs: bit 0 first)
feature() { [ "$(echo "$1" | cut -c$(($2 + 1)))" = 1 ]; }
hport=$(freeport)
python3 "$T/srv.py" 127.0.0.1 "$hport" "$T/www" >"$T/http.log" 2>&1 &
httpd=$!
for i in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$hport/blob" && break; sleep 0.1; done

# The disks: ext4 made here (the guest's busybox has no mkfs.ext4); the
# read-only one holds a file the guest reads.
mkdir -p "$T/rofs"
echo "read-only disk $RANDOM" > "$T/rofs/hello.txt"
hellosum=$(sha <"$T/rofs/hello.txt")
mke2fs -q -F -t ext4 "$T/rw.img" 64M >/dev/null
mke2fs -q -F -t ext4 -d "$T/rofs" "$T/ro.img" 16M >/dev/null
rosum=$(sha <"$T/ro.img")
seqsum=$(seq 1 200000 | sha)
killsum=$(seq 200001 300000 | sha)
fwdsum=$(seq 1 50000 | sed 's/^/fwd /' | sha)

# ---- boot 1 ----
fport=$(freeport)
sock=$T/con.sock
$BHYVELOAD -m $MEM -k "$KERNEL" -i "$T/initrd" -a "$CMD lhyve.vt=main lhyve.port=$hport" vt1 \
    >"$T/vt1.load" 2>&1 || { notok "boot 1 loads" "$(cat "$T/vt1.load")"; exit 0; }
timeout $BOOT_TIMEOUT $BHYVE -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio \
	-s 2,virtio-blk,"$T/rw.img",ser=lhyve-rw \
	-s 3,virtio-blk,"$T/ro.img",ro,ser=lhyve-ro \
	-s 4,virtio-net,slirp,hostfwd=tcp:127.0.0.1:$fport-:8080 \
	-s 5,virtio-rnd \
	-s 6,virtio-console,lhyve.0="$sock" \
	vt1 >"$T/vt1.con" 2>"$T/vt1.err" </dev/null &
pid=$!
# The console's client connects at once and speaks once the forward is
# fetched (the guest reads end-of-file until a client is there).
word="host-says-$RANDOM"
python3 - "$sock" "$word" "$T/con.go" >"$T/con.got" 2>"$T/con.err" <<-'EOF' &
	import os, socket, sys, time
	s = socket.socket(socket.AF_UNIX)
	for i in range(600):
	    try:
	        s.connect(sys.argv[1])
	        break
	    except OSError:
	        time.sleep(0.1)
	while not os.path.exists(sys.argv[3]):
	    time.sleep(0.1)
	s.settimeout(60)
	s.sendall((sys.argv[2] + "\n").encode())
	buf = b""
	while not buf.endswith(b"\n"):
	    b = s.recv(4096)
	    if not b:
	        break
	    buf += b
	sys.stdout.write(buf.decode(errors="replace"))
	EOF
cpid=$!
if wait_for "$T/vt1.con" '^VT FWD-READY' $BOOT_TIMEOUT; then
	curl -sf -m 60 -o "$T/fwd.got" "http://127.0.0.1:$fport/fwd.txt" 2>"$T/fwd.err"
	got=$(sha <"$T/fwd.got" 2>/dev/null)
	[ "$got" = "$fwdsum" ] && [ "$(vt "$T/vt1.con" FWD-READY)" = "$fwdsum" ] &&
		ok "slirp hostfwd: the host fetches the guest's httpd file through 127.0.0.1:$fport" ||
		notok "slirp hostfwd" "got $got, want $fwdsum; $(cat "$T/fwd.err")"
else
	notok "boot 1: the guest reached its forward" "$(tr -d '\r' <"$T/vt1.con" | tail -c 1500)"
fi
touch "$T/con.go"
wait $cpid
[ "$(tr -d '\r' <"$T/con.got")" = "guest got: $word" ] && [ "$(vt "$T/vt1.con" CONSOLE-GOT)" = "$word" ] &&
	ok "virtio-console: a line each way through the port's unix socket" ||
	notok "virtio-console" "host got '$(cat "$T/con.got")' $(tail -n 1 "$T/con.err"); guest: $(tr -d '\r' <"$T/vt1.con" | grep '^VT CONSOLE')"
wait $pid
rc=$?
con=$T/vt1.con
[ $rc = 1 ] && grep -q '^VT DONE' "$con" &&
	ok "boot 1: the guest ran its checks and powered off (exit 1)" ||
	notok "boot 1: power off" "exit $rc; $(tr -d '\r' <"$con" | tail -c 1000); $(tail -c 300 "$T/vt1.err")"

r=$(vt "$con" RNG)
[ "${r%% *}" = virtio_rng.0 ] && [ "${r#* }" = 64 ] &&
	ok "virtio-rnd: /dev/hwrng is virtio_rng.0 and gives 64 bytes" ||
	notok "virtio-rnd" "RNG '$r'"

[ "$(vt "$con" BLK-WROTE)" = "$seqsum" ] && grep -q '^VT BLK-UMOUNT ok' "$con" &&
	ok "virtio-blk: the guest mounts the ext4 image, writes, syncs, unmounts" ||
	notok "virtio-blk write" "$(tr -d '\r' <"$con" | grep '^VT BLK')"
got=$(debugfs -R 'cat /seq.txt' "$T/rw.img" 2>/dev/null | sha)
[ "$got" = "$seqsum" ] && ok "virtio-blk: debugfs reads the guest's file from the image" ||
	notok "virtio-blk: the file in the image" "sha $got, want $seqsum"
e2fsck -fn "$T/rw.img" >"$T/fsck1" 2>&1 && ok "virtio-blk: e2fsck -n finds the image clean" ||
	notok "virtio-blk: e2fsck -n" "$(tail -n 5 "$T/fsck1")"

[ "$(vt "$con" RO-GETRO)" = 1 ] && [ "$(vt "$con" RO-MOUNT)" = ro ] &&
	vt "$con" RO-RAW | grep -q '^refused' && vt "$con" RO-FS | grep -q '^refused' &&
	[ "$(vt "$con" RO-READ)" = "$hellosum" ] && [ "$(sha <"$T/ro.img")" = "$rosum" ] &&
	ok "virtio-blk ro: read-only in the guest, raw and file writes refused, reads work, image unchanged" ||
	notok "virtio-blk ro" "$(tr -d '\r' <"$con" | grep '^VT RO'); image sha $(sha <"$T/ro.img") was $rosum"

[ "$(vt "$con" DHCP)" = 10.0.2.15/24 ] && ok "slirp: udhcpc gets 10.0.2.15/24" ||
	notok "slirp DHCP" "$(tr -d '\r' <"$con" | grep '^VT DHCP')"
[ "$(vt "$con" WGET)" = "$blobsum" ] &&
	ok "slirp: 1 MiB from the host's 127.0.0.1 HTTP server through 10.0.2.2, checksum matches" ||
	notok "slirp fetch" "$(vt "$con" WGET)"
# virtio 1.2 5.1.3: CSUM 0, GUEST_CSUM 1, GUEST_TSO4 7, HOST_TSO4 11, HOST_TSO6 12.
f=$(vt "$con" NET-FEATURES)
feature "$f" 0 && feature "$f" 1 && feature "$f" 11 && feature "$f" 12 && ! feature "$f" 7 &&
	ok "slirp: the driver took CSUM, GUEST_CSUM, HOST_TSO4/6 (and no GUEST_TSO)" ||
	notok "slirp offloads" "features '$f'"
[ "$(vt "$con" POST)" = "$upsum" ] &&
	ok "slirp: 2 MB from the guest to the host (checksums and TSO done by the device), sha256 matches" ||
	notok "slirp send" "$(vt "$con" POST), want $upsum"
$BHYVECTL --vm=vt1 --destroy >/dev/null 2>&1

# ---- boot 2: a tap in a namespace of our own, then kill -9 after sync ----
tap=0
nsip="ip link set lo up && ip tuntap add dev vt0 mode tap && ip addr add 10.9.0.1/24 dev vt0 && ip link set vt0 up"
if unshare -n sh -c "$nsip" >"$T/ns.err" 2>&1; then
	tap=1
else
	echo "skip - tap: cannot make a network namespace with a tap ($(tail -n 1 "$T/ns.err"))"
fi
$BHYVELOAD -m $MEM -k "$KERNEL" -i "$T/initrd" -a "$CMD lhyve.vt=kill lhyve.tap=$tap lhyve.port=$hport" vt2 \
    >"$T/vt2.load" 2>&1 || { notok "boot 2 loads" "$(cat "$T/vt2.load")"; exit 0; }
if [ $tap = 1 ]; then
	# unshare execs sh, which execs bhyve: $! is bhyve.  The namespace's
	# HTTP server is its child until bhyve dies, then its pid file says.
	unshare -n sh -c "$nsip && { python3 '$T/srv.py' 10.9.0.1 $hport '$T/www' \
		>'$T/nshttp.log' 2>&1 & echo \$! >'$T/nshttp.pid'; } && \
		exec $BHYVE -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio \
		-s 2,virtio-blk,'$T/rw.img',ser=lhyve-rw -s 4,virtio-net,tap=vt0 vt2" \
		>"$T/vt2.con" 2>"$T/vt2.err" </dev/null &
else
	$BHYVE -m $MEM -s 0,hostbridge -s 31,lpc -l com1,stdio \
		-s 2,virtio-blk,"$T/rw.img",ser=lhyve-rw vt2 >"$T/vt2.con" 2>"$T/vt2.err" </dev/null &
fi
pid=$!
if wait_for "$T/vt2.con" '^VT SYNCED' $BOOT_TIMEOUT; then
	kill -9 $pid
	wait $pid 2>/dev/null
	ok "boot 2: bhyve killed (-9) as the guest's sync returned"
else
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	notok "boot 2: the guest synced" "$(tr -d '\r' <"$T/vt2.con" | tail -c 1500); $(tail -c 300 "$T/vt2.err")"
fi
[ -f "$T/nshttp.pid" ] && kill "$(cat "$T/nshttp.pid")" 2>/dev/null
$BHYVECTL --vm=vt2 --destroy >/dev/null 2>&1
con=$T/vt2.con
if [ $tap = 1 ]; then
	[ "$(vt "$con" TAP-PING)" = ok ] && ok "tap: the guest pings the namespace's side (10.9.0.1)" ||
		notok "tap ping" "$(vt "$con" TAP-PING)"
	[ "$(vt "$con" TAP-WGET)" = "$blobsum" ] &&
		ok "tap: 1 MiB from an HTTP server in the namespace, checksum matches" ||
		notok "tap fetch" "$(vt "$con" TAP-WGET)"
	f=$(vt "$con" TAP-FEATURES)
	feature "$f" 0 && feature "$f" 1 && feature "$f" 7 && feature "$f" 8 &&
		feature "$f" 11 && feature "$f" 12 &&
		ok "tap: the driver took CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6" ||
		notok "tap offloads" "features '$f'"
	[ "$(vt "$con" TAP-POST)" = "$upsum" ] &&
		ok "tap: 2 MB from the guest to the namespace, sha256 matches" ||
		notok "tap send" "$(vt "$con" TAP-POST), want $upsum"
fi
# The kill left the journal to replay: e2fsck does, then the file is there.
e2fsck -fy "$T/rw.img" >"$T/fsck2" 2>&1
e2fsck -fn "$T/rw.img" >"$T/fsck3" 2>&1 || notok "kill -9: e2fsck -n after recovery" "$(tail -n 5 "$T/fsck3")"
got=$(debugfs -R 'cat /kill.txt' "$T/rw.img" 2>/dev/null | sha)
[ "$got" = "$killsum" ] && [ "$(vt "$con" SYNCED)" = "$killsum" ] &&
	ok "virtio-blk: a file synced before kill -9 is in the image" ||
	notok "virtio-blk kill -9" "sha $got, want $killsum; guest $(vt "$con" SYNCED); $(tail -n 3 "$T/fsck2")"
got=$(debugfs -R 'cat /seq.txt' "$T/rw.img" 2>/dev/null | sha)
[ "$got" = "$seqsum" ] && ok "virtio-blk: the first boot's file is still there" ||
	notok "virtio-blk: first file after the kill" "sha $got"
kill $httpd 2>/dev/null
wait $httpd 2>/dev/null
exit 0

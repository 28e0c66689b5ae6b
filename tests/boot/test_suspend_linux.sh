# test_suspend_linux.sh - bhyvectl --suspend in the middle of a Linux
# guest's disk and network traffic, then a new bhyve continues it (issue
# 12): Debian's stock kernel on the software CPU, tests/boot/guest-suspend.sh
# in the initramfs writes and syncs a file on a virtio-blk ext4 disk and
# fetches a file from the host through virtio-net/slirp, round after round.
# The host suspends it after a few rounds (bhyve exits 5), starts bhyve with
# the same devices, and checks that every round after it completes, that
# every file the guest wrote reads back in the guest and from the image
# (debugfs), that e2fsck finds the image clean after the guest unmounts,
# and that the guest powers off (exit 1).  Release build only.
. "$(dirname "$0")/lib.sh"

boot_prepare "suspend under linux" tests/boot/guest-suspend.sh mke2fs debugfs e2fsck python3 curl
MEM=512M
ROUNDS=8
BOOT_TIMEOUT=${BOOT_TIMEOUT:-400}
su() { tr -d '\r' <"$1" | sed -n "s/^SU $2 *//p"; }

mkdir -p "$T/www"
head -c 2097152 /dev/urandom > "$T/www/blob"
blobsum=$(sha <"$T/www/blob")
hport=$(freeport)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$hport" >"$T/http.log" 2>&1 &
httpd=$!
for i in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$hport/blob" && break; sleep 0.1; done
mke2fs -q -F -t ext4 "$T/su.img" 64M >/dev/null

devices=(-s 0,hostbridge -s 31,lpc -l com1,stdio -s 2,virtio-blk,"$T/su.img",ser=lhyve-su
	-s 3,virtio-net,slirp -s 4,virtio-rnd)
$BHYVELOAD -m $MEM -k "$KERNEL" -i "$T/initrd" \
	-a "console=ttyS0 panic=-1 quiet lhyve.port=$hport lhyve.rounds=$ROUNDS lhyve.blobsum=$blobsum" su1 \
	>"$T/load" 2>&1 || { notok "the guest loads" "$(cat "$T/load")"; exit 0; }

timeout $BOOT_TIMEOUT $BHYVE -m $MEM "${devices[@]}" su1 >"$T/c1" 2>"$T/e1" </dev/null &
pid=$!
if ! wait_for "$T/c1" '^SU ROUND 3 ' $BOOT_TIMEOUT; then
	kill -9 $pid 2>/dev/null
	notok "the guest runs its rounds" "$(tr -d '\r' <"$T/c1" | tail -c 1500); $(tail -c 300 "$T/e1")"
	exit 0
fi
# Mid-round: the guest is writing, syncing or fetching.
sleep 1
$BHYVECTL --vm=su1 --suspend >"$T/s" 2>&1 || notok "bhyvectl --suspend" "$(cat "$T/s")"
wait $pid
rc=$?
before=$(su "$T/c1" ROUND | wc -l)
[ $rc = 5 ] && [ "$before" -lt $ROUNDS ] &&
	ok "suspended mid-traffic after $before of $ROUNDS rounds: bhyve exits 5" ||
	notok "suspend mid-traffic" "exit $rc after $before rounds; $(tail -c 300 "$T/e1")"

timeout $BOOT_TIMEOUT $BHYVE -m $MEM "${devices[@]}" su1 >"$T/c2" 2>"$T/e2" </dev/null
rc=$?
after=$(su "$T/c2" ROUND | wc -l)
[ $rc = 1 ] && grep -q '^SU DONE' "$T/c2" && ! grep -q '^SU UP' "$T/c2" &&
	ok "the new bhyve continues the guest (no reboot) to its power-off: exit 1" ||
	notok "continue after suspend" "exit $rc; $(tr -d '\r' <"$T/c2" | tail -c 1500); $(tail -c 300 "$T/e2")"
[ $((before + after)) = $ROUNDS ] && [ "$after" -ge 1 ] &&
	ok "rounds: $before before the suspend, $after after, none lost or repeated" ||
	notok "round count" "$before + $after, want $ROUNDS"

# Every round's file as the guest wrote it, and the network in every round.
want_all=""
bad=""
for i in $(seq 1 $ROUNDS); do
	want=$(seq $((i * 100000)) $((i * 100000 + 20000)) | sha)
	line=$(cat "$T/c1" "$T/c2" | tr -d '\r' | sed -n "s/^SU ROUND $i //p")
	set -- $line
	[ "${1:-}" = "$want" ] || bad="$bad disk$i(${1:-none})"
	case "${2:-}" in ok|retried) ;; *) bad="$bad net$i(${2:-none})" ;; esac
done
[ -z "$bad" ] && ok "every round wrote its file and fetched the host's file (checksums match)" ||
	notok "rounds" "$bad; $(cat "$T/c1" "$T/c2" | tr -d "\r" | grep "^SU ROUND" | head -n 2)"
net_retries=$(cat "$T/c1" "$T/c2" | tr -d '\r' | grep -c '^SU ROUND .* retried')
[ "$net_retries" -le 1 ] && ok "slirp: at most the fetch open across the suspend is made again ($net_retries)" ||
	notok "slirp retries" "$net_retries rounds retried: $(grep ' retried' "$T/c1" "$T/c2")"
all=$(for i in $(seq 1 $ROUNDS); do seq $((i * 100000)) $((i * 100000 + 20000)); done | sha)
[ "$(su "$T/c2" FILES)" = "$all" ] && ok "the guest reads back every file after the continue" ||
	notok "guest read-back" "$(su "$T/c2" FILES) want $all"
e2fsck -fn "$T/su.img" >"$T/fsck" 2>&1 && ok "e2fsck -n finds the image clean" ||
	notok "e2fsck" "$(tail -n 5 "$T/fsck")"
bad=""
for i in $(seq 1 $ROUNDS); do
	got=$(debugfs -R "cat /round$i.txt" "$T/su.img" 2>/dev/null | sha)
	[ "$got" = "$(seq $((i * 100000)) $((i * 100000 + 20000)) | sha)" ] || bad="$bad round$i"
done
[ -z "$bad" ] && ok "debugfs reads every round's file from the image" || notok "image files" "$bad"
$BHYVECTL --vm=su1 --destroy >/dev/null 2>&1
kill $httpd 2>/dev/null
wait $httpd 2>/dev/null
exit 0

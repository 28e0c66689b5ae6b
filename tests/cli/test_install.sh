# make install puts the programs, the library and the manuals under DESTDIR/PREFIX.
. "$(dirname "$0")/lib.sh"
# Installing is about the release build; the sanitizer build is not installed.
case $B in *asan*) exit 0 ;; esac
if make --no-print-directory -s O="$B" install DESTDIR="$T/root" PREFIX=/usr >"$T/log" 2>&1; then
	ok "make install"
else
	notok "make install" "$(tail -5 "$T/log")"
fi
for f in sbin/bhyve sbin/bhyveload sbin/bhyvectl sbin/vmrun.sh lib/libvmmapi.a \
	include/vmmapi.h include/vmm.h share/man/man8/bhyve.8 share/man/man8/bhyveload.8 \
	share/man/man8/bhyvectl.8; do
	[ -e "$T/root/usr/$f" ] && ok "installed $f" || notok "installed $f"
done
"$T/root/usr/sbin/bhyve" -h >/dev/null && ok "installed bhyve runs" || notok "installed bhyve runs"

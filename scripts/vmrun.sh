#!/bin/sh
# vmrun.sh [-m mem] [-c cpus] [-i initrd] [-a append] [-d disk] [-t net]
# -k kernel vmname - load and run a guest, and load it again each time it
# reboots (bhyve exit 0), as FreeBSD's vmrun.sh.  -d adds a virtio-blk disk
# (slot 2, /dev/vda in the guest), -t a virtio-net NIC (slot 3) with the
# backend and options NET: a tap name, or slirp[,hostfwd=tcp::2222-:22].
# A guest stopped and kept (bhyve exit 5: bhyvectl --suspend, Ctrl-A x)
# stays in the store; 'bhyve vmname' continues it.  Otherwise the instance
# is destroyed when bhyve exits.
usage() {
	echo "usage: vmrun.sh [-m mem] [-c cpus] [-i initrd] [-a append] [-d disk] [-t net] -k kernel vmname" >&2
	exit 1
}
mem=256M cpus=1 kernel= initrd= append= disk= net=
while getopts m:c:k:i:a:d:t: opt; do
	case $opt in
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	a) append=$OPTARG ;;
	d) disk=$OPTARG ;;
	t) net=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] && [ -n "$kernel" ] || usage
vm=$1
while :; do
	if [ -n "$append" ]; then
		bhyveload -m "$mem" -k "$kernel" ${initrd:+-i "$initrd"} -a "$append" "$vm" || exit 1
	else
		bhyveload -m "$mem" -k "$kernel" ${initrd:+-i "$initrd"} "$vm" || exit 1
	fi
	bhyve -c "$cpus" -m "$mem" -s 0,hostbridge ${disk:+-s "2,virtio-blk,$disk"} \
		${net:+-s "3,virtio-net,$net"} -s 31,lpc -l com1,stdio "$vm"
	rc=$?
	[ $rc = 0 ] || break
done
[ $rc = 5 ] || bhyvectl --vm="$vm" --destroy
exit $rc

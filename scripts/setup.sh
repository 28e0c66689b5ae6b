#!/bin/sh
# setup.sh - install the Debian packages lhyve needs to build and test
# (scripts/packages.txt, one per line), once.  Run by `make` and `make check`.
set -e
cd "$(dirname "$0")/.."
stamp=build/.setup-done
if [ -f "$stamp" ] && [ "$stamp" -nt scripts/packages.txt ]; then
	exit 0
fi
missing=
for p in $(grep -v '^#' scripts/packages.txt); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq || true
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	elif command -v sudo >/dev/null 2>&1; then
		sudo apt-get update -qq || true
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	else
		echo "setup: missing packages:$missing (install them as root)" >&2
		exit 1
	fi
fi
mkdir -p build
touch "$stamp"

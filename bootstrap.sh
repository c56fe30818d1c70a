#!/bin/sh
# bootstrap.sh demo|check: install what is missing (Debian 12, as root), build, then run
# the demo or the whole test suite. The README's Quick start calls this.
set -eu
cd "$(dirname "$0")"

what=${1:-}
case "$what" in
demo|check|build) ;;
*) echo "usage: $0 demo|check|build" >&2; exit 2 ;;
esac

deps="build-essential autoconf automake libtool pkg-config openssl ca-certificates
      libnice-dev libglib2.0-dev libjson-glib-dev libssl-dev libevent-dev
      libsystemd-dev libsqlite3-dev libyajl-dev libsoup-3.0-dev sqlite3 python3 jq bc util-linux iproute2 procps
      tmux systemd bash-completion debhelper dpkg-dev nftables conntrack coturn tcpdump
      chromium"
missing=
for p in $deps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bootstrap.sh: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "bootstrap.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
	./configure -q
fi
make -j"$(nproc)" -s

case "$what" in
demo)  exec sh tests/demo.sh ;;
check) make -j"$(nproc)" check || { cat tests/*.log tests/*/*.log 2>/dev/null | tail -200; exit 1; }
       make -j"$(nproc)" distcheck ;;
esac

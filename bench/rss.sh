#!/bin/sh
# bench/rss.sh: peak RSS (VmHWM) and CPU seconds of both daemons during one big
# transfer on loopback, tmpfs to tmpfs, over ICE-TCP and over the UDP path (issue 10:
# "p2pd peak RSS during a 4 GiB transfer <= 32 MiB"). Not part of make check.
#
#   sh bench/rss.sh             SIZE_MIB=4096 by default (needs 2 x SIZE_MIB in /dev/shm)
#
# Each pair of daemons first moves a tiny file (the session is up), then the big one;
# VmHWM is read after the big one, CPU is the difference across it.
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
. "$top_srcdir/tests/lib.sh"

SIZE_MIB=${SIZE_MIB:-4096}
SHM=$(mktemp -d /dev/shm/p2pd-rss.XXXXXX) || fail "no /dev/shm"
rm_shm() { rm -rf "$SHM"; }
CLEANUP_EXTRA=rm_shm

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
now() { date +%s.%N; }

head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$SHM/big.bin"
echo warm >"$T/warm"
start_signald
uptime
run() { # SENDER RECEIVER LABEL
	eval "ps=\$PID_$1 pr=\$PID_$2"
	wait_for 10 sees "$1" "$2" || fail "$1 does not see $2"
	ctl "$1" send "$T/warm" "$2" >/dev/null || fail "warm-up send failed"
	cs=$(cpu "$ps"); cr=$(cpu "$pr"); s=$(now)
	ctl "$1" send "$SHM/big.bin" "$2" >/dev/null || fail "$3: send failed"
	e=$(now)
	printf '%-8s %s MiB in %.1f s: peak RSS sender %s MiB, receiver %s MiB; CPU sender %.1f s, receiver %.1f s\n' \
		"$3" "$SIZE_MIB" "$(echo "$e - $s" | bc)" "$(hwm "$ps")" "$(hwm "$pr")" \
		"$(echo "($(cpu "$ps") - $cs) / 100" | bc -l)" "$(echo "($(cpu "$pr") - $cr) / 100" | bc -l)"
	rm -f "$SHM/$2/big.bin"
}
mkdir -p "$SHM/bob" "$SHM/dave"
start_daemon alice --udp-transport pseudotcp --ice-udp false
start_daemon bob --udp-transport pseudotcp --ice-udp false --save-dir "$SHM/bob"
run alice bob ICE-TCP
start_daemon carol --ice-tcp false
start_daemon dave --ice-tcp false --save-dir "$SHM/dave"
run carol dave UDP
uptime

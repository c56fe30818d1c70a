#!/bin/sh
# bench/link.sh: p2pd against kernel TCP on issue 10's emulated links, between two
# network namespaces joined by the project's TUN link emulator (tests/netlab/linkem).
# As root, after ./bootstrap.sh build:
#
#   LINK=b sh bench/link.sh     (b) 50 ms RTT, 1 Gbit/s, 4 MiB bottleneck queue
#   LINK=c sh bench/link.sh     (c) the same with 0.5% random loss each way
#
# SIZE_MIB=256 ROUNDS=3 by default; UDP_ONLY=1 runs only p2pd's UDP path and prints
# the daemons' CPU seconds (tuning). One run, interleaved rounds, medians; tmpfs to
# tmpfs, every copy checked with SHA-256. Columns: iperf3 BBR (default buffers and
# -w 4M), iperf3 CUBIC -w 4M (10 s), p2pd over ICE-TCP (kernel TCP), p2pd over the
# UDP path with the datagram transport, and (PSEUDOTCP_MIB > 0) libnice's pseudo-TCP on
# a smaller file, since it moves about 1 MB/s here. Not part of make check.
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
for tool in ip iperf3 sha256sum bc jq openssl; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing"
done
LINKEM="$top_builddir/tests/netlab/linkem"
[ -x "$LINKEM" ] || skip "$LINKEM is not built (make tests/netlab/linkem)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"

LINK=${LINK:-b}
SIZE_MIB=${SIZE_MIB:-256}
ROUNDS=${ROUNDS:-3}
PSEUDOTCP_MIB=${PSEUDOTCP_MIB:-0}
case "$LINK" in
b) LOSS=0 ;;
c) LOSS=0.5 ;;
*) fail "LINK=$LINK: expected b or c" ;;
esac
NA=p2plink-a.$$
NB=p2plink-b.$$
A=10.78.0.1
B=10.78.0.2
SHM=$(mktemp -d /dev/shm/p2pd-link.XXXXXX) || fail "no /dev/shm"

teardown() {
	[ -f "$T/iperf3.pid" ] && kill "$(cat "$T/iperf3.pid")" 2>/dev/null
	[ -n "$LINKEM_PID" ] && kill "$LINKEM_PID" 2>/dev/null
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$SHM"
}
CLEANUP_EXTRA=teardown

ip netns add "$NA" && ip netns add "$NB" || fail "cannot create namespaces"
for ns in "$NA" "$NB"; do
	ip -n "$ns" link set lo up
done
# 25 ms each way, 1 Gbit/s behind a 4 MiB tail-drop queue, the loss each way
"$LINKEM" --dev-a p2pla --dev-b p2plb --netns-a "/run/netns/$NA" --netns-b "/run/netns/$NB" \
	--ready-file "$T/linkem.ready" --delay 25 --rate 1G --queue 4M --loss "$LOSS" \
	>>"$T/linkem.log" 2>&1 &
LINKEM_PID=$!
PIDS="$PIDS $LINKEM_PID"
wait_for 10 test -s "$T/linkem.ready" || fail "linkem did not start"
ip -n "$NA" addr add "$A" peer "$B" dev p2pla
ip -n "$NB" addr add "$B" peer "$A" dev p2plb
# The TUN devices' own queue (500 packets) sits before linkem reads them; on a loaded
# machine linkem reads late and bursts a real NIC would carry are dropped there. The
# emulated bottleneck is linkem's 4 MiB queue, so give the devices room (every tool
# in the run gets the same).
ip -n "$NA" link set p2pla txqueuelen 20000 up
ip -n "$NB" link set p2plb txqueuelen 20000 up
ina() { ip netns exec "$NA" "$@"; }
inb() { ip netns exec "$NB" "$@"; }
# kernel TCP may use what iperf3 -w asks for
for ns in "$NA" "$NB"; do
	ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_rmem="4096 131072 8388608" \
		net.ipv4.tcp_wmem="4096 16384 8388608" 2>/dev/null || true
done

head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$SHM/data.bin"
sum=$(sha256sum "$SHM/data.bin" | cut -d' ' -f1)
if [ "$PSEUDOTCP_MIB" -gt 0 ]; then
	head -c $((PSEUDOTCP_MIB * 1048576)) "$SHM/data.bin" >"$SHM/small.bin"
	sum_small=$(sha256sum "$SHM/small.bin" | cut -d' ' -f1)
fi
inb iperf3 -s -B "$B" -D -I "$T/iperf3.pid" >/dev/null 2>&1 || fail "iperf3 -s did not start"

mkdir -p "$T/sig"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
	-addext "subjectAltName=IP:$A" -keyout "$T/sig/signald.key" -out "$T/sig/signald.crt" \
	>>"$T/signald.log" 2>&1 || fail "openssl req failed"
"$SIGNALD" --keys "$T/sig/keys.conf" --add-key team >"$T/team.key" 2>>"$T/signald.log"
chmod 600 "$T/team.key"
ip netns exec "$NA" "$SIGNALD" --listen "$A:0" --port-file "$T/sig/port" --certificate "$T/sig/signald.crt" \
	--private-key "$T/sig/signald.key" --keys "$T/sig/keys.conf" >>"$T/signald.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/sig/port" || fail "p2p-signald did not start"
port=$(cat "$T/sig/port")
daemon() { # NS NAME ADDR [FLAGS]
	ns=$1 name=$2 addr=$3
	shift 3
	mkdir -p "$T/$name" "$SHM/$name"
	ip netns exec "$ns" "$P2PD" --agent "$name" --signal-server "$A:$port" \
		--api-key-file "$T/team.key" --signal-ca "$T/sig/signald.crt" \
		--state-dir "$T/$name/state" --save-dir "$SHM/$name" \
		--control-socket "$T/$name/ctl.sock" --ice-address "$addr" "$@" \
		>>"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "pid_$name=$!"
	wait_for 10 test -S "$T/$name/ctl.sock" || fail "p2pd $name did not start"
}
daemon "$NA" alice "$A" --ice-udp false --udp-transport pseudotcp
daemon "$NB" bob "$B" --ice-udp false --udp-transport pseudotcp
daemon "$NA" carol "$A" --ice-tcp false
daemon "$NB" dave "$B" --ice-tcp false
wait_for 20 sees alice bob && wait_for 20 sees carol dave || fail "the daemons do not see each other"
echo x >"$T/warm"
ctl alice send "$T/warm" bob >/dev/null && ctl carol send "$T/warm" dave >/dev/null ||
	fail "warm-up sends failed"
ctl alice --json list | grep -q '"path" *: *"tcp ' || fail "alice-bob is not on ICE-TCP"
ctl carol --json list | grep -q '"path" *: *"udp ' || fail "carol-dave is not on UDP"
if [ "$PSEUDOTCP_MIB" -gt 0 ]; then
	daemon "$NA" erin "$A" --ice-tcp false --udp-transport pseudotcp
	daemon "$NB" frank "$B" --ice-tcp false --udp-transport pseudotcp
	wait_for 20 sees erin frank || fail "erin does not see frank"
	ctl erin send "$T/warm" frank >/dev/null || fail "warm-up send failed"
fi

now() { date +%s.%N; }
mbs() { echo "scale=2; $3 * 1.048576 / ($2 - $1)" | bc; }
check() { # FILE SUM
	[ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || fail "$1: SHA-256 differs"
	rm -f "$1"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
iperf() { # FILE ARGS...
	out=$1
	shift
	ina iperf3 -c "$B" -n "${SIZE_MIB}M" -J "$@" >"$T/ip.json" || fail "iperf3 $* failed"
	echo "scale=2; $(jq '.end.sum_received.bits_per_second' "$T/ip.json") / 8000000" | bc >>"$T/$out"
}

uptime >"$T/load"
for i in $(seq "$ROUNDS"); do
	if [ -z "${UDP_ONLY:-}" ]; then
	iperf iperf3 -C bbr
	iperf iperf3w -C bbr -w 4M
	# CUBIC moves about 0.4 MB/s on (c): 10 s of it says as much as 256 MiB
	ina iperf3 -c "$B" -t 10 -J -C cubic -w 4M >"$T/ip.json" || fail "iperf3 cubic failed"
	echo "scale=2; $(jq '.end.sum_received.bits_per_second' "$T/ip.json") / 8000000" | bc >>"$T/cubicw"

	s=$(now); ctl alice send "$SHM/data.bin" bob >/dev/null || fail "p2pd ICE-TCP failed"
	e=$(now); mbs "$s" "$e" "$SIZE_MIB" >>"$T/p2pd-tcp"; check "$SHM/bob/data.bin" "$sum"
	fi

	s=$(now); ctl carol send "$SHM/data.bin" dave >/dev/null || fail "p2pd UDP failed"
	e=$(now); mbs "$s" "$e" "$SIZE_MIB" >>"$T/p2pd-udp"; check "$SHM/dave/data.bin" "$sum"

	if [ "$PSEUDOTCP_MIB" -gt 0 ]; then
		s=$(now); ctl erin send "$SHM/small.bin" frank >/dev/null || fail "p2pd pseudo-TCP failed"
		e=$(now); mbs "$s" "$e" "$PSEUDOTCP_MIB" >>"$T/p2pd-ptcp"; check "$SHM/frank/small.bin" "$sum_small"
	fi
done
uptime >>"$T/load"
if [ -n "${UDP_ONLY:-}" ]; then
	# a tuning run: the UDP path alone, and the CPU time both daemons spent
	printf 'link (%s) p2pd-udp: %s MB/s\n' "$LINK" "$(tr '\n' ' ' <"$T/p2pd-udp")"
	cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
	echo "CPU seconds since start: carol (sender) $(cpu "$pid_carol")," \
		"dave (receiver) $(cpu "$pid_dave"), linkem $(cpu "$LINKEM_PID")"
	cat "$T/load"
	exit 0
fi

ref=$(median <"$T/iperf3w")
bbr=$(median <"$T/iperf3")
printf 'link (%s): 50 ms RTT, 1 Gbit/s, 4 MiB queue, %s%% loss each way; %s MiB, median of %d (MB/s)\n' \
	"$LINK" "$LOSS" "$SIZE_MIB" "$ROUNDS"
keys="iperf3 iperf3w cubicw p2pd-tcp p2pd-udp"
[ "$PSEUDOTCP_MIB" -gt 0 ] && keys="$keys p2pd-ptcp"
for k in $keys; do
	m=$(median <"$T/$k")
	printf '  %-10s %8s   %5sx iperf3-bbr   %5sx iperf3-w4M   (%s)\n' "$k" "$m" \
		"$(echo "scale=2; $m / $bbr" | bc)" "$(echo "scale=2; $m / $ref" | bc)" \
		"$(tr '\n' ' ' <"$T/$k")"
done
echo "(iperf3: BBR, default buffers; iperf3w: BBR -w 4M; cubicw: CUBIC -w 4M;"
echo " p2pd-tcp: ICE-TCP; p2pd-udp: TCP candidates off, p2pd's datagram transport;"
echo " p2pd-ptcp: TCP candidates off, libnice pseudo-TCP, ${PSEUDOTCP_MIB} MiB)"
echo "load before and after:"; cat "$T/load"

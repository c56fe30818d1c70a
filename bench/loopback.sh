#!/bin/sh
# bench/loopback.sh: quick numbers on loopback (not part of make check; no timing is
# asserted anywhere): a 1 KiB file with and without a session, 512 MiB over ICE-TCP
# three times, 64 MiB over the UDP path, and sha256sum of the same data for scale.
# The full benchmark with network namespaces, scp and iperf3 is issue 10's bench/.
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
. "$top_srcdir/tests/lib.sh"

now() { date +%s.%N; }
rate() { echo "scale=1; $1 * 1.048576 / ($3 - $2)" | bc; } # MiB start end -> MB/s

start_signald
# alice/bob: ICE-TCP on libnice's reliable agent (kernel TCP); carol/dave: the UDP path
# with the datagram transport (the default), as between two NATs
start_daemon alice --udp-transport pseudotcp --ice-udp false
start_daemon bob --udp-transport pseudotcp --ice-udp false
start_daemon carol --ice-tcp false
start_daemon dave --ice-tcp false
wait_for 10 sees alice bob || fail "alice does not see bob"
wait_for 10 sees carol dave || fail "carol does not see dave"
head -c 1024 /dev/urandom >"$T/small"
head -c $((512 * 1024 * 1024)) /dev/urandom >"$T/big"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$T/mid"

s=$(now); ctl alice send "$T/small" bob >/dev/null; e=$(now)
echo "1 KiB, no session yet:      $(echo "$e - $s" | bc) s"
s=$(now); ctl alice send "$T/small" bob >/dev/null; e=$(now)
echo "1 KiB, session up:          $(echo "$e - $s" | bc) s"
for i in 1 2 3; do
	rm -f "$T/bob/inbox/big"*
	s=$(now); ctl alice send "$T/big" bob >/dev/null; e=$(now)
	echo "512 MiB, ICE-TCP:           $(rate 512 "$s" "$e") MB/s"
done
echo "RSS (KiB) and CPU time:     $(ps -o rss=,cputime= -p "$PID_alice" | tr -s ' ') (alice)," \
	"$(ps -o rss=,cputime= -p "$PID_bob" | tr -s ' ') (bob)"
s=$(now); ctl carol send "$T/mid" dave >/dev/null; e=$(now)
echo "64 MiB, UDP (datagram):     $(rate 64 "$s" "$e") MB/s"
s=$(now); sha256sum "$T/big" >/dev/null; e=$(now)
echo "sha256sum of 512 MiB:       $(rate 512 "$s" "$e") MB/s"

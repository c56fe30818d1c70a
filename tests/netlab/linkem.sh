#!/bin/sh
# The link emulator forwards between two namespaces: UDP datagrams and a TCP stream
# cross it both ways with a delay and a rate set; 100% loss drops everything; a burst
# far above the rate overflows the bounded queue and the drops are counted. Nothing
# here measures time.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools python3
lab_init
LINKEM="$top_builddir/tests/netlab/linkem"
[ -x "$LINKEM" ] || fail "$LINKEM is not built"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
lab_ns x
lab_ns y

# start_linkem ARGS...: linkem between x (10.98.0.1) and y (10.98.0.2)
start_linkem() {
	rm -f "$T/linkem.ready"
	"$LINKEM" --dev-a tunx --dev-b tuny --netns-a "/run/netns/$LAB-x" \
		--netns-b "/run/netns/$LAB-y" --ready-file "$T/linkem.ready" "$@" \
		>>"$T/linkem.log" 2>&1 &
	LINKEM_PID=$!
	PIDS="$PIDS $LINKEM_PID"
	wait_for 10 test -s "$T/linkem.ready" || fail "linkem did not start"
	ip -n "$LAB-x" addr add 10.98.0.1 peer 10.98.0.2 dev tunx
	ip -n "$LAB-y" addr add 10.98.0.2 peer 10.98.0.1 dev tuny
	ip -n "$LAB-x" link set tunx up
	ip -n "$LAB-y" link set tuny up
}

stop_linkem() {
	kill "$LINKEM_PID"
	wait "$LINKEM_PID" || fail "linkem exited with an error"
}

# udp_echo COUNT SIZE: y echoes, x sends COUNT datagrams of SIZE bytes at once and
# prints how many came back within a grace period
udp_echo() {
	lab_bg y "$T/echo.log" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.98.0.2", 9000))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
'
	echo_pid=$lb_pid
	wait_for 10 lab_exec y sh -c "ss -Hlun 'sport = :9000' | grep -q ." || fail "no UDP echo"
	lab_exec x python3 -c '
import socket, sys, time
n, size = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
for i in range(n):
    s.sendto(i.to_bytes(4, "big") * (size // 4), ("10.98.0.2", 9000))
s.settimeout(2.0)
got = set()
try:
    while len(got) < n:
        d, _ = s.recvfrom(65535)
        got.add(int.from_bytes(d[:4], "big"))
except socket.timeout:
    pass
print(len(got))
' "$1" "$2"
	kill "$echo_pid" 2>/dev/null || true
	wait "$echo_pid" 2>/dev/null || true
}

start_linkem --delay 20 --rate 100M --queue 1M --loss 0
got=$(udp_echo 50 1000)
[ "$got" = 50 ] || fail "$got of 50 datagrams came back through a lossless link"
# a TCP stream both ways: 2 MB echoed
lab_bg y "$T/tcpecho.log" python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.98.0.2", 9001)); l.listen(1)
c, _ = l.accept()
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
c.close()
'
wait_for 10 lab_exec y sh -c "ss -Hltn 'sport = :9001' | grep -q ." || fail "no TCP echo"
lab_exec x python3 -c '
import socket, hashlib, os, threading
data = os.urandom(2 << 20)
s = socket.create_connection(("10.98.0.2", 9001), timeout=60)
def w():
    s.sendall(data); s.shutdown(socket.SHUT_WR)
threading.Thread(target=w).start()
back = bytearray()
while True:
    d = s.recv(65536)
    if not d: break
    back += d
assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest(), "echo differs"
' || fail "a TCP stream did not cross the link intact"
stop_linkem
grep -q "a->b rx [1-9]" "$T/linkem.log" || fail "linkem counted nothing a->b"
grep -q "b->a rx [1-9]" "$T/linkem.log" || fail "linkem counted nothing b->a"
pass "UDP and TCP through a 20 ms, 100 Mbit/s link"

: >"$T/linkem.log"
start_linkem --loss-ab 100
got=$(udp_echo 20 500)
[ "$got" = 0 ] || fail "$got datagrams crossed a link that loses everything a->b"
stop_linkem
grep -q "a->b rx [1-9][0-9]* tx 0 .*drop_loss [1-9]" "$T/linkem.log" ||
	fail "linkem did not count the losses: $(cat "$T/linkem.log")"
pass "100% loss drops everything"

: >"$T/linkem.log"
# 200 datagrams of 1400 bytes in one burst into a 1 Mbit/s link with a 16 KiB queue:
# most must be dropped at the queue, whatever the timing
start_linkem --rate 1M --queue 16K
got=$(udp_echo 200 1400)
[ "$got" -gt 0 ] && [ "$got" -lt 200 ] || fail "$got of 200 came back through a 16 KiB queue"
stop_linkem
grep -q "a->b .*drop_queue [1-9]" "$T/linkem.log" ||
	fail "linkem counted no queue drops: $(cat "$T/linkem.log")"
pass "a bounded queue drops a burst's tail ($got of 200 through)"

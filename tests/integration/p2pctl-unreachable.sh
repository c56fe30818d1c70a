#!/bin/sh
# The built p2pctl without a daemon: exit 3 and a message that names the socket and
# the errno text; --json gives the same as an error object; usage errors exit 2.
. "$(dirname "$0")/../lib.sh"

[ -x "$P2PCTL" ] || skip "p2pctl not built"

sock="$T/no-such-daemon.sock"
rc=0
"$P2PCTL" --socket "$sock" info >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 3 ] || fail "info without a daemon: exit $rc, expected 3"
grep -q "$sock" "$T/err" || fail "message does not name the socket: $(cat "$T/err")"
grep -q "No such file or directory" "$T/err" || fail "message lacks the errno text: $(cat "$T/err")"
grep -q -- "--socket" "$T/err" || fail "message does not suggest --socket"
[ ! -s "$T/out" ] || fail "stdout not empty: $(cat "$T/out")"

rc=0
P2PD_SOCKET="$sock" "$P2PCTL" --json list >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 3 ] || fail "--json list without a daemon: exit $rc, expected 3"
grep -q '^{"error":{"code":3,"message":"cannot connect to p2pd at' "$T/out" ||
	fail "--json error object missing: $(cat "$T/out")"

# a socket file nobody listens on: connection refused, still exit 3
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/dead.sock" 2>/dev/null ||
	skip "python3 cannot create a UNIX socket"
rc=0
"$P2PCTL" --socket "$T/dead.sock" watch >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 3 ] || fail "dead socket: exit $rc, expected 3"
grep -q "Connection refused" "$T/err" || fail "dead socket message: $(cat "$T/err")"

rc=0
"$P2PCTL" frobnicate >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 2 ] || fail "unknown command: exit $rc, expected 2"
grep -q 'unknown command "frobnicate"' "$T/err" || fail "unknown command message: $(cat "$T/err")"

pass "p2pctl reports an unreachable daemon and usage errors"

#!/bin/sh
# Malformed or hostile requests on the control socket each get a JSON-RPC error that
# says what was wrong, and the daemon keeps serving.
. "$top_srcdir/tests/lib.sh"
command -v python3 >/dev/null || skip "python3 is needed to speak raw JSON-RPC"

start_signald
start_daemon alice

# rpc LINE...: send raw lines on one connection, print the replies
rpc() {
	python3 - "$T/alice/ctl.sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.argv[2:]:
    try:
        s.sendall(line.encode("utf-8", "surrogateescape") + b"\n")
        r = f.readline()
    except OSError:
        r = b""
    sys.stdout.write(r.decode() if r else "<closed>\n")
    if not r:
        break
PY
}

expect() { # expect CODE LINE: the reply carries error CODE
	out=$(rpc "$2")
	echo "$out" | grep -q "\"code\":$1" || fail "for $2 expected error $1, got $out"
}
expect -32700 '{not json'
expect -32600 '[1,2,3]'
expect -32600 '{"jsonrpc":"1.0","id":1,"method":"daemon.info"}'
expect -32601 '{"jsonrpc":"2.0","id":1,"method":"no.such"}'
expect -32602 '{"jsonrpc":"2.0","id":1,"method":"transfer.send","params":{"paths":5,"peer":"x"}}'
expect -32602 '{"jsonrpc":"2.0","id":1,"method":"transfer.send","params":{"paths":["/x"]}}'
expect -32602 '{"jsonrpc":"2.0","id":1,"method":"transfer.status","params":{"id":"x","bogus":1}}'
expect -32005 '{"jsonrpc":"2.0","id":1,"method":"transfer.status","params":{"id":"nope"}}'
expect -32002 '{"jsonrpc":"2.0","id":1,"method":"transfer.send","params":{"paths":["/etc/hostname"],"peer":"ghost"}}'
deep=$(printf '%0.s[' $(seq 1 40))
expect -32000 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.info\",\"params\":{\"a\":$deep}"
pass "each malformed request got its error"

# an error does not end the connection: the next request on it is answered
out=$(rpc '{bad' '{"jsonrpc":"2.0","id":2,"method":"daemon.info"}')
echo "$out" | grep -q '"agent":"alice"' || fail "connection unusable after an error: $out"

# a line over the limit: error, then the daemon hangs up on that client only
long=$(head -c 70000 /dev/zero | tr '\0' a)
out=$(rpc "$long" '{"jsonrpc":"2.0","id":3,"method":"daemon.info"}')
echo "$out" | grep -q '"code":-32000' || fail "long line: no limit error: $out"
echo "$out" | grep -q '<closed>' || fail "long line: connection not closed: $out"
ctl alice info >/dev/null || fail "daemon stopped serving"
pass "limits enforced and the daemon keeps serving"

# p2pctl itself: unknown command and a socket nobody serves
rc=0; "$P2PCTL" --socket "$T/alice/ctl.sock" frobnicate >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "unknown command: exit $rc, expected 2"
rc=0; "$P2PCTL" --socket "$T/none.sock" info >"$T/out" 2>&1 || rc=$?
[ $rc -eq 3 ] || fail "no daemon: exit $rc, expected 3"
grep -q "none.sock" "$T/out" || fail "no daemon: message does not name the socket"

# --check-config: good and bad
"$P2PD" --check-config --agent x --signal-server 127.0.0.1:1 --api-key-file "$T/team.key" \
	--state-dir "$T/x" --save-dir "$T/x/in" --control-socket "$T/x/s" >/dev/null ||
	fail "--check-config refused a good configuration"
printf '[p2pd]\nagent = x\nmax-file-size = lots\n' >"$T/bad.conf"
rc=0; "$P2PD" --config "$T/bad.conf" --check-config >"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "--check-config accepted a bad file"
grep -q "bad.conf" "$T/out" && grep -q "max-file-size" "$T/out" || fail "bad config error does not say where: $(cat "$T/out")"
pass "control suite"


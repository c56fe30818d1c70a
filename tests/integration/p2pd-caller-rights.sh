#!/bin/sh
# transfer.send reads the file with the caller's rights: another uid must pass it open
# (p2pctl does), so a caller cannot make the daemon send what only the daemon can read,
# such as its own identity key.
. "$top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to run p2pctl as another uid"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"
chmod 0666 "$T/alice/ctl.sock"
chmod 0755 "$T" "$T/alice"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(as_nobody /usr/bin/python3 - "$T/alice/ctl.sock" "$T/alice/state/identity.key" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": "transfer.send",
       "params": {"paths": [sys.argv[2]], "peer": "bob"}}
s.sendall((json.dumps(req) + "\n").encode())
print(s.makefile().readline())
PY
)
echo "$out" | grep -q '"code":-32009' || fail "a path from another uid was opened by the daemon: $out"
head -c 5000 /dev/urandom >"$T/public.bin"
chmod 0644 "$T/public.bin"
as_nobody "$P2PCTL" --socket "$T/alice/ctl.sock" send "$T/public.bin" bob >"$T/out" 2>&1 ||
	fail "p2pctl send as another uid failed: $(cat "$T/out")"
cmp "$T/public.bin" "$T/bob/inbox/public.bin" || fail "file sent as another uid differs"
rc=0; as_nobody "$P2PCTL" --socket "$T/alice/ctl.sock" send "$T/alice/state/identity.key" bob \
	>"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "another uid could send the daemon's key: exit $rc"
test ! -e "$T/bob/inbox/identity.key" || fail "identity.key reached bob"
pass "files are read with the caller's rights"


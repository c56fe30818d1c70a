#!/bin/sh
# SIGHUP reloads the configuration while sessions stay up: a changed allowlist turns a
# refusal into an acceptance over the same session; a broken file is logged and the
# old configuration kept; keys that need a restart are named. "p2pctl log-level"
# changes the level at runtime, and a reload puts the configured one back.
. "$top_srcdir/tests/lib.sh"

start_signald
# bob's whole configuration is in the file: flags would win over what a reload reads
mkdir -p "$T/bob"
cat >"$T/bob.conf" <<CONF
[p2pd]
agent=bob
signal-server=127.0.0.1:$SIG_PORT
api-key-file=$T/team.key
signal-ca=$T/sig/signald.crt
state-dir=$T/bob/state
save-dir=$T/bob/inbox
control-socket=$T/bob/ctl.sock
ice-address=127.0.0.1
allow=carol
log-level=info
CONF
start_daemon alice
"$P2PD" --config "$T/bob.conf" >>"$T/bob.log" 2>&1 &
bob_pid=$!
PIDS="$PIDS $bob_pid"
wait_for 10 test -S "$T/bob/ctl.sock" || fail "p2pd bob did not start"
wait_for 10 sees alice bob || fail "alice does not see bob"
head -c 4096 /dev/urandom >"$T/f.bin"

rc=0; ctl alice send "$T/f.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "before reload: exit $rc, expected 4: $(cat "$T/out")"
grep -q "not-allowed" "$T/out" || fail "before reload: no not-allowed: $(cat "$T/out")"
sessions=$(grep -c "session alice: ready" "$T/bob.log" || true)
[ "$sessions" -eq 1 ] || fail "expected one session with alice before the reload, saw $sessions"
pass "refused under allow=carol"

# reload with alice allowed: same process, same session, the offer is accepted
sed -i 's/^allow=carol$/allow=carol;alice/' "$T/bob.conf"
kill -HUP "$bob_pid"
wait_for 10 grep -q "reload: allow applied" "$T/bob.log" || fail "bob did not log the reload"
rc=0; ctl alice send "$T/f.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "after reload: exit $rc, expected 0: $(cat "$T/out")"
cmp -s "$T/f.bin" "$T/bob/inbox/f.bin" || fail "after reload: the file did not arrive intact"
kill -0 "$bob_pid" || fail "bob's daemon is gone after the reload"
sessions=$(grep -c "session alice: ready" "$T/bob.log" || true)
[ "$sessions" -eq 1 ] || fail "the reload dropped the session with alice ($sessions sessions)"
pass "accepted after SIGHUP, over the same session"

# a broken file: logged, the old configuration (alice allowed) stays
cp "$T/bob.conf" "$T/bob.conf.good"
echo "max-files=0" >>"$T/bob.conf"
kill -HUP "$bob_pid"
wait_for 10 grep -q "reload failed, the configuration in use stays: .*max-files" "$T/bob.log" ||
	fail "bob did not log the failed reload"
kill -0 "$bob_pid" || fail "a broken configuration killed the daemon"
head -c 2048 /dev/urandom >"$T/g.bin"
rc=0; ctl alice send "$T/g.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "after a failed reload: exit $rc, expected 0: $(cat "$T/out")"
pass "a broken configuration is refused, the old one kept"

# keys that cannot change at runtime are named and keep their value
cp "$T/bob.conf.good" "$T/bob.conf"
printf 'save-dir=%s\nmax-file-size=1K\n' "$T/elsewhere" >>"$T/bob.conf"
kill -HUP "$bob_pid"
wait_for 10 grep -q "reload: save-dir changed but only take effect when p2pd restarts" \
	"$T/bob.log" || fail "bob did not name save-dir as needing a restart"
grep -q "reload: max-file-size applied" "$T/bob.log" || fail "max-file-size was not applied"
rc=0; ctl alice send "$T/g.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] && grep -q "too-large" "$T/out" ||
	fail "max-file-size=1K after reload: exit $rc: $(cat "$T/out")"
[ ! -e "$T/elsewhere" ] || fail "save-dir changed without a restart"
pass "restart-only keys reported, the others applied"

# the log level at runtime, and back to the file's on reload
out=$(ctl bob log-level debug) || fail "log-level debug failed"
[ "$out" = "log level debug (was info)" ] || fail "log-level: unexpected output \"$out\""
ctl bob --json log-level warning | jq -e '.level == "warning" and .previous == "debug"' \
	>/dev/null || fail "log-level --json did not answer {level: warning, previous: debug}"
rc=0; ctl bob log-level loud >"$T/out" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "log-level loud: exit $rc, expected 2 (usage)"
grep -q '"loud"' "$T/out" || fail "log-level loud: the message does not quote it"
python3 - "$T/bob/ctl.sock" >"$T/out" <<'PY' || fail "raw log.set-level: $(cat "$T/out")"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"log.set-level","params":{"level":"loud"}}\n')
r = json.loads(s.makefile().readline())
assert r["error"]["code"] == -32602, r
PY
# at warning, an offer's info line is not written; after a reload (log-level=info) it is
head -c 2048 /dev/urandom >"$T/h.bin"
rc=0; ctl alice send "$T/h.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "h.bin at warning level: exit $rc, expected 4: $(cat "$T/out")"
! grep -q "offers h.bin" "$T/bob.log" || fail "an info message was written at level warning"
kill -HUP "$bob_pid"
wait_for 10 sh -c "[ \$(grep -c 'reload: save-dir changed' '$T/bob.log') -ge 2 ]" ||
	fail "bob did not reload a fourth time"
rc=0; ctl alice send "$T/h.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "h.bin at info level: exit $rc, expected 4: $(cat "$T/out")"
grep -q "offers h.bin" "$T/bob.log" || fail "the reload did not restore log-level=info"
pass "log-level at runtime, restored by a reload"

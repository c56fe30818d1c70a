#!/bin/sh
# Offers refused by policy: not in the allowlist, too large, an ambiguous or unknown
# peer name; each with a clear reason on the sender's side and nothing in the inbox.
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice
start_daemon bob --allow carol --allow dave
start_daemon carol --max-file-size 1K
wait_for 10 sees alice bob || fail "alice does not see bob"
wait_for 10 sees alice carol || fail "alice does not see carol"
head -c 4096 /dev/urandom >"$T/f.bin"

rc=0; ctl alice send "$T/f.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "allowlist: exit $rc, expected 4: $(cat "$T/out")"
grep -q "not-allowed" "$T/out" || fail "allowlist: no reason: $(cat "$T/out")"
test -z "$(ls "$T/bob/inbox")" || fail "allowlist: bob's inbox is not empty"
pass "allowlist refusal"

rc=0; ctl alice send "$T/f.bin" carol >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "size: exit $rc, expected 4: $(cat "$T/out")"
grep -q "too-large" "$T/out" || fail "size: no reason: $(cat "$T/out")"
test -z "$(ls "$T/carol/inbox")" || fail "size: carol's inbox is not empty"
pass "size refusal"

rc=0; ctl alice send "$T/f.bin" nobody >"$T/out" 2>&1 || rc=$?
[ $rc -eq 5 ] || fail "unknown peer: exit $rc, expected 5: $(cat "$T/out")"
grep -q "nobody" "$T/out" || fail "unknown peer: message does not name it"
pass "unknown peer"

rc=0; ctl alice send "$T/missing.bin" carol >"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "missing file: exit $rc, expected 1"
grep -q "missing.bin" "$T/out" || fail "missing file: message does not name it"
pass "missing file"

# a peer that went offline: refused at once, named in the message
stop_daemon carol
wait_for 10 sh -c "\"$P2PCTL\" --socket \"$T/alice/ctl.sock\" --json list | grep -q '\"id\" *: *\"carol\"[^}]*\"online\" *: *false'" ||
	fail "alice did not see carol go offline"
rc=0; ctl alice send "$T/f.bin" carol >"$T/out" 2>&1 || rc=$?
[ $rc -eq 5 ] || fail "offline peer: exit $rc, expected 5: $(cat "$T/out")"
grep -q "offline" "$T/out" || fail "offline peer: no clear message: $(cat "$T/out")"
start_daemon carol --max-file-size 1K
pass "offline peer"

# two partner keys with an agent "bob" each: "bob" is ambiguous for alice's key "team"
"$SIGNALD" --keys "$T/sig/keys.conf" --add-key team --partners beta,gamma >"$T/team2.key"
"$SIGNALD" --keys "$T/sig/keys.conf" --add-key beta --partners team >"$T/beta.key"
"$SIGNALD" --keys "$T/sig/keys.conf" --add-key gamma --partners team >"$T/gamma.key"
chmod 600 "$T"/*.key
stop_signald
start_signald "$SIG_PORT"
stop_daemon alice; stop_daemon bob; stop_daemon carol
start_daemon alice "$T/team2.key"
start_daemon bob "$T/beta.key"
mkdir -p "$T/bob2"
"$P2PD" --agent bob --signal-server "127.0.0.1:$SIG_PORT" --api-key-file "$T/gamma.key" \
	--signal-ca "$T/sig/signald.crt" --state-dir "$T/bob2/state" --save-dir "$T/bob2/inbox" \
	--control-socket "$T/bob2/ctl.sock" --ice-address 127.0.0.1 >>"$T/bob2.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 15 sees alice beta.bob || fail "alice does not see beta.bob"
wait_for 15 sees alice gamma.bob || fail "alice does not see gamma.bob"
rc=0; ctl alice send "$T/f.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 5 ] || fail "ambiguous: exit $rc, expected 5: $(cat "$T/out")"
grep -q "beta.bob" "$T/out" && grep -q "gamma.bob" "$T/out" || fail "ambiguous: candidates not listed: $(cat "$T/out")"
ctl alice send "$T/f.bin" gamma.bob >/dev/null || fail "exact partner id failed"
cmp "$T/f.bin" "$T/bob2/inbox/f.bin" || fail "gamma.bob did not get the file"
pass "ambiguous alias lists candidates; the exact id works"

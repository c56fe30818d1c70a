#!/bin/sh
# Identity keys decide who is on the other end: a pin from the allowlist that does not
# match, and a key that changed after first contact, are refused on both sides.
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon bob
start_daemon carol
wrong=0000000000000000000000000000000000000000000000000000000000000000
start_daemon alice --allow "bob=$wrong" --allow carol
wait_for 10 sees alice bob || fail "alice does not see bob"
head -c 2048 /dev/urandom >"$T/f.bin"

test "$(stat -c %a "$T/alice/state/identity.key")" = 600 || fail "identity.key is not 0600"
fp=$(ctl alice --json info | sed -n 's/.*"fingerprint" *: *"\([0-9a-f]*\)".*/\1/p')
[ ${#fp} -eq 64 ] || fail "no fingerprint in info"

rc=0; ctl alice send "$T/f.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "wrong pin: exit $rc, expected 4: $(cat "$T/out")"
grep -q "key" "$T/out" || fail "wrong pin: reason does not mention the key: $(cat "$T/out")"
wait_for 10 grep -q "refused your key" "$T/bob.log" || fail "bob was not told why"
test -z "$(ls "$T/bob/inbox")" || fail "bob received a file anyway"
pass "allowlist pin mismatch refused on both sides"

# first contact pins carol's key; a new key for carol is then refused
ctl alice send "$T/f.bin" carol >/dev/null || fail "first contact with carol failed"
stop_daemon carol
rm -f "$T/carol/state/identity.key" "$T/carol/state/identity.crt"
start_daemon carol
wait_for 15 sees alice carol || fail "carol did not come back"
rc=0; ctl alice send "$T/f.bin" carol >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "changed key: exit $rc, expected 4: $(cat "$T/out")"
grep -q "changed" "$T/out" "$T/alice.log" || fail "changed key: no clear message"
wait_for 10 grep -q "refused your key" "$T/carol.log" || fail "carol was not told why"
pass "changed key refused"

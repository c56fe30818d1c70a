#!/bin/sh
# The UDP path (ICE-TCP off: libnice's pseudo-TCP, as through a NAT) carries a verified
# file too; and with auto-accept off, offers wait for p2pctl accept or reject.
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice --ice-tcp false
start_daemon bob --ice-tcp false
start_daemon erin --auto-accept false
wait_for 10 sees alice bob || fail "alice does not see bob"
wait_for 10 sees alice erin || fail "alice does not see erin"

head -c 3000000 /dev/urandom >"$T/u.bin"
ctl alice send "$T/u.bin" bob >/dev/null || fail "send over UDP failed"
cmp "$T/u.bin" "$T/bob/inbox/u.bin" || fail "file differs"
ctl alice --json list | grep -q '"path" *: *"udp ' || fail "the session did not use UDP: $(ctl alice --json list)"
pass "UDP path"

# an offer that waits, then is rejected with a reason the sender sees
ctl alice --json send "$T/u.bin" erin >"$T/out1" 2>&1 &
send1=$!
PIDS="$PIDS $send1"
wait_for 15 sh -c "\"$P2PCTL\" --socket \"$T/erin/ctl.sock\" --json transfers | grep -q '\"state\" *: *\"offered\"'" ||
	fail "no waiting offer on erin"
id=$(ctl erin --json transfers | sed -n 's/.*"id" *: *"\([0-9a-f]*\)".*"state" *: *"offered".*/\1/p' | head -n 1)
[ -n "$id" ] || fail "no id for the waiting offer"
ctl erin reject --reason "not now" "$id" >/dev/null || fail "reject failed"
rc=0; wait $send1 || rc=$?
[ $rc -eq 4 ] || fail "rejected send: exit $rc, expected 4: $(cat "$T/out1")"
grep -q "declined" "$T/out1" && grep -q "not now" "$T/out1" || fail "sender did not get the reason: $(cat "$T/out1")"
test -z "$(ls "$T/erin/inbox")" || fail "erin's inbox is not empty after a reject"
pass "manual reject"

ctl alice send "$T/u.bin" erin >"$T/out2" 2>&1 &
send2=$!
PIDS="$PIDS $send2"
wait_for 15 sh -c "\"$P2PCTL\" --socket \"$T/erin/ctl.sock\" --json transfers | grep -q '\"state\" *: *\"offered\"'" ||
	fail "no second waiting offer on erin"
id=$(ctl erin --json transfers | sed -n 's/.*"id" *: *"\([0-9a-f]*\)".*"state" *: *"offered".*/\1/p' | head -n 1)
ctl erin accept "$id" >/dev/null || fail "accept failed"
wait $send2 || fail "accepted send failed: $(cat "$T/out2")"
cmp "$T/u.bin" "$T/erin/inbox/u.bin" || fail "accepted file differs"
rc=0; ctl erin accept "$id" >"$T/out3" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "accepting twice: exit $rc, expected 1"
pass "manual accept"

#!/bin/sh
# p2p-signald: a second registration of the same key and agent wins. The old session
# gets "closing" (-32007, naming the new address) and is closed; the others see the id
# online with the new fingerprint and never offline in between; the new one works.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"

ALPHA=$(add_key alpha)
start_signald

client old;   register old 1 "$ALPHA" bob "$FP_B"
expect old '"id":1,' '"result"'
client alice; register alice 1 "$ALPHA" alice "$FP_A"
expect alice '"id":1,' "\"id\":\"bob\",\"fingerprint\":\"$FP_B\""

client new;   register new 1 "$ALPHA" bob "$FP_C"
expect new '"id":1,' '"result":{"agent":"bob","key":"alpha","peers":[{"id":"alice"'
expect old '"method":"closing"' '"code":-32007' 'replaced by a newer session from 127.0.0.1:'
closed old
expect alice '"method":"presence"' '"id":"bob"' "\"fingerprint\":\"$FP_C\"" '"online":true'

# the old session is gone from the server's books; then prove alice heard no offline
wait_for 10 grep -q 'replaced alpha.bob' "$T/signald.log" || fail "no replaced line in the log"
wait_for 10 sh -c "grep -c 'disconnect .*agent \"bob\"' '$T/signald.log' | grep -qx 1" ||
	fail "the old session was not disconnected"
ping_ok alice 2
never alice '"id":"bob"' '"online":false'

# signals reach the new session, with the new fingerprint on the way back
call alice 3 signal '{"to":"bob","kind":"offer","session":"x"}'
expect alice '"id":3,' '"result":{}'
expect new '"method":"signal"' '"from":"alice"' '"kind":"offer"'
call new 2 signal '{"to":"alice","kind":"answer","session":"x"}'
expect alice '"method":"signal"' '"from":"bob"' "\"fingerprint\":\"$FP_C\""
never old '"method":"signal"'

# now bob really leaves: offline, once
kill "$HOLDER_new"
expect alice '"id":"bob"' '"online":false'
ping_ok alice 4
[ "$(grep -c '"online":false' "$T/alice.out")" = 1 ] || fail "alice heard bob go offline more than once"
pass "duplicate registration"

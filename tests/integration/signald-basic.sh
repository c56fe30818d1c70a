#!/bin/sh
# p2p-signald: register, peers, presence online/offline, ping, and the errors that
# keep a session open (parse error, unknown method, register first, twice, version),
# then a bad API key, which closes the session while the others keep working.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"

ALPHA=$(add_key alpha)
[ -n "$ALPHA" ] || fail "--add-key printed no secret"
start_signald

client bob
client alice

# before register: only register works, and the session stays open
call bob 1 peers
expect bob '"id":1,' '"code":-32001' 'register first'

register bob 2 "$ALPHA" bob "$FP_B"
expect bob '"id":2,' '"result":{"agent":"bob","key":"alpha","peers":[]}'

register alice 1 "$ALPHA" alice "$FP_A"
expect alice '"id":1,' '"key":"alpha"' "\"peers\":[{\"id\":\"bob\",\"fingerprint\":\"$FP_B\"}]"
# bob hears that alice came online, under her bare id (same key)
expect bob '"method":"presence"' '"id":"alice"' "\"fingerprint\":\"$FP_A\"" '"online":true'

call bob 3 peers
expect bob '"id":3,' "\"peers\":[{\"id\":\"alice\",\"fingerprint\":\"$FP_A\"}]"

ping_ok alice 2

# errors that keep the session
send alice 'this is not json'
expect alice '"id":null' '"code":-32700'
call alice 3 no.such.method
expect alice '"id":3,' '"code":-32601' 'no.such.method'
# an unknown notification is ignored: the next reply is the ping's
send alice '{"jsonrpc":"2.0","method":"no.such.notification"}'
ping_ok alice 4
never alice 'no.such.notification'
register alice 5 "$ALPHA" alice "$FP_A"
expect alice '"id":5,' '"code":-32010' 'already registered'
call alice 6 peers '{"bogus":1}'
expect alice '"id":6,' '"code":-32602' 'bogus'
ping_ok alice 7

# wrong protocol version: -32602 naming both versions, and the session stays
client carol
send carol "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"register\",\"params\":{\"version\":99,\"key\":\"$ALPHA\",\"agent\":\"carol\",\"fingerprint\":\"$FP_C\"}}"
expect carol '"id":1,' '"code":-32602' 'version 99' 'version 1'
register carol 2 "$ALPHA" carol "$FP_C"
expect carol '"id":2,' '"result"'
# bad agent id and fingerprint are refused
client eve
register eve 1 "$ALPHA" 'e.ve' "$FP_C"
expect eve '"id":1,' '"code":-32602' 'agent id'
register eve 2 "$ALPHA" eve ABCDEF
expect eve '"id":2,' '"code":-32602' 'fingerprint'

# bad key: the error, then the hang-up; nobody else is affected
client mallory
register mallory 1 not-a-real-secret mallory "$FP_D"
expect mallory '"id":1,' '"code":-32001' 'unknown API key'
closed mallory
ping_ok alice 8

# bob leaves: alice and carol hear it once, with his fingerprint
kill "$HOLDER_bob"
expect alice '"method":"presence"' '"id":"bob"' "\"fingerprint\":\"$FP_B\"" '"online":false'
expect carol '"method":"presence"' '"id":"bob"' '"online":false'
call alice 9 peers
expect alice '"id":9,' "\"peers\":[{\"id\":\"carol\",\"fingerprint\":\"$FP_C\"}]"

grep -q 'refused 127.0.0.1:[0-9]*: unknown API key' "$T/signald.log" ||
	fail "the refused key is not in the log with the peer address"
pass "register, peers, presence, errors"

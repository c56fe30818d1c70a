#!/bin/sh
# p2p-signald: every limit answers with an error and then hangs up on that session
# only: line length, JSON depth, message rate, sessions per key, register timeout.
# A session that stays within the limits keeps working throughout (proved by pings).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"

ALPHA=$(add_key alpha)
BETA=$(add_key beta)
start_signald --max-line 1024 --max-depth 4 --rate 5 --max-sessions-per-key 2 \
	--register-timeout 3

client keep; register keep 1 "$ALPHA" keep "$FP_A"
expect keep '"id":1,' '"result"'

# a line longer than max-line, sent raw in one go
client long --raw
head -c 3000 /dev/zero | tr '\0' x >>"$T/long.in"
expect long '"code":-32000' 'longer than 1024 bytes'
closed long
ping_ok keep 2

# a line at the limit is read and answered: 1024 bytes of JSON, padded
client edge
pad=$(head -c 1024 /dev/zero | tr '\0' y)
line="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{},\"x\":\"$pad\"}"
line=$(printf '%s' "$line" | head -c 1022)'"}'
[ "$(printf '%s' "$line" | wc -c)" -eq 1024 ] || fail "test line is not 1024 bytes"
send edge "$line"
expect edge '"id":1,' '"code":-32001' 'register first'
ping_ok keep 3

# JSON nested deeper than max-depth
client deep
send deep '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":[[[[1]]]]}}'
expect deep '"code":-32000' 'nested deeper than 4'
closed deep
ping_ok keep 4

# more messages than the rate allows (5/s, bursts of 10): 40 at once
client flood --raw
i=0; msgs=''
while [ $i -lt 40 ]; do
	msgs="$msgs{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"ping\"}
"
	i=$((i + 1))
done
printf '%s' "$msgs" >>"$T/flood.in"
expect flood '"code":-32000' 'more than 5 messages per second'
closed flood
ping_ok keep 5

# sessions per key: beta may have two
client b1; register b1 1 "$BETA" b1 "$FP_B"
client b2; register b2 1 "$BETA" b2 "$FP_B"
expect b1 '"id":1,' '"result"'
expect b2 '"id":1,' '"result"'
client b3; register b3 1 "$BETA" b3 "$FP_B"
expect b3 '"id":1,' '"code":-32008' 'key \"beta\"' 'limit is 2'
closed b3
# re-registering an existing agent replaces it and does not count twice
client b2new; register b2new 1 "$BETA" b2 "$FP_C"
expect b2new '"id":1,' '"result"'
ping_ok b1 2
ping_ok keep 6

# no register within register-timeout
client idle
expect idle '"code":-32000' 'no register within 3 seconds'
closed idle
ping_ok keep 7

for what in 'longer than 1024' 'nested deeper' 'messages per second' 'has 2 sessions' \
	'no register within'; do
	grep -q "limit 127.0.0.1:[0-9]*.*$what\|closing 127.0.0.1:[0-9]*.*$what" "$T/signald.log" ||
		fail "the log has no line with the peer address for: $what"
done
kill -0 "$SIGNALD_PID" || fail "p2p-signald died"
pass "limits"

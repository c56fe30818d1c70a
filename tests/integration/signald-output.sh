#!/bin/sh
# p2p-signald: a client that stops reading is dropped once more than 1 MiB waits for
# it, instead of the server queueing without end; the sender and the server go on.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"

ALPHA=$(add_key alpha)
start_signald --rate 100000

client fast
register fast 1 "$ALPHA" fast "$FP_A"
expect fast '"id":1,' '"result"'
client slow --no-read
register slow 1 "$ALPHA" slow "$FP_B"
expect fast '"method":"presence"' '"id":"slow"' '"online":true'

# 64 candidates of 500 bytes: about 32 KiB per signal; 600 of them is about 19 MiB,
# more than socket buffers and the 1 MiB bound together
cand=$(head -c 500 /dev/zero | tr '\0' c)
cands="\"$cand\""
i=1
while [ $i -lt 64 ]; do cands="$cands,\"$cand\""; i=$((i + 1)); done
line="{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"signal\",\"params\":{\"to\":\"slow\",\"kind\":\"candidate\",\"session\":\"s\",\"candidates\":[$cands]}}"
i=0
while [ $i -lt 600 ]; do printf '%s\n' "$line"; i=$((i + 1)); done >>"$T/fast.in" &
WRITER=$!
PIDS="$PIDS $WRITER"

wait_for 60 grep -q 'limit 127.0.0.1:[0-9]* (slow): client does not read' "$T/signald.log" ||
	fail "the stalled client was not dropped"
expect fast '"method":"presence"' '"id":"slow"' '"online":false'
# once slow is gone, further signals to it are refused, and fast still works (after
# the writer is done: lines longer than a pipe's atomic write must not interleave)
expect fast '"id":0,' '"code":-32002' 'no online peer \"slow\"'
wait "$WRITER"
call fast 2 ping
wait_for 60 has_line "$T/fast.out" '"id":2,"result":{}' || fail "fast no longer answers"
kill -0 "$SIGNALD_PID" || fail "p2p-signald died"
pass "output bound"

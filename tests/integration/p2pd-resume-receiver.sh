#!/bin/sh
# Resume after the receiver dies: alice sends 64 MiB at 8 MiB/s; when bob holds half of
# it his p2pd is killed (SIGKILL: no goodbye, no clean shutdown). alice's transfer
# pauses; bob is started again on the same state dir, and the transfer goes on by
# itself from where bob's journal says it was: the file arrives intact and alice sent
# little more than its size in all. Nothing is under the final name before the end.
# TCP candidates are off: the UDP path, p2pd's datagram transport (docs/TRANSPORT.md),
# whose send buffer must not hold much more than what is in flight.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3 sha256sum

SIZE=67108864
start_signald
start_daemon alice --rate-limit 8M --ice-tcp false
start_daemon bob --ice-tcp false
wait_for 10 sees alice bob || fail "alice does not see bob"
head -c $SIZE /dev/urandom >"$T/big.bin"
sum=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "transfer.send failed: $(cat "$T/send.json")"
half='[.[] | select(.peer == "alice" and .direction == "in" and .bytes >= '$((SIZE / 2))')] | length > 0'
wait_jq 60 bob "$half" || fail "bob never held half of the file: $(cat "$T/list.json")"
bid=$(jq -r '[.[] | select(.peer == "alice" and .direction == "in")] | sort_by(.started) | last | .id' "$T/list.json")
test ! -e "$T/bob/inbox/big.bin" || fail "big.bin is under its final name at half of it"
ctl alice --json list | grep -q '"path" *: *"udp ' || fail "not on the UDP path: $(ctl alice --json list)"
kill -KILL "$PID_bob"
wait "$PID_bob" 2>/dev/null || true
pass "bob killed with $(jq -r '[.[] | select(.id == "'"$bid"'")][0].bytes' "$T/list.json") of $SIZE bytes"

paused() { xstatus alice "$id" >"$T/st.json" && jq -e '.state == "paused"' "$T/st.json"; }
wait_for 30 paused || fail "alice's transfer did not pause: $(cat "$T/st.json")"
pass "alice's transfer paused: $(jq -c .reason "$T/st.json")"
test ! -e "$T/bob/inbox/big.bin" || fail "big.bin is under its final name while paused"

# bob comes back on the same state dir; nobody re-runs anything
rm -f "$T/bob/ctl.sock"
start_daemon bob --ice-tcp false
wait_end 120 alice "$id" "$T/alice-end.json"
jq -e '.state == "complete"' "$T/alice-end.json" >/dev/null ||
	fail "the transfer did not complete after bob came back: $(cat "$T/alice-end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the resumed file differs"
[ "$(sha256sum "$T/bob/inbox/big.bin" | cut -d' ' -f1)" = "$sum" ] || fail "sha256 differs"
jq -e --arg s "$sum" '.sha256 == $s' "$T/alice-end.json" >/dev/null ||
	fail "alice's sha256 is not the file's: $(cat "$T/alice-end.json")"
# Only the rest travelled again. Slack: what was in flight when bob died (socket and
# TLS buffers, chunks bob had received but not yet made durable) is sent twice; a
# quarter of the file (16 MiB) is far above that and far below a second full copy.
wire=$(jq -r '.wire_bytes' "$T/alice-end.json")
[ "$wire" -lt $((SIZE + SIZE / 4)) ] ||
	fail "alice sent $wire bytes for a $SIZE-byte file: it started over instead of resuming"
[ "$wire" -ge "$SIZE" ] || fail "alice's wire_bytes $wire is less than the file ($SIZE)"
# bob's side: the same transfer (his journal knew it), complete
xlist bob all | jq -c '[.[] | select(.peer == "alice" and .direction == "in")]' >"$T/bob.json"
jq -e 'length == 1' "$T/bob.json" >/dev/null ||
	fail "bob has more than one record of the transfer (not resumed?): $(cat "$T/bob.json")"
wait_end 30 bob "$(jq -r '.[0].id' "$T/bob.json")" "$T/bob-end.json"
jq -e --argjson n $SIZE --arg s "$sum" '.state == "complete" and .bytes == $n and .sha256 == $s' \
	"$T/bob-end.json" >/dev/null || fail "bob's side is not complete: $(cat "$T/bob-end.json")"
test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" || fail "partial files left"
[ "$(ls "$T/bob/inbox")" = big.bin ] || fail "unexpected files in bob's inbox: $(ls -A "$T/bob/inbox")"
pass "resumed after the receiver's restart: sha256 ok, alice sent $wire bytes for $SIZE"

#!/bin/sh
# Resume after the sender dies: alice sends 64 MiB at 8 MiB/s; when bob holds half of
# it alice's p2pd is killed (SIGKILL). bob's transfer pauses; alice is started again
# on the same state dir, finds the unfinished transfer in her journal and offers it
# again by herself once the session to bob is back; bob answers with his resume point:
# the file arrives intact and bob received little more than its size in all.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3 sha256sum

SIZE=67108864
start_signald
start_daemon alice --rate-limit 8M
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"
head -c $SIZE /dev/urandom >"$T/big.bin"
sum=$(sha256sum "$T/big.bin" | cut -d' ' -f1)

xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "transfer.send failed: $(cat "$T/send.json")"
half='[.[] | select(.peer == "alice" and .direction == "in" and .bytes >= '$((SIZE / 2))')] | length > 0'
wait_jq 60 bob "$half" || fail "bob never held half of the file: $(cat "$T/list.json")"
bid=$(jq -r '[.[] | select(.peer == "alice" and .direction == "in")] | sort_by(.started) | last | .id' "$T/list.json")
kill -KILL "$PID_alice"
wait "$PID_alice" 2>/dev/null || true
pass "alice killed; bob had $(jq -r --arg b "$bid" '.[] | select(.id == $b) | .bytes' "$T/list.json") of $SIZE bytes"

paused() { xstatus bob "$bid" >"$T/st.json" && jq -e '.state == "paused"' "$T/st.json"; }
wait_for 30 paused || fail "bob's transfer did not pause: $(cat "$T/st.json")"
pass "bob's transfer paused: $(jq -c .reason "$T/st.json")"
test ! -e "$T/bob/inbox/big.bin" || fail "big.bin is under its final name while paused"

# alice comes back on the same state dir; nobody re-runs the send
rm -f "$T/alice/ctl.sock"
start_daemon alice --rate-limit 8M
wait_end 120 bob "$bid" "$T/bob-end.json"
jq -e --argjson n $SIZE --arg s "$sum" '.state == "complete" and .bytes == $n and .sha256 == $s' \
	"$T/bob-end.json" >/dev/null || fail "bob's transfer did not complete: $(cat "$T/bob-end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the resumed file differs"
[ "$(sha256sum "$T/bob/inbox/big.bin" | cut -d' ' -f1)" = "$sum" ] || fail "sha256 differs"
# Only the rest travelled again. Slack: what was in flight when alice died (socket and
# TLS buffers, chunks bob had not yet made durable) comes twice; a quarter of the file
# (16 MiB) is far above that and far below a second full copy.
wire=$(jq -r '.wire_bytes' "$T/bob-end.json")
[ "$wire" -lt $((SIZE + SIZE / 4)) ] ||
	fail "bob received $wire bytes for a $SIZE-byte file: it started over instead of resuming"
[ "$wire" -ge "$SIZE" ] || fail "bob's wire_bytes $wire is less than the file ($SIZE)"
# alice's journal kept the transfer under its id, now complete
wait_end 30 alice "$id" "$T/alice-end.json"
jq -e --arg s "$sum" '.state == "complete" and .sha256 == $s' "$T/alice-end.json" >/dev/null ||
	fail "alice's side of it is not complete: $(cat "$T/alice-end.json")"
xlist bob all | jq -c '[.[] | select(.peer == "alice" and .direction == "in")]' >"$T/bob.json"
jq -e 'length == 1' "$T/bob.json" >/dev/null ||
	fail "bob has more than one record of the transfer (not resumed?): $(cat "$T/bob.json")"
test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" || fail "partial files left"
[ "$(ls "$T/bob/inbox")" = big.bin ] || fail "unexpected files in bob's inbox: $(ls -A "$T/bob/inbox")"
pass "resumed after the sender's restart: sha256 ok, bob received $wire bytes for $SIZE"

#!/bin/sh
# What the other transfer tests leave out: per-peer subfolders; a file changed under the
# sender after the offer (the transfer fails with "changed" on both sides instead of
# sending a mix); a receiver stopped cleanly (SIGTERM, as systemctl restart does) and
# started again mid-transfer; and a cancel while the peer is away, which reaches it
# when it is back and removes its staged data.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3

start_signald
start_daemon alice --rate-limit 4M
start_daemon bob --peer-subfolders true
wait_for 10 sees alice bob || fail "alice does not see bob"

# 1. per-peer subfolders
echo "for bob" >"$T/note.txt"
xsend alice bob "$T/note.txt" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_end 30 alice "$id"
jq -e '.state == "complete"' "$T/end.json" >/dev/null || fail "note.txt: $(cat "$T/end.json")"
cmp "$T/note.txt" "$T/bob/inbox/alice/note.txt" || fail "note.txt is not in inbox/alice/"
test ! -e "$T/bob/inbox/note.txt" || fail "note.txt also in the inbox itself"
pass "peer-subfolders: the file is in inbox/alice/"

# 2. a file changed after the offer: b.txt is modified while a.bin (8 MiB at 4 MiB/s)
# is still going; when b.txt's turn comes the sender refuses to send it
mkdir -p "$T/chg"
head -c 8388608 /dev/urandom >"$T/chg/a.bin"
echo "original" >"$T/chg/b.txt"
xsend alice bob "$T/chg" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
started() { xstatus alice "$id" >"$T/st.json" && jq -e '.bytes > 0' "$T/st.json" >/dev/null; }
wait_for 30 started || fail "the tree did not start: $(cat "$T/st.json")"
echo "changed!" >"$T/chg/b.txt"
wait_end 60 alice "$id"
jq -e '.state == "failed" and .reason.code == "changed"' "$T/end.json" >/dev/null ||
	fail "a changed file did not fail the transfer with \"changed\": $(cat "$T/end.json")"
jq -r '.reason.message' "$T/end.json" | grep -q 'chg/b.txt' ||
	fail "the reason does not name the file: $(cat "$T/end.json")"
bid=$(xlist bob | jq -r '[.[] | select(.name == "chg")] | last | .id')
wait_end 30 bob "$bid" "$T/bob-end.json"
jq -e '.state == "failed" and .reason.code == "changed"' "$T/bob-end.json" >/dev/null ||
	fail "bob was not told: $(cat "$T/bob-end.json")"
test ! -e "$T/bob/inbox/alice/chg" || fail "a half tree appeared under its final name"
test -z "$(ls -A "$T/bob/inbox/alice/.p2pd-partial" 2>/dev/null)" || fail "staging left behind"
pass "changed under the sender: $(jq -r '.reason.message' "$T/end.json")"

# 3. bob stopped with SIGTERM mid-transfer and started again: it resumes
head -c 16777216 /dev/urandom >"$T/mid.bin"
xsend alice bob "$T/mid.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
some='[.[] | select(.name == "mid.bin" and .bytes >= 4194304)] | length > 0'
wait_jq 30 bob "$some" || fail "bob did not get 4 MiB: $(cat "$T/list.json")"
stop_daemon bob
paused() { xstatus alice "$id" >"$T/st.json" && jq -e '.state == "paused"' "$T/st.json" >/dev/null; }
wait_for 30 paused || fail "alice did not pause: $(cat "$T/st.json")"
start_daemon bob --peer-subfolders true
wait_end 60 alice "$id"
jq -e '.state == "complete"' "$T/end.json" >/dev/null || fail "not resumed: $(cat "$T/end.json")"
cmp "$T/mid.bin" "$T/bob/inbox/alice/mid.bin" || fail "mid.bin differs after the restart"
wire=$(jq -r '.wire_bytes' "$T/end.json")
[ "$wire" -lt $((16777216 + 4194304)) ] || fail "alice sent $wire bytes: it started over"
pass "resumed after SIGTERM of the receiver: alice sent $wire bytes for 16777216"

# 4. a cancel while bob is away reaches bob when he is back
xsend alice bob "$T/mid.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
wait_jq 30 bob '[.[] | select(.name == "mid.bin" and .state == "transferring" and .bytes > 0)] | length > 0' ||
	fail "the second mid.bin did not start: $(cat "$T/list.json")"
bid=$(jq -r '[.[] | select(.name == "mid.bin" and .state == "transferring")] | last | .id' "$T/list.json")
kill -KILL "$PID_bob"
wait "$PID_bob" 2>/dev/null || true
wait_for 30 paused || fail "alice did not pause: $(cat "$T/st.json")"
xcall alice transfer.cancel "$id" '{"reason":"not needed"}' >"$T/cancel.json"
jq -e '.result.state == "cancelled"' "$T/cancel.json" >/dev/null ||
	fail "cancel while paused: $(cat "$T/cancel.json")"
rm -f "$T/bob/ctl.sock"
start_daemon bob --peer-subfolders true
wait_end 30 bob "$bid" "$T/bob-end.json"
jq -e '.state == "cancelled"' "$T/bob-end.json" >/dev/null ||
	fail "bob did not learn of the cancel: $(cat "$T/bob-end.json")"
jq -r '.reason.message' "$T/bob-end.json" | grep -q "not needed" ||
	fail "bob's reason lacks alice's words: $(cat "$T/bob-end.json")"
test -z "$(ls -A "$T/bob/inbox/alice/.p2pd-partial" 2>/dev/null)" || fail "staging left behind"
[ "$(ls "$T/bob/inbox/alice")" = "$(printf 'mid.bin\nnote.txt')" ] ||
	fail "unexpected files: $(ls -A "$T/bob/inbox/alice")"
pass "a cancel made while bob was away reached him when he came back"

# 5. a manifest too big for one frame: 3,000 files with long names (over 512 KiB of
# manifest) go as an OFFER and MANIFEST frames, and arrive whole
mkdir -p "$T/many"
python3 - "$T/many" <<'PY'
import os, sys
for i in range(3000):
    d = os.path.join(sys.argv[1], "dir%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%04d-" % i + "n" * 180), "w") as f:
        f.write(str(i))
PY
xsend alice bob "$T/many" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_end 120 alice "$id"
jq -e '.state == "complete" and .files == 3000 and .dirs == 31' "$T/end.json" >/dev/null ||
	fail "the big manifest: $(cat "$T/end.json")"
diff -r "$T/many" "$T/bob/inbox/alice/many" >/dev/null || fail "the 3,000 files differ"
grep -q "offers many (3000 files" "$T/bob.log" || fail "bob's log does not show the offer"
pass "a manifest of 3,000 long names (several frames) arrived whole"

# 6. the signaling server restarts in the middle of a transfer: the session with the
# peer does not need it, the transfer goes on, and both daemons register again
xsend alice bob "$T/mid.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
wait_jq 30 bob '[.[] | select(.name == "mid.bin" and .state == "transferring" and .bytes > 0)] | length > 0' ||
	fail "the third mid.bin did not start: $(cat "$T/list.json")"
stop_signald
start_signald "$SIG_PORT"
wait_end 60 alice "$id"
jq -e '.state == "complete" and .wire_bytes == 16777216' "$T/end.json" >/dev/null ||
	fail "the transfer did not go on through the signaling restart: $(cat "$T/end.json")"
wait_for 20 sees alice bob || fail "alice did not register again"
wait_for 20 sees bob alice || fail "bob did not register again"
pass "a signaling restart mid-transfer: the transfer went on, both registered again"

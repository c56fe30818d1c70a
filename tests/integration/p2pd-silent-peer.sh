#!/bin/sh
# A peer that goes silent while ICE still holds: mallory lists the "ping" cap in HELLO
# but never sends PING or PONG (tests/hostile-peer mute), so once a transfer is done
# bob hears nothing more from it. Consent freshness keeps answering, so only p2pd's
# own watch can tell: after 20 s of silence bob ends the session as disconnected
# ("nothing heard from mallory ... the path is gone"), and the next transfer sets up
# a new session and completes.
. "$top_srcdir/tests/lib.sh"

HOSTILE="$top_builddir/tests/hostile-peer"
REAL_P2PD=$P2PD
[ -x "$HOSTILE" ] || skip "tests/hostile-peer is not built (make check builds it)"
need_tools jq python3

start_signald
start_daemon bob
P2PD=$HOSTILE; P2PD_ARGS=mute
start_daemon mallory
P2PD=$REAL_P2PD; P2PD_ARGS=
wait_for 15 sees mallory bob || fail "mallory does not see bob"

head -c 100000 /dev/urandom >"$T/one.bin"
ctl mallory --json send "$T/one.bin" bob >"$T/send1.json" || fail "first send failed: $(cat "$T/send1.json")"
cmp "$T/one.bin" "$T/bob/inbox/one.bin" || fail "the first file differs"
ctl bob --json list >"$T/peers.json"
jq -e '.peers[] | select(.id == "mallory") | .session == "connected" and .sessions == 1' \
	"$T/peers.json" >/dev/null || fail "bob has no session with mallory: $(cat "$T/peers.json")"
# bob pings, mallory never answers: bob has no round trip to show
jq -e '.peers[] | select(.id == "mallory") | .link | has("rtt_ms") | not' "$T/peers.json" \
	>/dev/null || fail "bob has a round trip from a peer that never answers: $(cat "$T/peers.json")"

wait_for 45 grep -q "nothing heard from mallory for 20 s" "$T/bob.log" ||
	fail "bob did not give up on the silent peer"
pass "bob ended the silent session: $(grep -o 'nothing heard from mallory.*' "$T/bob.log" | head -1)"

head -c 100000 /dev/urandom >"$T/two.bin"
ctl mallory --json send "$T/two.bin" bob >"$T/send2.json" || fail "second send failed: $(cat "$T/send2.json")"
cmp "$T/two.bin" "$T/bob/inbox/two.bin" || fail "the second file differs"
ctl bob --json list | jq -e '.peers[] | select(.id == "mallory") | .sessions == 2' >/dev/null ||
	fail "the second transfer did not come over a new session"
pass "a silent peer's session ends after 20 s; the next transfer comes over a new one"

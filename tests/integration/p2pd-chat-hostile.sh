#!/bin/sh
# A hostile chat peer against a real p2pd. "mallory" is the real p2pd with lies in its
# CHAT frames (tests/hostile-peer MODE): a message id that is not 16 hex digits, an
# empty message, one a byte over P2P_CHAT_MAX_TEXT, a ts that is not a number. For each,
# bob closes the session with protocol-error and names the problem in his log, stores
# nothing of it, and goes on chatting with alice.
. "$top_srcdir/tests/lib.sh"

HOSTILE="$top_builddir/tests/hostile-peer"
REAL_P2PD=$P2PD
[ -x "$HOSTILE" ] || skip "tests/hostile-peer is not built (make check builds it)"
need_tools jq python3

start_signald
start_daemon bob
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

say() { rpc "$1" chat.send "$(jq -cn --arg p "$2" --arg t "$3" '{peer: $p, text: $t}')"; }
history() { rpc "$1" chat.history "$(jq -cn --arg p "$2" '{peer: $p, limit: 100}')" | jq -c '.result.messages'; }

start_mallory() {
	if [ -n "${PID_mallory:-}" ]; then stop_daemon mallory; fi
	rm -f "$T/mallory/ctl.sock"
	P2PD=$HOSTILE; P2PD_ARGS=$1
	start_daemon mallory
	P2PD=$REAL_P2PD; P2PD_ARGS=
	wait_for 15 sees mallory bob || fail "$1: mallory does not see bob"
}

for case in "chat-bad-id:id is not 16 hex digits" "chat-empty:empty text" \
            "chat-big:is 4097 bytes long" "chat-bad-ts:member \"ts\""; do
	mode=${case%%:*}; words=${case#*:}
	seen=$(grep -c "bad chat frame" "$T/bob.log" || true)
	start_mallory "$mode"
	say mallory bob "hello from $mode" >"$T/m.json"
	jq -e '.result.id' "$T/m.json" >/dev/null || fail "$mode: chat.send: $(cat "$T/m.json")"
	wait_for 30 sh -c "[ \$(grep -c 'bad chat frame' '$T/bob.log') -gt $seen ]" ||
		fail "$mode: bob did not refuse the frame"
	grep "bad chat frame" "$T/bob.log" | tail -1 | grep -qF -- "$words" ||
		fail "$mode: bob's reason does not say \"$words\": $(grep 'bad chat frame' "$T/bob.log" | tail -1)"
	history bob mallory >"$T/h.json"
	jq -e 'length == 0' "$T/h.json" >/dev/null || fail "$mode: bob stored something: $(cat "$T/h.json")"
	# mallory's message stays undelivered on her side
	history mallory bob >"$T/mh.json"
	jq -e 'all(.[]; .state != "delivered")' "$T/mh.json" >/dev/null ||
		fail "$mode: mallory's message shows delivered: $(cat "$T/mh.json")"
	pass "$mode: bob closed the session ($(grep 'bad chat frame' "$T/bob.log" | tail -1 | sed 's/.*bad chat frame: //'))"
done

# bob still serves alice
say alice bob "still there?" >"$T/a.json"
jq -e '.result.id' "$T/a.json" >/dev/null || fail "alice's chat.send: $(cat "$T/a.json")"
got() { history bob alice | jq -e 'any(.[]; .text == "still there?")' >/dev/null; }
wait_for 20 got || fail "bob did not get alice's message after the hostile ones"
pass "bob still chats with alice"

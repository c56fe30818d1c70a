#!/bin/sh
# A hostile caller against a real callee, no browser needed. "mallory" is the real p2pd
# with lies in its CALL frames (tests/hostile-peer MODE): a call id that is not 16 hex
# digits and an SDP over the limit close the session with protocol-error; frames that
# name someone else's call are ignored, and that call rings on.
. "$top_srcdir/tests/lib.sh"

HOSTILE="$top_builddir/tests/hostile-peer"
REAL_P2PD=$P2PD
[ -x "$HOSTILE" ] || skip "tests/hostile-peer is not built (make check builds it)"
need_tools jq python3

start_signald
# debug: bob's log says when it ignores a frame
start_daemon bob --log-level debug
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

calls() { rpc "$1" call.list | jq -c '.result.calls'; }
call_jq() { # SECS NAME FILTER
	cj_i=0
	while :; do
		calls "$2" >"$T/calls.json" 2>/dev/null || true
		if jq -e "$3" "$T/calls.json" >/dev/null 2>&1; then return 0; fi
		cj_i=$((cj_i + 1))
		[ $cj_i -le $(($1 * 5)) ] || return 1
		sleep 0.2
	done
}

# start_mallory MODE: (re)start the hostile peer in MODE and wait until it sees bob.
start_mallory() {
	if [ -n "${PID_mallory:-}" ]; then stop_daemon mallory; fi
	rm -f "$T/mallory/ctl.sock"
	P2PD=$HOSTILE; P2PD_ARGS=$1
	start_daemon mallory
	P2PD=$REAL_P2PD; P2PD_ARGS=
	wait_for 15 sees mallory bob || fail "$1: mallory does not see bob"
}

# alice's call to bob rings there all along: mallory tries to speak for it
rpc alice call.start '{"peer":"bob"}' >"$T/start.json"
victim=$(jq -r '.result.call // empty' "$T/start.json")
[ -n "$victim" ] || fail "call.start: $(cat "$T/start.json")"
call_jq 20 bob ".[0].call == \"$victim\" and .[0].state == \"ringing\"" ||
	fail "alice's call does not ring: $(cat "$T/calls.json")"

for mode in call-bad-id call-big-sdp; do
	seen=$(grep -c "bad call frame" "$T/bob.log" || true)
	start_mallory "$mode"
	rpc mallory call.start '{"peer":"bob"}' >"$T/m.json"
	jq -e '.result.call' "$T/m.json" >/dev/null || fail "$mode: call.start: $(cat "$T/m.json")"
	call_jq 30 mallory '.[0].state == "ended" and .[0].reason == "disconnected"' ||
		fail "$mode: mallory's call did not end: $(cat "$T/calls.json")"
	wait_for 10 sh -c "[ \$(grep -c 'bad call frame' '$T/bob.log') -gt $seen ]" ||
		fail "$mode: bob did not log the bad frame"
	call_jq 5 bob "length == 1 and .[0].call == \"$victim\" and .[0].state == \"ringing\"" ||
		fail "$mode: bob's calls: $(cat "$T/calls.json")"
	pass "$mode: bob closes the session (protocol-error), keeps no call of it"
done

# mallory's hangup names alice's call: bob ignores it
export HOSTILE_CALL="$victim"
start_mallory call-foreign
rpc mallory call.start '{"peer":"bob"}' >"$T/m.json"
mine=$(jq -r '.result.call // empty' "$T/m.json")
[ -n "$mine" ] || fail "call-foreign: call.start: $(cat "$T/m.json")"
call_jq 20 bob "length == 2 and .[1].call == \"$mine\"" || fail "mallory's call does not ring: $(cat "$T/calls.json")"
rpc mallory call.hangup "{\"call\":\"$mine\"}" >/dev/null
wait_for 20 grep -q "call $victim: hangup from mallory for no call of theirs" "$T/bob.log" ||
	fail "bob did not see mallory's hangup for alice's call"
calls bob | jq -e "map(select(.call == \"$victim\"))[0].state == \"ringing\"" >/dev/null ||
	fail "mallory's hangup ended alice's call: $(calls bob)"
unset HOSTILE_CALL
pass "call-foreign: a hangup for someone else's call is ignored"

rpc alice call.hangup >/dev/null
call_jq 20 bob "map(select(.call == \"$victim\"))[0].state == \"ended\"" ||
	fail "alice's own hangup did not end her call: $(cat "$T/calls.json")"
pass "alice's own hangup still ends it"

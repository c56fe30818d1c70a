#!/bin/sh
# A broken or hostile sender against a real receiver. "mallory" is the real p2pd with
# lies in what it sends (tests/hostile-peer MODE: a bad name, a wrong size, corrupt
# bytes, a wrong hash, DATA for a transfer never offered, a stream that stops). For
# every lie: the send fails with the right reason code and a message that
# says what was wrong; bob keeps running and still takes a good file from alice; bob
# keeps nothing of the lie (no file under a lying name, no partial file), writes
# nothing outside its save dir, and never overwrites the file of the same name it has.
. "$top_srcdir/tests/lib.sh"

HOSTILE="$top_builddir/tests/hostile-peer"
REAL_P2PD=$P2PD
[ -x "$HOSTILE" ] || skip "tests/hostile-peer is not built (make check builds it)"
need_tools jq python3

start_signald
start_daemon bob
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

# bob already has a victim.txt; mallory's lies all come as a victim.txt of its own
mkdir -p "$T/bob/inbox" "$T/m"
echo "bob's own victim.txt, never to be overwritten" >"$T/bob/inbox/victim.txt"
cp "$T/bob/inbox/victim.txt" "$T/victim.orig"
# 1000000 = 15 full chunks and a short one, so size-more has room to add bytes
head -c 1000000 /dev/urandom >"$T/m/victim.txt"

# start_mallory MODE: (re)start the hostile peer in MODE and wait until it sees bob.
start_mallory() {
	if [ -n "${PID_mallory:-}" ]; then stop_daemon mallory; fi
	rm -f "$T/mallory/ctl.sock"
	P2PD=$HOSTILE; P2PD_ARGS=$1
	start_daemon mallory
	P2PD=$REAL_P2PD; P2PD_ARGS=
	wait_for 15 sees mallory bob || fail "$1: mallory does not see bob"
}

# bob_is_clean WHAT: bob runs, his inbox holds only what it should (victim.txt
# untouched, alice's good files), no partial file, nothing written outside it.
bob_is_clean() {
	kill -0 "$PID_bob" 2>/dev/null || fail "$1: bob's p2pd died"
	rpc bob daemon.info >/dev/null || fail "$1: bob does not answer"
	cmp -s "$T/victim.orig" "$T/bob/inbox/victim.txt" || fail "$1: bob's victim.txt was overwritten"
	extra=$(find "$T/bob/inbox" -mindepth 1 ! -name victim.txt ! -name 'good-*.txt' \
		! -path "$T/bob/inbox/.p2pd-partial")
	[ -z "$extra" ] || fail "$1: unexpected files in bob's save dir: $extra"
	outside=$(find "$T" \( -name x -o -name b -o -name etc -o -name 'evil*' -o -name '..?*' \
		-o -name second.txt \) -print)
	[ -z "$outside" ] || fail "$1: files created outside the save dir: $outside"
}

# good_file WHAT: alice, an honest peer, still gets a file through to bob.
good_file() {
	echo "good file after $1" >"$T/good-$1.txt"
	xsend alice bob "$T/good-$1.txt" >"$T/good.json"
	gf_id=$(jq -r '.result.id // empty' "$T/good.json")
	[ -n "$gf_id" ] || fail "$1: sending a good file failed: $(cat "$T/good.json")"
	wait_end 30 alice "$gf_id" "$T/good-end.json"
	jq -e '.state == "complete"' "$T/good-end.json" >/dev/null ||
		fail "$1: bob no longer accepts a good file: $(cat "$T/good-end.json")"
	cmp -s "$T/good-$1.txt" "$T/bob/inbox/good-$1.txt" || fail "$1: the good file differs"
}

# bob_from_mallory: bob's transfers from mallory, oldest first, as a JSON array.
bob_from_mallory() {
	xlist bob | jq -c '[.[] | select(.peer == "mallory")] | sort_by(.started)'
}

# lie MODE CODE PATTERN: mallory's send fails with reason CODE and a message matching
# PATTERN; bob, if he kept a record of the offer, ended it with CODE too, under a name
# fit for a terminal; then bob is checked.
# (HOSTILE_ONLY="MODE..." in the environment runs only those lies, for debugging)
lie() {
	mode=$1 code=$2 pattern=$3
	case " ${HOSTILE_ONLY:-$mode} " in *" $mode "*) ;; *) return 0 ;; esac
	start_mallory "$mode"
	before=$(bob_from_mallory | jq length)
	xsend mallory bob "$T/m/victim.txt" >"$T/send.json"
	id=$(jq -r '.result.id // empty' "$T/send.json")
	[ -n "$id" ] || fail "$mode: transfer.send failed on mallory: $(cat "$T/send.json")"
	wait_end 30 mallory "$id" "$T/out"
	case "$(jq -r .state "$T/out")" in failed|rejected|cancelled) ;; *)
		fail "$mode: mallory's send ended $(jq -r .state "$T/out"): $(cat "$T/out")" ;;
	esac
	got=$(jq -r '.reason.code' "$T/out")
	[ "$got" = "$code" ] || fail "$mode: reason $got, expected $code: $(cat "$T/out")"
	jq -r '.reason.message' "$T/out" | grep -q -- "$pattern" ||
		fail "$mode: the message does not say \"$pattern\": $(cat "$T/out")"
	bob_from_mallory >"$T/bob.json"
	if [ "$(jq length "$T/bob.json")" -gt "$before" ]; then
		jq -e --arg c "$code" 'last | (.state == "failed" or .state == "rejected") and
			.reason.code == $c and ([.name, .items[]?] | map(test("[\u0001-\u001f\u007f]")) | any | not)' \
			"$T/bob.json" >/dev/null ||
			fail "$mode: bob's side of it is wrong: $(jq -c last "$T/bob.json")"
	fi
	bob_is_clean "$mode"
	good_file "$mode"
	bob_is_clean "$mode"
	pass "$mode: $code: $(jq -r '.reason.message' "$T/out")"
}

# a name is a manifest path now (bad-path): "../../etc/x" fails on its first component,
# "a/b" on its parent that was never offered; an offer of several files is no lie any
# more (p2pd-hostile-manifest.sh has the manifest's lies)
lie name-slash bad-path 'it names a directory'
lie name-subdir bad-path 'not a directory listed before it'
lie name-dotdot bad-path 'it names a directory'
lie name-control bad-path 'control character'
lie name-empty bad-path 'it is empty'
lie size-more bad-size 'more than the 1000000 bytes'
lie size-less bad-size 'ended after 524288 of 1000000 bytes'
lie corrupt hash-mismatch 'SHA-256 mismatch'
lie wrong-hash hash-mismatch 'SHA-256 mismatch'
lie offset-gap protocol-error 'DATA at offset 65536 of entry 0, expected 65535'
# DATA under an unknown transfer id is dropped by the receiver now (it may be in flight
# after a cancel); the transfer then fails at FILE_END with nothing written
lie unknown-xfer bad-size 'ended after 0 of 1000000 bytes'

# what mallory sent is quoted in bob's log, but no control character of it
esc=$(printf '\033')
! grep -q "$esc" "$T/bob.log" || fail "a raw escape sequence from mallory reached bob's log"
pass "bob's log is safe for a terminal"

# truncated: 256 KiB, then silence; mallory dies mid-transfer (SIGKILL: no goodbye).
# Since transfers resume, bob pauses it (mallory may come back) and keeps his partial
# file for the resume, never under the final name; cancelling it then removes it.
start_mallory truncated
xsend mallory bob "$T/m/victim.txt" >"$T/send.json"
jq -e '.result.id' "$T/send.json" >/dev/null || fail "truncated: transfer.send failed: $(cat "$T/send.json")"
wait_jq 15 bob '.[] | select(.peer == "mallory" and .state == "transferring" and .bytes == 262144)' ||
	fail "truncated: bob never held the first 256 KiB: $(cat "$T/list.json")"
id=$(jq -r '.[] | select(.peer == "mallory" and .state == "transferring") | .id' "$T/list.json")
[ -n "$(ls -A "$T/bob/inbox/.p2pd-partial")" ] || fail "truncated: no partial file while receiving"
kill -KILL "$PID_mallory"
wait "$PID_mallory" 2>/dev/null || true
ended() {
	xstatus bob "$id" >"$T/st.json" && ! jq -e '.state == "transferring"' "$T/st.json" >/dev/null
}
wait_for 30 ended || fail "truncated: bob still waits for the dead peer: $(cat "$T/st.json")"
jq -e '.state == "paused"' "$T/st.json" >/dev/null ||
	fail "truncated: bob did not pause the transfer: $(cat "$T/st.json")"
PID_mallory=
cmp -s "$T/victim.orig" "$T/bob/inbox/victim.txt" || fail "truncated: bob's victim.txt was overwritten"
test ! -e "$T/bob/inbox/victim (1).txt" || fail "truncated: a paused transfer is under a final name"
rpc bob transfer.cancel "{\"id\":\"$id\"}" | jq -e '.result.state == "cancelled"' >/dev/null ||
	fail "truncated: bob cannot cancel the paused transfer"
bob_is_clean truncated
[ -z "$(ls -A "$T/bob/inbox/.p2pd-partial")" ] || fail "truncated: partial file left after cancel"
good_file truncated
pass "truncated: bob paused it ($(jq -r '.reason.message' "$T/st.json")), cancel cleaned up"

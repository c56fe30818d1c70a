#!/bin/sh
# Lies in a tree's manifest, told by "mallory" (the real p2pd with tests/hostile-peer's
# OFFER rewrites) to a real bob: absolute paths, "..", control bytes, an orphan, paths
# through or links out of the tree, duplicates, sizes that do not add up or that lie,
# an unknown entry type, more files or bytes than bob takes, a wrong FILE_END hash.
# For each: the send ends with a reason code mallory sees; bob keeps running; nothing
# is created outside bob's save dir (its parent, his state dir and a watched
# "outside" directory hold what they held); nothing appears under a final name.
# The same limits against an honest sender (alice): too-many-files, too-large.
. "$top_srcdir/tests/lib.sh"

HOSTILE="$top_builddir/tests/hostile-peer"
REAL_P2PD=$P2PD
[ -x "$HOSTILE" ] || skip "tests/hostile-peer is not built (make check builds it)"
need_tools jq python3

# where absolute paths and link targets of the lies point (tests/hostile-peer reads it)
HOSTILE_OUTSIDE="$T/outside"
export HOSTILE_OUTSIDE
mkdir -p "$HOSTILE_OUTSIDE"

start_signald
start_daemon bob --max-files 10 --max-transfer-size 1M
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

# mallory's tree: tree/a.txt (1000 bytes), tree/sub/b.bin (100000 bytes)
mkdir -p "$T/m/tree/sub"
head -c 1000 /dev/urandom >"$T/m/tree/a.txt"
head -c 100000 /dev/urandom >"$T/m/tree/sub/b.bin"

# good_file WHAT: alice still gets a file through to bob
good_file() {
	echo "good file after $1" >"$T/good-$1.txt"
	xsend alice bob "$T/good-$1.txt" >"$T/good.json"
	gf_id=$(jq -r '.result.id // empty' "$T/good.json")
	[ -n "$gf_id" ] || fail "$1: sending a good file failed: $(cat "$T/good.json")"
	wait_end 30 alice "$gf_id" "$T/good-end.json"
	jq -e '.state == "complete"' "$T/good-end.json" >/dev/null ||
		fail "$1: bob no longer takes a good file: $(cat "$T/good-end.json")"
	cmp -s "$T/good-$1.txt" "$T/bob/inbox/good-$1.txt" || fail "$1: the good file differs"
}
good_file start

# what may change in bob's state dir: SQLite's side files of state.db
state_listing() { ls -A "$T/bob/state" | grep -v -- '-wal$\|-shm$\|-journal$' || true; }
parent_before=$(ls -A "$T/bob")
state_before=$(state_listing)

# bob_is_clean WHAT
bob_is_clean() {
	kill -0 "$PID_bob" 2>/dev/null || fail "$1: bob's p2pd died"
	rpc bob daemon.info >/dev/null || fail "$1: bob does not answer"
	[ "$(ls -A "$T/bob")" = "$parent_before" ] ||
		fail "$1: the save dir's parent changed: $(ls -A "$T/bob")"
	[ "$(state_listing)" = "$state_before" ] ||
		fail "$1: bob's state dir changed: $(state_listing)"
	[ -z "$(ls -A "$HOSTILE_OUTSIDE")" ] || fail "$1: written outside: $(ls -A "$HOSTILE_OUTSIDE")"
	extra=$(find "$T/bob/inbox" -mindepth 1 ! -name 'good-*.txt' ! -path "$T/bob/inbox/.p2pd-partial")
	[ -z "$extra" ] || fail "$1: unexpected entries in bob's save dir: $extra"
	test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" ||
		fail "$1: partial files left: $(ls -A "$T/bob/inbox/.p2pd-partial")"
	evil=$(find "$T" -name 'evil*' -print; ls -d /evil* /tmp/evil* /tmp/p2pd-hostile-outside 2>/dev/null || true)
	[ -z "$evil" ] || fail "$1: files of the lie exist: $evil"
}

start_mallory() {
	if [ -n "${PID_mallory:-}" ]; then stop_daemon mallory; fi
	rm -f "$T/mallory/ctl.sock"
	P2PD=$HOSTILE; P2PD_ARGS=$1
	start_daemon mallory
	P2PD=$REAL_P2PD; P2PD_ARGS=
	wait_for 15 sees mallory bob || fail "$1: mallory does not see bob"
}

# bob_last: bob's newest transfer from mallory, or null
bob_last() { xlist bob | jq -c '[.[] | select(.peer == "mallory")] | sort_by(.started) | last'; }

# lie MODE CODES...: mallory's send of tree ends (failed, rejected or cancelled) with one
# of the reason CODES; bob's record of it, if any, ended too, with a name fit for a
# terminal; then bob is checked and still takes a good file.
# (HOSTILE_ONLY="MODE..." in the environment runs only those, for debugging)
lie() {
	mode=$1; shift
	case " ${HOSTILE_ONLY:-$mode} " in *" $mode "*) ;; *) return 0 ;; esac
	start_mallory "$mode"
	xsend mallory bob "$T/m/tree" >"$T/send.json"
	id=$(jq -r '.result.id // empty' "$T/send.json")
	[ -n "$id" ] || fail "$mode: transfer.send failed on mallory: $(cat "$T/send.json")"
	wait_end 30 mallory "$id" "$T/out.json"
	state=$(jq -r .state "$T/out.json")
	got=$(jq -r '.reason.code // "none"' "$T/out.json")
	case "$state" in failed|rejected|cancelled) ;; *)
		fail "$mode: mallory's send ended $state: $(cat "$T/out.json")" ;;
	esac
	ok=no
	for c in "$@"; do [ "$got" = "$c" ] && ok=yes; done
	[ $ok = yes ] || fail "$mode: reason $got, expected one of $*: $(cat "$T/out.json")"
	jq -e '.reason.message | length > 0' "$T/out.json" >/dev/null || fail "$mode: no message"
	last=$(bob_last)
	if [ "$last" != null ]; then
		bid=$(printf "%s\n" "$last" | jq -r .id)
		wait_end 30 bob "$bid" "$T/bob.json"
		jq -e '(.state == "failed" or .state == "rejected" or .state == "cancelled") and
			([.name, .items[]?] | map(test("[\u0001-\u001f\u007f]")) | any | not)' "$T/bob.json" >/dev/null ||
			fail "$mode: bob's side of it is wrong: $(cat "$T/bob.json")"
	fi
	bob_is_clean "$mode"
	good_file "$mode"
	bob_is_clean "$mode"
	pass "$mode: $state $got: $(jq -r '.reason.message' "$T/out.json")"
}

lie m-absolute bad-path
lie m-dotdot bad-path
lie m-dotdot-top bad-path
lie m-control bad-path
lie m-ctrl-one bad-path
lie m-orphan bad-path
lie m-empty-comp bad-path
lie m-link-through bad-path
lie m-link-escape bad-path
lie m-link-abs bad-path
lie m-link-only bad-path
lie m-dup-file bad-path
lie m-dup-dir bad-path
lie m-type bad-path protocol-error
lie m-sum bad-size protocol-error
lie m-count-less protocol-error bad-path
lie m-size-small bad-size
lie m-size-big bad-size
lie m-size-negative bad-size protocol-error
lie m-size-huge too-large
lie m-many too-many-files
lie m-data-more bad-size
lie m-bad-index protocol-error
lie m-dir-index protocol-error
lie m-wrong-hash hash-mismatch

# bob's log quotes the lies, never a raw escape sequence
esc=$(printf '\033')
! grep -q "$esc" "$T/bob.log" || fail "a raw escape sequence from mallory reached bob's log"
pass "bob's log is safe for a terminal"

# the same limits against an honest sender
mkdir -p "$T/a/many"
i=0
while [ $i -lt 12 ]; do echo "$i" >"$T/a/many/f$i"; i=$((i + 1)); done
mkdir -p "$T/a/big/d"
head -c 1100000 /dev/urandom >"$T/a/big/d/x.bin"
for what in many:too-many-files big:too-large; do
	dir=${what%%:*} code=${what#*:}
	xsend alice bob "$T/a/$dir" >"$T/send.json"
	id=$(jq -r '.result.id // empty' "$T/send.json")
	[ -n "$id" ] || fail "$dir: transfer.send failed: $(cat "$T/send.json")"
	wait_end 30 alice "$id" "$T/out.json"
	jq -e --arg c "$code" '.state == "rejected" and .reason.code == $c' "$T/out.json" >/dev/null ||
		fail "honest $dir: expected rejected/$code: $(cat "$T/out.json")"
	bob_is_clean "honest $dir"
	pass "honest $dir: $code: $(jq -r .reason.message "$T/out.json")"
done

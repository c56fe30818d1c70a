#!/bin/sh
# A full disk on the receiver: bob's save dir is a 4 MiB tmpfs. An offer bigger than
# the free space is refused before anything is written (no-space); two offers that
# each fit but not together are both accepted, and the one that runs into ENOSPC
# fails with no-space on both sides, its partial file removed, while the other file
# arrives intact and bob keeps serving.
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
command -v jq >/dev/null 2>&1 || skip "jq is missing"
command -v mount >/dev/null 2>&1 && command -v umount >/dev/null 2>&1 || skip "mount/umount are missing"

INBOX="$T/bob/inbox"
mkdir -p "$INBOX"
mount -t tmpfs -o size=4m,mode=0750 tmpfs "$INBOX" 2>"$T/mount.err" ||
	skip "cannot mount a tmpfs on $INBOX: $(cat "$T/mount.err")"
unmount_inbox() { umount "$INBOX" 2>/dev/null || umount -l "$INBOX"; }
CLEANUP_EXTRA=unmount_inbox

start_signald
# offers wait for "accept", so that both can be checked before either writes a byte
start_daemon bob --auto-accept false --min-free-space 1M
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

no_partials() { [ -z "$(ls -A "$INBOX/.p2pd-partial" 2>/dev/null)" ]; }

# 1. bigger than the disk: refused at the offer
head -c 5242880 /dev/urandom >"$T/huge.bin"
rc=0; ctl alice --json send "$T/huge.bin" bob >"$T/out" 2>&1 || rc=$?
[ $rc -eq 4 ] || fail "huge: exit $rc, expected 4: $(cat "$T/out")"
[ "$(jq -r '.reason.code' "$T/out")" = no-space ] || fail "huge: not no-space: $(cat "$T/out")"
jq -r '.reason.message' "$T/out" | grep -q "not enough space: 5242880 bytes offered" ||
	fail "huge: the message does not say what did not fit: $(cat "$T/out")"
[ -z "$(ls "$INBOX")" ] && no_partials || fail "huge: something was written: $(ls -AR "$INBOX")"
pass "an offer bigger than the free space is refused: $(jq -r '.reason.message' "$T/out")"

# 2. 2.5 MiB each: each passes the space check (with its 1 MiB reserve), together they
# do not fit
head -c 2621440 /dev/urandom >"$T/first.bin"
head -c 2621440 /dev/urandom >"$T/second.bin"
ctl alice --json send "$T/first.bin" bob >"$T/first.json" 2>&1 &
first_pid=$!
ctl alice --json send "$T/second.bin" bob >"$T/second.json" 2>&1 &
second_pid=$!
PIDS="$PIDS $first_pid $second_pid"
both_offered() {
	ctl bob --json transfers >"$T/list.json" &&
		[ "$(jq '[.transfers[] | select(.state == "offered")] | length' "$T/list.json")" -eq 2 ]
}
wait_for 15 both_offered || fail "bob did not get both offers: $(cat "$T/list.json")"
# alice pauses, so that her data cannot reach bob before he accepted both
kill -STOP "$PID_alice"
for id in $(jq -r '.transfers[] | select(.state == "offered") | .id' "$T/list.json"); do
	ctl bob accept "$id" >/dev/null 2>"$T/accept.err" || {
		kill -CONT "$PID_alice"; fail "accept $id failed: $(cat "$T/accept.err")"; }
done
kill -CONT "$PID_alice"
rc1=0; wait $first_pid || rc1=$?
rc2=0; wait $second_pid || rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 4 ]; then
	good=first lost=second
elif [ $rc1 -eq 4 ] && [ $rc2 -eq 0 ]; then
	good=second lost=first
else
	fail "expected one send to succeed and one to fail: exits $rc1 $rc2: $(cat "$T/first.json" "$T/second.json")"
fi
[ "$(jq -r '.reason.code' "$T/$lost.json")" = no-space ] ||
	fail "$lost: the sender's reason is not no-space: $(cat "$T/$lost.json")"
jq -r '.reason.message' "$T/$lost.json" | grep -q "disk is full" ||
	fail "$lost: the message does not say the disk is full: $(cat "$T/$lost.json")"
ctl bob --json transfers >"$T/list.json" || fail "bob does not answer after ENOSPC"
jq -e --arg n "$lost.bin" '.transfers[] | select(.name == $n) |
	.state == "failed" and .reason.code == "no-space"' "$T/list.json" >/dev/null ||
	fail "$lost: bob did not fail it with no-space: $(cat "$T/list.json")"
cmp "$T/$good.bin" "$INBOX/$good.bin" || fail "$good.bin did not arrive intact"
test ! -e "$INBOX/$lost.bin" || fail "$lost.bin is in the inbox"
no_partials || fail "the partial file of $lost.bin was left: $(ls -A "$INBOX/.p2pd-partial")"
[ "$(ls "$INBOX")" = "$good.bin" ] || fail "unexpected files in the inbox: $(ls -A "$INBOX")"
pass "ENOSPC: $lost.bin failed on both sides ($(jq -r '.reason.message' "$T/$lost.json")), $good.bin intact"

# 3. bob keeps serving: a small file still arrives
echo "after the disk was full" >"$T/small.txt"
ctl alice send "$T/small.txt" bob >"$T/small.out" 2>&1 &
small_pid=$!
PIDS="$PIDS $small_pid"
small_offered() {
	ctl bob --json transfers >"$T/list.json" &&
		jq -e '.transfers[] | select(.name == "small.txt" and .state == "offered")' \
			"$T/list.json" >/dev/null
}
wait_for 15 small_offered || fail "small: no offer on bob: $(cat "$T/list.json")"
ctl bob accept "$(jq -r '.transfers[] | select(.name == "small.txt") | .id' "$T/list.json")" \
	>/dev/null || fail "small: accept failed"
wait $small_pid || fail "small: send failed: $(cat "$T/small.out")"
cmp "$T/small.txt" "$INBOX/small.txt" || fail "small.txt differs"
pass "bob keeps serving after a full disk"

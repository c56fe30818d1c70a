#!/bin/sh
# Trees against a small disk: bob's save dir is an 8 MiB tmpfs and he keeps 4 MiB free
# (min-free-space). A tree bigger than the disk, and a tree that fits but would leave
# less than min-free-space, are both refused at the offer with no-space: alice learns
# why, nothing is written. A tree that leaves enough free arrives.
# (A sender that lies about sizes in its manifest is p2pd-hostile-manifest.sh's.)
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
need_tools jq python3 mount umount

INBOX="$T/bob/inbox"
mkdir -p "$INBOX"
mount -t tmpfs -o size=8m,mode=0750 tmpfs "$INBOX" 2>"$T/mount.err" ||
	skip "cannot mount a tmpfs on $INBOX: $(cat "$T/mount.err")"
unmount_inbox() { umount "$INBOX" 2>/dev/null || umount -l "$INBOX"; }
CLEANUP_EXTRA=unmount_inbox

start_signald
start_daemon bob --min-free-space 4M
start_daemon alice
wait_for 10 sees alice bob || fail "alice does not see bob"

# make_tree DIR MIB: DIR/ with MIB files of 1 MiB in two subdirectories
make_tree() {
	mkdir -p "$1/a" "$1/b/c"
	mt_i=0
	while [ $mt_i -lt "$2" ]; do
		if [ $((mt_i % 2)) -eq 0 ]; then mt_d=a; else mt_d=b/c; fi
		head -c 1048576 /dev/urandom >"$1/$mt_d/f$mt_i.bin"
		mt_i=$((mt_i + 1))
	done
}

# refused WHAT: alice's send of $T/WHAT ends rejected with no-space, nothing written
refused() {
	xsend alice bob "$T/$1" >"$T/send.json"
	id=$(jq -r '.result.id // empty' "$T/send.json")
	[ -n "$id" ] || fail "$1: transfer.send failed: $(cat "$T/send.json")"
	wait_end 30 alice "$id" "$T/end.json"
	jq -e '.state == "rejected" and .reason.code == "no-space"' "$T/end.json" >/dev/null ||
		fail "$1: not refused with no-space: $(cat "$T/end.json")"
	jq -e '.reason.message | length > 0' "$T/end.json" >/dev/null || fail "$1: no message"
	[ -z "$(ls -A "$INBOX" | grep -v '^\.p2pd-partial$')" ] &&
		[ -z "$(ls -A "$INBOX/.p2pd-partial" 2>/dev/null)" ] ||
		fail "$1: something was written: $(ls -AR "$INBOX")"
	pass "$1 refused at the offer: $(jq -r .reason.message "$T/end.json")"
}

# 1. 10 MiB: more than the whole disk
make_tree "$T/huge" 10
refused huge
# 2. 6 MiB: fits in 8 MiB, but would leave less than the 4 MiB bob keeps free
make_tree "$T/tight" 6
refused tight
# 3. 3 MiB: leaves enough; arrives whole
make_tree "$T/fits" 3
xsend alice bob "$T/fits" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "fits: transfer.send failed: $(cat "$T/send.json")"
wait_end 60 alice "$id" "$T/end.json"
jq -e '.state == "complete"' "$T/end.json" >/dev/null || fail "fits: $(cat "$T/end.json")"
diff -r "$T/fits" "$INBOX/fits" >"$T/diff.out" 2>&1 || fail "fits: the tree differs: $(cat "$T/diff.out")"
pass "a tree that leaves min-free-space arrives whole"
# 4. the same 3 MiB again: now about 5 MiB free, 3 more would leave less than 4
xsend alice bob "$T/fits" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "fits again: transfer.send failed: $(cat "$T/send.json")"
wait_end 30 alice "$id" "$T/end.json"
jq -e '.state == "rejected" and .reason.code == "no-space"' "$T/end.json" >/dev/null ||
	fail "fits again: not refused with no-space: $(cat "$T/end.json")"
[ "$(ls -A "$INBOX" | grep -v '^\.p2pd-partial$')" = fits ] &&
	[ -z "$(ls -A "$INBOX/.p2pd-partial" 2>/dev/null)" ] ||
	fail "fits again: something was written: $(ls -A "$INBOX")"
diff -r "$T/fits" "$INBOX/fits" >/dev/null 2>&1 || fail "fits again: the first copy changed"
pass "the space already used counts: $(jq -r .reason.message "$T/end.json")"

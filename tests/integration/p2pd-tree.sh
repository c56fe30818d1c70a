#!/bin/sh
# A directory tree and a plain file in one send: nested and empty directories, files of
# 0 bytes to 3 MiB, modes and mtimes kept on files and directories, a symlink inside the
# tree kept as a symlink; a symlink pointing out of the tree and a FIFO skipped with a
# warning on the sender and absent on the receiver. The same names again land as
# "tree (1)" and "plain (1).txt", nothing that was there overwritten.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3 mkfifo diff

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"

S="$T/src"
mkdir -p "$S/tree/sub/deep" "$S/tree/empty" "$S/tree/private"
: >"$S/tree/zero.bin"
printf 'small\n' >"$S/tree/sub/small.txt"
head -c 3145728 /dev/urandom >"$S/tree/sub/deep/big.bin"
head -c 10000 /dev/urandom >"$S/tree/sub/ro.dat"
printf '#!/bin/sh\necho hi\n' >"$S/tree/run.sh"
printf 'secret\n' >"$S/tree/private/key.txt"
ln -s sub/small.txt "$S/tree/link"
ln -s /etc/passwd "$S/tree/outside"
mkfifo "$S/tree/fifo"
printf 'plain\n' >"$S/plain.txt"
chmod 0644 "$S/tree/zero.bin" "$S/tree/sub/deep/big.bin"
chmod 0755 "$S/tree/run.sh"
chmod 0600 "$S/tree/private/key.txt"
chmod 0640 "$S/tree/sub/small.txt" "$S/plain.txt"
chmod 0444 "$S/tree/sub/ro.dat"
chmod 0750 "$S/tree/sub"
chmod 0700 "$S/tree/private"
chmod 0755 "$S/tree" "$S/tree/empty" "$S/tree/sub/deep"
# mtimes last, directories after what is in them, each a different time
touch -d '2021-03-04 05:06:07' "$S/tree/zero.bin"
touch -d '2020-01-02 03:04:05' "$S/tree/sub/small.txt"
touch -d '2019-05-06 07:08:09' "$S/tree/sub/deep/big.bin"
touch -d '2018-07-08 09:10:11' "$S/tree/sub/ro.dat"
touch -d '2017-09-10 11:12:13' "$S/tree/run.sh"
touch -d '2016-11-12 13:14:15' "$S/tree/private/key.txt"
touch -d '2022-02-03 04:05:06' "$S/plain.txt"
touch -d '2015-01-01 00:00:01' "$S/tree/sub/deep"
touch -d '2015-02-01 00:00:02' "$S/tree/sub"
touch -d '2015-03-01 00:00:03' "$S/tree/empty"
touch -d '2015-04-01 00:00:04' "$S/tree/private"
touch -d '2015-05-01 00:00:05' "$S/tree"

# what bob must end up with: the tree without the two skipped entries
tree_listing "$S/tree" | grep -v '^\./outside \|^\./fifo ' >"$T/expected.list"
mkdir -p "$T/expected"
cp -a "$S/tree" "$T/expected/tree"
rm -f "$T/expected/tree/outside" "$T/expected/tree/fifo"
size=$( (find "$T/expected/tree" -type f -printf '%s\n'; stat -c %s "$S/plain.txt") |
	awk '{ s += $1 } END { print s }')

xsend alice bob "$S/tree" "$S/plain.txt" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "transfer.send failed: $(cat "$T/send.json")"
# the sender says what it skipped, one warning each, naming the entry
jq -e '.result.warnings | length == 2' "$T/send.json" >/dev/null ||
	fail "expected 2 warnings (outside symlink, FIFO): $(jq -c .result.warnings "$T/send.json")"
jq -e '[.result.warnings[] | select(test("outside"))] | length == 1' "$T/send.json" >/dev/null ||
	fail "no warning names the symlink to /etc/passwd: $(jq -c .result.warnings "$T/send.json")"
jq -e '[.result.warnings[] | select(test("fifo"))] | length == 1' "$T/send.json" >/dev/null ||
	fail "no warning names the FIFO: $(jq -c .result.warnings "$T/send.json")"
jq -e '.result.files == 7 and .result.dirs == 5 and .result.links == 1 and
	.result.items == ["tree", "plain.txt"] and (.result.name | startswith("tree"))' \
	"$T/send.json" >/dev/null || fail "the sender's counts are wrong: $(jq -c .result "$T/send.json")"
wait_end 60 alice "$id" "$T/alice-end.json"
jq -e '.state == "complete"' "$T/alice-end.json" >/dev/null ||
	fail "the tree did not arrive: $(cat "$T/alice-end.json")"
pass "tree + file sent; warnings: $(jq -r '.result.warnings | join("; ")' "$T/send.json")"

# bob's record of it
xlist bob | jq -c '[.[] | select(.peer == "alice" and .direction == "in")] | sort_by(.started) | last' >"$T/bob-xfer.json"
bid=$(jq -r '.id' "$T/bob-xfer.json")
wait_end 30 bob "$bid" "$T/bob-end.json"
jq -e --arg inbox "$T/bob/inbox" '.state == "complete" and .files == 7 and .dirs == 5 and
	.links == 1 and .paths == [$inbox + "/tree", $inbox + "/plain.txt"]' "$T/bob-end.json" \
	>/dev/null || fail "bob's transfer object is wrong: $(cat "$T/bob-end.json")"
[ "$(jq -r .size "$T/bob-end.json")" = "$size" ] && [ "$(jq -r .size "$T/alice-end.json")" = "$size" ] ||
	fail "size is not $size: bob $(jq .size "$T/bob-end.json"), alice $(jq .size "$T/alice-end.json")"

# the contents, the modes and mtimes, the inside symlink
diff -r --no-dereference "$T/expected/tree" "$T/bob/inbox/tree" >"$T/diff.out" 2>&1 ||
	fail "the received tree differs: $(cat "$T/diff.out")"
tree_listing "$T/bob/inbox/tree" >"$T/got.list"
diff "$T/expected.list" "$T/got.list" >"$T/diff.out" ||
	fail "modes, mtimes or the symlink differ (< expected, > got): $(cat "$T/diff.out")"
[ "$(readlink "$T/bob/inbox/tree/link")" = sub/small.txt ] || fail "the inside symlink is not sub/small.txt"
test ! -e "$T/bob/inbox/tree/outside" && test ! -L "$T/bob/inbox/tree/outside" ||
	fail "the outside symlink reached bob"
test ! -e "$T/bob/inbox/tree/fifo" || fail "the FIFO reached bob"
cmp "$S/plain.txt" "$T/bob/inbox/plain.txt" || fail "plain.txt differs"
[ "$(stat -c '%a %Y' "$T/bob/inbox/plain.txt")" = "$(stat -c '%a %Y' "$S/plain.txt")" ] ||
	fail "plain.txt: mode or mtime not kept: $(stat -c '%a %Y' "$T/bob/inbox/plain.txt")"
[ "$(ls -A "$T/bob/inbox" | grep -v '^\.p2pd-partial$' | LC_ALL=C sort | paste -sd,)" = "plain.txt,tree" ] ||
	fail "unexpected entries in bob's inbox: $(ls -A "$T/bob/inbox")"
test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" || fail "partial files left"
pass "tree identical: contents, modes, mtimes, inside symlink; skipped entries absent"

# the same names again, other contents: "tree (1)", "plain (1).txt", the first untouched
S2="$T/src2"
mkdir -p "$S2"
cp -a "$S/tree" "$S2/tree"
rm -f "$S2/tree/outside" "$S2/tree/fifo"
printf 'other small\n' >"$S2/tree/sub/small.txt"
printf 'other plain\n' >"$S2/plain.txt"
xsend alice bob "$S2/tree" "$S2/plain.txt" >"$T/send2.json"
id2=$(jq -r '.result.id // empty' "$T/send2.json")
[ -n "$id2" ] || fail "second transfer.send failed: $(cat "$T/send2.json")"
jq -e '.result.warnings | length == 0' "$T/send2.json" >/dev/null ||
	fail "warnings for a clean tree: $(jq -c .result.warnings "$T/send2.json")"
wait_end 60 alice "$id2" "$T/alice-end2.json"
jq -e '.state == "complete"' "$T/alice-end2.json" >/dev/null ||
	fail "the second send did not complete: $(cat "$T/alice-end2.json")"
diff -r --no-dereference "$T/expected/tree" "$T/bob/inbox/tree" >"$T/diff.out" 2>&1 ||
	fail "the first tree was changed by the second send: $(cat "$T/diff.out")"
tree_listing "$T/bob/inbox/tree" | diff "$T/expected.list" - >"$T/diff.out" ||
	fail "the first tree's modes or mtimes changed: $(cat "$T/diff.out")"
cmp "$S/plain.txt" "$T/bob/inbox/plain.txt" || fail "the first plain.txt was overwritten"
diff -r --no-dereference "$S2/tree" "$T/bob/inbox/tree (1)" >"$T/diff.out" 2>&1 ||
	fail "\"tree (1)\" is not the second tree: $(cat "$T/diff.out")"
cmp "$S2/plain.txt" "$T/bob/inbox/plain (1).txt" || fail "no \"plain (1).txt\" with the second contents"
xlist bob | jq -c '[.[] | select(.peer == "alice" and .direction == "in")] | sort_by(.started) | last' >"$T/bob-xfer2.json"
wait_end 30 bob "$(jq -r .id "$T/bob-xfer2.json")" "$T/bob-end2.json"
jq -e --arg inbox "$T/bob/inbox" '.paths == [$inbox + "/tree (1)", $inbox + "/plain (1).txt"]' \
	"$T/bob-end2.json" >/dev/null || fail "bob's paths for the second send: $(jq -c .paths "$T/bob-end2.json")"
pass "the same names again: \"tree (1)\" and \"plain (1).txt\", nothing overwritten"

# two top-level items with the same base name: refused before anything is offered
xsend alice bob "$S/plain.txt" "$S2/plain.txt" >"$T/dup.json"
jq -e '.error.code == -32602 and (.error.message | test("plain.txt"))' "$T/dup.json" >/dev/null ||
	fail "two items named plain.txt: expected -32602 naming it: $(cat "$T/dup.json")"
pass "two items with one name refused: $(jq -r .error.message "$T/dup.json")"

# no path, or a relative one: invalid params (bob is visible, so it is not the peer)
for params in '{"paths":[],"peer":"bob"}' '{"paths":["relative/x"],"peer":"bob"}'; do
	rpc alice transfer.send "$params" >"$T/bad.json"
	jq -e '.error.code == -32602' "$T/bad.json" >/dev/null ||
		fail "transfer.send $params: expected -32602: $(cat "$T/bad.json")"
done
pass "no path or a relative path: invalid params"

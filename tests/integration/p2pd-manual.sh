#!/bin/sh
# Offers that wait for a person (auto-accept = false): the offer is listed with what it
# holds; accept into a directory of one's choosing; reject with a reason the sender
# reads; cancel by either side mid-transfer, nothing partial left behind; an offer
# nobody answers expires on both sides; "unknown = ask" makes a peer outside the
# allowlist wait instead of being refused. Afterwards the history of all of it
# survives a restart of both daemons.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3

start_signald
# 4 MiB/s: a 32 MiB file takes seconds, time enough to cancel it in the middle
start_daemon alice --rate-limit 4M
start_daemon bob --auto-accept false
wait_for 10 sees alice bob || fail "alice does not see bob"

mkdir -p "$T/src/photos/2024"
head -c 20000 /dev/urandom >"$T/src/photos/a.jpg"
head -c 30000 /dev/urandom >"$T/src/photos/2024/b.jpg"
printf 'notes\n' >"$T/src/notes.txt"
head -c 33554432 /dev/urandom >"$T/src/big.bin"

# incoming_offer NAME PEER ITEM: the id of NAME's offered, incoming transfer from PEER
# whose first item is ITEM (waits for it, up to 15 s)
incoming_offer() {
	wait_jq 15 "$1" '[.[] | select(.direction == "in" and .peer == "'"$2"'" and
		.state == "offered" and .items[0] == "'"$3"'")] | length == 1' ||
		fail "$1 has no offer of $3 from $2: $(cat "$T/list.json")"
	jq -r '.[] | select(.direction == "in" and .peer == "'"$2"'" and .state == "offered" and
		.items[0] == "'"$3"'") | .id' "$T/list.json"
}
# send_ok NAME PEER PATH...: transfer.send, prints the id
send_ok() {
	xsend "$@" >"$T/send.json"
	jq -r '.result.id // empty' "$T/send.json" | grep . || fail "transfer.send $*: $(cat "$T/send.json")"
}
nothing_partial() { # nothing_partial WHAT DIR: DIR has no partial file and nothing named like WHAT
	test -z "$(ls -A "$2/.p2pd-partial" 2>/dev/null)" || fail "partial files left in $2: $(ls -A "$2/.p2pd-partial")"
	test -z "$(find "$2" -name "$1*" -print)" || fail "$1 left in $2: $(find "$2" -name "$1*")"
}

# 1. the offer waits, listed with its contents; accepted into another directory
id=$(send_ok alice bob "$T/src/photos" "$T/src/notes.txt")
bid=$(incoming_offer bob alice photos)
xstatus bob "$bid" >"$T/offer.json"
jq -e '.state == "offered" and .files == 3 and .dirs == 2 and .size == 50006 and
	.items == ["photos", "notes.txt"]' "$T/offer.json" >/dev/null ||
	fail "the waiting offer does not show what it holds: $(cat "$T/offer.json")"
xstatus alice "$id" | jq -e '.state == "offered"' >/dev/null || fail "alice's side is not offered"
mkdir -p "$T/chosen"
xcall bob transfer.accept "$bid" "{\"output\":\"$T/chosen\"}" >"$T/acc.json"
jq -e '.result' "$T/acc.json" >/dev/null || fail "accept --output failed: $(cat "$T/acc.json")"
wait_end 30 alice "$id" "$T/a1.json"
jq -e '.state == "complete"' "$T/a1.json" >/dev/null || fail "accepted transfer failed: $(cat "$T/a1.json")"
wait_end 30 bob "$bid" "$T/b1.json"
diff -r "$T/src/photos" "$T/chosen/photos" >"$T/diff.out" 2>&1 || fail "photos differ: $(cat "$T/diff.out")"
cmp "$T/src/notes.txt" "$T/chosen/notes.txt" || fail "notes.txt differs"
jq -e --arg o "$T/chosen" '.state == "complete" and .output == $o and
	.paths == [$o + "/photos", $o + "/notes.txt"]' "$T/b1.json" >/dev/null ||
	fail "bob's record does not name the chosen directory: $(cat "$T/b1.json")"
test -z "$(ls "$T/bob/inbox" 2>/dev/null)" || fail "the save dir got files: $(ls "$T/bob/inbox")"
# a relative output directory is refused
id=$(send_ok alice bob "$T/src/notes.txt")
bid=$(incoming_offer bob alice notes.txt)
xcall bob transfer.accept "$bid" '{"output":"relative/dir"}' | jq -e '.error.code == -32602' >/dev/null ||
	fail "accept into a relative output directory was not refused with -32602"
xcall bob transfer.accept "$bid" "{\"output\":\"$T/no/such/dir\"}" | jq -e '.error.code == -32006' >/dev/null ||
	fail "accept into a missing directory was not refused with -32006"
pass "an offer waits, shows what it holds, and lands in the directory chosen at accept"

# 2. reject with a reason (the notes.txt offer still waits)
xcall bob transfer.reject "$bid" '{"reason":"not today, thanks"}' >"$T/rej.json"
jq -e '.result' "$T/rej.json" >/dev/null || fail "reject failed: $(cat "$T/rej.json")"
wait_end 30 alice "$id" "$T/a2.json"
jq -e '.state == "rejected" and .reason.code == "declined" and
	(.reason.message | contains("not today, thanks"))' "$T/a2.json" >/dev/null ||
	fail "alice did not learn the rejection and its reason: $(cat "$T/a2.json")"
nothing_partial notes "$T/bob/inbox"
pass "reject --reason: alice sees $(jq -c .reason "$T/a2.json")"

# 3. cancel mid-transfer, by the receiver and by the sender
cancel_by() { # cancel_by WHO
	id=$(send_ok alice bob "$T/src/big.bin")
	bid=$(incoming_offer bob alice big.bin)
	xcall bob transfer.accept "$bid" >/dev/null
	wait_jq 30 bob '.[] | select(.id == "'"$bid"'" and .state == "transferring" and .bytes > 0)' ||
		fail "cancel by $1: the transfer did not start: $(cat "$T/list.json")"
	if [ "$1" = bob ]; then cid=$bid; else cid=$id; fi
	xcall "$1" transfer.cancel "$cid" '{"reason":"changed my mind"}' >"$T/can.json"
	jq -e '.result.state == "cancelled"' "$T/can.json" >/dev/null ||
		fail "cancel by $1: $(cat "$T/can.json")"
	wait_end 30 alice "$id" "$T/ca.json"
	wait_end 30 bob "$bid" "$T/cb.json"
	jq -e '.state == "cancelled" and .reason.code == "cancelled"' "$T/ca.json" >/dev/null ||
		fail "cancel by $1: alice's side is not cancelled: $(cat "$T/ca.json")"
	jq -e '.state == "cancelled" and .reason.code == "cancelled"' "$T/cb.json" >/dev/null ||
		fail "cancel by $1: bob's side is not cancelled: $(cat "$T/cb.json")"
	jq -e '.size > .bytes' "$T/cb.json" >/dev/null || fail "cancel by $1: it completed first"
	nothing_partial big "$T/bob/inbox"
	# cancelling again: not active any more
	xcall "$1" transfer.cancel "$cid" | jq -e '.error.code == -32010' >/dev/null ||
		fail "cancel by $1: a second cancel was not refused with -32010"
	pass "cancel by $1 mid-transfer: both sides cancelled at $(jq .bytes "$T/cb.json") bytes, nothing left"
}
cancel_by bob
cancel_by alice

# 4. an offer nobody answers expires on both sides
start_daemon carol --auto-accept false --offer-timeout 2
wait_for 10 sees alice carol || fail "alice does not see carol"
id=$(send_ok alice carol "$T/src/notes.txt")
cid=$(incoming_offer carol alice notes.txt)
wait_end 30 carol "$cid" "$T/cc.json"
wait_end 30 alice "$id" "$T/ac.json"
jq -e '.state == "rejected" and .reason.code == "expired"' "$T/cc.json" >/dev/null ||
	fail "carol's offer did not expire: $(cat "$T/cc.json")"
jq -e '.state == "rejected" and .reason.code == "expired"' "$T/ac.json" >/dev/null ||
	fail "alice did not learn that the offer expired: $(cat "$T/ac.json")"
test -z "$(ls "$T/carol/inbox" 2>/dev/null)" || fail "carol's inbox got files"
pass "offer-timeout: both sides see rejected/expired"

# 5. unknown = ask: alice is outside dave's allowlist; her offer waits even though dave
# accepts automatically what his allowlist lets in
start_daemon dave --allow bob --unknown ask --auto-accept true
wait_for 10 sees alice dave || fail "alice does not see dave"
id=$(send_ok alice dave "$T/src/notes.txt")
did=$(incoming_offer dave alice notes.txt)
sleep 1
xstatus alice "$id" | jq -e '.state == "offered"' >/dev/null ||
	fail "unknown = ask: alice's offer did not wait: $(xstatus alice "$id")"
xcall dave transfer.accept "$did" >/dev/null
wait_end 30 alice "$id" "$T/ad.json"
jq -e '.state == "complete"' "$T/ad.json" >/dev/null || fail "unknown = ask: accept failed: $(cat "$T/ad.json")"
cmp "$T/src/notes.txt" "$T/dave/inbox/notes.txt" || fail "unknown = ask: the file differs"
pass "unknown = ask: a peer outside allow waits for a decision"

# 6. history survives a restart of both daemons: 1 complete, 1 rejected (declined),
# 2 cancelled between alice and bob
xlist alice >"$T/before.json"
stop_daemon alice; stop_daemon bob
rm -f "$T/alice/ctl.sock" "$T/bob/ctl.sock"
start_daemon alice --rate-limit 4M
start_daemon bob --auto-accept false
ctl alice --json transfers --all >"$T/hist.json" || fail "p2pctl transfers --all failed: $(cat "$T/hist.json")"
jq -c 'if type == "array" then . else .transfers end | [.[] | select(.peer == "bob")]' "$T/hist.json" >"$T/ha.json"
for st in complete rejected cancelled; do
	jq -c --arg s "$st" '[.[] | select(.peer == "bob" and .state == $s)] | map(.id) | sort' "$T/before.json" >"$T/want"
	jq -c --arg s "$st" '[.[] | select(.state == $s)] | map(.id) | sort' "$T/ha.json" >"$T/got"
	cmp -s "$T/want" "$T/got" || fail "history after restart, $st: want $(cat "$T/want"), got $(cat "$T/got")"
done
jq -e '[.[] | select(.state == "complete" and .files == 3 and .dirs == 2 and .bytes == 50006)] |
	length == 1' "$T/ha.json" >/dev/null || fail "the complete transfer lost its files/bytes: $(cat "$T/ha.json")"
jq -e '[.[] | select(.state == "rejected" and .reason.code == "declined" and
	(.reason.message | contains("not today")))] | length == 1' "$T/ha.json" >/dev/null ||
	fail "the rejected transfer lost its reason: $(cat "$T/ha.json")"
jq -e '[.[] | select(.state == "cancelled" and .reason.code == "cancelled")] | length == 2' \
	"$T/ha.json" >/dev/null || fail "the cancelled transfers are not in the history: $(cat "$T/ha.json")"
xlist bob all >"$T/hb.json"
jq -e '[.[] | select(.peer == "alice")] | (map(.state) | sort) ==
	["cancelled", "cancelled", "complete", "rejected"]' "$T/hb.json" >/dev/null ||
	fail "bob's history after restart: $(jq -c '[.[] | {id, state, reason}]' "$T/hb.json")"
xlist alice >"$T/now.json"
jq -e '[.[] | select(.peer == "bob")] | length == 0' "$T/now.json" >/dev/null ||
	fail "transfer.list without all lists earlier runs' transfers: $(cat "$T/now.json")"
pass "history survives a restart: $(jq -r 'map(.state) | join(", ")' "$T/ha.json")"

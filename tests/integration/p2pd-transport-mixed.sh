#!/bin/sh
# Two daemons configured with different udp-transport settings still connect: the
# offering side's choice travels in the signaling offer and the answering side runs
# the session with it. alice (pseudotcp) sends to bob (datagram): the session carries
# pseudotcp on both ends; then bob, after a fresh start of both, sends to alice: datagram.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3 sha256sum

start_signald
start_daemon alice --udp-transport pseudotcp
start_daemon bob --udp-transport datagram
wait_for 10 sees alice bob || fail "alice does not see bob"
head -c 3000000 /dev/urandom >"$T/f.bin"

carrier() { rpc "$1" peers.list | jq -r --arg p "$2" '.result.peers[] | select(.id == $p) | .link.carrier // empty'; }

# send FROM TO WANT: a verified file, and both ends report the carrier WANT
send_check() {
	xsend "$1" "$2" "$T/f.bin" >"$T/send.json"
	id=$(jq -r '.result.id // empty' "$T/send.json")
	[ -n "$id" ] || fail "$1 -> $2: transfer.send: $(cat "$T/send.json")"
	wait_end 60 "$1" "$id" "$T/end.json"
	jq -e '.state == "complete"' "$T/end.json" >/dev/null || fail "$1 -> $2: $(cat "$T/end.json")"
	cmp "$T/f.bin" "$T/$2/inbox/f.bin" || fail "$1 -> $2: the file differs"
	rm -f "$T/$2/inbox/f.bin"
	a=$(carrier "$1" "$2"); b=$(carrier "$2" "$1")
	[ "$a" = "$3" ] && [ "$b" = "$3" ] || fail "$1 -> $2: carriers $a / $b, expected $3 on both"
	pass "$1 ($4) offers to $2: the session runs $3 on both ends, the file is intact"
}
send_check alice bob pseudotcp "pseudotcp"

stop_daemon alice; stop_daemon bob
rm -f "$T/alice/ctl.sock" "$T/bob/ctl.sock"
start_daemon alice --udp-transport pseudotcp
start_daemon bob --udp-transport datagram
wait_for 10 sees bob alice || fail "bob does not see alice"
send_check bob alice datagram "datagram"

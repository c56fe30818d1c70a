#!/bin/sh
# Lab scenario 6b: the relay restarts under a live transfer. alice and bob each behind
# a symmetric NAT, so the pair goes through coturn; mid-transfer coturn is stopped and
# started again, which forgets every allocation: the relayed path is dead. The session
# notices, a new ICE session through signaling allocates afresh on the new coturn (the
# credentials p2p-signald handed out are still good), and the transfer resumes from
# the receiver's journal: verified, little more than once, one record at bob.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl sha256sum
lab_init
lab_public
LAB_SIGNALD_ARGS="--turn-server $LAB_SRV:$LAB_TURN_PORT --turn-secret-file $T/turn.secret --turn-ttl 600"
lab_servers
lab_router home1 1 sym
lab_router home2 2 sym
lab_host_home a home1 1 2
lab_host_home b home2 2 2
lab_daemon alice a --ice-tcp false --turn-transport udp --rate-limit 2M
lab_daemon bob b --ice-tcp false --turn-transport udp
wait_for 20 sees alice bob || fail "alice does not see bob"

SIZE=33554432
head -c $SIZE /dev/urandom >"$T/big.bin"
sum=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_jq 60 bob '[.[] | select(.name == "big.bin" and .bytes >= 4194304)] | length > 0' ||
	fail "the transfer did not get going: $(cat "$T/list.json")"
ctl alice --json list >"$T/peers-before.json"
jq -e '.peers[] | select(.id == "bob") | .sessions == 1 and .link.relayed == true and
	(.link.type == "relayed-udp") and
	([.link.local, .link.remote][] | select(.type == "relay") | .relay == "turn-udp")' \
	"$T/peers-before.json" >/dev/null ||
	fail "not one relayed session before the restart: $(cat "$T/peers-before.json")"
before=$(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-before.json")

lab_restart_turnserver
cut_at=$(date +%s)
pass "coturn restarted at about $(jq -r '[.[] | select(.name == "big.bin")][0].bytes' "$T/list.json") bytes: $before"

new_session() {
	ctl alice --json list >"$T/peers-after.json" &&
		jq -e '.peers[] | select(.id == "bob") | .sessions >= 2 and .link != null' \
			"$T/peers-after.json" >/dev/null
}
wait_for 120 new_session || fail "alice found no new path to bob: $(cat "$T/peers-after.json")"
after=$(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-after.json")
pass "a new session with bob after $(($(date +%s) - cut_at)) s: $after"
case "$after" in *relay*) ;; *) fail "the new path is not relayed: $after" ;; esac

wait_end 180 alice "$id" "$T/alice-end.json"
jq -e --arg s "$sum" '.state == "complete" and .sha256 == $s' "$T/alice-end.json" >/dev/null ||
	fail "the transfer did not complete after the relay restarted: $(cat "$T/alice-end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the received file differs"
wire=$(jq -r '.wire_bytes' "$T/alice-end.json")
[ "$wire" -lt $((SIZE + SIZE / 4)) ] ||
	fail "alice sent $wire bytes for a $SIZE-byte file: it started over instead of resuming"
xlist bob all | jq -c '[.[] | select(.peer == "alice" and .direction == "in")]' >"$T/bob.json"
jq -e 'length == 1' "$T/bob.json" >/dev/null ||
	fail "bob has more than one record of the transfer (not resumed?): $(cat "$T/bob.json")"
pass "the relay restarted and the transfer went on: $before -> $after; sha256 ok, $wire bytes sent for $SIZE"

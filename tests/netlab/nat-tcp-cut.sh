#!/bin/sh
# Lab scenario 6c: an ICE-TCP path dies under a live transfer. alice behind an
# endpoint-independent NAT, bob on the public network: the pair is ICE-TCP (kernel
# TCP). Mid-transfer bob's host drops every packet of that TCP connection, both ways:
# no RST, no FIN, the connection just hangs, as when an address goes away. The
# session notices (consent checks ride on the stuck connection and go unanswered; the
# peer's silence), a new ICE session comes up on a new connection, and the transfer
# resumes from the receiver's journal: verified, little more than once. alice offers
# udp-transport=pseudotcp (bob follows the offer): libnice's reliable agent prefers the
# ICE-TCP pair, which is what this scenario cuts; with the datagram default the pair
# would be UDP, and scenario 6 covers a UDP path dying.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl sha256sum ss
lab_init
lab_public
lab_servers
lab_router home 1 ei
lab_host_home a home 1 2
lab_host_public b 10.99.0.20
lab_daemon alice a --rate-limit 4M --udp-transport pseudotcp
lab_daemon bob b
wait_for 20 sees alice bob || fail "alice does not see bob"

SIZE=50331648
head -c $SIZE /dev/urandom >"$T/big.bin"
sum=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_jq 60 bob '[.[] | select(.name == "big.bin" and .bytes >= 8388608)] | length > 0' ||
	fail "the transfer did not get going: $(cat "$T/list.json")"
ctl alice --json list >"$T/peers-before.json"
jq -e '.peers[] | select(.id == "bob") | .sessions == 1 and .link.type == "direct-tcp" and
	.link.transport == "tcp" and .link.remote.address == "10.99.0.20"' "$T/peers-before.json" \
	>/dev/null || fail "not one direct ICE-TCP session before the cut: $(cat "$T/peers-before.json")"
before=$(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-before.json")

# the established connections between bob's p2pd and alice's NAT: the ICE-TCP pair
conns=$(lab_exec b ss -Htnp state established dst 10.99.0.11 | grep "pid=$PID_bob," |
	awk '{ n = split($3, l, ":"); m = split($4, r, ":"); print l[n] ":" r[m] }')
[ -n "$conns" ] || fail "cannot find bob's ICE-TCP connection: $(lab_exec b ss -Htnp)"
lab_exec b nft add table ip cut || fail "nft table"
lab_exec b nft add chain ip cut in '{ type filter hook input priority -10; }' || fail "nft chain"
lab_exec b nft add chain ip cut out '{ type filter hook output priority -10; }' || fail "nft chain"
for c in $conns; do
	lp=${c%%:*} rp=${c##*:}
	lab_exec b nft add rule ip cut in ip saddr 10.99.0.11 tcp sport "$rp" tcp dport "$lp" drop &&
	lab_exec b nft add rule ip cut out ip daddr 10.99.0.11 tcp sport "$lp" tcp dport "$rp" drop ||
		fail "cannot cut $c"
done
cut_at=$(date +%s)
pass "bob's ICE-TCP connection(s) $(echo $conns) cut at about $(jq -r '[.[] | select(.name == "big.bin")][0].bytes' "$T/list.json") bytes: $before"

new_session() {
	ctl alice --json list >"$T/peers-after.json" &&
		jq -e '.peers[] | select(.id == "bob") | .sessions >= 2 and .link != null' \
			"$T/peers-after.json" >/dev/null
}
wait_for 120 new_session || fail "alice found no new path to bob: $(cat "$T/peers-after.json")"
after=$(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-after.json")
pass "a new session with bob after $(($(date +%s) - cut_at)) s: $after"

wait_end 180 alice "$id" "$T/alice-end.json"
jq -e --arg s "$sum" '.state == "complete" and .sha256 == $s' "$T/alice-end.json" >/dev/null ||
	fail "the transfer did not complete after the cut: $(cat "$T/alice-end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the received file differs"
wire=$(jq -r '.wire_bytes' "$T/alice-end.json")
[ "$wire" -lt $((SIZE + SIZE / 4)) ] ||
	fail "alice sent $wire bytes for a $SIZE-byte file: it started over instead of resuming"
xlist bob all | jq -c '[.[] | select(.peer == "alice" and .direction == "in")]' >"$T/bob.json"
jq -e 'length == 1' "$T/bob.json" >/dev/null ||
	fail "bob has more than one record of the transfer (not resumed?): $(cat "$T/bob.json")"
pass "the ICE-TCP path died and came back: $before -> $after; sha256 ok, $wire bytes sent for $SIZE"

#!/bin/sh
# Lab scenario 6: the path dies under a live transfer. alice and bob each behind an
# endpoint-independent NAT, UDP only, direct (srflx/prflx, no relay). Mid-transfer
# alice's router forgets its mappings (conntrack -F) and, so that the old path cannot
# silently come back on the same port (EI masquerade would give the same port again),
# drops every UDP port alice's p2pd had open: the mapping is gone for good, as when a
# NAT reboots and hands out other ports. The session notices (consent freshness, or the
# peer's silence), a new ICE session comes up through signaling on fresh sockets, and
# the transfer resumes from the receiver's journal on the new path: the file arrives
# verified, little more than once, and both sides keep one record of it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl sha256sum ss
command -v conntrack >/dev/null 2>&1 || skip "conntrack is missing"
lab_init
lab_public
lab_servers
lab_router home1 1 ei
lab_router home2 2 ei
lab_host_home a home1 1 2
lab_host_home b home2 2 2
lab_daemon alice a --ice-tcp false --rate-limit 4M
lab_daemon bob b --ice-tcp false
wait_for 20 sees alice bob || fail "alice does not see bob"

SIZE=50331648
head -c $SIZE /dev/urandom >"$T/big.bin"
sum=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_jq 60 bob '[.[] | select(.name == "big.bin" and .bytes >= 8388608)] | length > 0' ||
	fail "the transfer did not get going: $(cat "$T/list.json")"
before=$(lab_path alice bob)
case "$before" in
"udp "*) ;;
*) fail "the path before the cut is not a direct UDP pair: $before" ;;
esac
case "$before" in *relay*) fail "the path before the cut is relayed: $before" ;; esac
# the live path as list and status show it: candidates, a measured round trip, rates
# (over the last seconds: polled until the first samples are in)
link_sane() {
	ctl alice --json list >"$T/peers-before.json" &&
	jq -e '.peers[] | select(.id == "bob") | .link |
		.transport == "udp" and .relayed == false and .type == "direct-udp" and
		(.local.type | test("^(host|srflx|prflx)$")) and
		(.remote.type | test("^(srflx|prflx)$")) and .local.port > 0 and
		(.remote.address | startswith("10.99.0.")) and .rtt_ms > 0 and
		(.rate_in | type) == "number" and .rate_out > 0 and .bytes_out > 0 and
		.path_changes == 0' "$T/peers-before.json" >/dev/null
}
wait_for 10 link_sane || fail "alice's link to bob is not sane: $(cat "$T/peers-before.json")"
jq -e '.peers[] | select(.id == "bob") | .sessions == 1' "$T/peers-before.json" >/dev/null ||
	fail "alice counts other than one session with bob: $(cat "$T/peers-before.json")"
xstatus alice "$id" >"$T/st.json"
jq -e '.link.rtt_ms > 0 and .link.rate_out > 0 and (.link.path | startswith("udp "))' "$T/st.json" \
	>/dev/null || fail "alice's transfer.status has no sane link: $(cat "$T/st.json")"
ctl alice status "$id" >"$T/status.txt" || fail "p2pctl status failed"
grep -q '^rtt: *[0-9.]* ms$' "$T/status.txt" && grep -q '^link rate: *in .*, out .*/s$' "$T/status.txt" &&
	grep -q '^link: *udp ' "$T/status.txt" || fail "p2pctl status does not show the link: $(cat "$T/status.txt")"
ctl alice list >"$T/list.txt" || fail "p2pctl list failed"
grep -q '^PEER .* RTT .* IN .* OUT .* PATH' "$T/list.txt" && grep -q ' ms .*/s .*/s .*udp ' "$T/list.txt" ||
	fail "p2pctl list does not show rtt and rates: $(cat "$T/list.txt")"
pass "link before the cut: $(jq -c '.peers[] | select(.id == "bob") | .link | {type, rtt_ms, rate_in, rate_out}' "$T/peers-before.json")"

# every UDP port alice's p2pd holds now (its ICE sockets: ICE-TCP is off and signaling
# runs over TCP), cut at her router in both directions, then the mappings flushed
ports=$(lab_exec a ss -Huanp | grep "pid=$PID_alice," | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
[ -n "$ports" ] || fail "cannot find alice's UDP ports: $(lab_exec a ss -Huanp)"
for p in $ports; do
	lab_exec home1 nft insert rule ip lab forward iifname lan udp sport "$p" drop ||
		fail "cannot cut port $p"
	lab_exec home1 nft insert rule ip lab forward oifname lan udp dport "$p" drop ||
		fail "cannot cut port $p"
done
lab_flush_nat home1
cut_at=$(date +%s)
bytes_at_cut=$(jq -r '[.[] | select(.name == "big.bin")][0].bytes' "$T/list.json")
pass "alice's UDP ports $(echo $ports) cut and home1's mappings flushed at about $bytes_at_cut bytes: $before"

# the new path: a second session with bob, on other ports (measured, not asserted: the
# seconds it took are for the report)
new_session() {
	ctl alice --json list >"$T/peers-after.json" &&
		jq -e '.peers[] | select(.id == "bob") | .sessions >= 2 and .link != null' \
			"$T/peers-after.json" >/dev/null
}
wait_for 120 new_session || fail "alice found no new path to bob: $(cat "$T/peers-after.json")"
pass "a new session with bob after $(($(date +%s) - cut_at)) s: $(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-after.json")"
# alice noticed (consent lost, silence) or bob did first and said so through signaling
grep -q "nothing heard from bob\|ICE connection failed\|bob ended the session" "$T/alice.log" ||
	fail "alice's log does not say why the old session ended"

wait_end 180 alice "$id" "$T/alice-end.json"
jq -e '.state == "complete"' "$T/alice-end.json" >/dev/null ||
	fail "the transfer did not complete after the path died: $(cat "$T/alice-end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the received file differs"
[ "$(sha256sum "$T/bob/inbox/big.bin" | cut -d' ' -f1)" = "$sum" ] || fail "sha256 differs"
jq -e --arg s "$sum" '.sha256 == $s' "$T/alice-end.json" >/dev/null ||
	fail "alice's sha256 is not the file's: $(cat "$T/alice-end.json")"
after=$(jq -r '.peers[] | select(.id == "bob") | .path' "$T/peers-after.json")
[ "$after" != "$before" ] || fail "the path did not change: $after"
case "$after" in *relay*) ;; *" 10.99.0.11:"*|*" 192.168.61.2:"*) ;; *) fail "odd path after the cut: $after" ;; esac
for p in $ports; do
	case "$after" in *"10.99.0.11:$p "*|*"192.168.61.2:$p "*) fail "the new path reuses cut port $p: $after" ;; esac
done
# resumed, not restarted: what travelled again is what was in flight at the cut
# (pseudo-TCP and TLS buffers, chunks not yet durable), far below a second copy
wire=$(jq -r '.wire_bytes' "$T/alice-end.json")
[ "$wire" -lt $((SIZE + SIZE / 4)) ] ||
	fail "alice sent $wire bytes for a $SIZE-byte file: it started over instead of resuming"
[ "$wire" -ge "$SIZE" ] || fail "alice's wire_bytes $wire is less than the file ($SIZE)"
xlist bob all | jq -c '[.[] | select(.peer == "alice" and .direction == "in")]' >"$T/bob.json"
jq -e 'length == 1' "$T/bob.json" >/dev/null ||
	fail "bob has more than one record of the transfer (not resumed?): $(cat "$T/bob.json")"
wait_end 30 bob "$(jq -r '.[0].id' "$T/bob.json")" "$T/bob-end.json"
jq -e --argjson n $SIZE --arg s "$sum" '.state == "complete" and .bytes == $n and .sha256 == $s' \
	"$T/bob-end.json" >/dev/null || fail "bob's side is not complete: $(cat "$T/bob-end.json")"
pass "the path died at $bytes_at_cut bytes and came back: $before -> $after; sha256 ok, $wire bytes sent for $SIZE"

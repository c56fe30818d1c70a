#!/bin/sh
# Lab scenario 7: p2p-signald restarts in the middle of a transfer between two agents
# behind endpoint-independent NATs. The peer session does not need the server once it
# is up: the transfer goes on and completes verified, and both daemons register again
# with the new server process.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl
lab_init
lab_public
lab_servers
lab_router home1 1 ei
lab_router home2 2 ei
lab_host_home a home1 1 2
lab_host_home b home2 2 2
lab_daemon alice a --rate-limit 4M
lab_daemon bob b
wait_for 20 sees alice bob || fail "alice does not see bob"

head -c 16777216 /dev/urandom >"$T/big.bin"
xsend alice bob "$T/big.bin" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "send failed: $(cat "$T/send.json")"
wait_jq 60 bob '[.[] | select(.name == "big.bin" and .bytes >= 2097152)] | length > 0' ||
	fail "the transfer did not get going: $(cat "$T/list.json")"
lab_restart_signald
pass "p2p-signald restarted with the transfer at $(jq -r '.[0].bytes' "$T/list.json") bytes"
wait_end 90 alice "$id"
jq -e '.state == "complete" and .wire_bytes == 16777216' "$T/end.json" >/dev/null ||
	fail "the transfer did not go on through the restart: $(cat "$T/end.json")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "the received file differs"
wait_for 30 sees alice bob || fail "alice did not register again"
wait_for 30 sees bob alice || fail "bob did not register again"
pass "signaling restarted mid-transfer: completed over $(lab_path alice bob), both registered again"

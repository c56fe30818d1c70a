#!/bin/sh
# Lab scenario 5: alice's router drops every UDP packet from her LAN (no STUN, no UDP
# checks, no TURN over UDP); bob is on the public network. The session still comes
# up, over ICE-TCP: alice's active TCP candidate to bob's passive one.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl
lab_init
lab_public
LAB_SIGNALD_ARGS="--turn-server $LAB_SRV:$LAB_TURN_PORT --turn-secret-file $T/turn.secret"
lab_servers
lab_router home 1 ei
lab_block_udp home
lab_host_home a home 1 2
lab_host_public b 10.99.0.20
lab_daemon alice a
lab_daemon bob b
lab_transfer alice bob 256
lab_expect_path "tcp *flx 10.99.0.11:* <-> host 10.99.0.20:*" "tcp host 192.168.61.2:* <-> host 10.99.0.20:*"
# and the router did drop UDP: its counter moved
lab_exec home nft list chain ip lab forward | grep -q "udp drop" || fail "no UDP rule"
pass "UDP blocked at alice's router: $LAB_PATH"

#!/bin/sh
# Lab scenario 1: two hosts on one home LAN find each other's host candidates and
# transfer directly, without the router in the path.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl
lab_init
lab_public
lab_servers
lab_router home 1 ei
lab_host_home a home 1 2
lab_host_home b home 1 3
lab_daemon alice a
lab_daemon bob b
lab_transfer alice bob 256
# Over ICE-TCP the connecting side's local candidate is reported as peer-reflexive when
# its ephemeral port was learnt from the connection rather than gathered; its address is
# still a's own interface address, so the path is the same direct LAN path.
lab_expect_path "* host 192.168.61.2:* <-> * 192.168.61.3:*" \
	"tcp prflx 192.168.61.2:* <-> host 192.168.61.3:*"
pass "same LAN: $LAB_PATH"

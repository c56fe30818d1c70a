#!/bin/sh
# Lab scenario 2: alice behind an endpoint-independent NAT, bob on the public
# network: a direct path (alice's host or server-reflexive side to bob's host
# address), never the relay. With the datagram transport (the default) ICE prefers the
# UDP pair through the NAT's mapping; ICE-TCP is the direct path otherwise.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl
lab_init
lab_public
lab_servers
lab_router home 1 ei
lab_host_home a home 1 2
lab_host_public b 10.99.0.20
lab_daemon alice a
lab_daemon bob b
lab_transfer alice bob 256
lab_expect_path "tcp *flx 10.99.0.11:* <-> host 10.99.0.20:*" "udp *flx 10.99.0.11:* <-> host 10.99.0.20:*"
lab_transfer bob alice 256
lab_expect_path "tcp host 10.99.0.20:* <-> *flx 10.99.0.11:*" "udp host 10.99.0.20:* <-> *flx 10.99.0.11:*"
pass "NAT to public: $LAB_PATH"

#!/bin/sh
# Lab scenario 3: alice and bob each behind an endpoint-independent NAT, UDP only
# (ICE-TCP off: no TCP path crosses two NATs anyway): the hole is punched, the pair
# is server-reflexive (or peer-reflexive, learnt from the checks) on both sides,
# direct, not relayed.
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
lab_daemon alice a --ice-tcp false
lab_daemon bob b --ice-tcp false
lab_transfer alice bob 256
lab_expect_path "udp *flx 10.99.0.11:* <-> *flx 10.99.0.12:*" "udp host 192.168.61.2:* <-> *flx 10.99.0.12:*"
pass "both behind EI NATs: $LAB_PATH"

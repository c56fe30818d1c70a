#!/bin/sh
# Lab scenario 4: alice and bob each behind a symmetric NAT (a fresh random port for
# every mapping): no hole can be punched, so the pair goes through coturn with the
# short-lived credentials p2p-signald handed out; the data stays end-to-end TLS: a
# capture of the relay's traffic never shows the file's plaintext.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl tcpdump
lab_init
lab_public
LAB_SIGNALD_ARGS="--turn-server $LAB_SRV:$LAB_TURN_PORT --turn-secret-file $T/turn.secret --turn-ttl 600"
lab_servers
lab_router home1 1 sym
lab_router home2 2 sym
lab_host_home a home1 1 2
lab_host_home b home2 2 2
lab_capture srv eth0
# UDP only: no TCP path crosses two NATs, and the relay is reached over UDP here
lab_daemon alice a --ice-tcp false --turn-transport udp
lab_daemon bob b --ice-tcp false --turn-transport udp
lab_transfer alice bob 256
lab_expect_path "udp relay $LAB_SRV:* (turn-udp) <-> *" "udp * <-> relay $LAB_SRV:* (turn-udp)"
lab_capture_stop
lab_assert_no_plaintext "$T/capture.pcap"
grep -q "team.alice" "$T/turnserver.log" || fail "coturn did not see alice's TURN user"
pass "both behind symmetric NATs: $LAB_PATH; the relay saw only ciphertext"

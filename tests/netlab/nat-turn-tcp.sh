#!/bin/sh
# Lab scenario 5, the hard case: alice behind a symmetric NAT that also drops all UDP
# from her LAN, bob behind a symmetric NAT. No direct pair exists (ICE-TCP cannot
# cross two NATs, UDP cannot leave alice's network), so alice reaches coturn over TCP
# (TURN over TCP) and the pair is relayed; the relay sees only ciphertext.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/netlab/lab.sh"
need_tools jq python3 openssl tcpdump
lab_init
lab_public
LAB_SIGNALD_ARGS="--turn-server $LAB_SRV:$LAB_TURN_PORT --turn-secret-file $T/turn.secret"
lab_servers
lab_router home1 1 sym
lab_block_udp home1
lab_router home2 2 sym
lab_host_home a home1 1 2
lab_host_home b home2 2 2
lab_capture srv eth0
lab_daemon alice a
lab_daemon bob b
lab_transfer alice bob 256
lab_expect_path "udp relay $LAB_SRV:* (turn-tcp) <-> *"
lab_capture_stop
lab_assert_no_plaintext "$T/capture.pcap"
# alice's allocation came over TCP: coturn logged her TCP connection, and her UDP
# never left her network
grep -q "tcp or tls connected to: $LAB_PUB_NET.11:" "$T/turnserver.log" ||
	fail "coturn saw no TCP connection from alice's router"
python3 - "$T/capture.pcap" <<'PY' || fail "UDP from alice's router reached the server"
import struct, sys
d = open(sys.argv[1], "rb").read()
off = 24
while off + 16 <= len(d):
    incl = struct.unpack("<I", d[off + 8:off + 12])[0]
    p = d[off + 16:off + 16 + incl]
    off += 16 + incl
    if p[12:14] == b"\x08\x00" and p[14 + 9] == 17 and p[14 + 12:14 + 16] == bytes([10, 99, 0, 11]):
        sys.exit("a UDP packet from 10.99.0.11")
PY
pass "UDP blocked behind a symmetric NAT: TURN over TCP, $LAB_PATH"

#!/bin/sh
# bench/veth.sh: p2pd against kernel TCP, scp and rsync between two network namespaces
# joined by a plain veth (issue 10's link (a); the delayed and lossy links need the
# project's TUN link emulator and come with it). As root, after ./bootstrap.sh build:
#
#   sh bench/veth.sh            SIZE_MIB=1024 ROUNDS=3 by default
#
# One run, interleaved rounds, medians; tmpfs to tmpfs (/dev/shm), every copy checked
# with SHA-256. Prints a table of MB/s and the ratios to scp and iperf3. Not part of
# make check: no timing is asserted anywhere else.
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
for tool in ip iperf3 sshd ssh scp rsync sha256sum bc jq openssl; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip "$tool is missing (apt-get install iproute2 iperf3 openssh-server openssh-client rsync bc)"
done

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
NA=p2pbench-a.$$
NB=p2pbench-b.$$
A=10.77.0.1
B=10.77.0.2
SHM=$(mktemp -d /dev/shm/p2pd-veth.XXXXXX) || fail "no /dev/shm"

teardown() {
	[ -f "$T/sshd.pid" ] && kill "$(cat "$T/sshd.pid")" 2>/dev/null
	[ -f "$T/iperf3.pid" ] && kill "$(cat "$T/iperf3.pid")" 2>/dev/null
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$SHM"
}
CLEANUP_EXTRA=teardown

ip netns add "$NA" && ip netns add "$NB" || fail "cannot create namespaces"
ip link add p2pb-a netns "$NA" type veth peer name p2pb-b netns "$NB" || fail "no veth"
ip -n "$NA" addr add "$A/24" dev p2pb-a
ip -n "$NB" addr add "$B/24" dev p2pb-b
for ns in "$NA" "$NB"; do
	ip -n "$ns" link set lo up
done
ip -n "$NA" link set p2pb-a up
ip -n "$NB" link set p2pb-b up
ina() { ip netns exec "$NA" "$@"; }
inb() { ip netns exec "$NB" "$@"; }

# the data: random, on tmpfs, its hash known
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$SHM/data.bin"
sum=$(sha256sum "$SHM/data.bin" | cut -d' ' -f1)
mkdir -p "$SHM/dst"

# sshd in B with throwaway keys, only for this run
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" && ssh-keygen -q -t ed25519 -N '' -f "$T/userkey" ||
	fail "ssh-keygen failed"
cp "$T/userkey.pub" "$T/authorized_keys"
chmod 600 "$T/authorized_keys"
cat >"$T/sshd_config" <<EOF
ListenAddress $B
Port 22
HostKey $T/hostkey
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
PasswordAuthentication no
StrictModes no
UsePAM no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
mkdir -p /run/sshd
inb /usr/sbin/sshd -f "$T/sshd_config" || fail "sshd did not start"
SSH="ssh -i $T/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
wait_for 10 ina $SSH "root@$B" true || fail "cannot ssh into $NB"
inb iperf3 -s -B "$B" -D -I "$T/iperf3.pid" >/dev/null 2>&1 || fail "iperf3 -s did not start"

# p2pd: the signaling server in A, alice/bob over ICE-TCP (libnice's reliable agent on
# kernel TCP) and carol/dave with TCP candidates off (the UDP path, p2pd's datagram
# transport), each on its namespace's address
mkdir -p "$T/sig"
# a certificate for the server's namespace address (--make-cert covers loopback only)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
	-addext "subjectAltName=IP:$A" -keyout "$T/sig/signald.key" -out "$T/sig/signald.crt" \
	>>"$T/signald.log" 2>&1 || fail "openssl req failed"
"$SIGNALD" --keys "$T/sig/keys.conf" --add-key team >"$T/team.key" 2>>"$T/signald.log"
chmod 600 "$T/team.key"
# not through ina: $! must be the server itself (ip netns exec execs it), not a subshell
ip netns exec "$NA" "$SIGNALD" --listen "$A:0" --port-file "$T/sig/port" --certificate "$T/sig/signald.crt" \
	--private-key "$T/sig/signald.key" --keys "$T/sig/keys.conf" >>"$T/signald.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/sig/port" || fail "p2p-signald did not start"
port=$(cat "$T/sig/port")
daemon() { # NS NAME ADDR [FLAGS]
	ns=$1 name=$2 addr=$3
	shift 3
	mkdir -p "$T/$name" "$SHM/$name"
	ip netns exec "$ns" "$P2PD" --agent "$name" --signal-server "$A:$port" \
		--api-key-file "$T/team.key" --signal-ca "$T/sig/signald.crt" \
		--state-dir "$T/$name/state" --save-dir "$SHM/$name" \
		--control-socket "$T/$name/ctl.sock" --ice-address "$addr" "$@" \
		>>"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 10 test -S "$T/$name/ctl.sock" || fail "p2pd $name did not start"
}
daemon "$NA" alice "$A" --ice-udp false --udp-transport pseudotcp
daemon "$NB" bob "$B" --ice-udp false --udp-transport pseudotcp
daemon "$NA" carol "$A" --ice-tcp false
daemon "$NB" dave "$B" --ice-tcp false
wait_for 20 sees alice bob && wait_for 20 sees carol dave || fail "the daemons do not see each other"
echo x >"$T/warm"
ctl alice send "$T/warm" bob >/dev/null && ctl carol send "$T/warm" dave >/dev/null ||
	fail "warm-up sends failed"

now() { date +%s.%N; }
mbs() { echo "scale=1; $SIZE_MIB * 1.048576 / ($2 - $1)" | bc; }
check() { # FILE: the copy must be the data
	[ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sum" ] || fail "$1: SHA-256 differs"
	rm -f "$1"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

for i in $(seq "$ROUNDS"); do
	# kernel TCP, no crypto, no hash: BBR with default buffers and with 4 MiB windows
	ina iperf3 -c "$B" -C bbr -n "${SIZE_MIB}M" -J >"$T/ip.json" || fail "iperf3 failed"
	echo "scale=1; $(jq '.end.sum_received.bits_per_second' "$T/ip.json") / 8000000" | bc >>"$T/iperf3"
	ina iperf3 -c "$B" -C bbr -w 4M -n "${SIZE_MIB}M" -J >"$T/ip.json" || fail "iperf3 -w failed"
	echo "scale=1; $(jq '.end.sum_received.bits_per_second' "$T/ip.json") / 8000000" | bc >>"$T/iperf3w"

	s=$(now); ina scp -q -c aes128-gcm@openssh.com -i "$T/userkey" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$SHM/data.bin" "root@$B:$SHM/dst/scp.bin" ||
		fail "scp failed"
	e=$(now); mbs "$s" "$e" >>"$T/scp"; check "$SHM/dst/scp.bin"

	s=$(now); ina rsync -q -e "$SSH -c aes128-gcm@openssh.com" "$SHM/data.bin" "root@$B:$SHM/dst/rsync.bin" ||
		fail "rsync failed"
	e=$(now); mbs "$s" "$e" >>"$T/rsync"; check "$SHM/dst/rsync.bin"

	s=$(now); ctl alice send "$SHM/data.bin" bob >/dev/null || fail "p2pd ICE-TCP failed"
	e=$(now); mbs "$s" "$e" >>"$T/p2pd-tcp"; check "$SHM/bob/data.bin"

	s=$(now); ctl carol send "$SHM/data.bin" dave >/dev/null || fail "p2pd UDP failed"
	e=$(now); mbs "$s" "$e" >>"$T/p2pd-udp"; check "$SHM/dave/data.bin"
done

scp_m=$(median <"$T/scp")
ip_m=$(median <"$T/iperf3")
printf '%s MiB over a veth between two namespaces, median of %d (MB/s):\n' "$SIZE_MIB" "$ROUNDS"
for k in iperf3 iperf3w scp rsync p2pd-tcp p2pd-udp; do
	m=$(median <"$T/$k")
	printf '  %-10s %8s   %5sx scp   %5sx iperf3\n' "$k" "$m" \
		"$(echo "scale=2; $m / $scp_m" | bc)" "$(echo "scale=2; $m / $ip_m" | bc)"
done
echo "(iperf3: BBR, default buffers; iperf3w: BBR, -w 4M; scp and rsync: aes128-gcm;"
echo " p2pd-tcp: ICE-TCP; p2pd-udp: TCP candidates off, p2pd's datagram transport over UDP)"

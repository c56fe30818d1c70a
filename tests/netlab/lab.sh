# tests/netlab/lab.sh: a network lab in network namespaces, sourced after tests/lib.sh.
#
#   public network 10.99.0.0/24: a bridge in namespace "pub"; the servers ("srv",
#   10.99.0.2: p2p-signald and coturn) and public hosts hang off it
#   home networks 192.168.6N.0/24: each behind its own router namespace, which NATs
#   (nftables masquerade) onto the public network with the address 10.99.0.1N
#
# Every name this lab creates carries $LAB (nl<pid>), so that tests running in
# parallel never meet; everything is torn down on exit, on failure too. Only
# addresses in the private ranges above are used; the host's own interfaces are
# never touched (every link is created inside a lab namespace).
#
# Functions:
#   lab_init                   skip (77) unless root with ip netns and nft; sets LAB
#   lab_public                 the public bridge
#   lab_host_public NAME ADDR  a host on the public network (ADDR in 10.99.0.0/24)
#   lab_router NAME N NAT      router NAME for home network 192.168.6N.0/24, WAN
#                              address 10.99.0.1N; NAT: ei (endpoint-independent),
#                              sym (a random port per mapping), none (routes only)
#   lab_block_udp NAME         router NAME drops every UDP packet from its LAN
#   lab_host_home NAME ROUTER N HOSTNUM
#                              a host 192.168.6N.HOSTNUM behind ROUTER
#   lab_exec NAME CMD...       CMD in namespace NAME
#   lab_servers                p2p-signald and coturn in "srv" (10.99.0.2)
#   lab_daemon NAME HOSTNS [FLAGS...]
#                              p2pd for agent NAME in namespace HOSTNS, state in $T/NAME
#   lab_path NAME PEER         the path NAME's daemon reports for PEER ("tcp host ...")
#   lab_bg NAME FILE CMD...    CMD in namespace NAME in the background, output to FILE;
#                              its PID joins $PIDS (killed by PID on exit)
#   lab_transfer FROM TO KB    a file FROM -> TO, verified; its path in LAB_PATH
#   lab_flush_nat ROUTER       drop every NAT mapping of ROUTER (conntrack -F): the
#                              path dies under a live session (scenario 6)
#   lab_restart_signald        stop p2p-signald and start it again (scenario 7)
#   lab_restart_turnserver     stop coturn and start it again: every allocation is
#                              gone (scenario 6b)

LAB_PUB_NET=10.99.0
LAB_SRV=$LAB_PUB_NET.2
LAB_SIG_PORT=7443
LAB_TURN_PORT=3478
LAB_NSLIST=""

lab_init() {
	[ "$(id -u)" = 0 ] || skip "the network lab needs root (network namespaces)"
	command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is missing"
	command -v nft >/dev/null 2>&1 || skip "nft (nftables) is missing"
	LAB=nl$$
	ip netns add "$LAB-probe" 2>/dev/null || skip "cannot create network namespaces here"
	ip netns del "$LAB-probe"
	# the teardown runs inside lib.sh's cleanup, after the processes are gone
	CLEANUP_EXTRA=lab_teardown
}

lab_teardown() {
	# processes first (lib.sh killed $PIDS): anything still inside a lab namespace
	# (a helper a test forgot) is found through the namespace, by PID
	for ns in $LAB_NSLIST; do
		for pid in $(ip netns pids "$LAB-$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null || true
		done
	done
	for ns in $LAB_NSLIST; do
		ip netns del "$LAB-$ns" 2>/dev/null || true
	done
	LAB_NSLIST=""
}

lab_exec() {
	le_ns=$1; shift
	ip netns exec "$LAB-$le_ns" "$@"
}

lab_bg() {
	lb_ns=$1 lb_out=$2; shift 2
	ip netns exec "$LAB-$lb_ns" "$@" >>"$lb_out" 2>&1 &
	lb_pid=$!
	PIDS="$PIDS $lb_pid"
}

lab_ns() {
	ip netns add "$LAB-$1" || fail "cannot create namespace $LAB-$1"
	LAB_NSLIST="$LAB_NSLIST $1"
	lab_exec "$1" ip link set lo up
	# hosts and routers forward or not as their role says, never by inheritance
	lab_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
}

# lab_link NS1 IF1 NS2 IF2: a veth pair between two lab namespaces
lab_link() {
	ip -n "$LAB-$1" link add "$2" type veth peer name "$4" netns "$LAB-$3" ||
		fail "cannot link $1:$2 to $3:$4"
	ip -n "$LAB-$1" link set "$2" up
	ip -n "$LAB-$3" link set "$4" up
}

lab_public() {
	lab_ns pub
	ip -n "$LAB-pub" link add br0 type bridge || fail "cannot create the public bridge"
	ip -n "$LAB-pub" link set br0 up
	LAB_PUB_PORTS=0
}

# lab_attach_public NS IF ADDR: NS's interface IF on the public bridge with ADDR/24
lab_attach_public() {
	LAB_PUB_PORTS=$((LAB_PUB_PORTS + 1))
	lab_link pub "p$LAB_PUB_PORTS" "$1" "$2"
	ip -n "$LAB-pub" link set "p$LAB_PUB_PORTS" master br0
	ip -n "$LAB-$1" addr add "$3/24" dev "$2"
}

lab_host_public() {
	lab_ns "$1"
	lab_attach_public "$1" eth0 "$2"
}

lab_router() {
	lr_name=$1 lr_n=$2 lr_nat=$3
	lab_ns "$lr_name"
	lab_attach_public "$lr_name" wan "$LAB_PUB_NET.1$lr_n"
	ip -n "$LAB-$lr_name" link add lan type bridge
	ip -n "$LAB-$lr_name" link set lan up
	ip -n "$LAB-$lr_name" addr add "192.168.6$lr_n.1/24" dev lan
	lab_exec "$lr_name" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	eval "LAB_LANPORTS_$lr_name=0"
	case "$lr_nat" in
	ei)   lr_masq="masquerade" ;;
	# a fresh random source port for every new mapping, so that the port a STUN
	# server sees is not the one a peer sees: a symmetric NAT
	sym)  lr_masq="masquerade fully-random" ;;
	none) lr_masq="" ;;
	*) fail "lab_router: NAT \"$lr_nat\" is not ei, sym or none" ;;
	esac
	# a home router: the LAN may go out, only replies come in. Unsolicited packets to
	# the router itself are dropped in "input" too, so that their conntrack entries
	# are never confirmed: a peer's early check would otherwise hold the tuple that
	# the LAN host's own outgoing check needs, and masquerade would move that one to
	# another port (no hole punched through an otherwise endpoint-independent NAT)
	lab_exec "$lr_name" nft -f - <<EOF || fail "nft rules for $lr_name"
table ip lab {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname "wan" $lr_masq
	}
}
EOF
}

lab_block_udp() {
	lab_exec "$1" nft insert rule ip lab forward iifname "lan" meta l4proto udp drop ||
		fail "cannot block UDP at $1"
}

lab_host_home() {
	lh_name=$1 lh_router=$2 lh_n=$3 lh_num=$4
	lab_ns "$lh_name"
	eval "lh_ports=\$LAB_LANPORTS_$lh_router"
	lh_ports=$((lh_ports + 1))
	eval "LAB_LANPORTS_$lh_router=$lh_ports"
	lab_link "$lh_router" "l$lh_ports" "$lh_name" eth0
	ip -n "$LAB-$lh_router" link set "l$lh_ports" master lan
	ip -n "$LAB-$lh_name" addr add "192.168.6$lh_n.$lh_num/24" dev eth0
	ip -n "$LAB-$lh_name" route add default via "192.168.6$lh_n.1"
}

# lab_servers: p2p-signald (TLS, a certificate for 10.99.0.2) and coturn in "srv".
# coturn runs by hand with its own config in $T: never the system service. TURN
# credentials come from the shared secret in $T/turn.secret (coturn's REST scheme).
lab_servers() {
	lab_host_public srv "$LAB_SRV"
	mkdir -p "$T/sig"
	openssl req -x509 -newkey ed25519 -nodes -days 2 -subj "/CN=$LAB_SRV" \
		-addext "subjectAltName=IP:$LAB_SRV" -keyout "$T/sig/signald.key" \
		-out "$T/sig/signald.crt" >>"$T/signald.log" 2>&1 || fail "cannot make a certificate"
	"$SIGNALD" --keys "$T/sig/keys.conf" --add-key team >"$T/team.key" 2>>"$T/signald.log"
	chmod 600 "$T/team.key"
	head -c 24 /dev/urandom | base64 >"$T/turn.secret"
	chmod 600 "$T/turn.secret"
	lab_signald
	lab_turnserver
}

lab_signald() {
	lab_bg srv "$T/signald.log" "$SIGNALD" --listen "$LAB_SRV:$LAB_SIG_PORT" \
		--certificate "$T/sig/signald.crt" --private-key "$T/sig/signald.key" \
		--keys "$T/sig/keys.conf" ${LAB_SIGNALD_ARGS:-}
	SIGNALD_PID=$lb_pid
	wait_for 10 lab_exec srv sh -c "ss -Hltn 'sport = :$LAB_SIG_PORT' | grep -q ." ||
		fail "p2p-signald did not start"
}

lab_turnserver() {
	command -v turnserver >/dev/null 2>&1 || skip "coturn (turnserver) is missing"
	mkdir -p "$T/turn"
	cat >"$T/turn/turnserver.conf" <<EOF
listening-ip=$LAB_SRV
relay-ip=$LAB_SRV
listening-port=$LAB_TURN_PORT
min-port=49152
max-port=49999
realm=netlab.p2pd.test
use-auth-secret
static-auth-secret=$(cat "$T/turn.secret")
fingerprint
no-tls
no-dtls
no-cli
no-multicast-peers
# the lab's "public" network is a private range: let the relay reach it; the home
# networks behind the NATs are out of its reach, so refuse them (403) as a public
# relay refuses private ranges: coturn drops an allocation whose relay socket hits
# "network unreachable", and the pair through it would die with it (438, then 400)
allowed-peer-ip=10.99.0.0-10.99.0.255
denied-peer-ip=192.168.0.0-192.168.255.255
userdb=$T/turn/turndb
pidfile=$T/turn/turnserver.pid
log-file=stdout
simple-log
verbose
EOF
	lab_bg srv "$T/turnserver.log" turnserver -c "$T/turn/turnserver.conf"
	TURN_PID=$lb_pid
	wait_for 10 lab_exec srv sh -c "ss -Hlun 'sport = :$LAB_TURN_PORT' | grep -q ." ||
		fail "turnserver did not start"
}

# lab_daemon NAME HOSTNS [FLAGS...]: like lib.sh's start_daemon, in a namespace, with
# no ice-address (the namespace has one interface) and coturn as STUN server.
lab_daemon() {
	ld_name=$1 ld_ns=$2; shift 2
	mkdir -p "$T/$ld_name"
	lab_bg "$ld_ns" "$T/$ld_name.log" "$P2PD" --agent "$ld_name" \
		--signal-server "$LAB_SRV:$LAB_SIG_PORT" --api-key-file "$T/team.key" \
		--signal-ca "$T/sig/signald.crt" --state-dir "$T/$ld_name/state" \
		--save-dir "$T/$ld_name/inbox" --control-socket "$T/$ld_name/ctl.sock" \
		--stun-server "$LAB_SRV:$LAB_TURN_PORT" --log-level debug "$@"
	eval "PID_$ld_name=$lb_pid"
	wait_for 10 test -S "$T/$ld_name/ctl.sock" || fail "p2pd $ld_name did not start"
}

lab_path() {
	ctl "$1" --json list | jq -r --arg p "$2" '(.peers // .)[] | select(.id == $p) | .path // empty' \
		2>/dev/null
}

# lab_transfer FROM TO SIZE_KB: a file of random bytes (with a plaintext marker
# inside) from FROM to TO, verified on TO's side; leaves the file in $T/sent.bin and
# the path FROM used in LAB_PATH.
LAB_MARKER="P2PD-NETLAB-PLAINTEXT-MARKER-7f3a9c"
lab_transfer() {
	lt_from=$1 lt_to=$2 lt_kb=$3
	wait_for 20 sees "$lt_from" "$lt_to" || fail "$lt_from does not see $lt_to"
	{
		head -c $((lt_kb * 512)) /dev/urandom
		i=0
		while [ $i -lt 64 ]; do printf '%s\n' "$LAB_MARKER"; i=$((i + 1)); done
		head -c $((lt_kb * 512)) /dev/urandom
	} >"$T/sent.bin"
	# in the background: a send that never connects must not hold the test (and its
	# teardown) forever, and a signal must reach the trap at once
	rm -f "$T/send.rc"
	(
		rc=0
		ctl "$lt_from" --json send "$T/sent.bin" "$lt_to" >"$T/send.json" 2>&1 || rc=$?
		echo "$rc" >"$T/send.rc"
	) &
	PIDS="$PIDS $!"
	wait_for "${LAB_SEND_TIMEOUT:-120}" test -s "$T/send.rc" ||
		fail "send $lt_from -> $lt_to did not finish within ${LAB_SEND_TIMEOUT:-120} s"
	[ "$(cat "$T/send.rc")" = 0 ] || fail "send $lt_from -> $lt_to failed: $(cat "$T/send.json")"
	grep -q '"state" *: *"complete"' "$T/send.json" ||
		fail "send did not report complete: $(cat "$T/send.json")"
	cmp "$T/sent.bin" "$T/$lt_to/inbox/sent.bin" || fail "the received file differs"
	LAB_PATH=$(lab_path "$lt_from" "$lt_to")
	echo "path $lt_from -> $lt_to: $LAB_PATH"
}

# lab_expect_path PATTERN...: the last transfer's path matches one of the shell
# PATTERNs
lab_expect_path() {
	for lep in "$@"; do
		# shellcheck disable=SC2254
		case "$LAB_PATH" in $lep) return 0 ;; esac
	done
	fail "path \"$LAB_PATH\" is none of: $*"
}

# lab_capture NS IF: tcpdump of everything on NS's interface IF into $T/capture.pcap
# (unbuffered, full packets), until lab_capture_stop
lab_capture() {
	lab_bg "$1" "$T/tcpdump.log" tcpdump -U -n -s 0 -i "$2" -w "$T/capture.pcap"
	LAB_CAPTURE_PID=$lb_pid
	wait_for 10 test -s "$T/capture.pcap" || fail "tcpdump did not start: $(cat "$T/tcpdump.log")"
}

lab_capture_stop() {
	kill -INT "$LAB_CAPTURE_PID" 2>/dev/null || true
	wait "$LAB_CAPTURE_PID" 2>/dev/null || true
}

# lab_assert_no_plaintext PCAP: neither the marker nor any 32-byte piece of the sent
# file's random part appears in the capture, which did carry the transfer (it is at
# least as large as the file)
lab_assert_no_plaintext() {
	python3 - "$1" "$T/sent.bin" "$LAB_MARKER" <<'PY' || fail "the relay saw plaintext"
import sys
cap = open(sys.argv[1], "rb").read()
sent = open(sys.argv[2], "rb").read()
marker = sys.argv[3].encode()
if len(cap) < len(sent):
    sys.exit("the capture (%d bytes) is smaller than the file (%d bytes): it missed the "
             "transfer" % (len(cap), len(sent)))
if marker in cap:
    sys.exit("the file's plaintext marker is in the capture")
for off in range(0, len(sent) - 32, 4096):
    if sent[off:off + 32] in cap:
        sys.exit("bytes %d-%d of the file are in the capture" % (off, off + 32))
print("capture: %d bytes, no plaintext of the %d-byte file" % (len(cap), len(sent)))
PY
}

lab_flush_nat() {
	command -v conntrack >/dev/null 2>&1 || skip "conntrack is missing"
	lab_exec "$1" conntrack -F >/dev/null 2>&1 || fail "conntrack -F in $1 failed"
}

lab_restart_signald() {
	kill "$SIGNALD_PID" 2>/dev/null || true
	wait "$SIGNALD_PID" 2>/dev/null || true
	lab_signald
}

lab_restart_turnserver() {
	kill "$TURN_PID" 2>/dev/null || true
	wait "$TURN_PID" 2>/dev/null || true
	lab_turnserver
}

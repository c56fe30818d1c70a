# tests/lib.sh: sourced by the integration tests. Each test gets its own temporary
# directory, ports and sockets, and every process it starts is killed by PID on exit.
set -eu

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
P2PD="$top_builddir/p2pd"
P2PCTL="$top_builddir/p2pctl"
SIGNALD="$top_builddir/p2p-signald"

T=$(mktemp -d "${TMPDIR:-/tmp}/p2pd-test.XXXXXX")
PIDS=""
# CLEANUP_EXTRA: a command the test wants run on exit after its processes are gone and
# before $T is removed (e.g. unmounting a file system under $T); runs on failure too.
CLEANUP_EXTRA=""

cleanup() {
	rc=$?
	for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
	if [ -n "$CLEANUP_EXTRA" ]; then $CLEANUP_EXTRA || true; fi
	# under --enable-asan the daemons report on exit: a report fails the test
	if grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$T"/*.log \
		>/dev/null 2>&1; then
		echo "FAIL: a sanitizer reported an error in a program this test started" >&2
		rc=1
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f"; tail -n 40 "$f"
		done
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT INT TERM

fail() { printf "FAIL: %s\n" "$*" >&2; exit 1; }
skip() { printf "SKIP: %s\n" "$*" >&2; exit 77; }
pass() { printf "PASS: %s\n" "$*"; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	limit=$1; shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le $((limit * 10)) ] || return 1
		sleep 0.1
	done
}

# free_port: a TCP port nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000))
}

# ---- p2p-signald and p2pd on loopback ---------------------------------------------

# start_signald [PORT]: a throwaway signaling server with its own certificate and an
# API key "team" (secret in $T/team.key). Sets SIG_PORT and SIGNALD_PID.
start_signald() {
	mkdir -p "$T/sig"
	if [ ! -f "$T/sig/signald.crt" ]; then
		"$SIGNALD" --make-cert "$T/sig" >>"$T/signald.log" 2>&1
		"$SIGNALD" --keys "$T/sig/keys.conf" --add-key team >"$T/team.key" 2>>"$T/signald.log"
		chmod 600 "$T/team.key"
	fi
	rm -f "$T/sig/port"
	"$SIGNALD" --listen "127.0.0.1:${1:-0}" --port-file "$T/sig/port" \
		--certificate "$T/sig/signald.crt" --private-key "$T/sig/signald.key" \
		--keys "$T/sig/keys.conf" >>"$T/signald.log" 2>&1 &
	SIGNALD_PID=$!
	PIDS="$PIDS $SIGNALD_PID"
	wait_for 10 test -s "$T/sig/port" || fail "p2p-signald did not start"
	SIG_PORT=$(cat "$T/sig/port")
}

stop_signald() {
	kill "$SIGNALD_PID" 2>/dev/null || true
	wait "$SIGNALD_PID" 2>/dev/null || true
}

# start_daemon NAME [KEYFILE] [FLAGS...]: a p2pd for agent NAME, state in $T/NAME,
# control socket $T/NAME/ctl.sock, ICE on loopback only. Sets PID_<NAME>. The program
# is "$P2PD" with the words of $P2PD_ARGS first, so that a test can run a stand-in
# (P2PD=.../tests/hostile-peer P2PD_ARGS=MODE) the same way.
start_daemon() {
	name=$1; shift
	key="$T/team.key"
	if [ $# -gt 0 ] && [ -f "$1" ]; then key=$1; shift; fi
	mkdir -p "$T/$name"
	"$P2PD" ${P2PD_ARGS:-} --agent "$name" --signal-server "127.0.0.1:$SIG_PORT" --api-key-file "$key" \
		--signal-ca "$T/sig/signald.crt" --state-dir "$T/$name/state" \
		--save-dir "$T/$name/inbox" --control-socket "$T/$name/ctl.sock" \
		--ice-address 127.0.0.1 "$@" >>"$T/$name.log" 2>&1 &
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
	wait_for 10 test -S "$T/$name/ctl.sock" || fail "p2pd $name did not start"
}

stop_daemon() {
	eval "pid=\$PID_$1"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# ctl NAME ARGS...: p2pctl against NAME's daemon.
ctl() {
	name=$1; shift
	"$P2PCTL" --socket "$T/$name/ctl.sock" "$@"
}

# sees NAME PEER: NAME's daemon lists PEER as online.
sees() {
	ctl "$1" --json list | grep -q "\"id\" *: *\"$2\"[^}]*\"online\" *: *true"
}

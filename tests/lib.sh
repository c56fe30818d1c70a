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

# ---- transfers v2: JSON-RPC helpers (the tests that use them need python3 and jq) ----

# need_tools TOOL...: skip (77) unless every TOOL is installed.
need_tools() {
	for nt_tool in "$@"; do
		command -v "$nt_tool" >/dev/null 2>&1 || skip "$nt_tool is missing"
	done
}

# rpc NAME METHOD [PARAMS_JSON]: one JSON-RPC request on NAME's control socket, as this
# uid (the daemon's: plain paths work without SCM_RIGHTS); prints the reply line
# (events before it are skipped). Exit 3 when the daemon hung up without a reply.
rpc() {
	rpc_params=${3:-}
	[ -n "$rpc_params" ] || rpc_params='{}'
	python3 - "$T/$1/ctl.sock" "$2" "$rpc_params" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}
s.sendall((json.dumps(req) + "\n").encode())
f = s.makefile("rb")
while True:
    line = f.readline()
    if not line:
        sys.exit(3)
    msg = json.loads(line)
    if msg.get("id") == 1:
        sys.stdout.write(json.dumps(msg) + "\n")
        break
PY
}

# xsend NAME PEER PATH...: transfer.send {"paths": [PATH...], "peer": PEER} from NAME;
# prints the reply (it returns at once: the transfer runs on, see wait_end).
xsend() {
	xs_name=$1 xs_peer=$2
	shift 2
	rpc "$xs_name" transfer.send \
		"$(jq -cn --arg peer "$xs_peer" '{paths: $ARGS.positional, peer: $peer}' --args "$@")"
}

# xstatus NAME ID: the Transfer object of ID on NAME (or the error object).
xstatus() {
	rpc "$1" transfer.status "$(jq -cn --arg id "$2" '{id: $id}')" | jq -c '.result // .error'
}

# xlist NAME [all]: NAME's transfers as a JSON array (transfer.list, "all" for history).
xlist() {
	if [ "${2:-}" = all ]; then xl_all=true; else xl_all=false; fi
	rpc "$1" transfer.list "{\"all\":$xl_all}" | jq -c '.result.transfers'
}

# xcall NAME METHOD ID [EXTRA_JSON_OBJECT]: transfer.accept/reject/cancel on ID; prints
# the reply.
xcall() {
	rpc "$1" "$2" "$(jq -cn --arg id "$3" --argjson x "${4:-{\}}" '{id: $id} + $x')"
}

# is_active STATE: STATE is one of the active states of a transfer.
is_active() {
	case "$1" in connecting|offered|transferring|verifying|paused) return 0 ;; esac
	return 1
}

# wait_end SECS NAME ID [FILE]: until NAME's transfer ID is no longer active; its final
# object is left in FILE (default $T/end.json). Fails the test on the timeout.
wait_end() {
	we_file=${4:-$T/end.json}
	we_i=0
	while :; do
		xstatus "$2" "$3" >"$we_file" 2>/dev/null || true
		we_state=$(jq -r '.state // empty' "$we_file" 2>/dev/null || true)
		if [ -n "$we_state" ] && ! is_active "$we_state"; then return 0; fi
		we_i=$((we_i + 1))
		[ $we_i -le $(($1 * 5)) ] || fail "$2's transfer $3 did not end within $1 s: $(cat "$we_file")"
		sleep 0.2
	done
}

# wait_jq SECS NAME JQ_FILTER: until jq -e FILTER holds for NAME's transfer list (an
# array); the last list is left in $T/list.json.
wait_jq() {
	wj_i=0
	while :; do
		xlist "$2" >"$T/list.json" 2>/dev/null || true
		if jq -e "$3" "$T/list.json" >/dev/null 2>&1; then return 0; fi
		wj_i=$((wj_i + 1))
		[ $wj_i -le $(($1 * 5)) ] || return 1
		sleep 0.2
	done
}

# tree_listing DIR: one line per entry under DIR (DIR itself as "."), sorted: path,
# type, mode and mtime; a symlink: its target (its own mode and mtime are not kept).
tree_listing() {
	(cd "$1" && find . | LC_ALL=C sort | while IFS= read -r tl_p; do
		if [ -L "$tl_p" ]; then
			printf '%s link -> %s\n' "$tl_p" "$(readlink "$tl_p")"
		else
			stat -c '%n %F %a %Y' "$tl_p"
		fi
	done)
}

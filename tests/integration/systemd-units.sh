#!/bin/sh
# The units as built: "systemd-analyze verify" finds nothing to say and "systemd-analyze
# security" rates both services 2.0 or lower. Then p2pd under the protocol the units
# use: a control socket passed by socket activation, and READY=1 / STATUS= / WATCHDOG=1
# / RELOADING=1 / STOPPING=1 on $NOTIFY_SOCKET.
. "$top_srcdir/tests/lib.sh"

need_tools systemd-analyze python3
for u in p2pd.service p2pd.socket p2p-signald.service; do
	[ -f "$top_builddir/systemd/$u" ] || fail "systemd/$u was not built"
	# verify wants the programs the units start to exist: point them at the build
	sed -e "s#^\(Exec[A-Za-z]*=\)[^ ]*/\(p2pd\|p2p-signald\)\b#\1$top_builddir/\2#" \
		"$top_builddir/systemd/$u" >"$T/$u"
done
(cd "$T" && systemd-analyze verify --man=no ./p2pd.service ./p2pd.socket \
	./p2p-signald.service) >"$T/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.log")"
[ ! -s "$T/verify.log" ] || fail "systemd-analyze verify had something to say: $(cat "$T/verify.log")"
pass "systemd-analyze verify"

for u in p2pd.service p2p-signald.service; do
	(cd "$T" && systemd-analyze security --offline=true "./$u") >"$T/security.log" 2>&1 ||
		true # exits non-zero above its threshold (10 by default): the score decides
	score=$(sed -n "s/.*Overall exposure level for $u: \([0-9.]*\).*/\1/p" "$T/security.log")
	[ -n "$score" ] || fail "no score for $u: $(tail -5 "$T/security.log")"
	awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
		fail "$u: systemd-analyze security scores $score, more than 2.0: $(grep '✗' "$T/security.log")"
	pass "systemd-analyze security $u: $score"
done

# ---- socket activation and sd_notify, without systemd itself -----------------------
need_tools systemd-socket-activate
start_signald
mkdir -p "$T/alice"
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        for line in s.recv(4096).decode().split("\n"):
            log.write(line + "\n")
PY
PIDS="$PIDS $!"
wait_for 10 test -S "$T/notify.sock" || fail "the notify listener did not start"

# systemd-socket-activate holds the socket and starts p2pd on the first connection with
# LISTEN_FDS=1, as p2pd.socket does; WATCHDOG_PID must name p2pd, hence the exec
NOTIFY_SOCKET="$T/notify.sock" systemd-socket-activate -l "$T/alice/ctl.sock" \
	-E NOTIFY_SOCKET -E WATCHDOG_USEC=1000000 \
	sh -c 'WATCHDOG_PID=$$ exec "$0" "$@"' "$P2PD" --agent alice \
	--signal-server "127.0.0.1:$SIG_PORT" --api-key-file "$T/team.key" \
	--signal-ca "$T/sig/signald.crt" --state-dir "$T/alice/state" \
	--save-dir "$T/alice/inbox" --control-socket "$T/alice/ctl.sock" \
	--ice-address 127.0.0.1 >>"$T/alice.log" 2>&1 &
act_pid=$!
PIDS="$PIDS $act_pid"
wait_for 10 test -S "$T/alice/ctl.sock" || fail "systemd-socket-activate did not listen"
ctl alice info >"$T/info" 2>&1 || fail "p2pctl info over the passed socket: $(cat "$T/info")"
grep -q "agent: *alice" "$T/info" || fail "p2pctl info: $(cat "$T/info")"
grep -q "control: serving the socket systemd passed" "$T/alice.log" ||
	fail "p2pd did not say it serves the passed socket"
pass "socket activation: p2pd serves the passed socket"

wait_for 10 grep -q "^READY=1" "$T/notify.log" || fail "no READY=1"
wait_for 10 grep -q "^STATUS=signaling registered (127.0.0.1:$SIG_PORT)" "$T/notify.log" ||
	fail "no STATUS= with the signaling state: $(cat "$T/notify.log")"
wait_for 10 sh -c "[ \$(grep -c '^WATCHDOG=1' '$T/notify.log') -ge 3 ]" ||
	fail "fewer than three WATCHDOG=1 with WatchdogSec=1s: $(cat "$T/notify.log")"
pass "READY=1, STATUS=, WATCHDOG=1"

pid=$(pgrep -P "$act_pid" || echo "$act_pid")
kill -HUP "$pid"
wait_for 10 grep -q "^RELOADING=1" "$T/notify.log" || fail "no RELOADING=1 on SIGHUP"
[ "$(grep -c '^READY=1' "$T/notify.log")" -ge 2 ] || wait_for 10 sh -c \
	"[ \$(grep -c '^READY=1' '$T/notify.log') -ge 2 ]" || fail "no READY=1 after the reload"
kill "$pid"
wait_for 10 grep -q "^STOPPING=1" "$T/notify.log" || fail "no STOPPING=1 on SIGTERM"
wait "$act_pid" 2>/dev/null || true
test -S "$T/alice/ctl.sock" || fail "p2pd removed the socket file systemd owns"
pass "RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM, the passed socket's file kept"

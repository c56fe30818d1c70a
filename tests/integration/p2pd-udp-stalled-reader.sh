#!/bin/sh
# The UDP path with a receiver slower than its sender, and one that stops and goes on
# (SIGSTOP/SIGCONT, as a busy or swapping machine would): its window fills, and the sender must learn when it opens
# again. Before window updates and window probes, a sender at the receiver's limit
# with nothing in flight waited for an ack that never came; the session then died of
# silence and the transfer only went on after a new session. So: the file arrives
# whole, in one session, with no pause. (Whether the window fills depends on the
# machine: on a 2-core machine the first part hit it in about half of 256 MiB runs.)
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice --ice-tcp false
start_daemon bob --ice-tcp false
wait_for 10 sees alice bob || fail "alice does not see bob"
echo x >"$T/warm"
ctl alice send "$T/warm" bob >/dev/null || fail "warm-up send failed"
ctl alice --json list | grep -q '"path" *: *"udp ' || fail "the session is not on UDP: $(ctl alice --json list)"

head -c $((256 * 1024 * 1024)) /dev/urandom >"$T/big.bin"
# a receiver slower than the sender: on loopback the sender's GSO trains outrun the
# receiver's decrypt, hash and write, so its window fills again and again
for i in 1 2; do
	ctl alice send "$T/big.bin" bob >"$T/send.out" 2>&1 || fail "send $i failed: $(cat "$T/send.out")"
	cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "file differs"
	rm -f "$T/bob/inbox/big.bin"
done
ctl alice send "$T/big.bin" bob >"$T/send.out" 2>&1 &
send=$!
PIDS="$PIDS $send"
# and one that stops: stop the receiver for 300 ms in every 400 until the send ends
while kill -0 "$send" 2>/dev/null; do
	kill -STOP "$PID_bob"
	sleep 0.3
	kill -CONT "$PID_bob"
	sleep 0.1
done
kill -CONT "$PID_bob" 2>/dev/null
wait "$send" || fail "send failed: $(cat "$T/send.out")"
cmp "$T/big.bin" "$T/bob/inbox/big.bin" || fail "file differs"
if grep -E "paused|nothing heard|session [a-z]+: .*ended" "$T/alice.log" "$T/bob.log"; then
	fail "the session did not survive a receiver that stops and goes on"
fi
pass "stopped receiver over UDP"

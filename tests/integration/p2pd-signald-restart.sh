#!/bin/sh
# The signaling session comes back by itself after the server restarts, and transfers
# work again afterwards.
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"

stop_signald
wait_for 10 sh -c "\"$P2PCTL\" --socket \"$T/alice/ctl.sock\" --json info | grep -q '\"state\" *: *\"\(offline\|connecting\)\"'" ||
	fail "alice did not notice the server going away"
start_signald "$SIG_PORT"
wait_for 40 sh -c "\"$P2PCTL\" --socket \"$T/alice/ctl.sock\" --json info | grep -q '\"state\" *: *\"registered\"'" ||
	fail "alice did not re-register"
wait_for 40 sees alice bob || fail "alice does not see bob again"
head -c 100000 /dev/urandom >"$T/f.bin"
ctl alice send "$T/f.bin" bob >/dev/null || fail "send after the restart failed"
cmp "$T/f.bin" "$T/bob/inbox/f.bin" || fail "file differs"
pass "signald restart"

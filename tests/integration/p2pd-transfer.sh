#!/bin/sh
# One file from alice to bob over ICE + TLS, verified byte for byte; then p2pctl recv
# takes a second file into a directory of the caller's; name collisions never
# overwrite; the signaling server never sees the file's name.
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"

# p2pctl recv, started before anything arrived: waits for the next file and moves it
# to the caller's directory
mkdir -p "$T/mine"
ctl bob --json recv --output "$T/mine" >"$T/recv.json" 2>"$T/recv.err" &
recv_pid=$!
PIDS="$PIDS $recv_pid"
sleep 0.5
head -c 300000 /dev/urandom >"$T/report.pdf"
ctl alice send "$T/report.pdf" bob >/dev/null || fail "send for recv failed"
wait $recv_pid || fail "recv failed: $(cat "$T/recv.err")"
cmp "$T/report.pdf" "$T/mine/report.pdf" || fail "recv did not deliver report.pdf"
test ! -e "$T/bob/inbox/report.pdf" || fail "recv left the file in the inbox"
pass "p2pctl recv"

head -c 5000000 /dev/urandom >"$T/data.bin"
ctl alice --json send "$T/data.bin" bob >"$T/send.json" || fail "send failed: $(cat "$T/send.json")"
grep -q '"state" *: *"complete"' "$T/send.json" || fail "send did not report complete: $(cat "$T/send.json")"
cmp "$T/data.bin" "$T/bob/inbox/data.bin" || fail "received file differs"
sum=$(sha256sum "$T/data.bin" | cut -d' ' -f1)
grep -q "\"sha256\" *: *\"$sum\"" "$T/send.json" || fail "sender's sha256 is not the file's"
ctl bob --json status | grep -q "\"sha256\" *: *\"$sum\"" || fail "bob's status lacks the hash"
pass "5 MB file verified"

# the same name again: "data (1).bin", the first untouched
mkdir -p "$T/other"
head -c 1000 /dev/urandom >"$T/other/data.bin"
ctl alice send "$T/other/data.bin" bob >/dev/null || fail "second send failed"
cmp "$T/data.bin" "$T/bob/inbox/data.bin" || fail "the first file was overwritten"
cmp "$T/other/data.bin" "$T/bob/inbox/data (1).bin" || fail "no \"data (1).bin\""
pass "name collision kept both files"

# an empty file
: >"$T/empty.txt"
ctl alice send "$T/empty.txt" bob >/dev/null || fail "empty file failed"
test -f "$T/bob/inbox/empty.txt" && ! test -s "$T/bob/inbox/empty.txt" || fail "empty file not received"
pass "empty file"

# nothing left in the staging area, and the server saw no file metadata
test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" || fail "partial files left"
! grep -q "data.bin\|report.pdf" "$T/signald.log" || fail "file names reached signald's log"
ctl alice --json list | grep -q '"path" *: *"\(tcp\|udp\) host' || fail "list shows no ICE path"
pass "transfer suite"

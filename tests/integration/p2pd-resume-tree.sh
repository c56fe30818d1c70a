#!/bin/sh
# Resume of a tree of small files after the receiver dies. Small files are kept in
# memory until verified and then created by bob's writer thread, and the batch syncs run
# in that thread's queue behind them; this checks that a SIGKILL in the middle loses
# nothing that was acknowledged and leaves nothing half-made: alice sends 4,000 files
# (0 bytes to 300 KiB, so that some go the direct way) at 4 MiB/s, bob is killed when he
# holds 40% of the bytes, started again, and the tree arrives identical (contents,
# modes, mtimes) with only the unacknowledged rest sent again.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3

start_signald
start_daemon alice --rate-limit 4M
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"
mkdir -p "$T/src/tree"
python3 - "$T/src/tree" <<'PY'
import os, random, sys
random.seed(7)
root = sys.argv[1]
for i in range(4000):
    d = os.path.join(root, "d%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    size = 0 if i % 97 == 0 else (300 * 1024 if i % 501 == 0 else random.randint(1, 6000))
    p = os.path.join(d, "f%04d" % i)
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    os.chmod(p, 0o600 if i % 3 else 0o644)
    os.utime(p, (1600000000 + i, 1600000000 + i))
PY
total=$(find "$T/src/tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

xsend alice bob "$T/src/tree" >"$T/send.json"
id=$(jq -r '.result.id // empty' "$T/send.json")
[ -n "$id" ] || fail "transfer.send failed: $(cat "$T/send.json")"
some='[.[] | select(.peer == "alice" and .direction == "in" and .bytes >= '$((total * 2 / 5))')] | length > 0'
wait_jq 60 bob "$some" || fail "bob never held 40% of the tree: $(cat "$T/list.json")"
kill -KILL "$PID_bob"
wait "$PID_bob" 2>/dev/null || true
test ! -e "$T/bob/inbox/tree" || fail "the tree is under its final name before the end"
paused() { xstatus alice "$id" >"$T/st.json" && jq -e '.state == "paused"' "$T/st.json" >/dev/null; }
wait_for 30 paused || fail "alice's transfer did not pause: $(cat "$T/st.json")"
pass "bob killed mid-tree, alice paused at $(jq -r .bytes "$T/st.json") of $total bytes"

rm -f "$T/bob/ctl.sock"
start_daemon bob
wait_end 120 alice "$id" "$T/end.json"
jq -e '.state == "complete"' "$T/end.json" >/dev/null ||
	fail "the tree did not complete after bob came back: $(cat "$T/end.json")"
diff -r "$T/src/tree" "$T/bob/inbox/tree" >"$T/diff.txt" || fail "contents differ: $(head "$T/diff.txt")"
tree_listing "$T/src/tree" >"$T/a.txt"
tree_listing "$T/bob/inbox/tree" >"$T/b.txt"
cmp -s "$T/a.txt" "$T/b.txt" || fail "modes or mtimes differ: $(diff "$T/a.txt" "$T/b.txt" | head)"
wire=$(jq -r '.wire_bytes' "$T/end.json")
[ "$wire" -lt $((total + total / 2)) ] || fail "alice sent $wire bytes for $total: it started over"
test -z "$(ls -A "$T/bob/inbox/.p2pd-partial" 2>/dev/null)" || fail "staging left behind"
pass "the tree arrived whole after the receiver's SIGKILL: alice sent $wire bytes for $total"

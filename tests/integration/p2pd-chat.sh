#!/bin/sh
# Chat between two daemons over the control protocol (p2pctl chat has its own tests):
# messages both ways, in order, delivered and acknowledged; messages to a peer whose
# daemon is down are queued, survive a restart of the sender's daemon too, and arrive
# exactly once, in order, when the peer is back; typing reaches the other side; limits
# on size and rate answer with a clear error.
. "$top_srcdir/tests/lib.sh"
need_tools jq python3

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"

say() { rpc "$1" chat.send "$(jq -cn --arg p "$2" --arg t "$3" '{peer: $p, text: $t}')"; }
history() { rpc "$1" chat.history "$(jq -cn --arg p "$2" '{peer: $p, limit: 100}')" | jq -c '.result.messages'; }

# events on bob's side, to see typing and messages arrive
python3 - "$T/bob/ctl.sock" >"$T/bob-events" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{}}\n')
for line in s.makefile("rb"):
    m = json.loads(line)
    if m.get("method", "").startswith("chat_"):
        print(json.dumps(m), flush=True)
PY
PIDS="$PIDS $!"
sleep 0.3

say alice bob "hello bob" >"$T/r1"
jq -e '.result.direction == "out" and (.result.id | test("^[0-9a-f]{16}$"))' "$T/r1" >/dev/null ||
	fail "chat.send: $(cat "$T/r1")"
delivered() { history alice bob | jq -e 'length == 1 and .[0].state == "delivered"' >/dev/null; }
wait_for 20 delivered || fail "not delivered: $(history alice bob)"
say bob alice "hi alice" >/dev/null
wait_for 10 sh -c "[ \"\$(grep -c chat_message '$T/bob-events')\" -ge 2 ]" ||
	fail "bob's events: $(cat "$T/bob-events")"
history bob alice >"$T/h"
jq -e '[.[] | [.direction, .text]] == [["in", "hello bob"], ["out", "hi alice"]]' "$T/h" >/dev/null ||
	fail "bob's history: $(cat "$T/h")"
pass "messages both ways, delivered"

rpc alice chat.typing '{"peer":"bob"}' >/dev/null
wait_for 10 grep -q '"chat_typing".*"peer": *"alice"' "$T/bob-events" ||
	fail "no chat_typing on bob's side: $(cat "$T/bob-events")"
pass "typing reaches the peer"

# bob's daemon goes away; alice queues three messages, then alice's daemon restarts too
stop_daemon bob
wait_for 20 sh -c "! sees alice bob" || fail "alice still sees bob"
for m in one two "three \033[2J"; do say alice bob "$(printf "$m")" >/dev/null; done
history alice bob | jq -e '[.[] | select(.direction == "out" and .state == "queued")] | length == 3' >/dev/null ||
	fail "not queued: $(history alice bob)"
stop_daemon alice
rm -f "$T/alice/ctl.sock" "$T/bob/ctl.sock"
start_daemon alice
start_daemon bob
all_delivered() { history alice bob | jq -e '[.[] | select(.state != "delivered" and .direction == "out")] | length == 0' >/dev/null; }
wait_for 30 all_delivered || fail "queued messages not delivered: $(history alice bob)"
history bob alice >"$T/h"
jq -e '[.[] | select(.direction == "in") | .text] == ["hello bob", "one", "two", "three \u001b[2J"]' "$T/h" >/dev/null ||
	fail "bob did not get each message once, in order: $(cat "$T/h")"
pass "queued while the peer was away, across a restart of both daemons: delivered once, in order"

# limits
long=$(head -c 4097 /dev/zero | tr '\0' x)
say alice bob "$long" | jq -e '.error.code == -32602 and (.error.message | test("longer than 4096"))' >/dev/null ||
	fail "a 4097-byte message was not refused"
say alice bob "" | jq -e '.error.code == -32602' >/dev/null || fail "an empty message was not refused"
python3 - "$T/alice/ctl.sock" >"$T/rate" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile("rb")
for i in range(30):
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": i, "method": "chat.send",
                           "params": {"peer": "bob", "text": "burst %d" % i}}) + "\n").encode())
codes = [json.loads(f.readline()).get("error", {}).get("code", 0) for i in range(30)]
print(sum(1 for c in codes if c == 0), sum(1 for c in codes if c == -32000))
PY
read ok limited <"$T/rate"
[ "$ok" -le 20 ] && [ "$limited" -ge 10 ] || fail "30 messages in a burst: $ok accepted, $limited limited"
pass "size and rate limits (30 at once: $ok sent, $limited refused)"

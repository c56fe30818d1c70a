#!/bin/sh
# A video call between two daemons, each with a headless Chromium (fake camera and
# microphone) on its own daemon's call page: both pages reach "connected" and decode
# video frames, and a hang-up on one side ends the call on the other. Before that, the
# page server's refusals: no token, a wrong token, a foreign Host (DNS rebinding), a
# WebSocket from a foreign Origin, and it listens on loopback only.
#
# The test runs in a network namespace of its own with only "lo" up, so that neither
# browser can gather or try any address but loopback (Chromium would otherwise offer
# every interface of the machine as a host candidate).
if [ -z "${P2PD_CALL_NETNS:-}" ]; then
	command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is missing"; exit 77; }
	for tool in unshare ip ss jq python3; do
		command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is missing"; exit 77; }
	done
	if [ "$(id -u)" = 0 ]; then ns="unshare -n"; else ns="unshare -rn"; fi
	$ns true 2>/dev/null || { echo "SKIP: cannot create a network namespace ($ns)"; exit 77; }
	P2PD_CALL_NETNS=1 exec $ns sh -c 'ip link set lo up && exec sh "$0"' "$0"
fi
. "$top_srcdir/tests/lib.sh"

start_signald
start_daemon alice
# bob's configured STUN server (nothing answers there) must reach its call page
start_daemon bob --stun-server 127.0.0.1:3478
wait_for 10 sees alice bob || fail "alice does not see bob"

calls() { rpc "$1" call.list | jq -c '.result.calls'; }
# call_jq SECS NAME FILTER: until jq -e FILTER holds for NAME's calls; the last list is
# left in $T/calls.json
call_jq() {
	cj_i=0
	while :; do
		calls "$2" >"$T/calls.json" 2>/dev/null || true
		if jq -e "$3" "$T/calls.json" >/dev/null 2>&1; then return 0; fi
		cj_i=$((cj_i + 1))
		[ $cj_i -le $(($1 * 5)) ] || return 1
		sleep 0.2
	done
}

# nobody is calling yet: answer and hangup say so
rpc bob call.answer | jq -e '.error.code == -32005 and (.error.message | test("no call is ringing"))' \
	>/dev/null || fail "call.answer without a call: $(rpc bob call.answer)"
ctl bob hangup 2>"$T/err" && fail "p2pctl hangup without a call succeeded"
grep -q "no call is going on" "$T/err" || fail "p2pctl hangup without a call: $(cat "$T/err")"

rpc alice call.start '{"peer":"bob"}' >"$T/start.json"
url_a=$(jq -r '.result.url // empty' "$T/start.json")
call=$(jq -r '.result.call // empty' "$T/start.json")
[ -n "$url_a" ] && [ -n "$call" ] || fail "call.start: $(cat "$T/start.json")"
port=$(printf '%s' "$url_a" | sed -n 's|^http://127\.0\.0\.1:\([0-9]*\)/call?id=.*&token=[0-9a-f]\{64\}$|\1|p')
[ -n "$port" ] || fail "call.start's url is not http://127.0.0.1:PORT/call?id=..&token=HEX: $url_a"
token=${url_a##*token=}
call_jq 20 bob ".[0].call == \"$call\" and .[0].state == \"ringing\" and .[0].direction == \"in\"" ||
	fail "bob's daemon does not show the call ringing: $(cat "$T/calls.json")"
pass "call.start rings the peer (call $call, page server on port $port)"

# ---- the page server's refusals --------------------------------------------------------

# http STATUS PATH [HEADER...]: a raw HTTP/1.1 GET to alice's page server (Host is ours
# unless a header replaces it); fails unless the status is STATUS. Body in $T/body.
http() {
	python3 - "$port" "$@" >"$T/body" <<'PY' || fail "GET $2: $(cat "$T/body")"
import socket, sys
port, want, path, headers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
hdr = {"Host": "127.0.0.1:" + port}
for h in headers:
    k, v = h.split(": ", 1)
    hdr[k] = v
req = "GET %s HTTP/1.1\r\n%s\r\n" % (path, "".join("%s: %s\r\n" % kv for kv in hdr.items()))
s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
s.sendall(req.encode())
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
length = 0
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length":
        length = int(v)
while len(body) < length:
    chunk = s.recv(65536)
    if not chunk:
        break
    body += chunk
print((head + b"\r\n\r\n" + body).decode(errors="replace"))
sys.exit(0 if head.split(b" ")[1].decode() == want else 1)
PY
}

http 403 "/call?id=$call"
grep -q "not valid" "$T/body" || fail "no token: $(cat "$T/body")"
http 403 "/call?id=$call&token=$(printf '%064d' 0)"
http 403 "/call?id=$call&token=${token%?}"
http 403 "/call?id=$call&token=$token" "Host: rebind.example:$port"
grep -q "Host" "$T/body" || fail "foreign Host: $(cat "$T/body")"
http 403 "/call?id=$call&token=$token" "Sec-Fetch-Site: cross-site"
http 403 "/call?id=$call&token=$token" "Origin: http://127.0.0.1:1"
http 200 "/call?id=$call&token=$token"
grep -q "Content-Security-Policy: default-src 'none'" "$T/body" || fail "no CSP on the page"
grep -q '<script src="/call.js"' "$T/body" || fail "not the call page: $(cat "$T/body")"
pass "GET without the token, with a wrong one, a foreign Host, Origin or site: 403"

# WebSockets: a foreign Origin, none, and a wrong token are refused before any upgrade
# (the right token is used, and not spent, by the first two)
ws() { # ws STATUS QUERY ORIGIN
	http "$1" "/ws?$2" "Upgrade: websocket" "Connection: Upgrade" "Sec-WebSocket-Version: 13" \
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" ${3:+"Origin: $3"}
}
ws 403 "id=$call&token=$token" "http://evil.example"
grep -q "another origin" "$T/body" || fail "foreign Origin: $(cat "$T/body")"
ws 403 "id=$call&token=$token" "http://127.0.0.1:$((port + 1))"
ws 403 "id=$call&token=$token" ""
ws 403 "id=$call&token=$(printf '%064d' 0)" "http://127.0.0.1:$port"
pass "WebSocket from a foreign Origin, without Origin, with a wrong token: refused"

ss -ltnpH >"$T/ss" 2>&1
grep "pid=$PID_alice," "$T/ss" | awk '{print $4}' | grep ":$port\$" | sort >"$T/listen"
[ "$(cat "$T/listen")" = "$(printf '127.0.0.1:%s\n[::1]:%s' "$port" "$port" | sort)" ] ||
	fail "alice's p2pd listens on port $port on: $(tr '\n' ' ' <"$T/listen") (only 127.0.0.1:$port and [::1]:$port expected)"
pass "the page server listens on 127.0.0.1:$port and [::1]:$port only"

# ---- the call, in two browsers ------------------------------------------------------

# browser NAME URL: a headless Chromium with a fake camera and microphone on URL
browser() {
	chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--no-default-browser-check --disable-extensions --mute-audio \
		--use-fake-ui-for-media-stream --use-fake-device-for-media-stream \
		--allow-loopback-in-peer-connection --autoplay-policy=no-user-gesture-required \
		--user-data-dir="$T/chrome-$1" "$2" >>"$T/chromium-$1.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "CHROME_$1=$!"
}

browser alice "$url_a"
call_jq 30 alice ".[0].page == true" || fail "alice's page did not connect: $(cat "$T/calls.json")"
ctl bob --json answer --no-open "$call" >"$T/answer.json" || fail "p2pctl answer: $(cat "$T/answer.json")"
url_b=$(jq -r '.url // empty' "$T/answer.json")
[ -n "$url_b" ] || fail "p2pctl --json answer: no url: $(cat "$T/answer.json")"
browser bob "$url_b"

media='.[0].state == "active" and .[0].connection == "connected" and .[0].frames_decoded > 0'
call_jq 90 alice "$media" || fail "alice's page: $(cat "$T/calls.json")"
call_jq 30 bob "$media" || fail "bob's page: $(cat "$T/calls.json")"
jq -e '.[0].path == "direct"' "$T/calls.json" >/dev/null || fail "bob's path: $(cat "$T/calls.json")"
pass "both pages connected (direct) and decode video frames"

# a link is spent once its page is open
http 403 "/call?id=$call&token=$token"
pass "the link does not work a second time"

ctl alice hangup "$call" >"$T/hangup" || fail "p2pctl hangup: $(cat "$T/hangup")"
grep -q "hung up call $call with bob" "$T/hangup" || fail "p2pctl hangup said: $(cat "$T/hangup")"
call_jq 20 bob '.[0].state == "ended" and .[0].reason == "hangup" and .[0].page == false' ||
	fail "bob's call did not end: $(cat "$T/calls.json")"
call_jq 5 alice '.[0].state == "ended" and .[0].page == false' ||
	fail "alice's call did not end: $(cat "$T/calls.json")"
pass "a hang-up on alice's side ends the call on bob's, and both pages are closed"

kill "$CHROME_alice" "$CHROME_bob" 2>/dev/null || true
wait "$CHROME_alice" "$CHROME_bob" 2>/dev/null || true

# a second call, answered; closing bob's browser hangs up on alice's side
rpc alice call.start '{"peer":"bob"}' >"$T/start.json"
call2=$(jq -r '.result.call // empty' "$T/start.json")
browser alice2 "$(jq -r '.result.url' "$T/start.json")"
call_jq 20 bob ".[-1].call == \"$call2\" and .[-1].state == \"ringing\"" ||
	fail "the second call does not ring: $(cat "$T/calls.json")"
url_b=$(rpc bob call.answer "{\"call\":\"$call2\"}" | jq -r '.result.url // empty')
[ -n "$url_b" ] || fail "call.answer gave no url"
browser bob2 "$url_b"
call_jq 90 bob '.[-1].connection == "connected"' || fail "second call: $(cat "$T/calls.json")"
kill "$CHROME_bob2"
wait "$CHROME_bob2" 2>/dev/null || true
call_jq 20 alice '.[-1].state == "ended" and .[-1].reason == "hangup" and (.[-1].message | test("callee closed"))' ||
	fail "closing bob's page did not end alice's call: $(cat "$T/calls.json")"
kill "$CHROME_alice2"
wait "$CHROME_alice2" 2>/dev/null || true
pass "closing the callee's page hangs up on the caller's side"

# p2pctl call --no-open prints the link; calls lists both
ctl alice call --no-open bob >"$T/out" || fail "p2pctl call: $(cat "$T/out")"
grep -q "^http://127.0.0.1:$port/call?id=" "$T/out" || fail "p2pctl call --no-open: $(cat "$T/out")"
call_jq 20 bob 'length == 3 and .[2].state == "ringing"' || fail "third call: $(cat "$T/calls.json")"
ctl bob hangup >/dev/null || fail "bob could not refuse the third call"
call_jq 20 alice '.[2].state == "ended" and .[2].reason == "hangup"' ||
	fail "alice's third call did not end: $(cat "$T/calls.json")"
ctl alice calls | grep -c ended | grep -qx 3 || fail "p2pctl calls: $(ctl alice calls)"
pass "p2pctl call --no-open, hangup of a ringing call by the callee, p2pctl calls"

# with a graphical session, p2pctl call hands the link to xdg-open; without one, it
# prints it even when xdg-open is there
mkdir -p "$T/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s/opened"\n' "$T" >"$T/bin/xdg-open"
chmod +x "$T/bin/xdg-open"
PATH="$T/bin:$PATH" DISPLAY=:9 ctl alice call bob >"$T/out" || fail "p2pctl call: $(cat "$T/out")"
grep -q "the call page opens in your browser" "$T/out" || fail "p2pctl call: $(cat "$T/out")"
wait_for 10 test -s "$T/opened" || fail "xdg-open was not run"
grep -q "^http://127.0.0.1:$port/call?id=[0-9a-f]*&token=[0-9a-f]*$" "$T/opened" ||
	fail "xdg-open got: $(cat "$T/opened")"
ctl alice hangup >/dev/null || fail "p2pctl hangup of the xdg-open call"
rm -f "$T/opened"
PATH="$T/bin:$PATH" DISPLAY= WAYLAND_DISPLAY= ctl alice call bob >"$T/out" || fail "p2pctl call: $(cat "$T/out")"
grep -q "^http://127.0.0.1:$port/call?id=" "$T/out" && [ ! -e "$T/opened" ] ||
	fail "without a display: $(cat "$T/out")"
ctl alice hangup >/dev/null || fail "p2pctl hangup of the printed call"
pass "p2pctl call opens the link with xdg-open in a graphical session, prints it otherwise"

# p2p-signald comes back handing out a TURN server (nothing answers there) with
# credentials: the daemons register again and their pages must get it too
stop_signald
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/turn.secret"
chmod 600 "$T/turn.secret"
"$SIGNALD" --listen "127.0.0.1:$SIG_PORT" --certificate "$T/sig/signald.crt" \
	--private-key "$T/sig/signald.key" --keys "$T/sig/keys.conf" \
	--turn-server 127.0.0.1:3479 --turn-secret-file "$T/turn.secret" >>"$T/signald.log" 2>&1 &
SIGNALD_PID=$!
PIDS="$PIDS $SIGNALD_PID"
wait_for 30 sh -c "[ \$(grep -c 'signaling: registered' '$T/bob.log') -ge 2 ]" ||
	fail "bob did not register again"
wait_for 20 sees alice bob || fail "alice does not see bob again"

# a page of our own (a WebSocket client in Python) answers for bob: it gets the hello
# with the STUN server of bob's configuration and the TURN server p2p-signald handed
# out, a message with an unknown member is ignored, and its hangup ends the call on
# alice's side
rpc alice call.start '{"peer":"bob"}' >"$T/start.json"
call5=$(jq -r '.result.call // empty' "$T/start.json")
call_jq 20 bob ".[-1].call == \"$call5\" and .[-1].state == \"ringing\"" ||
	fail "the fifth call does not ring: $(cat "$T/calls.json")"
url_b=$(rpc bob call.answer '{}' | jq -r '.result.url // empty')
port_b=$(printf '%s' "$url_b" | sed -n 's|^http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p')
python3 - "$port_b" "${url_b#*/call?}" >"$T/page.out" 2>&1 <<'PY' &
import base64, json, os, socket, struct, sys, time
port, query = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws?%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nOrigin: http://127.0.0.1:%s\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: %s\r\n\r\n" % (query, port, port, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, _, buf = buf.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(), flush=True)
def recv_exact(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out
def recv_msg():
    b0, b1 = recv_exact(2)
    n = b1 & 0x7f
    if n == 126: n = struct.unpack(">H", recv_exact(2))[0]
    elif n == 127: n = struct.unpack(">Q", recv_exact(8))[0]
    return b0 & 0x0f, recv_exact(n)
def send_text(obj):
    data = json.dumps(obj).encode()
    mask = os.urandom(4)
    hdr = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else
                           bytes([0x80 | 126]) + struct.pack(">H", len(data)))
    s.sendall(hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))
op, data = recv_msg()
print(data.decode(), flush=True)
send_text({"type": "stats", "connection": "connecting", "bogus": 1})
send_text({"type": "stats", "connection": "connecting", "path": "", "frames_decoded": 0})
time.sleep(float(os.environ.get("HOLD", "2")))
send_text({"type": "hangup"})
while True:
    op, data = recv_msg()
    print(op, data.decode(errors="replace"), flush=True)
    if op == 8:
        break
PY
PAGE=$!
PIDS="$PIDS $PAGE"
call_jq 20 alice ".[-1].call == \"$call5\" and .[-1].state == \"active\"" ||
	fail "opening bob's page did not answer: $(cat "$T/calls.json") $(cat "$T/page.out")"
call_jq 20 bob '.[-1].connection == "connecting"' || fail "bob's page stats: $(cat "$T/calls.json")"
wait "$PAGE" || fail "the page: $(cat "$T/page.out")"
sed -n 1p "$T/page.out" | grep -q "^HTTP/1.1 101" || fail "no upgrade: $(cat "$T/page.out")"
sed -n 2p "$T/page.out" | jq -e --arg c "$call5" '.type == "hello" and .call == $c and .role == "callee"
	and .peer == "alice" and .accepted == false
	and ([.ice_servers[].urls[0] | select(startswith("stun:"))] == ["stun:127.0.0.1:3478"])
	and (.ice_servers | any(.urls[0] == "turn:127.0.0.1:3479?transport=udp"
	                        and (.username | test("^[0-9]+:.*bob$")) and (.credential | length > 0)))' >/dev/null ||
	fail "hello: $(sed -n 2p "$T/page.out")"
grep -q '"type":"ended".*"reason":"hangup"' "$T/page.out" || fail "the page was not told: $(cat "$T/page.out")"
call_jq 20 alice '.[-1].state == "ended" and .[-1].reason == "hangup" and (.[-1].message | test("callee hung up"))' ||
	fail "the page's hangup did not end alice's call: $(cat "$T/calls.json")"
pass "a page's hello carries the STUN and TURN servers of its p2pd; its hangup ends the call on the other side"

# call.list keeps the last 16 ended calls; at most 4 go on at once
i=0
while [ $i -lt 17 ]; do
	c=$(rpc alice call.start '{"peer":"bob"}' | jq -r '.result.call // empty')
	[ -n "$c" ] || fail "call.start number $i failed"
	rpc alice call.hangup "{\"call\":\"$c\"}" | jq -e '.result.state == "ended"' >/dev/null ||
		fail "call.hangup $c"
	i=$((i + 1))
done
calls alice | jq -e "length == 16 and .[-1].call == \"$c\" and all(.state == \"ended\")" >/dev/null ||
	fail "alice's calls after 17 more: $(calls alice)"
for i in 1 2 3 4; do rpc alice call.start '{"peer":"bob"}' | jq -e .result >/dev/null || fail "call $i of 4"; done
rpc alice call.start '{"peer":"bob"}' | jq -e '.error.code == -32000' >/dev/null ||
	fail "a fifth call at once was not refused"
rpc alice call.hangup | jq -e '.error.code == -32010 and (.error.message | test("4 calls are going on"))' >/dev/null ||
	fail "call.hangup without an id among 4 calls"
for c in $(calls alice | jq -r '.[] | select(.state != "ended") | .call'); do
	rpc alice call.hangup "{\"call\":\"$c\"}" >/dev/null
done
pass "call.list keeps 16 ended calls; a fifth call at once is refused"

# a ringing call ends when the session to the peer is lost
ctl alice --json call --no-open bob >"$T/out" || fail "p2pctl call: $(cat "$T/out")"
call_jq 20 bob '.[-1].state == "ringing"' || fail "the last call: $(cat "$T/calls.json")"
stop_daemon bob
call_jq 60 alice '.[-1].state == "ended" and .[-1].reason == "disconnected"' ||
	fail "alice's call did not end with bob's daemon: $(cat "$T/calls.json")"
pass "a call ends when the session to the peer is lost"

# tests/integration/signald-common.sh: sourced by the signald-*.sh tests, after
# tests/lib.sh. Makes a certificate and API keys in $T, starts p2p-signald on
# 127.0.0.1:0 (the port comes back through --port-file), and drives clients made of
# tests/tls-line-client reading a FIFO, each with its own output file.

CLIENT="$top_builddir/tests/tls-line-client"
[ -x "$SIGNALD" ] || skip "p2p-signald is not built"
[ -x "$CLIENT" ] || skip "tests/tls-line-client is not built"
command -v mkfifo >/dev/null || skip "mkfifo is missing"

ETC="$T/etc"
KEYS="$ETC/keys.conf"
FP_A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
FP_B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
FP_C=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
FP_D=dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd

"$SIGNALD" --make-cert "$ETC" >"$T/make-cert.log" 2>&1 || fail "--make-cert failed"

# add_key NAME [PARTNERS]: prints the secret
add_key() {
	if [ -n "${2:-}" ]; then
		"$SIGNALD" --keys "$KEYS" --add-key "$1" --partners "$2" 2>>"$T/add-key.log"
	else
		"$SIGNALD" --keys "$KEYS" --add-key "$1" 2>>"$T/add-key.log"
	fi
}

# start_signald [FLAG...]: runs the server in the background, sets PORT
start_signald() {
	rm -f "$T/port"
	"$SIGNALD" --listen 127.0.0.1:0 --port-file "$T/port" \
		--certificate "$ETC/signald.crt" --private-key "$ETC/signald.key" \
		--keys "$KEYS" "$@" >"$T/signald.out" 2>"$T/signald.log" &
	SIGNALD_PID=$!
	PIDS="$PIDS $SIGNALD_PID"
	wait_for 10 test -s "$T/port" || fail "p2p-signald did not write its port file"
	PORT=$(cat "$T/port")
}

# client NAME [tls-line-client FLAG...]: connects a client whose input is the FIFO
# $T/NAME.in and whose output goes to $T/NAME.out (stderr to $T/NAME.err)
client() {
	name=$1; shift
	mkfifo "$T/$name.in"
	"$CLIENT" --ca "$ETC/signald.crt" --wait 0 "$@" 127.0.0.1 "$PORT" \
		<"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
	PIDS="$PIDS $!"
	# hold the FIFO open for writing so the client only sees EOF when we say so
	sleep 100000 >"$T/$name.in" &
	PIDS="$PIDS $!"
	eval "HOLDER_$name=\$!"
}

# send NAME LINE: one line to the server
send() {
	printf '%s\n' "$2" >>"$T/$1.in"
}

# expect NAME FIXED-STRING...: waits until one line of NAME's output holds all strings
expect() {
	name=$1; shift
	wait_for 10 has_line "$T/$name.out" "$@" ||
		fail "$name never got a line with: $* (got: $(cat "$T/$name.out"))"
}

# has_line FILE FIXED-STRING...: some line of FILE holds every string
has_line() {
	file=$1; shift
	cp "$file" "$T/has_line.tmp"
	for s in "$@"; do
		grep -F -- "$s" "$T/has_line.tmp" >"$T/has_line.tmp2" || return 1
		mv "$T/has_line.tmp2" "$T/has_line.tmp"
	done
}

# never NAME FIXED-STRING...: no line of NAME's output holds all strings (call it
# after a later reply proved the server has moved past the point in question)
never() {
	name=$1; shift
	! has_line "$T/$name.out" "$@" || fail "$name got an unexpected line with: $*"
}

# closed NAME: the server hung up on NAME
closed() {
	wait_for 10 grep -q "connection closed by server" "$T/$1.err" ||
		fail "the server did not hang up on $1"
}

# register NAME ID SECRET AGENT FINGERPRINT: sends a register request
register() {
	send "$1" "{\"jsonrpc\":\"2.0\",\"id\":$2,\"method\":\"register\",\"params\":{\"version\":1,\"key\":\"$3\",\"agent\":\"$4\",\"fingerprint\":\"$5\"}}"
}

# call NAME ID METHOD [PARAMS-JSON]
call() {
	params=${4:-}
	[ -n "$params" ] || params='{}'
	send "$1" "{\"jsonrpc\":\"2.0\",\"id\":$2,\"method\":\"$3\",\"params\":$params}"
}

# ping_ok NAME ID: the session still works
ping_ok() {
	call "$1" "$2" ping
	expect "$1" "\"id\":$2,\"result\":{}"
}

#!/bin/sh
# p2p-signald's administrative side: --check-config on good and bad files, --add-key
# storing a hash and never the secret, --make-cert not overwriting, flags overriding
# the config file, max-connections, and a clean stop on SIGTERM.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/signald-common.sh"
command -v sha256sum >/dev/null || skip "sha256sum is missing"

# --add-key: the secret goes to stdout once; the file holds its SHA-256, mode 0600
SECRET=$(add_key alpha beta)
[ ${#SECRET} -ge 40 ] || fail "secret too short: $SECRET"
! grep -qF -- "$SECRET" "$KEYS" || fail "the keys file holds the secret in clear"
HASH=$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)
grep -qx "sha256=$HASH" "$KEYS" || fail "the keys file lacks sha256=$HASH: $(cat "$KEYS")"
grep -qx 'partners=beta;' "$KEYS" || fail "partners not written: $(cat "$KEYS")"
[ "$(stat -c %a "$KEYS")" = 600 ] || fail "keys file mode is $(stat -c %a "$KEYS")"
# adding it again replaces the group: a new secret, one group
SECRET2=$(add_key alpha)
[ "$SECRET2" != "$SECRET" ] || fail "the same secret twice"
[ "$(grep -c '^\[key alpha\]' "$KEYS")" = 1 ] || fail "two [key alpha] groups"
! grep -q "sha256=$HASH" "$KEYS" || fail "the old hash survived"
! grep -q '^partners' "$KEYS" || fail "the old partners survived"
! "$SIGNALD" --keys "$KEYS" --add-key 'bad.name' >"$T/out" 2>"$T/err" || fail "bad.name accepted"
grep -q 'bad.name' "$T/err" || fail "the error does not quote the bad name"

# --make-cert does not overwrite
! "$SIGNALD" --make-cert "$ETC" 2>"$T/err" || fail "--make-cert overwrote"
grep -q 'exists already' "$T/err" || fail "no reason given: $(cat "$T/err")"
[ "$(stat -c %a "$ETC/signald.key")" = 600 ] || fail "private key mode is not 0600"

# --check-config: a good file
cat >"$T/good.conf" <<CONF
[signald]
listen = [::1]:7443
certificate = $ETC/signald.crt
private-key = $ETC/signald.key
keys = $KEYS
max-line = 65536
max-depth = 16
rate = 50
max-sessions-per-key = 64
max-connections = 1024
register-timeout = 10
CONF
"$SIGNALD" --config "$T/good.conf" --check-config >"$T/out" 2>"$T/err" ||
	fail "good config refused: $(cat "$T/err")"
grep -qx 'config OK' "$T/out" || fail "no 'config OK'"

# the shipped examples are valid
"$SIGNALD" --config "$top_srcdir/etc/signald.conf" --keys "$top_srcdir/etc/keys.conf.example" \
	--certificate "$ETC/signald.crt" --private-key "$ETC/signald.key" --check-config \
	>"$T/out" 2>"$T/err" || fail "etc/signald.conf or etc/keys.conf.example refused: $(cat "$T/err")"

# bad files: exit 1 and an error naming the file and the key
check_bad() {
	what=$1; shift
	printf '%s\n' "$@" >"$T/bad.conf"
	if "$SIGNALD" --config "$T/bad.conf" --check-config >"$T/out" 2>"$T/err"; then
		fail "bad config ($what) accepted"
	fi
	[ $? -eq 1 ] || true
	grep -qF "$T/bad.conf" "$T/err" || fail "($what) error does not name the file: $(cat "$T/err")"
	grep -qF "$what" "$T/err" || fail "($what) error does not name the key: $(cat "$T/err")"
	! grep -q 'config OK' "$T/out" || fail "($what) printed config OK"
}
check_bad rate '[signald]' 'rate = fast'
check_bad max-depth '[signald]' 'max-depth = 0'
check_bad colour '[signald]' 'colour = blue'
check_bad listen '[signald]' 'listen = nowhere'
check_bad other '[other]' 'x = 1'

"$SIGNALD" --config "$T/good.conf" --check-config --rate 0 >"$T/out" 2>"$T/err" &&
	fail "--rate 0 accepted"
grep -q -- '--rate' "$T/err" || fail "the error does not name --rate"

# a broken keys file, and a certificate that is missing
cp "$KEYS" "$T/keys.bad"
printf '[key beta]\nsha256 = 1234\n' >>"$T/keys.bad"
"$SIGNALD" --config "$T/good.conf" --keys "$T/keys.bad" --check-config >"$T/out" 2>"$T/err" &&
	fail "broken keys file accepted"
grep -qF "$T/keys.bad: [key beta] sha256" "$T/err" || fail "keys error unclear: $(cat "$T/err")"
"$SIGNALD" --config "$T/good.conf" --certificate "$T/none.crt" --check-config 2>"$T/err" &&
	fail "missing certificate accepted"
grep -qF "$T/none.crt" "$T/err" || fail "the error does not name the certificate"

# flags override the file (its listen port 1 would fail), and max-connections holds
cat >"$T/run.conf" <<CONF
[signald]
listen = 127.0.0.1:1
max-connections = 1
CONF
rm -f "$T/port"
"$SIGNALD" --config "$T/run.conf" --listen 127.0.0.1:0 --port-file "$T/port" \
	--certificate "$ETC/signald.crt" --private-key "$ETC/signald.key" --keys "$KEYS" \
	>"$T/signald.out" 2>"$T/signald.log" &
SIGNALD_PID=$!
PIDS="$PIDS $SIGNALD_PID"
wait_for 10 test -s "$T/port" || fail "no port file"
PORT=$(cat "$T/port")
[ "$PORT" != 1 ] || fail "the file's listen won over --listen"
wait_for 10 grep -qx "$PORT" "$T/signald.out" || fail "port 0: the bound port is not printed"

client one; register one 1 "$SECRET2" one "$FP_A"
expect one '"id":1,' '"result"'
if "$CLIENT" --ca "$ETC/signald.crt" --wait 0 127.0.0.1 "$PORT" </dev/null >"$T/two.out" 2>"$T/two.err"; then
	# the handshake may have raced the close; then the server must have hung up at once
	grep -q 'closed by server' "$T/two.err" || fail "a second connection was served"
fi
grep -q 'limit 127.0.0.1:[0-9]*: max-connections (1)' "$T/signald.log" ||
	fail "max-connections not logged"
ping_ok one 2

# SIGTERM: a clean stop, exit status 0
kill -TERM "$SIGNALD_PID"
wait "$SIGNALD_PID" || fail "p2p-signald exited with $? on SIGTERM"
grep -q 'stopping on SIGTERM' "$T/signald.log" || fail "no stop line in the log"
closed one
pass "admin"

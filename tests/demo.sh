#!/bin/sh
# tests/demo.sh: a throwaway p2p-signald and two daemons, alice and bob, on loopback in
# a temporary directory; alice sends bob a file; everything stops at the end.
top_builddir=$(cd "$(dirname "$0")/.." && pwd)
. "$top_builddir/tests/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting p2p-signald (TLS on 127.0.0.1, self-signed certificate, API key \"team\") in $T"
start_signald
echo "listening on 127.0.0.1:$SIG_PORT"

say "starting p2pd for alice and bob (each makes an Ed25519 identity on first start)"
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"
wait_for 10 sees bob alice || fail "bob does not see alice"

say "p2pctl list (on alice)"
ctl alice list

say "p2pctl info (on bob)"
ctl bob info

head -c $((256 * 1024 * 1024)) /dev/urandom >"$T/holiday-video.bin"
say "alice: p2pctl send holiday-video.bin bob (256 MiB over ICE, inside TLS 1.3)"
ctl alice send "$T/holiday-video.bin" bob

say "p2pctl list (on alice): the session and the path it took"
ctl alice list

say "bob's inbox"
ls -l "$T/bob/inbox"
sha256sum "$T/holiday-video.bin" "$T/bob/inbox/holiday-video.bin"
cmp "$T/holiday-video.bin" "$T/bob/inbox/holiday-video.bin" && echo "identical, byte for byte"

say "p2pctl transfers (on bob)"
ctl bob transfers

say "the signaling server saw no file name, size or data:"
if grep -q "holiday-video" "$T/signald.log"; then fail "the file name reached the signaling server"; fi
echo "(grep for the file name in its log finds nothing)"

say "stopping everything"

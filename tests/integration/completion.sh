#!/bin/sh
# The bash completion, sourced into bash: p2pctl's commands, a command's options, the
# peers p2pd sees ("p2pctl --json list") and log levels; p2pd's and p2p-signald's options.
. "$top_srcdir/tests/lib.sh"

need_tools bash
start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"

# complete PROGRAM WORDS...: the candidates for the last word (the one being typed)
complete_words() {
	bash -c '
		. "$1/completion/p2pctl"; . "$1/completion/p2pd"; . "$1/completion/p2p-signald"
		prog=$2; fn=$3; shift 3
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"$fn" "$prog"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$top_srcdir" "$@"
}

complete_words "$P2PCTL" _p2pctl p2pctl "" >"$T/c"
for c in info list send call answer hangup calls log-level help; do
	grep -qx "$c" "$T/c" || fail "p2pctl <TAB> does not offer $c: $(tr '\n' ' ' <"$T/c")"
done
complete_words "$P2PCTL" _p2pctl p2pctl lo >"$T/c"
[ "$(cat "$T/c")" = "log-level" ] || fail "p2pctl lo<TAB>: $(cat "$T/c")"
complete_words "$P2PCTL" _p2pctl p2pctl send --n >"$T/c"
[ "$(cat "$T/c")" = "--no-wait" ] || fail "p2pctl send --n<TAB>: $(cat "$T/c")"
complete_words "$P2PCTL" _p2pctl p2pctl log-level d >"$T/c"
[ "$(cat "$T/c")" = "debug" ] || fail "p2pctl log-level d<TAB>: $(cat "$T/c")"
pass "p2pctl commands, options and levels"

complete_words "$P2PCTL" _p2pctl p2pctl --socket "$T/alice/ctl.sock" send "$T/none" b >"$T/c"
grep -qx bob "$T/c" || fail "p2pctl send FILE b<TAB> does not offer bob: $(cat "$T/c")"
P2PD_SOCKET="$T/bob/ctl.sock" complete_words "$P2PCTL" _p2pctl p2pctl send x a >"$T/c"
grep -qx alice "$T/c" || fail "with P2PD_SOCKET, send x a<TAB> does not offer alice: $(cat "$T/c")"
pass "peers from p2pctl --json list"

complete_words "$P2PD" _p2pd p2pd --max-f >"$T/c"
grep -qx -- --max-file-size "$T/c" && grep -qx -- --max-files "$T/c" ||
	fail "p2pd --max-f<TAB>: $(cat "$T/c")"
complete_words "$P2PD" _p2pd p2pd --log-level w >"$T/c"
[ "$(cat "$T/c")" = "warning" ] || fail "p2pd --log-level w<TAB>: $(cat "$T/c")"
complete_words "$SIGNALD" _p2p_signald p2p-signald --make >"$T/c"
[ "$(cat "$T/c")" = "--make-cert" ] || fail "p2p-signald --make<TAB>: $(cat "$T/c")"
pass "p2pd and p2p-signald options"

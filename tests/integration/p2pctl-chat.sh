#!/bin/sh
# p2pctl chat between two real daemons, on two terminals that tmux emulates (fixed size,
# keys sent with send-keys, the screen read with capture-pane): "is typing" appears on
# the other side and goes away with the message, messages both ways with their sender,
# a message to a peer whose daemon is down shows as not yet delivered and gets its ✓
# once the peer is back (and arrives once), a peer's escape sequences show as text,
# and the terminal is usable again after leaving. Then the script forms: --send, lines
# on standard input, --history [N], --json.
. "$top_srcdir/tests/lib.sh"
need_tools tmux jq

start_signald
start_daemon alice
start_daemon bob
wait_for 10 sees alice bob || fail "alice does not see bob"
wait_for 10 sees bob alice || fail "bob does not see alice"

# A private tmux server; UTF-8 so that ✓ and … survive capture-pane.
export LC_ALL=C.UTF-8
tm() { tmux -S "$T/tmux.sock" "$@"; }
tmux_down() { tm kill-server 2>/dev/null; }
CLEANUP_EXTRA=tmux_down

# chat_in NAME PEER: a terminal (80x20) running NAME's p2pctl chat with PEER; when it
# ends, its status and the terminal's settings are left in $T/NAME-exit and -stty.
chat_in() {
	cmd="env TERM=xterm-256color '$P2PCTL' --socket '$T/$1/ctl.sock' chat $2 2>'$T/$1-chat.err';
		echo \$? >'$T/$1-exit'; stty -a >'$T/$1-stty'; echo CHAT-ENDED; sleep 600"
	rm -f "$T/$1-exit" "$T/$1-stty"
	if tm has-session -t "$1" 2>/dev/null; then
		tm respawn-pane -k -t "$1" "$cmd"
	else
		tm -f /dev/null new-session -d -s "$1" -x 80 -y 20 "$cmd"
		PIDS="$PIDS $(tm display-message -p '#{pid}')"
	fi
}
screen() { tm capture-pane -p -t "$1"; }
# sane NAME: the terminal NAME's chat left behind has echo and line editing back
# ("-icanon" and "-echo" are what raw mode looks like in stty -a).
sane() {
	grep -Eq '(^| )icanon( |$)' "$T/$1-stty" && grep -Eq '(^| )echo( |$)' "$T/$1-stty" ||
		fail "$1's terminal was left raw: $(cat "$T/$1-stty")"
}
# shows NAME TEXT [SECS]: NAME's screen shows TEXT (a fixed string) within SECS.
shows() {
	sh_i=0
	while ! screen "$1" | grep -qF -- "$2"; do
		sh_i=$((sh_i + 1))
		[ $sh_i -le $((${3:-20} * 10)) ] || return 1
		sleep 0.1
	done
}
lacks() { ! screen "$1" | grep -qF -- "$2"; }
must_show() { shows "$1" "$2" || fail "$1's screen does not show \"$2\":
$(screen "$1")"; }

# p2pd sends TYPING only on a session that is up (it does not start one for it, as
# chat.send does): a first message brings the session up, and is then the history
# both screens start with.
ctl alice chat --send "warm-up" bob >/dev/null || fail "chat --send failed"
wait_for 20 sh -c "'$P2PCTL' --socket '$T/alice/ctl.sock' --json chat --history bob 1 |
	grep -q '\"state\":\"delivered\"'" || fail "the first message was not delivered"

chat_in alice bob
chat_in bob alice
must_show alice "bob is online"
must_show bob "alice is online"
must_show alice "alice: warm-up ✓"
must_show bob "alice: warm-up"

# typing on alice's side shows on bob's, and goes away once the message is there
tm send-keys -t alice -l "hello bob"
must_show bob "alice is typing"
must_show alice "> hello bob"
tm send-keys -t alice Enter
must_show bob "alice: hello bob"
wait_for 20 lacks bob "is typing" || fail "\"is typing\" stays after the message:
$(screen bob)"
must_show alice "alice: hello bob ✓"
pass "typing shows on the other side and clears with the message; delivered ✓"

tm send-keys -t bob -l "hi alice, how are you?"
tm send-keys -t bob Enter
must_show alice "bob: hi alice, how are you?"
must_show bob "bob: hi alice, how are you? ✓"
# line editing: Home, Left, Backspace, End; Up recalls the last line
tm send-keys -t alice -l "fine thanks"
tm send-keys -t alice Home Right Right Right Right BSpace End
tm send-keys -t alice -l "!"
must_show alice "> fin thanks!"
tm send-keys -t alice Enter
must_show bob "alice: fin thanks!"
tm send-keys -t alice Up
must_show alice "> fin thanks!"
tm send-keys -t alice C-u
wait_for 10 lacks alice "> fin" || fail "Ctrl-U did not clear the line"
pass "messages both ways with sender and text; editing keys and history"

# typing that stops without a message: "is typing" goes away by itself
tm send-keys -t bob -l "let me think"
must_show alice "bob is typing"
wait_for 30 lacks alice "is typing" || fail "\"is typing\" stays after bob stopped:
$(screen alice)"
tm send-keys -t bob C-u
pass "\"is typing\" clears after a pause"

# a smaller window: redrawn to fit, status above the input line
tm resize-window -t alice -x 50 -y 10
wait_for 20 sh -c "tmux -S '$T/tmux.sock' capture-pane -p -t alice | sed -n 9p | grep -q '^bob is online'" ||
	fail "not redrawn after the resize:
$(screen alice)"
[ "$(screen alice | sed -n 10p)" = ">" ] || fail "input line after the resize: $(screen alice)"
must_show alice "alice: fin thanks!"
tm resize-window -t alice -x 80 -y 20
must_show alice "alice: warm-up"
pass "redrawn on SIGWINCH"

# a hostile peer: a clear-screen, a window title, a bell, a right-to-left override
ctl bob chat --send "$(printf 'evil \033[2J\033]0;pwned\007 \342\200\256gnp.exe')" alice >"$T/id" ||
	fail "chat --send failed"
must_show alice 'bob: evil \x1b[2J\x1b]0;pwned\x07 \u{202E}gnp.exe'
# nothing was cleared or retitled
must_show alice "bob: hi alice, how are you?"
[ "$(tm display-message -p -t alice '#{pane_title}')" != pwned ] || fail "the peer set the window title"
pass "escape sequences and bidi overrides from the peer show as text"

# bob's daemon goes away: its chat ends with the terminal restored
stop_daemon bob
wait_for 20 test -s "$T/bob-exit" || fail "bob's chat did not end when its daemon stopped"
[ "$(cat "$T/bob-exit")" = 1 ] || fail "bob's chat: status $(cat "$T/bob-exit"), expected 1"
grep -q "closed the connection" "$T/bob-chat.err" || fail "bob's chat said: $(cat "$T/bob-chat.err")"
must_show bob CHAT-ENDED
sane bob
must_show alice "bob went offline" 30
must_show alice "bob is offline"
tm send-keys -t alice -l "while you were away"
tm send-keys -t alice Enter
must_show alice "alice: while you were away …"
lacks alice "while you were away ✓" || fail "delivered to a stopped daemon?"
pass "a message to a peer that is away shows as not yet delivered"

rm -f "$T/bob/ctl.sock"
start_daemon bob
must_show alice "bob is back online" 30
must_show alice "alice: while you were away ✓" 30
[ "$(screen alice | grep -cF 'while you were away')" = 1 ] || fail "shown more than once:
$(screen alice)"
ctl bob --json chat --history alice >"$T/h"
jq -e '[.messages[] | select(.text == "while you were away")] | length == 1' "$T/h" >/dev/null ||
	fail "bob did not get it exactly once: $(cat "$T/h")"
# bob's new chat starts with the conversation so far, the message in it once
chat_in bob alice
must_show bob "alice: while you were away"
[ "$(screen bob | grep -cF 'while you were away')" = 1 ] || fail "bob's screen:
$(screen bob)"
pass "delivered ✓ when the peer's daemon is back, exactly once"

# leaving: Ctrl-D on an empty line, the terminal as it was
tm send-keys -t alice C-d
wait_for 20 test -s "$T/alice-exit" || fail "Ctrl-D did not leave"
[ "$(cat "$T/alice-exit")" = 0 ] || fail "alice's chat: status $(cat "$T/alice-exit")"
must_show alice CHAT-ENDED
sane alice
tm send-keys -t bob C-c
wait_for 20 test -s "$T/bob-exit" || fail "Ctrl-C did not leave"
must_show bob CHAT-ENDED
sane bob
pass "Ctrl-D and Ctrl-C leave, the terminal restored"

# ---- the script forms ---------------------------------------------------------------
id=$(ctl alice chat --send "scripted" bob) || fail "chat --send: status $?"
printf '%s\n' "$id" | grep -qx '[0-9a-f]\{16\}' || fail "chat --send printed \"$id\""
ctl alice --json chat bob --send "as json" >"$T/m"
jq -e '.direction == "out" and .text == "as json" and (.state | test("^(queued|sent|delivered)$"))' \
	"$T/m" >/dev/null || fail "chat --send --json: $(cat "$T/m")"
printf 'line one\n\nline two\n' | ctl alice chat bob >"$T/ids" || fail "stdin lines: status $?"
[ "$(grep -c '^[0-9a-f]\{16\}$' "$T/ids")" = 2 ] || fail "stdin lines printed: $(cat "$T/ids")"
printf 'line three\n' | ctl alice --json chat bob | jq -e '.text == "line three"' >/dev/null ||
	fail "stdin lines with --json"
pass "--send, --json, lines on standard input"

ctl alice chat --history bob 3 >"$T/h3" || fail "--history: status $?"
[ "$(wc -l <"$T/h3")" = 3 ] || fail "--history 3 printed: $(cat "$T/h3")"
sed -n 3p "$T/h3" | grep -q '^[0-9][0-9]:[0-9][0-9] alice: line three [✓…]$' ||
	fail "--history 3, last line: $(cat "$T/h3")"
ctl alice --json chat --history bob 4 | jq -e '.messages | length == 4 and .[3].text == "line three"' \
	>/dev/null || fail "--history --json"
ctl alice chat --history bob >"$T/hall"
grep -qF 'bob: evil \x1b[2J\x1b]0;pwned\x07 \u{202E}gnp.exe' "$T/hall" || fail "--history: $(cat "$T/hall")"
! grep -q "$(printf '\033')" "$T/hall" || fail "--history printed a raw escape"
# every message once, in order, on bob's side too
wait_for 20 sh -c "'$P2PCTL' --socket '$T/bob/ctl.sock' chat --history alice 1 | grep -q 'line three'" ||
	fail "bob never got \"line three\""
ctl bob --json chat --history alice 100 >"$T/hb"
jq -e '[.messages[] | select(.direction == "in") | .text] ==
	["warm-up", "hello bob", "fin thanks!", "while you were away", "scripted", "as json", "line one",
	 "line two", "line three"]' "$T/hb" >/dev/null || fail "bob's history: $(cat "$T/hb")"
set +e
ctl alice chat --send hi nobody 2>"$T/err"
rc=$?
set -e
[ $rc = 5 ] || fail "unknown peer: status $rc ($(cat "$T/err"))"
pass "--history [N] and --json; an unknown peer is status 5"

# an unknown name opens no screen: status 5, the terminal untouched
chat_in alice nobody
wait_for 20 test -s "$T/alice-exit" || fail "chat with an unknown peer did not end"
[ "$(cat "$T/alice-exit")" = 5 ] || fail "chat nobody: status $(cat "$T/alice-exit"): $(cat "$T/alice-chat.err")"
grep -q 'no peer "nobody"' "$T/alice-chat.err" || fail "chat nobody said: $(cat "$T/alice-chat.err")"
must_show alice CHAT-ENDED
sane alice
pass "an unknown peer is status 5 before any screen"

# watch shows chat events as lines, escaped (retried: watch may subscribe late)
ctl bob watch >"$T/watch" 2>&1 &
PIDS="$PIDS $!"
i=0
until grep -q 'chat_message [0-9a-f]* from alice (received): ping \\x1b\[1m' "$T/watch"; do
	i=$((i + 1))
	[ $i -le 40 ] || fail "watch shows no chat_message: $(cat "$T/watch")"
	ctl alice chat --send "$(printf 'ping \033[1m')" bob >/dev/null
	sleep 0.5
done
pass "watch prints chat events"

/* Unit tests for the pieces of "p2pctl chat": key decoding, the line editor, one line
 * per message (and what a hostile peer's text becomes on the way to the terminal),
 * wrapping, merging message states, and the screen frame. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "p2pctl-chat.h"

/* 2026-11-23 17:58:24 UTC, and a day before */
#define NOW   1795456704.0
#define TODAY 1795456704.5
#define DAY_BEFORE (NOW - 86400.0)

#define assert_fmt(expr, expected)                  \
	G_STMT_START {                              \
		g_autofree char *s_ = (expr);       \
		g_assert_cmpstr(s_, ==, (expected)); \
	} G_STMT_END

/* ---- keys --------------------------------------------------------------------------- */

static P2pctlKeyType
key1(const char *bytes, gsize *used)
{
	P2pctlKey k;
	*used = p2pctl_key_decode(bytes, strlen(bytes), &k);
	return k.type;
}

static void
test_keys(void)
{
	static const struct {
		const char *bytes;
		P2pctlKeyType type;
		gsize used;
	} cases[] = {
		{ "a", P2PCTL_KEY_CHAR, 1 },
		{ "\r", P2PCTL_KEY_ENTER, 1 },
		{ "\n", P2PCTL_KEY_ENTER, 1 },
		{ "\x1b[D", P2PCTL_KEY_LEFT, 3 },
		{ "\x1b[C", P2PCTL_KEY_RIGHT, 3 },
		{ "\x1b[A", P2PCTL_KEY_UP, 3 },
		{ "\x1b[B", P2PCTL_KEY_DOWN, 3 },
		{ "\x1bOD", P2PCTL_KEY_LEFT, 3 },
		{ "\x1b[H", P2PCTL_KEY_HOME, 3 },
		{ "\x1b[1~", P2PCTL_KEY_HOME, 4 },
		{ "\x1b[7~", P2PCTL_KEY_HOME, 4 },
		{ "\x1bOH", P2PCTL_KEY_HOME, 3 },
		{ "\x1b[F", P2PCTL_KEY_END, 3 },
		{ "\x1b[4~", P2PCTL_KEY_END, 4 },
		{ "\x1b[8~", P2PCTL_KEY_END, 4 },
		{ "\x1b[3~", P2PCTL_KEY_DELETE, 4 },
		{ "\x1b[5~", P2PCTL_KEY_PAGE_UP, 4 },
		{ "\x1b[6~", P2PCTL_KEY_PAGE_DOWN, 4 },
		{ "\x1b[1;5C", P2PCTL_KEY_RIGHT, 6 }, /* Ctrl-Right: still right */
		{ "\x1b[200~", P2PCTL_KEY_NONE, 6 },  /* bracketed paste start: ignored */
		{ "\x01", P2PCTL_KEY_HOME, 1 },
		{ "\x05", P2PCTL_KEY_END, 1 },
		{ "\x7f", P2PCTL_KEY_BACKSPACE, 1 },
		{ "\x08", P2PCTL_KEY_BACKSPACE, 1 },
		{ "\x03", P2PCTL_KEY_CTRL_C, 1 },
		{ "\x04", P2PCTL_KEY_CTRL_D, 1 },
		{ "\x15", P2PCTL_KEY_KILL_START, 1 },
		{ "\x0b", P2PCTL_KEY_KILL_END, 1 },
		{ "\x17", P2PCTL_KEY_KILL_WORD, 1 },
		{ "\x0c", P2PCTL_KEY_REDRAW, 1 },
		{ "\x07", P2PCTL_KEY_NONE, 1 },       /* other controls: consumed, ignored */
		{ "\x1bx", P2PCTL_KEY_NONE, 2 },      /* Alt-x */
		{ "\xc3\xa9", P2PCTL_KEY_CHAR, 2 },   /* é */
		{ "\xe6\x97\xa5", P2PCTL_KEY_CHAR, 3 },
		{ "\xe2\x80\xae", P2PCTL_KEY_NONE, 3 }, /* U+202E never enters the text */
		{ "\xc2\x9b", P2PCTL_KEY_NONE, 2 },   /* C1 CSI */
		{ "\xff", P2PCTL_KEY_NONE, 1 },       /* invalid UTF-8 */
		{ "\x80", P2PCTL_KEY_NONE, 1 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		gsize used = 0;
		P2pctlKeyType t = key1(cases[i].bytes, &used);
		g_test_message("case %u", i);
		g_assert_cmpint(t, ==, cases[i].type);
		g_assert_cmpuint(used, ==, cases[i].used);
	}

	/* incomplete: wait for more */
	P2pctlKey k;
	g_assert_cmpuint(p2pctl_key_decode("\x1b", 1, &k), ==, 0);
	g_assert_cmpuint(p2pctl_key_decode("\x1b[", 2, &k), ==, 0);
	g_assert_cmpuint(p2pctl_key_decode("\x1b[1;5", 5, &k), ==, 0);
	g_assert_cmpuint(p2pctl_key_decode("\x1bO", 2, &k), ==, 0);
	g_assert_cmpuint(p2pctl_key_decode("\xe6\x97", 2, &k), ==, 0);
	g_assert_cmpuint(p2pctl_key_flush("\x1b", 1), ==, 1);
	/* a cut character followed by something that is not a continuation: drop it */
	g_assert_cmpuint(p2pctl_key_decode("\xe6" "a", 2, &k), ==, 1);
	/* an endless sequence is dropped once it is longer than any real one */
	char junk[P2PCTL_KEY_MAX_SEQ + 4];
	junk[0] = 0x1b;
	junk[1] = '[';
	memset(junk + 2, '1', sizeof(junk) - 2);
	g_assert_cmpuint(p2pctl_key_decode(junk, sizeof(junk), &k), ==, sizeof(junk));

	/* a run of keys as one read delivers them */
	const char *run = "hi\x1b[D!\r";
	gsize at = 0, len = strlen(run);
	GString *types = g_string_new(NULL);
	while (at < len) {
		gsize used = p2pctl_key_decode(run + at, len - at, &k);
		g_assert_cmpuint(used, >, 0);
		g_string_append_printf(types, "%d,", k.type);
		at += used;
	}
	g_autofree char *expect = g_strdup_printf("%d,%d,%d,%d,%d,", P2PCTL_KEY_CHAR,
	                                          P2PCTL_KEY_CHAR, P2PCTL_KEY_LEFT,
	                                          P2PCTL_KEY_CHAR, P2PCTL_KEY_ENTER);
	g_assert_cmpstr(types->str, ==, expect);
	g_string_free(types, TRUE);
}

/* ---- editor ----------------------------------------------------------------------- */

/* Feeds bytes as keys; returns the last result. */
static P2pctlEditResult
feed(P2pctlEditor *ed, const char *bytes)
{
	P2pctlEditResult r = P2PCTL_EDIT_NONE;
	gsize len = strlen(bytes), at = 0;

	while (at < len) {
		P2pctlKey k;
		gsize used = p2pctl_key_decode(bytes + at, len - at, &k);
		g_assert_cmpuint(used, >, 0);
		at += used;
		r = p2pctl_editor_key(ed, &k);
	}
	return r;
}

static void
test_editor(void)
{
	g_autoptr(P2pctlEditor) ed = p2pctl_editor_new(P2P_CHAT_MAX_TEXT);

	g_assert_cmpint(feed(ed, "hello"), ==, P2PCTL_EDIT_CHANGED);
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "hello");
	g_assert_cmpuint(p2pctl_editor_cursor(ed), ==, 5);
	/* left twice, insert, Home, insert, End, insert */
	feed(ed, "\x1b[D\x1b[DX\x01<\x05>");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "<helXlo>");
	/* Backspace at the end, Delete at the start */
	feed(ed, "\x7f\x01\x1b[3~");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "helXlo");
	g_assert_cmpuint(p2pctl_editor_cursor(ed), ==, 0);
	g_assert_cmpint(feed(ed, "\x7f"), ==, P2PCTL_EDIT_BELL);   /* nothing before */
	g_assert_cmpint(feed(ed, "\x1b[D"), ==, P2PCTL_EDIT_NONE); /* already at 0 */
	/* Ctrl-D on text deletes, like Delete */
	g_assert_cmpint(feed(ed, "\x04"), ==, P2PCTL_EDIT_CHANGED);
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "elXlo");
	/* Ctrl-K, Ctrl-U, Ctrl-W */
	feed(ed, "\x1b[C\x1b[C\x0b");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "el");
	feed(ed, " two words");
	feed(ed, "\x17");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "el two ");
	feed(ed, "\x1b[D\x15");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, " ");
	g_assert_cmpuint(p2pctl_editor_cursor(ed), ==, 0);
	feed(ed, "\x05\x7f");

	/* Enter on an empty line does nothing; Ctrl-D on an empty line leaves */
	g_assert_cmpint(feed(ed, "\r"), ==, P2PCTL_EDIT_NONE);
	g_assert_cmpint(feed(ed, "\x04"), ==, P2PCTL_EDIT_QUIT);
	g_assert_cmpint(feed(ed, "abc\x03"), ==, P2PCTL_EDIT_QUIT);
	feed(ed, "\x15");

	/* multibyte characters move and delete whole */
	feed(ed, "a\xc3\xa9\xe6\x97\xa5z");
	feed(ed, "\x1b[D\x1b[D\x7f");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "a\xe6\x97\xa5z");
	g_assert_cmpuint(p2pctl_editor_cursor(ed), ==, 1);
	feed(ed, "\x1b[3~");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "az");
	/* a bidi override or an escape typed (or pasted) never gets in */
	feed(ed, "\xe2\x80\xae\x1b[2J\x07");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "az");
	g_assert_true(g_utf8_validate(p2pctl_editor_text(ed), -1, NULL));
}

static void
test_editor_history(void)
{
	g_autoptr(P2pctlEditor) ed = p2pctl_editor_new(P2P_CHAT_MAX_TEXT);

	g_assert_cmpint(feed(ed, "\x1b[A"), ==, P2PCTL_EDIT_BELL); /* no history yet */
	g_assert_cmpint(feed(ed, "first\r"), ==, P2PCTL_EDIT_SUBMIT);
	assert_fmt(p2pctl_editor_take_line(ed), "first");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "");
	feed(ed, "second\r");
	assert_fmt(p2pctl_editor_take_line(ed), "second");
	feed(ed, "draft");
	feed(ed, "\x1b[A");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "second");
	feed(ed, "\x1b[A");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "first");
	g_assert_cmpint(feed(ed, "\x1b[A"), ==, P2PCTL_EDIT_BELL);
	feed(ed, "\x1b[B\x1b[B");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "draft"); /* what was being written */
	g_assert_cmpint(feed(ed, "\x1b[B"), ==, P2PCTL_EDIT_BELL);
	/* a recalled line can be edited and sent */
	feed(ed, "\x15\x1b[A!\r");
	assert_fmt(p2pctl_editor_take_line(ed), "second!");
	/* the same line twice is kept once */
	feed(ed, "second!\r");
	assert_fmt(p2pctl_editor_take_line(ed), "second!");
	feed(ed, "\x1b[A\x1b[A");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "second");
}

static void
test_editor_limit(void)
{
	g_autoptr(P2pctlEditor) ed = p2pctl_editor_new(4);

	feed(ed, "abcd");
	g_assert_cmpint(feed(ed, "e"), ==, P2PCTL_EDIT_BELL);
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "abcd");
	feed(ed, "\x7f\x7f\x7f");
	/* a 3-byte character does not fit after 2 bytes' worth... it does: 1 + 3 = 4 */
	g_assert_cmpint(feed(ed, "\xe6\x97\xa5"), ==, P2PCTL_EDIT_CHANGED);
	g_assert_cmpint(feed(ed, "\xc3\xa9"), ==, P2PCTL_EDIT_BELL);
	/* set_text cuts at a character boundary, never inside one */
	p2pctl_editor_set_text(ed, "ab\xe6\x97\xa5");
	g_assert_cmpstr(p2pctl_editor_text(ed), ==, "ab");
	g_assert_cmpuint(p2pctl_editor_cursor(ed), ==, 2);
}

static void
test_editor_visible(void)
{
	g_autoptr(P2pctlEditor) ed = p2pctl_editor_new(P2P_CHAT_MAX_TEXT);
	guint col = 99;

	assert_fmt(p2pctl_editor_visible(ed, 10, &col), "");
	g_assert_cmpuint(col, ==, 0);
	feed(ed, "0123456789abcdef");
	/* the cursor at the end stays in view on the last column */
	assert_fmt(p2pctl_editor_visible(ed, 10, &col), "789abcdef");
	g_assert_cmpuint(col, ==, 9);
	feed(ed, "\x01");
	assert_fmt(p2pctl_editor_visible(ed, 10, &col), "0123456789");
	g_assert_cmpuint(col, ==, 0);
	/* wide characters take two columns */
	p2pctl_editor_set_text(ed, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	g_assert_cmpuint(p2pctl_text_columns(p2pctl_editor_text(ed), -1), ==, 6);
	assert_fmt(p2pctl_editor_visible(ed, 5, &col), "\xe6\x9c\xac\xe8\xaa\x9e");
	g_assert_cmpuint(col, ==, 4);
	feed(ed, "\x01");
	assert_fmt(p2pctl_editor_visible(ed, 5, &col), "\xe6\x97\xa5\xe6\x9c\xac");
	g_assert_cmpuint(col, ==, 0);
}

/* ---- messages --------------------------------------------------------------------- */

static P2pctlChatMessage *
msg(const char *json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = json_from_string(json, &error);
	g_assert_no_error(error);
	P2pctlChatMessage *m = p2pctl_chat_message_from_json(node, &error);
	g_assert_no_error(error);
	return m;
}

static void
test_message_json(void)
{
	g_autoptr(P2pctlChatMessage) m = msg(
		"{\"id\":\"9f2c41d07a6b3e15\",\"peer\":\"team.bob\",\"direction\":\"out\","
		"\"text\":\"hello\",\"ts\":1795456704.885,\"state\":\"queued\",\"new\":1}");
	g_assert_cmpstr(m->id, ==, "9f2c41d07a6b3e15");
	g_assert_cmpstr(m->peer, ==, "team.bob");
	g_assert_true(m->outgoing);
	g_assert_cmpint(m->state, ==, P2PCTL_CHAT_QUEUED);
	g_assert_cmpfloat(m->ts, ==, 1795456704.885);
	g_autoptr(P2pctlChatMessage) in = msg("{\"id\":\"1\",\"direction\":\"in\",\"text\":\"x\","
	                                      "\"ts\":1795456704,\"state\":\"received\"}");
	g_assert_false(in->outgoing);
	g_assert_cmpfloat(in->ts, ==, 1795456704.0);

	static const char *const bad[] = {
		"[]", "{\"direction\":\"in\",\"text\":\"x\"}", "{\"id\":1,\"direction\":\"in\",\"text\":\"x\"}",
		"{\"id\":\"1\",\"direction\":\"sideways\",\"text\":\"x\"}",
		"{\"id\":\"1\",\"direction\":\"in\",\"text\":null}",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node = json_from_string(bad[i], NULL);
		g_assert_null(p2pctl_chat_message_from_json(node, &error));
		g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL);
	}
}

static void
test_render(void)
{
	g_autoptr(P2pctlChatMessage) out = msg("{\"id\":\"a\",\"direction\":\"out\",\"text\":\"hi bob\","
	                                       "\"ts\":1795456704.5,\"state\":\"sent\"}");
	assert_fmt(p2pctl_chat_render(out, "alice", "bob", NOW), "17:58 alice: hi bob \xe2\x80\xa6");
	out->state = P2PCTL_CHAT_QUEUED;
	assert_fmt(p2pctl_chat_render(out, "alice", "bob", NOW), "17:58 alice: hi bob \xe2\x80\xa6");
	out->state = P2PCTL_CHAT_DELIVERED;
	assert_fmt(p2pctl_chat_render(out, "alice", "bob", NOW), "17:58 alice: hi bob \xe2\x9c\x93");
	/* another day: the date in front */
	out->ts = DAY_BEFORE;
	assert_fmt(p2pctl_chat_render(out, "alice", "bob", NOW),
	           "2026-11-22 17:58 alice: hi bob \xe2\x9c\x93");
	out->ts = 0;
	assert_fmt(p2pctl_chat_render(out, "alice", "bob", NOW), "--:-- alice: hi bob \xe2\x9c\x93");

	g_autoptr(P2pctlChatMessage) in = msg("{\"id\":\"b\",\"direction\":\"in\",\"text\":\"yo\","
	                                      "\"ts\":1795456704.5,\"state\":\"received\"}");
	assert_fmt(p2pctl_chat_render(in, "alice", "bob", NOW), "17:58 bob: yo");
}

/* What a hostile peer can put in a message, and what the terminal gets instead. */
static void
test_render_hostile(void)
{
	static const struct {
		const char *text;
		const char *shown;
	} cases[] = {
		{ "\x1b[2J", "\\x1b[2J" },                          /* clear screen */
		{ "\x1b]0;owned\x07", "\\x1b]0;owned\\x07" },       /* set the window title */
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "a\rb\nc\td", "a\\rb\\nc\\td" },                  /* overwrite the line */
		{ "\x08\x08\x08xx", "\\x08\\x08\\x08xx" },
		{ "\xc2\x9b" "2J", "\\u{009B}2J" },                 /* one-byte CSI */
		{ "\xe2\x80\xaetxt.exe", "\\u{202E}txt.exe" },      /* RIGHT-TO-LEFT OVERRIDE */
		{ "\xe2\x81\xa6x\xe2\x81\xa9", "\\u{2066}x\\u{2069}" }, /* isolates */
		{ "bad\xff\xfe\xc3", "bad\\xff\\xfe\\xc3" },        /* invalid UTF-8 */
		{ "caf\xc3\xa9", "caf\xc3\xa9" },                   /* and what stays as it is */
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		P2pctlChatMessage m = { .id = (char *)"x", .outgoing = FALSE, .ts = TODAY,
		                        .text = (char *)cases[i].text,
		                        .state = P2PCTL_CHAT_RECEIVED };
		g_autofree char *line = p2pctl_chat_render(&m, "alice", "bob", NOW);
		g_autofree char *expect = g_strdup_printf("17:58 bob: %s", cases[i].shown);
		g_assert_cmpstr(line, ==, expect);
		for (const char *p = line; *p; p++)
			g_assert_true((guchar)*p >= 0x20 && (guchar)*p != 0x7f);
	}
	/* a hostile peer name too (the alias is what the user typed, but ids come from
	 * the signaling server) */
	P2pctlChatMessage m = { .id = (char *)"x", .ts = TODAY, .text = (char *)"hi" };
	assert_fmt(p2pctl_chat_render(&m, "alice", "ev\x1b[8mil", NOW), "17:58 ev\\x1b[8mil: hi");
}

static void
test_wrap(void)
{
	g_autoptr(GPtrArray) a = p2pctl_chat_wrap("abcdefgh", 3);
	g_assert_cmpuint(a->len, ==, 3);
	g_assert_cmpstr(a->pdata[0], ==, "abc");
	g_assert_cmpstr(a->pdata[2], ==, "gh");
	g_autoptr(GPtrArray) e = p2pctl_chat_wrap("", 3);
	g_assert_cmpuint(e->len, ==, 1);
	g_assert_cmpstr(e->pdata[0], ==, "");
	/* a wide character that does not fit goes to the next row whole */
	g_autoptr(GPtrArray) w = p2pctl_chat_wrap("a\xe6\x97\xa5\xe6\x9c\xac", 4);
	g_assert_cmpuint(w->len, ==, 2);
	g_assert_cmpstr(w->pdata[0], ==, "a\xe6\x97\xa5");
	g_assert_cmpstr(w->pdata[1], ==, "\xe6\x9c\xac");
	/* narrower than one wide character: one per row rather than none */
	g_autoptr(GPtrArray) n = p2pctl_chat_wrap("\xe6\x97\xa5\xe6\x9c\xac", 1);
	g_assert_cmpuint(n->len, ==, 2);
}

static void
test_peer_matches(void)
{
	g_assert_true(p2pctl_chat_peer_matches("team.bob", "team.bob", "bob"));
	g_assert_false(p2pctl_chat_peer_matches("other.bob", "team.bob", "bob"));
	g_assert_true(p2pctl_chat_peer_matches("team.bob", NULL, "bob"));
	g_assert_true(p2pctl_chat_peer_matches("bob", NULL, "bob"));
	g_assert_false(p2pctl_chat_peer_matches("team.bobby", NULL, "bob"));
	g_assert_false(p2pctl_chat_peer_matches("team.carol", NULL, "bob"));
	g_assert_false(p2pctl_chat_peer_matches("x.team.bob", NULL, "team.bob"));
	g_assert_false(p2pctl_chat_peer_matches(NULL, "team.bob", "bob"));
}

static void
test_upsert(void)
{
	P2pctlChat chat;

	p2pctl_chat_init(&chat, "alice", "bob");
	g_assert_true(p2pctl_chat_upsert(&chat, msg("{\"id\":\"a\",\"direction\":\"out\","
	                                            "\"text\":\"1\",\"state\":\"queued\"}")));
	/* the same id coming back from an event: no new line */
	g_assert_false(p2pctl_chat_upsert(&chat, msg("{\"id\":\"a\",\"direction\":\"out\","
	                                             "\"text\":\"1\",\"state\":\"queued\"}")));
	g_assert_true(p2pctl_chat_upsert(&chat, msg("{\"id\":\"a\",\"direction\":\"out\","
	                                            "\"text\":\"1\",\"state\":\"sent\"}")));
	g_assert_true(p2pctl_chat_delivered(&chat, "a"));
	g_assert_false(p2pctl_chat_delivered(&chat, "a"));
	g_assert_false(p2pctl_chat_delivered(&chat, "nope"));
	/* a late "sent" (the answer to chat.send after the event) does not undo ✓ */
	g_assert_false(p2pctl_chat_upsert(&chat, msg("{\"id\":\"a\",\"direction\":\"out\","
	                                             "\"text\":\"1\",\"state\":\"sent\"}")));
	g_assert_cmpuint(chat.items->len, ==, 1);
	g_assert_cmpint(((P2pctlChatMessage *)chat.items->pdata[0])->state, ==,
	                P2PCTL_CHAT_DELIVERED);
	/* an incoming message with the same id is another message */
	g_assert_true(p2pctl_chat_upsert(&chat, msg("{\"id\":\"a\",\"direction\":\"in\","
	                                            "\"text\":\"2\",\"state\":\"received\"}")));
	g_assert_false(p2pctl_chat_delivered(&chat, "zz"));
	g_assert_cmpuint(chat.items->len, ==, 2);
	/* bounded */
	for (guint i = 0; i < P2PCTL_CHAT_MAX_ITEMS + 10; i++)
		p2pctl_chat_note(&chat, NOW, "note");
	g_assert_cmpuint(chat.items->len, ==, P2PCTL_CHAT_MAX_ITEMS);
	p2pctl_chat_clear(&chat);
}

static void
test_status(void)
{
	P2pctlChat chat;

	p2pctl_chat_init(&chat, "alice", "bob");
	assert_fmt(p2pctl_chat_status(&chat, 1000), "bob is online");
	chat.typing_until = 2000;
	assert_fmt(p2pctl_chat_status(&chat, 1000), "bob is typing\xe2\x80\xa6");
	/* it clears by itself once the time is past */
	assert_fmt(p2pctl_chat_status(&chat, 2000), "bob is online");
	chat.online = FALSE;
	assert_fmt(p2pctl_chat_status(&chat, 3000), "bob is offline: messages wait until it is back");
	p2pctl_chat_clear(&chat);
}

/* Every ESC in a frame is one of ours: cursor position, erase line, attributes,
 * cursor visibility. */
static void
assert_only_our_sequences(const char *frame)
{
	for (const char *p = strchr(frame, '\x1b'); p; p = strchr(p + 1, '\x1b')) {
		g_assert_cmpint(p[1], ==, '[');
		const char *q = p + 2;
		if (*q == '?')
			q++;
		while (g_ascii_isdigit(*q) || *q == ';')
			q++;
		g_assert_nonnull(strchr("HKmhl", *q));
		if (*q == 'h' || *q == 'l')
			g_assert_true(g_str_has_prefix(p, "\x1b[?25"));
	}
}

static void
test_frame(void)
{
	P2pctlChat chat;
	g_autoptr(P2pctlEditor) ed = p2pctl_editor_new(P2P_CHAT_MAX_TEXT);

	p2pctl_chat_init(&chat, "alice", "bob");
	p2pctl_chat_upsert(&chat, msg("{\"id\":\"1\",\"direction\":\"in\",\"text\":\"\\u001b[2J"
	                              "\\u0007\\u202egnp.exe\",\"ts\":1795456704,"
	                              "\"state\":\"received\"}"));
	p2pctl_chat_upsert(&chat, msg("{\"id\":\"2\",\"direction\":\"out\",\"text\":\"hello\","
	                              "\"ts\":1795456704,\"state\":\"delivered\"}"));
	feed(ed, "typing");
	g_autofree char *f = p2pctl_chat_frame(&chat, ed, 6, 40, NOW, 0);
	assert_only_our_sequences(f);
	g_assert_nonnull(strstr(f, "\x1b[3;1H\x1b[2K17:58 bob: \\x1b[2J\\x07\\u{202E}gnp.exe"));
	g_assert_nonnull(strstr(f, "\x1b[4;1H\x1b[2K17:58 alice: hello \xe2\x9c\x93"));
	/* status on the row before last, reversed and padded to the width */
	g_assert_nonnull(strstr(f, "\x1b[5;1H\x1b[2K\x1b[7mbob is online                           \x1b[0m"));
	/* input line with the cursor after "> typing" */
	g_assert_nonnull(strstr(f, "\x1b[6;1H\x1b[2K> typing\x1b[6;9H"));
	/* the screen is empty above the conversation */
	g_assert_nonnull(strstr(f, "\x1b[1;1H\x1b[2K\x1b[2;1H\x1b[2K\x1b[3;1H"));

	/* a long line wraps; the newest rows stay at the bottom, the oldest scroll away */
	p2pctl_chat_upsert(&chat, msg("{\"id\":\"3\",\"direction\":\"in\",\"text\":\"0123456789"
	                              "01234567890123456789012345678901234567890123456789"
	                              "012345678901234567890123456789\","
	                              "\"ts\":1795456704,\"state\":\"received\"}"));
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 6, 40, NOW, 0);
	assert_only_our_sequences(f);
	g_assert_nonnull(strstr(f, "\x1b[1;1H\x1b[2K17:58 alice: hello"));
	g_assert_nonnull(strstr(f, "\x1b[2;1H\x1b[2K17:58 bob: 012345678901234567890123456"));
	g_assert_nonnull(strstr(f, "\x1b[4;1H\x1b[2K901234567890123456789\x1b"));
	g_assert_null(strstr(f, "gnp.exe"));

	/* PageUp: older rows come back, the status says so */
	chat.scroll = 100; /* clamped to what there is */
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 6, 80, NOW, 0);
	g_assert_cmpuint(chat.scroll, ==, 0); /* at 80 columns, everything fits */
	chat.scroll = 1;
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 6, 40, NOW, 0);
	g_assert_nonnull(strstr(f, "gnp.exe"));
	g_assert_nonnull(strstr(f, "scrolled back 1 lines"));

	/* typing, then offline */
	chat.scroll = 0;
	chat.typing_until = 10;
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 6, 40, NOW, 5);
	g_assert_nonnull(strstr(f, "\x1b[7mbob is typing\xe2\x80\xa6"));
	/* tiny terminals do not crash */
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 1, 3, NOW, 5);
	assert_only_our_sequences(f);
	g_free(f);
	f = p2pctl_chat_frame(&chat, ed, 2, 1, NOW, 5);
	assert_only_our_sequences(f);
	p2pctl_chat_clear(&chat);
}

static void
test_watch_lines(void)
{
	static const struct {
		const char *method;
		const char *params;
		const char *line;
	} cases[] = {
		{ "chat_message", "{\"id\":\"ab\",\"peer\":\"bob\",\"direction\":\"in\",\"text\":"
		  "\"hi \\u001b[2J\",\"ts\":1,\"state\":\"received\"}",
		  "chat_message ab from bob (received): hi \\x1b[2J" },
		{ "chat_message", "{\"id\":\"cd\",\"peer\":\"bob\",\"direction\":\"out\",\"text\":"
		  "\"yo\",\"ts\":1,\"state\":\"queued\"}", "chat_message cd to bob (queued): yo" },
		{ "chat_message", "{\"peer\":\"bob\"}", NULL },
		{ "chat_delivered", "{\"id\":\"cd\",\"peer\":\"bob\"}", "chat_delivered cd to bob" },
		{ "chat_typing", "{\"peer\":\"ev\\u202eil\"}", "chat_typing ev\\u{202E}il is typing" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) node = json_from_string(cases[i].params, NULL);
		g_autofree char *line = p2pctl_chat_format_event(cases[i].method, node);
		if (cases[i].line)
			g_assert_cmpstr(line, ==, cases[i].line);
		else
			g_assert_true(g_str_has_prefix(line, "chat_message (unreadable: "));
		/* and watch puts a time stamp in front */
		g_autofree char *w = p2pctl_format_event(cases[i].method, node);
		g_assert_true(g_str_has_suffix(w, line));
	}
}

/* ---- the terminal, on a pseudo-terminal ------------------------------------------ */

static int
open_pty(char **slave_name)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0) {
		g_test_skip("no pseudo-terminals here (posix_openpt failed)");
		return -1;
	}
	g_assert_cmpint(grantpt(master), ==, 0);
	g_assert_cmpint(unlockpt(master), ==, 0);
	*slave_name = g_strdup(ptsname(master));
	return master;
}

static gboolean
is_cooked(const char *slave_name)
{
	struct termios t;
	int fd = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(tcgetattr(fd, &t), ==, 0);
	close(fd);
	return (t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG);
}

static char *
drain(int master)
{
	GString *s = g_string_new(NULL);
	char buf[4096];
	int flags = fcntl(master, F_GETFL);
	fcntl(master, F_SETFL, flags | O_NONBLOCK);
	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n <= 0)
			break;
		g_string_append_len(s, buf, n);
	}
	fcntl(master, F_SETFL, flags);
	return g_string_free(s, FALSE);
}

static void
test_term_enter_leave(void)
{
	g_autofree char *name = NULL;
	int master = open_pty(&name);
	if (master < 0)
		return;
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	g_assert_true(is_cooked(name));
	g_assert_true(p2pctl_term_enter(slave, slave, NULL));
	g_assert_cmpint(tcgetattr(slave, &t), ==, 0);
	g_assert_false(t.c_lflag & (ICANON | ECHO | ISIG));
	p2pctl_term_leave();
	p2pctl_term_leave(); /* twice is harmless (atexit does it again) */
	g_assert_true(is_cooked(name));
	g_autofree char *out = drain(master);
	/* into the alternate screen and out of it, the cursor shown again */
	g_assert_nonnull(strstr(out, "\033[?1049h"));
	g_assert_nonnull(strstr(out, "\033[?25h\033[?1049l"));
	/* no terminal: a clear error, nothing changed */
	g_autoptr(GError) error = NULL;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	g_assert_false(p2pctl_term_enter(null, null, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO);
	close(null);
	close(slave);
	close(master);
}

/* A crash (here abort()) with the terminal raw: the handler restores it first. */
static void
test_term_fatal_signal(void)
{
	g_autofree char *name = NULL;
	int master = open_pty(&name);
	if (master < 0)
		return;
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		int slave = open(name, O_RDWR | O_NOCTTY);
		if (slave < 0 || !p2pctl_term_enter(slave, slave, NULL))
			_exit(2);
		abort();
	}
	int status = 0;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGABRT);
	g_assert_true(is_cooked(name));
	g_autofree char *out = drain(master);
	g_assert_nonnull(strstr(out, "\033[?1049l"));
	close(master);
}

/* SIGTSTP gives the terminal back before stopping; SIGCONT takes it again. */
static void
test_term_stop_continue(void)
{
	g_autofree char *name = NULL;
	int master = open_pty(&name);
	if (master < 0)
		return;
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int slave = open(name, O_RDWR | O_NOCTTY);
		struct termios t;
		if (slave < 0 || !p2pctl_term_enter(slave, slave, NULL))
			_exit(2);
		raise(SIGTSTP);
		/* continued: raw again? (3: not stopped at all, 4: not raw) */
		guint sig = p2pctl_term_signals();
		if (tcgetattr(slave, &t) < 0 || (t.c_lflag & ICANON))
			_exit(4);
		_exit(sig & P2PCTL_TERM_RESIZED ? 0 : 5);
	}
	int status = 0;
	g_assert_cmpint(waitpid(pid, &status, WUNTRACED), ==, pid);
	if (!WIFSTOPPED(status)) {
		/* an orphaned process group ignores SIGTSTP: nothing to see here */
		close(master);
		g_test_skip("SIGTSTP did not stop the child (orphaned process group?)");
		return;
	}
	g_assert_true(is_cooked(name));
	kill(pid, SIGCONT);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	close(master);
}

int
main(int argc, char **argv)
{
	/* times are shown in local time: make it UTC for the expected strings */
	g_setenv("TZ", "UTC", TRUE);
	tzset();
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/p2pctl/chat/keys", test_keys);
	g_test_add_func("/p2pctl/chat/editor", test_editor);
	g_test_add_func("/p2pctl/chat/editor-history", test_editor_history);
	g_test_add_func("/p2pctl/chat/editor-limit", test_editor_limit);
	g_test_add_func("/p2pctl/chat/editor-visible", test_editor_visible);
	g_test_add_func("/p2pctl/chat/message-json", test_message_json);
	g_test_add_func("/p2pctl/chat/render", test_render);
	g_test_add_func("/p2pctl/chat/render-hostile", test_render_hostile);
	g_test_add_func("/p2pctl/chat/wrap", test_wrap);
	g_test_add_func("/p2pctl/chat/peer-matches", test_peer_matches);
	g_test_add_func("/p2pctl/chat/upsert", test_upsert);
	g_test_add_func("/p2pctl/chat/status", test_status);
	g_test_add_func("/p2pctl/chat/frame", test_frame);
	g_test_add_func("/p2pctl/chat/watch-lines", test_watch_lines);
	g_test_add_func("/p2pctl/chat/term-enter-leave", test_term_enter_leave);
	g_test_add_func("/p2pctl/chat/term-fatal-signal", test_term_fatal_signal);
	g_test_add_func("/p2pctl/chat/term-stop-continue", test_term_stop_continue);
	return g_test_run();
}

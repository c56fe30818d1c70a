/* Unit tests for p2pctl's output helpers: sizes, rates, durations, escaping of text
 * that came from a peer, collision names, the progress line and Transfer decoding. */
#include "config.h"

#include <string.h>

#include "p2pctl.h"

#define assert_fmt(expr, expected)                  \
	G_STMT_START {                              \
		g_autofree char *s_ = (expr);       \
		g_assert_cmpstr(s_, ==, (expected)); \
	} G_STMT_END

static void
test_size(void)
{
	assert_fmt(p2pctl_format_size(0), "0 B");
	assert_fmt(p2pctl_format_size(1023), "1023 B");
	assert_fmt(p2pctl_format_size(1024), "1.0 KiB");
	assert_fmt(p2pctl_format_size(1536), "1.5 KiB");
	/* rounds up into the next unit rather than printing "1024.0 KiB" */
	assert_fmt(p2pctl_format_size(1048575), "1.0 MiB");
	assert_fmt(p2pctl_format_size(10 * 1024 * 1024), "10.0 MiB");
	assert_fmt(p2pctl_format_size(G_GUINT64_CONSTANT(5) << 40), "5.0 TiB");
	assert_fmt(p2pctl_format_size(G_MAXUINT64), "16.0 EiB");
}

static void
test_rate_duration(void)
{
	assert_fmt(p2pctl_format_rate(0), "0 B/s");
	assert_fmt(p2pctl_format_rate(-5), "0 B/s");
	assert_fmt(p2pctl_format_rate(512.7), "512 B/s");
	assert_fmt(p2pctl_format_rate(3.25 * 1024 * 1024), "3.2 MiB/s");
	assert_fmt(p2pctl_format_duration(0), "0:00");
	assert_fmt(p2pctl_format_duration(5.4), "0:05");
	assert_fmt(p2pctl_format_duration(62), "1:02");
	assert_fmt(p2pctl_format_duration(3723), "1:02:03");
	assert_fmt(p2pctl_format_duration(-1), "--:--");
	assert_fmt(p2pctl_format_duration(1.0 / 0.0), "--:--");
	assert_fmt(p2pctl_format_duration(1e12), "--:--");
}

static void
test_escape(void)
{
	assert_fmt(p2pctl_escape("plain name.txt"), "plain name.txt");
	assert_fmt(p2pctl_escape("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
	/* a colour/cursor sequence becomes visible text */
	assert_fmt(p2pctl_escape("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
	assert_fmt(p2pctl_escape("line\nbreak\ttab\rcr"), "line\\nbreak\\ttab\\rcr");
	assert_fmt(p2pctl_escape("bell\x07 del\x7f"), "bell\\x07 del\\x7f");
	/* C1 control (U+009B is a one-byte CSI on some terminals) */
	assert_fmt(p2pctl_escape("x\xc2\x9b" "2J"), "x\\u{009B}2J");
	/* right-to-left override: "txt.exe" would read as "exe.txt" */
	assert_fmt(p2pctl_escape("\xe2\x80\xaetxt.exe"), "\\u{202E}txt.exe");
	/* invalid UTF-8 bytes one by one */
	assert_fmt(p2pctl_escape("bad\xff\xfe"), "bad\\xff\\xfe");
	assert_fmt(p2pctl_escape(""), "");
	assert_fmt(p2pctl_escape(NULL), "");
}

static void
test_collision_name(void)
{
	assert_fmt(p2pctl_collision_name("report.pdf", 1), "report (1).pdf");
	assert_fmt(p2pctl_collision_name("report.pdf", 12), "report (12).pdf");
	assert_fmt(p2pctl_collision_name("README", 1), "README (1)");
	assert_fmt(p2pctl_collision_name(".bashrc", 2), ".bashrc (2)");
	assert_fmt(p2pctl_collision_name(".config.json", 1), ".config (1).json");
	assert_fmt(p2pctl_collision_name("notes.", 1), "notes. (1)");
	assert_fmt(p2pctl_collision_name("a.b.c", 1), "a.b (1).c");
	assert_fmt(p2pctl_collision_name("backup.tar.gz", 3), "backup (3).tar.gz");
	assert_fmt(p2pctl_collision_name(".tar.gz", 1), ".tar (1).gz");
	assert_fmt(p2pctl_collision_name("x", 1), "x (1)");
}

static void
test_name_safe(void)
{
	g_autofree char *long_name = g_strnfill(256, 'a');

	g_assert_true(p2pctl_name_is_safe("a.txt"));
	g_assert_true(p2pctl_name_is_safe(".hidden"));
	g_assert_true(p2pctl_name_is_safe("..."));
	g_assert_false(p2pctl_name_is_safe(""));
	g_assert_false(p2pctl_name_is_safe(NULL));
	g_assert_false(p2pctl_name_is_safe("."));
	g_assert_false(p2pctl_name_is_safe(".."));
	g_assert_false(p2pctl_name_is_safe("../etc/passwd"));
	g_assert_false(p2pctl_name_is_safe("dir/file"));
	g_assert_false(p2pctl_name_is_safe("/abs"));
	g_assert_false(p2pctl_name_is_safe(long_name));
}

static void
test_progress_line(void)
{
	g_autofree char *line = p2pctl_format_progress("file.bin", 512 * 1024, 1024 * 1024,
	                                               256 * 1024, 80);
	g_assert_nonnull(strstr(line, "file.bin ["));
	g_assert_nonnull(strstr(line, " 50% 512.0 KiB / 1.0 MiB  256.0 KiB/s  ETA 0:02"));
	g_assert_cmpuint(g_utf8_strlen(line, -1), <=, 79);

	/* a hostile name is escaped and shortened; the line still fits */
	g_autofree char *evil = p2pctl_format_progress("\x1b]0;owned\x07-a-very-long-name-that-goes-on-and-on.iso",
	                                               0, 100, 0, 60);
	g_assert_null(strchr(evil, '\x1b'));
	g_assert_nonnull(strstr(evil, "ETA --:--"));
	g_assert_cmpuint(g_utf8_strlen(evil, -1), <=, 60);

	/* narrow terminal: no bar, but the numbers stay */
	g_autofree char *narrow = p2pctl_format_progress("f", 100, 100, 10, 20);
	g_assert_nonnull(strstr(narrow, "100%"));
	g_assert_null(strchr(narrow, '['));
}

static void
test_transfer_decode(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) ok = json_from_string(
		"{\"id\":\"a1\",\"direction\":\"in\",\"peer\":\"bob\",\"name\":\"x\\u001b.txt\","
		"\"size\":10,\"bytes\":5,\"state\":\"failed\",\"started\":1700000000.5,"
		"\"rate\":2,\"reason\":{\"code\":\"too-large\",\"message\":\"limit\\n10\"},"
		"\"future_member\":[1,2]}", &error);
	g_assert_no_error(error);
	g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(ok, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(t->id, ==, "a1");
	g_assert_cmpuint(t->size, ==, 10);
	g_assert_cmpuint(t->bytes, ==, 5);
	g_assert_cmpfloat(t->started, ==, 1700000000.5);
	g_assert_cmpstr(t->reason_code, ==, "too-large");
	g_assert_true(p2pctl_transfer_is_final(t));

	g_autofree char *text = p2pctl_transfer_describe(t);
	g_assert_null(strchr(text, '\x1b'));
	g_assert_nonnull(strstr(text, "name:        x\\x1b.txt\n"));
	g_assert_nonnull(strstr(text, "reason:      too-large: limit\\n10\n"));
	g_assert_nonnull(strstr(text, "done:        5 bytes\n"));
	g_assert_nonnull(strstr(text, "progress:    50%\n"));
	/* an older daemon without counts: no "contents" line, no "on the wire" line */
	g_assert_null(strstr(text, "contents:"));
	g_assert_null(strstr(text, "on the wire:"));
	g_assert_cmpint(t->files, ==, -1);
	g_assert_true(p2pctl_transfer_is_single_file(t));

	g_autofree char *ev = p2pctl_format_event(P2P_E_TRANSFER_FAILED, ok);
	g_assert_nonnull(strstr(ev, "transfer_failed a1 from bob: x\\x1b.txt (10 B) failed (too-large: limit\\n10)"));

	/* wrong types are refused, naming the member */
	g_autoptr(JsonNode) bad = json_from_string("{\"id\":\"a\",\"state\":\"x\",\"size\":\"big\"}", NULL);
	g_assert_null(p2pctl_transfer_from_json(bad, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "\"size\""));
	g_clear_error(&error);
	g_autoptr(JsonNode) noid = json_from_string("{\"state\":\"x\"}", NULL);
	g_assert_null(p2pctl_transfer_from_json(noid, &error));
	g_assert_nonnull(strstr(error->message, "\"id\""));
}

static void
test_table(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	g_autoptr(P2pctlTable) t = p2pctl_table_new(3, "A", "BB", "C");

	p2pctl_table_add(t, "long-cell", NULL, "x\x1by");
	p2pctl_table_add(t, "s", "two", "z");
	p2pctl_table_print(t, f);
	fclose(f);
	g_assert_cmpstr(buf, ==,
	                "A          BB   C\n"
	                "long-cell  -    x\\x1by\n"
	                "s          two  z\n");
	free(buf);
}

/* The members of a v2 Transfer: a directory and a file, paused, then complete. */
#define TREE_XFER(state, extra)                                                           \
	"{\"id\":\"44acef7d\",\"direction\":\"in\",\"peer\":\"bob\","                        \
	"\"name\":\"photos (+1 more)\",\"items\":[\"photos\",\"a\\u001b.txt\"],"                 \
	"\"files\":3,\"dirs\":1,\"links\":2,\"size\":2097152,\"bytes\":1048576,"                   \
	"\"wire_bytes\":1048576,\"state\":\"" state "\"" extra "}"

static void
test_transfer_tree(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = json_from_string(
		TREE_XFER("complete", ",\"started\":1700000000,\"finished\":1700000065,"
		          "\"duration\":64.6,\"rate\":32768,\"output\":\"/home/al/in\","
		          "\"path\":\"/home/al/in/photos\","
		          "\"paths\":[\"/home/al/in/photos\",\"/home/al/in/a\\u001b.txt\"]"),
		&error);
	g_assert_no_error(error);
	g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(node, &error);
	g_assert_no_error(error);
	g_assert_cmpint(t->files, ==, 3);
	g_assert_cmpint(t->dirs, ==, 1);
	g_assert_cmpint(t->links, ==, 2);
	g_assert_cmpint(t->wire_bytes, ==, 1048576);
	g_assert_cmpuint(g_strv_length(t->items), ==, 2);
	g_assert_cmpstr(t->paths[1], ==, "/home/al/in/a\x1b.txt");
	g_assert_false(p2pctl_transfer_is_single_file(t));
	assert_fmt(p2pctl_transfer_contents(t), "3 files, 1 directory, 2 links");

	g_autofree char *text = p2pctl_transfer_describe(t);
	g_assert_null(strchr(text, '\x1b'));
	const char *expect[] = {
		"id:          44acef7d\n",
		"direction:   in (receiving)\n",
		"name:        photos (+1 more)\n",
		"items:       photos\n             a\\x1b.txt\n",
		"contents:    3 files, 1 directory, 2 links\n",
		"state:       complete\n",
		"size:        2097152 bytes (2.0 MiB)\n",
		"done:        1048576 bytes (1.0 MiB)\n",
		"on the wire: 1048576 bytes (1.0 MiB)\n",
		"duration:    1:05\n",
		"mean rate:   32.0 KiB/s\n",
		"output:      /home/al/in\n",
		"paths:       /home/al/in/photos\n             /home/al/in/a\\x1b.txt\n",
	};
	for (guint i = 0; i < G_N_ELEMENTS(expect); i++)
		if (!strstr(text, expect[i]))
			g_error("expected \"%s\" in:\n%s", expect[i], text);
	/* local time, whatever the zone: the date is there */
	g_assert_nonnull(strstr(text, "started:     2023-11-1"));
	g_assert_nonnull(strstr(text, "finished:    2023-11-1"));
	g_assert_null(strstr(text, "sha256:"));
	g_assert_null(strstr(text, "\npath:"));

	/* one file, no directories: "1 file", single-file for recv */
	g_autoptr(JsonNode) one = json_from_string(
		"{\"id\":\"b\",\"state\":\"offered\",\"files\":1,\"dirs\":0,\"links\":0}", NULL);
	g_autoptr(P2pctlTransfer) o = p2pctl_transfer_from_json(one, &error);
	g_assert_no_error(error);
	g_assert_true(p2pctl_transfer_is_single_file(o));
	assert_fmt(p2pctl_transfer_contents(o), "1 file");
	/* an empty directory: 0 files, not recv's */
	g_autoptr(JsonNode) empty = json_from_string(
		"{\"id\":\"c\",\"state\":\"offered\",\"files\":0,\"dirs\":1}", NULL);
	g_autoptr(P2pctlTransfer) e = p2pctl_transfer_from_json(empty, &error);
	g_assert_false(p2pctl_transfer_is_single_file(e));
	assert_fmt(p2pctl_transfer_contents(e), "0 files, 1 directory");

	/* wrong types in the new members are refused, naming them */
	const char *bad[][2] = {
		{ "{\"id\":\"a\",\"state\":\"x\",\"items\":[\"a\",1]}", "\"items\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"paths\":\"/a\"}", "\"paths\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"files\":-1}", "\"files\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"dirs\":\"1\"}", "\"dirs\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"wire_bytes\":1.5}", "\"wire_bytes\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"output\":[]}", "\"output\"" },
		{ "{\"id\":\"a\",\"state\":\"x\",\"duration\":\"1s\"}", "\"duration\"" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) n = json_from_string(bad[i][0], NULL);
		g_assert_null(p2pctl_transfer_from_json(n, &err));
		g_assert_error(err, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL);
		g_assert_nonnull(strstr(err->message, bad[i][1]));
	}
}

static void
test_transfer_lines(void)
{
	g_autoptr(JsonNode) paused = json_from_string(
		TREE_XFER("paused", ",\"reason\":{\"code\":\"disconnected\","
		                    "\"message\":\"session lost\\u001b\"}"), NULL);
	g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(paused, NULL);
	g_assert_nonnull(t);
	assert_fmt(p2pctl_transfer_state_text(t), "paused: disconnected");
	g_free(t->reason_code);
	t->reason_code = g_strdup("cancelled");
	g_free(t->state);
	t->state = g_strdup("cancelled");
	assert_fmt(p2pctl_transfer_state_text(t), "cancelled");
	g_free(t->reason_code);
	t->reason_code = g_strdup("disconnected");
	g_free(t->state);
	t->state = g_strdup("paused");

	/* the progress line of a paused transfer says why and for whom it waits */
	assert_fmt(p2pctl_format_transfer_progress(t, 100),
	           "photos (+1 more): paused: disconnected: session lost\\x1b, waiting for bob");
	g_autofree char *narrow = p2pctl_format_transfer_progress(t, 30);
	g_assert_cmpuint(g_utf8_strlen(narrow, -1), <=, 29);
	g_assert_true(g_str_has_suffix(narrow, "..."));
	/* not paused: the usual bar */
	g_free(t->state);
	t->state = g_strdup("transferring");
	g_autofree char *bar = p2pctl_format_transfer_progress(t, 80);
	g_assert_nonnull(strstr(bar, " 50% 1.0 MiB / 2.0 MiB"));

	/* events: the counts and where a pause stopped / a resume goes on */
	g_autofree char *ev = p2pctl_format_event(P2P_E_TRANSFER_PAUSED, paused);
	g_assert_nonnull(strstr(ev, " transfer_paused 44acef7d from bob: photos (+1 more) "
	                            "(3 files, 1 directory, 2 links, 2.0 MiB) paused at 50% "
	                            "(1.0 MiB) (disconnected: session lost\\x1b)"));
	g_autoptr(JsonNode) resumed = json_from_string(TREE_XFER("transferring", ""), NULL);
	g_autofree char *rv = p2pctl_format_event(P2P_E_TRANSFER_RESUMED, resumed);
	g_assert_true(g_str_has_suffix(rv, " transfer_resumed 44acef7d from bob: photos (+1 more) "
	                                   "(3 files, 1 directory, 2 links, 2.0 MiB) transferring "
	                                   "at 50% (1.0 MiB)"));
	g_autoptr(JsonNode) expired = json_from_string(
		"{\"id\":\"e1\",\"direction\":\"in\",\"peer\":\"bob\",\"name\":\"a.txt\","
		"\"files\":1,\"size\":5,\"state\":\"rejected\",\"reason\":{\"code\":\"expired\"}}",
		NULL);
	g_autofree char *xv = p2pctl_format_event(P2P_E_TRANSFER_FAILED, expired);
	g_assert_true(g_str_has_suffix(xv, " transfer_failed e1 from bob: a.txt (1 file, 5 B) "
	                                   "rejected (expired)"));

	/* send's last line and the answers of accept / reject / cancel */
	g_autoptr(JsonNode) done = json_from_string(
		TREE_XFER("complete", ",\"direction\":\"out\",\"output\":\"/x\""), NULL);
	g_autoptr(P2pctlTransfer) d = p2pctl_transfer_from_json(done, NULL);
	assert_fmt(p2pctl_format_sent(d, "photos", "bob"),
	           "sent photos (+1 more) to bob: 3 files, 1 directory, 2 links, 2097152 bytes "
	           "(2.0 MiB), verified by the receiver");
	g_autoptr(JsonNode) one = json_from_string(
		"{\"id\":\"t\",\"state\":\"complete\",\"files\":1,\"size\":5,"
		"\"sha256\":\"ab\"}", NULL);
	g_autoptr(P2pctlTransfer) o = p2pctl_transfer_from_json(one, NULL);
	assert_fmt(p2pctl_format_sent(o, "a.txt", "bo\x1b"),
	           "sent a.txt to bo\\x1b: 1 file, 5 bytes, sha256 ab, verified by the receiver");
	assert_fmt(p2pctl_format_verb_result("cancelled", d),
	           "cancelled 44acef7d: photos (+1 more) (3 files, 1 directory, 2 links, 2.0 MiB) "
	           "to bob, now complete");
	g_free(d->direction);
	d->direction = g_strdup("in");
	assert_fmt(p2pctl_format_verb_result("accepted", d),
	           "accepted 44acef7d: photos (+1 more) (3 files, 1 directory, 2 links, 2.0 MiB) "
	           "from bob, now complete, saving into /x");
}

/* watch's lines for call events: escaped peer text, the state with what the page said */
static void
test_call_events(void)
{
	g_autoptr(JsonNode) ringing = json_from_string(
		"{\"call\":\"8442d59414fd01b5\",\"peer\":\"bo\\u001bb\",\"direction\":\"in\","
		"\"state\":\"ringing\",\"page\":false,\"frames_decoded\":0,\"started\":1}", NULL);
	g_autofree char *in = p2pctl_format_event(P2P_E_CALL_INCOMING, ringing);
	g_assert_true(g_str_has_suffix(in, " call_incoming 8442d59414fd01b5 from bo\\x1bb "
	                                   "(p2pctl answer 8442d59414fd01b5)"));
	g_autoptr(JsonNode) active = json_from_string(
		"{\"call\":\"c1\",\"peer\":\"bob\",\"direction\":\"out\",\"state\":\"active\","
		"\"page\":true,\"connection\":\"connected\",\"path\":\"relayed\"}", NULL);
	g_autofree char *st = p2pctl_format_event(P2P_E_CALL_STATE, active);
	g_assert_true(g_str_has_suffix(st, " call_state c1 to bob: active, connected, relayed"));
	g_autoptr(JsonNode) nopage = json_from_string(
		"{\"call\":\"c1\",\"peer\":\"bob\",\"direction\":\"out\",\"state\":\"active\"}",
		NULL);
	g_autofree char *np = p2pctl_format_event(P2P_E_CALL_STATE, nopage);
	g_assert_true(g_str_has_suffix(np, " call_state c1 to bob: active, page not open"));
	g_autoptr(JsonNode) ended = json_from_string(
		"{\"call\":\"c1\",\"peer\":\"bob\",\"direction\":\"in\",\"state\":\"ended\","
		"\"reason\":\"hangup\",\"message\":\"bob hung up\"}", NULL);
	g_autofree char *en = p2pctl_format_event(P2P_E_CALL_ENDED, ended);
	g_assert_true(g_str_has_suffix(en, " call_ended c1 from bob: ended: hangup (bob hung up)"));
	g_autoptr(JsonNode) junk = json_from_string("[1]", NULL);
	g_autofree char *jv = p2pctl_format_event(P2P_E_CALL_ENDED, junk);
	g_assert_true(g_str_has_suffix(jv, " call_ended (unreadable)"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/p2pctl/output/size", test_size);
	g_test_add_func("/p2pctl/output/rate-duration", test_rate_duration);
	g_test_add_func("/p2pctl/output/escape", test_escape);
	g_test_add_func("/p2pctl/output/collision-name", test_collision_name);
	g_test_add_func("/p2pctl/output/name-safe", test_name_safe);
	g_test_add_func("/p2pctl/output/progress-line", test_progress_line);
	g_test_add_func("/p2pctl/output/transfer-decode", test_transfer_decode);
	g_test_add_func("/p2pctl/output/table", test_table);
	g_test_add_func("/p2pctl/output/transfer-tree", test_transfer_tree);
	g_test_add_func("/p2pctl/output/transfer-lines", test_transfer_lines);
	g_test_add_func("/p2pctl/output/call-events", test_call_events);
	return g_test_run();
}

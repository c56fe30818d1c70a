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
	g_assert_nonnull(strstr(text, "name:      x\\x1b.txt\n"));
	g_assert_nonnull(strstr(text, "reason:    too-large: limit\\n10\n"));
	g_assert_nonnull(strstr(text, "progress:  50% (5 bytes)\n"));

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
	return g_test_run();
}

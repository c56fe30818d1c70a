/* Unit tests for the inbox: which names a peer may use, collision names, partial files,
 * and the commit that never overwrites. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "p2pd-inbox.h"

/* ---- names ---------------------------------------------------------------------- */

static void
name_ok(const char *name)
{
	g_autoptr(GError) error = NULL;
	if (!p2p_inbox_name_valid(name, &error))
		g_error("\"%s\" was refused: %s", name, error->message);
}

static void
name_bad(const char *name, const char *why)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = g_strescape(name, NULL);
	if (p2p_inbox_name_valid(name, &error))
		g_error("\"%s\" was accepted", shown);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
	if (strstr(error->message, why) == NULL)
		g_error("refusing \"%s\": \"%s\" does not say \"%s\"", shown, error->message, why);
	/* the message quotes the name escaped, never raw control bytes, and stays short */
	for (const char *p = error->message; *p; p++)
		g_assert_true((guchar)*p >= 0x20);
	g_assert_true(g_utf8_validate(error->message, -1, NULL));
	g_assert_cmpuint(strlen(error->message), <, 200);
}

static void
test_name_valid(void)
{
	char name[P2P_NAME_MAX + 2];

	name_ok("a");
	name_ok("report.pdf");
	name_ok("holiday photos 2024.tar.gz");
	name_ok(".bashrc");
	name_ok("...");
	name_ok("a..b");
	name_ok("na\xc3\xafve \xe2\x98\x83.txt");   /* naïve ☃.txt */
	name_ok("\xe6\x97\xa5\xe6\x9c\xac.pdf");      /* 日本.pdf */
	name_ok("back\\slash");
	name_ok("nbsp\xc2\xa0here");                  /* U+00A0 is not a control */
	name_ok("-rf");
	memset(name, 'x', P2P_NAME_MAX);
	name[P2P_NAME_MAX] = '\0';
	name_ok(name);

	name_bad("", "empty");
	name[P2P_NAME_MAX] = 'x';
	name[P2P_NAME_MAX + 1] = '\0';
	name_bad(name, "longer than 255 bytes");
	name_bad(".", "names a directory");
	name_bad("..", "names a directory");
	name_bad("/", "\"/\"");
	name_bad("a/b", "\"/\"");
	name_bad("../etc/passwd", "\"/\"");
	name_bad("dir/", "\"/\"");
	name_bad("/etc/passwd", "\"/\"");
	/* C0 controls, DEL, C1 controls (U+0080..U+009F as UTF-8) */
	name_bad("a\nb", "control character");
	name_bad("a\tb", "control character");
	name_bad("\x01", "control character");
	name_bad("\x1b[31mred", "control character");
	name_bad("del\x7f", "control character");
	name_bad("c1\xc2\x80", "control character");
	name_bad("c1\xc2\x9b" "31m", "control character"); /* U+009B, the 8-bit CSI */
	name_bad("c1\xc2\x9f", "control character");
	/* not UTF-8 */
	name_bad("\xff", "not valid UTF-8");
	name_bad("latin1 caf\xe9", "not valid UTF-8");
	name_bad("\xc3\x28", "not valid UTF-8");
	name_bad("overlong \xc0\xaf", "not valid UTF-8");
	name_bad("surrogate \xed\xa0\x80", "not valid UTF-8");
	/* a multi-byte name is measured in bytes: 128 × 2 bytes = 256 */
	GString *wide = g_string_new(NULL);
	for (int i = 0; i < 128; i++)
		g_string_append(wide, "\xc3\xa9");
	name_bad(wide->str, "longer than 255 bytes");
	g_string_truncate(wide, 254);
	name_ok(wide->str);
	g_string_free(wide, TRUE);
}

static void
collision(const char *name, guint n, const char *want)
{
	g_autofree char *got = p2p_inbox_collision_name(name, n);
	g_assert_cmpstr(got, ==, want);
}

static void
test_collision_name(void)
{
	collision("a.txt", 1, "a (1).txt");
	collision("a.txt", 2, "a (2).txt");
	collision("a.txt", 10, "a (10).txt");
	collision(".bashrc", 1, ".bashrc (1)");
	collision("noext", 1, "noext (1)");
	/* only the last extension is kept apart, as implemented */
	collision("a.tar.gz", 1, "a.tar (1).gz");
	collision("with space.doc", 3, "with space (3).doc");
	collision("a.", 1, "a (1).");
	collision(".config.json", 1, ".config (1).json");
}

/* A name of P2P_NAME_MAX bytes has no room for " (n)": the collision name must still be
 * a name the file system takes, and the inbox must still never overwrite. */
static void
test_collision_name_long(void)
{
	char name[P2P_NAME_MAX + 1];
	g_autoptr(GError) error = NULL;

	memset(name, 'x', P2P_NAME_MAX);
	name[P2P_NAME_MAX] = '\0';
	g_autofree char *a = p2p_inbox_collision_name(name, 1);
	g_assert_cmpuint(strlen(a), <=, P2P_NAME_MAX);
	g_assert_true(g_str_has_suffix(a, " (1)"));
	g_assert_true(p2p_inbox_name_valid(a, &error));

	/* the extension is kept when the stem can give the room */
	memcpy(name + P2P_NAME_MAX - 4, ".txt", 4);
	g_autofree char *b = p2p_inbox_collision_name(name, 12);
	g_assert_cmpuint(strlen(b), <=, P2P_NAME_MAX);
	g_assert_true(g_str_has_suffix(b, " (12).txt"));
	g_assert_true(p2p_inbox_name_valid(b, &error));

	/* multi-byte characters are never cut in the middle */
	GString *wide = g_string_new(NULL);
	for (int i = 0; i < 85; i++)
		g_string_append(wide, "\xe2\x98\x83"); /* ☃, 3 bytes: 255 in all */
	g_autofree char *c = p2p_inbox_collision_name(wide->str, 7);
	g_assert_cmpuint(strlen(c), <=, P2P_NAME_MAX);
	g_assert_true(g_str_has_suffix(c, " (7)"));
	g_assert_true(p2p_inbox_name_valid(c, &error));

	/* an extension too long to keep: the name is shortened as a whole */
	memset(name, 'e', P2P_NAME_MAX);
	name[0] = 'a';
	name[1] = '.';
	g_autofree char *d = p2p_inbox_collision_name(name, 1);
	g_assert_cmpuint(strlen(d), <=, P2P_NAME_MAX);
	g_assert_true(g_str_has_suffix(d, " (1)"));
	g_assert_true(p2p_inbox_name_valid(d, &error));
	g_string_free(wide, TRUE);
}

/* ---- files ---------------------------------------------------------------------- */

static char *
make_dir(void)
{
	g_autoptr(GError) error = NULL;
	char *dir = g_dir_make_tmp("test-p2pd-inbox-XXXXXX", &error);
	g_assert_no_error(error);
	return dir;
}

static void
rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(path, n, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			rm_rf(p);
		else
			g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(path);
}

static char *
read_file(const char *path)
{
	char *text = NULL;
	g_autoptr(GError) error = NULL;
	if (!g_file_get_contents(path, &text, NULL, &error))
		g_error("%s", error->message);
	return text;
}

/* Not g_file_set_contents: its temporary name would not fit beside a 255-byte name. */
static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		g_error("cannot create %s: %s", path, g_strerror(errno));
	g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
	g_assert_cmpint(close(fd), ==, 0);
}

/* A finished item "name" holding text in the staging directory stage. */
static void
staged(const char *stage, const char *name, const char *text)
{
	g_autofree char *path = g_build_filename(stage, name, NULL);
	write_file(path, text);
}

static int
open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

/* Commits stage/name into dir, expects the name final, and that it holds text. */
static void
commit_as(const char *stage, const char *dir, const char *name, const char *final,
          const char *text)
{
	g_autoptr(GError) error = NULL;
	int from = open_dir(stage), to = open_dir(dir);
	g_autofree char *got = p2p_inbox_commit_at(from, name, to, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got, ==, final);
	close(from);
	close(to);
	g_autofree char *src = g_build_filename(stage, name, NULL);
	g_assert_false(g_file_test(src, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK));
	if (text) {
		g_autofree char *path = g_build_filename(dir, final, NULL);
		g_autofree char *t = read_file(path);
		g_assert_cmpstr(t, ==, text);
	}
}

static void
test_commit_no_overwrite(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *stage = make_dir();
	g_autofree char *orig = g_build_filename(dir, "a.txt", NULL);

	write_file(orig, "original");
	staged(stage, "a.txt", "first");
	commit_as(stage, dir, "a.txt", "a (1).txt", "first");
	g_autofree char *t0 = read_file(orig);
	g_assert_cmpstr(t0, ==, "original");

	staged(stage, "a.txt", "second");
	commit_as(stage, dir, "a.txt", "a (2).txt", "second");
	g_autofree char *first = g_build_filename(dir, "a (1).txt", NULL);
	g_autofree char *t1 = read_file(first);
	g_assert_cmpstr(t1, ==, "first");

	/* a free name is used as it is */
	staged(stage, ".bashrc", "third");
	commit_as(stage, dir, ".bashrc", ".bashrc", "third");

	/* a directory or a dangling symlink under the name is not replaced either, and a
	 * directory is moved whole without landing in an existing one */
	g_autofree char *sub = g_build_filename(dir, "sub", NULL);
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	staged(stage, "sub", "fourth");
	commit_as(stage, dir, "sub", "sub (1)", "fourth");
	g_assert_true(g_file_test(sub, G_FILE_TEST_IS_DIR));

	g_autofree char *tree = g_build_filename(stage, "sub", NULL);
	g_assert_cmpint(g_mkdir(tree, 0700), ==, 0);
	staged(tree, "inside", "fifth");
	commit_as(stage, dir, "sub", "sub (2)", NULL);
	g_autofree char *inside = g_build_filename(dir, "sub (2)", "inside", NULL);
	g_autofree char *t5 = read_file(inside);
	g_assert_cmpstr(t5, ==, "fifth");
	g_autofree char *not_in_old = g_build_filename(sub, "inside", NULL);
	g_assert_false(g_file_test(not_in_old, G_FILE_TEST_EXISTS));

	g_autofree char *link_path = g_build_filename(dir, "link", NULL);
	g_autofree char *target = g_build_filename(dir, "target-that-is-not-there", NULL);
	g_assert_cmpint(symlink(target, link_path), ==, 0);
	staged(stage, "link", "sixth");
	commit_as(stage, dir, "link", "link (1)", "sixth");
	g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));

	rm_rf(dir);
	rm_rf(stage);
}

static void
test_commit_long_name(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *stage = make_dir();
	char name[P2P_NAME_MAX + 1];

	memset(name, 'n', P2P_NAME_MAX);
	name[P2P_NAME_MAX] = '\0';
	g_assert_true(p2p_inbox_name_valid(name, NULL));
	g_autofree char *orig = g_build_filename(dir, name, NULL);
	write_file(orig, "original");
	staged(stage, name, "new");
	g_autofree char *want = p2p_inbox_collision_name(name, 1);
	g_assert_cmpuint(strlen(want), <=, P2P_NAME_MAX);
	commit_as(stage, dir, name, want, "new");
	g_autofree char *t0 = read_file(orig);
	g_assert_cmpstr(t0, ==, "original");

	rm_rf(dir);
	rm_rf(stage);
}

static void
test_commit_errors(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *stage = make_dir();
	g_autoptr(GError) error = NULL;
	int from = open_dir(stage), to = open_dir(dir);

	/* the staged item vanished: an error, not a loop through "name (n)" */
	g_autofree char *final = p2p_inbox_commit_at(from, "gone", to, &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_null(final);
	g_autofree char *x = g_build_filename(dir, "gone", NULL);
	g_assert_false(g_file_test(x, G_FILE_TEST_EXISTS));
	close(from);
	close(to);

	rm_rf(dir);
	rm_rf(stage);
}

static void
test_check_space(void)
{
	g_autofree char *dir = make_dir();
	g_autoptr(GError) error = NULL;

	g_assert_true(p2p_inbox_check_space(dir, 0, 0, &error));
	g_assert_no_error(error);
	g_assert_false(p2p_inbox_check_space(dir, G_MAXUINT64, 0, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_clear_error(&error);
	/* the reserve counts: a file that fits only by eating it is refused */
	g_assert_false(p2p_inbox_check_space(dir, 1, G_MAXUINT64, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_clear_error(&error);
	g_autofree char *missing = g_build_filename(dir, "missing", NULL);
	g_assert_false(p2p_inbox_check_space(missing, 1, 0, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, missing));
	rm_rf(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	umask(022);

	g_test_add_func("/p2pd/inbox/name-valid", test_name_valid);
	g_test_add_func("/p2pd/inbox/collision-name", test_collision_name);
	g_test_add_func("/p2pd/inbox/collision-name-long", test_collision_name_long);
	g_test_add_func("/p2pd/inbox/commit-no-overwrite", test_commit_no_overwrite);
	g_test_add_func("/p2pd/inbox/commit-long-name", test_commit_long_name);
	g_test_add_func("/p2pd/inbox/commit-errors", test_commit_errors);
	g_test_add_func("/p2pd/inbox/check-space", test_check_space);
	return g_test_run();
}

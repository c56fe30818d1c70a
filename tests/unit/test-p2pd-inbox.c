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

/* A partial file holding text, closed; returns its path. */
static char *
partial_with(const char *dir, const char *text)
{
	g_autoptr(GError) error = NULL;
	char *path = NULL;
	int fd = p2p_inbox_open_partial(dir, &path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
	g_assert_cmpint(close(fd), ==, 0);
	return path;
}

static void
test_open_partial(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *pdir = g_build_filename(dir, P2P_INBOX_PARTIAL_DIR, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autofree char *path2 = NULL;
	struct stat st;

	int fd = p2p_inbox_open_partial(dir, &path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_true(g_str_has_prefix(path, pdir));
	g_assert_true(path[strlen(pdir)] == '/');
	g_assert_true(g_str_has_suffix(path, ".part"));
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpuint(st.st_size, ==, 0);
	/* close-on-exec: it must not leak into anything the daemon runs */
	g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	g_assert_cmpint(stat(pdir, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpuint(st.st_mode & 0777, ==, 0700);

	/* a second one: the directory exists already, the name is new */
	fd = p2p_inbox_open_partial(dir, &path2, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_cmpstr(path, !=, path2);

	/* a save dir that does not exist: an error naming the path, no fd */
	g_autofree char *missing = g_build_filename(dir, "no", "such", NULL);
	g_autofree char *path3 = NULL;
	fd = p2p_inbox_open_partial(missing, &path3, &error);
	g_assert_cmpint(fd, ==, -1);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, missing));
	g_assert_null(path3);

	rm_rf(dir);
}

static void
test_commit_no_overwrite(void)
{
	g_autofree char *dir = make_dir();
	g_autoptr(GError) error = NULL;
	g_autofree char *orig = g_build_filename(dir, "a.txt", NULL);

	write_file(orig, "original");

	g_autofree char *p1 = partial_with(dir, "first");
	g_autofree char *final1 = NULL;
	g_assert_true(p2p_inbox_commit(dir, p1, "a.txt", &final1, &error));
	g_assert_no_error(error);
	g_autofree char *want1 = g_build_filename(dir, "a (1).txt", NULL);
	g_assert_cmpstr(final1, ==, want1);
	g_autofree char *t1 = read_file(final1);
	g_assert_cmpstr(t1, ==, "first");
	g_autofree char *t0 = read_file(orig);
	g_assert_cmpstr(t0, ==, "original");
	g_assert_false(g_file_test(p1, G_FILE_TEST_EXISTS));

	g_autofree char *p2 = partial_with(dir, "second");
	g_autofree char *final2 = NULL;
	g_assert_true(p2p_inbox_commit(dir, p2, "a.txt", &final2, &error));
	g_autofree char *want2 = g_build_filename(dir, "a (2).txt", NULL);
	g_assert_cmpstr(final2, ==, want2);
	g_autofree char *t2 = read_file(final2);
	g_assert_cmpstr(t2, ==, "second");
	g_autofree char *t1b = read_file(final1);
	g_assert_cmpstr(t1b, ==, "first");
	g_assert_false(g_file_test(p2, G_FILE_TEST_EXISTS));

	/* a free name is used as it is */
	g_autofree char *p3 = partial_with(dir, "third");
	g_autofree char *final3 = NULL;
	g_assert_true(p2p_inbox_commit(dir, p3, ".bashrc", &final3, &error));
	g_autofree char *want3 = g_build_filename(dir, ".bashrc", NULL);
	g_assert_cmpstr(final3, ==, want3);

	/* a directory or a dangling symlink under the name is not replaced either */
	g_autofree char *sub = g_build_filename(dir, "sub", NULL);
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	g_autofree char *p4 = partial_with(dir, "fourth");
	g_autofree char *final4 = NULL;
	g_assert_true(p2p_inbox_commit(dir, p4, "sub", &final4, &error));
	g_autofree char *want4 = g_build_filename(dir, "sub (1)", NULL);
	g_assert_cmpstr(final4, ==, want4);
	g_assert_true(g_file_test(sub, G_FILE_TEST_IS_DIR));

	g_autofree char *link_path = g_build_filename(dir, "link", NULL);
	g_autofree char *target = g_build_filename(dir, "target-that-is-not-there", NULL);
	g_assert_cmpint(symlink(target, link_path), ==, 0);
	g_autofree char *p5 = partial_with(dir, "fifth");
	g_autofree char *final5 = NULL;
	g_assert_true(p2p_inbox_commit(dir, p5, "link", &final5, &error));
	g_autofree char *want5 = g_build_filename(dir, "link (1)", NULL);
	g_assert_cmpstr(final5, ==, want5);
	g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));

	rm_rf(dir);
}

static void
test_commit_long_name(void)
{
	g_autofree char *dir = make_dir();
	g_autoptr(GError) error = NULL;
	char name[P2P_NAME_MAX + 1];

	memset(name, 'n', P2P_NAME_MAX);
	name[P2P_NAME_MAX] = '\0';
	g_assert_true(p2p_inbox_name_valid(name, NULL));
	g_autofree char *orig = g_build_filename(dir, name, NULL);
	write_file(orig, "original");

	g_autofree char *p = partial_with(dir, "new");
	g_autofree char *final = NULL;
	if (!p2p_inbox_commit(dir, p, name, &final, &error))
		g_error("a taken %d-byte name: %s", P2P_NAME_MAX, error->message);
	g_autofree char *t = read_file(final);
	g_assert_cmpstr(t, ==, "new");
	g_autofree char *t0 = read_file(orig);
	g_assert_cmpstr(t0, ==, "original");
	g_autofree char *base = g_path_get_basename(final);
	g_assert_true(g_str_has_suffix(base, " (1)"));

	rm_rf(dir);
}

static void
test_commit_errors(void)
{
	g_autofree char *dir = make_dir();
	g_autoptr(GError) error = NULL;
	g_autofree char *gone = g_build_filename(dir, "gone.part", NULL);
	g_autofree char *final = NULL;

	/* the partial file vanished: an error, not a loop through "name (n)" */
	g_assert_false(p2p_inbox_commit(dir, gone, "x", &final, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_null(final);
	g_autofree char *x = g_build_filename(dir, "x", NULL);
	g_assert_false(g_file_test(x, G_FILE_TEST_EXISTS));

	rm_rf(dir);
}

static void
test_clean_partials(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *pdir = g_build_filename(dir, P2P_INBOX_PARTIAL_DIR, NULL);
	g_autofree char *a = partial_with(dir, "a");
	g_autofree char *b = partial_with(dir, "b");
	g_autofree char *keep1 = g_build_filename(pdir, "notes.txt", NULL);
	g_autofree char *keep2 = g_build_filename(pdir, "x.part.bak", NULL);
	g_autofree char *inbox_part = g_build_filename(dir, "received.part", NULL);

	write_file(keep1, "keep");
	write_file(keep2, "keep");
	/* a received file that happens to end in .part lives in the inbox, not in the
	 * staging directory: it is the user's */
	write_file(inbox_part, "user's file");

	p2p_inbox_clean_partials(dir);
	g_assert_false(g_file_test(a, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(b, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(keep1, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(keep2, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(inbox_part, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(pdir, G_FILE_TEST_IS_DIR));

	/* nothing to clean, or no staging directory at all: no harm */
	p2p_inbox_clean_partials(dir);
	g_autofree char *empty = make_dir();
	p2p_inbox_clean_partials(empty);
	g_autofree char *nowhere = g_build_filename(empty, "missing", NULL);
	p2p_inbox_clean_partials(nowhere);

	rm_rf(dir);
	rm_rf(empty);
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
	g_test_add_func("/p2pd/inbox/open-partial", test_open_partial);
	g_test_add_func("/p2pd/inbox/commit-no-overwrite", test_commit_no_overwrite);
	g_test_add_func("/p2pd/inbox/commit-long-name", test_commit_long_name);
	g_test_add_func("/p2pd/inbox/commit-errors", test_commit_errors);
	g_test_add_func("/p2pd/inbox/clean-partials", test_clean_partials);
	g_test_add_func("/p2pd/inbox/check-space", test_check_space);
	return g_test_run();
}

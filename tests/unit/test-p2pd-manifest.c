/* Unit tests for p2pd-manifest: the sender's walk and the receiver's checks of what a
 * peer may put in a manifest. */
#include "config.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p-protocol.h"
#include "p2pd-manifest.h"

static char *
make_tree(void)
{
	g_autoptr(GError) error = NULL;
	char *dir = g_dir_make_tmp("p2pd-manifest-XXXXXX", &error);
	g_assert_no_error(error);
	return dir;
}

static void
put(const char *dir, const char *rel, const char *text, mode_t mode)
{
	g_autofree char *p = g_build_filename(dir, rel, NULL);
	g_assert_true(g_file_set_contents(p, text, -1, NULL));
	g_assert_cmpint(chmod(p, mode), ==, 0);
}

static void
rm_rf(const char *path)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);
	g_assert_cmpint(system(cmd), ==, 0);
}

static P2pEntry *
find(P2pManifest *m, const char *path)
{
	for (guint i = 0; i < m->entries->len; i++)
		if (strcmp(p2p_manifest_entry(m, i)->path, path) == 0)
			return p2p_manifest_entry(m, i);
	return NULL;
}

static void
test_walk(void)
{
	g_autofree char *base = make_tree();
	g_autofree char *top = g_build_filename(base, "photos", NULL);
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(P2pManifest) m = p2p_manifest_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(mkdir(top, 0750), ==, 0);
	g_autofree char *sub = g_build_filename(top, "sub", NULL);
	g_assert_cmpint(mkdir(sub, 0700), ==, 0);
	g_autofree char *empty = g_build_filename(top, "empty", NULL);
	g_assert_cmpint(mkdir(empty, 0755), ==, 0);
	put(top, "b.txt", "bee", 0640);
	put(top, "a.txt", "a", 0600);
	put(sub, "c.bin", "0123456789", 0444);
	g_autofree char *in = g_build_filename(top, "in", NULL);
	g_assert_cmpint(symlink("sub/c.bin", in), ==, 0);
	g_autofree char *out = g_build_filename(top, "out", NULL);
	g_assert_cmpint(symlink("../../etc/passwd", out), ==, 0);
	g_autofree char *abs = g_build_filename(top, "abs", NULL);
	g_assert_cmpint(symlink("/etc/passwd", abs), ==, 0);
	/* "via" goes through the symlink "up", which points at the item's own top */
	g_autofree char *up = g_build_filename(sub, "up", NULL);
	g_assert_cmpint(symlink("..", up), ==, 0);
	g_autofree char *via = g_build_filename(top, "via", NULL);
	g_assert_cmpint(symlink("sub/up/../x", via), ==, 0);
	g_autofree char *fifo = g_build_filename(top, "fifo", NULL);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);

	int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_true(p2p_manifest_add(m, top, fd, NULL, warnings, &error));
	g_assert_no_error(error);
	p2p_manifest_finish(m, warnings);

	/* parents first, names sorted */
	const char *order[] = { "photos", "photos/a.txt", "photos/b.txt", "photos/empty",
	                        "photos/in", "photos/sub", "photos/sub/c.bin", "photos/sub/up" };
	g_assert_cmpuint(m->entries->len, ==, G_N_ELEMENTS(order));
	for (guint i = 0; i < G_N_ELEMENTS(order); i++)
		g_assert_cmpstr(p2p_manifest_entry(m, i)->path, ==, order[i]);
	g_assert_cmpuint(m->files, ==, 3);
	g_assert_cmpuint(m->dirs, ==, 3);
	g_assert_cmpuint(m->links, ==, 2);
	g_assert_cmpuint(m->bytes, ==, 14);
	g_assert_cmpuint(find(m, "photos")->mode, ==, 0750);
	g_assert_cmpuint(find(m, "photos/sub/c.bin")->mode, ==, 0444);
	g_assert_cmpuint(find(m, "photos/sub/c.bin")->size, ==, 10);
	g_assert_cmpstr(find(m, "photos/in")->target, ==, "sub/c.bin");
	/* out, abs and via skipped (outside the tree / through a symlink), fifo skipped */
	g_assert_cmpuint(warnings->len, ==, 4);
	g_ptr_array_add(warnings, NULL);
	g_autofree char *all = g_strjoinv("\n", (char **)warnings->pdata);
	g_assert_nonnull(strstr(all, "\"photos/fifo\": not a regular file"));
	g_assert_nonnull(strstr(all, "\"photos/out\""));
	g_assert_nonnull(strstr(all, "\"photos/abs\""));
	g_assert_nonnull(strstr(all, "\"photos/via\""));

	/* a second item with the same name is refused */
	g_autoptr(GError) dup = NULL;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_false(p2p_manifest_add(m, top, fd, NULL, NULL, &dup));
	g_assert_nonnull(strstr(dup->message, "two items are named \"photos\""));

	/* the journal keeps sender identity (root, dev, inode) */
	g_autofree char *text = p2p_manifest_to_journal(m);
	g_autoptr(P2pManifest) back = p2p_manifest_from_journal(text, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(back->entries->len, ==, m->entries->len);
	g_assert_cmpstr(back->roots->pdata[0], ==, top);
	g_assert_cmpuint(find(back, "photos/a.txt")->ino, ==, find(m, "photos/a.txt")->ino);
	g_assert_cmpuint(back->bytes, ==, 14);

	rm_rf(base);
}

/* Builds a manifest from an OFFER's entries as a receiver would, and checks it. */
static gboolean
check_json(const char *json, guint64 bytes, const char **code, char **message)
{
	g_autofree char *offer = g_strdup_printf("{\"xfer\":7,\"entries\":%s}", json);
	g_autoptr(P2pManifest) m = p2p_manifest_new();
	g_autoptr(GError) error = NULL;
	P2pManifestFrame f;

	if (!p2p_manifest_frame_decode(offer, strlen(offer), &f, &error)) {
		g_assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
		g_assert_true(f.has_xfer && f.xfer == 7);
		p2p_manifest_frame_clear(&f);
		*code = "decode";
		*message = g_strdup(error->message);
		return FALSE;
	}
	p2p_manifest_take(m, &f);
	p2p_manifest_frame_clear(&f);
	if (!p2p_manifest_check(m, bytes, code, &error)) {
		*message = g_strdup(error->message);
		return FALSE;
	}
	return TRUE;
}

static void
test_check(void)
{
	static const struct {
		const char *json;
		guint64 bytes;
		const char *code;     /* NULL: accepted */
		const char *message;  /* part of the error */
	} cases[] = {
		{ "[{\"path\":\"a\",\"size\":3}]", 3, NULL, NULL },
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/e\",\"type\":\"dir\"},"
		  "{\"path\":\"d/e/f\",\"size\":1},{\"path\":\"d/l\",\"type\":\"link\",\"target\":\"e/f\"},"
		  "{\"path\":\"d/e/up\",\"type\":\"link\",\"target\":\"../l\"}]", 1, NULL, NULL },
		{ "[{\"path\":\"/etc/x\",\"size\":0}]", 0, "bad-path", "is absolute" },
		{ "[{\"path\":\"../x\",\"size\":0}]", 0, "bad-path", "names a directory" },
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/../../x\",\"size\":0}]", 0,
		  "bad-path", "component 2" },
		{ "[{\"path\":\"a//b\",\"size\":0}]", 0, "bad-path", "is empty" },
		{ "[{\"path\":\"evil\\u001b[31m\",\"size\":0}]", 0, "bad-path", "control character" },
		{ "[{\"path\":\"a\",\"size\":0},{\"path\":\"a\",\"size\":0}]", 0, "bad-path",
		  "appears twice" },
		{ "[{\"path\":\"d/x\",\"size\":0}]", 0, "bad-path", "not a directory listed before" },
		{ "[{\"path\":\"f\",\"size\":0},{\"path\":\"f/x\",\"size\":0}]", 0, "bad-path",
		  "not a directory listed before" },
		/* a path through a symlink made earlier in the same transfer */
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/l\",\"type\":\"link\",\"target\":\".\"},"
		  "{\"path\":\"d/l/x\",\"size\":0}]", 0, "bad-path", "not a directory listed before" },
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/l\",\"type\":\"link\","
		  "\"target\":\"../../etc\"}]", 0, "bad-path", "leaves the transfer's tree" },
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/l\",\"type\":\"link\","
		  "\"target\":\"/etc\"}]", 0, "bad-path", "leaves the transfer's tree" },
		{ "[{\"path\":\"d\",\"type\":\"dir\"},{\"path\":\"d/s\",\"type\":\"dir\"},"
		  "{\"path\":\"d/s/up\",\"type\":\"link\",\"target\":\"..\"},"
		  "{\"path\":\"d/l\",\"type\":\"link\",\"target\":\"s/up/../x\"}]", 0, "bad-path",
		  "goes through another symlink" },
		{ "[{\"path\":\"a\",\"size\":5},{\"path\":\"b\",\"size\":5}]", 7, "bad-size",
		  "add up to 10 bytes, the offer says 7" },
		{ "[{\"path\":\"a\",\"size\":18446744073709551615},{\"path\":\"b\",\"size\":2}]", 1,
		  "decode", "size" },
		{ "[{\"path\":\"a\",\"type\":\"fifo\"}]", 0, "decode", "is not file, dir or link" },
		{ "[{\"path\":\"a\",\"type\":\"link\"}]", 0, "decode", "needs a target" },
		{ "[{\"path\":\"a\",\"type\":\"dir\",\"size\":4}]", 4, "decode", "only files" },
		{ "[{\"path\":\"a\",\"size\":1,\"owner\":0}]", 1, "decode", "owner" },
		{ "[{\"path\":\"a\",\"size\":1,\"owner\":{\"x\":[1,[2]]}},{\"path\":\"b\"}]", 1,
		  "decode", "entry 0: unknown member \"owner\"" },
		{ "[{\"path\":\"a\",\"size\":-1}]", 0, "decode", "non-negative integer" },
		{ "[{\"path\":\"a\",\"size\":1.5}]", 0, "decode", "non-negative integer" },
		{ "[{\"path\":\"a\",\"size\":\"1\"}]", 1, "decode", "non-negative integer" },
		{ "[{\"path\":7}]", 0, "decode", "member \"path\" must be a string" },
		{ "[{\"path\":\"a\"},{\"size\":1}]", 1, "decode", "entry 1: missing member \"path\"" },
		{ "[{\"path\":null}]", 0, "decode", "missing member \"path\"" },
		{ "[{\"path\":\"a\",\"target\":\"x\",\"target\":null}]", 0, NULL, NULL },
		{ "[{\"path\":\"a\\u0000b\"}]", 0, "decode", "NUL" },
		{ "[[\"a\"]]", 0, "decode", "entry 0: not an object" },
		{ "[{\"path\":\"a\",\"mtime\":-5,\"mode\":420}]", 0, NULL, NULL },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *code = NULL;
		g_autofree char *message = NULL;
		gboolean ok = check_json(cases[i].json, cases[i].bytes, &code, &message);
		if (cases[i].code == NULL) {
			if (!ok)
				g_error("case %zu refused: %s", i, message);
			continue;
		}
		if (ok)
			g_error("case %zu (%s) was accepted", i, cases[i].json);
		g_assert_cmpstr(code, ==, cases[i].code);
		if (strstr(message, cases[i].message) == NULL)
			g_error("case %zu: \"%s\" does not say \"%s\"", i, message, cases[i].message);
	}
}

/* The frame around the entries: its members in any order, and what is not a frame. */
static void
test_frame(void)
{
	static const char *bad[] = {
		"[1]", "7", "{\"xfer\":1,\"entries\":[]} {}", "{\"xfer\":\"1\"}",
		"{\"xfer\":1,\"count\":-1}", "{\"xfer\":1,\"entries\":{}}", "{\"xfer\":1,\"more\":2}",
		"{\"xfer\":1,\"entries\":[", "{\"xfer\":1,\"bytes\":true}", "{\"xfer\":1} trailing",
		"{\"xfer\":18446744073709551616}",
	};
	g_autoptr(GError) error = NULL;
	P2pManifestFrame f;
	const char *good = "{\"entries\":[{\"path\":\"d\",\"type\":\"dir\",\"mode\":493},"
	                   "{\"path\":\"d/f\",\"size\":3,\"mtime\":1700000000}],"
	                   "\"bytes\":3,\"count\":2,\"xfer\":9223372036854775807}";

	g_assert_true(p2p_manifest_frame_decode(good, strlen(good), &f, &error));
	g_assert_no_error(error);
	g_assert_true(f.has_xfer && f.has_count && f.has_bytes && f.has_entries);
	g_assert_cmpuint(f.xfer, ==, G_MAXINT64);
	g_assert_cmpuint(f.count, ==, 2);
	g_assert_cmpuint(f.bytes, ==, 3);
	g_assert_cmpuint(f.entries->len, ==, 2);
	P2pEntry *e = f.entries->pdata[1];
	g_assert_cmpstr(e->path, ==, "d/f");
	g_assert_cmpint(e->type, ==, P2P_ENTRY_FILE);
	g_assert_cmpuint(e->size, ==, 3);
	g_assert_cmpint(e->mtime, ==, 1700000000);
	g_assert_cmpuint(((P2pEntry *)f.entries->pdata[0])->mode, ==, 0755);
	p2p_manifest_frame_clear(&f);

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&error);
		if (p2p_manifest_frame_decode(bad[i], strlen(bad[i]), &f, &error))
			g_error("frame %zu (%s) was accepted", i, bad[i]);
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
			g_error("frame %zu (%s): %s", i, bad[i], error->message);
		g_assert_cmpstr(error->message, !=, "");
		p2p_manifest_frame_clear(&f);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/p2pd/manifest/walk", test_walk);
	g_test_add_func("/p2pd/manifest/check", test_check);
	g_test_add_func("/p2pd/manifest/frame", test_frame);
	return g_test_run();
}

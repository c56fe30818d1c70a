/* Unit tests for p2pctl's command line: the verb table, --help printed from it, and
 * usage errors (exit 2, with a message that names what is wrong). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pctl.h"

typedef struct {
	int status;
	char *out;
	char *err;
} Run;

static void
run_clear(Run *r)
{
	g_free(r->out);
	g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

/* Runs p2pctl_run() on a NULL-terminated argument list, capturing both streams. */
static void
run(Run *r, ...)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);
	va_list ap;

	g_ptr_array_add(args, (gpointer)"p2pctl");
	va_start(ap, r);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		g_ptr_array_add(args, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(args, NULL);
	r->status = p2pctl_run((int)args->len - 1, (char **)args->pdata, out, err);
	fclose(out);
	fclose(err);
	r->out = g_strdup(obuf);
	r->err = g_strdup(ebuf);
	free(obuf);
	free(ebuf);
}

static void
test_help_lists_every_command(void)
{
	g_auto(Run) r = { 0 };

	run(&r, "--help", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.err, ==, "");
	for (const P2pctlCommand *c = p2pctl_commands; c->name; c++) {
		g_autofree char *row = g_strdup_printf("\n  %s", c->name);
		g_assert_nonnull(strstr(r.out, row));
		g_assert_nonnull(strstr(r.out, c->summary));
	}
	g_assert_nonnull(strstr(r.out, "--socket PATH"));
	g_assert_nonnull(strstr(r.out, "--json"));

	/* "help" is a verb too, and prints the same */
	g_auto(Run) h = { 0 };
	run(&h, "help", NULL);
	g_assert_cmpint(h.status, ==, 0);
	g_assert_cmpstr(h.out, ==, r.out);
}

static void
test_command_help(void)
{
	for (const P2pctlCommand *c = p2pctl_commands; c->name; c++) {
		g_auto(Run) r = { 0 };
		run(&r, c->name, "--help", NULL);
		g_assert_cmpint(r.status, ==, 0);
		g_autofree char *usage = g_strdup_printf("usage: p2pctl [--socket PATH] [--json] %s",
		                                         c->name);
		g_assert_true(g_str_has_prefix(r.out, usage));
		g_assert_nonnull(strstr(r.out, c->summary));
		for (const P2pctlOption *o = c->options; o && o->long_name; o++) {
			g_autofree char *opt = g_strdup_printf("--%s", o->long_name);
			g_assert_nonnull(strstr(r.out, opt));
		}
	}
	g_auto(Run) h = { 0 };
	run(&h, "help", "recv", NULL);
	g_assert_cmpint(h.status, ==, 0);
	g_assert_nonnull(strstr(h.out, "--output DIR"));
	g_auto(Run) s = { 0 };
	run(&s, "send", "--help", NULL);
	g_assert_true(g_str_has_prefix(s.out, "usage: p2pctl [--socket PATH] [--json] send "
	                                      "[--no-wait] PATH... PEER\n"));
	g_assert_nonnull(strstr(s.out, "-n, --no-wait"));
	g_auto(Run) a = { 0 };
	run(&a, "help", "accept", NULL);
	g_assert_nonnull(strstr(a.out, "accept [--output DIR] ID"));
	g_auto(Run) c = { 0 };
	run(&c, "help", "cancel", NULL);
	g_assert_nonnull(strstr(c.out, "cancel [--reason TEXT] ID"));
}

static void
test_table_is_sane(void)
{
	guint n = 0;

	for (const P2pctlCommand *c = p2pctl_commands; c->name; c++, n++) {
		g_assert_nonnull(c->handler);
		g_assert_nonnull(c->args);
		g_assert_cmpuint(c->min_args, <=, c->max_args);
		for (const P2pctlCommand *d = c + 1; d->name; d++)
			g_assert_cmpstr(c->name, !=, d->name);
	}
	g_assert_cmpuint(n, >=, 10);
}

static void
expect_usage(const char *fragment, ...)
{
	/* a fixed-size argv is enough for these cases */
	g_auto(Run) r = { 0 };
	const char *a[6] = { 0 };
	va_list ap;
	guint i = 0;

	va_start(ap, fragment);
	for (const char *s = va_arg(ap, const char *); s && i < 5; s = va_arg(ap, const char *))
		a[i++] = s;
	va_end(ap);
	run(&r, a[0], a[1], a[2], a[3], a[4], NULL);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_USAGE);
	g_assert_cmpstr(r.out, ==, "");
	if (!strstr(r.err, fragment))
		g_error("expected \"%s\" in \"%s\"", fragment, r.err);
}

static void
test_usage_errors(void)
{
	expect_usage("unknown command \"frobnicate\"", "frobnicate", NULL);
	expect_usage("missing command", NULL);
	expect_usage("missing command", "--socket", "/x.sock", NULL);
	expect_usage("unknown option \"--bogus\" (see", "--bogus", "list", NULL);
	expect_usage("unknown option \"--bogus\" for \"list\"", "list", "--bogus", NULL);
	expect_usage("\"send\" needs PATH (usage: p2pctl send PATH... PEER)", "send", NULL);
	expect_usage("\"send\" needs PEER", "send", "file.txt", NULL);
	expect_usage("option --no-wait takes no argument", "send", "--no-wait=1", "a", "b", NULL);
	expect_usage("unknown option \"-x\" for \"send\"", "send", "-x", "a", "b", NULL);
	expect_usage("\"cancel\" needs ID", "cancel", NULL);
	expect_usage("option --reason needs an argument (TEXT)", "cancel", "x", "--reason", NULL);
	expect_usage("unexpected argument \"y\" for \"cancel\"", "cancel", "x", "y", NULL);
	expect_usage("option --output needs an argument (DIR)", "accept", "x", "-o", NULL);
	expect_usage("option --output needs a non-empty directory", "accept", "x", "--output=",
	             NULL);
	expect_usage("unexpected argument \"extra\" for \"info\"", "info", "extra", NULL);
	expect_usage("unexpected argument \"b\" for \"status\"", "status", "a", "b", NULL);
	expect_usage("\"accept\" needs ID", "accept", NULL);
	expect_usage("option --output needs an argument (DIR)", "recv", "--output", NULL);
	expect_usage("option --all takes no argument", "transfers", "--all=yes", NULL);
	expect_usage("option --socket needs an argument (PATH)", "--socket", NULL);
	expect_usage("unknown command \"\\x1b[2J\"", "\x1b[2J", NULL);
	expect_usage("unknown command \"help-me\"", "help", "help-me", NULL);
}

static void
test_usage_error_json(void)
{
	g_auto(Run) r = { 0 };

	run(&r, "--json", "nope", NULL);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_USAGE);
	g_assert_cmpstr(r.err, ==, "");
	g_assert_cmpstr(r.out, ==,
	                "{\"error\":{\"code\":2,\"message\":\"unknown command \\\"nope\\\" "
	                "(see 'p2pctl --help')\"}}\n");
}

static void
test_unreachable(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-cli-XXXXXX", NULL);
	g_autofree char *sock = g_build_filename(dir, "missing.sock", NULL);
	g_auto(Run) r = { 0 };

	/* options after the command work too */
	run(&r, "info", "--socket", sock, NULL);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_UNREACHABLE);
	g_assert_nonnull(strstr(r.err, sock));
	g_assert_nonnull(strstr(r.err, "No such file or directory"));
	g_assert_nonnull(strstr(r.err, "--socket"));

	/* P2PD_SOCKET is the default; --socket wins over it */
	g_setenv("P2PD_SOCKET", sock, TRUE);
	g_auto(Run) e = { 0 };
	run(&e, "list", NULL);
	g_assert_cmpint(e.status, ==, P2PCTL_EXIT_UNREACHABLE);
	g_assert_nonnull(strstr(e.err, sock));
	g_auto(Run) o = { 0 };
	run(&o, "--socket=/nonexistent/other.sock", "list", NULL);
	g_assert_cmpint(o.status, ==, P2PCTL_EXIT_UNREACHABLE);
	g_assert_nonnull(strstr(o.err, "/nonexistent/other.sock"));
	g_unsetenv("P2PD_SOCKET");
	rmdir(dir);
}

static void
test_send_missing_file(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-cli-XXXXXX", NULL);
	g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
	g_autofree char *file = g_build_filename(dir, "a.txt", NULL);
	g_assert_true(g_file_set_contents(file, "a", 1, NULL));
	g_auto(Run) r = { 0 };

	/* checked before connecting: no daemon needed; one bad path fails the command */
	run(&r, "--socket", "/nonexistent.sock", "send", file, "/nonexistent/file.bin", "bob",
	    NULL);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_cmpstr(r.err, ==, "p2pctl: cannot open \"/nonexistent/file.bin\": "
	                           "No such file or directory\n");
	g_auto(Run) d = { 0 };
	run(&d, "--socket", "/nonexistent.sock", "send", "/dev/null", "bob", NULL);
	g_assert_cmpint(d.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(d.err, "cannot send \"/dev/null\": not a regular file or directory"));
	/* a FIFO is refused, not opened (that would block) */
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_auto(Run) f = { 0 };
	run(&f, "--socket", "/nonexistent.sock", "send", fifo, "bob", NULL);
	g_assert_cmpint(f.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(f.err, "not a regular file or directory"));
	/* a directory and a file open fine: the next error is the missing daemon */
	g_auto(Run) ok = { 0 };
	run(&ok, "--socket", "/nonexistent.sock", "send", dir, file, "bob", NULL);
	g_assert_cmpint(ok.status, ==, P2PCTL_EXIT_UNREACHABLE);
	/* a path longer than PATH_MAX */
	g_autofree char *as = g_strnfill(P2PCTL_MAX_PATH, 'a');
	g_autofree char *longp = g_strdup_printf("/%s", as);
	g_auto(Run) l = { 0 };
	run(&l, "--socket", "/nonexistent.sock", "send", longp, "bob", NULL);
	g_assert_cmpint(l.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(l.err, "the path is longer than 4096 bytes"));
	unlink(fifo);
	unlink(file);
	rmdir(dir);
}

static void
test_send_too_many_paths(void)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;

	g_ptr_array_add(args, g_strdup("p2pctl"));
	g_ptr_array_add(args, g_strdup("send"));
	for (guint i = 0; i < P2P_SEND_MAX_PATHS + 1; i++)
		g_ptr_array_add(args, g_strdup_printf("f%u", i));
	g_ptr_array_add(args, g_strdup("bob"));
	g_ptr_array_add(args, NULL);
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);
	int status = p2pctl_run((int)args->len - 1, (char **)args->pdata, out, err);
	fclose(out);
	fclose(err);
	g_assert_cmpint(status, ==, P2PCTL_EXIT_USAGE);
	g_assert_cmpstr(ebuf, ==, "p2pctl: \"send\" takes at most 201 arguments (PATH... PEER), "
	                          "got 202\n");
	free(obuf);
	free(ebuf);

	/* exactly P2P_SEND_MAX_PATHS paths pass the table (and fail on the first open) */
	g_ptr_array_remove_index(args, args->len - 1); /* NULL */
	g_ptr_array_remove_index(args, 2);
	g_ptr_array_add(args, NULL);
	out = open_memstream(&obuf, &olen);
	err = open_memstream(&ebuf, &elen);
	status = p2pctl_run((int)args->len - 1, (char **)args->pdata, out, err);
	fclose(out);
	fclose(err);
	g_assert_cmpint(status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(ebuf, "cannot open \""));
	g_assert_nonnull(strstr(ebuf, "/f1\": No such file"));
	free(obuf);
	free(ebuf);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_unsetenv("P2PD_SOCKET");
	g_test_add_func("/p2pctl/cli/help", test_help_lists_every_command);
	g_test_add_func("/p2pctl/cli/command-help", test_command_help);
	g_test_add_func("/p2pctl/cli/table", test_table_is_sane);
	g_test_add_func("/p2pctl/cli/usage-errors", test_usage_errors);
	g_test_add_func("/p2pctl/cli/usage-error-json", test_usage_error_json);
	g_test_add_func("/p2pctl/cli/unreachable", test_unreachable);
	g_test_add_func("/p2pctl/cli/send-missing-file", test_send_missing_file);
	g_test_add_func("/p2pctl/cli/send-too-many-paths", test_send_too_many_paths);
	return g_test_run();
}

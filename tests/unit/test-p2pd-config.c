/* Unit tests for the daemon's configuration: size and HOST:PORT parsing, agent ids, the
 * allowlist, and p2p_config_load with real argv and a config file in a temp dir. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "p2pd-config.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- p2p_parse_size ------------------------------------------------------------- */

static void
size_ok(const char *text, guint64 want)
{
	g_autoptr(GError) error = NULL;
	guint64 v = 12345;
	if (!p2p_parse_size(text, &v, &error))
		g_error("\"%s\" was refused: %s", text, error->message);
	g_assert_no_error(error);
	if (v != want)
		g_error("\"%s\" parsed as %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, text,
		        v, want);
}

static void
size_bad(const char *text)
{
	g_autoptr(GError) error = NULL;
	guint64 v = 12345;
	if (p2p_parse_size(text, &v, &error))
		g_error("\"%s\" was accepted as %" G_GUINT64_FORMAT, text ? text : "(null)", v);
	g_assert_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
	/* the message quotes what was refused */
	if (text)
		g_assert_nonnull(strstr(error->message, text));
	g_assert_cmpuint(v, ==, 12345); /* untouched on failure */
}

static void
test_parse_size(void)
{
	size_ok("0", 0);
	size_ok("1024", 1024);
	size_ok("1K", 1024);
	size_ok("1k", 1024);
	size_ok("10M", 10ull << 20);
	size_ok("10m", 10ull << 20);
	size_ok("3G", 3ull << 30);
	size_ok("2T", 2ull << 40);
	/* the optional unit spellings after the suffix letter, as implemented:
	 * "i", "B" or "iB" (powers of 1024 whichever is written) */
	size_ok("1KiB", 1024);
	size_ok("1KB", 1024);
	size_ok("1Ki", 1024);
	size_ok("5MiB", 5ull << 20);
	size_ok("5MB", 5ull << 20);
	size_ok("1kB", 1024);
	/* the largest values that fit */
	size_ok("18446744073709551615", G_MAXUINT64);
	size_ok("16777215T", 16777215ull << 40);
	size_ok("17179869183G", 17179869183ull << 30);

	/* overflow */
	size_bad("18446744073709551616");
	size_bad("99999999999999999999999");
	size_bad("16777216T");
	size_bad("17179869184G");
	/* garbage */
	size_bad(NULL);
	size_bad("");
	size_bad("K");
	size_bad("-1");
	size_bad("+1");
	size_bad(" 1");
	size_bad("1 K");
	size_bad("1.5G");
	size_bad("1KK");
	size_bad("1P");
	size_bad("1B");   /* a unit without a multiplier letter */
	size_bad("1kb");  /* "B" is only recognised upper-case */
	size_bad("1KiBx");
	size_bad("0x10");
	size_bad("10 ");
}

/* ---- p2p_parse_host_port -------------------------------------------------------- */

static void
hp_ok(const char *text, const char *want_host, guint16 want_port)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *host = NULL;
	guint16 port = 0;
	if (!p2p_parse_host_port(text, &host, &port, &error))
		g_error("\"%s\" was refused: %s", text, error->message);
	g_assert_cmpstr(host, ==, want_host);
	g_assert_cmpuint(port, ==, want_port);
}

static void
hp_bad(const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *host = NULL;
	guint16 port = 0;
	if (p2p_parse_host_port(text, &host, &port, &error))
		g_error("\"%s\" was accepted as %s port %u", text ? text : "(null)", host, port);
	g_assert_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
	g_assert_null(host);
	if (text)
		g_assert_nonnull(strstr(error->message, text));
}

static void
test_parse_host_port(void)
{
	hp_ok("127.0.0.1:7443", "127.0.0.1", 7443);
	hp_ok("signal.example.org:443", "signal.example.org", 443);
	hp_ok("[::1]:7443", "::1", 7443);
	hp_ok("[fe80::1%eth0]:9", "fe80::1%eth0", 9);
	hp_ok("h:1", "h", 1);
	hp_ok("h:65535", "h", 65535);

	/* missing or empty parts */
	hp_bad(NULL);
	hp_bad("");
	hp_bad("127.0.0.1");
	hp_bad("127.0.0.1:");
	hp_bad(":7443");
	hp_bad("[::1]");
	hp_bad("[::1]:");
	hp_bad("[]:7443");
	hp_bad("[::1");
	hp_bad("[::1]7443");
	/* ports out of range */
	hp_bad("h:0");
	hp_bad("h:65536");
	hp_bad("h:99999999999999999999999");
	hp_bad("h:-1");
	/* the port is decimal digits only */
	hp_bad("h:80x");
	hp_bad("h:0x50");
	hp_bad("h:+80");
	hp_bad("h: 80");
	hp_bad("[::1]: 80");
	/* an IPv6 address needs brackets */
	hp_bad("::1:7443");
	hp_bad("fe80::1");
	hp_bad("::1");
}

/* ---- ids and the allowlist ------------------------------------------------------ */

static void
test_agent_id(void)
{
	char longest[P2P_AGENT_ID_MAX + 2];

	g_assert_true(p2p_agent_id_valid("alice"));
	g_assert_true(p2p_agent_id_valid("a"));
	g_assert_true(p2p_agent_id_valid("Build_Host-07"));
	memset(longest, 'x', P2P_AGENT_ID_MAX);
	longest[P2P_AGENT_ID_MAX] = '\0';
	g_assert_true(p2p_agent_id_valid(longest));
	longest[P2P_AGENT_ID_MAX] = 'x';
	longest[P2P_AGENT_ID_MAX + 1] = '\0';
	g_assert_false(p2p_agent_id_valid(longest));

	g_assert_false(p2p_agent_id_valid(NULL));
	g_assert_false(p2p_agent_id_valid(""));
	g_assert_false(p2p_agent_id_valid("key.bob")); /* a dot joins key and agent */
	g_assert_false(p2p_agent_id_valid("a b"));
	g_assert_false(p2p_agent_id_valid("a/b"));
	g_assert_false(p2p_agent_id_valid("bob="));
	g_assert_false(p2p_agent_id_valid("b\xc3\xb6" "b")); /* ö: ASCII only */
	g_assert_false(p2p_agent_id_valid("*"));
}

static void
test_allowlist(void)
{
	char *allow[] = { (char *)"bob", (char *)"carol=" FP_B, (char *)"beta.dave", NULL };
	P2pConfig cfg = { .allow = allow, .allow_any = FALSE };

	g_assert_true(p2p_config_allows(&cfg, "bob"));
	g_assert_true(p2p_config_allows(&cfg, "carol"));
	g_assert_true(p2p_config_allows(&cfg, "beta.dave"));
	/* ids are compared whole: no prefixes, no suffixes, no alias matching */
	g_assert_false(p2p_config_allows(&cfg, "bo"));
	g_assert_false(p2p_config_allows(&cfg, "bobby"));
	g_assert_false(p2p_config_allows(&cfg, "car"));
	g_assert_false(p2p_config_allows(&cfg, "dave"));
	g_assert_false(p2p_config_allows(&cfg, "alpha.bob"));
	g_assert_false(p2p_config_allows(&cfg, ""));
	g_assert_false(p2p_config_allows(&cfg, "mallory"));

	g_assert_cmpstr(p2p_config_allow_pin(&cfg, "carol"), ==, FP_B);
	g_assert_null(p2p_config_allow_pin(&cfg, "bob"));
	g_assert_null(p2p_config_allow_pin(&cfg, "car"));
	g_assert_null(p2p_config_allow_pin(&cfg, "mallory"));

	/* "*" lets anyone in; the pins still apply */
	char *any[] = { (char *)"*", (char *)"carol=" FP_B, NULL };
	P2pConfig cfg_any = { .allow = any, .allow_any = TRUE };
	g_assert_true(p2p_config_allows(&cfg_any, "mallory"));
	g_assert_true(p2p_config_allows(&cfg_any, "alpha.bob"));
	g_assert_cmpstr(p2p_config_allow_pin(&cfg_any, "carol"), ==, FP_B);
	g_assert_null(p2p_config_allow_pin(&cfg_any, "mallory"));

	/* an empty list allows nobody */
	P2pConfig none = { .allow = NULL, .allow_any = FALSE };
	g_assert_false(p2p_config_allows(&none, "bob"));
	g_assert_null(p2p_config_allow_pin(&none, "bob"));
}

/* ---- p2p_config_load ------------------------------------------------------------ */

typedef struct {
	char *dir;
	char *conf;     /* dir/p2pd.conf */
	char *key_file; /* dir/api.key, mode 0600 */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("test-p2pd-config-XXXXXX", &error);
	g_assert_no_error(error);
	f->conf = g_build_filename(f->dir, "p2pd.conf", NULL);
	f->key_file = g_build_filename(f->dir, "api.key", NULL);
	g_assert_true(g_file_set_contents(f->key_file, "  s3cret-key\n", -1, &error));
	g_assert_no_error(error);
	g_assert_cmpint(chmod(f->key_file, 0600), ==, 0);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_unlink(f->conf);
	g_unlink(f->key_file);
	g_rmdir(f->dir);
	g_free(f->conf);
	g_free(f->key_file);
	g_free(f->dir);
}

/* Writes the config file: the [p2pd] group with what every test needs, then extra. */
static void
write_conf(Fixture *f, const char *extra)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strdup_printf("[p2pd]\n"
	                                        "agent = alice\n"
	                                        "signal-server = 127.0.0.1:7443\n"
	                                        "api-key-file = %s\n"
	                                        "%s",
	                                        f->key_file, extra ? extra : "");
	g_assert_true(g_file_set_contents(f->conf, text, -1, &error));
	g_assert_no_error(error);
}

/* Writes text as the whole config file. */
static void
write_raw_conf(Fixture *f, const char *text)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(g_file_set_contents(f->conf, text, -1, &error));
	g_assert_no_error(error);
}

typedef struct {
	P2pConfig *cfg;
	GError *error;
	gboolean check_only;
	gboolean version_only;
} LoadResult;

static void
load_result_clear(LoadResult *r)
{
	g_clear_pointer(&r->cfg, p2p_config_free);
	g_clear_error(&r->error);
}

/* Runs p2p_config_load on "p2pd --config CONF" followed by the NULL-terminated args. */
static LoadResult
load(Fixture *f, ...)
{
	g_autoptr(GPtrArray) own = g_ptr_array_new_with_free_func(g_free);
	va_list ap;
	const char *a;
	LoadResult r = { 0 };

	g_ptr_array_add(own, g_strdup("p2pd"));
	g_ptr_array_add(own, g_strdup("--config"));
	g_ptr_array_add(own, g_strdup(f->conf));
	va_start(ap, f);
	while ((a = va_arg(ap, const char *)))
		g_ptr_array_add(own, g_strdup(a));
	va_end(ap);
	/* GOption rearranges argv: give it a copy of the pointers, free our own */
	int argc = own->len;
	g_autofree char **argv_copy = g_new0(char *, own->len + 1);
	memcpy(argv_copy, own->pdata, own->len * sizeof(char *));
	char **argv = argv_copy;
	r.cfg = p2p_config_load(&argc, &argv, &r.check_only, &r.version_only, &r.error);
	g_assert_true((r.cfg == NULL) == (r.error != NULL));
	return r;
}

static void
assert_error_mentions(const GError *error, const char *a, const char *b)
{
	g_assert_nonnull(error);
	if (a && strstr(error->message, a) == NULL)
		g_error("error \"%s\" does not mention \"%s\"", error->message, a);
	if (b && strstr(error->message, b) == NULL)
		g_error("error \"%s\" does not mention \"%s\"", error->message, b);
}

static void
test_load_file(Fixture *f, gconstpointer data)
{
	write_conf(f, "state-dir = /var/tmp/p2pd-state\n"
	              "allow = bob; carol=" FP_B " ;\n"
	              "auto-accept = no\n"
	              "max-file-size = 10M\n"
	              "stun-server = [::1]:3478\n"
	              "ice-tcp = false\n"
	              "log-level = debug\n");
	LoadResult r = load(f, NULL);
	g_assert_no_error(r.error);
	P2pConfig *cfg = r.cfg;
	g_assert_false(r.check_only);
	g_assert_false(r.version_only);
	g_assert_cmpstr(cfg->config_path, ==, f->conf);
	g_assert_cmpstr(cfg->agent, ==, "alice");
	g_assert_cmpstr(cfg->signal_host, ==, "127.0.0.1");
	g_assert_cmpuint(cfg->signal_port, ==, 7443);
	g_assert_cmpstr(cfg->api_key, ==, "s3cret-key"); /* blanks around it dropped */
	g_assert_cmpstr(cfg->state_dir, ==, "/var/tmp/p2pd-state");
	g_assert_cmpstr(cfg->save_dir, ==, LOCALSTATEDIR "/lib/p2pd/inbox");
	g_assert_cmpstr(cfg->control_socket, ==, RUNSTATEDIR "/p2pd/control.sock");
	g_assert_nonnull(cfg->allow);
	g_assert_cmpuint(g_strv_length(cfg->allow), ==, 2);
	g_assert_cmpstr(cfg->allow[0], ==, "bob");
	g_assert_cmpstr(cfg->allow[1], ==, "carol=" FP_B);
	g_assert_false(cfg->allow_any);
	g_assert_false(cfg->auto_accept);
	g_assert_cmpuint(cfg->max_file_size, ==, 10 << 20);
	g_assert_cmpstr(cfg->stun_host, ==, "::1");
	g_assert_cmpuint(cfg->stun_port, ==, 3478);
	g_assert_false(cfg->ice_tcp);
	g_assert_true(cfg->ice_udp);
	g_assert_cmpstr(cfg->log_level, ==, "debug");
	load_result_clear(&r);
}

static void
test_load_defaults(Fixture *f, gconstpointer data)
{
	write_conf(f, NULL);
	LoadResult r = load(f, NULL);
	g_assert_no_error(r.error);
	g_assert_true(r.cfg->allow_any); /* allow defaults to "*" */
	g_assert_true(r.cfg->auto_accept);
	g_assert_true(r.cfg->ice_tcp);
	g_assert_true(r.cfg->ice_udp);
	g_assert_cmpuint(r.cfg->max_file_size, ==, 0);
	g_assert_null(r.cfg->stun_server);
	g_assert_null(r.cfg->signal_ca);
	g_assert_cmpstr(r.cfg->log_level, ==, "info");
	g_assert_cmpstr(r.cfg->state_dir, ==, LOCALSTATEDIR "/lib/p2pd");
	load_result_clear(&r);
}

static void
test_load_flags_override(Fixture *f, gconstpointer data)
{
	write_conf(f, "allow = bob;carol\n"
	              "auto-accept = false\n"
	              "max-file-size = 1K\n");
	LoadResult r = load(f, "--agent", "zed", "--signal-server", "[::1]:9000",
	                    "--auto-accept", "true", "--allow", "dave", "--allow", "erin=" FP_A,
	                    "--max-file-size", "2G", "--save-dir", "/srv/inbox", NULL);
	g_assert_no_error(r.error);
	P2pConfig *cfg = r.cfg;
	g_assert_cmpstr(cfg->agent, ==, "zed");
	g_assert_cmpstr(cfg->signal_host, ==, "::1");
	g_assert_cmpuint(cfg->signal_port, ==, 9000);
	g_assert_true(cfg->auto_accept);
	/* a list given by flags replaces the file's list, it does not extend it */
	g_assert_cmpuint(g_strv_length(cfg->allow), ==, 2);
	g_assert_cmpstr(cfg->allow[0], ==, "dave");
	g_assert_cmpstr(cfg->allow[1], ==, "erin=" FP_A);
	g_assert_true(p2p_config_allows(cfg, "dave"));
	g_assert_false(p2p_config_allows(cfg, "bob"));
	g_assert_cmpstr(p2p_config_allow_pin(cfg, "erin"), ==, FP_A);
	g_assert_cmpuint(cfg->max_file_size, ==, 2ull << 30);
	g_assert_cmpstr(cfg->save_dir, ==, "/srv/inbox");
	load_result_clear(&r);

	/* the flag's form: --name=value works as well */
	r = load(f, "--log-level=warning", NULL);
	g_assert_no_error(r.error);
	g_assert_cmpstr(r.cfg->log_level, ==, "warning");
	load_result_clear(&r);
}

static void
test_load_check_config(Fixture *f, gconstpointer data)
{
	write_conf(f, NULL);
	LoadResult r = load(f, "--check-config", NULL);
	g_assert_no_error(r.error);
	g_assert_true(r.check_only);
	g_assert_false(r.version_only);
	load_result_clear(&r);

	r = load(f, "--version", NULL);
	g_assert_no_error(r.error);
	g_assert_true(r.version_only);
	load_result_clear(&r);

	/* --version wins even over a broken file: it reads nothing */
	write_raw_conf(f, "[p2pd]\nbogus = 1\n");
	r = load(f, "-V", NULL);
	g_assert_no_error(r.error);
	g_assert_true(r.version_only);
	load_result_clear(&r);
}

static void
test_load_unknown_key(Fixture *f, gconstpointer data)
{
	write_conf(f, "colour = red\n");
	LoadResult r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "\"colour\"");
	load_result_clear(&r);

	/* keys are the long names exactly: no underscores */
	write_conf(f, "auto_accept = true\n");
	r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "auto_accept");
	load_result_clear(&r);
}

static void
test_load_unknown_group(Fixture *f, gconstpointer data)
{
	write_conf(f, "[signald]\nport = 1\n");
	LoadResult r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "[signald]");
	load_result_clear(&r);
}

static void
test_load_unknown_flag(Fixture *f, gconstpointer data)
{
	write_conf(f, NULL);
	LoadResult r = load(f, "--colour", "red", NULL);
	g_assert_error(r.error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION);
	assert_error_mentions(r.error, "--colour", NULL);
	load_result_clear(&r);

	r = load(f, "stray", NULL);
	g_assert_error(r.error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED);
	assert_error_mentions(r.error, "\"stray\"", NULL);
	load_result_clear(&r);
}

static void
test_load_bad_values(Fixture *f, gconstpointer data)
{
	struct {
		const char *line;
		const char *key;
		const char *value;
	} cases[] = {
		{ "auto-accept = maybe\n", "auto-accept", "maybe" },
		{ "ice-udp = 2\n", "ice-udp", "\"2\"" },
		{ "max-file-size = 10Q\n", "max-file-size", "10Q" },
		{ "max-file-size = -5\n", "max-file-size", "-5" },
		{ "stun-server = ::1\n", "stun-server", "::1" },
		{ "log-level = loud\n", "log-level", "loud" },
		{ "allow = bob=1234\n", "allow", "bob=1234" },
		{ "allow = a.b.c\n", "allow", "a.b.c" },
		{ "allow = bob=" FP_A "X\n", "allow", "bob=" },
		{ "save-dir = relative/inbox\n", "save-dir", "relative/inbox" },
		{ "ice-tcp = false\nice-udp = false\n", "ice-tcp", "ice-udp" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		write_conf(f, cases[i].line);
		LoadResult r = load(f, NULL);
		if (r.error == NULL)
			g_error("\"%s\" was accepted", cases[i].line);
		g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
		assert_error_mentions(r.error, cases[i].key, cases[i].value);
		assert_error_mentions(r.error, f->conf, NULL);
		load_result_clear(&r);
	}

	/* a bad flag value names the key and says it came from the command line */
	write_conf(f, NULL);
	LoadResult r = load(f, "--auto-accept", "perhaps", NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
	assert_error_mentions(r.error, "command line", "auto-accept");
	assert_error_mentions(r.error, "perhaps", NULL);
	load_result_clear(&r);

	r = load(f, "--agent", "no.dots", NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
	assert_error_mentions(r.error, "agent", "no.dots");
	load_result_clear(&r);

	/* a file GKeyFile cannot parse is named */
	write_raw_conf(f, "this is not a key file\n");
	r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE);
	assert_error_mentions(r.error, f->conf, NULL);
	load_result_clear(&r);
}

static void
test_load_api_key_file(Fixture *f, gconstpointer data)
{
	write_conf(f, NULL);

	/* readable by everyone: refused, the message names the file and the mode */
	g_assert_cmpint(chmod(f->key_file, 0644), ==, 0);
	LoadResult r = load(f, NULL);
	g_assert_error(r.error, G_FILE_ERROR, G_FILE_ERROR_PERM);
	assert_error_mentions(r.error, "api-key-file", f->key_file);
	assert_error_mentions(r.error, "644", NULL);
	load_result_clear(&r);

	g_assert_cmpint(chmod(f->key_file, 0604), ==, 0);
	r = load(f, NULL);
	g_assert_error(r.error, G_FILE_ERROR, G_FILE_ERROR_PERM);
	load_result_clear(&r);

	/* group-readable is allowed (a p2pd group may share it); others are not */
	g_assert_cmpint(chmod(f->key_file, 0640), ==, 0);
	r = load(f, NULL);
	g_assert_no_error(r.error);
	load_result_clear(&r);

	/* missing file */
	g_autofree char *missing = g_build_filename(f->dir, "no-such.key", NULL);
	r = load(f, "--api-key-file", missing, NULL);
	g_assert_error(r.error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	assert_error_mentions(r.error, "api-key-file", missing);
	load_result_clear(&r);

	/* more than one word: not a key */
	g_autoptr(GError) error = NULL;
	/* g_file_set_contents replaces the file: mode from the umask, so chmod after */
	g_assert_true(g_file_set_contents(f->key_file, "two words\n", -1, &error));
	g_assert_cmpint(chmod(f->key_file, 0600), ==, 0);
	r = load(f, NULL);
	g_assert_error(r.error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
	assert_error_mentions(r.error, "api-key-file", "one key on one line");
	load_result_clear(&r);

	g_assert_true(g_file_set_contents(f->key_file, "\n\n", -1, &error));
	g_assert_cmpint(chmod(f->key_file, 0600), ==, 0);
	r = load(f, NULL);
	g_assert_error(r.error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
	load_result_clear(&r);
}

static void
test_load_missing_required(Fixture *f, gconstpointer data)
{
	g_autofree char *no_agent = g_strdup_printf("[p2pd]\nsignal-server = 127.0.0.1:1\n"
	                                            "api-key-file = %s\n", f->key_file);
	write_raw_conf(f, no_agent);
	LoadResult r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "agent is not set");
	load_result_clear(&r);
	/* the flag supplies it */
	r = load(f, "--agent", "alice", NULL);
	g_assert_no_error(r.error);
	load_result_clear(&r);

	g_autofree char *no_server = g_strdup_printf("[p2pd]\nagent = alice\n"
	                                             "api-key-file = %s\n", f->key_file);
	write_raw_conf(f, no_server);
	r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "signal-server is not set");
	load_result_clear(&r);

	write_raw_conf(f, "[p2pd]\nagent = alice\nsignal-server = 127.0.0.1:1\n");
	r = load(f, NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, f->conf, "api-key-file is not set");
	load_result_clear(&r);

	/* an empty value unsets a string key */
	write_conf(f, NULL);
	r = load(f, "--agent", "", NULL);
	g_assert_error(r.error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
	assert_error_mentions(r.error, "agent is not set", NULL);
	load_result_clear(&r);
}
/* TURN: an address (libnice takes no names), a user and a password, udp/tcp */
static void
test_load_turn(Fixture *f, gconstpointer data)
{
	write_conf(f, "turn-server = 203.0.113.7:3478\n"
	              "turn-user = alice\n"
	              "turn-password = pw\n");
	LoadResult r = load(f, NULL);
	g_assert_no_error(r.error);
	g_assert_cmpstr(r.cfg->turn_host, ==, "203.0.113.7");
	g_assert_cmpuint(r.cfg->turn_port, ==, 3478);
	g_assert_true(r.cfg->turn_udp);
	g_assert_true(r.cfg->turn_tcp);
	load_result_clear(&r);

	r = load(f, "--turn-transport", "tcp", NULL);
	g_assert_no_error(r.error);
	g_assert_false(r.cfg->turn_udp);
	g_assert_true(r.cfg->turn_tcp);
	load_result_clear(&r);

	r = load(f, "--turn-transport", "tls", NULL);
	assert_error_mentions(r.error, "turn-transport", "\"tls\"");
	load_result_clear(&r);

	r = load(f, "--turn-server", "turn.example.org:3478", NULL);
	assert_error_mentions(r.error, "turn-server", "turn.example.org");
	load_result_clear(&r);

	write_conf(f, "turn-server = 203.0.113.7:3478\n");
	r = load(f, NULL);
	assert_error_mentions(r.error, "turn-user", "turn-password");
	load_result_clear(&r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	umask(022);

	g_test_add_func("/p2pd/config/parse-size", test_parse_size);
	g_test_add_func("/p2pd/config/parse-host-port", test_parse_host_port);
	g_test_add_func("/p2pd/config/agent-id", test_agent_id);
	g_test_add_func("/p2pd/config/allowlist", test_allowlist);
#define ADD(path, fn) \
	g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/p2pd/config/load/file", test_load_file);
	ADD("/p2pd/config/load/defaults", test_load_defaults);
	ADD("/p2pd/config/load/flags-override", test_load_flags_override);
	ADD("/p2pd/config/load/check-config", test_load_check_config);
	ADD("/p2pd/config/load/unknown-key", test_load_unknown_key);
	ADD("/p2pd/config/load/unknown-group", test_load_unknown_group);
	ADD("/p2pd/config/load/unknown-flag", test_load_unknown_flag);
	ADD("/p2pd/config/load/bad-values", test_load_bad_values);
	ADD("/p2pd/config/load/api-key-file", test_load_api_key_file);
	ADD("/p2pd/config/load/missing-required", test_load_missing_required);
	ADD("/p2pd/config/load/turn", test_load_turn);
#undef ADD
	return g_test_run();
}

/* Unit tests for p2p-signald's settings: listen addresses, value checks, errors that
 * name the file and the key, and flags (set after the file) winning. */
#include "config.h"

#include <string.h>

#include "signald-config.h"
#include "signald-keys.h"

static void
test_listen(void)
{
	g_autofree char *host = NULL;
	guint16 port = 1;

	g_assert_true(signald_parse_listen("127.0.0.1:7443", &host, &port, NULL));
	g_assert_cmpstr(host, ==, "127.0.0.1");
	g_assert_cmpuint(port, ==, 7443);
	g_clear_pointer(&host, g_free);
	g_assert_true(signald_parse_listen("[::1]:0", &host, &port, NULL));
	g_assert_cmpstr(host, ==, "::1");
	g_assert_cmpuint(port, ==, 0);
	g_clear_pointer(&host, g_free);
	g_assert_true(signald_parse_listen("localhost:80", &host, &port, NULL));
	g_clear_pointer(&host, g_free);

	const char *bad[] = { "nowhere", "::1:80", "[::1]80", "[::1]", "1.2.3.4:65536",
	                      "1.2.3.4:", ":80", "1.2.3.4:-1", "1.2.3.4:8x", NULL };
	for (guint i = 0; bad[i]; i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(signald_parse_listen(bad[i], &host, &port, &error));
		g_assert_nonnull(strstr(error->message, bad[i]));
	}
}

static void
test_file(void)
{
	g_autoptr(SignaldConfig) cfg = signald_config_new();
	g_autoptr(GError) error = NULL;
	const char *text = "[signald]\nlisten = [::1]:9000\nrate = 7\nmax-line = 4096\n"
	                   "keys = /x/keys.conf\n";

	g_assert_cmpuint(cfg->rate, ==, 50);
	g_assert_cmpuint(cfg->max_line, ==, 65536);
	g_assert_cmpuint(cfg->max_depth, ==, 16);
	g_assert_true(signald_config_load_data(cfg, text, strlen(text), "s.conf", &error));
	g_assert_no_error(error);
	g_assert_true(signald_config_set(cfg, "rate", "9", "--rate", &error));
	g_assert_true(signald_config_finish(cfg, &error));
	g_assert_cmpuint(cfg->rate, ==, 9); /* the flag won */
	g_assert_cmpuint(cfg->max_line, ==, 4096);
	g_assert_cmpstr(cfg->keys, ==, "/x/keys.conf");
	g_assert_cmpstr(cfg->host, ==, "::1");
	g_assert_cmpuint(cfg->port, ==, 9000);
}

static void
expect_bad(const char *text, const char *needle)
{
	g_autoptr(SignaldConfig) cfg = signald_config_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(signald_config_load_data(cfg, text, strlen(text), "s.conf", &error));
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);
	if (strstr(error->message, needle) == NULL || strstr(error->message, "s.conf") == NULL)
		g_error("\"%s\" or the file name not in \"%s\"", needle, error->message);
}

static void
test_bad(void)
{
	expect_bad("[signald]\nrate = 0\n", "[signald] rate");
	expect_bad("[signald]\nrate = -5\n", "rate");
	expect_bad("[signald]\nrate = 5x\n", "rate");
	expect_bad("[signald]\nmax-line = 99999999999\n", "max-line");
	expect_bad("[signald]\nregister-timeout =\n", "register-timeout");
	expect_bad("[signald]\nlisten = nowhere\n", "[signald] listen");
	expect_bad("[signald]\ncertificate =\n", "certificate");
	expect_bad("[signald]\nport = 1\n", "[signald] port: unknown key");
	expect_bad("[server]\nlisten = 1.2.3.4:5\n", "[server]");
	expect_bad("listen = 1.2.3.4:5\n", "s.conf");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/signald/config/listen", test_listen);
	g_test_add_func("/signald/config/file", test_file);
	g_test_add_func("/signald/config/bad", test_bad);
	return g_test_run();
}

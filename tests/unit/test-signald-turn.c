/* TURN credentials in coturn's shared-secret scheme: the password is the one coturn
 * computes (checked against a value computed independently, with Python's hmac),
 * the username carries the expiry, and the ice_servers object has what p2pd reads. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "signald-config.h"
#include "signald-keys.h"
#include "signald-turn.h"

static void
test_password(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *p = signald_turn_password("north", "1600000000:team.alice", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(p, ==, "h64s4yGWpH2HTN8sFBMc0HpUHuo=");
}

static void
test_ice_servers(void)
{
	g_autoptr(SignaldConfig) cfg = signald_config_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("signald-turn-XXXXXX", &error);
	g_autofree char *file = g_build_filename(dir, "secret", NULL);

	/* nothing configured: no ice_servers at all */
	g_assert_null(signald_turn_ice_servers(cfg, "team.alice", 1600000000 - 3600, &error));
	g_assert_no_error(error);

	g_assert_true(g_file_set_contents(file, "north\n", -1, &error));
	g_assert_cmpint(g_chmod(file, 0644), ==, 0);
	g_assert_true(signald_config_set(cfg, "turn-server", "10.99.0.2:3478", "t", &error));
	g_assert_true(signald_config_set(cfg, "turn-secret-file", file, "t", &error));
	/* a secret others can read is refused */
	g_assert_false(signald_config_finish(cfg, &error));
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "chmod 600"));
	g_clear_error(&error);
	g_assert_cmpint(g_chmod(file, 0600), ==, 0);
	g_assert_true(signald_config_finish(cfg, &error));
	g_assert_no_error(error);

	g_autoptr(JsonNode) n = signald_turn_ice_servers(cfg, "team.alice", 1600000000 - 3600,
	                                                 &error);
	g_assert_no_error(error);
	JsonObject *o = json_node_get_object(n);
	g_assert_cmpint(json_object_get_int_member(o, "ttl"), ==, 3600);
	JsonArray *stun = json_object_get_array_member(o, "stun");
	g_assert_cmpstr(json_array_get_string_element(stun, 0), ==, "10.99.0.2:3478");
	JsonObject *t = json_array_get_object_element(json_object_get_array_member(o, "turn"), 0);
	g_assert_cmpstr(json_object_get_string_member(t, "address"), ==, "10.99.0.2:3478");
	g_assert_cmpstr(json_object_get_string_member(t, "username"), ==, "1600000000:team.alice");
	g_assert_cmpstr(json_object_get_string_member(t, "password"), ==,
	                "h64s4yGWpH2HTN8sFBMc0HpUHuo=");
	g_unlink(file);
	g_rmdir(dir);
}

static void
test_bad(void)
{
	g_autoptr(SignaldConfig) cfg = signald_config_new();
	g_autoptr(GError) error = NULL;

	/* libnice takes addresses, not names */
	g_assert_false(signald_config_set(cfg, "turn-server", "turn.example.org:3478", "t", &error));
	g_assert_nonnull(strstr(error->message, "turn.example.org"));
	g_clear_error(&error);
	g_assert_false(signald_config_set(cfg, "stun-server", "10.0.0.1:0", "t", &error));
	g_clear_error(&error);
	g_assert_false(signald_config_set(cfg, "turn-ttl", "10", "t", &error));
	g_clear_error(&error);
	/* a server without its secret */
	g_assert_true(signald_config_set(cfg, "turn-server", "[::1]:3478", "t", &error));
	g_assert_false(signald_config_finish(cfg, &error));
	g_assert_nonnull(strstr(error->message, "turn-secret-file"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/signald/turn/password", test_password);
	g_test_add_func("/signald/turn/ice-servers", test_ice_servers);
	g_test_add_func("/signald/turn/bad", test_bad);
	return g_test_run();
}

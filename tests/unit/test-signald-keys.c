/* Unit tests for the API keys file: parsing and its errors, secret lookup, partners,
 * name rules, and --add-key's file (hash only, mode 0600, replace not merge). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "signald-keys.h"

/* a well-formed hash that no test secret has */
#define HASH_A "c9a2f1a3ee0f5cd8e5b6e1a2d3e38d54a0f1e8c2c8ab35b0a0e5a0a4e1a0d0e0"

static char *
sha256_hex(const char *s)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);
}

static SignaldKeys *
load(const char *text, GError **error)
{
	return signald_keys_load_data(text, strlen(text), "keys.conf", error);
}

static void
test_names(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *long_name = g_strnfill(65, 'a');
	g_autofree char *max_name = g_strnfill(64, 'a');

	g_assert_true(signald_name_valid("bob_the-2nd", "agent id", NULL));
	g_assert_true(signald_name_valid(max_name, "agent id", NULL));
	g_assert_false(signald_name_valid(long_name, "agent id", NULL));
	g_assert_false(signald_name_valid("", "agent id", NULL));
	g_assert_false(signald_name_valid("beta.carol", "agent id", &error));
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "beta.carol"));
	g_assert_false(signald_name_valid("bob smith", "agent id", NULL));
	g_assert_false(signald_name_valid("b\xc3\xb6" "b", "agent id", NULL));
}

static void
test_parse(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *ha = sha256_hex("secret-a");
	g_autofree char *hb = sha256_hex("secret-b");
	g_autofree char *hc = sha256_hex("secret-c");
	g_autofree char *text = g_strdup_printf(
		"# comment\n[key alpha]\nsha256 = %s\npartners = beta;gamma;beta;\n\n"
		"[key beta]\nsha256=%s\npartners=alpha\n\n[key gamma]\nsha256=%s\n", ha, hb, hc);
	g_autoptr(SignaldKeys) keys = load(text, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(signald_keys_count(keys), ==, 3);
	const SignaldKey *a = signald_keys_lookup_name(keys, "alpha");
	const SignaldKey *b = signald_keys_lookup_name(keys, "beta");
	const SignaldKey *c = signald_keys_lookup_name(keys, "gamma");
	g_assert_nonnull(a);
	g_assert_cmpuint(g_strv_length(a->partners), ==, 2); /* deduplicated */
	g_assert_cmpuint(g_strv_length(c->partners), ==, 0);
	g_assert_true(signald_keys_lookup_secret(keys, "secret-a") == a);
	g_assert_true(signald_keys_lookup_secret(keys, "secret-b") == b);
	g_assert_null(signald_keys_lookup_secret(keys, "secret-x"));
	g_assert_null(signald_keys_lookup_secret(keys, ""));
	/* the hash itself is not a secret that works */
	g_assert_null(signald_keys_lookup_secret(keys, ha));

	g_assert_true(signald_keys_are_partners(a, b));
	g_assert_true(signald_keys_are_partners(b, a));
	/* alpha names gamma, gamma does not name alpha: not partners either way */
	g_assert_true(signald_key_names_partner(a, c));
	g_assert_false(signald_keys_are_partners(a, c));
	g_assert_false(signald_keys_are_partners(c, a));
	g_assert_false(signald_keys_are_partners(a, a));
}

static void
expect_bad(const char *text, const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SignaldKeys) keys = load(text, &error);

	g_assert_null(keys);
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);
	if (strstr(error->message, needle) == NULL)
		g_error("\"%s\" not in \"%s\"", needle, error->message);
	g_assert_nonnull(strstr(error->message, "keys.conf"));
}

static void
test_bad(void)
{
	expect_bad("[key alpha]\n", "[key alpha] sha256: missing");
	expect_bad("[key alpha]\nsha256 = abc\n", "64 hexadecimal");
	expect_bad("[key alpha]\nsha256 = " HASH_A "x\n", "sha256");
	expect_bad("[key alpha]\nsha256 = zz" HASH_A "\n", "sha256");
	expect_bad("[key a.b]\nsha256 = " HASH_A "\n", "key name");
	expect_bad("[key alpha]\nsha256 = " HASH_A "\nsecret = x\n", "[key alpha] secret: unknown key");
	expect_bad("[key alpha]\nsha256 = " HASH_A "\npartners = be ta\n", "partners");
	expect_bad("[keys]\nx = 1\n", "[keys]: unknown group");
	expect_bad("not a key file", "keys.conf");
}

static void
test_add(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("signald-keys-XXXXXX", &error);
	g_autofree char *path = g_build_filename(dir, "keys.conf", NULL);
	const char *partners[] = { "beta", "gamma", NULL };
	g_autofree char *data = NULL;
	struct stat st;

	g_assert_no_error(error);
	g_autofree char *s1 = signald_keys_add(path, "alpha", partners, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(strlen(s1), ==, 43); /* 32 bytes, base64url without padding */
	g_assert_null(strpbrk(s1, "+/="));
	g_autofree char *s2 = signald_keys_add(path, "beta", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(s1, !=, s2);

	g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
	g_assert_null(strstr(data, s1));
	g_assert_null(strstr(data, s2));
	g_autofree char *h1 = sha256_hex(s1);
	g_assert_nonnull(strstr(data, h1));
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);

	g_autoptr(SignaldKeys) keys = signald_keys_load(path, &error);
	g_assert_no_error(error);
	const SignaldKey *a = signald_keys_lookup_secret(keys, s1);
	g_assert_nonnull(a);
	g_assert_cmpstr(a->name, ==, "alpha");
	g_assert_cmpstrv(a->partners, partners);

	/* replacing alpha: the old secret stops working, partners are not merged */
	g_autofree char *s3 = signald_keys_add(path, "alpha", NULL, &error);
	g_assert_no_error(error);
	g_autoptr(SignaldKeys) keys2 = signald_keys_load(path, &error);
	g_assert_no_error(error);
	g_assert_null(signald_keys_lookup_secret(keys2, s1));
	a = signald_keys_lookup_secret(keys2, s3);
	g_assert_nonnull(a);
	g_assert_cmpuint(g_strv_length(a->partners), ==, 0);
	g_assert_nonnull(signald_keys_lookup_secret(keys2, s2));

	g_assert_null(signald_keys_add(path, "al.pha", NULL, &error));
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);
	g_clear_error(&error);
	const char *bad[] = { "ok", "no way", NULL };
	g_assert_null(signald_keys_add(path, "delta", bad, &error));
	g_assert_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID);

	g_unlink(path);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/signald/keys/names", test_names);
	g_test_add_func("/signald/keys/parse", test_parse);
	g_test_add_func("/signald/keys/bad", test_bad);
	g_test_add_func("/signald/keys/add", test_add);
	return g_test_run();
}

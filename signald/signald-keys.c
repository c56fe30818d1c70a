/* signald-keys.c: see signald-keys.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "signald-keys.h"

G_DEFINE_QUARK(signald-error-quark, signald_error)

struct _SignaldKeys {
	GPtrArray *keys;     /* SignaldKey *, file order */
	GHashTable *by_name; /* name -> SignaldKey *, borrowed */
};

static void
signald_key_free(SignaldKey *k)
{
	if (k == NULL)
		return;
	g_free(k->name);
	g_strfreev(k->partners);
	g_free(k);
}

gboolean
signald_name_valid(const char *name, const char *what, GError **error)
{
	gsize len = strlen(name);

	if (len == 0 || len > SIGNALD_NAME_MAX) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "%s \"%s\" must be 1 to %d characters long", what, name,
		            SIGNALD_NAME_MAX);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		char c = name[i];
		if (!g_ascii_isalnum(c) && c != '_' && c != '-') {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "%s \"%s\" may only hold letters, digits, '_' and '-' "
			            "(found '%c' at position %" G_GSIZE_FORMAT ")",
			            what, name, g_ascii_isprint(c) ? c : '?', i + 1);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
parse_hex32(const char *hex, guint8 out[32])
{
	if (strlen(hex) != 64)
		return FALSE;
	for (int i = 0; i < 32; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}

static void
sha256(const void *data, gsize len, guint8 out[32])
{
	unsigned int outlen = 32;
	/* SHA-256 is always available in OpenSSL's default provider; a failure here
	 * would leave out zeroed, which matches no stored hash of a real secret. */
	memset(out, 0, 32);
	EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL);
}

static SignaldKey *
parse_group(GKeyFile *kf, const char *group, const char *origin, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_auto(GStrv) members = g_key_file_get_keys(kf, group, NULL, NULL);
	const char *name = group + strlen(SIGNALD_KEY_GROUP);
	SignaldKey *k = NULL;

	if (!signald_name_valid(name, "key name", &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: [%s]: %s", origin,
		            group, local->message);
		return NULL;
	}
	for (guint i = 0; members && members[i]; i++) {
		if (strcmp(members[i], "sha256") != 0 && strcmp(members[i], "partners") != 0) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "%s: [%s] %s: unknown key (expected sha256 or partners)", origin,
			            group, members[i]);
			return NULL;
		}
	}
	g_autofree char *hex = g_key_file_get_string(kf, group, "sha256", NULL);
	k = g_new0(SignaldKey, 1);
	k->name = g_strdup(name);
	if (hex == NULL || !parse_hex32(g_strstrip(hex), k->sha256)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "%s: [%s] sha256: %s", origin, group,
		            hex ? "must be 64 hexadecimal digits" : "missing");
		signald_key_free(k);
		return NULL;
	}
	gsize n = 0;
	g_auto(GStrv) partners = g_key_file_get_string_list(kf, group, "partners", &n, NULL);
	g_autoptr(GPtrArray) uniq = g_ptr_array_new_with_free_func(g_free);
	for (gsize i = 0; partners && i < n; i++) {
		char *p = g_strstrip(partners[i]);
		if (*p == '\0')
			continue;
		if (!signald_name_valid(p, "partner", &local)) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "%s: [%s] partners: %s", origin, group, local->message);
			signald_key_free(k);
			return NULL;
		}
		gboolean dup = FALSE;
		for (guint j = 0; j < uniq->len && !dup; j++)
			dup = strcmp(uniq->pdata[j], p) == 0;
		if (!dup)
			g_ptr_array_add(uniq, g_strdup(p));
	}
	g_ptr_array_add(uniq, NULL);
	k->partners = (char **)g_ptr_array_steal(uniq, NULL);
	return k;
}

SignaldKeys *
signald_keys_load_data(const char *data, gsize len, const char *origin, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	g_autoptr(SignaldKeys) keys = g_new0(SignaldKeys, 1);

	keys->keys = g_ptr_array_new_with_free_func((GDestroyNotify)signald_key_free);
	keys->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: %s", origin,
		            local->message);
		return NULL;
	}
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i]; i++) {
		if (!g_str_has_prefix(groups[i], SIGNALD_KEY_GROUP)) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "%s: [%s]: unknown group (expected [key NAME])", origin,
			            groups[i]);
			return NULL;
		}
		SignaldKey *k = parse_group(kf, groups[i], origin, error);
		if (k == NULL)
			return NULL;
		/* GKeyFile merges repeated groups, so names are unique already. */
		g_ptr_array_add(keys->keys, k);
		g_hash_table_insert(keys->by_name, k->name, k);
	}
	return g_steal_pointer(&keys);
}

SignaldKeys *
signald_keys_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	g_autoptr(GError) local = NULL;

	if (!g_file_get_contents(path, &data, &len, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "keys file %s: %s", path,
		            local->message);
		return NULL;
	}
	return signald_keys_load_data(data, len, path, error);
}

void
signald_keys_free(SignaldKeys *keys)
{
	if (keys == NULL)
		return;
	g_clear_pointer(&keys->by_name, g_hash_table_unref);
	g_clear_pointer(&keys->keys, g_ptr_array_unref);
	g_free(keys);
}

guint
signald_keys_count(SignaldKeys *keys)
{
	return keys->keys->len;
}

const SignaldKey *
signald_keys_lookup_name(SignaldKeys *keys, const char *name)
{
	return g_hash_table_lookup(keys->by_name, name);
}

const SignaldKey *
signald_keys_lookup_secret(SignaldKeys *keys, const char *secret)
{
	guint8 digest[32];
	const SignaldKey *found = NULL;

	sha256(secret, strlen(secret), digest);
	/* Every key is compared, so the time taken does not say which one matched. */
	for (guint i = 0; i < keys->keys->len; i++) {
		const SignaldKey *k = keys->keys->pdata[i];
		if (CRYPTO_memcmp(k->sha256, digest, sizeof(digest)) == 0 && found == NULL)
			found = k;
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return found;
}

gboolean
signald_key_names_partner(const SignaldKey *a, const SignaldKey *b)
{
	return g_strv_contains((const char *const *)a->partners, b->name);
}

gboolean
signald_keys_are_partners(const SignaldKey *a, const SignaldKey *b)
{
	return a != b && signald_key_names_partner(a, b) && signald_key_names_partner(b, a);
}

static char *
base64url(const guint8 *data, gsize len)
{
	char *s = g_base64_encode(data, len);
	gsize j = 0;

	for (gsize i = 0; s[i]; i++) {
		if (s[i] == '=')
			break;
		s[j++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	s[j] = '\0';
	return s;
}

char *
signald_keys_add(const char *path, const char *name, const char *const *partners,
                 GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	g_autofree char *group = g_strconcat(SIGNALD_KEY_GROUP, name, NULL);
	g_autofree char *hex = NULL;
	g_autofree char *data = NULL;
	g_autofree char *secret = NULL;
	guint8 raw[SIGNALD_SECRET_BYTES];
	guint8 digest[32];
	gsize len = 0;

	if (!signald_name_valid(name, "key name", error))
		return NULL;
	for (guint i = 0; partners && partners[i]; i++) {
		if (!signald_name_valid(partners[i], "partner", error))
			return NULL;
	}
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &local)) {
		if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "keys file %s: %s",
			            path, local->message);
			return NULL;
		}
		g_clear_error(&local);
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "cannot generate a secret: the OpenSSL random generator failed");
		return NULL;
	}
	secret = base64url(raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	sha256(secret, strlen(secret), digest);
	hex = g_malloc(65);
	for (int i = 0; i < 32; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", digest[i]);

	/* Replace, not merge: a re-added key must not keep its old partners. */
	g_key_file_remove_group(kf, group, NULL);
	g_key_file_set_string(kf, group, "sha256", hex);
	if (partners && partners[0])
		g_key_file_set_string_list(kf, group, "partners", partners,
		                           g_strv_length((char **)partners));
	data = g_key_file_to_data(kf, &len, NULL);
	if (!g_file_set_contents_full(path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
	                              &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "keys file %s: %s", path,
		            local->message);
		return NULL;
	}
	return g_steal_pointer(&secret);
}

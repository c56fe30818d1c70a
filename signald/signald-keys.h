/* signald-keys.h: the API keys file. Each `[key NAME]` group holds the SHA-256 of the
 * key's secret (never the secret) and the names of the keys it partners with. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SIGNALD_NAME_MAX        64   /* key names and agent ids */
#define SIGNALD_SECRET_BYTES    32   /* random bytes behind a generated secret */
#define SIGNALD_SECRET_MAX      256  /* longest secret a client may present */
#define SIGNALD_KEY_GROUP       "key "

#define SIGNALD_ERROR (signald_error_quark())
GQuark signald_error_quark(void);

typedef enum {
	SIGNALD_ERROR_INVALID, /* a value in a file or on the command line is wrong */
	SIGNALD_ERROR_EXISTS,  /* refusing to overwrite */
} SignaldError;

typedef struct {
	char *name;
	guint8 sha256[32];
	char **partners; /* deduplicated, never NULL */
} SignaldKey;

typedef struct _SignaldKeys SignaldKeys;

/* Key names and agent ids: [A-Za-z0-9_-]{1,64}. No dots, because a dot joins a
 * partner's key name and agent id ("beta.carol"). what names the thing in the error. */
gboolean signald_name_valid(const char *name, const char *what, GError **error);

SignaldKeys *signald_keys_load_data(const char *data, gsize len, const char *origin,
                                    GError **error);
SignaldKeys *signald_keys_load(const char *path, GError **error);
void signald_keys_free(SignaldKeys *keys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignaldKeys, signald_keys_free)

guint signald_keys_count(SignaldKeys *keys);
const SignaldKey *signald_keys_lookup_name(SignaldKeys *keys, const char *name);
/* The key whose hash matches SHA-256(secret), compared in constant time, or NULL. */
const SignaldKey *signald_keys_lookup_secret(SignaldKeys *keys, const char *secret);

/* a lists b as a partner */
gboolean signald_key_names_partner(const SignaldKey *a, const SignaldKey *b);
/* both list each other: only then do their sessions see each other */
gboolean signald_keys_are_partners(const SignaldKey *a, const SignaldKey *b);

/* Generates a secret, writes (or replaces) `[key NAME]` with its hash and partners into
 * path (mode 0600, created if missing) and returns the secret: the only time it exists. */
char *signald_keys_add(const char *path, const char *name, const char *const *partners,
                       GError **error);

G_END_DECLS

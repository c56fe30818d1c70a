/* signald-turn.c: see signald-turn.h. */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "p2p-protocol.h"
#include "signald-keys.h"
#include "signald-turn.h"

char *
signald_turn_password(const char *secret, const char *username, GError **error)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	/* the one-shot HMAC of OpenSSL: coturn computes the same on its side */
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username,
	         strlen(username), md, &md_len) == NULL) {
		char buf[256];
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "HMAC-SHA1 of TURN username \"%s\" failed: %s", username, buf);
		return NULL;
	}
	return g_base64_encode(md, md_len);
}

JsonNode *
signald_turn_ice_servers(const SignaldConfig *cfg, const char *id, gint64 now, GError **error)
{
	const char *stun = cfg->stun_server ? cfg->stun_server : cfg->turn_server;

	if (stun == NULL)
		return NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "stun");
	json_builder_begin_array(b);
	json_builder_add_string_value(b, stun);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "turn");
	json_builder_begin_array(b);
	if (cfg->turn_server && cfg->turn_secret) {
		gint64 expires = now + cfg->turn_ttl;
		g_autofree char *user = g_strdup_printf("%" G_GINT64_FORMAT ":%s", expires, id);
		g_autofree char *pass = signald_turn_password(cfg->turn_secret, user, error);
		if (pass == NULL)
			return NULL;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "address");
		json_builder_add_string_value(b, cfg->turn_server);
		json_builder_set_member_name(b, "username");
		json_builder_add_string_value(b, user);
		json_builder_set_member_name(b, "password");
		json_builder_add_string_value(b, pass);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "ttl");
	json_builder_add_int_value(b, cfg->turn_ttl);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

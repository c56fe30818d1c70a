/* signald-turn.h: STUN/TURN servers and short-lived TURN credentials for the
 * daemons, in coturn's shared-secret scheme ("use-auth-secret", the TURN REST API):
 * username "EXPIRY:ID", password base64(HMAC-SHA1(secret, username)), so that coturn
 * checks them with nothing but the secret and no database of users. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "signald-config.h"

G_BEGIN_DECLS

#define SIGNALD_TURN_SECRET_MAX 1024 /* bytes of shared secret read from the file */

/* The password coturn expects for username under secret. */
char *signald_turn_password(const char *secret, const char *username, GError **error);

/* The object handed to a daemon at registration and by "ice-servers" (see
 * docs/PROTOCOL.md), credentials for id valid from now for cfg->turn_ttl seconds;
 * NULL when neither a STUN nor a TURN server is configured. */
JsonNode *signald_turn_ice_servers(const SignaldConfig *cfg, const char *id, gint64 now,
                                   GError **error);

G_END_DECLS

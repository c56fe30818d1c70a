/* signald-config.c: see signald-config.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "p2p-protocol.h"
#include "signald-config.h"
#include "signald-keys.h"
#include "signald-turn.h"

#define OPT_S(k, m, arg, help) \
	{ (k), SIGNALD_OPT_STRING, G_STRUCT_OFFSET(SignaldConfig, m), 0, 0, (arg), (help), NULL }
#define OPT_U(k, m, lo, hi, help) \
	{ (k), SIGNALD_OPT_UINT, G_STRUCT_OFFSET(SignaldConfig, m), (lo), (hi), "N", (help), NULL }

static gboolean
check_listen(const char *value, GError **error)
{
	g_autofree char *host = NULL;
	guint16 port = 0;
	return signald_parse_listen(value, &host, &port, error);
}

gboolean
signald_check_ice_server(const char *value, GError **error)
{
	g_autofree char *host = NULL;
	guint16 port = 0;
	if (!signald_parse_listen(value, &host, &port, error))
		return FALSE;
	if (!g_hostname_is_ip_address(host) || port == 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "\"%s\" is not an IP address and a port (libnice takes no host names)",
		            value);
		return FALSE;
	}
	return TRUE;
}

const SignaldOption signald_options[] = {
	{ "listen", SIGNALD_OPT_STRING, G_STRUCT_OFFSET(SignaldConfig, listen), 0, 0, "HOST:PORT",
	  "address to listen on (default " SIGNALD_DEFAULT_LISTEN ")", check_listen },
	OPT_S("certificate", certificate, "PATH", "TLS certificate chain (PEM)"),
	OPT_S("private-key", private_key, "PATH", "TLS private key (PEM)"),
	OPT_S("keys", keys, "PATH", "API keys file"),
	OPT_S("port-file", port_file, "PATH", "write the bound port here once listening"),
	OPT_U("max-line", max_line, 256, 16 * 1024 * 1024, "longest request line in bytes (default 65536)"),
	OPT_U("max-depth", max_depth, 2, 256, "deepest JSON nesting (default 16)"),
	OPT_U("rate", rate, 1, 100000, "messages per second per session, burst twice that (default 50)"),
	OPT_U("max-sessions-per-key", max_sessions_per_key, 1, 1000000, "registered sessions per API key (default 64)"),
	OPT_U("max-connections", max_connections, 1, 1000000, "open connections in total (default 1024)"),
	OPT_U("register-timeout", register_timeout, 1, 3600, "seconds a client has to register (default 10)"),
	{ "stun-server", SIGNALD_OPT_STRING, G_STRUCT_OFFSET(SignaldConfig, stun_server), 0, 0,
	  "ADDR:PORT", "STUN server handed to the daemons (default: turn-server)",
	  signald_check_ice_server },
	{ "turn-server", SIGNALD_OPT_STRING, G_STRUCT_OFFSET(SignaldConfig, turn_server), 0, 0,
	  "ADDR:PORT", "coturn's address: the daemons get short-lived credentials for it",
	  signald_check_ice_server },
	OPT_S("turn-secret-file", turn_secret_file, "PATH", "file holding coturn's static-auth-secret"),
	OPT_U("turn-ttl", turn_ttl, 60, 7 * 86400, "seconds a TURN credential lasts (default 3600); daemons renew at half"),
	{ NULL },
};

SignaldConfig *
signald_config_new(void)
{
	SignaldConfig *cfg = g_new0(SignaldConfig, 1);

	cfg->listen = g_strdup(SIGNALD_DEFAULT_LISTEN);
	cfg->certificate = g_strdup(SIGNALD_DEFAULT_CERT);
	cfg->private_key = g_strdup(SIGNALD_DEFAULT_KEY);
	cfg->keys = g_strdup(SIGNALD_DEFAULT_KEYS);
	cfg->max_line = P2P_JSONRPC_MAX_LINE;
	cfg->max_depth = P2P_JSONRPC_MAX_DEPTH;
	cfg->rate = 50;
	cfg->max_sessions_per_key = 64;
	cfg->max_connections = 1024;
	cfg->register_timeout = 10;
	cfg->turn_ttl = 3600;
	return cfg;
}

void
signald_config_free(SignaldConfig *cfg)
{
	if (cfg == NULL)
		return;
	for (const SignaldOption *o = signald_options; o->key; o++) {
		if (o->type == SIGNALD_OPT_STRING)
			g_free(G_STRUCT_MEMBER(char *, cfg, o->offset));
	}
	g_free(cfg->host);
	if (cfg->turn_secret)
		memset(cfg->turn_secret, 0, strlen(cfg->turn_secret));
	g_free(cfg->turn_secret);
	g_free(cfg);
}

gboolean
signald_config_set(SignaldConfig *cfg, const char *key, const char *value, const char *origin,
                   GError **error)
{
	const SignaldOption *o;

	for (o = signald_options; o->key; o++) {
		if (strcmp(o->key, key) == 0)
			break;
	}
	if (o->key == NULL) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: unknown key", origin);
		return FALSE;
	}
	if (o->type == SIGNALD_OPT_STRING) {
		if (*value == '\0') {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: must not be empty",
			            origin);
			return FALSE;
		}
		g_autoptr(GError) local = NULL;
		if (o->check && !o->check(value, &local)) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: %s", origin,
			            local->message);
			return FALSE;
		}
		char **dest = &G_STRUCT_MEMBER(char *, cfg, o->offset);
		g_free(*dest);
		*dest = g_strdup(value);
		return TRUE;
	}

	char *end = NULL;
	errno = 0;
	guint64 v = g_ascii_strtoull(value, &end, 10);
	if (!g_ascii_isdigit(*value) || *end != '\0' || errno != 0 || v < o->min || v > o->max) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "%s: \"%s\" is not a whole number from %u to %u", origin, value, o->min,
		            o->max);
		return FALSE;
	}
	G_STRUCT_MEMBER(guint, cfg, o->offset) = (guint)v;
	return TRUE;
}

gboolean
signald_config_load_data(SignaldConfig *cfg, const char *data, gsize len, const char *origin,
                         GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;

	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: %s", origin,
		            local->message);
		return FALSE;
	}
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i]; i++) {
		if (strcmp(groups[i], SIGNALD_CONFIG_GROUP) != 0) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "%s: [%s]: unknown group (expected [" SIGNALD_CONFIG_GROUP "])",
			            origin, groups[i]);
			return FALSE;
		}
	}
	g_auto(GStrv) keys = g_key_file_get_keys(kf, SIGNALD_CONFIG_GROUP, NULL, NULL);
	for (guint i = 0; keys && keys[i]; i++) {
		g_autofree char *where = g_strdup_printf("%s: [" SIGNALD_CONFIG_GROUP "] %s",
		                                         origin, keys[i]);
		g_autofree char *value = g_key_file_get_string(kf, SIGNALD_CONFIG_GROUP, keys[i],
		                                               &local);
		if (value == NULL) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: %s", where,
			            local->message);
			return FALSE;
		}
		if (!signald_config_set(cfg, keys[i], g_strstrip(value), where, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
signald_config_load_file(SignaldConfig *cfg, const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	g_autoptr(GError) local = NULL;

	if (!g_file_get_contents(path, &data, &len, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "config file %s: %s", path,
		            local->message);
		return FALSE;
	}
	return signald_config_load_data(cfg, data, len, path, error);
}

gboolean
signald_parse_listen(const char *text, char **host, guint16 *port, GError **error)
{
	g_autofree char *h = NULL;
	const char *p;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':') {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "listen address \"%s\": expected [IPv6]:PORT", text);
			return FALSE;
		}
		h = g_strndup(text + 1, close - text - 1);
		p = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL || strchr(text, ':') != colon) {
			g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
			            "listen address \"%s\": expected HOST:PORT (IPv6 as [ADDR]:PORT)",
			            text);
			return FALSE;
		}
		h = g_strndup(text, colon - text);
		p = colon + 1;
	}
	char *end = NULL;
	errno = 0;
	guint64 v = g_ascii_strtoull(p, &end, 10);
	if (*h == '\0' || !g_ascii_isdigit(*p) || *end != '\0' || errno != 0 || v > 65535) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "listen address \"%s\": %s", text,
		            *h == '\0' ? "the host is empty" : "the port must be 0 to 65535");
		return FALSE;
	}
	*host = g_steal_pointer(&h);
	*port = (guint16)v;
	return TRUE;
}

/* The shared secret: a file only its owner may read, one line. */
static gboolean
read_turn_secret(SignaldConfig *cfg, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) local = NULL;
	struct stat st;

	if (cfg->turn_secret)
		memset(cfg->turn_secret, 0, strlen(cfg->turn_secret));
	g_clear_pointer(&cfg->turn_secret, g_free);
	if ((cfg->turn_server == NULL) != (cfg->turn_secret_file == NULL)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "turn-server and turn-secret-file go together: %s is set, %s is not",
		            cfg->turn_server ? "turn-server" : "turn-secret-file",
		            cfg->turn_server ? "turn-secret-file" : "turn-server");
		return FALSE;
	}
	if (cfg->turn_secret_file == NULL)
		return TRUE;
	if (stat(cfg->turn_secret_file, &st) != 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "turn-secret-file %s: %s", cfg->turn_secret_file, g_strerror(errno));
		return FALSE;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "turn-secret-file %s: mode %03o lets others read the secret; chmod 600 it",
		            cfg->turn_secret_file, st.st_mode & 0777);
		return FALSE;
	}
	if (!g_file_get_contents(cfg->turn_secret_file, &data, NULL, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "turn-secret-file: %s",
		            local->message);
		return FALSE;
	}
	g_strstrip(data);
	if (*data == '\0' || strlen(data) > SIGNALD_TURN_SECRET_MAX || strpbrk(data, " \t\r\n")) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID,
		            "turn-secret-file %s: must hold one secret (1 to %d characters, no "
		            "blanks) on one line", cfg->turn_secret_file, SIGNALD_TURN_SECRET_MAX);
		memset(data, 0, strlen(data));
		return FALSE;
	}
	cfg->turn_secret = g_steal_pointer(&data);
	return TRUE;
}

gboolean
signald_config_finish(SignaldConfig *cfg, GError **error)
{
	g_clear_pointer(&cfg->host, g_free);
	if (!signald_parse_listen(cfg->listen, &cfg->host, &cfg->port, error))
		return FALSE;
	return read_turn_secret(cfg, error);
}

/* p2pd-config.c: see p2pd-config.h. */
#include "config.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pd-config.h"

typedef enum {
	KEY_STRING,
	KEY_BOOL,
	KEY_SIZE,
	KEY_UINT,
	KEY_LIST,
} KeyType;

typedef struct {
	const char *name;
	KeyType type;
	gsize offset;
	const char *def; /* default, as text; NULL = unset */
	const char *arg;
	const char *help;
	gboolean runtime; /* a reload (SIGHUP) applies it; otherwise it needs a restart */
} ConfigKey;

/* RUNTIME keys are read where they are used (the next offer, the next session), so a
 * reload can swap them; RESTART keys are held by what the daemon set up at start (the
 * identity, the state database, the signaling link, the control socket, transfers
 * being written into the save directory). */
#define RUNTIME TRUE
#define RESTART FALSE
#define K(n, t, m, d, a, h, r) { (n), (t), G_STRUCT_OFFSET(P2pConfig, m), (d), (a), (h), (r) }

/* The one table of keys: the file, the flags, --help and the man page all follow it. */
static const ConfigKey config_keys[] = {
	K("agent", KEY_STRING, agent, NULL, "ID", "this agent's id", RESTART),
	K("signal-server", KEY_STRING, signal_server, NULL, "HOST:PORT", "p2p-signald address", RESTART),
	K("api-key-file", KEY_STRING, api_key_file, NULL, "FILE", "file holding the API key", RESTART),
	K("signal-ca", KEY_STRING, signal_ca, NULL, "FILE", "CA or certificate to trust for the signaling server", RESTART),
	K("state-dir", KEY_STRING, state_dir, LOCALSTATEDIR "/lib/p2pd", "DIR", "identity and state database", RESTART),
	K("control-socket", KEY_STRING, control_socket, RUNSTATEDIR "/p2pd/control.sock", "PATH", "control socket", RESTART),
	K("save-dir", KEY_STRING, save_dir, LOCALSTATEDIR "/lib/p2pd/inbox", "DIR", "where received files go", RESTART),
	K("allow", KEY_LIST, allow, "*", "PEER[=FP]", "peers whose offers are accepted (repeatable)", RUNTIME),
	K("auto-accept", KEY_BOOL, auto_accept, "true", "BOOL", "accept allowed offers without asking", RUNTIME),
	K("unknown", KEY_STRING, unknown, "refuse", "refuse|ask", "offers from peers outside allow: refused, or held for accept/reject", RUNTIME),
	K("max-file-size", KEY_SIZE, max_file_size, "0", "SIZE", "largest file accepted (0 = no limit)", RUNTIME),
	K("max-transfer-size", KEY_SIZE, max_transfer_size, "0", "SIZE", "largest transfer (all its files) accepted (0 = no limit)", RUNTIME),
	K("max-files", KEY_UINT, max_files, "100000", "N", "most files and directories one transfer may carry", RUNTIME),
	K("min-free-space", KEY_SIZE, min_free_space, "64M", "SIZE", "free space the save directory's file system keeps after a transfer", RUNTIME),
	K("peer-subfolders", KEY_BOOL, peer_subfolders, "false", "BOOL", "save each peer's files in SAVE-DIR/PEER", RUNTIME),
	K("offer-timeout", KEY_UINT, offer_timeout, "86400", "SECONDS", "how long an offer waits for accept/reject before it expires", RUNTIME),
	K("rate-limit", KEY_SIZE, rate_limit, "0", "SIZE", "bytes per second of outgoing file data (0 = no limit)", RUNTIME),
	K("stun-server", KEY_STRING, stun_server, NULL, "HOST:PORT", "STUN server (default: the one p2p-signald hands out)", RUNTIME),
	K("turn-server", KEY_STRING, turn_server, NULL, "ADDR:PORT", "TURN server, over UDP and TCP (besides the one p2p-signald hands out)", RUNTIME),
	K("turn-user", KEY_STRING, turn_user, NULL, "NAME", "user name on turn-server", RUNTIME),
	K("turn-password", KEY_STRING, turn_password, NULL, "SECRET", "password on turn-server (keep it in the config file, not on the command line)", RUNTIME),
	K("turn-transport", KEY_LIST, turn_transport, "udp,tcp", "udp|tcp", "how TURN servers are reached (repeatable)", RUNTIME),
	K("ice-tcp", KEY_BOOL, ice_tcp, "true", "BOOL", "gather ICE-TCP candidates", RUNTIME),
	K("ice-udp", KEY_BOOL, ice_udp, "true", "BOOL", "gather UDP candidates", RUNTIME),
	K("udp-transport", KEY_STRING, udp_transport, "datagram", "datagram|pseudotcp", "what carries the channel over UDP pairs: p2pd's datagram transport or libnice's pseudo-TCP", RUNTIME),
	K("ice-address", KEY_LIST, ice_address, NULL, "ADDR", "local address for host candidates (repeatable; default: every interface)", RUNTIME),
	K("log-level", KEY_STRING, log_level, "info", "LEVEL", "error, warning, info or debug", RUNTIME),
};

gboolean
p2p_agent_id_valid(const char *id)
{
	gsize n = id ? strlen(id) : 0;
	if (n == 0 || n > P2P_AGENT_ID_MAX)
		return FALSE;
	for (const char *p = id; *p; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
			return FALSE;
	}
	return TRUE;
}

gboolean
p2p_parse_size(const char *text, guint64 *out, GError **error)
{
	char *end = NULL;
	guint64 v;
	guint shift = 0;

	errno = 0;
	if (text == NULL || !g_ascii_isdigit(text[0]))
		goto bad;
	v = g_ascii_strtoull(text, &end, 10);
	if (errno != 0)
		goto bad;
	switch (g_ascii_toupper(*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: goto bad;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0' || (shift && v > (G_MAXUINT64 >> shift)))
		goto bad;
	*out = v << shift;
	return TRUE;
bad:
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
	            "\"%s\" is not a size (a number with an optional K, M, G or T suffix)",
	            text ? text : "");
	return FALSE;
}

gboolean
p2p_parse_host_port(const char *text, char **host, guint16 *port, GError **error)
{
	const char *colon;
	g_autofree char *h = NULL;

	if (text == NULL || *text == '\0')
		goto bad;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		h = g_strndup(text + 1, close - text - 1);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || colon == text || memchr(text, ':', colon - text))
			goto bad;
		h = g_strndup(text, colon - text);
	}
	/* digits only: strtoull alone would also take " 80", "+80" or "-1" */
	if (!g_ascii_isdigit(colon[1]))
		goto bad;
	char *end = NULL;
	guint64 p = g_ascii_strtoull(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535 || *h == '\0')
		goto bad;
	*host = g_steal_pointer(&h);
	*port = (guint16)p;
	return TRUE;
bad:
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
	            "\"%s\" is not HOST:PORT (IPv6 as [ADDR]:PORT)", text ? text : "");
	return FALSE;
}

static gboolean
fingerprint_text_valid(const char *s)
{
	if (strlen(s) != 64)
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_isdigit(*s) && !(*s >= 'a' && *s <= 'f'))
			return FALSE;
	return TRUE;
}

/* Peer ids may carry a partner key prefix: "key.agent". */
static gboolean
peer_id_valid(const char *id)
{
	g_auto(GStrv) parts = g_strsplit(id, ".", -1);
	guint n = g_strv_length(parts);
	if (n < 1 || n > 2)
		return FALSE;
	for (guint i = 0; i < n; i++)
		if (!p2p_agent_id_valid(parts[i]))
			return FALSE;
	return TRUE;
}

const char *
p2p_config_allow_pin(const P2pConfig *cfg, const char *peer)
{
	gsize n = strlen(peer);
	for (char **a = cfg->allow; a && *a; a++) {
		if (strncmp(*a, peer, n) == 0 && (*a)[n] == '=')
			return *a + n + 1;
	}
	return NULL;
}

gboolean
p2p_config_allows(const P2pConfig *cfg, const char *peer)
{
	if (cfg->allow_any)
		return TRUE;
	gsize n = strlen(peer);
	for (char **a = cfg->allow; a && *a; a++) {
		if (strncmp(*a, peer, n) == 0 && ((*a)[n] == '\0' || (*a)[n] == '='))
			return TRUE;
	}
	return FALSE;
}

static gboolean
set_value(P2pConfig *cfg, const ConfigKey *k, const char *origin, const char *text, char **list,
          GError **error)
{
	guint8 *p = (guint8 *)cfg + k->offset;
	g_autoptr(GError) local = NULL;

	switch (k->type) {
	case KEY_STRING:
		g_free(*(char **)p);
		*(char **)p = (text && *text) ? g_strdup(text) : NULL;
		return TRUE;
	case KEY_BOOL:
		if (g_ascii_strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0 ||
		    g_ascii_strcasecmp(text, "yes") == 0) {
			*(gboolean *)p = TRUE;
		} else if (g_ascii_strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0 ||
		           g_ascii_strcasecmp(text, "no") == 0) {
			*(gboolean *)p = FALSE;
		} else {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: %s: \"%s\" is not a boolean (true or false)", origin, k->name,
			            text);
			return FALSE;
		}
		return TRUE;
	case KEY_SIZE:
		if (!p2p_parse_size(text, (guint64 *)p, &local)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s: %s",
			            origin, k->name, local->message);
			return FALSE;
		}
		return TRUE;
	case KEY_UINT:
		if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, (guint64 *)p, &local)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s: %s",
			            origin, k->name, local->message);
			return FALSE;
		}
		return TRUE;
	case KEY_LIST:
		g_strfreev(*(char ***)p);
		if (list) {
			*(char ***)p = g_strdupv(list);
		} else {
			*(char ***)p = g_strsplit_set(text, ";,", -1);
		}
		/* drop empty elements and surrounding blanks */
		{
			char **v = *(char ***)p;
			guint j = 0;
			for (guint i = 0; v[i]; i++) {
				g_strstrip(v[i]);
				if (*v[i])
					v[j++] = v[i];
				else
					g_free(v[i]);
			}
			v[j] = NULL;
		}
		return TRUE;
	}
	return FALSE;
}

static gboolean
validate(P2pConfig *cfg, const char *origin, GError **error)
{
	g_autoptr(GError) local = NULL;

	if (cfg->agent == NULL) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
		            "%s: agent is not set (use agent = ID or --agent ID)", origin);
		return FALSE;
	}
	if (!p2p_agent_id_valid(cfg->agent)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: agent: \"%s\" is not a valid id (1-%d of A-Z a-z 0-9 _ -)", origin,
		            cfg->agent, P2P_AGENT_ID_MAX);
		return FALSE;
	}
	if (cfg->signal_server == NULL) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
		            "%s: signal-server is not set", origin);
		return FALSE;
	}
	if (!p2p_parse_host_port(cfg->signal_server, &cfg->signal_host, &cfg->signal_port, &local)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: signal-server: %s", origin, local->message);
		return FALSE;
	}
	if (cfg->stun_server &&
	    !p2p_parse_host_port(cfg->stun_server, &cfg->stun_host, &cfg->stun_port, &local)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: stun-server: %s", origin, local->message);
		return FALSE;
	}
	if (cfg->turn_server) {
		if (!p2p_parse_host_port(cfg->turn_server, &cfg->turn_host, &cfg->turn_port, &local)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: turn-server: %s", origin, local->message);
			return FALSE;
		}
		/* libnice takes an address, and resolving here would block the daemon */
		if (!g_hostname_is_ip_address(cfg->turn_host)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: turn-server: \"%s\" is not an IP address", origin,
			            cfg->turn_host);
			return FALSE;
		}
		if (cfg->turn_user == NULL || cfg->turn_password == NULL) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
			            "%s: turn-server needs turn-user and turn-password", origin);
			return FALSE;
		}
	}
	for (char **t = cfg->turn_transport; t && *t; t++) {
		if (strcmp(*t, "udp") == 0) {
			cfg->turn_udp = TRUE;
		} else if (strcmp(*t, "tcp") == 0) {
			cfg->turn_tcp = TRUE;
		} else {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: turn-transport: \"%s\" is not udp or tcp", origin, *t);
			return FALSE;
		}
	}
	if (!cfg->ice_tcp && !cfg->ice_udp) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: ice-tcp and ice-udp are both false: no candidates to gather", origin);
		return FALSE;
	}
	if (g_strcmp0(cfg->udp_transport, "datagram") != 0 &&
	    g_strcmp0(cfg->udp_transport, "pseudotcp") != 0) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: udp-transport: \"%s\" is not datagram or pseudotcp", origin,
		            cfg->udp_transport ? cfg->udp_transport : "");
		return FALSE;
	}
	const char *levels[] = { "error", "warning", "info", "debug" };
	gboolean level_ok = FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++)
		level_ok |= g_strcmp0(cfg->log_level, levels[i]) == 0;
	if (!level_ok) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: log-level: \"%s\" is not error, warning, info or debug", origin,
		            cfg->log_level);
		return FALSE;
	}
	if (g_strcmp0(cfg->unknown, "refuse") != 0 && g_strcmp0(cfg->unknown, "ask") != 0) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: unknown: \"%s\" is not refuse or ask", origin,
		            cfg->unknown ? cfg->unknown : "");
		return FALSE;
	}
	cfg->unknown_ask = strcmp(cfg->unknown, "ask") == 0;
	if (cfg->max_files == 0) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		            "%s: max-files: 0 would refuse every transfer", origin);
		return FALSE;
	}
	for (char **a = cfg->allow; a && *a; a++) {
		if (strcmp(*a, "*") == 0) {
			cfg->allow_any = TRUE;
			continue;
		}
		g_auto(GStrv) kv = g_strsplit(*a, "=", 2);
		if (!peer_id_valid(kv[0]) || (kv[1] && !fingerprint_text_valid(kv[1]))) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: allow: \"%s\" is not *, PEER or PEER=FINGERPRINT (64 lowercase "
			            "hex digits)", origin, *a);
			return FALSE;
		}
	}
	const struct {
		const char *name;
		const char *path;
	} paths[] = {
		{ "state-dir", cfg->state_dir },
		{ "save-dir", cfg->save_dir },
		{ "control-socket", cfg->control_socket },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
		if (paths[i].path == NULL || !g_path_is_absolute(paths[i].path)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			            "%s: %s: \"%s\" must be an absolute path", origin, paths[i].name,
			            paths[i].path ? paths[i].path : "");
			return FALSE;
		}
	}

	/* the API key: a secret, so refuse a file others can read */
	if (cfg->api_key_file == NULL) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
		            "%s: api-key-file is not set", origin);
		return FALSE;
	}
	struct stat st;
	if (stat(cfg->api_key_file, &st) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		            "%s: api-key-file: cannot read \"%s\": %s", origin, cfg->api_key_file,
		            g_strerror(errno));
		return FALSE;
	}
	if (st.st_mode & S_IROTH) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
		            "%s: api-key-file: \"%s\" is readable by everyone (mode %03o); "
		            "chmod o-r it", origin, cfg->api_key_file, st.st_mode & 0777);
		return FALSE;
	}
	g_autofree char *key = NULL;
	if (!g_file_get_contents(cfg->api_key_file, &key, NULL, &local)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: api-key-file: %s", origin,
		            local->message);
		return FALSE;
	}
	g_strstrip(key);
	if (*key == '\0' || strlen(key) > 1024 || strpbrk(key, " \t\r\n")) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		            "%s: api-key-file: \"%s\" must hold one key on one line", origin,
		            cfg->api_key_file);
		return FALSE;
	}
	cfg->api_key = g_steal_pointer(&key);
	if (cfg->signal_ca && access(cfg->signal_ca, R_OK) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		            "%s: signal-ca: cannot read \"%s\": %s", origin, cfg->signal_ca,
		            g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

P2pConfig *
p2p_config_load(int *argc, char ***argv, gboolean *check_only, gboolean *version_only,
                GError **error)
{
	g_autoptr(P2pConfig) cfg = g_new0(P2pConfig, 1);
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	g_autofree char *config_path = NULL;
	const gsize nkeys = G_N_ELEMENTS(config_keys);
	char *flag_values[G_N_ELEMENTS(config_keys)] = { NULL };
	char **flag_lists[G_N_ELEMENTS(config_keys)] = { NULL };
	g_autofree GOptionEntry *entries = g_new0(GOptionEntry, nkeys + 4);
	gboolean ok = FALSE;

	*check_only = FALSE;
	*version_only = FALSE;
	for (gsize i = 0; i < nkeys; i++) {
		const ConfigKey *k = &config_keys[i];
		entries[i].long_name = k->name;
		entries[i].arg = k->type == KEY_LIST ? G_OPTION_ARG_STRING_ARRAY : G_OPTION_ARG_STRING;
		entries[i].arg_data = k->type == KEY_LIST ? (gpointer)&flag_lists[i]
		                                          : (gpointer)&flag_values[i];
		entries[i].description = k->help;
		entries[i].arg_description = k->arg;
	}
	entries[nkeys] = (GOptionEntry){ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
	                                 "configuration file (default " SYSCONFDIR "/p2pd/p2pd.conf)",
	                                 "FILE" };
	entries[nkeys + 1] = (GOptionEntry){ "check-config", 0, 0, G_OPTION_ARG_NONE, check_only,
	                                     "validate the configuration and exit", NULL };
	entries[nkeys + 2] = (GOptionEntry){ "version", 'V', 0, G_OPTION_ARG_NONE, version_only,
	                                     "print the version and exit", NULL };

	ctx = g_option_context_new("- peer-to-peer file transfer daemon");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, error))
		goto out;
	if (*version_only) {
		ok = TRUE;
		goto out;
	}
	if (*argc > 1) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
		            "unexpected argument \"%s\"", (*argv)[1]);
		goto out;
	}

	/* defaults, then the file, then the flags */
	for (gsize i = 0; i < nkeys; i++) {
		if (config_keys[i].def &&
		    !set_value(cfg, &config_keys[i], "default", config_keys[i].def, NULL, error))
			goto out;
	}
	if (config_path == NULL && g_file_test(SYSCONFDIR "/p2pd/p2pd.conf", G_FILE_TEST_EXISTS))
		config_path = g_strdup(SYSCONFDIR "/p2pd/p2pd.conf");
	if (config_path) {
		if (!g_key_file_load_from_file(kf, config_path, G_KEY_FILE_NONE, &local)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s",
			            config_path, local->message);
			goto out;
		}
		g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
		for (char **g = groups; *g; g++) {
			if (strcmp(*g, P2P_CONFIG_GROUP) != 0) {
				g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
				            "%s: unknown group [%s] (expected [" P2P_CONFIG_GROUP "])",
				            config_path, *g);
				goto out;
			}
		}
		g_auto(GStrv) keys = g_key_file_get_keys(kf, P2P_CONFIG_GROUP, NULL, NULL);
		for (char **key = keys; key && *key; key++) {
			const ConfigKey *k = NULL;
			for (gsize i = 0; i < nkeys; i++)
				if (strcmp(config_keys[i].name, *key) == 0)
					k = &config_keys[i];
			if (k == NULL) {
				g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
				            "%s: unknown key \"%s\" in [" P2P_CONFIG_GROUP "]", config_path,
				            *key);
				goto out;
			}
			g_autofree char *v = g_key_file_get_string(kf, P2P_CONFIG_GROUP, *key, NULL);
			if (!set_value(cfg, k, config_path, v ? v : "", NULL, error))
				goto out;
		}
	}
	for (gsize i = 0; i < nkeys; i++) {
		if (flag_values[i] &&
		    !set_value(cfg, &config_keys[i], "command line", flag_values[i], NULL, error))
			goto out;
		if (flag_lists[i] &&
		    !set_value(cfg, &config_keys[i], "command line", NULL, flag_lists[i], error))
			goto out;
	}
	cfg->config_path = g_strdup(config_path);
	if (!validate(cfg, config_path ? config_path : "configuration", error))
		goto out;
	ok = TRUE;
out:
	for (gsize i = 0; i < nkeys; i++) {
		g_free(flag_values[i]);
		g_strfreev(flag_lists[i]);
	}
	return ok ? g_steal_pointer(&cfg) : NULL;
}

void
p2p_config_free(P2pConfig *cfg)
{
	if (cfg == NULL)
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		guint8 *p = (guint8 *)cfg + config_keys[i].offset;
		if (config_keys[i].type == KEY_STRING)
			g_free(*(char **)p);
		else if (config_keys[i].type == KEY_LIST)
			g_strfreev(*(char ***)p);
	}
	g_free(cfg->config_path);
	if (cfg->api_key)
		memset(cfg->api_key, 0, strlen(cfg->api_key));
	g_free(cfg->api_key);
	g_free(cfg->signal_host);
	g_free(cfg->stun_host);
	g_free(cfg->turn_host);
	g_free(cfg);
}

static gboolean
key_equal(const ConfigKey *k, const P2pConfig *a, const P2pConfig *b)
{
	const guint8 *pa = (const guint8 *)a + k->offset;
	const guint8 *pb = (const guint8 *)b + k->offset;

	switch (k->type) {
	case KEY_STRING:
		return g_strcmp0(*(char *const *)pa, *(char *const *)pb) == 0;
	case KEY_BOOL:
		return *(const gboolean *)pa == *(const gboolean *)pb;
	case KEY_SIZE:
	case KEY_UINT:
		return *(const guint64 *)pa == *(const guint64 *)pb;
	case KEY_LIST: {
		char *const *la = *(char **const *)pa;
		char *const *lb = *(char **const *)pb;
		if (la == NULL || lb == NULL)
			return la == lb;
		return g_strv_equal((const char *const *)la, (const char *const *)lb);
	}
	}
	return FALSE;
}

/* Moves key k's value from src to dst (src keeps dst's old value, freed with it). */
static void
key_swap(const ConfigKey *k, P2pConfig *dst, P2pConfig *src)
{
	guint8 *pd = (guint8 *)dst + k->offset;
	guint8 *ps = (guint8 *)src + k->offset;
	gsize size = k->type == KEY_STRING   ? sizeof(char *)
	             : k->type == KEY_LIST   ? sizeof(char **)
	             : k->type == KEY_BOOL   ? sizeof(gboolean)
	                                     : sizeof(guint64);
	guint8 tmp[sizeof(guint64)];

	memcpy(tmp, pd, size);
	memcpy(pd, ps, size);
	memcpy(ps, tmp, size);
}

gboolean
p2p_config_reload(P2pConfig *cfg, char **argv, GPtrArray *changed, GPtrArray *restart,
                  GError **error)
{
	gboolean check_only, version_only;
	/* a shallow copy: option parsing reorders and drops pointers of the vector it is
	 * given, never the strings, which stay the caller's */
	int argc = (int)g_strv_length(argv);
	g_autofree char **args = g_new0(char *, argc + 1);
	char **argp = args;
	memcpy(args, argv, argc * sizeof(char *));

	g_autoptr(P2pConfig) next = p2p_config_load(&argc, &argp, &check_only, &version_only, error);
	if (next == NULL)
		return FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		const ConfigKey *k = &config_keys[i];
		if (key_equal(k, cfg, next))
			continue;
		if (!k->runtime) {
			g_ptr_array_add(restart, (gpointer)k->name);
			continue;
		}
		key_swap(k, cfg, next);
		g_ptr_array_add(changed, (gpointer)k->name);
	}
	/* what validate() derived from the keys just swapped */
	cfg->allow_any = next->allow_any;
	cfg->unknown_ask = next->unknown_ask;
	g_free(cfg->stun_host);
	cfg->stun_host = g_steal_pointer(&next->stun_host);
	cfg->stun_port = next->stun_port;
	return TRUE;
}

/* p2pd-config.h: the daemon's configuration: one table of keys, read from a GKeyFile
 * group [p2pd] and overridable by a long flag of the same name. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define P2P_CONFIG_GROUP "p2pd"
#define P2P_AGENT_ID_MAX 64

typedef struct {
	char *config_path;    /* the file read, or NULL */

	char *agent;
	char *signal_server;  /* host:port */
	char *api_key_file;
	char *signal_ca;      /* NULL: the system's CAs */
	char *state_dir;
	char *control_socket;
	char *save_dir;
	char **allow;         /* "*", "id" or "id=fingerprint" */
	gboolean auto_accept;
	char *unknown;        /* "refuse" or "ask" */
	guint64 max_file_size; /* 0 = no limit */
	guint64 max_transfer_size; /* 0 = no limit */
	guint64 max_files;
	guint64 min_free_space;
	gboolean peer_subfolders;
	guint64 offer_timeout; /* seconds */
	guint64 rate_limit;   /* bytes per second, 0 = none */
	char *stun_server;    /* host:port or NULL */
	char *turn_server;    /* addr:port or NULL: a TURN server of our own */
	char *turn_user;
	char *turn_password;
	char **turn_transport; /* "udp" and/or "tcp": how TURN servers are reached */
	gboolean ice_tcp;
	gboolean ice_udp;
	char *udp_transport;  /* "datagram" (p2pd-transport-dgram.c) or "pseudotcp" */
	char **ice_address;  /* local addresses for host candidates; NULL = all */
	char *log_level;

	/* derived by p2p_config_load */
	char *api_key;        /* the secret read from api_key_file */
	char *signal_host;
	guint16 signal_port;
	char *stun_host;
	guint16 stun_port;
	char *turn_host;
	guint16 turn_port;
	gboolean turn_udp;
	gboolean turn_tcp;
	gboolean allow_any;   /* allow contains "*" */
	gboolean unknown_ask; /* unknown = ask */
} P2pConfig;

/* Parses argv (flags override the file named by --config, or the default file when it
 * exists), validates every key and reads the API key. On a usage or config error the
 * message names the file, the key and the offending value. *check_only is set when
 * --check-config was given, *version_only for --version. */
P2pConfig *p2p_config_load(int *argc, char ***argv, gboolean *check_only, gboolean *version_only,
                           GError **error);
void p2p_config_free(P2pConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pConfig, p2p_config_free)

/* Reads the configuration again as p2p_config_load() did from argv (the flags given at
 * start still win over the file) and, if all of it is valid, moves into cfg the keys
 * that can change while the daemon runs: their names are added to changed. Keys whose
 * new value needs a restart are added to restart and keep their old value. On an
 * error cfg is untouched. The names are static strings. */
gboolean p2p_config_reload(P2pConfig *cfg, char **argv, GPtrArray *changed, GPtrArray *restart,
                           GError **error);

/* Helpers shared with tests. */
gboolean p2p_parse_size(const char *text, guint64 *out, GError **error);
gboolean p2p_parse_host_port(const char *text, char **host, guint16 *port, GError **error);
gboolean p2p_agent_id_valid(const char *id);
/* The pinned fingerprint the allowlist gives for peer, or NULL. */
const char *p2p_config_allow_pin(const P2pConfig *cfg, const char *peer);
/* Whether offers from peer are accepted under the allowlist. */
gboolean p2p_config_allows(const P2pConfig *cfg, const char *peer);

G_END_DECLS

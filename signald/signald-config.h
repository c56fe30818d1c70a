/* signald-config.h: p2p-signald settings. Every key of the [signald] group of the
 * config file is also a command-line flag of the same name; flags override the file. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SIGNALD_CONFIG_GROUP        "signald"
#define SIGNALD_DEFAULT_LISTEN      "127.0.0.1:7443"
#define SIGNALD_DEFAULT_CERT        SYSCONFDIR "/p2p-signald/signald.crt"
#define SIGNALD_DEFAULT_KEY         SYSCONFDIR "/p2p-signald/signald.key"
#define SIGNALD_DEFAULT_KEYS        SYSCONFDIR "/p2p-signald/keys.conf"
#define SIGNALD_MAX_OUTPUT          (1024 * 1024) /* bytes queued for a client that does not read */
#define SIGNALD_LINGER_SECONDS      2             /* reading and discarding before the final close */

typedef struct {
	char *listen;
	char *certificate;
	char *private_key;
	char *keys;
	char *port_file;
	guint max_line;
	guint max_depth;
	guint rate;
	guint max_sessions_per_key;
	guint max_connections;
	guint register_timeout;
	char *stun_server;      /* HOST:PORT handed to the daemons, or NULL */
	char *turn_server;      /* HOST:PORT of coturn, or NULL */
	char *turn_secret_file; /* coturn's static-auth-secret */
	guint turn_ttl;         /* seconds a TURN credential lasts */

	/* derived from listen */
	char *host;
	guint16 port;
	/* read from turn_secret_file */
	char *turn_secret;
} SignaldConfig;

/* One row per setting: the config key, its flag (--key) and its limits. */
typedef enum {
	SIGNALD_OPT_STRING,
	SIGNALD_OPT_UINT,
} SignaldOptType;

typedef struct {
	const char *key;
	SignaldOptType type;
	gsize offset;
	guint min, max;   /* SIGNALD_OPT_UINT only */
	const char *arg;  /* placeholder in --help */
	const char *help;
	gboolean (*check)(const char *value, GError **error); /* STRING: extra check, or NULL */
} SignaldOption;

extern const SignaldOption signald_options[];

SignaldConfig *signald_config_new(void);
void signald_config_free(SignaldConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignaldConfig, signald_config_free)

/* Sets one key from its text form. origin names where the value came from
 * ("FILE: [signald] KEY" or "--KEY") and starts every error message. */
gboolean signald_config_set(SignaldConfig *cfg, const char *key, const char *value,
                            const char *origin, GError **error);
gboolean signald_config_load_file(SignaldConfig *cfg, const char *path, GError **error);
gboolean signald_config_load_data(SignaldConfig *cfg, const char *data, gsize len,
                                  const char *origin, GError **error);
/* Checks what single keys cannot (listen parses) and fills the derived fields. */
gboolean signald_config_finish(SignaldConfig *cfg, GError **error);

/* A STUN/TURN server address as the daemons take it: an IP address and a port
 * (libnice takes no host names), "ADDR:PORT" or "[V6]:PORT". */
gboolean signald_check_ice_server(const char *value, GError **error);

/* "host:port" or "[v6]:port", port 0..65535. */
gboolean signald_parse_listen(const char *text, char **host, guint16 *port, GError **error);

G_END_DECLS

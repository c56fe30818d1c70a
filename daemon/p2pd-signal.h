/* p2pd-signal.h: the daemon's persistent session with p2p-signald: TLS, JSON-RPC,
 * registration, reconnection with exponential backoff and jitter. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _P2pSignal P2pSignal;

typedef enum {
	P2P_SIGNAL_OFFLINE,
	P2P_SIGNAL_CONNECTING,
	P2P_SIGNAL_REGISTERED,
} P2pSignalState;

typedef struct {
	/* registered (again): the full list of visible online peers, [{id, fingerprint}] */
	void (*registered)(P2pSignal *s, JsonArray *peers, gpointer user);
	void (*presence)(P2pSignal *s, const char *id, const char *fingerprint, gboolean online,
	                 gpointer user);
	/* a relayed ICE message: params decoded by the caller */
	void (*signal)(P2pSignal *s, JsonObject *params, gpointer user);
	/* the link went down (error says why); all peers are to be considered unknown */
	void (*lost)(P2pSignal *s, const GError *error, gpointer user);
} P2pSignalCallbacks;

typedef struct {
	const char *host;
	guint16 port;
	const char *ca_file;   /* NULL: system CAs */
	const char *api_key;
	const char *agent;
	const char *fingerprint;
} P2pSignalConfig;

P2pSignal *p2p_signal_new(const P2pSignalConfig *cfg, const P2pSignalCallbacks *cb,
                          gpointer user, GError **error);
void p2p_signal_start(P2pSignal *s);
void p2p_signal_free(P2pSignal *s);

P2pSignalState p2p_signal_get_state(P2pSignal *s);
const char *p2p_signal_state_name(P2pSignalState st);
/* The last error seen on the link, or NULL. */
const char *p2p_signal_last_error(P2pSignal *s);

/* The STUN/TURN servers the signaling server handed out last ({stun, turn, ttl}, see
 * docs/PROTOCOL.md), borrowed, or NULL; renewed before their credentials expire. */
JsonObject *p2p_signal_get_ice_servers(P2pSignal *s);

/* Result of a request: NULL error and the result node, or an error. */
typedef void (*P2pSignalReply)(P2pSignal *s, JsonNode *result, const GError *error,
                               gpointer user);
/* Sends a request when registered; FALSE + error when the link is not up. params is
 * consumed. */
gboolean p2p_signal_request(P2pSignal *s, const char *method, JsonObject *params,
                            P2pSignalReply reply, gpointer user, GError **error);

G_END_DECLS

/* p2pd-daemon.h: the daemon object that ties the subsystems together: configuration,
 * identity, state, the signaling link, peers and their sessions, transfers and the
 * control socket. Everything runs on one GLib main loop. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "p2pd-config.h"
#include "p2pd-identity.h"
#include "p2pd-signal.h"
#include "p2pd-state.h"

G_BEGIN_DECLS

typedef struct _P2pDaemon P2pDaemon;
typedef struct _P2pSession P2pSession;
typedef struct _P2pTransfer P2pTransfer;
typedef struct _P2pControl P2pControl;
typedef struct _P2pService P2pService;
typedef struct _P2pWriter P2pWriter;
typedef struct _P2pCalls P2pCalls;

/* A peer the signaling server showed us, by the id it showed. */
typedef struct {
	char *id;
	char *fingerprint;    /* as announced by the signaling server */
	gboolean online;
	P2pSession *session;  /* NULL when none */
	P2pDaemon *daemon;
	guint retry;          /* reconnect timer for transfers waiting for this peer */
	guint backoff;        /* seconds before the next reconnect */
	guint sessions;       /* sessions that became ready in this run (a new path each) */
} P2pPeer;

struct _P2pDaemon {
	P2pConfig *cfg;
	P2pIdentity *identity;
	P2pState *state;
	P2pSignal *signal;
	P2pControl *control;
	P2pService *service;    /* systemd notifications and SIGHUP; NULL until serving */
	GHashTable *peers;      /* id -> P2pPeer */
	GHashTable *transfers;  /* local id -> P2pTransfer */
	P2pTransfer *last_found; /* p2p_transfer_find's cache (transfers live as long as d) */
	GHashTable *chat;       /* peer id -> chat rates and typing (p2pd-chat.c) */
	P2pCalls *calls;        /* calls and their page server (p2pd-call.c); NULL before the
	                         * first */
	GList *closed_sessions; /* closed, waiting to be freed */
	P2pWriter *writer;      /* creates received small files off the main loop */
	GMainLoop *loop;
	gint64 started;         /* monotonic, microseconds */
	gboolean stopping;      /* being freed: sessions closing now must not reconnect */
};

P2pDaemon *p2p_daemon_new(P2pConfig *cfg /* owned */, GError **error);
/* Binds the control socket and starts the signaling session. */
gboolean p2p_daemon_start(P2pDaemon *d, GError **error);
void p2p_daemon_free(P2pDaemon *d);

/* Resolves what a user typed: the exact id always; a bare alias ("bob") when exactly
 * one visible peer is "<key>.bob"; otherwise an error that lists the candidates
 * (also returned in *candidates when ambiguous). */
P2pPeer *p2p_daemon_resolve_peer(P2pDaemon *d, const char *name, GPtrArray **candidates,
                                 GError **error);
P2pPeer *p2p_daemon_lookup_peer(P2pDaemon *d, const char *id);
/* Pure alias resolution over a list of ids, for unit tests. Returns the match or NULL
 * with *candidates set (caller frees) when ambiguous. */
const char *p2p_resolve_alias(const char *const *ids, const char *name, GPtrArray **candidates);

/* A token bucket for what a peer or a page may send: a burst of burst, then rate a
 * second (CHAT, CALL frames, call page messages). */
typedef struct {
	double tokens;
	gint64 last;  /* monotonic */
} P2pRateLimit;

void p2p_rate_limit_init(P2pRateLimit *r, guint burst);
/* Takes one token if there is one: FALSE means over the limit. */
gboolean p2p_rate_limit_take(P2pRateLimit *r, guint burst, guint rate);

/* Whether id is exactly len hex digits (the message and call ids peers send). */
gboolean p2p_hex_id_valid(const char *id, gsize len);

/* The values of a hash table, as a new array (GLib 2.74 has no such call). */
GPtrArray *p2p_hash_values(GHashTable *h);

/* Sends an event to every subscribed control client. params is consumed. */
void p2p_daemon_emit(P2pDaemon *d, const char *event, JsonNode *params);

/* Fingerprint pinned for peer: from the allowlist, else from the state db; NULL if
 * none yet (caller frees). */
char *p2p_daemon_pinned_fingerprint(P2pDaemon *d, const char *peer);

G_END_DECLS

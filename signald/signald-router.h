/* signald-router.h: who sees whom, presence, and relaying signals. No sockets here:
 * the router hands finished lines to a deliver function, so the rules can be tested
 * without a network.
 *
 * Visibility: sessions under the same key see each other by bare agent id ("bob");
 * sessions under two keys that name each other as partners see each other as
 * "KEY.AGENT" ("beta.carol"); nobody else is visible. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "signald-keys.h"

G_BEGIN_DECLS

#define SIGNALD_FINGERPRINT_LEN 64  /* lowercase hex SHA-256 */
#define SIGNALD_SESSION_MAX     64  /* signal "session" */
#define SIGNALD_ICE_FIELD_MAX   256 /* ufrag, pwd */
#define SIGNALD_CANDIDATE_MAX   512 /* bytes per candidate */
#define SIGNALD_CANDIDATES_MAX  64  /* candidates per signal */

/* One registered session as the router knows it. Owned by the caller (the session). */
typedef struct {
	const SignaldKey *key;
	char *agent;
	char *fingerprint;
	gpointer owner;
} SignaldPeer;

/* A decoded `signal` request: only these fields are ever relayed. */
typedef struct {
	const char *to;
	const char *kind;
	const char *session;
	const char *ufrag;
	const char *pwd;
	const char *transport; /* offer/answer: which transport the ICE session carries */
	JsonArray *candidates; /* strings */
} SignaldSignal;

typedef void (*SignaldDeliverFunc)(gpointer owner, const char *line, gpointer user_data);

typedef struct _SignaldRouter SignaldRouter;

SignaldRouter *signald_router_new(SignaldDeliverFunc deliver, gpointer user_data);
void signald_router_free(SignaldRouter *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignaldRouter, signald_router_free)

/* Stops presence notifications (used while the server shuts down). */
void signald_router_set_quiet(SignaldRouter *r, gboolean quiet);

/* The id under which a viewer sees target's agent, or NULL when it may not see it. */
char *signald_visible_id(const SignaldKey *viewer, const SignaldKey *target, const char *agent);

gboolean signald_fingerprint_valid(const char *fp, GError **error);
gboolean signald_signal_kind_valid(const char *kind);

guint signald_router_count(SignaldRouter *r, const SignaldKey *key);
SignaldPeer *signald_router_lookup(SignaldRouter *r, const SignaldKey *key, const char *agent);

/* Makes peer routable and tells every visible peer it is online. Returns the peer it
 * replaced (same key and agent), now unroutable and owned by its caller still, or NULL.
 * A replacement sends no "offline" in between: the id stays online. */
SignaldPeer *signald_router_add(SignaldRouter *r, SignaldPeer *peer);
/* Takes peer off the router and tells its visible peers it went offline; no-op for a
 * peer that is not routed (never added, or replaced). */
void signald_router_remove(SignaldRouter *r, SignaldPeer *peer);

/* [{id, fingerprint}] of the peers viewer sees, ids as viewer sees them, sorted. */
JsonNode *signald_router_peers(SignaldRouter *r, const SignaldPeer *viewer);
/* The peer viewer calls id, or NULL when there is no such visible online peer. */
SignaldPeer *signald_router_resolve(SignaldRouter *r, const SignaldPeer *viewer, const char *id);

/* Relays sig from sender to the peer it names, rebuilt from the decoded fields with
 * "from" and "fingerprint" set by the router. P2P_RPC_UNKNOWN_PEER when not visible. */
gboolean signald_router_signal(SignaldRouter *r, const SignaldPeer *sender,
                               const SignaldSignal *sig, GError **error);

G_END_DECLS

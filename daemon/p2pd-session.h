/* p2pd-session.h: one ICE session per peer pair (libnice, trickle, ICE-TCP and UDP),
 * negotiated through the signaling server, with the TLS channel on top once a
 * candidate pair is selected, and the peer's key checked against the announced and
 * pinned fingerprints. */
#pragma once

#include "p2pd-channel.h"
#include "p2pd-daemon.h"

G_BEGIN_DECLS

typedef enum {
	P2P_SESSION_CONNECTING, /* ICE checks running */
	P2P_SESSION_SECURING,   /* TLS handshake, then HELLO */
	P2P_SESSION_READY,      /* frames may flow */
	P2P_SESSION_CLOSED,
} P2pSessionState;

#define P2P_SESSION_CONNECT_TIMEOUT_S 30
/* STUN or TURN servers taken from what p2p-signald hands out, at most */
#define P2P_SESSION_MAX_ICE_SERVERS 4

/* Calls fn for each STUN (turn FALSE) and TURN server the sessions use, in order: the
 * configured STUN server, else the first one p2p-signald handed out; the configured
 * TURN server, then those handed out (credentials as given). Entries from the server
 * that do not decode, or are not ADDR:PORT with an IP address, are skipped with a
 * warning. The call page gives its RTCPeerConnection the same list. */
typedef void (*P2pIceServerFunc)(gboolean turn, const char *host, guint16 port,
                                 const char *username, const char *password, gpointer user);
void p2p_session_foreach_ice_server(P2pDaemon *d, P2pIceServerFunc fn, gpointer user);

/* Starts a session to peer as the controlling, TLS-client side. */
P2pSession *p2p_session_connect(P2pDaemon *d, P2pPeer *peer, GError **error);
/* A relayed signaling message (params of the "signal" notification). */
void p2p_session_handle_signal(P2pDaemon *d, JsonObject *params);
/* Tears the session down; code/message go to the peer in an ERROR frame when the
 * channel is up (code NULL: a quiet close). */
void p2p_session_close(P2pSession *s, const char *code, const char *message);

/* Frees the closed sessions still waiting for their channel to flush (at exit). */
void p2p_session_reap_all(P2pDaemon *d);

P2pSessionState p2p_session_get_state(P2pSession *s);
const char *p2p_session_state_name(P2pSession *s);
P2pChannel *p2p_session_get_channel(P2pSession *s);
const char *p2p_session_peer_id(P2pSession *s);
/* "tcp host 127.0.0.1:5000 <-> host 127.0.0.1:6000", or NULL before selection. */
const char *p2p_session_path(P2pSession *s);
/* "direct-udp", "direct-tcp", "relayed-udp", "relayed-tcp" (the journal's PATH_TYPE),
 * or NULL before selection. */
const char *p2p_session_path_type(P2pSession *s);
/* The live path of a ready session, as the control protocol shows it (docs/PROTOCOL.md,
 * "link"): candidates, round trip, rates over the last seconds; NULL when not ready. */
JsonObject *p2p_session_link_json(P2pSession *s);
/* Whether the peer's HELLO listed cap (P2P_CALL_CAP ...); FALSE before it came. */
gboolean p2p_session_peer_has_cap(P2pSession *s, const char *cap);

G_END_DECLS

/* p2pd-call.h: video calls between the agents' browsers. p2pd serves a call page on
 * loopback only (libsoup, started with the first call), behind a one-time token per
 * link; the page runs the WebRTC call and talks to p2pd over a WebSocket, and p2pd
 * carries its SDP and ICE candidates to the peer's p2pd in CALL frames inside the TLS
 * channel, never through the signaling server. The page reports its connection state,
 * path and decoded frames back, which call.list shows. */
#pragma once

#include "p2pd-daemon.h"

G_BEGIN_DECLS

#define P2P_CALL_MAX_LIVE        4    /* calls not ended at once; one more rings "busy" */
#define P2P_CALL_KEEP_ENDED      16   /* ended calls call.list still shows */
#define P2P_CALL_RING_TIMEOUT_S  60   /* unanswered: ends as no-answer */
#define P2P_CALL_TOKEN_BYTES     32   /* random bytes behind a page link (hex in the URL) */
#define P2P_CALL_WS_MAX_MESSAGE  (P2P_CALL_MAX_SDP + 4096) /* bytes per page message */
#define P2P_CALL_WS_BURST        200  /* page messages at once ... */
#define P2P_CALL_WS_RATE         50   /* ... then per second; beyond: the page is closed */
#define P2P_CALL_IN_BURST        200  /* CALL frames a peer may send at once, then ... */
#define P2P_CALL_IN_RATE         50   /* ... per second; beyond: dropped */

/* Control entry points; each returns the Call object (plus "url" for start/answer). */
JsonNode *p2p_call_start(P2pDaemon *d, P2pPeer *peer, GError **error);
/* id NULL: the one call ringing here. Gives a fresh page link (the old one is spent). */
JsonNode *p2p_call_answer(P2pDaemon *d, const char *id, GError **error);
/* id NULL: the one call not ended. */
JsonNode *p2p_call_hangup(P2pDaemon *d, const char *id, GError **error);
JsonNode *p2p_call_list(P2pDaemon *d);

/* Session events. */
void p2p_call_session_ready(P2pDaemon *d, P2pSession *s);
/* Ends the calls that rode on s, and those waiting for a session to that peer unless
 * another session took over. */
void p2p_call_session_closed(P2pDaemon *d, P2pSession *s, gboolean taken_over);
void p2p_call_frame(P2pDaemon *d, P2pSession *s, JsonObject *o);

/* The page server's port, 0 while it is not listening (tests). */
guint p2p_call_port(P2pDaemon *d);
void p2p_call_free(P2pDaemon *d);

G_END_DECLS

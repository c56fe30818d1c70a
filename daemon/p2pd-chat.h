/* p2pd-chat.h: chat messages between agents over the peer session: kept in state.db
 * both ways, sent in order and acknowledged by the peer's daemon, outgoing ones queued
 * while the peer is away and delivered exactly once when it is back (the receiver keeps
 * every (peer, id) it stored, so a message sent again is acknowledged, not shown twice). */
#pragma once

#include "p2pd-daemon.h"

G_BEGIN_DECLS

#define P2P_CHAT_RATE          20   /* messages a second to one peer (chat.send) */
#define P2P_CHAT_IN_BURST      100  /* messages a session may send at once ... */
#define P2P_CHAT_IN_RATE       50   /* ... and then per second */
#define P2P_CHAT_TYPING_EVERY  2    /* seconds between two TYPING frames to one peer */

/* Control entry points. */
JsonNode *p2p_chat_send(P2pDaemon *d, P2pPeer *peer, const char *text, GError **error);
void p2p_chat_typing(P2pDaemon *d, P2pPeer *peer);
JsonNode *p2p_chat_history(P2pDaemon *d, const char *peer, guint limit, GError **error);

/* Session events. */
gboolean p2p_chat_has_queued(P2pDaemon *d, const char *peer);
void p2p_chat_session_ready(P2pDaemon *d, P2pSession *s);
/* CHAT, CHAT_ACK and TYPING frames. */
void p2p_chat_frame(P2pDaemon *d, P2pSession *s, guint8 type, JsonObject *o);
void p2p_chat_free(P2pDaemon *d);

G_END_DECLS

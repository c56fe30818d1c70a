/* p2pd-control.h: the control socket: a UNIX stream socket speaking newline-delimited
 * JSON-RPC 2.0 to p2pctl, with caller credentials from SO_PEERCRED, a per-uid
 * connection cap, one table of methods, and events for subscribers. */
#pragma once

#include "p2pd-daemon.h"

G_BEGIN_DECLS

#define P2P_CONTROL_MAX_OUTPUT (8 * 1024 * 1024) /* a subscriber that stops reading is dropped */

P2pControl *p2p_control_new(P2pDaemon *d, const char *path, GError **error);
void p2p_control_free(P2pControl *c);
void p2p_control_broadcast(P2pControl *c, const char *event, JsonNode *params);

G_END_DECLS

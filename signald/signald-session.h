/* signald-session.h: one client connection: TLS, line framing, limits, and the
 * JSON-RPC methods of the signaling protocol. */
#pragma once

#include <sys/socket.h>
#include <event2/util.h>

#include "signald-server.h"

G_BEGIN_DECLS

/* Takes fd; starts the TLS handshake and the register timer. NULL on failure (fd closed). */
SignaldSession *signald_session_new(SignaldServer *srv, evutil_socket_t fd,
                                    const struct sockaddr *sa, int salen);
void signald_session_free(SignaldSession *s);

/* SignaldDeliverFunc for the router: queues line on the session owning the peer. */
void signald_session_deliver(gpointer owner, const char *line, gpointer user_data);

/* "ADDR:PORT" or "[ADDR]:PORT" */
char *signald_format_address(const struct sockaddr *sa, int salen);

G_END_DECLS

/* signald-server.h: the listener, the TLS context and the set of sessions, on one
 * libevent loop. */
#pragma once

#include <glib.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "signald-config.h"
#include "signald-keys.h"
#include "signald-router.h"

G_BEGIN_DECLS

typedef struct _SignaldSession SignaldSession;

typedef struct {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct evconnlistener *listener;
	struct event *sigterm;
	struct event *sigint;
	struct event *accept_retry; /* re-enables accepting after an accept error */
	const SignaldConfig *cfg;   /* borrowed */
	SignaldKeys *keys;          /* borrowed */
	SignaldRouter *router;
	GHashTable *sessions;       /* SignaldSession * set */
	guint16 bound_port;
	gboolean stopping;
} SignaldServer;

/* One line on stderr per event; under systemd, journald adds the time. */
void signald_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Binds and listens (cfg->host, cfg->port), writes cfg->port_file if set. */
SignaldServer *signald_server_new(const SignaldConfig *cfg, SignaldKeys *keys, SSL_CTX *ssl_ctx,
                                  GError **error);
/* Serves until SIGTERM or SIGINT. */
gboolean signald_server_run(SignaldServer *srv, GError **error);
void signald_server_free(SignaldServer *srv);

G_END_DECLS

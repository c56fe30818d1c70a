/* signald-server.c: see signald-server.h. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "signald-session.h"

void
signald_log(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* one write per line, so that lines of concurrent writers do not interleave */
	g_autofree char *line = g_strdup_printf("p2p-signald: %s\n", msg);
	fputs(line, stderr);
	fflush(stderr);
}

static void
accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa, int salen,
          void *arg)
{
	SignaldServer *srv = arg;

	if (g_hash_table_size(srv->sessions) >= srv->cfg->max_connections) {
		g_autofree char *addr = signald_format_address(sa, salen);
		signald_log("limit %s: max-connections (%u) reached, refusing the connection",
		            addr, srv->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	signald_session_new(srv, fd, sa, salen);
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	SignaldServer *srv = arg;
	evconnlistener_enable(srv->listener);
}

/* Out of descriptors, typically: pause accepting for a second instead of spinning. */
static void
accept_error_cb(struct evconnlistener *listener, void *arg)
{
	SignaldServer *srv = arg;
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	signald_log("accept failed: %s; pausing for a second",
	            evutil_socket_error_to_string(err));
	evconnlistener_disable(listener);
	evtimer_add(srv->accept_retry, &tv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	SignaldServer *srv = arg;

	signald_log("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(srv->base);
}

static gboolean
write_port_file(const char *path, guint16 port, GError **error)
{
	g_autofree char *text = g_strdup_printf("%u\n", port);
	g_autoptr(GError) local = NULL;

	if (!g_file_set_contents(path, text, -1, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "port file %s: %s", path,
		            local->message);
		return FALSE;
	}
	return TRUE;
}

SignaldServer *
signald_server_new(const SignaldConfig *cfg, SignaldKeys *keys, SSL_CTX *ssl_ctx, GError **error)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char port[8];
	SignaldServer *srv = g_new0(SignaldServer, 1);
	int rc;

	srv->cfg = cfg;
	srv->keys = keys;
	srv->ssl_ctx = ssl_ctx;
	srv->sessions = g_hash_table_new(NULL, NULL);
	srv->router = signald_router_new(signald_session_deliver, srv);
	srv->base = event_base_new();
	if (srv->base == NULL) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "cannot create an event base");
		goto cleanup;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	g_snprintf(port, sizeof(port), "%u", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &res);
	if (rc != 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "listen %s: %s", cfg->listen,
		            gai_strerror(rc));
		goto cleanup;
	}
	srv->listener = evconnlistener_new_bind(srv->base, accept_cb, srv,
	                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	                                        LEV_OPT_CLOSE_ON_EXEC, -1,
	                                        res->ai_addr, (int)res->ai_addrlen);
	if (srv->listener == NULL) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "listen %s: %s", cfg->listen,
		            g_strerror(errno));
		goto cleanup;
	}
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	if (getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &sslen) != 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "listen %s: getsockname: %s",
		            cfg->listen, g_strerror(errno));
		goto cleanup;
	}
	srv->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                                 : ((struct sockaddr_in *)&ss)->sin_port);
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	srv->sigterm = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->sigint = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	if (srv->sigterm == NULL || srv->sigint == NULL || srv->accept_retry == NULL ||
	    evsignal_add(srv->sigterm, NULL) != 0 || evsignal_add(srv->sigint, NULL) != 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "cannot set up events");
		goto cleanup;
	}
	{
		g_autofree char *addr = NULL;
		addr = ss.ss_family == AF_INET6 ? g_strdup_printf("[%s]:%u", cfg->host, srv->bound_port)
		                                : g_strdup_printf("%s:%u", cfg->host, srv->bound_port);
		signald_log("listening on %s (%u keys)", addr, signald_keys_count(keys));
	}
	if (cfg->port_file && !write_port_file(cfg->port_file, srv->bound_port, error))
		goto cleanup;
	freeaddrinfo(res);
	return srv;
cleanup:
	if (res)
		freeaddrinfo(res);
	signald_server_free(srv);
	return NULL;
}

gboolean
signald_server_run(SignaldServer *srv, GError **error)
{
	if (event_base_dispatch(srv->base) < 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "the event loop failed");
		return FALSE;
	}
	return TRUE;
}

void
signald_server_free(SignaldServer *srv)
{
	GHashTableIter it;
	gpointer s;

	if (srv == NULL)
		return;
	/* everybody goes at once: nobody needs to hear that the others went offline */
	srv->stopping = TRUE;
	signald_router_set_quiet(srv->router, TRUE);
	while (g_hash_table_size(srv->sessions) > 0) {
		g_hash_table_iter_init(&it, srv->sessions);
		if (!g_hash_table_iter_next(&it, &s, NULL))
			break;
		signald_session_free(s);
	}
	g_clear_pointer(&srv->listener, evconnlistener_free);
	g_clear_pointer(&srv->sigterm, event_free);
	g_clear_pointer(&srv->sigint, event_free);
	g_clear_pointer(&srv->accept_retry, event_free);
	g_clear_pointer(&srv->base, event_base_free);
	g_clear_pointer(&srv->router, signald_router_free);
	g_clear_pointer(&srv->sessions, g_hash_table_unref);
	g_free(srv);
}

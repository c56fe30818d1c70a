/* signald-session.c: see signald-session.h.
 *
 * Life of a session: TLS handshake -> unregistered (only "register" works, a timer
 * runs) -> registered (routable) -> closing (the last reply is being flushed, input
 * is discarded) -> lingering (our side is shut down; we read and discard until the
 * client closes, so that unread input does not turn our FIN into an RST that would
 * destroy the error message before the client reads it) -> freed. */
#include "config.h"

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "p2p-jsonrpc.h"
#include "signald-cert.h"
#include "signald-session.h"
#include "signald-turn.h"

#define CLOSE_FLUSH_SECONDS 10 /* longest wait for a closing client to read our last words */

struct _SignaldSession {
	SignaldServer *srv;
	struct bufferevent *bev;
	char *addr;
	SignaldPeer peer;      /* peer.key != NULL once registered */
	gboolean tls_up;
	gboolean closing;
	gboolean lingering;
	gboolean dead;         /* free at the next turn of the loop */
	double tokens;         /* rate limit: token bucket */
	gint64 refilled_us;
	struct event *timer;   /* register timeout, then flush and linger timeouts */
	struct event *deferred;
};

/* ---- output and closing --------------------------------------------------------- */

char *
signald_format_address(const struct sockaddr *sa, int salen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return g_strdup("?");
	if (sa->sa_family == AF_INET6)
		return g_strdup_printf("[%s]:%s", host, serv);
	return g_strdup_printf("%s:%s", host, serv);
}

static const char *
session_name(SignaldSession *s)
{
	return s->peer.key ? s->peer.agent : "-";
}

/* Frees s on the next turn of the loop: never while another session's callback
 * (a broadcast, a relay) may still hold it. */
static void
session_kill_later(SignaldSession *s)
{
	s->dead = TRUE;
	event_active(s->deferred, EV_TIMEOUT, 0);
}

static void
session_send(SignaldSession *s, const char *line)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (s->dead || s->lingering)
		return;
	evbuffer_add(out, line, strlen(line));
	if (evbuffer_get_length(out) > SIGNALD_MAX_OUTPUT) {
		signald_log("limit %s (%s): client does not read, more than %d bytes queued; "
		            "dropping it", s->addr, session_name(s), SIGNALD_MAX_OUTPUT);
		/* No router change here: we may be inside one of its broadcasts. The free
		 * on the next turn of the loop takes s off the router. */
		s->closing = TRUE;
		session_kill_later(s);
	}
}

void
signald_session_deliver(gpointer owner, const char *line, gpointer user_data)
{
	SignaldSession *s = owner;

	if (!s->closing)
		session_send(s, line);
}

static void
start_linger(SignaldSession *s)
{
	struct timeval tv = { SIGNALD_LINGER_SECONDS, 0 };
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	s->lingering = TRUE;
	if (ssl) {
		SSL_shutdown(ssl); /* close_notify; the reply, if any, is not awaited */
		ERR_clear_error();
	}
	shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	evtimer_add(s->timer, &tv);
}

/* Stops routing to s, flushes what is queued, then lingers and frees. */
static void
session_close(SignaldSession *s, const char *why)
{
	struct timeval tv = { CLOSE_FLUSH_SECONDS, 0 };

	if (s->closing)
		return;
	s->closing = TRUE;
	signald_log("closing %s (%s): %s", s->addr, session_name(s), why);
	if (s->peer.key)
		signald_router_remove(s->srv->router, &s->peer);
	bufferevent_enable(s->bev, EV_READ); /* keep discarding input */
	evtimer_add(s->timer, &tv);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		event_active(s->deferred, EV_TIMEOUT, 0);
	/* else the write callback starts the linger once the output is empty */
}

static void
send_error(SignaldSession *s, JsonNode *id, gint64 code, const char *message)
{
	g_autofree char *line = p2p_rpc_build_error(id, code, message, NULL);
	session_send(s, line);
}

/* The error, then the hang-up: what every limit does. */
static void
fail_and_close(SignaldSession *s, JsonNode *id, gint64 code, const char *message)
{
	send_error(s, id, code, message);
	session_close(s, message);
}

/* ---- methods ------------------------------------------------------------------------ */

typedef gboolean (*MethodFunc)(SignaldSession *s, JsonNode *params, JsonNode **result,
                               gboolean *disconnect, GError **error);

typedef struct {
	const char *name;
	MethodFunc fn;
	gboolean needs_register;
} Method;

typedef struct {
	gint64 version;
	const char *key;
	const char *agent;
	const char *fingerprint;
} RegisterParams;

static const P2pField register_fields[] = {
	P2P_FIELD(RegisterParams, version, "version", P2P_FIELD_INT, TRUE, 0),
	P2P_FIELD(RegisterParams, key, "key", P2P_FIELD_STRING, TRUE, SIGNALD_SECRET_MAX),
	P2P_FIELD(RegisterParams, agent, "agent", P2P_FIELD_STRING, TRUE, SIGNALD_NAME_MAX),
	P2P_FIELD(RegisterParams, fingerprint, "fingerprint", P2P_FIELD_STRING, TRUE,
	          SIGNALD_FINGERPRINT_LEN),
	{ NULL },
};

/* The STUN/TURN servers with credentials of this session's own (the TURN id is
 * KEY.AGENT, so that coturn's log names who relayed), when configured. */
static void
add_ice_servers(SignaldSession *s, JsonBuilder *b)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *id = g_strdup_printf("%s.%s", s->peer.key->name, s->peer.agent);
	JsonNode *ice = signald_turn_ice_servers(s->srv->cfg, id, g_get_real_time() / G_USEC_PER_SEC,
	                                         &error);
	if (ice == NULL) {
		if (error)
			signald_log("turn %s (%s): %s", s->addr, session_name(s), error->message);
		return;
	}
	json_builder_set_member_name(b, P2P_S_ICE_SERVERS_MEMBER);
	json_builder_add_value(b, ice);
}

static const P2pField no_fields[] = { { NULL } };

static gboolean
m_register(SignaldSession *s, JsonNode *params, JsonNode **result, gboolean *disconnect,
           GError **error)
{
	SignaldServer *srv = s->srv;
	RegisterParams p = { 0 };
	g_autoptr(GError) local = NULL;

	if (s->peer.key) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "already registered as \"%s\" on this connection", s->peer.agent);
		return FALSE;
	}
	if (!p2p_schema_decode_params(params, register_fields, &p, error))
		return FALSE;
	if (p.version != P2P_SIGNAL_VERSION) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "protocol version %" G_GINT64_FORMAT " is not supported: this server "
		            "speaks version %d", p.version, P2P_SIGNAL_VERSION);
		return FALSE;
	}
	if (!signald_name_valid(p.agent, "agent id", &local)) {
		g_set_error_literal(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, local->message);
		return FALSE;
	}
	if (!signald_fingerprint_valid(p.fingerprint, error))
		return FALSE;
	const SignaldKey *key = signald_keys_lookup_secret(srv->keys, p.key);
	if (key == NULL) {
		signald_log("refused %s: unknown API key (agent \"%s\")", s->addr, p.agent);
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_UNAUTHORIZED, "unknown API key");
		*disconnect = TRUE;
		return FALSE;
	}
	SignaldPeer *existing = signald_router_lookup(srv->router, key, p.agent);
	guint count = signald_router_count(srv->router, key);
	if (existing == NULL && count >= srv->cfg->max_sessions_per_key) {
		signald_log("limit %s: key \"%s\" has %u sessions, refusing agent \"%s\"", s->addr,
		            key->name, count, p.agent);
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_TOO_MANY_SESSIONS,
		            "key \"%s\" has %u sessions already, the limit is %u", key->name, count,
		            srv->cfg->max_sessions_per_key);
		*disconnect = TRUE;
		return FALSE;
	}

	evtimer_del(s->timer);
	s->peer.key = key;
	s->peer.agent = g_strdup(p.agent);
	s->peer.fingerprint = g_strdup(p.fingerprint);
	signald_log("register %s: key \"%s\" agent \"%s\" fingerprint %s", s->addr, key->name,
	            p.agent, p.fingerprint);
	SignaldPeer *old = signald_router_add(srv->router, &s->peer);
	if (old) {
		SignaldSession *o = old->owner;
		g_autofree char *reason = g_strdup_printf("replaced by a newer session from %s",
		                                          s->addr);
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "code");
		json_builder_add_int_value(b, P2P_RPC_REPLACED);
		json_builder_set_member_name(b, "reason");
		json_builder_add_string_value(b, reason);
		json_builder_end_object(b);
		g_autofree char *line = p2p_rpc_build_notification(P2P_S_N_CLOSING,
		                                                   json_builder_get_root(b));
		signald_log("replaced %s.%s: %s by %s", key->name, p.agent, o->addr, s->addr);
		session_send(o, line);
		session_close(o, reason);
	}

	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "agent");
	json_builder_add_string_value(b, s->peer.agent);
	json_builder_set_member_name(b, "key");
	json_builder_add_string_value(b, key->name);
	json_builder_set_member_name(b, "peers");
	json_builder_add_value(b, signald_router_peers(srv->router, &s->peer));
	add_ice_servers(s, b);
	json_builder_end_object(b);
	*result = json_builder_get_root(b);
	return TRUE;
}

static gboolean
m_ice_servers(SignaldSession *s, JsonNode *params, JsonNode **result, gboolean *disconnect,
              GError **error)
{
	if (!p2p_schema_decode_params(params, no_fields, NULL, error))
		return FALSE;
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	add_ice_servers(s, b);
	json_builder_end_object(b);
	*result = json_builder_get_root(b);
	return TRUE;
}

static gboolean
m_peers(SignaldSession *s, JsonNode *params, JsonNode **result, gboolean *disconnect,
        GError **error)
{
	if (!p2p_schema_decode_params(params, no_fields, NULL, error))
		return FALSE;
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "peers");
	json_builder_add_value(b, signald_router_peers(s->srv->router, &s->peer));
	json_builder_end_object(b);
	*result = json_builder_get_root(b);
	return TRUE;
}

static const P2pField signal_fields[] = {
	P2P_FIELD(SignaldSignal, to, "to", P2P_FIELD_STRING, TRUE,
	          2 * SIGNALD_NAME_MAX + 1),
	P2P_FIELD(SignaldSignal, kind, "kind", P2P_FIELD_STRING, TRUE, 16),
	P2P_FIELD(SignaldSignal, session, "session", P2P_FIELD_STRING, TRUE, SIGNALD_SESSION_MAX),
	P2P_FIELD(SignaldSignal, ufrag, "ufrag", P2P_FIELD_STRING, FALSE, SIGNALD_ICE_FIELD_MAX),
	P2P_FIELD(SignaldSignal, pwd, "pwd", P2P_FIELD_STRING, FALSE, SIGNALD_ICE_FIELD_MAX),
	P2P_FIELD(SignaldSignal, transport, "transport", P2P_FIELD_STRING, FALSE, 16),
	P2P_FIELD(SignaldSignal, candidates, "candidates", P2P_FIELD_STRV, FALSE,
	          SIGNALD_CANDIDATES_MAX),
	{ NULL },
};

static gboolean
m_signal(SignaldSession *s, JsonNode *params, JsonNode **result, gboolean *disconnect,
         GError **error)
{
	SignaldSignal sig = { 0 };

	if (!p2p_schema_decode_params(params, signal_fields, &sig, error))
		return FALSE;
	if (!signald_signal_kind_valid(sig.kind)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "kind \"%s\" is not one of offer, answer, candidate, end, bye", sig.kind);
		return FALSE;
	}
	for (guint i = 0; sig.candidates && i < json_array_get_length(sig.candidates); i++) {
		gsize len = strlen(json_array_get_string_element(sig.candidates, i));
		if (len > SIGNALD_CANDIDATE_MAX) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "member \"candidates\"[%u] is %" G_GSIZE_FORMAT " bytes long, the "
			            "limit is %d", i, len, SIGNALD_CANDIDATE_MAX);
			return FALSE;
		}
	}
	if (!signald_router_signal(s->srv->router, &s->peer, &sig, error))
		return FALSE;
	*result = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(*result, json_object_new());
	return TRUE;
}

static gboolean
m_ping(SignaldSession *s, JsonNode *params, JsonNode **result, gboolean *disconnect,
       GError **error)
{
	if (!p2p_schema_decode_params(params, no_fields, NULL, error))
		return FALSE;
	*result = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(*result, json_object_new());
	return TRUE;
}

static const Method methods[] = {
	{ P2P_S_REGISTER, m_register, FALSE },
	{ P2P_S_PEERS, m_peers, TRUE },
	{ P2P_S_SIGNAL, m_signal, TRUE },
	{ P2P_S_PING, m_ping, TRUE },
	{ P2P_S_ICE_SERVERS, m_ice_servers, TRUE },
	{ NULL },
};

/* ---- input ------------------------------------------------------------------------- */

/* Token bucket: rate per second, bursts of twice that. */
static gboolean
take_token(SignaldSession *s)
{
	double rate = s->srv->cfg->rate;
	gint64 now = g_get_monotonic_time();

	s->tokens = MIN(2 * rate, s->tokens + (now - s->refilled_us) * rate / G_USEC_PER_SEC);
	s->refilled_us = now;
	if (s->tokens < 1)
		return FALSE;
	s->tokens -= 1;
	return TRUE;
}

static void
handle_line(SignaldSession *s, const char *line, gsize len)
{
	const SignaldConfig *cfg = s->srv->cfg;
	P2pRpcMessage msg = { 0 };
	g_autoptr(JsonNode) id = NULL;
	g_autoptr(JsonNode) result = NULL;
	g_autoptr(GError) error = NULL;
	gboolean disconnect = FALSE;
	const Method *m;

	if (!take_token(s)) {
		g_autofree char *why = g_strdup_printf("more than %u messages per second", cfg->rate);
		signald_log("limit %s (%s): %s", s->addr, session_name(s), why);
		fail_and_close(s, NULL, P2P_RPC_LIMIT, why);
		return;
	}
	if (len == 0)
		return;
	if (!p2p_rpc_parse(line, len, cfg->max_depth, &msg, &id, &error)) {
		if (g_error_matches(error, P2P_RPC_ERROR, P2P_RPC_LIMIT)) {
			signald_log("limit %s (%s): %s", s->addr, session_name(s), error->message);
			fail_and_close(s, id, P2P_RPC_LIMIT, error->message);
		} else {
			g_autofree char *reply = p2p_rpc_build_gerror(id, error);
			session_send(s, reply);
		}
		return;
	}
	/* Clients have nothing to answer: results and errors from them are dropped. */
	if (msg.kind != P2P_RPC_KIND_REQUEST && msg.kind != P2P_RPC_KIND_NOTIFICATION)
		goto cleanup;
	for (m = methods; m->name; m++) {
		if (strcmp(m->name, msg.method) == 0)
			break;
	}
	if (m->name == NULL) {
		g_set_error(&error, P2P_RPC_ERROR, P2P_RPC_METHOD_NOT_FOUND,
		            "unknown method \"%s\"", msg.method);
	} else if (m->needs_register && s->peer.key == NULL) {
		g_set_error(&error, P2P_RPC_ERROR, P2P_RPC_UNAUTHORIZED,
		            "register first: \"%s\" needs a registered session", msg.method);
	} else if (m->fn(s, msg.params, &result, &disconnect, &error)) {
		if (msg.kind == P2P_RPC_KIND_REQUEST) {
			g_autofree char *reply = p2p_rpc_build_result(msg.id, g_steal_pointer(&result));
			session_send(s, reply);
		}
		goto cleanup;
	}
	/* Notifications get no answer, except the reason for hanging up. */
	if (msg.kind == P2P_RPC_KIND_REQUEST || disconnect) {
		g_autofree char *reply = p2p_rpc_build_gerror(msg.id, error);
		session_send(s, reply);
	}
	if (disconnect)
		session_close(s, error->message);
cleanup:
	p2p_rpc_message_clear(&msg);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	SignaldSession *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	gsize max_line = s->srv->cfg->max_line;

	while (!s->closing && !s->dead) {
		gsize avail = evbuffer_get_length(in);
		size_t eol_len = 0;
		if (avail == 0)
			break;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		/* +1: room for a \r before the \n, which is not part of the line */
		gsize line_len = eol.pos < 0 ? avail : (gsize)eol.pos;
		if (line_len > max_line + 1 || (eol.pos >= 0 && line_len == max_line + 1 &&
		    evbuffer_pullup(in, line_len)[max_line] != '\r')) {
			g_autofree char *why = g_strdup_printf("line longer than %" G_GSIZE_FORMAT
			                                       " bytes (max-line)", max_line);
			signald_log("limit %s (%s): %s", s->addr, session_name(s), why);
			fail_and_close(s, NULL, P2P_RPC_LIMIT, why);
			break;
		}
		if (eol.pos < 0)
			break; /* wait for the rest of the line */
		size_t n = 0;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (line == NULL)
			break;
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		handle_line(s, line, n);
		free(line);
	}
	if (s->closing)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	SignaldSession *s = arg;

	if (s->closing && !s->lingering && !s->dead &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		start_linger(s);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	SignaldSession *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		s->tls_up = TRUE;
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char buf[256] = "";
		if (e)
			ERR_error_string_n(e, buf, sizeof(buf));
		if (!s->tls_up)
			signald_log("TLS handshake with %s failed%s%s", s->addr, e ? ": " : "", buf);
		else if (e && !s->lingering)
			signald_log("TLS error on %s (%s): %s", s->addr, session_name(s), buf);
	}
	signald_session_free(s);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	SignaldSession *s = arg;

	if (s->closing) {
		signald_session_free(s); /* flush or linger took too long */
		return;
	}
	if (!s->tls_up) {
		signald_log("closing %s: no TLS handshake within %u seconds", s->addr,
		            s->srv->cfg->register_timeout);
		signald_session_free(s);
		return;
	}
	g_autofree char *why = g_strdup_printf("no register within %u seconds",
	                                       s->srv->cfg->register_timeout);
	fail_and_close(s, NULL, P2P_RPC_LIMIT, why);
}

static void
deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	SignaldSession *s = arg;

	if (s->dead)
		signald_session_free(s);
	else if (s->closing && !s->lingering &&
	         evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		start_linger(s);
}

/* ---- lifetime ---------------------------------------------------------------------- */

SignaldSession *
signald_session_new(SignaldServer *srv, evutil_socket_t fd, const struct sockaddr *sa,
                    int salen)
{
	SignaldSession *s = NULL;
	SSL *ssl = NULL;
	struct timeval tv = { srv->cfg->register_timeout, 0 };

	ssl = SSL_new(srv->ssl_ctx);
	if (ssl == NULL) {
		g_autofree char *msg = signald_openssl_error();
		signald_log("cannot accept a connection: %s", msg);
		evutil_closesocket(fd);
		goto cleanup;
	}
	s = g_new0(SignaldSession, 1);
	s->srv = srv;
	s->addr = signald_format_address(sa, salen);
	s->peer.owner = s;
	s->tokens = 2.0 * srv->cfg->rate;
	s->refilled_us = g_get_monotonic_time();
	s->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                        BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		/* on failure libevent has neither taken the SSL nor the fd */
		SSL_free(ssl);
		evutil_closesocket(fd);
		signald_log("cannot accept %s: no bufferevent", s->addr);
		g_free(s->addr);
		g_clear_pointer(&s, g_free);
		goto cleanup;
	}
	/* A peer closing without close_notify is an ordinary hang-up, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->timer = evtimer_new(srv->base, timer_cb, s);
	s->deferred = event_new(srv->base, -1, 0, deferred_cb, s);
	g_hash_table_add(srv->sessions, s);
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &tv);
	signald_log("connect %s", s->addr);
cleanup:
	return s;
}

void
signald_session_free(SignaldSession *s)
{
	if (s == NULL)
		return;
	if (s->peer.key && !s->srv->stopping)
		signald_router_remove(s->srv->router, &s->peer);
	if (s->peer.key)
		signald_log("disconnect %s: key \"%s\" agent \"%s\"", s->addr, s->peer.key->name,
		            s->peer.agent);
	else
		signald_log("disconnect %s", s->addr);
	g_hash_table_remove(s->srv->sessions, s);
	bufferevent_free(s->bev);
	event_free(s->timer);
	event_free(s->deferred);
	g_free(s->peer.agent);
	g_free(s->peer.fingerprint);
	g_free(s->addr);
	g_free(s);
}

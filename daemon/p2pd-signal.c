/* p2pd-signal.c: see p2pd-signal.h.
 *
 * OpenSSL runs directly on the connected socket (non-blocking) and the GLib loop
 * watches the file descriptor: one source whose condition follows what OpenSSL asked
 * for (read always; write while output is queued or the handshake wants it). */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "p2p-jsonrpc.h"
#include "p2pd-signal.h"

#define PING_INTERVAL_S   15
#define IDLE_TIMEOUT_S    45
#define BACKOFF_MIN_MS    500
#define BACKOFF_MAX_MS    30000

typedef struct {
	P2pSignalReply reply;
	gpointer user;
} Pending;

struct _P2pSignal {
	char *host;
	guint16 port;
	char *ca_file;
	char *api_key;
	char *agent;
	char *fingerprint;
	P2pSignalCallbacks cb;
	gpointer user;

	SSL_CTX *ctx;
	P2pSignalState state;
	char *last_error;
	gboolean stopped;      /* replaced by another session: do not reconnect */

	GCancellable *connecting;
	GSocketConnection *conn;
	SSL *ssl;
	int fd;
	guint watch;
	GIOCondition watch_cond;
	gboolean handshake_done;
	gboolean want_write;
	GByteArray *out;
	P2pLineReader reader;
	gint64 next_id;
	GHashTable *pending;   /* id -> Pending */
	gint64 last_rx;

	guint retry_timer;
	guint ping_timer;
	guint attempt;

	JsonObject *ice_servers; /* the last STUN/TURN servers the server handed out */
	guint ice_timer;         /* renews their TURN credentials */
};

static void signal_connect(P2pSignal *s);
static void signal_drop(P2pSignal *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

const char *
p2p_signal_state_name(P2pSignalState st)
{
	switch (st) {
	case P2P_SIGNAL_OFFLINE: return "offline";
	case P2P_SIGNAL_CONNECTING: return "connecting";
	case P2P_SIGNAL_REGISTERED: return "registered";
	}
	return "?";
}

P2pSignalState
p2p_signal_get_state(P2pSignal *s)
{
	return s->state;
}

const char *
p2p_signal_last_error(P2pSignal *s)
{
	return s->last_error;
}

static char *
openssl_errors(void)
{
	GString *str = g_string_new(NULL);
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		if (str->len)
			g_string_append(str, "; ");
		g_string_append(str, buf);
	}
	return g_string_free(str, FALSE);
}

P2pSignal *
p2p_signal_new(const P2pSignalConfig *cfg, const P2pSignalCallbacks *cb, gpointer user,
               GError **error)
{
	P2pSignal *s = g_new0(P2pSignal, 1);

	s->host = g_strdup(cfg->host);
	s->port = cfg->port;
	s->ca_file = g_strdup(cfg->ca_file);
	s->api_key = g_strdup(cfg->api_key);
	s->agent = g_strdup(cfg->agent);
	s->fingerprint = g_strdup(cfg->fingerprint);
	s->cb = *cb;
	s->user = user;
	s->fd = -1;
	s->next_id = 1;
	s->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);

	s->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (s->ca_file ? SSL_CTX_load_verify_locations(s->ctx, s->ca_file, NULL) != 1
	               : SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
		g_autofree char *why = openssl_errors();
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "cannot load the signaling CA \"%s\": %s",
		            s->ca_file ? s->ca_file : "(system)", why);
		p2p_signal_free(s);
		return NULL;
	}
	return s;
}

static void
set_error(P2pSignal *s, const char *msg)
{
	g_free(s->last_error);
	s->last_error = g_strdup(msg);
}

static void
close_link(P2pSignal *s)
{
	g_clear_handle_id(&s->watch, g_source_remove);
	g_clear_handle_id(&s->ping_timer, g_source_remove);
	/* the servers last handed out stay: new sessions may use them until they expire */
	g_clear_handle_id(&s->ice_timer, g_source_remove);
	if (s->connecting) {
		g_cancellable_cancel(s->connecting);
		g_clear_object(&s->connecting);
	}
	g_clear_pointer(&s->ssl, SSL_free);
	g_clear_object(&s->conn); /* closes the socket */
	s->fd = -1;
	g_clear_pointer(&s->out, g_byte_array_unref);
	p2p_line_reader_clear(&s->reader);
	s->handshake_done = FALSE;
	s->want_write = FALSE;

	/* fail what was in flight */
	GHashTableIter it;
	gpointer k, v;
	g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func(g_free);
	g_hash_table_iter_init(&it, s->pending);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_ptr_array_add(waiting, v);
		g_hash_table_iter_steal(&it);
		g_free(k);
	}
	g_autoptr(GError) gone = g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
	                                     "signaling link closed");
	for (guint i = 0; i < waiting->len; i++) {
		Pending *p = g_ptr_array_index(waiting, i);
		if (p->reply)
			p->reply(s, NULL, gone, p->user);
	}
}

static gboolean
retry_cb(gpointer data)
{
	P2pSignal *s = data;
	s->retry_timer = 0;
	signal_connect(s);
	return G_SOURCE_REMOVE;
}

static void
schedule_retry(P2pSignal *s)
{
	guint shift = MIN(s->attempt, 8u);
	guint delay = MIN((guint)BACKOFF_MAX_MS, (guint)BACKOFF_MIN_MS << shift);
	/* +-25% jitter so that many daemons do not return in step after a server restart */
	delay = delay * 3 / 4 + g_random_int_range(0, delay / 2 + 1);
	s->attempt++;
	g_clear_handle_id(&s->retry_timer, g_source_remove);
	s->retry_timer = g_timeout_add(delay, retry_cb, s);
	g_info("signaling: reconnecting to %s:%u in %u ms", s->host, s->port, delay);
}

static void
signal_drop(P2pSignal *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	gboolean was_registered = s->state == P2P_SIGNAL_REGISTERED;
	g_warning("signaling: %s", msg);
	set_error(s, msg);
	close_link(s);
	s->state = P2P_SIGNAL_OFFLINE;
	if (was_registered && s->cb.lost) {
		g_autoptr(GError) e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, msg);
		s->cb.lost(s, e, s->user);
	}
	if (!s->stopped)
		schedule_retry(s);
}

static void update_watch(P2pSignal *s);

static void
queue_line(P2pSignal *s, const char *line)
{
	g_byte_array_append(s->out, (const guint8 *)line, strlen(line));
}

static gint64
send_request(P2pSignal *s, const char *method, JsonObject *params, P2pSignalReply reply,
             gpointer user)
{
	gint64 id = s->next_id++;
	JsonNode *node = p2p_json_node_take_object(params);
	g_autofree char *line = p2p_rpc_build_request(id, method, node);
	Pending *p = g_new0(Pending, 1);
	p->reply = reply;
	p->user = user;
	g_hash_table_insert(s->pending, g_memdup2(&id, sizeof(id)), p);
	queue_line(s, line);
	return id;
}

gboolean
p2p_signal_request(P2pSignal *s, const char *method, JsonObject *params, P2pSignalReply reply,
                   gpointer user, GError **error)
{
	if (s->state != P2P_SIGNAL_REGISTERED) {
		json_object_unref(params);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
		            "not connected to the signaling server %s:%u%s%s", s->host, s->port,
		            s->last_error ? ": " : "", s->last_error ? s->last_error : "");
		return FALSE;
	}
	send_request(s, method, params, reply, user);
	update_watch(s);
	return TRUE;
}

static gboolean
ping_cb(gpointer data)
{
	P2pSignal *s = data;
	if (g_get_monotonic_time() - s->last_rx > IDLE_TIMEOUT_S * G_USEC_PER_SEC) {
		s->ping_timer = 0;
		signal_drop(s, "no answer from %s:%u for %d s", s->host, s->port, IDLE_TIMEOUT_S);
		return G_SOURCE_REMOVE;
	}
	send_request(s, P2P_S_PING, json_object_new(), NULL, NULL);
	update_watch(s);
	return G_SOURCE_CONTINUE;
}

JsonObject *
p2p_signal_get_ice_servers(P2pSignal *s)
{
	return s->ice_servers;
}

static gboolean ice_renew_cb(gpointer data);

/* Keeps the ice_servers member of result (register's or ice-servers'), if any, and
 * asks for fresh credentials when half their lifetime is gone. */
static void
take_ice_servers(P2pSignal *s, JsonNode *result)
{
	if (result == NULL || !JSON_NODE_HOLDS_OBJECT(result))
		return;
	JsonNode *n = json_object_get_member(json_node_get_object(result),
	                                     P2P_S_ICE_SERVERS_MEMBER);
	if (n == NULL || !JSON_NODE_HOLDS_OBJECT(n))
		return;
	JsonObject *o = json_node_get_object(n);
	g_clear_pointer(&s->ice_servers, json_object_unref);
	s->ice_servers = json_object_ref(o);
	gint64 ttl = json_object_get_int_member_with_default(o, "ttl", 0);
	g_clear_handle_id(&s->ice_timer, g_source_remove);
	if (ttl > 0) {
		guint renew = (guint)CLAMP(ttl / 2, 30, 7 * 86400);
		s->ice_timer = g_timeout_add_seconds(renew, ice_renew_cb, s);
		g_debug("signaling: STUN/TURN servers for %" G_GINT64_FORMAT " s, renewing in %u s",
		        ttl, renew);
	}
}

static void
ice_servers_reply(P2pSignal *s, JsonNode *result, const GError *error, gpointer user)
{
	if (error) {
		g_info("signaling: cannot renew TURN credentials at %s:%u: %s", s->host, s->port,
		       error->message);
		return;
	}
	take_ice_servers(s, result);
}

static gboolean
ice_renew_cb(gpointer data)
{
	P2pSignal *s = data;
	g_autoptr(GError) error = NULL;
	s->ice_timer = 0;
	if (!p2p_signal_request(s, P2P_S_ICE_SERVERS, json_object_new(), ice_servers_reply, NULL,
	                        &error))
		g_debug("signaling: cannot renew TURN credentials: %s", error->message);
	return G_SOURCE_REMOVE;
}

static void
register_reply(P2pSignal *s, JsonNode *result, const GError *error, gpointer user)
{
	if (error) {
		if (error->domain == P2P_RPC_ERROR && error->code == P2P_RPC_UNAUTHORIZED) {
			/* a wrong key will not get better by hammering the server */
			s->attempt = MAX(s->attempt, 6u);
		}
		if (s->conn)
			signal_drop(s, "registration refused by %s:%u: %s", s->host, s->port,
			            error->message);
		return;
	}
	JsonArray *peers = NULL;
	if (JSON_NODE_HOLDS_OBJECT(result)) {
		JsonNode *pn = json_object_get_member(json_node_get_object(result), "peers");
		if (pn && JSON_NODE_HOLDS_ARRAY(pn))
			peers = json_node_get_array(pn);
	}
	s->state = P2P_SIGNAL_REGISTERED;
	s->attempt = 0;
	take_ice_servers(s, result);
	g_clear_pointer(&s->last_error, g_free);
	g_info("signaling: registered as %s at %s:%u", s->agent, s->host, s->port);
	g_clear_handle_id(&s->ping_timer, g_source_remove);
	s->ping_timer = g_timeout_add_seconds(PING_INTERVAL_S, ping_cb, s);
	if (s->cb.registered) {
		g_autoptr(JsonArray) empty = json_array_new();
		s->cb.registered(s, peers ? peers : empty, s->user);
	}
}

static void
send_register(P2pSignal *s)
{
	JsonObject *p = json_object_new();
	json_object_set_int_member(p, "version", P2P_SIGNAL_VERSION);
	json_object_set_string_member(p, "key", s->api_key);
	json_object_set_string_member(p, "agent", s->agent);
	json_object_set_string_member(p, "fingerprint", s->fingerprint);
	send_request(s, P2P_S_REGISTER, p, register_reply, NULL);
}

static void
handle_notification(P2pSignal *s, P2pRpcMessage *msg)
{
	JsonObject *p = msg->params ? json_node_get_object(msg->params) : NULL;

	if (p == NULL)
		return;
	if (g_strcmp0(msg->method, P2P_S_N_PRESENCE) == 0) {
		const char *id = json_object_get_string_member_with_default(p, "id", NULL);
		const char *fp = json_object_get_string_member_with_default(p, "fingerprint", NULL);
		gboolean online = json_object_get_boolean_member_with_default(p, "online", FALSE);
		if (id && fp && s->cb.presence)
			s->cb.presence(s, id, fp, online, s->user);
	} else if (g_strcmp0(msg->method, P2P_S_N_SIGNAL) == 0) {
		if (s->cb.signal)
			s->cb.signal(s, p, s->user);
	} else if (g_strcmp0(msg->method, P2P_S_N_CLOSING) == 0) {
		gint64 code = json_object_get_int_member_with_default(p, "code", 0);
		const char *reason = json_object_get_string_member_with_default(p, "reason", "?");
		if (code == P2P_RPC_REPLACED) {
			/* another daemon registered our id: reconnecting would only fight it */
			s->stopped = TRUE;
			g_warning("signaling: %s; not reconnecting", reason);
		}
		set_error(s, reason);
	}
}

static void
handle_line(P2pSignal *s, const char *line, gsize len)
{
	P2pRpcMessage msg;
	g_autoptr(GError) error = NULL;

	if (!p2p_rpc_parse(line, len, P2P_JSONRPC_MAX_DEPTH, &msg, NULL, &error)) {
		g_warning("signaling: bad message from %s:%u: %s", s->host, s->port, error->message);
		return;
	}
	if (msg.kind == P2P_RPC_KIND_NOTIFICATION) {
		handle_notification(s, &msg);
	} else if (msg.kind == P2P_RPC_KIND_RESULT || msg.kind == P2P_RPC_KIND_ERROR) {
		gint64 id = JSON_NODE_HOLDS_VALUE(msg.id) ? json_node_get_int(msg.id) : 0;
		Pending *p = NULL;
		gpointer key = NULL;
		if (g_hash_table_steal_extended(s->pending, &id, &key, (gpointer *)&p)) {
			g_free(key);
			if (msg.kind == P2P_RPC_KIND_ERROR) {
				g_autoptr(GError) e = g_error_new(P2P_RPC_ERROR, (gint)msg.error_code, "%s",
				                                  msg.error_message);
				if (p->reply)
					p->reply(s, NULL, e, p->user);
			} else if (p->reply) {
				p->reply(s, msg.result, NULL, p->user);
			}
			g_free(p);
		} else if (msg.kind == P2P_RPC_KIND_ERROR) {
			g_warning("signaling: error from %s:%u: %s", s->host, s->port,
			          msg.error_message);
		}
	}
	p2p_rpc_message_clear(&msg);
}

static gboolean io_cb(gint fd, GIOCondition cond, gpointer data);

static void
update_watch(P2pSignal *s)
{
	if (s->fd < 0)
		return;
	GIOCondition cond = G_IO_IN;
	if (s->want_write || (s->handshake_done && s->out->len > 0))
		cond |= G_IO_OUT;
	if (s->watch && cond == s->watch_cond)
		return;
	g_clear_handle_id(&s->watch, g_source_remove);
	s->watch = g_unix_fd_add(s->fd, cond, io_cb, s);
	s->watch_cond = cond;
}

/* Returns FALSE when the link was dropped. */
static gboolean
ssl_failed(P2pSignal *s, int ret, const char *what)
{
	int err = SSL_get_error(s->ssl, ret);
	if (err == SSL_ERROR_WANT_READ)
		return TRUE;
	if (err == SSL_ERROR_WANT_WRITE) {
		s->want_write = TRUE;
		return TRUE;
	}
	if (err == SSL_ERROR_ZERO_RETURN) {
		signal_drop(s, "%s:%u closed the connection", s->host, s->port);
		return FALSE;
	}
	g_autofree char *why = openssl_errors();
	long vr = SSL_get_verify_result(s->ssl);
	if (vr != X509_V_OK) {
		signal_drop(s, "%s with %s:%u failed: certificate: %s", what, s->host, s->port,
		            X509_verify_cert_error_string(vr));
	} else {
		signal_drop(s, "%s with %s:%u failed: %s", what, s->host, s->port,
		            *why ? why : (err == SSL_ERROR_SYSCALL ? "connection closed" : "TLS error"));
	}
	return FALSE;
}

/* Writes queued output until OpenSSL would block; FALSE when the link was dropped. */
static gboolean
flush_out(P2pSignal *s)
{
	while (s->out->len > 0) {
		int n = SSL_write(s->ssl, s->out->data, (int)s->out->len);
		if (n <= 0)
			return ssl_failed(s, n, "write");
		g_byte_array_remove_range(s->out, 0, n);
	}
	return TRUE;
}

static gboolean
io_cb(gint fd, GIOCondition cond, gpointer data)
{
	P2pSignal *s = data;
	guint8 buf[16384];

	s->want_write = FALSE;
	if (!s->handshake_done) {
		int r = SSL_do_handshake(s->ssl);
		if (r != 1) {
			if (!ssl_failed(s, r, "TLS handshake"))
				return G_SOURCE_REMOVE;
			update_watch(s);
			return G_SOURCE_CONTINUE;
		}
		s->handshake_done = TRUE;
		send_register(s);
	}
	if (!flush_out(s))
		return G_SOURCE_REMOVE;
	for (;;) {
		int n = SSL_read(s->ssl, buf, sizeof(buf));
		if (n <= 0) {
			if (!ssl_failed(s, n, "read"))
				return G_SOURCE_REMOVE;
			break;
		}
		s->last_rx = g_get_monotonic_time();
		p2p_line_reader_feed(&s->reader, buf, n);
		for (;;) {
			g_autoptr(GError) error = NULL;
			gsize len = 0;
			g_autofree char *line = p2p_line_reader_next(&s->reader, &len, &error);
			if (error) {
				signal_drop(s, "%s:%u sent %s", s->host, s->port, error->message);
				return G_SOURCE_REMOVE;
			}
			if (line == NULL)
				break;
			handle_line(s, line, len);
			if (s->ssl == NULL) /* a callback dropped the link */
				return G_SOURCE_REMOVE;
		}
	}
	/* replies queued by callbacks go out now */
	if (!flush_out(s))
		return G_SOURCE_REMOVE;
	update_watch(s);
	return G_SOURCE_CONTINUE;
}

static void
connected_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) error = NULL;
	GSocketConnection *conn = g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(src), res,
	                                                                 &error);
	if (conn == NULL) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		P2pSignal *s = data;
		g_clear_object(&s->connecting);
		signal_drop(s, "cannot connect to %s:%u: %s", s->host, s->port, error->message);
		return;
	}
	P2pSignal *s = data;
	g_clear_object(&s->connecting);
	s->conn = conn;
	GSocket *sock = g_socket_connection_get_socket(conn);
	g_socket_set_blocking(sock, FALSE);
	g_socket_set_keepalive(sock, TRUE);
	s->fd = g_socket_get_fd(sock);
	s->ssl = SSL_new(s->ctx);
	SSL_set_fd(s->ssl, s->fd);
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(s->ssl);
	g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(s->host);
	if (ip) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host);
	} else {
		SSL_set_tlsext_host_name(s->ssl, s->host);
		SSL_set1_host(s->ssl, s->host);
	}
	s->out = g_byte_array_new();
	p2p_line_reader_init(&s->reader, P2P_JSONRPC_MAX_LINE);
	s->last_rx = g_get_monotonic_time();
	s->watch_cond = 0;
	io_cb(s->fd, G_IO_OUT, s);
	if (s->ssl && s->watch == 0)
		update_watch(s);
}

static void
signal_connect(P2pSignal *s)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();

	close_link(s);
	s->state = P2P_SIGNAL_CONNECTING;
	g_socket_client_set_timeout(client, 10);
	s->connecting = g_cancellable_new();
	g_socket_client_connect_to_host_async(client, s->host, s->port, s->connecting,
	                                      connected_cb, s);
}

void
p2p_signal_start(P2pSignal *s)
{
	signal_connect(s);
}

void
p2p_signal_free(P2pSignal *s)
{
	if (s == NULL)
		return;
	s->stopped = TRUE;
	s->cb = (P2pSignalCallbacks){ 0 };
	close_link(s);
	g_clear_handle_id(&s->retry_timer, g_source_remove);
	g_clear_pointer(&s->ice_servers, json_object_unref);
	g_hash_table_destroy(s->pending);
	SSL_CTX_free(s->ctx);
	g_free(s->host);
	g_free(s->ca_file);
	if (s->api_key)
		OPENSSL_cleanse(s->api_key, strlen(s->api_key));
	g_free(s->api_key);
	g_free(s->agent);
	g_free(s->fingerprint);
	g_free(s->last_error);
	g_free(s);
}

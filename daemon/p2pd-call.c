/* p2pd-call.c: see p2pd-call.h.
 *
 * A call, seen from both daemons (the id is the caller's, the same on both sides):
 *   caller: call.start -> RING (on a ready session, brought up if needed) -> ringing
 *   callee: RING -> ringing, call_incoming; call.answer gives the page link; when the
 *           page's WebSocket opens -> ACCEPT to the caller, active
 *   caller: ACCEPT -> active, tells its page, which makes the SDP offer
 *   pages:  offer / answer / candidates, relayed page -> p2pd -> CALL frame -> p2pd -> page
 *   either: hangup (page button, call.hangup, page closed, session lost, ring timeout)
 *           -> HANGUP to the peer, ended, the page is told and closes its connection.
 *
 * The page server listens on 127.0.0.1 and ::1 only. Every request must name this
 * server in Host (DNS rebinding), carry no foreign Origin and no cross-site fetch
 * metadata; the page and its WebSocket need the call's current one-time token, which
 * the WebSocket spends. */
#include "config.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2pd-call.h"
#include "p2pd-channel.h"
#include "p2pd-session.h"
#include "p2pd-testhooks.h"

#define RESOURCE_PREFIX "/org/p2pd/call/"
/* daemon/call-page/, compiled in by glib-compile-resources (daemon/local.mk) */
GResource *p2p_call_page_get_resource(void);

typedef enum {
	CALL_RINGING,
	CALL_ACTIVE,
	CALL_ENDED,
} CallState;



typedef struct {
	P2pCalls *calls;
	char *id;
	char *peer;
	gboolean outgoing;
	CallState state;
	P2pSession *session; /* the session RING went out or came in on; NULL before */
	char *reason;        /* ended: a P2P_REASON_* code */
	char *message;
	char token[P2P_CALL_TOKEN_BYTES * 2 + 1]; /* the page link's; "" once spent */
	SoupWebsocketConnection *ws;              /* the page, when connected */
	gboolean page_seen;  /* a page connected once */
	guint ring_timer;
	gint64 started;      /* real time, microseconds */
	gint64 ended;
	/* what the page reports */
	char *connection;    /* RTCPeerConnection.connectionState */
	char *path;          /* "direct" / "relayed" / NULL */
	guint64 frames_decoded;
	P2pRateLimit page_rate; /* messages from the page */
} Call;

struct _P2pCalls {
	P2pDaemon *d;
	SoupServer *server;
	guint port;
	GHashTable *by_id;   /* id -> Call */
	GQueue ended;        /* ended P2pCalls, oldest first (owned by by_id) */
	GHashTable *rates;   /* peer id -> P2pRateLimit */
};

static void call_end(Call *c, const char *reason, const char *message, gboolean tell_peer);

static const char *
state_name(CallState s)
{
	switch (s) {
	case CALL_RINGING: return "ringing";
	case CALL_ACTIVE: return "active";
	case CALL_ENDED: return "ended";
	}
	return "?";
}

static void
call_free(Call *c)
{
	g_clear_handle_id(&c->ring_timer, g_source_remove);
	if (c->ws) {
		g_signal_handlers_disconnect_by_data(c->ws, c);
		if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
			                                "p2pd is stopping");
		g_clear_object(&c->ws);
	}
	OPENSSL_cleanse(c->token, sizeof(c->token));
	g_free(c->id);
	g_free(c->peer);
	g_free(c->reason);
	g_free(c->message);
	g_free(c->connection);
	g_free(c->path);
	g_free(c);
}

static P2pCalls *
calls_get(P2pDaemon *d)
{
	if (d->calls == NULL) {
		P2pCalls *cs = g_new0(P2pCalls, 1);
		cs->d = d;
		cs->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
		                                  (GDestroyNotify)call_free);
		cs->rates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		g_queue_init(&cs->ended);
		d->calls = cs;
	}
	return d->calls;
}

void
p2p_call_free(P2pDaemon *d)
{
	P2pCalls *cs = d->calls;
	if (cs == NULL)
		return;
	g_queue_clear(&cs->ended);
	g_hash_table_destroy(cs->by_id);
	g_hash_table_destroy(cs->rates);
	if (cs->server) {
		soup_server_disconnect(cs->server);
		g_object_unref(cs->server);
	}
	g_free(cs);
	d->calls = NULL;
}

guint
p2p_call_port(P2pDaemon *d)
{
	return d->calls ? d->calls->port : 0;
}

static JsonNode *
call_json(Call *c)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "call", c->id);
	json_object_set_string_member(o, "peer", c->peer);
	json_object_set_string_member(o, "direction", c->outgoing ? "out" : "in");
	json_object_set_string_member(o, "state", state_name(c->state));
	if (c->reason) {
		json_object_set_string_member(o, "reason", c->reason);
		json_object_set_string_member(o, "message", c->message);
	}
	json_object_set_boolean_member(o, "page", c->ws != NULL);
	if (c->connection)
		json_object_set_string_member(o, "connection", c->connection);
	if (c->path)
		json_object_set_string_member(o, "path", c->path);
	json_object_set_int_member(o, "frames_decoded", (gint64)c->frames_decoded);
	json_object_set_double_member(o, "started", c->started / 1e6);
	if (c->ended)
		json_object_set_double_member(o, "ended", c->ended / 1e6);
	return p2p_json_node_take_object(o);
}

static void
emit(Call *c, const char *event)
{
	p2p_daemon_emit(c->calls->d, event, call_json(c));
}

static guint
live_count(P2pCalls *cs)
{
	return g_hash_table_size(cs->by_id) - cs->ended.length;
}

/* ---- the page's WebSocket ---------------------------------------------------------- */

static void
page_send(Call *c, JsonObject *o /* consumed */)
{
	if (c->ws == NULL || soup_websocket_connection_get_state(c->ws) != SOUP_WEBSOCKET_STATE_OPEN) {
		json_object_unref(o);
		return;
	}
	g_autoptr(JsonNode) n = p2p_json_node_take_object(o);
	g_autofree char *text = p2p_json_to_string(n);
	soup_websocket_connection_send_text(c->ws, text);
}

static JsonObject *
page_msg(const char *type)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "type", type);
	return o;
}

static gboolean
unref_idle(gpointer ws)
{
	g_object_unref(ws);
	return G_SOURCE_REMOVE;
}

/* The connection may be emitting the signal we are in: its last reference goes from
 * an idle callback, after the close handshake when there is one. */
static void
ws_release(SoupWebsocketConnection *ws, gpointer unused)
{
	g_signal_handlers_disconnect_by_func(ws, ws_release, NULL);
	g_idle_add(unref_idle, ws);
}

static void
page_close(Call *c, const char *why)
{
	SoupWebsocketConnection *ws = g_steal_pointer(&c->ws);
	if (ws == NULL)
		return;
	g_signal_handlers_disconnect_by_data(ws, c);
	if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN) {
		g_signal_connect(ws, "closed", G_CALLBACK(ws_release), NULL);
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, why);
	} else if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_CLOSING) {
		g_signal_connect(ws, "closed", G_CALLBACK(ws_release), NULL);
	} else {
		ws_release(ws, NULL);
	}
}

/* ---- CALL frames -------------------------------------------------------------------- */

static P2pChannel *
ready_channel(P2pSession *s)
{
	if (s == NULL || p2p_session_get_state(s) != P2P_SESSION_READY)
		return NULL;
	return p2p_session_get_channel(s);
}

static gboolean
send_frame(Call *c, const char *kind, JsonObject *extra /* consumed, may be NULL */)
{
	P2pChannel *ch = ready_channel(c->session);
	JsonObject *o = extra ? extra : json_object_new();
	json_object_set_string_member(o, "call", c->id);
	json_object_set_string_member(o, "kind", kind);
	if (p2p_test_hooks && p2p_test_hooks->call)
		p2p_test_hooks->call(o);
	gboolean ok = ch && p2p_channel_send_json(ch, P2P_FRAME_CALL, o, NULL);
	json_object_unref(o);
	return ok;
}

static void
call_end(Call *c, const char *reason, const char *message, gboolean tell_peer)
{
	P2pCalls *cs = c->calls;

	if (c->state == CALL_ENDED)
		return;
	if (tell_peer) {
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "code", reason);
		json_object_set_string_member(o, "message", message);
		send_frame(c, P2P_CALL_HANGUP, o);
	}
	c->state = CALL_ENDED;
	c->ended = g_get_real_time();
	c->reason = g_strdup(reason);
	c->message = g_strdup(message);
	c->session = NULL;
	g_clear_handle_id(&c->ring_timer, g_source_remove);
	OPENSSL_cleanse(c->token, sizeof(c->token));
	JsonObject *m = page_msg("ended");
	json_object_set_string_member(m, "reason", reason);
	json_object_set_string_member(m, "message", message);
	page_send(c, m);
	page_close(c, "call ended");
	g_info("call %s with %s ended: %s", c->id, c->peer, message);
	emit(c, P2P_E_CALL_ENDED);
	/* kept for call.list; the oldest go in call_new, where no caller is walking the
	 * calls (p2p_call_session_closed ends several in one loop) */
	g_queue_push_tail(&cs->ended, c);
}

static gboolean
ring_timeout_cb(gpointer data)
{
	Call *c = data;
	c->ring_timer = 0;
	g_autofree char *m = g_strdup_printf("nobody answered within %d s", P2P_CALL_RING_TIMEOUT_S);
	call_end(c, P2P_REASON_NO_ANSWER, m, TRUE);
	return G_SOURCE_REMOVE;
}

static void
new_token(Call *c)
{
	guint8 raw[P2P_CALL_TOKEN_BYTES];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		/* no link at all rather than a guessable one */
		c->token[0] = '\0';
		return;
	}
	for (gsize i = 0; i < sizeof(raw); i++)
		g_snprintf(c->token + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
}

static Call *
call_new(P2pCalls *cs, const char *id, const char *peer, gboolean outgoing)
{
	while (cs->ended.length >= P2P_CALL_KEEP_ENDED)
		g_hash_table_remove(cs->by_id, ((Call *)g_queue_pop_head(&cs->ended))->id);
	Call *c = g_new0(Call, 1);
	c->calls = cs;
	c->id = g_strdup(id);
	c->peer = g_strdup(peer);
	c->outgoing = outgoing;
	c->state = CALL_RINGING;
	c->started = g_get_real_time();
	p2p_rate_limit_init(&c->page_rate, P2P_CALL_WS_BURST);
	c->ring_timer = g_timeout_add_seconds(P2P_CALL_RING_TIMEOUT_S, ring_timeout_cb, c);
	g_hash_table_insert(cs->by_id, c->id, c);
	return c;
}

/* ---- the page server -------------------------------------------------------------- */

static gboolean
host_is_ours(P2pCalls *cs, const char *host)
{
	if (host == NULL)
		return FALSE;
	g_autofree char *v4 = g_strdup_printf("127.0.0.1:%u", cs->port);
	g_autofree char *v6 = g_strdup_printf("[::1]:%u", cs->port);
	g_autofree char *name = g_strdup_printf("localhost:%u", cs->port);
	return strcmp(host, v4) == 0 || strcmp(host, v6) == 0 ||
	       g_ascii_strcasecmp(host, name) == 0;
}

/* Why a request may not be served, or NULL. Browsers send Origin with every WebSocket
 * and cross-origin request, and Sec-Fetch-Site with every request: a page of another
 * site (or of another port here, which is "same-site") must not reach the call. */
static const char *
request_refused(P2pCalls *cs, SoupServerMessage *msg)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *host = soup_message_headers_get_one(h, "Host");
	const char *origin = soup_message_headers_get_one(h, "Origin");
	const char *site = soup_message_headers_get_one(h, "Sec-Fetch-Site");

	if (!host_is_ours(cs, host))
		return "refused: the Host header does not name this p2pd call server on loopback "
		       "(use the link p2pctl printed)\n";
	if (origin) {
		const char *o = origin;
		if (!g_str_has_prefix(o, "http://") || !host_is_ours(cs, o + 7))
			return "refused: a page of another origin may not use the p2pd call server\n";
	}
	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return "refused: cross-site request to the p2pd call server\n";
	if (strcmp(soup_server_message_get_method(msg), SOUP_METHOD_GET) != 0)
		return "refused: only GET\n";
	return NULL;
}

static void
respond(SoupServerMessage *msg, guint status, const char *type, GBytes *body)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(h, "X-Frame-Options", "DENY");
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, g_bytes_get_data(body, NULL),
	                                 g_bytes_get_size(body));
}

static void
respond_text(SoupServerMessage *msg, guint status, const char *text)
{
	g_autoptr(GBytes) b = g_bytes_new_static(text, strlen(text));
	respond(msg, status, "text/plain; charset=utf-8", b);
}

/* The call a request's id and token name, when the token is the call's current one
 * (compared in constant time). */
static Call *
authorized_call(P2pCalls *cs, GHashTable *query)
{
	const char *id = query ? g_hash_table_lookup(query, "id") : NULL;
	const char *token = query ? g_hash_table_lookup(query, "token") : NULL;
	Call *c = id ? g_hash_table_lookup(cs->by_id, id) : NULL;

	if (c == NULL || token == NULL || c->state == CALL_ENDED || c->token[0] == '\0')
		return NULL;
	if (strlen(token) != strlen(c->token) ||
	    CRYPTO_memcmp(token, c->token, strlen(c->token)) != 0)
		return NULL;
	return c;
}

static const char *no_token =
	"refused: this link is not valid (wrong or spent token, or the call has ended); "
	"run \"p2pctl answer CALL-ID\" for a new one\n";

static void
serve_resource(SoupServerMessage *msg, const char *name, const char *type)
{
	g_autofree char *path = g_strconcat(RESOURCE_PREFIX, name, NULL);
	g_autoptr(GBytes) b = g_resource_lookup_data(p2p_call_page_get_resource(), path,
	                                           G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
	if (b == NULL) {
		respond_text(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the call page is missing\n");
		return;
	}
	respond(msg, SOUP_STATUS_OK, type, b);
}

static void
http_cb(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer data)
{
	P2pCalls *cs = data;
	const char *why = request_refused(cs, msg);

	if (why) {
		respond_text(msg, SOUP_STATUS_FORBIDDEN, why);
		return;
	}
	if (strcmp(path, "/call") == 0) {
		if (authorized_call(cs, query) == NULL) {
			respond_text(msg, SOUP_STATUS_FORBIDDEN, no_token);
			return;
		}
		g_autofree char *csp = g_strdup_printf(
			"default-src 'none'; script-src 'self'; style-src 'self'; "
			"connect-src ws://127.0.0.1:%u ws://[::1]:%u ws://localhost:%u; "
			"media-src 'self' blob: mediastream:; img-src 'self'; base-uri 'none'; "
			"form-action 'none'; frame-ancestors 'none'",
			cs->port, cs->port, cs->port);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
		                             "Content-Security-Policy", csp);
		serve_resource(msg, "call.html", "text/html; charset=utf-8");
	} else if (strcmp(path, "/call.js") == 0) {
		serve_resource(msg, "call.js", "text/javascript; charset=utf-8");
	} else if (strcmp(path, "/call.css") == 0) {
		serve_resource(msg, "call.css", "text/css; charset=utf-8");
	} else {
		respond_text(msg, SOUP_STATUS_NOT_FOUND, "not found\n");
	}
}

/* Runs before the WebSocket handshake: a request refused here is never upgraded. The
 * token is spent here, so that two handshakes racing with one link cannot both win. */
static void
ws_check_cb(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
	P2pCalls *cs = data;
	const char *why = request_refused(cs, msg);
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);

	if (why == NULL && soup_message_headers_get_one(h, "Origin") == NULL)
		why = "refused: a WebSocket without Origin\n";
	if (why) {
		respond_text(msg, SOUP_STATUS_FORBIDDEN, why);
		return;
	}
	Call *c = authorized_call(cs, query);
	if (c == NULL) {
		respond_text(msg, SOUP_STATUS_FORBIDDEN, no_token);
		return;
	}
	if (c->ws) {
		respond_text(msg, SOUP_STATUS_CONFLICT, "refused: the call already has its page\n");
		return;
	}
	OPENSSL_cleanse(c->token, sizeof(c->token));
}

static JsonArray *ice_servers(P2pDaemon *d);
static void ws_message_cb(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data);
static void ws_closed_cb(SoupWebsocketConnection *ws, gpointer data);

static void
ws_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
      SoupWebsocketConnection *ws, gpointer data)
{
	P2pCalls *cs = data;
	GHashTable *query = soup_form_decode(g_uri_get_query(soup_server_message_get_uri(msg)) ?: "");
	const char *id = g_hash_table_lookup(query, "id");
	Call *c = id ? g_hash_table_lookup(cs->by_id, id) : NULL;
	g_hash_table_unref(query);

	/* the check let it through moments ago; the call may have ended since */
	if (c == NULL || c->state == CALL_ENDED || c->ws) {
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
		                                "the call has ended");
		return;
	}
	c->ws = g_object_ref(ws);
	c->page_seen = TRUE;
	soup_websocket_connection_set_max_incoming_payload_size(ws, P2P_CALL_WS_MAX_MESSAGE);
	soup_websocket_connection_set_keepalive_interval(ws, 15);
	g_signal_connect(ws, "message", G_CALLBACK(ws_message_cb), c);
	g_signal_connect(ws, "closed", G_CALLBACK(ws_closed_cb), c);
	g_info("call %s: the page is open", c->id);

	JsonObject *hello = page_msg("hello");
	json_object_set_string_member(hello, "call", c->id);
	json_object_set_string_member(hello, "peer", c->peer);
	json_object_set_string_member(hello, "role", c->outgoing ? "caller" : "callee");
	json_object_set_boolean_member(hello, "accepted", c->state == CALL_ACTIVE);
	json_object_set_array_member(hello, "ice_servers", ice_servers(cs->d));
	page_send(c, hello);

	if (!c->outgoing && c->state == CALL_RINGING) {
		/* the callee's page is open: that is the answer */
		if (!send_frame(c, P2P_CALL_ACCEPT, NULL)) {
			call_end(c, P2P_REASON_DISCONNECTED, "the session to the caller is gone", FALSE);
			return;
		}
		c->state = CALL_ACTIVE;
		g_clear_handle_id(&c->ring_timer, g_source_remove);
	}
	emit(c, P2P_E_CALL_STATE);
}

static gboolean
listen_page_server(P2pCalls *cs, GError **error)
{
	if (cs->server)
		return TRUE;
	SoupServer *server = soup_server_new("server-header", NULL, NULL);
	soup_server_add_handler(server, NULL, http_cb, cs, NULL);
	soup_server_add_handler(server, "/ws", ws_check_cb, cs, NULL);
	soup_server_add_websocket_handler(server, "/ws", NULL, NULL, ws_cb, cs, NULL);
	/* only loopback, both families on one port; IPv4 alone where ::1 is missing */
	g_autoptr(GError) v6 = NULL;
	if (!soup_server_listen_local(server, 0, 0, &v6) &&
	    !soup_server_listen_local(server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, error)) {
		g_prefix_error(error, "cannot listen for the call page on loopback: ");
		g_object_unref(server);
		return FALSE;
	}
	GSList *uris = soup_server_get_uris(server);
	cs->port = uris ? (guint)g_uri_get_port(uris->data) : 0;
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	cs->server = server;
	g_info("call page server on 127.0.0.1:%u and [::1]:%u", cs->port, cs->port);
	return TRUE;
}

static JsonNode *
call_json_with_url(Call *c)
{
	JsonNode *n = call_json(c);
	g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u/call?id=%s&token=%s",
	                                       c->calls->port, c->id, c->token);
	json_object_set_string_member(json_node_get_object(n), "url", url);
	return n;
}

/* ---- STUN/TURN for the page ------------------------------------------------------- */

static char *
url_host(const char *host)
{
	return strchr(host, ':') ? g_strdup_printf("[%s]", host) : g_strdup(host);
}

static void
add_server(JsonArray *a, const char *scheme, const char *host, guint port, const char *query,
           const char *user, const char *password)
{
	g_autofree char *h = url_host(host);
	JsonObject *o = json_object_new();
	JsonArray *urls = json_array_new();
	g_autofree char *url = g_strdup_printf("%s:%s:%u%s", scheme, h, port, query ? query : "");
	json_array_add_string_element(urls, url);
	json_object_set_array_member(o, "urls", urls);
	if (user) {
		json_object_set_string_member(o, "username", user);
		json_object_set_string_member(o, "credential", password ? password : "");
	}
	json_array_add_object_element(a, o);
}

static void
add_turn(P2pDaemon *d, JsonArray *a, const char *host, guint port, const char *user,
         const char *password)
{
	if (d->cfg->turn_udp)
		add_server(a, "turn", host, port, "?transport=udp", user, password);
	if (d->cfg->turn_tcp)
		add_server(a, "turn", host, port, "?transport=tcp", user, password);
}

typedef struct {
	P2pDaemon *d;
	JsonArray *servers;
} PageServers;

static void
page_ice_server(gboolean turn, const char *host, guint16 port, const char *username,
                const char *password, gpointer user)
{
	PageServers *ps = user;
	if (turn)
		add_turn(ps->d, ps->servers, host, port, username, password);
	else
		add_server(ps->servers, "stun", host, port, NULL, NULL, NULL);
}

/* The STUN and TURN servers p2pd itself uses (p2pd-session.c), as RTCIceServer
 * objects. */
static JsonArray *
ice_servers(P2pDaemon *d)
{
	PageServers ps = { d, json_array_new() };
	p2p_session_foreach_ice_server(d, page_ice_server, &ps);
	return ps.servers;
}

/* ---- messages from the page ------------------------------------------------------- */

typedef struct {
	const char *type;
	const char *sdp;
	const char *candidate;
	const char *mid;
	gint64 mline;
	const char *connection;
	const char *path;
	guint64 frames_decoded;
	const char *message;
} PageMsg;

static const P2pField page_fields[] = {
	P2P_FIELD(PageMsg, type, "type", P2P_FIELD_STRING, TRUE, 16),
	P2P_FIELD(PageMsg, sdp, "sdp", P2P_FIELD_STRING, FALSE, P2P_CALL_MAX_SDP),
	P2P_FIELD(PageMsg, candidate, "candidate", P2P_FIELD_STRING, FALSE, P2P_CALL_MAX_CANDIDATE),
	P2P_FIELD(PageMsg, mid, "mid", P2P_FIELD_STRING, FALSE, 64),
	P2P_FIELD(PageMsg, mline, "mline", P2P_FIELD_INT, FALSE, 0),
	P2P_FIELD(PageMsg, connection, "connection", P2P_FIELD_STRING, FALSE, 16),
	P2P_FIELD(PageMsg, path, "path", P2P_FIELD_STRING, FALSE, 16),
	P2P_FIELD(PageMsg, frames_decoded, "frames_decoded", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(PageMsg, message, "message", P2P_FIELD_STRING, FALSE, 512),
	{ NULL },
};

static gboolean
set_if_changed(char **dst, const char *value)
{
	const char *v = value && *value ? value : NULL;
	if (g_strcmp0(*dst, v) == 0)
		return FALSE;
	g_free(*dst);
	*dst = g_strdup(v);
	return TRUE;
}

static void
page_stats(Call *c, const PageMsg *m)
{
	gboolean changed = FALSE;
	static const char *const states[] = { "new", "connecting", "connected", "disconnected",
		                              "failed", "closed", NULL };
	static const char *const paths[] = { "", "direct", "relayed", NULL };

	if (m->connection && g_strv_contains(states, m->connection))
		changed |= set_if_changed(&c->connection, m->connection);
	if (m->path && g_strv_contains(paths, m->path))
		changed |= set_if_changed(&c->path, m->path);
	/* frames_decoded changes all the time: call.list shows it, events do not */
	c->frames_decoded = m->frames_decoded;
	if (changed) {
		g_info("call %s: %s%s%s", c->id, c->connection ? c->connection : "new",
		       c->path ? ", " : "", c->path ? c->path : "");
		emit(c, P2P_E_CALL_STATE);
	}
}

static void
page_relay(Call *c, const PageMsg *m)
{
	JsonObject *o = json_object_new();
	const char *kind = m->type;

	if (strcmp(kind, P2P_CALL_CANDIDATE) == 0) {
		json_object_set_string_member(o, "candidate", m->candidate);
		json_object_set_string_member(o, "mid", m->mid ? m->mid : "");
		json_object_set_int_member(o, "mline", m->mline);
	} else {
		json_object_set_string_member(o, "sdp", m->sdp);
	}
	if (!send_frame(c, kind, o))
		call_end(c, P2P_REASON_DISCONNECTED, "the session to the peer is gone", FALSE);
}

static void
ws_message_cb(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
	Call *c = data;
	PageMsg m = { 0 };
	g_autoptr(GError) error = NULL;

	if (!p2p_rate_limit_take(&c->page_rate, P2P_CALL_WS_BURST, P2P_CALL_WS_RATE)) {
		g_warning("call %s: the page sends more than %d messages a second; closing it",
		          c->id, P2P_CALL_WS_RATE);
		call_end(c, P2P_REASON_PROTOCOL, "the call page misbehaved (too many messages)", TRUE);
		return;
	}
	g_autoptr(JsonObject) o = type == SOUP_WEBSOCKET_DATA_TEXT
	                              ? p2p_frame_parse_json(message, &error) : NULL;
	if (o == NULL || !p2p_schema_decode(o, page_fields, &m, &error)) {
		g_warning("call %s: bad message from the page: %s", c->id,
		          error ? error->message : "not text");
		return;
	}
	if (strcmp(m.type, "stats") == 0) {
		page_stats(c, &m);
	} else if (strcmp(m.type, P2P_CALL_HANGUP) == 0) {
		call_end(c, P2P_REASON_HANGUP,
		         c->outgoing ? "the caller hung up" : "the callee hung up", TRUE);
	} else if (c->state != CALL_ACTIVE) {
		g_debug("call %s: page sent %s before the call was accepted", c->id, m.type);
	} else if ((strcmp(m.type, P2P_CALL_OFFER) == 0 && c->outgoing && m.sdp) ||
	           (strcmp(m.type, P2P_CALL_ANSWER) == 0 && !c->outgoing && m.sdp) ||
	           (strcmp(m.type, P2P_CALL_CANDIDATE) == 0 && m.candidate)) {
		page_relay(c, &m);
	} else {
		g_warning("call %s: unexpected message \"%s\" from the page", c->id, m.type);
	}
}

static void
ws_closed_cb(SoupWebsocketConnection *ws, gpointer data)
{
	Call *c = data;
	g_signal_handlers_disconnect_by_data(ws, c);
	ws_release(g_steal_pointer(&c->ws), NULL);
	/* the page is the call: closing its tab hangs up */
	call_end(c, P2P_REASON_HANGUP,
	         c->outgoing ? "the caller closed the call page" : "the callee closed the call page",
	         TRUE);
}

/* ---- control entry points --------------------------------------------------------- */

static gboolean
peer_supports_calls(P2pSession *s)
{
	return p2p_session_peer_has_cap(s, P2P_CALL_CAP);
}

/* Sends RING for an outgoing call once its session is ready. */
static void
ring(Call *c, P2pSession *s)
{
	if (!peer_supports_calls(s)) {
		g_autofree char *m = g_strdup_printf("the p2pd of %s does not take calls", c->peer);
		call_end(c, P2P_REASON_UNSUPPORTED, m, FALSE);
		return;
	}
	c->session = s;
	if (!send_frame(c, P2P_CALL_RING, NULL))
		call_end(c, P2P_REASON_DISCONNECTED, "the session to the peer is gone", FALSE);
}

JsonNode *
p2p_call_start(P2pDaemon *d, P2pPeer *peer, GError **error)
{
	P2pCalls *cs = calls_get(d);
	char id[P2P_CALL_ID_LEN + 1];

	if (!peer->online) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PEER_OFFLINE, "%s is offline", peer->id);
		return NULL;
	}
	if (live_count(cs) >= P2P_CALL_MAX_LIVE) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT, "%d calls are already going on",
		            P2P_CALL_MAX_LIVE);
		return NULL;
	}
	if (!listen_page_server(cs, error))
		return NULL;
	g_snprintf(id, sizeof(id), "%08x%08x", g_random_int(), g_random_int());
	Call *c = call_new(cs, id, peer->id, TRUE);
	new_token(c);
	g_info("call %s: calling %s", c->id, peer->id);
	if (peer->session && p2p_session_get_state(peer->session) == P2P_SESSION_READY) {
		ring(c, peer->session);
	} else if (peer->session == NULL) {
		g_autoptr(GError) local = NULL;
		if (p2p_session_connect(d, peer, &local) == NULL) {
			g_autofree char *m = g_strdup_printf("cannot reach %s: %s", peer->id,
			                                     local->message);
			call_end(c, P2P_REASON_DISCONNECTED, m, FALSE);
		}
	}
	/* else: RING goes out from p2p_call_session_ready */
	if (c->state == CALL_ENDED) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE, "%s", c->message);
		return NULL;
	}
	return call_json_with_url(c);
}

/* The call id names, or the only one that matches when id is NULL. */
static Call *
find_call(P2pCalls *cs, const char *id, gboolean ringing_in, GError **error)
{
	if (id) {
		Call *c = cs ? g_hash_table_lookup(cs->by_id, id) : NULL;
		if (c == NULL)
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_NOT_FOUND, "no call with id \"%s\"", id);
		return c;
	}
	Call *found = NULL;
	guint n = 0;
	GHashTableIter it;
	gpointer v;
	if (cs) {
		g_hash_table_iter_init(&it, cs->by_id);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			Call *c = v;
			if (c->state == CALL_ENDED ||
			    (ringing_in && (c->outgoing || c->state != CALL_RINGING)))
				continue;
			found = c;
			n++;
		}
	}
	if (n == 1)
		return found;
	const char *what = ringing_in ? "ringing here" : "going on";
	if (n == 0)
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_NOT_FOUND, "no call is %s", what);
	else
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "%u calls are %s: name one (see call.list)", n, what);
	return NULL;
}

JsonNode *
p2p_call_answer(P2pDaemon *d, const char *id, GError **error)
{
	Call *c = find_call(d->calls, id, TRUE, error);
	if (c == NULL)
		return NULL;
	if (c->state == CALL_ENDED) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE, "call %s has ended: %s", c->id,
		            c->message);
		return NULL;
	}
	if (c->ws) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "call %s already has its page open", c->id);
		return NULL;
	}
	if (!listen_page_server(d->calls, error))
		return NULL;
	new_token(c);
	return call_json_with_url(c);
}

JsonNode *
p2p_call_hangup(P2pDaemon *d, const char *id, GError **error)
{
	Call *c = find_call(d->calls, id, FALSE, error);
	if (c == NULL)
		return NULL;
	if (c->state == CALL_ENDED) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE, "call %s has already ended: %s",
		            c->id, c->message);
		return NULL;
	}
	g_autofree char *m = g_strdup_printf("%s hung up", d->cfg->agent);
	call_end(c, P2P_REASON_HANGUP, m, TRUE);
	return call_json(c);
}

static gint
call_cmp(gconstpointer a, gconstpointer b)
{
	const Call *ca = *(Call *const *)a;
	const Call *cb = *(Call *const *)b;
	return ca->started < cb->started ? -1 : ca->started > cb->started;
}

JsonNode *
p2p_call_list(P2pDaemon *d)
{
	JsonArray *a = json_array_new();
	if (d->calls) {
		g_autoptr(GPtrArray) all = p2p_hash_values(d->calls->by_id);
		g_ptr_array_sort(all, call_cmp);
		for (guint i = 0; i < all->len; i++)
			json_array_add_element(a, call_json(all->pdata[i]));
	}
	JsonObject *o = json_object_new();
	json_object_set_array_member(o, "calls", a);
	return p2p_json_node_take_object(o);
}

/* ---- session events ---------------------------------------------------------------- */

void
p2p_call_session_ready(P2pDaemon *d, P2pSession *s)
{
	if (d->calls == NULL)
		return;
	g_autoptr(GPtrArray) all = p2p_hash_values(d->calls->by_id);
	for (guint i = 0; i < all->len; i++) {
		Call *c = all->pdata[i];
		if (c->outgoing && c->state == CALL_RINGING && c->session == NULL &&
		    strcmp(c->peer, p2p_session_peer_id(s)) == 0)
			ring(c, s);
	}
}

void
p2p_call_session_closed(P2pDaemon *d, P2pSession *s, gboolean taken_over)
{
	if (d->calls == NULL)
		return;
	g_autoptr(GPtrArray) all = p2p_hash_values(d->calls->by_id);
	for (guint i = 0; i < all->len; i++) {
		Call *c = all->pdata[i];
		if (c->state == CALL_ENDED)
			continue;
		if (c->session == s ||
		    (c->session == NULL && !taken_over && strcmp(c->peer, p2p_session_peer_id(s)) == 0)) {
			g_autofree char *m = g_strdup_printf("the connection to %s was lost", c->peer);
			call_end(c, P2P_REASON_DISCONNECTED, m, FALSE);
		}
	}
}

typedef struct {
	const char *call;
	const char *kind;
	const char *sdp;
	const char *candidate;
	const char *mid;
	gint64 mline;
	const char *code;
	const char *message;
} CallFrame;

static const P2pField frame_fields[] = {
	P2P_FIELD(CallFrame, call, "call", P2P_FIELD_STRING, TRUE, P2P_CALL_ID_LEN),
	P2P_FIELD(CallFrame, kind, "kind", P2P_FIELD_STRING, TRUE, 16),
	P2P_FIELD(CallFrame, sdp, "sdp", P2P_FIELD_STRING, FALSE, P2P_CALL_MAX_SDP),
	P2P_FIELD(CallFrame, candidate, "candidate", P2P_FIELD_STRING, FALSE, P2P_CALL_MAX_CANDIDATE),
	P2P_FIELD(CallFrame, mid, "mid", P2P_FIELD_STRING, FALSE, 64),
	P2P_FIELD(CallFrame, mline, "mline", P2P_FIELD_INT, FALSE, 0),
	P2P_FIELD(CallFrame, code, "code", P2P_FIELD_STRING, FALSE, 32),
	P2P_FIELD(CallFrame, message, "message", P2P_FIELD_STRING, FALSE, 512),
	{ NULL },
};

/* Per-peer limit on incoming CALL frames. */
static gboolean
peer_rate_ok(P2pCalls *cs, const char *peer)
{
	P2pRateLimit *r = g_hash_table_lookup(cs->rates, peer);
	if (r == NULL) {
		r = g_new0(P2pRateLimit, 1);
		p2p_rate_limit_init(r, P2P_CALL_IN_BURST);
		g_hash_table_insert(cs->rates, g_strdup(peer), r);
	}
	return p2p_rate_limit_take(r, P2P_CALL_IN_BURST, P2P_CALL_IN_RATE);
}

static void
on_ring(P2pCalls *cs, P2pSession *s, const char *id)
{
	const char *peer = p2p_session_peer_id(s);

	if (g_hash_table_contains(cs->by_id, id)) {
		g_debug("call %s: RING again from %s, ignored", id, peer);
		return;
	}
	if (live_count(cs) >= P2P_CALL_MAX_LIVE) {
		g_autoptr(JsonObject) o = json_object_new();
		g_autofree char *m = g_strdup_printf("%s is busy: %d calls are going on",
		                                     cs->d->cfg->agent, P2P_CALL_MAX_LIVE);
		json_object_set_string_member(o, "call", id);
		json_object_set_string_member(o, "kind", P2P_CALL_HANGUP);
		json_object_set_string_member(o, "code", P2P_REASON_BUSY);
		json_object_set_string_member(o, "message", m);
		p2p_channel_send_json(p2p_session_get_channel(s), P2P_FRAME_CALL, o, NULL);
		g_info("call %s from %s refused: busy", id, peer);
		return;
	}
	Call *c = call_new(cs, id, peer, FALSE);
	c->session = s;
	g_info("call %s: %s is calling", id, peer);
	emit(c, P2P_E_CALL_INCOMING);
}

void
p2p_call_frame(P2pDaemon *d, P2pSession *s, JsonObject *o)
{
	P2pCalls *cs = calls_get(d);
	CallFrame f = { 0 };
	g_autoptr(GError) error = NULL;
	const char *peer = p2p_session_peer_id(s);

	if (!p2p_schema_decode(o, frame_fields, &f, &error) ||
	    !p2p_hex_id_valid(f.call, P2P_CALL_ID_LEN)) {
		g_autofree char *m = g_strdup_printf("bad call frame: %s",
		                                     error ? error->message
		                                           : "call is not 16 hex digits");
		g_warning("session %s: %s", peer, m);
		p2p_session_close(s, P2P_REASON_PROTOCOL, m);
		return;
	}
	if (!peer_rate_ok(cs, peer)) {
		g_info("call %s: %s sends more than %d call frames a second; dropped", f.call, peer,
		       P2P_CALL_IN_RATE);
		return;
	}
	if (strcmp(f.kind, P2P_CALL_RING) == 0) {
		on_ring(cs, s, f.call);
		return;
	}
	Call *c = g_hash_table_lookup(cs->by_id, f.call);
	/* a peer only ever speaks for its own calls */
	if (c == NULL || c->state == CALL_ENDED || strcmp(c->peer, peer) != 0) {
		g_debug("call %s: %s from %s for no call of theirs", f.call, f.kind, peer);
		return;
	}
	if (strcmp(f.kind, P2P_CALL_HANGUP) == 0) {
		g_autofree char *m = g_strdup_printf("%s hung up", peer);
		const char *code = f.code ? f.code : P2P_REASON_HANGUP;
		call_end(c, code, f.message ? f.message : m, FALSE);
	} else if (strcmp(f.kind, P2P_CALL_ACCEPT) == 0 && c->outgoing &&
	           c->state == CALL_RINGING) {
		c->state = CALL_ACTIVE;
		g_clear_handle_id(&c->ring_timer, g_source_remove);
		g_info("call %s: %s answered", c->id, peer);
		page_send(c, page_msg("accept"));
		emit(c, P2P_E_CALL_STATE);
	} else if (c->state == CALL_ACTIVE &&
	           ((strcmp(f.kind, P2P_CALL_OFFER) == 0 && !c->outgoing && f.sdp) ||
	            (strcmp(f.kind, P2P_CALL_ANSWER) == 0 && c->outgoing && f.sdp))) {
		JsonObject *m = page_msg(f.kind);
		json_object_set_string_member(m, "sdp", f.sdp);
		page_send(c, m);
	} else if (c->state == CALL_ACTIVE && strcmp(f.kind, P2P_CALL_CANDIDATE) == 0 &&
	           f.candidate) {
		JsonObject *m = page_msg(f.kind);
		json_object_set_string_member(m, "candidate", f.candidate);
		json_object_set_string_member(m, "mid", f.mid ? f.mid : "");
		json_object_set_int_member(m, "mline", f.mline);
		page_send(c, m);
	} else {
		g_debug("call %s: unexpected %s from %s while %s", c->id, f.kind, peer,
		        state_name(c->state));
	}
}

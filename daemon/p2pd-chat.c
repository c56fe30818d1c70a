/* p2pd-chat.c: see p2pd-chat.h.
 *
 * Outgoing: chat.send stores the message (queued) and sends CHAT at once when a session
 * is ready (sent), else asks for one; every session that becomes ready gets the
 * peer's queued and unacknowledged messages again, oldest first. CHAT_ACK marks one
 * delivered. Incoming: CHAT is stored unless that (peer, id) is already there, and
 * acknowledged either way; only a new one raises chat_message. */
#include "config.h"

#include <gio/gio.h>

#include <sqlite3.h>
#include <string.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2pd-chat.h"
#include "p2pd-testhooks.h"
#include "p2pd-session.h"

#define CHAT_ID_LEN 16

/* What the daemon remembers of one peer between messages (rates, typing). */
typedef struct {
	gint64 out_start;   /* monotonic: the current second of chat.send */
	guint out_count;
	P2pRateLimit in;    /* CHAT frames this peer may still send now */
	gint64 typing_sent; /* monotonic, last TYPING to this peer */
} ChatPeer;

static ChatPeer *
chat_peer(P2pDaemon *d, const char *id)
{
	if (d->chat == NULL)
		d->chat = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	ChatPeer *cp = g_hash_table_lookup(d->chat, id);
	if (cp == NULL) {
		cp = g_new0(ChatPeer, 1);
		p2p_rate_limit_init(&cp->in, P2P_CHAT_IN_BURST);
		g_hash_table_insert(d->chat, g_strdup(id), cp);
	}
	return cp;
}

void
p2p_chat_free(P2pDaemon *d)
{
	g_clear_pointer(&d->chat, g_hash_table_destroy);
}

static void
db_warn(sqlite3 *db, const char *what)
{
	g_warning("state database: chat: %s: %s", what, sqlite3_errmsg(db));
}

static sqlite3_stmt *
prepare(P2pDaemon *d, const char *sql)
{
	sqlite3 *db = p2p_state_db(d->state);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_warn(db, sql);
		return NULL;
	}
	return st;
}

static JsonNode *
message_json(const char *peer, const char *id, gboolean outgoing, const char *text, double ts,
             const char *state)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "id", id);
	json_object_set_string_member(o, "peer", peer);
	json_object_set_string_member(o, "direction", outgoing ? "out" : "in");
	json_object_set_string_member(o, "text", text);
	json_object_set_double_member(o, "ts", ts);
	json_object_set_string_member(o, "state", state);
	return p2p_json_node_take_object(o);
}

static void
set_state(P2pDaemon *d, const char *peer, const char *id, const char *state)
{
	sqlite3_stmt *st = prepare(d, "UPDATE chat SET state = ?3 WHERE peer = ?1 AND outgoing = 1 "
	                              "AND id = ?2 AND state != 'delivered'");
	if (st == NULL)
		return;
	sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_warn(p2p_state_db(d->state), "updating a message");
	sqlite3_finalize(st);
}

static P2pChannel *
ready_channel(P2pPeer *peer)
{
	if (peer == NULL || peer->session == NULL ||
	    p2p_session_get_state(peer->session) != P2P_SESSION_READY)
		return NULL;
	return p2p_session_get_channel(peer->session);
}

static gboolean
send_chat(P2pChannel *c, const char *id, const char *text, double ts)
{
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_string_member(o, "id", id);
	json_object_set_string_member(o, "text", text);
	json_object_set_int_member(o, "ts", (gint64)(ts * 1000));
	if (p2p_test_hooks && p2p_test_hooks->chat)
		p2p_test_hooks->chat(o);
	return p2p_channel_send_json(c, P2P_FRAME_CHAT, o, NULL);
}

JsonNode *
p2p_chat_send(P2pDaemon *d, P2pPeer *peer, const char *text, GError **error)
{
	gsize len = strlen(text);
	ChatPeer *cp = chat_peer(d, peer->id);
	gint64 now = g_get_monotonic_time();

	if (len == 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, "text is empty");
		return NULL;
	}
	if (len > P2P_CHAT_MAX_TEXT) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "text is longer than %d bytes (%" G_GSIZE_FORMAT ")", P2P_CHAT_MAX_TEXT, len);
		return NULL;
	}
	if (now - cp->out_start >= G_USEC_PER_SEC) {
		cp->out_start = now;
		cp->out_count = 0;
	}
	if (cp->out_count >= P2P_CHAT_RATE) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT, "more than %d messages a second to %s",
		            P2P_CHAT_RATE, peer->id);
		return NULL;
	}
	cp->out_count++;

	char id[CHAT_ID_LEN + 1];
	g_snprintf(id, sizeof(id), "%08x%08x", g_random_int(), g_random_int());
	double ts = g_get_real_time() / 1e6;
	sqlite3_stmt *st = prepare(d, "INSERT INTO chat (peer, id, outgoing, text, ts, state) "
	                              "VALUES (?1, ?2, 1, ?3, ?4, 'queued')");
	if (st == NULL || (sqlite3_bind_text(st, 1, peer->id, -1, SQLITE_STATIC),
	                   sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC),
	                   sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC),
	                   sqlite3_bind_double(st, 4, ts), sqlite3_step(st)) != SQLITE_DONE) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot store the message: %s",
		            sqlite3_errmsg(p2p_state_db(d->state)));
		sqlite3_finalize(st);
		return NULL;
	}
	sqlite3_finalize(st);

	const char *state = "queued";
	P2pChannel *c = ready_channel(peer);
	if (c && send_chat(c, id, text, ts)) {
		state = "sent";
		set_state(d, peer->id, id, state);
	} else if (peer->online && peer->session == NULL) {
		g_autoptr(GError) local = NULL;
		if (p2p_session_connect(d, peer, &local) == NULL)
			g_warning("chat: cannot start a session with %s: %s", peer->id, local->message);
	}
	p2p_daemon_emit(d, P2P_E_CHAT_MESSAGE, message_json(peer->id, id, TRUE, text, ts, state));
	return message_json(peer->id, id, TRUE, text, ts, state);
}

void
p2p_chat_typing(P2pDaemon *d, P2pPeer *peer)
{
	ChatPeer *cp = chat_peer(d, peer->id);
	gint64 now = g_get_monotonic_time();
	P2pChannel *c = ready_channel(peer);

	if (c == NULL) {
		/* the first keystrokes of a conversation bring the session up, so that the peer
		 * sees the typing before the first message */
		if (peer->online && peer->session == NULL) {
			g_autoptr(GError) local = NULL;
			if (p2p_session_connect(d, peer, &local) == NULL)
				g_warning("chat: cannot start a session with %s: %s", peer->id,
				          local->message);
		}
		return;
	}
	if (cp->typing_sent && now - cp->typing_sent < P2P_CHAT_TYPING_EVERY * G_USEC_PER_SEC)
		return;
	cp->typing_sent = now;
	g_autoptr(JsonObject) o = json_object_new();
	p2p_channel_send_json(c, P2P_FRAME_TYPING, o, NULL);
}

JsonNode *
p2p_chat_history(P2pDaemon *d, const char *peer, guint limit, GError **error)
{
	sqlite3_stmt *st = prepare(d, "SELECT id, outgoing, text, ts, state FROM chat "
	                              "WHERE peer = ?1 ORDER BY seq DESC LIMIT ?2");
	if (st == NULL) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot read the chat history");
		return NULL;
	}
	sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	while (sqlite3_step(st) == SQLITE_ROW) {
		g_ptr_array_add(rows, message_json(peer, (const char *)sqlite3_column_text(st, 0),
		                                   sqlite3_column_int(st, 1),
		                                   (const char *)sqlite3_column_text(st, 2),
		                                   sqlite3_column_double(st, 3),
		                                   (const char *)sqlite3_column_text(st, 4)));
	}
	sqlite3_finalize(st);
	JsonArray *a = json_array_sized_new(rows->len);
	for (guint i = rows->len; i-- > 0;)
		json_array_add_element(a, json_node_ref(rows->pdata[i]));
	JsonObject *o = json_object_new();
	json_object_set_array_member(o, "messages", a);
	return p2p_json_node_take_object(o);
}

gboolean
p2p_chat_has_queued(P2pDaemon *d, const char *peer)
{
	sqlite3_stmt *st = prepare(d, "SELECT 1 FROM chat WHERE peer = ?1 AND outgoing = 1 "
	                              "AND state != 'delivered' LIMIT 1");
	if (st == NULL)
		return FALSE;
	sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
	gboolean any = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return any;
}

void
p2p_chat_session_ready(P2pDaemon *d, P2pSession *s)
{
	const char *peer = p2p_session_peer_id(s);
	P2pChannel *c = p2p_session_get_channel(s);
	sqlite3_stmt *st = prepare(d, "SELECT id, text, ts FROM chat WHERE peer = ?1 AND "
	                              "outgoing = 1 AND state != 'delivered' ORDER BY seq");
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func(g_free);

	if (st == NULL || c == NULL)
		return;
	sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (!send_chat(c, id, (const char *)sqlite3_column_text(st, 1),
		               sqlite3_column_double(st, 2)))
			break;
		g_ptr_array_add(sent, g_strdup(id));
	}
	sqlite3_finalize(st);
	for (guint i = 0; i < sent->len; i++)
		set_state(d, peer, sent->pdata[i], "sent");
	if (sent->len)
		g_info("chat: %u waiting messages sent to %s", sent->len, peer);
}

typedef struct {
	const char *id;
	const char *text;
	gint64 ts;
} ChatFields;

static const P2pField chat_fields[] = {
	P2P_FIELD(ChatFields, id, "id", P2P_FIELD_STRING, TRUE, CHAT_ID_LEN),
	P2P_FIELD(ChatFields, text, "text", P2P_FIELD_STRING, TRUE, P2P_CHAT_MAX_TEXT),
	P2P_FIELD(ChatFields, ts, "ts", P2P_FIELD_INT, TRUE, 0),
	{ NULL },
};
static const P2pField ack_fields[] = {
	P2P_FIELD(ChatFields, id, "id", P2P_FIELD_STRING, TRUE, CHAT_ID_LEN),
	{ NULL },
};
static const P2pField typing_fields[] = {
	{ NULL },
};

static void
on_chat(P2pDaemon *d, P2pSession *s, const ChatFields *f)
{
	const char *peer = p2p_session_peer_id(s);
	sqlite3 *db = p2p_state_db(d->state);

	/* a burst of P2P_CHAT_IN_BURST, then P2P_CHAT_IN_RATE a second: beyond that a CHAT is
	 * dropped unacknowledged, and its sender sends it again on the next session */
	if (!p2p_rate_limit_take(&chat_peer(d, peer)->in, P2P_CHAT_IN_BURST, P2P_CHAT_IN_RATE)) {
		g_info("chat: %s sends faster than %d messages a second; message %s dropped",
		       peer, P2P_CHAT_IN_RATE, f->id);
		return;
	}
	double ts = f->ts / 1000.0;
	sqlite3_stmt *st = prepare(d, "INSERT OR IGNORE INTO chat (peer, id, outgoing, text, ts, "
	                              "state) VALUES (?1, ?2, 0, ?3, ?4, 'received')");
	if (st == NULL)
		return;
	sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->text, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, ts);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_warn(db, "storing a message");
		return; /* not acknowledged: it comes again */
	}
	if (sqlite3_changes(db) > 0)
		p2p_daemon_emit(d, P2P_E_CHAT_MESSAGE,
		                message_json(peer, f->id, FALSE, f->text, ts, "received"));
	g_autoptr(JsonObject) ack = json_object_new();
	json_object_set_string_member(ack, "id", f->id);
	p2p_channel_send_json(p2p_session_get_channel(s), P2P_FRAME_CHAT_ACK, ack, NULL);
}

static void
on_ack(P2pDaemon *d, P2pSession *s, const char *id)
{
	const char *peer = p2p_session_peer_id(s);
	sqlite3 *db = p2p_state_db(d->state);

	set_state(d, peer, id, "delivered");
	if (sqlite3_changes(db) == 0)
		return; /* unknown or already delivered: nothing to say */
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "id", id);
	json_object_set_string_member(o, "peer", peer);
	p2p_daemon_emit(d, P2P_E_CHAT_DELIVERED, p2p_json_node_take_object(o));
}

void
p2p_chat_frame(P2pDaemon *d, P2pSession *s, guint8 type, JsonObject *o)
{
	ChatFields f = { 0 };
	g_autoptr(GError) error = NULL;
	const P2pField *fields = type == P2P_FRAME_CHAT       ? chat_fields
	                         : type == P2P_FRAME_CHAT_ACK ? ack_fields
	                                                      : typing_fields;

	gboolean decoded = p2p_schema_decode(o, fields, &f, &error);
	gboolean bad_id = decoded && f.id && !p2p_hex_id_valid(f.id, CHAT_ID_LEN);
	if (!decoded || bad_id || (type == P2P_FRAME_CHAT && f.text[0] == '\0')) {
		g_autofree char *m = g_strdup_printf("bad %s frame: %s", p2p_frame_type_name(type),
		                                     error    ? error->message
		                                     : bad_id ? "id is not 16 hex digits"
		                                              : "empty text");
		g_warning("session %s: %s", p2p_session_peer_id(s), m);
		p2p_session_close(s, P2P_REASON_PROTOCOL, m);
		return;
	}
	switch (type) {
	case P2P_FRAME_CHAT:
		on_chat(d, s, &f);
		break;
	case P2P_FRAME_CHAT_ACK:
		on_ack(d, s, f.id);
		break;
	case P2P_FRAME_TYPING: {
		JsonObject *e = json_object_new();
		json_object_set_string_member(e, "peer", p2p_session_peer_id(s));
		p2p_daemon_emit(d, P2P_E_CHAT_TYPING, p2p_json_node_take_object(e));
		break;
	}
	default:
		break;
	}
}

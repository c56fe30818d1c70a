/* signald-router.c: see signald-router.h. */
#include "config.h"

#include <string.h>

#include "p2p-jsonrpc.h"
#include "signald-router.h"

/* The online sessions of one key. */
typedef struct {
	const SignaldKey *key;
	GHashTable *agents; /* agent (borrowed from the peer) -> SignaldPeer * */
} KeyRoom;

struct _SignaldRouter {
	GHashTable *rooms; /* key name (borrowed from the key) -> KeyRoom * */
	SignaldDeliverFunc deliver;
	gpointer user_data;
	gboolean quiet;
};

static void
key_room_free(KeyRoom *room)
{
	g_hash_table_unref(room->agents);
	g_free(room);
}

SignaldRouter *
signald_router_new(SignaldDeliverFunc deliver, gpointer user_data)
{
	SignaldRouter *r = g_new0(SignaldRouter, 1);

	r->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                 (GDestroyNotify)key_room_free);
	r->deliver = deliver;
	r->user_data = user_data;
	return r;
}

void
signald_router_free(SignaldRouter *r)
{
	if (r == NULL)
		return;
	g_hash_table_unref(r->rooms);
	g_free(r);
}

void
signald_router_set_quiet(SignaldRouter *r, gboolean quiet)
{
	r->quiet = quiet;
}

char *
signald_visible_id(const SignaldKey *viewer, const SignaldKey *target, const char *agent)
{
	if (viewer == target)
		return g_strdup(agent);
	if (signald_keys_are_partners(viewer, target))
		return g_strdup_printf("%s.%s", target->name, agent);
	return NULL;
}

gboolean
signald_fingerprint_valid(const char *fp, GError **error)
{
	gboolean ok = strlen(fp) == SIGNALD_FINGERPRINT_LEN;

	for (const char *p = fp; ok && *p; p++)
		ok = g_ascii_isdigit(*p) || (*p >= 'a' && *p <= 'f');
	if (!ok)
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "fingerprint \"%s\" must be %d lowercase hexadecimal digits (SHA-256)",
		            fp, SIGNALD_FINGERPRINT_LEN);
	return ok;
}

gboolean
signald_signal_kind_valid(const char *kind)
{
	static const char *const kinds[] = {
		P2P_SK_OFFER, P2P_SK_ANSWER, P2P_SK_CANDIDATE, P2P_SK_END, P2P_SK_BYE, NULL,
	};
	return g_strv_contains(kinds, kind);
}

guint
signald_router_count(SignaldRouter *r, const SignaldKey *key)
{
	KeyRoom *room = g_hash_table_lookup(r->rooms, key->name);
	return room ? g_hash_table_size(room->agents) : 0;
}

SignaldPeer *
signald_router_lookup(SignaldRouter *r, const SignaldKey *key, const char *agent)
{
	KeyRoom *room = g_hash_table_lookup(r->rooms, key->name);
	return room ? g_hash_table_lookup(room->agents, agent) : NULL;
}

/* Calls fn for every routed peer that viewer may see (never viewer itself). */
typedef void (*PeerFunc)(SignaldPeer *peer, const SignaldPeer *viewer, gpointer data);

static void
foreach_visible(SignaldRouter *r, const SignaldPeer *viewer, PeerFunc fn, gpointer data)
{
	GHashTableIter it;
	gpointer v;
	KeyRoom *own = g_hash_table_lookup(r->rooms, viewer->key->name);

	if (own) {
		g_hash_table_iter_init(&it, own->agents);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			if (v != viewer && strcmp(((SignaldPeer *)v)->agent, viewer->agent) != 0)
				fn(v, viewer, data);
		}
	}
	for (char **p = viewer->key->partners; *p; p++) {
		KeyRoom *room = g_hash_table_lookup(r->rooms, *p);
		if (room == NULL || !signald_keys_are_partners(viewer->key, room->key))
			continue;
		g_hash_table_iter_init(&it, room->agents);
		while (g_hash_table_iter_next(&it, NULL, &v))
			fn(v, viewer, data);
	}
}

static void
send_presence(SignaldRouter *r, SignaldPeer *to, const SignaldPeer *about, gboolean online)
{
	g_autofree char *id = signald_visible_id(to->key, about->key, about->agent);
	g_autoptr(JsonBuilder) b = json_builder_new();

	if (id == NULL || r->quiet)
		return;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "id");
	json_builder_add_string_value(b, id);
	json_builder_set_member_name(b, "fingerprint");
	json_builder_add_string_value(b, about->fingerprint);
	json_builder_set_member_name(b, "online");
	json_builder_add_boolean_value(b, online);
	json_builder_end_object(b);
	g_autofree char *line = p2p_rpc_build_notification(P2P_S_N_PRESENCE,
	                                                   json_builder_get_root(b));
	r->deliver(to->owner, line, r->user_data);
}

typedef struct {
	SignaldRouter *r;
	gboolean online;
} PresenceCtx;

static void
presence_cb(SignaldPeer *peer, const SignaldPeer *about, gpointer data)
{
	PresenceCtx *ctx = data;
	/* Visibility is symmetric, so "about sees peer" means "peer sees about". */
	send_presence(ctx->r, peer, about, ctx->online);
}

SignaldPeer *
signald_router_add(SignaldRouter *r, SignaldPeer *peer)
{
	KeyRoom *room = g_hash_table_lookup(r->rooms, peer->key->name);
	SignaldPeer *old;

	if (room == NULL) {
		room = g_new0(KeyRoom, 1);
		room->key = peer->key;
		room->agents = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(r->rooms, peer->key->name, room);
	}
	old = g_hash_table_lookup(room->agents, peer->agent);
	/* replace, not insert: the table key is the new peer's own string */
	g_hash_table_replace(room->agents, peer->agent, peer);
	PresenceCtx ctx = { r, TRUE };
	foreach_visible(r, peer, presence_cb, &ctx);
	return old;
}

void
signald_router_remove(SignaldRouter *r, SignaldPeer *peer)
{
	KeyRoom *room = g_hash_table_lookup(r->rooms, peer->key->name);

	if (room == NULL || g_hash_table_lookup(room->agents, peer->agent) != peer)
		return;
	g_hash_table_remove(room->agents, peer->agent);
	PresenceCtx ctx = { r, FALSE };
	foreach_visible(r, peer, presence_cb, &ctx);
	if (g_hash_table_size(room->agents) == 0)
		g_hash_table_remove(r->rooms, peer->key->name);
}

typedef struct {
	char *id;
	const char *fingerprint;
} PeerEntry;

static void
collect_cb(SignaldPeer *peer, const SignaldPeer *viewer, gpointer data)
{
	PeerEntry e = { signald_visible_id(viewer->key, peer->key, peer->agent),
	                peer->fingerprint };
	g_array_append_val((GArray *)data, e);
}

static gint
entry_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(((const PeerEntry *)a)->id, ((const PeerEntry *)b)->id);
}

JsonNode *
signald_router_peers(SignaldRouter *r, const SignaldPeer *viewer)
{
	g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(PeerEntry));
	g_autoptr(JsonBuilder) b = json_builder_new();

	foreach_visible(r, viewer, collect_cb, list);
	g_array_sort(list, entry_cmp);
	json_builder_begin_array(b);
	for (guint i = 0; i < list->len; i++) {
		PeerEntry *e = &g_array_index(list, PeerEntry, i);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, e->id);
		json_builder_set_member_name(b, "fingerprint");
		json_builder_add_string_value(b, e->fingerprint);
		json_builder_end_object(b);
		g_free(e->id);
	}
	json_builder_end_array(b);
	return json_builder_get_root(b);
}

SignaldPeer *
signald_router_resolve(SignaldRouter *r, const SignaldPeer *viewer, const char *id)
{
	const char *dot = strchr(id, '.');
	KeyRoom *room;
	SignaldPeer *peer;

	if (dot == NULL) {
		room = g_hash_table_lookup(r->rooms, viewer->key->name);
		peer = room ? g_hash_table_lookup(room->agents, id) : NULL;
		return peer == viewer ? NULL : peer;
	}
	g_autofree char *key_name = g_strndup(id, dot - id);
	room = g_hash_table_lookup(r->rooms, key_name);
	/* The own key by "KEY.AGENT" is refused: ids are exactly as peers/presence show them. */
	if (room == NULL || !signald_keys_are_partners(viewer->key, room->key))
		return NULL;
	return g_hash_table_lookup(room->agents, dot + 1);
}

static void
add_string(JsonBuilder *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

gboolean
signald_router_signal(SignaldRouter *r, const SignaldPeer *sender, const SignaldSignal *sig,
                      GError **error)
{
	SignaldPeer *target = signald_router_resolve(r, sender, sig->to);
	g_autoptr(JsonBuilder) b = json_builder_new();

	if (target == NULL) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_UNKNOWN_PEER,
		            "no online peer \"%s\" visible to you", sig->to);
		return FALSE;
	}
	g_autofree char *from = signald_visible_id(target->key, sender->key, sender->agent);
	json_builder_begin_object(b);
	add_string(b, "from", from);
	add_string(b, "fingerprint", sender->fingerprint);
	add_string(b, "kind", sig->kind);
	add_string(b, "session", sig->session);
	add_string(b, "ufrag", sig->ufrag);
	add_string(b, "pwd", sig->pwd);
	add_string(b, "transport", sig->transport);
	if (sig->candidates) {
		json_builder_set_member_name(b, "candidates");
		json_builder_begin_array(b);
		for (guint i = 0; i < json_array_get_length(sig->candidates); i++)
			json_builder_add_string_value(b, json_array_get_string_element(sig->candidates, i));
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
	g_autofree char *line = p2p_rpc_build_notification(P2P_S_N_SIGNAL, json_builder_get_root(b));
	r->deliver(target->owner, line, r->user_data);
	return TRUE;
}

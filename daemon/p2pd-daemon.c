/* p2pd-daemon.c: see p2pd-daemon.h. */
#include "config.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "p2p-jsonrpc.h"
#include "p2p-log.h"
#include "p2pd-control.h"
#include "p2pd-daemon.h"
#include "p2pd-call.h"
#include "p2pd-chat.h"
#include "p2pd-inbox.h"
#include "p2pd-service.h"
#include "p2pd-session.h"
#include "p2pd-transfer.h"

static void
peer_free(P2pPeer *p)
{
	g_clear_handle_id(&p->retry, g_source_remove);
	if (p->session)
		p2p_session_close(p->session, NULL, NULL);
	g_free(p->id);
	g_free(p->fingerprint);
	g_free(p);
}

void
p2p_rate_limit_init(P2pRateLimit *r, guint burst)
{
	r->tokens = burst;
	r->last = g_get_monotonic_time();
}

gboolean
p2p_rate_limit_take(P2pRateLimit *r, guint burst, guint rate)
{
	gint64 now = g_get_monotonic_time();
	r->tokens = MIN((double)burst, r->tokens + (now - r->last) / 1e6 * rate);
	r->last = now;
	if (r->tokens < 1)
		return FALSE;
	r->tokens -= 1;
	return TRUE;
}

gboolean
p2p_hex_id_valid(const char *id, gsize len)
{
	if (strlen(id) != len)
		return FALSE;
	for (const char *p = id; *p; p++)
		if (!g_ascii_isxdigit(*p))
			return FALSE;
	return TRUE;
}

GPtrArray *
p2p_hash_values(GHashTable *h)
{
	GPtrArray *a = g_ptr_array_sized_new(g_hash_table_size(h));
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, h);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(a, v);
	return a;
}

P2pPeer *
p2p_daemon_lookup_peer(P2pDaemon *d, const char *id)
{
	/* NULL while the daemon is being freed */
	return d->peers ? g_hash_table_lookup(d->peers, id) : NULL;
}

static gint
str_ptr_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
p2p_resolve_alias(const char *const *ids, const char *name, GPtrArray **candidates)
{
	const char *match = NULL;
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);

	for (const char *const *id = ids; *id; id++) {
		if (strcmp(*id, name) == 0)
			return *id; /* the exact id always wins */
	}
	if (strchr(name, '.') == NULL) {
		for (const char *const *id = ids; *id; id++) {
			const char *dot = strchr(*id, '.');
			if (dot && strcmp(dot + 1, name) == 0) {
				match = *id;
				g_ptr_array_add(found, g_strdup(*id));
			}
		}
	}
	if (found->len == 1)
		return match;
	if (found->len > 1 && candidates) {
		/* g_ptr_array_sort hands the comparator pointers to the elements */
		g_ptr_array_sort(found, str_ptr_cmp);
		*candidates = g_steal_pointer(&found);
	}
	return NULL;
}

P2pPeer *
p2p_daemon_resolve_peer(P2pDaemon *d, const char *name, GPtrArray **candidates, GError **error)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;
	GPtrArray *cands = NULL;

	g_hash_table_iter_init(&it, d->peers);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(ids, k);
	g_ptr_array_sort(ids, str_ptr_cmp);
	g_ptr_array_add(ids, NULL);
	const char *id = p2p_resolve_alias((const char *const *)ids->pdata, name, &cands);
	if (id)
		return g_hash_table_lookup(d->peers, id);
	if (cands) {
		g_ptr_array_add(cands, NULL);
		g_autofree char *list = g_strjoinv(", ", (char **)cands->pdata);
		g_ptr_array_remove_index(cands, cands->len - 1);
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_AMBIGUOUS_PEER,
		            "peer name \"%s\" is ambiguous; use one of: %s", name, list);
		if (candidates)
			*candidates = cands;
		else
			g_ptr_array_unref(cands);
		return NULL;
	}
	g_set_error(error, P2P_RPC_ERROR, P2P_RPC_UNKNOWN_PEER,
	            "no peer \"%s\" is visible (see p2pctl list)", name);
	return NULL;
}

void
p2p_daemon_emit(P2pDaemon *d, const char *event, JsonNode *params)
{
	if (d->control)
		p2p_control_broadcast(d->control, event, params);
	else
		json_node_unref(params);
}

char *
p2p_daemon_pinned_fingerprint(P2pDaemon *d, const char *peer)
{
	g_autoptr(GError) error = NULL;
	const char *pin = p2p_config_allow_pin(d->cfg, peer);
	if (pin)
		return g_strdup(pin);
	char *fp = p2p_state_pin_get(d->state, peer, &error);
	if (error)
		g_warning("%s", error->message);
	return fp;
}

/* ---- signaling callbacks -------------------------------------------------------- */

static void
emit_peer(P2pDaemon *d, const char *event, P2pPeer *p)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "id", p->id);
	json_object_set_string_member(o, "fingerprint", p->fingerprint);
	p2p_daemon_emit(d, event, p2p_json_node_take_object(o));
}

static void
set_presence(P2pDaemon *d, const char *id, const char *fp, gboolean online)
{
	P2pPeer *p = g_hash_table_lookup(d->peers, id);
	if (p == NULL) {
		if (!online)
			return;
		p = g_new0(P2pPeer, 1);
		p->id = g_strdup(id);
		p->daemon = d;
		g_hash_table_insert(d->peers, p->id, p);
	}
	if (g_strcmp0(p->fingerprint, fp) != 0) {
		g_free(p->fingerprint);
		p->fingerprint = g_strdup(fp);
	}
	if (p->online == online)
		return;
	p->online = online;
	p2p_log_fields(G_LOG_LEVEL_INFO, id, NULL, -1, NULL, "peer %s is %s", id,
	               online ? "online" : "offline");
	p2p_service_status(d->service);
	emit_peer(d, online ? P2P_E_PEER_ONLINE : P2P_E_PEER_OFFLINE, p);
	if (online)
		p2p_transfers_peer_online(d, p);
}

static void
on_registered(P2pSignal *s, JsonArray *peers, gpointer user)
{
	P2pDaemon *d = user;
	g_autoptr(GHashTable) now = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < json_array_get_length(peers); i++) {
		JsonNode *n = json_array_get_element(peers, i);
		if (!JSON_NODE_HOLDS_OBJECT(n))
			continue;
		JsonObject *o = json_node_get_object(n);
		const char *id = json_object_get_string_member_with_default(o, "id", NULL);
		const char *fp = json_object_get_string_member_with_default(o, "fingerprint", NULL);
		if (id == NULL || fp == NULL)
			continue;
		set_presence(d, id, fp, TRUE);
		g_hash_table_add(now, (gpointer)id);
	}
	/* peers that left while we were away */
	g_autoptr(GPtrArray) all = p2p_hash_values(d->peers);
	for (guint i = 0; i < all->len; i++) {
		P2pPeer *p = all->pdata[i];
		if (!g_hash_table_contains(now, p->id))
			set_presence(d, p->id, p->fingerprint, FALSE);
	}
	p2p_service_status(d->service);
}

static void
on_presence(P2pSignal *s, const char *id, const char *fp, gboolean online, gpointer user)
{
	set_presence(user, id, fp, online);
}

static void
on_signal(P2pSignal *s, JsonObject *params, gpointer user)
{
	p2p_session_handle_signal(user, params);
}

static void
on_lost(P2pSignal *s, const GError *error, gpointer user)
{
	/* sessions already up keep running: the signaling server only introduces peers */
	g_info("signaling lost: %s", error->message);
	p2p_service_status(((P2pDaemon *)user)->service);
}

static const P2pSignalCallbacks signal_cb = {
	.registered = on_registered,
	.presence = on_presence,
	.signal = on_signal,
	.lost = on_lost,
};

/* ---- lifecycle ------------------------------------------------------------------- */

static gboolean
ensure_dir(const char *what, const char *path, mode_t mode, GError **error)
{
	if (g_mkdir_with_parents(path, mode) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "%s: cannot create \"%s\": %s", what, path, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

P2pDaemon *
p2p_daemon_new(P2pConfig *cfg, GError **error)
{
	P2pDaemon *d = g_new0(P2pDaemon, 1);

	d->cfg = cfg;
	d->started = g_get_monotonic_time();
	d->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)peer_free);
	d->transfers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                     (GDestroyNotify)p2p_transfer_free);
	if (!ensure_dir("state-dir", cfg->state_dir, 0700, error) ||
	    !ensure_dir("save-dir", cfg->save_dir, 0750, error))
		goto fail;
	d->identity = p2p_identity_load_or_create(cfg->state_dir, cfg->agent, error);
	if (d->identity == NULL)
		goto fail;
	d->state = p2p_state_open(cfg->state_dir, error);
	if (d->state == NULL)
		goto fail;
	P2pSignalConfig sc = {
		.host = cfg->signal_host,
		.port = cfg->signal_port,
		.ca_file = cfg->signal_ca,
		.api_key = cfg->api_key,
		.agent = cfg->agent,
		.fingerprint = d->identity->fingerprint,
	};
	d->signal = p2p_signal_new(&sc, &signal_cb, d, error);
	if (d->signal == NULL)
		goto fail;
	d->writer = p2p_writer_new(p2p_receive_written, d);
	return d;
fail:
	p2p_daemon_free(d);
	return NULL;
}

gboolean
p2p_daemon_start(P2pDaemon *d, GError **error)
{
	p2p_transfers_load(d);
	d->control = p2p_control_new(d, d->cfg->control_socket, error);
	if (d->control == NULL)
		return FALSE;
	p2p_signal_start(d->signal);
	return TRUE;
}

void
p2p_daemon_free(P2pDaemon *d)
{
	if (d == NULL)
		return;
	d->stopping = TRUE;
	g_clear_pointer(&d->control, p2p_control_free);
	/* calls before sessions: their pages are told, nothing is sent to peers */
	p2p_call_free(d);
	/* sessions first: closing them still looks at transfers */
	g_clear_pointer(&d->peers, g_hash_table_destroy);
	p2p_session_reap_all(d);
	g_clear_pointer(&d->transfers, g_hash_table_destroy);
	/* after the transfers: what is queued still reaches the disk before the exit */
	g_clear_pointer(&d->writer, p2p_writer_free);
	p2p_chat_free(d);
	g_clear_pointer(&d->signal, p2p_signal_free);
	g_clear_pointer(&d->state, p2p_state_close);
	g_clear_pointer(&d->identity, p2p_identity_free);
	g_clear_pointer(&d->cfg, p2p_config_free);
	g_free(d);
}

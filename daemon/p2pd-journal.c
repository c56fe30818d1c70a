/* p2pd-journal.c: see p2pd-journal.h. */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "p2p-jsonrpc.h"
#include "p2pd-journal.h"
#include "p2pd-transfer-internal.h"

#define COLUMNS                                                                          \
	"id, peer, outgoing, xfer, state, name, items, files, dirs, links, size, bytes, "    \
	"wire_bytes, upto, accepted, output, staging, paths, sha256, reason_code, "          \
	"reason_message, taken, started, finished, expires, "                                \
	"(SELECT manifest FROM manifests WHERE manifests.id = transfers.id)"

static void
db_warn(sqlite3 *db, const char *what, const char *id)
{
	g_warning("state database: %s transfer %s: %s", what, id ? id : "?", sqlite3_errmsg(db));
}

static char *
strv_to_json(char **v)
{
	g_autoptr(JsonArray) a = json_array_new();
	for (guint i = 0; v && v[i]; i++)
		json_array_add_string_element(a, v[i]);
	g_autoptr(JsonNode) n = json_node_new(JSON_NODE_ARRAY);
	json_node_set_array(n, a);
	return p2p_json_to_string(n);
}

static char **
strv_from_json(const char *text)
{
	g_autoptr(JsonParser) p = json_parser_new();
	if (text == NULL || !json_parser_load_from_data(p, text, -1, NULL))
		return NULL;
	JsonNode *root = json_parser_get_root(p);
	if (root == NULL || !JSON_NODE_HOLDS_ARRAY(root))
		return NULL;
	JsonArray *a = json_node_get_array(root);
	GPtrArray *v = g_ptr_array_new();
	for (guint i = 0; i < json_array_get_length(a); i++) {
		const char *s = json_array_get_string_element(a, i);
		if (s)
			g_ptr_array_add(v, g_strdup(s));
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void
bind_time(sqlite3_stmt *st, int i, gint64 us)
{
	if (us)
		sqlite3_bind_int64(st, i, us);
	else
		sqlite3_bind_null(st, i);
}

/* Binds columns 1..25 in COLUMNS order. */
static void
bind_row(sqlite3_stmt *st, P2pTransfer *t)
{
	g_autofree char *items = strv_to_json(t->items);
	g_autofree char *paths = t->paths ? strv_to_json(t->paths) : NULL;

	bind_text(st, 1, t->id);
	bind_text(st, 2, t->peer);
	sqlite3_bind_int(st, 3, t->outgoing);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)t->wire_id);
	bind_text(st, 5, p2p_transfer_state_name(t->state));
	bind_text(st, 6, t->name);
	bind_text(st, 7, items);
	sqlite3_bind_int(st, 8, t->files);
	sqlite3_bind_int(st, 9, t->dirs);
	sqlite3_bind_int(st, 10, t->links);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)t->size);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)t->bytes);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)t->wire_bytes);
	sqlite3_bind_int(st, 14, t->upto);
	sqlite3_bind_int(st, 15, t->accepted);
	bind_text(st, 16, t->output);
	bind_text(st, 17, t->staging);
	bind_text(st, 18, paths);
	bind_text(st, 19, t->sha256);
	bind_text(st, 20, t->reason_code);
	bind_text(st, 21, t->reason_message);
	sqlite3_bind_int(st, 22, t->taken);
	sqlite3_bind_int64(st, 23, t->started);
	bind_time(st, 24, t->finished);
	bind_time(st, 25, t->expires);
}

static void
exec_id(sqlite3 *db, const char *sql, const char *id, const char *text)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_warn(db, "recording", id);
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_warn(db, "recording", id);
	sqlite3_finalize(st);
}

void
p2p_journal_insert(P2pTransfer *t)
{
	sqlite3 *db = p2p_state_db(t->d->state);
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO transfers (id, peer, outgoing, xfer, "
	                       "state, name, items, files, dirs, links, size, bytes, wire_bytes, "
	                       "upto, accepted, output, staging, paths, sha256, reason_code, "
	                       "reason_message, taken, started, finished, expires) VALUES "
	                       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		db_warn(db, "recording", t->id);
		return;
	}
	bind_row(st, t);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_warn(db, "recording", t->id);
	sqlite3_finalize(st);
	if (t->manifest && p2p_transfer_is_active(t)) {
		g_autofree char *m = p2p_manifest_to_journal(t->manifest);
		exec_id(db, "INSERT OR REPLACE INTO manifests (id, manifest) VALUES (?1, ?2)", t->id, m);
	}
}

void
p2p_journal_update(P2pTransfer *t)
{
	sqlite3 *db = p2p_state_db(t->d->state);
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "UPDATE transfers SET id = ?1, peer = ?2, outgoing = ?3, "
	                       "xfer = ?4, state = ?5, name = ?6, items = ?7, files = ?8, "
	                       "dirs = ?9, links = ?10, size = ?11, bytes = ?12, wire_bytes = ?13, "
	                       "upto = ?14, accepted = ?15, output = ?16, staging = ?17, "
	                       "paths = ?18, sha256 = ?19, reason_code = ?20, reason_message = ?21, "
	                       "taken = ?22, started = ?23, finished = ?24, expires = ?25 "
	                       "WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		db_warn(db, "updating", t->id);
		return;
	}
	bind_row(st, t);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_warn(db, "updating", t->id);
	sqlite3_finalize(st);
	if (!p2p_transfer_is_active(t))
		exec_id(db, "DELETE FROM manifests WHERE id = ?1", t->id, NULL);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static P2pTransfer *
row_to_transfer(P2pDaemon *d, sqlite3_stmt *st)
{
	P2pTransfer *t = p2p_transfer_alloc(d);
	g_autoptr(GError) error = NULL;

	t->id = g_strdup(col_text(st, 0));
	t->peer = g_strdup(col_text(st, 1));
	t->outgoing = sqlite3_column_int(st, 2);
	t->wire_id = (guint64)sqlite3_column_int64(st, 3);
	if (!p2p_transfer_state_parse(col_text(st, 4), &t->state))
		t->state = P2P_XFER_FAILED;
	t->name = g_strdup(col_text(st, 5));
	t->items = strv_from_json(col_text(st, 6));
	t->files = sqlite3_column_int(st, 7);
	t->dirs = sqlite3_column_int(st, 8);
	t->links = sqlite3_column_int(st, 9);
	t->count = t->files + t->dirs + t->links;
	t->size = (guint64)sqlite3_column_int64(st, 10);
	t->bytes = (guint64)sqlite3_column_int64(st, 11);
	t->wire_bytes = (guint64)sqlite3_column_int64(st, 12);
	t->upto = sqlite3_column_int(st, 13);
	t->accepted = sqlite3_column_int(st, 14);
	t->output = g_strdup(col_text(st, 15));
	t->staging = g_strdup(col_text(st, 16));
	t->paths = strv_from_json(col_text(st, 17));
	t->sha256 = g_strdup(col_text(st, 18));
	t->reason_code = g_strdup(col_text(st, 19));
	t->reason_message = g_strdup(col_text(st, 20));
	t->taken = sqlite3_column_int(st, 21);
	t->started = sqlite3_column_int64(st, 22);
	t->finished = sqlite3_column_int64(st, 23);
	t->expires = sqlite3_column_int64(st, 24);
	if (p2p_transfer_is_active(t)) {
		const char *m = col_text(st, 25);
		t->manifest = m ? p2p_manifest_from_journal(m, &error) : NULL;
		if (t->manifest == NULL) {
			g_warning("state database: transfer %s: the manifest cannot be read (%s); "
			          "it cannot continue", t->id, error ? error->message : "missing");
			t->state = P2P_XFER_FAILED;
			t->reason_code = g_strdup(P2P_REASON_IO);
			t->reason_message = g_strdup("its journal entry is damaged");
			t->finished = g_get_real_time();
		} else if (t->outgoing) {
			for (guint i = 0; i < t->manifest->roots->len; i++) {
				int fd = -1;
				g_array_append_val(t->root_fds, fd);
			}
		}
	}
	return t;
}

static GPtrArray *
select_rows(P2pDaemon *d, const char *where, const char *a, gint64 b, gint64 c)
{
	sqlite3 *db = p2p_state_db(d->state);
	sqlite3_stmt *st = NULL;
	GPtrArray *out = g_ptr_array_new();
	g_autofree char *sql = g_strdup_printf("SELECT " COLUMNS " FROM transfers %s", where);

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_warn(db, "reading", NULL);
		return out;
	}
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		g_ptr_array_add(out, row_to_transfer(d, st));
	if (rc != SQLITE_DONE)
		db_warn(db, "reading", NULL);
	sqlite3_finalize(st);
	return out;
}

GPtrArray *
p2p_journal_load(P2pDaemon *d)
{
	sqlite3 *db = p2p_state_db(d->state);
	g_autofree char *prune = g_strdup_printf(
		"DELETE FROM transfers WHERE finished IS NOT NULL AND id NOT IN "
		"(SELECT id FROM transfers WHERE finished IS NOT NULL ORDER BY started DESC LIMIT %d);"
		"DELETE FROM manifests WHERE id NOT IN (SELECT id FROM transfers WHERE finished IS NULL)",
		P2P_JOURNAL_KEEP);
	char *msg = NULL;
	if (sqlite3_exec(db, prune, NULL, NULL, &msg) != SQLITE_OK) {
		g_warning("state database: pruning history: %s", msg);
		sqlite3_free(msg);
	}
	g_autofree char *where = g_strdup_printf(
		"WHERE finished IS NULL OR id IN (SELECT id FROM transfers WHERE finished IS NOT "
		"NULL ORDER BY started DESC LIMIT %d) ORDER BY started",
		P2P_JOURNAL_RECENT);
	return select_rows(d, where, NULL, 0, 0);
}

static P2pTransfer *
first_or_null(GPtrArray *a)
{
	P2pTransfer *t = a->len ? a->pdata[0] : NULL;
	for (guint i = 1; i < a->len; i++)
		p2p_transfer_free(a->pdata[i]);
	g_ptr_array_free(a, TRUE);
	return t;
}

P2pTransfer *
p2p_journal_get(P2pDaemon *d, const char *id)
{
	return first_or_null(select_rows(d, "WHERE id = ?1 AND ?2 = ?3", id, 0, 0));
}

P2pTransfer *
p2p_journal_get_wire(P2pDaemon *d, const char *peer, gboolean outgoing, guint64 xfer)
{
	return first_or_null(select_rows(d, "WHERE peer = ?1 AND outgoing = ?2 AND xfer = ?3",
	                                 peer, outgoing, (gint64)xfer));
}

/* p2pd-state.c: see p2pd-state.h. */
#include "config.h"

#include <gio/gio.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include "p2pd-state.h"

struct _P2pState {
	sqlite3 *db;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	/* commits survive a crash or kill of the daemon; only a power failure can take the
	 * last ones back (WAL keeps the file consistent), and the transfer journal is
	 * written so that an older state is always a safe one to resume from */
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS pins ("
	"  peer TEXT PRIMARY KEY,"
	"  fingerprint TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL);"
	/* the transfer journal (p2pd-journal.c): active transfers resume from it after a
	 * restart, finished ones are the history */
	"CREATE TABLE IF NOT EXISTS transfers ("
	"  id TEXT PRIMARY KEY,"
	"  peer TEXT NOT NULL,"
	"  outgoing INTEGER NOT NULL,"
	"  xfer INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  items TEXT NOT NULL,"         /* JSON array of top-level names */
	"  files INTEGER NOT NULL, dirs INTEGER NOT NULL, links INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, bytes INTEGER NOT NULL, wire_bytes INTEGER NOT NULL,"
	"  upto INTEGER NOT NULL,"
	"  accepted INTEGER NOT NULL,"
	"  output TEXT, staging TEXT,"
	"  paths TEXT,"                  /* JSON array, incoming once complete */
	"  sha256 TEXT, reason_code TEXT, reason_message TEXT,"
	"  taken INTEGER NOT NULL DEFAULT 0,"
	"  started INTEGER NOT NULL, finished INTEGER, expires INTEGER);"
	"CREATE UNIQUE INDEX IF NOT EXISTS transfers_wire ON transfers (peer, outgoing, xfer);"
	/* apart, so that updating a transfer's counters does not rewrite its manifest */
	/* chat messages both ways (p2pd-chat.c); outgoing ones wait here for the peer */
	"CREATE TABLE IF NOT EXISTS chat ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  peer TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  outgoing INTEGER NOT NULL,"
	"  text TEXT NOT NULL,"
	"  ts REAL NOT NULL,"
	"  state TEXT NOT NULL,"
	"  UNIQUE (peer, outgoing, id));"
	"CREATE INDEX IF NOT EXISTS chat_pending ON chat (peer, outgoing, state);"
	"CREATE TABLE IF NOT EXISTS manifests ("
	"  id TEXT PRIMARY KEY,"
	"  manifest TEXT NOT NULL);";

static gboolean
db_error(sqlite3 *db, const char *what, GError **error)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "state database: %s: %s", what,
	            sqlite3_errmsg(db));
	return FALSE;
}

P2pState *
p2p_state_open(const char *state_dir, GError **error)
{
	g_autofree char *path = g_build_filename(state_dir, "state.db", NULL);
	g_autoptr(P2pState) st = g_new0(P2pState, 1);
	char *msg = NULL;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open \"%s\": %s", path,
		            st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return NULL;
	}
	sqlite3_busy_timeout(st->db, 2000);
	chmod(path, 0600);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "\"%s\": %s", path, msg);
		sqlite3_free(msg);
		return NULL;
	}
	return g_steal_pointer(&st);
}

sqlite3 *
p2p_state_db(P2pState *st)
{
	return st->db;
}

void
p2p_state_close(P2pState *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	g_free(st);
}

char *
p2p_state_pin_get(P2pState *st, const char *peer, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	char *fp = NULL;

	if (sqlite3_prepare_v2(st->db, "SELECT fingerprint FROM pins WHERE peer = ?", -1, &stmt,
	                       NULL) != SQLITE_OK) {
		db_error(st->db, "reading pins", error);
		return NULL;
	}
	sqlite3_bind_text(stmt, 1, peer, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		fp = g_strdup((const char *)sqlite3_column_text(stmt, 0));
	else if (rc != SQLITE_DONE)
		db_error(st->db, "reading pins", error);
	sqlite3_finalize(stmt);
	return fp;
}

gboolean
p2p_state_pin_set(P2pState *st, const char *peer, const char *fingerprint, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	gboolean ok;

	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR IGNORE INTO pins (peer, fingerprint, first_seen) "
	                       "VALUES (?, ?, ?)", -1, &stmt, NULL) != SQLITE_OK)
		return db_error(st->db, "writing pins", error);
	sqlite3_bind_text(stmt, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, g_get_real_time() / G_USEC_PER_SEC);
	ok = sqlite3_step(stmt) == SQLITE_DONE;
	if (!ok)
		db_error(st->db, "writing pins", error);
	sqlite3_finalize(stmt);
	return ok;
}

/* p2pd-state.h: the durable state in state-dir/state.db (SQLite): pinned peer keys, and
 * the transfer journal (p2pd-journal.h). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _P2pState P2pState;
typedef struct sqlite3 sqlite3;

P2pState *p2p_state_open(const char *state_dir, GError **error);
void p2p_state_close(P2pState *st);
sqlite3 *p2p_state_db(P2pState *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pState, p2p_state_close)

/* The fingerprint pinned for peer id, or NULL (caller frees). */
char *p2p_state_pin_get(P2pState *st, const char *peer, GError **error);
/* Pins fingerprint for peer on first contact. */
gboolean p2p_state_pin_set(P2pState *st, const char *peer, const char *fingerprint,
                           GError **error);

G_END_DECLS

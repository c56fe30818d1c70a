/* p2pd-journal.h: the transfer journal in state.db: every transfer's row, written when
 * it starts, at each durable point (receiver's batch sync, sender's ACK) and when it
 * ends. Active rows carry the manifest, so that either daemon, restarted, picks the
 * transfer up where the receiver's last sync left it. Finished rows are the history
 * (the newest P2P_JOURNAL_KEEP are kept). A failed write is logged, never fatal. */
#pragma once

#include "p2pd-transfer.h"

G_BEGIN_DECLS

#define P2P_JOURNAL_KEEP     10000  /* finished transfers kept in state.db */
#define P2P_JOURNAL_RECENT   1000   /* of them, loaded at start for transfer.list */

/* Inserts t's row, manifest included. */
void p2p_journal_insert(P2pTransfer *t);
/* Rewrites everything but the manifest, which is dropped once t has ended. */
void p2p_journal_update(P2pTransfer *t);
/* Active transfers and the P2P_JOURNAL_RECENT newest finished ones, oldest first;
 * prunes history beyond P2P_JOURNAL_KEEP. */
GPtrArray *p2p_journal_load(P2pDaemon *d);
/* One transfer by id or by (peer, direction, xfer), from the database; NULL if none. */
P2pTransfer *p2p_journal_get(P2pDaemon *d, const char *id);
P2pTransfer *p2p_journal_get_wire(P2pDaemon *d, const char *peer, gboolean outgoing,
                                  guint64 xfer);

G_END_DECLS

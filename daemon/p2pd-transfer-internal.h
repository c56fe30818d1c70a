/* p2pd-transfer-internal.h: what p2pd-transfer.c (shared parts, sender),
 * p2pd-receive.c (receiver) and p2pd-journal.c share. Not for other subsystems. */
#pragma once

#include "p2pd-transfer.h"

G_BEGIN_DECLS

#define P2P_PROGRESS_INTERVAL_US (200 * 1000)
#define P2P_JOURNAL_INTERVAL_US  (2 * 1000 * 1000)  /* counters to the journal while moving */

/* A bare transfer with fds closed and lists empty; not yet in d->transfers. */
P2pTransfer *p2p_transfer_alloc(P2pDaemon *d);
/* A new transfer with a fresh local id, registered in d->transfers. */
P2pTransfer *p2p_transfer_new(P2pDaemon *d, gboolean outgoing, const char *peer);
/* Fills name, items and the counts from t->manifest. */
void p2p_transfer_describe(P2pTransfer *t);
void p2p_transfer_emit(P2pTransfer *t, const char *event);
void p2p_transfer_progress(P2pTransfer *t);
void p2p_transfer_clear_reason(P2pTransfer *t);
/* Ends t: state, reason, finished time, journal, event; frees its I/O and (incoming)
 * its staging directory. */
void p2p_transfer_finish(P2pTransfer *t, P2pTransferState st, const char *code,
                         const char *message);
/* Sends a reasoned frame (REJECT, NACK, CANCEL) about xfer on s, if its channel is up. */
void p2p_transfer_send_reason(P2pSession *s, guint8 type, guint64 xfer, guint file,
                              const char *code, const char *message);
/* Tells the peer (frame type tell, 0 = nobody) and ends t as failed. */
void p2p_transfer_fail(P2pTransfer *t, guint8 tell, const char *code, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
/* Session went away under t: pause it (reason kept) and journal it. */
void p2p_transfer_pause(P2pTransfer *t, const char *message);
/* Closes the file being moved and frees the hash. */
void p2p_transfer_release_io(P2pTransfer *t);
/* Lowercase hex of len bytes. */
char *p2p_hex(const guint8 *data, gsize len);
/* Starts t->md over (a SHA-256 context kept for the whole transfer) and hashes the
 * first len bytes of fd into it (a resumed file's bytes already on disk). */
gboolean p2p_digest_start(P2pTransfer *t, int fd, guint64 len, GError **error);
/* The same, but a prefix longer than P2P_DIGEST_INLINE is hashed on a worker thread, so
 * that resuming a large file does not stop the main loop (ICE consent checks, other
 * peers) for seconds: then t->hashing is set, TRUE returned, and done(t, error) called
 * from the main loop once t->md is ready, unless t's I/O was released meanwhile
 * (pause, end). FALSE with error when the prefix cannot be read inline. */
#define P2P_DIGEST_INLINE (16 * 1024 * 1024)
typedef void (*P2pDigestDone)(P2pTransfer *t, const GError *error);
gboolean p2p_digest_start_async(P2pTransfer *t, int fd, guint64 len, P2pDigestDone done,
                                GError **error);
/* A transfer bound to s, by direction and wire id. */
P2pTransfer *p2p_transfer_find(P2pDaemon *d, P2pSession *s, gboolean outgoing, guint64 xfer);
/* Any transfer with this peer, direction and wire id, in memory or the journal. */
P2pTransfer *p2p_transfer_find_wire(P2pDaemon *d, const char *peer, gboolean outgoing,
                                    guint64 xfer);
/* A frame that cannot be tied to a transfer: closes the session. */
void p2p_transfer_protocol_error(P2pSession *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The receiver (p2pd-receive.c). */
void p2p_receive_offer(P2pDaemon *d, P2pSession *s, GBytes *payload);
void p2p_receive_manifest(P2pDaemon *d, P2pSession *s, GBytes *payload);
void p2p_receive_data(P2pDaemon *d, P2pSession *s, GBytes *payload);
void p2p_receive_file_end(P2pDaemon *d, P2pSession *s, GBytes *payload);
gboolean p2p_receive_accept(P2pTransfer *t, const char *output, GError **error);
/* Drops the manifests of offers still arriving on s. */
void p2p_receive_session_closed(P2pDaemon *d, P2pSession *s);
/* Arms the expiry of an incoming offer waiting for a decision. */
void p2p_receive_arm_expiry(P2pTransfer *t);
/* Removes t's staging directory and everything in it. */
void p2p_receive_remove_staging(P2pTransfer *t);
/* Removes staging directories under the save dir that no active transfer owns. */
void p2p_receive_clean_staging(P2pDaemon *d);

G_END_DECLS

/* p2pd-transfer.h: transfers: a manifest of files, directories and symlinks moving
 * over a session, resumable across dropped sessions and restarts of either daemon.
 *
 * p2pd-transfer.c holds what both directions share (the object, its states and events,
 * the control entry points, session events) and the sender; p2pd-receive.c the
 * receiver (policy, staging directory, verification, batched sync, final rename);
 * p2pd-journal.c their durable record in state.db. */
#pragma once

#include <openssl/evp.h>

#include "p2pd-daemon.h"
#include "p2pd-manifest.h"
#include "p2pd-writer.h"

G_BEGIN_DECLS

typedef enum {
	P2P_XFER_CONNECTING,   /* outgoing: waiting for a session */
	P2P_XFER_OFFERED,      /* offer out (sender) / waiting for a decision (receiver) */
	P2P_XFER_TRANSFERRING,
	P2P_XFER_VERIFYING,    /* sender: every file sent, waiting for the last ACK */
	P2P_XFER_PAUSED,       /* session gone or a daemon restarted: continues by itself */
	P2P_XFER_COMPLETE,
	P2P_XFER_FAILED,
	P2P_XFER_REJECTED,
	P2P_XFER_CANCELLED,
} P2pTransferState;

struct _P2pTransfer {
	P2pDaemon *d;
	char *id;             /* local id shown to users */
	guint64 wire_id;      /* the sender's id on the peer protocol */
	gboolean outgoing;
	char *peer;
	P2pSession *session;  /* bound while offered/moving; NULL otherwise */
	P2pManifest *manifest; /* NULL for history loaded from the journal */
	char *name;           /* the first item, "+N more" */
	char **items;         /* top-level names */
	guint files, dirs, links, count;
	guint64 size;         /* bytes of all files */
	guint64 bytes;        /* done, counting earlier attempts */
	guint64 wire_bytes;   /* file bytes that crossed the wire for it, all attempts */
	P2pTransferState state;
	char *sha256;         /* one-file transfers */
	char **paths;         /* incoming, complete: where each item landed */
	char *output;         /* incoming: the directory items go to */
	char *reason_code;
	char *reason_message;
	gint64 started;       /* real time, microseconds */
	gint64 finished;
	gint64 expires;       /* incoming offers waiting for a decision, real time */
	gint64 last_progress; /* monotonic, for throttling progress events */
	gint64 last_journal;  /* monotonic, for throttling journal writes */
	gboolean taken;
	gboolean accepted;    /* incoming: accepted (by policy or the user) */
	gboolean resumed;     /* moved bytes before this session */
	gboolean tell_peer;   /* outgoing: ended while disconnected, the peer not told */

	/* the file being moved: entry index and bytes of it done */
	guint cur;
	guint64 cur_off;
	int fd;
	gboolean hashing;     /* a worker thread hashes the bytes before cur_off (resume) */
	guint hash_gen;       /* bumped when that hashing is abandoned */
	EVP_MD_CTX *md;
	guint upto;           /* entries < upto acknowledged durable by the receiver */

	/* sender */
	GArray *root_fds;     /* int per top-level item; -1 until reopened */
	gint64 rate_start;    /* monotonic; rate-limit accounting for this session */
	guint64 rate_bytes;
	guint rate_timer;
	guint journal_idle;   /* the row is written once the offer is out */

	/* receiver */
	char *staging;        /* OUTPUT/.p2pd-partial/ID.d while receiving */
	int staging_fd;
	GByteArray *small;    /* the file being received, when it goes through the writer */
	P2pWriterDir *wdir;   /* the staging directory as the writer sees it */
	guint wgen;           /* bumped by every (re)start, so late results are told apart */
	guint pending;        /* verified files not synced yet */
	guint64 pending_bytes;
	guint sync_timer;
	guint expire_timer;
};

/* Control-socket entry points. */
/* Sends paths to peer: fds[i] is paths[i] opened by the caller (consumed), or -1 to
 * have the daemon open it. Skipped entries are described in warnings. */
P2pTransfer *p2p_transfer_send(P2pDaemon *d, char **paths, int *fds, guint n,
                               const P2pCaller *caller, P2pPeer *peer, GPtrArray *warnings,
                               GError **error);
gboolean p2p_transfer_accept(P2pTransfer *t, const char *output, GError **error);
gboolean p2p_transfer_reject(P2pTransfer *t, const char *reason, GError **error);
gboolean p2p_transfer_cancel(P2pTransfer *t, const char *reason, GError **error);
P2pTransfer *p2p_transfer_lookup(P2pDaemon *d, const char *id);
JsonNode *p2p_transfer_to_json(P2pTransfer *t);
void p2p_transfer_free(P2pTransfer *t);
const char *p2p_transfer_state_name(P2pTransferState st);
gboolean p2p_transfer_state_parse(const char *name, P2pTransferState *st);
gboolean p2p_transfer_is_active(P2pTransfer *t);
/* A one-file incoming transfer (what transfer.take hands out). */
gboolean p2p_transfer_is_single_file(P2pTransfer *t);

/* Daemon start: loads the journal (active transfers continue, recent history is
 * listed) and removes staging left by transfers that are gone. */
void p2p_transfers_load(P2pDaemon *d);
/* What the writer thread did for a receiving transfer (P2pWriterFunc; user = d). */
void p2p_receive_written(const P2pWriterResult *r, gpointer user);
/* Session and presence events. */
void p2p_transfers_peer_online(P2pDaemon *d, P2pPeer *peer);
void p2p_transfers_session_ready(P2pDaemon *d, P2pSession *s);
void p2p_transfers_session_writable(P2pDaemon *d, P2pSession *s);
void p2p_transfers_frame(P2pDaemon *d, P2pSession *s, guint8 type, GBytes *payload);
/* The session is gone: with code "disconnected" its transfers pause and continue on
 * the next session; any other code (key mismatch, protocol error) fails them. */
void p2p_transfers_session_closed(P2pDaemon *d, P2pSession *s, const char *code,
                                  const char *message);

G_END_DECLS

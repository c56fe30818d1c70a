/* p2pd-transfer.h: files moving over a session: the sender's OFFER/DATA/FILE_END and
 * the receiver's policy, partial file, SHA-256 check, fsync and rename. */
#pragma once

#include <openssl/evp.h>

#include "p2pd-daemon.h"

G_BEGIN_DECLS

typedef enum {
	P2P_XFER_CONNECTING,
	P2P_XFER_OFFERED,
	P2P_XFER_TRANSFERRING,
	P2P_XFER_VERIFYING,
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
	P2pSession *session;  /* bound once offered/accepted; NULL otherwise */
	char *name;
	guint64 size;
	guint32 mode;
	gint64 mtime;
	guint64 bytes;
	P2pTransferState state;
	char *sha256;
	char *path;           /* incoming: the final path once complete */
	char *reason_code;
	char *reason_message;
	gint64 started;       /* real time, microseconds */
	gint64 finished;
	gint64 last_progress; /* monotonic, for throttling progress events */

	int fd;
	EVP_MD_CTX *md;
	char *partial_path;   /* incoming, while receiving */
	char *source_path;    /* outgoing */
	gboolean taken;
};

/* Control-socket entry points. */
/* Sends the file at path to peer; fd, when not -1, is that file already opened by the
 * caller (consumed), and path then only names it. */
P2pTransfer *p2p_transfer_send(P2pDaemon *d, const char *path, int fd, P2pPeer *peer,
                               GError **error);
gboolean p2p_transfer_accept(P2pTransfer *t, GError **error);
gboolean p2p_transfer_reject(P2pTransfer *t, const char *reason, GError **error);
P2pTransfer *p2p_transfer_lookup(P2pDaemon *d, const char *id);
JsonNode *p2p_transfer_to_json(P2pTransfer *t);
void p2p_transfer_free(P2pTransfer *t);
const char *p2p_transfer_state_name(P2pTransferState st);
gboolean p2p_transfer_is_active(P2pTransfer *t);

/* Session events. */
void p2p_transfers_session_ready(P2pDaemon *d, P2pSession *s);
void p2p_transfers_session_writable(P2pDaemon *d, P2pSession *s);
void p2p_transfers_frame(P2pDaemon *d, P2pSession *s, guint8 type, GBytes *payload);
/* The session is gone: transfers bound to it fail with code/message; transfers
 * still connecting to this peer fail too unless another session took over. */
void p2p_transfers_session_closed(P2pDaemon *d, P2pSession *s, const char *code,
                                  const char *message);

G_END_DECLS

/* p2pd-channel.h: the secure peer channel, TLS 1.3 over a P2pTransport with both sides
 * presenting their identity certificate, carrying p2p-frame.h frames.
 *
 * Trust does not come from a CA: any certificate is accepted during the handshake (TLS
 * still proves that the peer holds its key) and `ready` hands the caller the fingerprint
 * of the peer's public key to compare with the announced and pinned ones.
 *
 * Callbacks run from the main loop (the thread-default context at creation), never from
 * inside a p2p_channel_* call. `closed` is called exactly once, from an idle source,
 * unless the channel was freed first; after it, nothing else is called. The channel may
 * be closed from any callback and freed from any callback (the free is deferred until
 * the channel's code has left the stack). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "p2p-frame.h"
#include "p2pd-identity.h"
#include "p2pd-transport.h"

G_BEGIN_DECLS

#define P2P_CHANNEL_ERROR (p2p_channel_error_quark())
GQuark p2p_channel_error_quark(void);

typedef enum {
	P2P_CHANNEL_ERROR_TLS,        /* handshake or record layer failure */
	P2P_CHANNEL_ERROR_TRANSPORT,  /* the transport failed or the peer vanished */
	P2P_CHANNEL_ERROR_TRUNCATED,  /* transport closed without a TLS close_notify */
	P2P_CHANNEL_ERROR_TIMEOUT,    /* handshake took longer than the limit */
} P2pChannelError;

/* Output queue mark under which `writable` is emitted. */
#define P2P_CHANNEL_LOW_WATER          (256 * 1024)
#define P2P_CHANNEL_HANDSHAKE_TIMEOUT  30  /* seconds */
#define P2P_CHANNEL_CLOSE_TIMEOUT      10  /* seconds to exchange close_notify */

typedef struct _P2pChannel P2pChannel;

typedef struct {
	/* handshake done; peer_fingerprint is that of the peer certificate's public key.
	 * The caller compares it to the announced and pinned ones and may close. */
	void (*ready)(P2pChannel *c, const char *peer_fingerprint, gpointer user);
	void (*frame)(P2pChannel *c, guint8 type, GBytes *payload, gpointer user);
	/* queued output fell to P2P_CHANNEL_LOW_WATER or below after being above it */
	void (*writable)(P2pChannel *c, gpointer user);
	/* NULL = clean close (ours or the peer's close_notify) */
	void (*closed)(P2pChannel *c, const GError *error, gpointer user);
} P2pChannelCallbacks;

/* Takes ownership of transport and starts the handshake. identity is referenced only
 * during the call (its key and cert are copied into the TLS context). */
P2pChannel *p2p_channel_new(P2pTransport *transport, P2pIdentity *identity, gboolean is_client,
                            const P2pChannelCallbacks *cb, gpointer user);
/* Frames can be sent once `ready` was called, until the channel closes. */
gboolean p2p_channel_send(P2pChannel *c, guint8 type, const void *payload, gsize len,
                          GError **error);
/* A DATA frame; data is encrypted straight from the caller's buffer. */
gboolean p2p_channel_send_data(P2pChannel *c, guint64 xfer, guint32 file, guint64 offset,
                               const void *data, gsize len, GError **error);
gboolean p2p_channel_send_json(P2pChannel *c, guint8 type, JsonObject *payload,
                               GError **error);
/* Between cork and uncork (they nest), small frames are gathered into shared TLS
 * records and handed to the transport at uncork: fewer records and writes for a run of
 * small frames. Order is kept. */
void p2p_channel_cork(P2pChannel *c);
gboolean p2p_channel_uncork(P2pChannel *c, GError **error);
/* Bytes accepted but not yet taken by the transport. A file sender keeps this under
 * about 1 MiB and waits for `writable`. */
gsize p2p_channel_queued(P2pChannel *c);
/* Bytes read from and handed to the transport so far (TLS records: ciphertext). */
void p2p_channel_get_counters(P2pChannel *c, guint64 *bytes_in, guint64 *bytes_out);
/* Fingerprint of the peer once ready, else NULL. */
const char *p2p_channel_get_peer_fingerprint(P2pChannel *c);
/* TLS close_notify, flush, wait for the peer's close_notify while dropping what it
 * still sends (all at most P2P_CHANNEL_CLOSE_TIMEOUT), transport close, then
 * closed(NULL). Incoming frames are no longer delivered. */
void p2p_channel_close(P2pChannel *c);
/* Immediate teardown without close_notify if still open; no callback after this. */
void p2p_channel_free(P2pChannel *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pChannel, p2p_channel_free)

G_END_DECLS

/* p2pd-transport.h: the small byte-stream interface the TLS channel runs on, so that a
 * faster transport over libnice datagrams (QUIC or equivalent) can replace libnice's
 * reliable agent without the channel noticing.
 *
 * Rules every implementation keeps:
 *   - callbacks run from the main loop, never from inside ops->write or ops->close;
 *   - after ops->close no callback is called any more;
 *   - readable may free the transport's owner only through a deferred free (the
 *     channel does so), since the implementation may still be on the stack. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _P2pTransport P2pTransport;

typedef struct {
	void (*readable)(P2pTransport *t, const guint8 *data, gsize len, gpointer user); /* bytes arrived */
	void (*writable)(P2pTransport *t, gpointer user); /* write would accept more now */
	void (*closed)(P2pTransport *t, const GError *error, gpointer user); /* NULL error = clean */
} P2pTransportCallbacks;

typedef struct {
	/* bytes accepted, 0 = would block (writable follows), -1 = error */
	gssize (*write)(P2pTransport *t, const guint8 *data, gsize len, GError **error);
	void (*close)(P2pTransport *t);
	void (*free)(P2pTransport *t);
	const char *name; /* "nice-reliable" */
} P2pTransportOps;

struct _P2pTransport {
	const P2pTransportOps *ops;
	P2pTransportCallbacks cb;
	gpointer user;
};

static inline gssize
p2p_transport_write(P2pTransport *t, const guint8 *data, gsize len, GError **error)
{
	return t->ops->write(t, data, len, error);
}

static inline void
p2p_transport_close(P2pTransport *t)
{
	t->ops->close(t);
}

static inline void
p2p_transport_free(P2pTransport *t)
{
	if (t != NULL)
		t->ops->free(t);
}

static inline void
p2p_transport_set_callbacks(P2pTransport *t, const P2pTransportCallbacks *cb, gpointer user)
{
	t->cb = *cb;
	t->user = user;
}

static inline const char *
p2p_transport_name(P2pTransport *t)
{
	return t->ops->name;
}

/* p2pd-transport-nice.c: libnice's reliable agent (ICE-TCP, or pseudo-TCP over UDP).
 * Create it right after nice_agent_add_stream, BEFORE nice_agent_gather_candidates:
 * libnice only services a component's sockets (STUN checks included) on the context
 * given to nice_agent_attach_recv, which this call does on the agent's main context;
 * without it, connectivity checks time out. Bytes that arrive before the channel sets
 * its callbacks (the peer reached READY first) are kept and delivered in order. Holds a
 * reference on the agent but does not own the session: removing the stream is the
 * caller's job, after p2p_transport_free. Component FAILED -> closed(error). */
typedef struct _NiceAgent NiceAgent;
P2pTransport *p2p_transport_nice_new(NiceAgent *agent, guint stream_id, guint component_id);

/* p2pd-transport-dgram.c: a reliable byte stream of our own over the datagrams of a
 * NON-reliable agent (UDP pairs, and ICE-TCP pairs in RFC 4571 framing): selective
 * acks, BBR-style paced congestion control, windows well past the kernel's socket
 * buffers (docs/TRANSPORT.md). Same rules and timing as p2p_transport_nice_new. */
P2pTransport *p2p_transport_dgram_new(NiceAgent *agent, guint stream_id, guint component_id);
/* What the transport does with one datagram from the selected pair (libnice's receive
 * callback calls it); tests feed it what a hostile network could send. */
void p2p_transport_dgram_input(P2pTransport *t, const guint8 *buf, gsize len);
/* Bytes held for the reader, in order and out of order (at most a receive window). */
gsize p2p_transport_dgram_buffered(P2pTransport *t);

G_END_DECLS

/* p2pd-transport-nice.c: P2pTransport over a libnice reliable agent whose component is
 * READY. Receives with nice_agent_attach_recv and sends with nice_agent_send: the
 * GIOStream from nice_agent_get_io_stream slowed down over pseudo-TCP (DESIGN.md).
 *
 * Flow control differs by the selected pair:
 *   - pseudo-TCP over UDP: nice_agent_send takes what fits in the pseudo-TCP send buffer
 *     and returns -1 when it is full; "reliable-transport-writable" follows.
 *   - ICE-TCP: nice_agent_send never refuses: what the kernel does not take goes to an
 *     unbounded queue inside libnice, and "reliable-transport-writable" is only emitted
 *     when that queue drains, not when a send filled the kernel buffer without queueing.
 *     So we hand libnice at most TCP_MAX_WRITE bytes, then wait until libnice says its
 *     queue is empty (see schedule_check), which keeps that hidden queue to one write.
 *     (g_pollable_output_stream_is_writable cannot be used: on a tcp-passive pair it
 *     polls the listening socket and stays FALSE.) */
#include "config.h"

#include <nice/agent.h>

#include "p2pd-transport.h"

#define TCP_MAX_WRITE     (256 * 1024)
/* bytes kept while nobody reads yet (the peer's first TLS flight fits easily) */
#define EARLY_MAX         (256 * 1024)

typedef struct {
	P2pTransport parent;
	NiceAgent *agent;
	GMainContext *context;
	guint stream_id;
	guint component_id;
	gulong writable_handler;
	gulong state_handler;
	GIOStream *iostream;   /* only for its output stream's "queue drained" source */
	GSource *check;        /* pending TCP writability check */
	GSource *notify;       /* deferred writable/closed emission */
	gboolean closed;       /* no more callbacks */
	gboolean in_write;
	gboolean tcp_blocked;
	gboolean want_writable;
	GError *fail;          /* deferred closed(error) */
	GByteArray *early;     /* received before a readable callback was set */
} NiceTransport;

static void nice_transport_close(P2pTransport *t);
static void schedule_notify_later(NiceTransport *nt);

static gboolean
selected_pair_is_tcp(NiceTransport *nt)
{
	NiceCandidate *local = NULL, *remote = NULL;
	if (!nice_agent_get_selected_pair(nt->agent, nt->stream_id, nt->component_id, &local,
	                                  &remote) || local == NULL)
		return FALSE;
	return local->transport != NICE_CANDIDATE_TRANSPORT_UDP;
}

static gboolean
notify_cb(gpointer data)
{
	NiceTransport *nt = data;
	P2pTransport *t = &nt->parent;

	g_clear_pointer(&nt->notify, g_source_unref);
	if (nt->closed)
		return G_SOURCE_REMOVE;
	if (nt->fail != NULL) {
		g_autoptr(GError) e = g_steal_pointer(&nt->fail);
		nice_transport_close(t);
		if (t->cb.closed)
			t->cb.closed(t, e, t->user);
		return G_SOURCE_REMOVE;
	}
	if (nt->early->len > 0) {
		if (t->cb.readable == NULL) {
			/* still nobody reading: look again later */
			schedule_notify_later(nt);
			return G_SOURCE_REMOVE;
		}
		g_autoptr(GByteArray) b = nt->early;
		nt->early = g_byte_array_new();
		t->cb.readable(t, b->data, b->len, t->user);
		if (nt->closed)
			return G_SOURCE_REMOVE;
	}
	if (nt->want_writable) {
		nt->want_writable = FALSE;
		if (t->cb.writable)
			t->cb.writable(t, t->user);
	}
	return G_SOURCE_REMOVE;
}

static gboolean notify_cb(gpointer data);

static void
schedule_notify_later(NiceTransport *nt)
{
	if (nt->notify != NULL || nt->closed)
		return;
	nt->notify = g_timeout_source_new(10);
	g_source_set_callback(nt->notify, notify_cb, nt, NULL);
	g_source_attach(nt->notify, nt->context);
}

static void
schedule_notify(NiceTransport *nt)
{
	if (nt->notify != NULL || nt->closed)
		return;
	nt->notify = g_idle_source_new();
	g_source_set_priority(nt->notify, G_PRIORITY_DEFAULT);
	g_source_set_callback(nt->notify, notify_cb, nt, NULL);
	g_source_attach(nt->notify, nt->context);
}

static void
emit_writable(NiceTransport *nt)
{
	nt->want_writable = TRUE;
	schedule_notify(nt);
}

static void
stop_check(NiceTransport *nt)
{
	if (nt->check != NULL) {
		g_source_destroy(nt->check);
		g_clear_pointer(&nt->check, g_source_unref);
	}
}

static gboolean
check_cb(GObject *stream, gpointer data)
{
	NiceTransport *nt = data;

	g_clear_pointer(&nt->check, g_source_unref);
	if (!nt->closed && nt->tcp_blocked) {
		nt->tcp_blocked = FALSE;
		emit_writable(nt);
	}
	return G_SOURCE_REMOVE;
}

/* The output stream's source wraps the component's internal "send queue empty"
 * cancellable: libnice resets it after a send only when the send had to be queued, and
 * cancels it when the queue drained. So it fires at once if the kernel took everything,
 * and when libnice's queue is empty again otherwise. */
static void
schedule_check(NiceTransport *nt)
{
	if (nt->check != NULL)
		return;
	GOutputStream *out = g_io_stream_get_output_stream(nt->iostream);
	nt->check = g_pollable_output_stream_create_source(G_POLLABLE_OUTPUT_STREAM(out), NULL);
	g_source_set_callback(nt->check, G_SOURCE_FUNC(check_cb), nt, NULL);
	g_source_attach(nt->check, nt->context);
}

static void
on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
        gpointer data)
{
	NiceTransport *nt = data;
	P2pTransport *t = &nt->parent;

	if (nt->closed || len == 0)
		return;
	if (t->cb.readable == NULL || nt->early->len > 0) {
		/* keep order: older bytes first, delivered from notify_cb */
		if (nt->early->len + len > EARLY_MAX) {
			if (nt->fail == NULL)
				nt->fail = g_error_new(G_IO_ERROR, G_IO_ERROR_NO_SPACE,
				                       "more than %d bytes arrived on the ICE stream "
				                       "before anyone read them", EARLY_MAX);
		} else {
			g_byte_array_append(nt->early, (const guint8 *)buf, len);
		}
		schedule_notify(nt);
		return;
	}
	t->cb.readable(t, (const guint8 *)buf, len, t->user);
}

static void
on_writable(NiceAgent *agent, guint stream_id, guint component_id, gpointer data)
{
	NiceTransport *nt = data;

	if (stream_id != nt->stream_id || component_id != nt->component_id || nt->closed)
		return;
	nt->tcp_blocked = FALSE;
	stop_check(nt);
	emit_writable(nt);
}

static void
on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
	NiceTransport *nt = data;

	if (stream_id != nt->stream_id || component_id != nt->component_id || nt->closed)
		return;
	if (state == NICE_COMPONENT_STATE_FAILED && nt->fail == NULL) {
		nt->fail = g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
		                       "ICE connection failed (stream %u, component %u)",
		                       stream_id, component_id);
		schedule_notify(nt);
	}
}

static gssize
nice_transport_write(P2pTransport *t, const guint8 *data, gsize len, GError **error)
{
	NiceTransport *nt = (NiceTransport *)t;

	if (nt->closed || nt->fail != NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "ICE transport is closed");
		return -1;
	}
	if (len == 0)
		return 0;
	gboolean tcp = selected_pair_is_tcp(nt);
	if (tcp && nt->tcp_blocked)
		return 0;
	if (tcp)
		len = MIN(len, TCP_MAX_WRITE);
	len = MIN(len, G_MAXINT);

	nt->in_write = TRUE;
	gint n = nice_agent_send(nt->agent, nt->stream_id, nt->component_id, len,
	                         (const gchar *)data);
	nt->in_write = FALSE;

	if (tcp) {
		if (n < 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
			            "sending on the ICE-TCP pair failed (stream %u)", nt->stream_id);
			return -1;
		}
		nt->tcp_blocked = TRUE;
		schedule_check(nt);
		return n;
	}
	/* pseudo-TCP: -1 is EWOULDBLOCK (or not connected yet); the writable signal follows */
	return n < 0 ? 0 : n;
}

static void
nice_transport_close(P2pTransport *t)
{
	NiceTransport *nt = (NiceTransport *)t;

	if (nt->closed)
		return;
	nt->closed = TRUE;
	stop_check(nt);
	if (nt->notify != NULL) {
		g_source_destroy(nt->notify);
		g_clear_pointer(&nt->notify, g_source_unref);
	}
	g_clear_error(&nt->fail);
	g_clear_signal_handler(&nt->writable_handler, nt->agent);
	g_clear_signal_handler(&nt->state_handler, nt->agent);
	nice_agent_attach_recv(nt->agent, nt->stream_id, nt->component_id, nt->context, NULL,
	                       NULL);
}

static void
nice_transport_free(P2pTransport *t)
{
	NiceTransport *nt = (NiceTransport *)t;

	nice_transport_close(t);
	g_clear_object(&nt->iostream);
	g_clear_pointer(&nt->early, g_byte_array_unref);
	g_clear_pointer(&nt->context, g_main_context_unref);
	g_clear_object(&nt->agent);
	g_free(nt);
}

static const P2pTransportOps nice_ops = {
	.write = nice_transport_write,
	.close = nice_transport_close,
	.free = nice_transport_free,
	.name = "nice-reliable",
};

P2pTransport *
p2p_transport_nice_new(NiceAgent *agent, guint stream_id, guint component_id)
{
	g_return_val_if_fail(NICE_IS_AGENT(agent), NULL);

	NiceTransport *nt = g_new0(NiceTransport, 1);
	nt->parent.ops = &nice_ops;
	nt->early = g_byte_array_new();
	nt->agent = g_object_ref(agent);
	nt->stream_id = stream_id;
	nt->component_id = component_id;
	GMainContext *ctx = NULL;
	/* a plain pointer property: not a reference */
	g_object_get(agent, "main-context", &ctx, NULL);
	nt->context = g_main_context_ref(ctx != NULL ? ctx : g_main_context_default());
	nt->iostream = nice_agent_get_io_stream(agent, stream_id, component_id);
	/* libnice closes the component's iostream while disposing the agent, and closing
	 * creates a missing input stream from the half-dead agent (CRITICAL): create both
	 * halves now. Nothing reads from the input stream; attach_recv gets the bytes. */
	g_io_stream_get_input_stream(nt->iostream);
	g_io_stream_get_output_stream(nt->iostream);
	nt->writable_handler = g_signal_connect(agent, "reliable-transport-writable",
	                                        G_CALLBACK(on_writable), nt);
	nt->state_handler = g_signal_connect(agent, "component-state-changed",
	                                     G_CALLBACK(on_state), nt);
	nice_agent_attach_recv(agent, stream_id, component_id, nt->context, on_recv, nt);
	return &nt->parent;
}

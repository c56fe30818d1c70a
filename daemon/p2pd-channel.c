/* p2pd-channel.c: see p2pd-channel.h.
 *
 * The SSL object talks to one custom BIO instead of a pair of memory BIOs: writes append
 * ciphertext to our output queue, from which the transport is fed directly, and reads
 * take ciphertext straight from the buffer the transport handed us. Plaintext is read
 * straight into the frame reader's buffer. So each byte is copied once on each side
 * outside of OpenSSL, and no buffer is shifted more than amortised O(1) per byte. */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "p2pd-channel.h"

G_DEFINE_QUARK(p2p-channel-error-quark, p2p_channel_error)

#define TLS_RECORD_MAX   16384          /* plaintext bytes per TLS record */
#define READ_CHUNK       (32 * 1024)    /* room offered to SSL_read at a time */
#define OUT_COMPACT_MIN  (1024 * 1024)

typedef enum {
	CH_HANDSHAKE,
	CH_OPEN,
	CH_CLOSING, /* our close_notify queued or sent; waiting for the peer's (drain_in) */
	CH_CLOSED,
} ChannelState;

struct _P2pChannel {
	P2pTransport *transport;
	SSL_CTX *ctx;
	SSL *ssl;
	P2pChannelCallbacks cb;
	gpointer user;
	GMainContext *context;
	ChannelState state;
	char *peer_fingerprint;

	const guint8 *in;      /* ciphertext from the transport, during a readable callback */
	gsize in_len;
	GByteArray *out;       /* ciphertext not yet taken by the transport */
	gsize out_pos;
	P2pFrameReader reader;
	guint8 *scratch;       /* one record: frame header + start of the payload */
	guint corked;          /* p2p_channel_cork depth: small frames share records */
	gsize corked_len;      /* plaintext waiting in corked_buf */
	guint8 *corked_buf;
	guint64 bytes_in;      /* ciphertext from and to the transport, for rates */
	guint64 bytes_out;

	guint busy;            /* depth of our code on the stack that may call back */
	gboolean free_requested;
	gboolean owe_writable;
	gboolean writable_pending;
	gboolean closed_pending;
	gboolean peer_closed;  /* its close_notify came, or there is none to wait for */
	GError *close_error;
	GSource *notify;
	GSource *free_source;
	GSource *timer;        /* handshake or close timeout */
};

static void channel_fail(P2pChannel *c, GError *error);
static void start_close(P2pChannel *c);
static void finish_close(P2pChannel *c);

/* ---- custom BIO --------------------------------------------------------------- */

static void
out_compact(P2pChannel *c)
{
	if (c->out_pos == c->out->len) {
		g_byte_array_set_size(c->out, 0);
		c->out_pos = 0;
	} else if (c->out_pos >= OUT_COMPACT_MIN && c->out_pos * 2 >= c->out->len) {
		g_byte_array_remove_range(c->out, 0, c->out_pos);
		c->out_pos = 0;
	}
}

static int
bio_write_ex(BIO *b, const char *data, size_t len, size_t *written)
{
	P2pChannel *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	out_compact(c);
	g_byte_array_append(c->out, (const guint8 *)data, len);
	*written = len;
	return 1;
}

static int
bio_read_ex(BIO *b, char *buf, size_t len, size_t *readbytes)
{
	P2pChannel *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (c->in_len == 0) {
		BIO_set_retry_read(b);
		*readbytes = 0;
		return 0;
	}
	gsize n = MIN(len, c->in_len);
	memcpy(buf, c->in, n);
	c->in += n;
	c->in_len -= n;
	*readbytes = n;
	return 1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	P2pChannel *c = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return c ? (long)c->in_len : 0;
	default:
		return 0;
	}
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int
bio_destroy(BIO *b)
{
	return 1;
}

static BIO_METHOD *
channel_bio_method(void)
{
	static gsize once = 0;
	static BIO_METHOD *method;
	if (g_once_init_enter(&once)) {
		method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "p2p-channel");
		BIO_meth_set_write_ex(method, bio_write_ex);
		BIO_meth_set_read_ex(method, bio_read_ex);
		BIO_meth_set_ctrl(method, bio_ctrl);
		BIO_meth_set_create(method, bio_create);
		BIO_meth_set_destroy(method, bio_destroy);
		g_once_init_leave(&once, 1);
	}
	return method;
}

/* ---- errors ------------------------------------------------------------------- */

/* "what: <OpenSSL reason>", consuming OpenSSL's error queue. */
static GError *
tls_error(P2pChannel *c, const char *what, int r)
{
	int e = SSL_get_error(c->ssl, r);
	unsigned long code = ERR_get_error();
	const char *reason = NULL;
	char buf[256];

	if (code != 0) {
		reason = ERR_reason_error_string(code);
		if (reason == NULL) {
			ERR_error_string_n(code, buf, sizeof(buf));
			reason = buf;
		}
	} else if (e == SSL_ERROR_SYSCALL) {
		reason = "unexpected end of the TLS stream";
	} else {
		g_snprintf(buf, sizeof(buf), "SSL error %d", e);
		reason = buf;
	}
	ERR_clear_error();
	return g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS, "%s: %s", what, reason);
}

/* ---- deferred callbacks and freeing ----------------------------------------------- */

static void
destroy_source(GSource **s)
{
	if (*s != NULL) {
		g_source_destroy(*s);
		g_clear_pointer(s, g_source_unref);
	}
}

static void
real_free(P2pChannel *c)
{
	destroy_source(&c->notify);
	destroy_source(&c->free_source);
	destroy_source(&c->timer);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	p2p_transport_free(c->transport);
	p2p_frame_reader_clear(&c->reader);
	g_byte_array_unref(c->out);
	g_free(c->scratch);
	g_free(c->corked_buf);
	g_free(c->peer_fingerprint);
	g_clear_error(&c->close_error);
	g_main_context_unref(c->context);
	g_free(c);
}

static gboolean
free_cb(gpointer data)
{
	P2pChannel *c = data;
	g_clear_pointer(&c->free_source, g_source_unref);
	real_free(c);
	return G_SOURCE_REMOVE;
}

static GSource *
attach_idle(P2pChannel *c, GSourceFunc fn)
{
	GSource *s = g_idle_source_new();
	g_source_set_priority(s, G_PRIORITY_DEFAULT);
	g_source_set_callback(s, fn, c, NULL);
	g_source_attach(s, c->context);
	return s;
}

/* Leaves a section that may have called back. A free requested meanwhile happens from
 * an idle, because the transport that called us may still be on the stack. */
static void
unbusy(P2pChannel *c)
{
	if (--c->busy == 0 && c->free_requested && c->free_source == NULL)
		c->free_source = attach_idle(c, free_cb);
}

static gboolean
alive(P2pChannel *c)
{
	return !c->free_requested;
}

static gboolean
notify_cb(gpointer data)
{
	P2pChannel *c = data;

	g_clear_pointer(&c->notify, g_source_unref);
	if (c->free_requested)
		return G_SOURCE_REMOVE;
	c->busy++;
	if (c->closed_pending) {
		c->closed_pending = FALSE;
		c->writable_pending = FALSE;
		if (c->cb.closed)
			c->cb.closed(c, c->close_error, c->user);
	} else if (c->writable_pending) {
		c->writable_pending = FALSE;
		if (c->state == CH_OPEN && c->cb.writable)
			c->cb.writable(c, c->user);
	}
	/* our own idle: nothing of the transport on the stack, free right away */
	if (--c->busy == 0 && c->free_requested)
		real_free(c);
	return G_SOURCE_REMOVE;
}

static void
schedule_notify(P2pChannel *c)
{
	if (c->notify == NULL && !c->free_requested)
		c->notify = attach_idle(c, notify_cb);
}

/* ---- output ------------------------------------------------------------------- */

static gsize
queued(P2pChannel *c)
{
	return c->out->len - c->out_pos;
}

/* Hands queued ciphertext to the transport until it would block. FALSE when the
 * transport failed (the channel is then closed). */
static gboolean
flush_out(P2pChannel *c)
{
	while (c->out_pos < c->out->len && c->state != CH_CLOSED) {
		g_autoptr(GError) local = NULL;
		gssize n = p2p_transport_write(c->transport, c->out->data + c->out_pos,
		                               c->out->len - c->out_pos, &local);
		if (n < 0 && c->state == CH_CLOSING) {
			/* the peer may hang up as soon as it has our close_notify or we have its
			 * own: the close was agreed on, so this is still a clean end */
			finish_close(c);
			return FALSE;
		}
		if (n < 0) {
			channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TRANSPORT,
			                            "sending to the peer over %s failed: %s",
			                            p2p_transport_name(c->transport),
			                            local ? local->message : "unknown error"));
			return FALSE;
		}
		if (n == 0)
			break;
		c->out_pos += n;
		c->bytes_out += n;
	}
	out_compact(c);
	return c->state != CH_CLOSED;
}

static void
finish_close(P2pChannel *c)
{
	if (c->state == CH_CLOSED)
		return;
	c->state = CH_CLOSED;
	destroy_source(&c->timer);
	p2p_transport_close(c->transport);
	c->closed_pending = TRUE;
	schedule_notify(c);
}

static void
channel_fail(P2pChannel *c, GError *error)
{
	if (c->state == CH_CLOSED) {
		g_error_free(error);
		return;
	}
	/* best effort: an alert OpenSSL queued, or our ERROR frame + close_notify */
	if (queued(c) > 0)
		p2p_transport_write(c->transport, c->out->data + c->out_pos, queued(c), NULL);
	g_debug("peer channel closed: %s", error->message);
	c->state = CH_CLOSED;
	destroy_source(&c->timer);
	p2p_transport_close(c->transport);
	g_clear_error(&c->close_error);
	c->close_error = error;
	c->closed_pending = TRUE;
	schedule_notify(c);
}

/* After output drained somewhere else than in the transport's writable callback. */
static void
check_writable_deferred(P2pChannel *c)
{
	if (c->state == CH_OPEN && c->owe_writable && queued(c) <= P2P_CHANNEL_LOW_WATER) {
		c->owe_writable = FALSE;
		c->writable_pending = TRUE;
		schedule_notify(c);
	}
}

static gboolean
ssl_write_all(P2pChannel *c, const void *data, gsize len, GError **error)
{
	size_t written = 0;
	ERR_clear_error();
	/* our BIO never blocks, so this either takes everything or fails for good */
	int r = SSL_write_ex(c->ssl, data, len, &written);
	if (r != 1 || written != len) {
		GError *e = tls_error(c, "TLS send failed", r);
		g_set_error_literal(error, e->domain, e->code, e->message);
		channel_fail(c, e);
		return FALSE;
	}
	return TRUE;
}

/* Hands the ciphertext to the transport and keeps the writable bookkeeping. */
static gboolean
push_out(P2pChannel *c, GError **error)
{
	/* a writer that stopped at its high water mark (a corked pump) waits for the
	 * writable callback; a transport that takes it all at once must still trigger it */
	if (queued(c) > P2P_CHANNEL_LOW_WATER)
		c->owe_writable = TRUE;
	if (!flush_out(c)) {
		if (c->close_error != NULL)
			g_set_error_literal(error, c->close_error->domain, c->close_error->code,
			                    c->close_error->message);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "peer channel is closed");
		return FALSE;
	}
	if (queued(c) > P2P_CHANNEL_LOW_WATER)
		c->owe_writable = TRUE;
	else
		check_writable_deferred(c);
	return TRUE;
}

/* Encrypts the frames gathered while corked, in one record. */
static gboolean
write_corked(P2pChannel *c, GError **error)
{
	if (c->corked_len == 0)
		return TRUE;
	gsize n = c->corked_len;
	c->corked_len = 0;
	return ssl_write_all(c, c->corked_buf, n, error);
}

/* One frame: header (+ extra header) and the start of the payload share the first
 * record, the rest of the payload is encrypted from the caller's buffer. While corked,
 * frames that fit are gathered and encrypted together. */
static gboolean
write_frame(P2pChannel *c, guint8 type, const guint8 *extra, gsize extra_len,
            const guint8 *payload, gsize len, GError **error)
{
	if (c->state != CH_OPEN) {
		if (c->state == CH_HANDSHAKE)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
			            "peer channel: TLS handshake not finished");
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "peer channel is closed");
		return FALSE;
	}
	gsize total = extra_len + len;
	if (total > P2P_FRAME_MAX_PAYLOAD) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_TOO_LARGE,
		            "%s frame of %" G_GSIZE_FORMAT " bytes is larger than the limit of %u",
		            p2p_frame_type_name(type) ? p2p_frame_type_name(type) : "unknown",
		            total, (guint)P2P_FRAME_MAX_PAYLOAD);
		return FALSE;
	}
	if (p2p_frame_type_name(type) == NULL) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_UNKNOWN_TYPE,
		            "unknown frame type 0x%02x", type);
		return FALSE;
	}
	gsize head = P2P_FRAME_HEADER + extra_len;
	if (c->corked && c->corked_len + head + len <= TLS_RECORD_MAX) {
		/* several small frames (a tree's files and their ends) in one record */
		guint8 *p = c->corked_buf + c->corked_len;
		p2p_frame_header(p, type, total);
		if (extra_len > 0)
			memcpy(p + P2P_FRAME_HEADER, extra, extra_len);
		if (len > 0)
			memcpy(p + head, payload, len);
		c->corked_len += head + len;
		return TRUE;
	}
	if (!write_corked(c, error))
		return FALSE;
	p2p_frame_header(c->scratch, type, total);
	if (extra_len > 0)
		memcpy(c->scratch + P2P_FRAME_HEADER, extra, extra_len);
	gsize first = MIN(len, TLS_RECORD_MAX - head);
	if (first > 0)
		memcpy(c->scratch + head, payload, first);
	if (!ssl_write_all(c, c->scratch, head + first, error))
		return FALSE;
	if (len > first && !ssl_write_all(c, payload + first, len - first, error))
		return FALSE;
	return c->corked ? TRUE : push_out(c, error);
}

void
p2p_channel_cork(P2pChannel *c)
{
	c->corked++;
}

gboolean
p2p_channel_uncork(P2pChannel *c, GError **error)
{
	g_return_val_if_fail(c->corked > 0, FALSE);
	if (--c->corked > 0)
		return TRUE;
	if (c->state != CH_OPEN) {
		c->corked_len = 0;
		return TRUE;
	}
	return write_corked(c, error) && push_out(c, error);
}

gboolean
p2p_channel_send(P2pChannel *c, guint8 type, const void *payload, gsize len, GError **error)
{
	return write_frame(c, type, NULL, 0, payload, len, error);
}

gboolean
p2p_channel_send_data(P2pChannel *c, guint64 xfer, guint32 file, guint64 offset,
                      const void *data, gsize len, GError **error)
{
	guint8 hdr[P2P_DATA_HEADER];
	p2p_frame_data_header(hdr, xfer, file, offset);
	return write_frame(c, P2P_FRAME_DATA, hdr, sizeof(hdr), data, len, error);
}

gboolean
p2p_channel_send_json(P2pChannel *c, guint8 type, JsonObject *payload, GError **error)
{
	g_autoptr(GBytes) bytes = p2p_frame_build_json(payload);
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(bytes, &len);
	return write_frame(c, type, NULL, 0, p, len, error);
}

gsize
p2p_channel_queued(P2pChannel *c)
{
	return queued(c);
}

void
p2p_channel_get_counters(P2pChannel *c, guint64 *bytes_in, guint64 *bytes_out)
{
	*bytes_in = c->bytes_in;
	*bytes_out = c->bytes_out;
}

const char *
p2p_channel_get_peer_fingerprint(P2pChannel *c)
{
	return c->peer_fingerprint;
}

/* ---- input -------------------------------------------------------------------- */

/* Sends an ERROR frame and close_notify before failing, so that the peer learns why. */
static void
fail_protocol(P2pChannel *c, GError *error)
{
	if (c->state == CH_OPEN) {
		g_autoptr(JsonObject) o = json_object_new();
		json_object_set_string_member(o, "code", P2P_REASON_PROTOCOL);
		json_object_set_string_member(o, "message", error->message);
		g_autoptr(GBytes) b = p2p_frame_build_json(o);
		gsize len = 0;
		const guint8 *p = g_bytes_get_data(b, &len);
		if (write_frame(c, P2P_FRAME_ERROR, NULL, 0, p, len, NULL)) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
	}
	channel_fail(c, error);
}

/* Hands every complete frame to the user; stops when the user closed or freed. */
static gboolean
dispatch_frames(P2pChannel *c)
{
	while (alive(c) && c->state == CH_OPEN) {
		guint8 type = 0;
		GBytes *payload = NULL;
		GError *e = NULL;
		if (!p2p_frame_reader_next(&c->reader, &type, &payload, &e)) {
			if (e != NULL) {
				fail_protocol(c, e);
				return FALSE;
			}
			return TRUE;
		}
		if (c->cb.frame)
			c->cb.frame(c, type, payload, c->user);
		g_bytes_unref(payload);
	}
	return FALSE;
}

static gboolean
handshake_step(P2pChannel *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			flush_out(c);
			return FALSE;
		}
		channel_fail(c, tls_error(c, "TLS handshake failed", r));
		return FALSE;
	}
	if (!flush_out(c))
		return FALSE;
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	EVP_PKEY *pkey = peer ? X509_get0_pubkey(peer) : NULL;
	c->peer_fingerprint = pkey ? p2p_fingerprint_of_pkey(pkey) : NULL;
	if (c->peer_fingerprint == NULL) {
		channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS,
		                            "TLS handshake failed: the peer sent no usable "
		                            "certificate"));
		return FALSE;
	}
	destroy_source(&c->timer);
	c->state = CH_OPEN;
	if (c->cb.ready)
		c->cb.ready(c, c->peer_fingerprint, c->user);
	return alive(c) && c->state == CH_OPEN;
}

static void
pump_in(P2pChannel *c)
{
	if (c->state == CH_HANDSHAKE && !handshake_step(c))
		return;
	while (alive(c) && c->state == CH_OPEN) {
		guint8 *p = p2p_frame_reader_reserve(&c->reader, READ_CHUNK);
		size_t n = 0;
		ERR_clear_error();
		int r = SSL_read_ex(c->ssl, p, READ_CHUNK, &n);
		if (r == 1) {
			p2p_frame_reader_commit(&c->reader, n);
			if (!dispatch_frames(c))
				return;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return;
		if (e == SSL_ERROR_ZERO_RETURN) {
			/* the peer's close_notify: answer with ours and finish cleanly */
			if (p2p_frame_reader_pending(&c->reader) > 0) {
				channel_fail(c, g_error_new(P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
				                            "peer closed the channel in the middle of a "
				                            "frame"));
				return;
			}
			c->peer_closed = TRUE;
			start_close(c);
			return;
		}
		channel_fail(c, tls_error(c, "TLS receive failed", r));
		return;
	}
}

/* While closing: read on and drop what the peer still sends until its close_notify.
 * Closing the transport on bytes in flight answers them with a TCP reset, which can
 * destroy our ERROR frame and close_notify before the peer read them; and a peer
 * whose write fails first never learns why the session ended. */
static void
drain_in(P2pChannel *c)
{
	guint8 sink[TLS_RECORD_MAX];

	while (!c->peer_closed) {
		size_t n = 0;
		ERR_clear_error();
		int r = SSL_read_ex(c->ssl, sink, sizeof sink, &n);
		if (r == 1)
			continue;
		/* its close_notify, or a TLS error: either way nothing more will come */
		if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
			c->peer_closed = TRUE;
		ERR_clear_error();
		return;
	}
}

/* The close is done once our close_notify is out and the peer's has come. */
static gboolean
close_done(P2pChannel *c)
{
	return queued(c) == 0 && c->peer_closed;
}

/* ---- transport callbacks ------------------------------------------------------ */

static void
on_transport_readable(P2pTransport *t, const guint8 *data, gsize len, gpointer user)
{
	P2pChannel *c = user;

	if (c->state == CH_CLOSED || !alive(c))
		return;
	c->busy++;
	c->bytes_in += len;
	c->in = data;
	c->in_len = len;
	if (c->state == CH_CLOSING)
		drain_in(c);
	else
		pump_in(c);
	c->in = NULL;
	c->in_len = 0;
	/* reading may have queued output (key updates, alerts, close_notify) */
	if (alive(c) && c->state != CH_CLOSED) {
		flush_out(c);
		if (c->state == CH_CLOSING && close_done(c))
			finish_close(c);
		else
			check_writable_deferred(c);
	}
	unbusy(c);
}

static void
on_transport_writable(P2pTransport *t, gpointer user)
{
	P2pChannel *c = user;

	if (c->state == CH_CLOSED || !alive(c))
		return;
	c->busy++;
	if (flush_out(c)) {
		if (c->state == CH_CLOSING && close_done(c)) {
			finish_close(c);
		} else if (c->state == CH_OPEN && c->owe_writable &&
		           queued(c) <= P2P_CHANNEL_LOW_WATER) {
			c->owe_writable = FALSE;
			if (c->cb.writable)
				c->cb.writable(c, c->user);
		}
	}
	unbusy(c);
}

static void
on_transport_closed(P2pTransport *t, const GError *error, gpointer user)
{
	P2pChannel *c = user;

	switch (c->state) {
	case CH_CLOSED:
		return;
	case CH_CLOSING:
		finish_close(c);
		return;
	case CH_HANDSHAKE:
		channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, error ? P2P_CHANNEL_ERROR_TRANSPORT
		                                                     : P2P_CHANNEL_ERROR_TRUNCATED,
		                            "TLS handshake failed: %s",
		                            error ? error->message
		                                  : "the peer closed the connection"));
		return;
	case CH_OPEN:
		if (error)
			channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TRANSPORT,
			                            "connection to the peer failed: %s",
			                            error->message));
		else
			channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TRUNCATED,
			                            "the peer closed the connection without a TLS "
			                            "close_notify"));
		return;
	}
}

/* ---- lifecycle ---------------------------------------------------------------- */

static gboolean
timer_cb(gpointer data)
{
	P2pChannel *c = data;

	g_clear_pointer(&c->timer, g_source_unref);
	if (c->state == CH_HANDSHAKE)
		channel_fail(c, g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TIMEOUT,
		                            "TLS handshake failed: no answer within %d s",
		                            P2P_CHANNEL_HANDSHAKE_TIMEOUT));
	else if (c->state == CH_CLOSING)
		finish_close(c); /* the peer stopped reading or answering: give up on it */
	return G_SOURCE_REMOVE;
}

static void
arm_timer(P2pChannel *c, guint seconds)
{
	destroy_source(&c->timer);
	c->timer = g_timeout_source_new_seconds(seconds);
	g_source_set_callback(c->timer, timer_cb, c, NULL);
	g_source_attach(c->timer, c->context);
}

/* Verification always succeeds: a self-signed certificate is the norm here, and trust
 * comes from the caller comparing the key fingerprint, not from a CA. TLS 1.3's
 * CertificateVerify still proves the peer holds the certificate's key. */
static int
verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
	return 1;
}

static SSL_CTX *
make_ctx(P2pIdentity *identity, gboolean is_client, GError **error)
{
	SSL_CTX *ctx = SSL_CTX_new(is_client ? TLS_client_method() : TLS_server_method());
	if (ctx == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1 ||
	    SSL_CTX_use_certificate(ctx, identity->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, identity->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	/* one connection per pair, no resumption: tickets would only cost a round of I/O */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return ctx;
fail:
	{
		char buf[256] = "unknown error";
		unsigned long e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, buf, sizeof(buf));
		ERR_clear_error();
		g_set_error(error, P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS,
		            "cannot set up TLS with identity %s: %s", identity->fingerprint, buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
}

static const P2pTransportCallbacks transport_callbacks = {
	.readable = on_transport_readable,
	.writable = on_transport_writable,
	.closed = on_transport_closed,
};

P2pChannel *
p2p_channel_new(P2pTransport *transport, P2pIdentity *identity, gboolean is_client,
                const P2pChannelCallbacks *cb, gpointer user)
{
	g_return_val_if_fail(transport != NULL && identity != NULL && cb != NULL, NULL);

	P2pChannel *c = g_new0(P2pChannel, 1);
	g_autoptr(GError) error = NULL;

	c->transport = transport;
	c->cb = *cb;
	c->user = user;
	c->context = g_main_context_ref_thread_default();
	c->out = g_byte_array_sized_new(64 * 1024);
	c->scratch = g_malloc(TLS_RECORD_MAX);
	c->corked_buf = g_malloc(TLS_RECORD_MAX);
	p2p_frame_reader_init(&c->reader);
	c->state = CH_HANDSHAKE;
	p2p_transport_set_callbacks(transport, &transport_callbacks, c);

	ERR_clear_error();
	c->ctx = make_ctx(identity, is_client, &error);
	if (c->ctx != NULL)
		c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL) {
		if (error == NULL)
			error = g_error_new(P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS,
			                    "cannot create the TLS session");
		channel_fail(c, g_steal_pointer(&error));
		return c;
	}
	BIO *bio = BIO_new(channel_bio_method());
	BIO_set_data(bio, c);
	BIO_up_ref(bio);
	SSL_set_bio(c->ssl, bio, bio); /* the SSL object owns both references */
	if (is_client)
		SSL_set_connect_state(c->ssl);
	else
		SSL_set_accept_state(c->ssl);

	arm_timer(c, P2P_CHANNEL_HANDSHAKE_TIMEOUT);
	/* the client speaks first; no callback can run from here (failures are deferred) */
	if (is_client) {
		ERR_clear_error();
		int r = SSL_do_handshake(c->ssl);
		int e = SSL_get_error(c->ssl, r);
		if (r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			channel_fail(c, tls_error(c, "TLS handshake failed", r));
		else
			flush_out(c);
	}
	return c;
}

static void
start_close(P2pChannel *c)
{
	if (c->state == CH_CLOSING || c->state == CH_CLOSED)
		return;
	if (c->state == CH_OPEN) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* queues close_notify in our BIO */
		ERR_clear_error();
	} else {
		c->peer_closed = TRUE; /* no TLS session yet: no close_notify will come */
	}
	c->state = CH_CLOSING;
	if (!flush_out(c))
		return;
	if (close_done(c))
		finish_close(c);
	else
		arm_timer(c, P2P_CHANNEL_CLOSE_TIMEOUT);
}

void
p2p_channel_close(P2pChannel *c)
{
	if (c == NULL || c->free_requested)
		return;
	start_close(c);
}

void
p2p_channel_free(P2pChannel *c)
{
	if (c == NULL || c->free_requested)
		return;
	if (c->busy == 0) {
		real_free(c);
		return;
	}
	/* called from one of our callbacks: stop everything now, free once off the stack */
	c->free_requested = TRUE;
	memset(&c->cb, 0, sizeof(c->cb));
	destroy_source(&c->notify);
	destroy_source(&c->timer);
	p2p_transport_close(c->transport);
	c->state = CH_CLOSED;
}

/* Unit tests for the identity files, the TLS peer channel over an in-memory transport
 * pair, and the channel over two reliable libnice agents on loopback (ICE-TCP and
 * pseudo-TCP over UDP), with an 8 MiB DATA transfer under flow control. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <nice/agent.h>

#include "p2pd-channel.h"
#include "p2pd-identity.h"
#include "p2pd-transport.h"

#define TRANSFER_SIZE  (8 * 1024 * 1024)
#define HIGH_WATER     (1024 * 1024)
#define WAIT_SECONDS   60

/* ---- helpers ------------------------------------------------------------------- */

static char *
make_tmpdir(void)
{
	g_autoptr(GError) error = NULL;
	char *dir = g_dir_make_tmp("p2pd-channel-XXXXXX", &error);
	g_assert_no_error(error);
	return dir;
}

static void
rm_rf(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		g_unlink(p);
	}
	g_rmdir(dir);
}

static gboolean timed_out;

static gboolean
timeout_cb(gpointer data)
{
	timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the default loop until *flag (or timeout, which fails the test loudly). */
static void
run_until(gboolean *flag, const char *what)
{
	timed_out = FALSE;
	guint id = g_timeout_add_seconds(WAIT_SECONDS, timeout_cb, NULL);
	while (!*flag && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	if (!*flag)
		g_error("timed out after %d s waiting for %s", WAIT_SECONDS, what);
}

/* ---- identity ------------------------------------------------------------------ */

static void
assert_mode_0600(const char *dir, const char *file)
{
	g_autofree char *p = g_build_filename(dir, file, NULL);
	struct stat st;
	g_assert_cmpint(g_stat(p, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
}

static void
test_identity(void)
{
	g_autofree char *dir = make_tmpdir();
	g_autoptr(GError) error = NULL;

	g_autoptr(P2pIdentity) a = p2p_identity_load_or_create(dir, "alice", &error);
	g_assert_no_error(error);
	g_assert_nonnull(a);
	g_assert_true(p2p_fingerprint_valid(a->fingerprint));
	assert_mode_0600(dir, P2P_IDENTITY_KEY_FILE);
	assert_mode_0600(dir, P2P_IDENTITY_CERT_FILE);
	g_autofree char *fp = p2p_fingerprint_of_pkey(X509_get0_pubkey(a->cert));
	g_assert_cmpstr(fp, ==, a->fingerprint);

	/* reload: same key */
	g_autoptr(P2pIdentity) b = p2p_identity_load_or_create(dir, "alice", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(b->fingerprint, ==, a->fingerprint);

	/* cert lost: re-issued from the key, same fingerprint */
	g_autofree char *crt = g_build_filename(dir, P2P_IDENTITY_CERT_FILE, NULL);
	g_assert_cmpint(g_unlink(crt), ==, 0);
	g_autoptr(P2pIdentity) c = p2p_identity_load_or_create(dir, "alice", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->fingerprint, ==, a->fingerprint);
	assert_mode_0600(dir, P2P_IDENTITY_CERT_FILE);

	/* group-readable key refused, with a message that says so */
	g_autofree char *key = g_build_filename(dir, P2P_IDENTITY_KEY_FILE, NULL);
	g_assert_cmpint(g_chmod(key, 0640), ==, 0);
	g_autoptr(P2pIdentity) d = p2p_identity_load_or_create(dir, "alice", &error);
	g_assert_null(d);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "readable by group or others"));
	g_clear_error(&error);

	/* another directory: another key */
	g_autofree char *dir2 = make_tmpdir();
	g_autoptr(P2pIdentity) e = p2p_identity_load_or_create(dir2, "bob", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(e->fingerprint, !=, a->fingerprint);

	g_assert_false(p2p_fingerprint_valid("abc"));
	g_assert_false(p2p_fingerprint_valid(
		"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"));
	rm_rf(dir);
	rm_rf(dir2);
}

/* ---- in-memory transport pair ----------------------------------------------------- */

typedef struct MemTransport MemTransport;
struct MemTransport {
	P2pTransport parent;
	MemTransport *peer;
	GByteArray *inbox;      /* bytes written by the peer, not yet delivered */
	GSource *work;
	gsize capacity;         /* of our inbox, so that writers see back-pressure */
	gboolean closed;
	gboolean peer_closed;   /* deliver closed(NULL) after the inbox */
	gboolean emit_writable;
	gboolean want_writable; /* a write of ours returned 0 */
	gboolean tamper;        /* flip a bit in everything we write */
};

static void mem_schedule(MemTransport *m);

static gboolean
mem_work(gpointer data)
{
	MemTransport *m = data;
	P2pTransport *t = &m->parent;

	g_clear_pointer(&m->work, g_source_unref);
	if (m->closed)
		return G_SOURCE_REMOVE;
	if (m->inbox->len > 0) {
		g_autoptr(GByteArray) b = m->inbox;
		m->inbox = g_byte_array_new();
		if (m->peer != NULL && m->peer->want_writable) {
			m->peer->want_writable = FALSE;
			m->peer->emit_writable = TRUE;
			mem_schedule(m->peer);
		}
		if (t->cb.readable)
			t->cb.readable(t, b->data, b->len, t->user);
		if (m->closed)
			return G_SOURCE_REMOVE;
	}
	if (m->emit_writable) {
		m->emit_writable = FALSE;
		if (t->cb.writable)
			t->cb.writable(t, t->user);
		if (m->closed)
			return G_SOURCE_REMOVE;
	}
	if (m->peer_closed && m->inbox->len == 0) {
		m->closed = TRUE;
		if (t->cb.closed)
			t->cb.closed(t, NULL, t->user);
	}
	return G_SOURCE_REMOVE;
}

static void
mem_schedule(MemTransport *m)
{
	if (m->work != NULL || m->closed)
		return;
	m->work = g_idle_source_new();
	g_source_set_callback(m->work, mem_work, m, NULL);
	g_source_attach(m->work, NULL);
}

static gssize
mem_write(P2pTransport *t, const guint8 *data, gsize len, GError **error)
{
	MemTransport *m = (MemTransport *)t;

	if (m->closed || m->peer == NULL || m->peer->closed) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "memory transport closed");
		return -1;
	}
	MemTransport *p = m->peer;
	gsize room = p->capacity > p->inbox->len ? p->capacity - p->inbox->len : 0;
	gsize n = MIN(len, room);
	if (n == 0) {
		m->want_writable = TRUE;
		return 0;
	}
	gsize old = p->inbox->len;
	g_byte_array_append(p->inbox, data, n);
	if (m->tamper)
		p->inbox->data[old + n - 1] ^= 0x20; /* last byte: inside the AEAD tag */
	mem_schedule(p);
	return n;
}

static void
mem_close(P2pTransport *t)
{
	MemTransport *m = (MemTransport *)t;
	if (m->closed)
		return;
	m->closed = TRUE;
	if (m->work != NULL) {
		g_source_destroy(m->work);
		g_clear_pointer(&m->work, g_source_unref);
	}
	if (m->peer != NULL) {
		m->peer->peer_closed = TRUE;
		mem_schedule(m->peer);
	}
}

static void
mem_free(P2pTransport *t)
{
	MemTransport *m = (MemTransport *)t;
	mem_close(t);
	if (m->peer != NULL)
		m->peer->peer = NULL;
	g_byte_array_unref(m->inbox);
	g_free(m);
}

static const P2pTransportOps mem_ops = {
	.write = mem_write,
	.close = mem_close,
	.free = mem_free,
	.name = "memory",
};

static void
mem_pair(P2pTransport **a, P2pTransport **b)
{
	MemTransport *x = g_new0(MemTransport, 1);
	MemTransport *y = g_new0(MemTransport, 1);
	x->parent.ops = y->parent.ops = &mem_ops;
	x->inbox = g_byte_array_new();
	y->inbox = g_byte_array_new();
	x->capacity = y->capacity = 512 * 1024;
	x->peer = y;
	y->peer = x;
	*a = &x->parent;
	*b = &y->parent;
}

/* ---- one end of a test session -------------------------------------------------- */

typedef struct End End;
struct End {
	const char *name;
	P2pChannel *ch;
	P2pIdentity *id;
	End *other;
	char *peer_fp;
	gboolean ready;
	gboolean got_hello;
	gboolean closed;
	GError *close_error;
	/* sender */
	const guint8 *data;
	gsize total;
	gsize sent;
	gint64 started;
	gboolean send_on_hello;
	gboolean got_ack;
	char *ack_sha;
	/* receiver */
	GChecksum *sum;
	gsize received;
	gboolean done;
	gint64 finished;
	gboolean close_on_ack;
};

static void
end_pump(End *e)
{
	while (e->sent < e->total && p2p_channel_queued(e->ch) < HIGH_WATER) {
		g_autoptr(GError) error = NULL;
		gsize n = MIN(P2P_DATA_CHUNK, e->total - e->sent);
		g_assert_true(p2p_channel_send_data(e->ch, 7, 0, e->sent, e->data + e->sent, n,
		                                    &error));
		g_assert_no_error(error);
		e->sent += n;
	}
}

static void
on_ready(P2pChannel *c, const char *fp, gpointer user)
{
	End *e = user;
	g_autoptr(GError) error = NULL;

	e->ready = TRUE;
	e->peer_fp = g_strdup(fp);
	g_autoptr(JsonObject) hello = json_object_new();
	json_object_set_int_member(hello, "version", P2P_PEER_VERSION);
	json_object_set_string_member(hello, "agent", e->name);
	g_assert_true(p2p_channel_send_json(c, P2P_FRAME_HELLO, hello, &error));
	g_assert_no_error(error);
}

static void
on_frame(P2pChannel *c, guint8 type, GBytes *payload, gpointer user)
{
	End *e = user;
	g_autoptr(GError) error = NULL;

	switch (type) {
	case P2P_FRAME_HELLO: {
		g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(json_object_get_string_member(o, "agent"), ==, e->other->name);
		e->got_hello = TRUE;
		if (e->send_on_hello) {
			e->started = g_get_monotonic_time();
			end_pump(e);
		}
		break;
	}
	case P2P_FRAME_DATA: {
		guint64 xfer, offset;
		guint32 file;
		const guint8 *d;
		gsize n;
		gsize size = 0;
		const guint8 *p = g_bytes_get_data(payload, &size);
		g_assert_true(p2p_frame_data_parse(p, size, &xfer, &file, &offset, &d, &n, &error));
		g_assert_cmpuint(xfer, ==, 7);
		g_assert_cmpuint(offset, ==, e->received);
		if (e->sum == NULL)
			e->sum = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(e->sum, d, n);
		e->received += n;
		if (e->received == TRANSFER_SIZE) {
			e->done = TRUE;
			e->finished = g_get_monotonic_time();
			g_autoptr(JsonObject) ack = json_object_new();
			json_object_set_int_member(ack, "xfer", 7);
			json_object_set_string_member(ack, "sha256", g_checksum_get_string(e->sum));
			g_assert_true(p2p_channel_send_json(c, P2P_FRAME_ACK, ack, &error));
		}
		break;
	}
	case P2P_FRAME_ACK: {
		g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, &error);
		g_assert_no_error(error);
		e->ack_sha = g_strdup(json_object_get_string_member(o, "sha256"));
		e->got_ack = TRUE;
		/* closing from inside a frame callback must be safe */
		if (e->close_on_ack)
			p2p_channel_close(c);
		break;
	}
	default:
		g_error("%s: unexpected frame type %u", e->name, type);
	}
}

static void
on_writable(P2pChannel *c, gpointer user)
{
	End *e = user;
	if (e->total > 0)
		end_pump(e);
}

static void
on_closed(P2pChannel *c, const GError *error, gpointer user)
{
	End *e = user;
	g_assert_false(e->closed);
	e->closed = TRUE;
	e->close_error = error ? g_error_copy(error) : NULL;
	if (error)
		g_test_message("%s: closed: %s", e->name, error->message);
}

static const P2pChannelCallbacks end_callbacks = {
	.ready = on_ready,
	.frame = on_frame,
	.writable = on_writable,
	.closed = on_closed,
};

static void
end_clear(End *e)
{
	g_clear_pointer(&e->ch, p2p_channel_free);
	g_clear_pointer(&e->peer_fp, g_free);
	g_clear_pointer(&e->ack_sha, g_free);
	g_clear_pointer(&e->sum, g_checksum_free);
	g_clear_error(&e->close_error);
}

typedef struct {
	char *dir_a, *dir_b;
	P2pIdentity *id_a, *id_b;
	guint8 *data;
	char *data_sha;
} Fixture;

static void
fixture_init(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	f->dir_a = make_tmpdir();
	f->dir_b = make_tmpdir();
	f->id_a = p2p_identity_load_or_create(f->dir_a, "alice", &error);
	g_assert_no_error(error);
	f->id_b = p2p_identity_load_or_create(f->dir_b, "bob", &error);
	g_assert_no_error(error);
	f->data = g_malloc(TRANSFER_SIZE);
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	for (gsize i = 0; i < TRANSFER_SIZE / 4; i++) {
		guint32 v = g_rand_int(rand);
		memcpy(f->data + 4 * i, &v, 4);
	}
	f->data_sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, f->data, TRANSFER_SIZE);
}

static void
fixture_clear(Fixture *f)
{
	p2p_identity_free(f->id_a);
	p2p_identity_free(f->id_b);
	rm_rf(f->dir_a);
	rm_rf(f->dir_b);
	g_free(f->dir_a);
	g_free(f->dir_b);
	g_free(f->data);
	g_free(f->data_sha);
}

/* The whole scenario on two connected transports: handshake, fingerprints, HELLO both
 * ways, 8 MiB of DATA from a (client) to b (server) under flow control, ACK with the
 * SHA-256 back, a closes from inside the ACK callback, both see a clean close. */
static void
run_session(Fixture *f, P2pTransport *ta, P2pTransport *tb, const char *label)
{
	End a = { .name = "alice", .id = f->id_a, .data = f->data, .total = TRANSFER_SIZE,
	          .send_on_hello = TRUE, .close_on_ack = TRUE };
	End b = { .name = "bob", .id = f->id_b };
	a.other = &b;
	b.other = &a;

	a.ch = p2p_channel_new(ta, f->id_a, TRUE, &end_callbacks, &a);
	b.ch = p2p_channel_new(tb, f->id_b, FALSE, &end_callbacks, &b);

	run_until(&b.done, "the transfer to finish");
	g_assert_true(a.ready);
	g_assert_true(b.ready);
	g_assert_cmpstr(a.peer_fp, ==, f->id_b->fingerprint);
	g_assert_cmpstr(b.peer_fp, ==, f->id_a->fingerprint);
	g_assert_true(a.got_hello);
	g_assert_true(b.got_hello);
	g_assert_cmpstr(g_checksum_get_string(b.sum), ==, f->data_sha);

	double secs = (b.finished - a.started) / 1e6;
	g_test_message("%s: %d MiB in %.3f s = %.1f MB/s", label, TRANSFER_SIZE >> 20, secs,
	               TRANSFER_SIZE / secs / 1e6);

	run_until(&a.closed, "the sender's close");
	run_until(&b.closed, "the receiver to see the close");
	g_assert_true(a.got_ack);
	g_assert_cmpstr(a.ack_sha, ==, f->data_sha);
	g_assert_no_error(a.close_error);
	g_assert_no_error(b.close_error);
	end_clear(&a);
	end_clear(&b);
}

static void
test_memory_session(void)
{
	Fixture f;
	P2pTransport *ta, *tb;
	fixture_init(&f);
	mem_pair(&ta, &tb);
	run_session(&f, ta, tb, "memory");
	fixture_clear(&f);
}

/* ---- failures over the memory pair ----------------------------------------------- */

typedef struct {
	GByteArray *got;
	gboolean closed;
} RawEnd;

static void
raw_readable(P2pTransport *t, const guint8 *data, gsize len, gpointer user)
{
	RawEnd *r = user;
	g_byte_array_append(r->got, data, len);
}

static void
raw_writable(P2pTransport *t, gpointer user)
{
}

static void
raw_closed(P2pTransport *t, const GError *error, gpointer user)
{
	RawEnd *r = user;
	r->closed = TRUE;
}

static const P2pTransportCallbacks raw_callbacks = { raw_readable, raw_writable, raw_closed };

/* A peer that is not TLS at all. */
static void
test_garbage_peer(void)
{
	Fixture f;
	fixture_init(&f);
	for (int client = 0; client < 2; client++) {
		P2pTransport *tc, *traw;
		RawEnd raw = { g_byte_array_new(), FALSE };
		End e = { .name = "alice" };
		mem_pair(&tc, &traw);
		p2p_transport_set_callbacks(traw, &raw_callbacks, &raw);
		e.ch = p2p_channel_new(tc, f.id_a, client, &end_callbacks, &e);
		const char *junk = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
		g_assert_cmpint(p2p_transport_write(traw, (const guint8 *)junk, strlen(junk), NULL),
		                ==, (gssize)strlen(junk));
		run_until(&e.closed, "the channel to refuse a non-TLS peer");
		g_assert_false(e.ready);
		g_assert_error(e.close_error, P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS);
		g_assert_true(g_str_has_prefix(e.close_error->message, "TLS handshake failed: "));
		run_until(&raw.closed, "the transport to be closed");
		end_clear(&e);
		p2p_transport_free(traw);
		g_byte_array_unref(raw.got);
	}
	fixture_clear(&f);
}

/* Ciphertext altered in flight: the AEAD must catch it and say so. */
static void
test_tampered(void)
{
	Fixture f;
	P2pTransport *ta, *tb;
	fixture_init(&f);
	mem_pair(&ta, &tb);
	End a = { .name = "alice" };
	End b = { .name = "bob" };
	a.other = &b;
	b.other = &a;
	a.ch = p2p_channel_new(ta, f.id_a, TRUE, &end_callbacks, &a);
	b.ch = p2p_channel_new(tb, f.id_b, FALSE, &end_callbacks, &b);
	run_until(&a.got_hello, "hello");
	run_until(&b.got_hello, "hello");
	((MemTransport *)ta)->tamper = TRUE;
	g_assert_true(p2p_channel_send(a.ch, P2P_FRAME_CANCEL, "{}", 2, NULL));
	run_until(&b.closed, "the tampered record to be refused");
	g_assert_error(b.close_error, P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TLS);
	g_assert_true(g_str_has_prefix(b.close_error->message, "TLS receive failed: "));
	run_until(&a.closed, "the sender to see the failure");
	g_assert_nonnull(a.close_error);
	end_clear(&a);
	end_clear(&b);
	fixture_clear(&f);
}

/* Limits on the sending side, and the transport vanishing without close_notify. */
static void
test_send_errors(void)
{
	Fixture f;
	P2pTransport *ta, *tb;
	g_autoptr(GError) error = NULL;
	fixture_init(&f);
	mem_pair(&ta, &tb);
	End a = { .name = "alice" };
	End b = { .name = "bob" };
	a.other = &b;
	b.other = &a;
	a.ch = p2p_channel_new(ta, f.id_a, TRUE, &end_callbacks, &a);
	b.ch = p2p_channel_new(tb, f.id_b, FALSE, &end_callbacks, &b);

	g_assert_false(p2p_channel_send(a.ch, P2P_FRAME_CANCEL, "{}", 2, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
	g_clear_error(&error);

	run_until(&a.got_hello, "hello");
	run_until(&b.got_hello, "hello");
	g_autofree guint8 *big = g_malloc0(P2P_FRAME_MAX_PAYLOAD + 1);
	g_assert_false(p2p_channel_send(a.ch, P2P_FRAME_OFFER, big, P2P_FRAME_MAX_PAYLOAD + 1,
	                                &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_TOO_LARGE);
	g_clear_error(&error);
	g_assert_false(p2p_channel_send(a.ch, 0x7e, "x", 1, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_UNKNOWN_TYPE);
	g_clear_error(&error);

	/* a's transport goes away under it: b sees a truncation, not a clean close */
	p2p_transport_close(ta);
	run_until(&b.closed, "truncation");
	g_assert_error(b.close_error, P2P_CHANNEL_ERROR, P2P_CHANNEL_ERROR_TRUNCATED);
	end_clear(&a);
	end_clear(&b);
	fixture_clear(&f);
}

/* ---- libnice on loopback ---------------------------------------------------------- */

typedef struct {
	NiceAgent *agent;
	P2pTransport *transport;
	guint stream;
	gboolean gathered;
	gboolean ready;
	gboolean failed;
} Side;

static void
on_gathered(NiceAgent *agent, guint stream, gpointer user)
{
	((Side *)user)->gathered = TRUE;
}

static void
on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer user)
{
	Side *s = user;
	if (state == NICE_COMPONENT_STATE_READY)
		s->ready = TRUE;
	else if (state == NICE_COMPONENT_STATE_FAILED)
		s->failed = TRUE;
}

/* How the two agents run: libnice's reliable agent (ICE-TCP or pseudo-TCP), or a
 * non-reliable one under p2pd-transport-dgram.c (over UDP, or ICE-TCP's framing). */
enum { MODE_PSEUDO_TCP, MODE_ICE_TCP, MODE_DGRAM_UDP, MODE_DGRAM_TCP };

static void
side_init(Side *s, gboolean controlling, int mode)
{
	NiceAddress addr;
	gboolean dgram = mode == MODE_DGRAM_UDP || mode == MODE_DGRAM_TCP;
	gboolean ice_tcp = mode == MODE_ICE_TCP || mode == MODE_DGRAM_TCP;

	s->agent = dgram ? nice_agent_new(NULL, NICE_COMPATIBILITY_RFC5245)
	                 : nice_agent_new_reliable(NULL, NICE_COMPATIBILITY_RFC5245);
	/* the datagram transport over ICE-TCP: only TCP candidates, else UDP wins */
	g_object_set(s->agent, "ice-tcp", ice_tcp, "ice-udp", mode != MODE_DGRAM_TCP, "controlling-mode",
	             controlling, NULL);
	if (g_object_class_find_property(G_OBJECT_GET_CLASS(s->agent), "upnp"))
		g_object_set(s->agent, "upnp", FALSE, NULL);
	nice_address_init(&addr);
	g_assert_true(nice_address_set_from_string(&addr, "127.0.0.1"));
	g_assert_true(nice_agent_add_local_address(s->agent, &addr));
	s->stream = nice_agent_add_stream(s->agent, 1);
	g_assert_cmpuint(s->stream, >, 0);
	/* before gathering: the transport's attach_recv is what makes libnice answer checks */
	s->transport = dgram ? p2p_transport_dgram_new(s->agent, s->stream, 1)
	                     : p2p_transport_nice_new(s->agent, s->stream, 1);
	g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(on_gathered), s);
	g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(on_state), s);
	g_assert_true(nice_agent_gather_candidates(s->agent, s->stream));
}

/* What the signaling server would carry, handed over directly. */
static void
side_tell(Side *from, Side *to)
{
	g_autofree gchar *ufrag = NULL;
	g_autofree gchar *pwd = NULL;

	g_assert_true(nice_agent_get_local_credentials(from->agent, from->stream, &ufrag, &pwd));
	g_assert_true(nice_agent_set_remote_credentials(to->agent, to->stream, ufrag, pwd));
	GSList *cands = nice_agent_get_local_candidates(from->agent, from->stream, 1);
	g_assert_nonnull(cands);
	g_assert_cmpint(nice_agent_set_remote_candidates(to->agent, to->stream, 1, cands), >=, 1);
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
}

static const char *
selected_transport(Side *s)
{
	NiceCandidate *local = NULL, *remote = NULL;
	if (!nice_agent_get_selected_pair(s->agent, s->stream, 1, &local, &remote))
		return "none";
	switch (local->transport) {
	case NICE_CANDIDATE_TRANSPORT_UDP:
		return "udp";
	case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:
		return "tcp-active";
	case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE:
		return "tcp-passive";
	default:
		return "tcp-so";
	}
}

static void
test_nice(gconstpointer data)
{
	int mode = GPOINTER_TO_INT(data);
	gboolean dgram = mode == MODE_DGRAM_UDP || mode == MODE_DGRAM_TCP;
	gboolean ice_tcp = mode == MODE_ICE_TCP || mode == MODE_DGRAM_TCP;
	Fixture f;
	Side a = { 0 }, b = { 0 };

	fixture_init(&f);
	side_init(&a, TRUE, mode);
	side_init(&b, FALSE, mode);
	run_until(&a.gathered, "candidate gathering");
	run_until(&b.gathered, "candidate gathering");
	side_tell(&a, &b);
	side_tell(&b, &a);

	timed_out = FALSE;
	guint id = g_timeout_add_seconds(WAIT_SECONDS, timeout_cb, NULL);
	while (!(a.ready && b.ready) && !a.failed && !b.failed && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	if (!(a.ready && b.ready))
		g_error("loopback ICE did not connect (%s): alice %s, bob %s",
		        timed_out ? "timeout" : "failed", a.failed ? "failed" : "not ready",
		        b.failed ? "failed" : "not ready");

	const char *sel = selected_transport(&a);
	g_test_message("ice-tcp=%s: selected pair %s", ice_tcp ? "on" : "off", sel);
	if (!ice_tcp)
		g_assert_cmpstr(sel, ==, "udp");

	P2pTransport *ta = a.transport;
	P2pTransport *tb = b.transport;
	g_assert_cmpstr(p2p_transport_name(ta), ==, dgram ? "datagram" : "nice-reliable");
	g_autofree char *label = g_strdup_printf("%s over %s", p2p_transport_name(ta), sel);
	run_session(&f, ta, tb, label);

	g_object_unref(a.agent);
	g_object_unref(b.agent);
	fixture_clear(&f);
}

/* Connects two non-reliable agents with datagram transports on loopback. */
static void
dgram_pair(Side *a, Side *b)
{
	side_init(a, TRUE, MODE_DGRAM_UDP);
	side_init(b, FALSE, MODE_DGRAM_UDP);
	run_until(&a->gathered, "candidate gathering");
	run_until(&b->gathered, "candidate gathering");
	side_tell(a, b);
	side_tell(b, a);
	timed_out = FALSE;
	guint id = g_timeout_add_seconds(WAIT_SECONDS, timeout_cb, NULL);
	while (!(a->ready && b->ready) && !a->failed && !b->failed && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	g_assert_true(a->ready && b->ready);
}

static void
put64(guint8 *p, guint64 v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (guint8)v;
}

/* A datagram a hostile network could send from the peer's address: DATA and ACK
 * headers with fields near what a session uses, at the edges, or random; random
 * lengths; unknown types. With harmless set, only what must not disturb a session:
 * DATA past any window, ACKs for packets never sent, unknown types, short headers. */
static gsize
hostile_datagram(GRand *r, guint8 *buf, gsize cap, gboolean harmless)
{
	gsize len = g_rand_int_range(r, 1, (gint32)cap + 1);
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)g_rand_int(r);
	static const guint64 edges[] = { 0, 1, 1383, 1u << 20, 16u << 20, G_MAXUINT32,
	                                 G_GUINT64_CONSTANT(1) << 62, G_MAXUINT64 - 1, G_MAXUINT64 };
	guint64 near = g_rand_int_range(r, 0, 1 << 16);
	guint64 edge = edges[g_rand_int_range(r, 0, G_N_ELEMENTS(edges))];
	switch (g_rand_int_range(r, 0, 4)) {
	case 0: /* DATA */
		buf[0] = 0xd1;
		if (harmless && len == 17)
			len = 18; /* not a window probe, whose packet number is recorded */
		if (len >= 17) {
			put64(buf + 1, g_rand_boolean(r) ? near : edge);
			/* whole segments, or any byte: forged segments may overlap */
			guint64 off = g_rand_boolean(r) ? near * (g_rand_boolean(r) ? 1383 : 7) : edge;
			put64(buf + 9, harmless ? (G_GUINT64_CONSTANT(1) << 40) + off : off);
		}
		break;
	case 1: /* ACK */
		buf[0] = 0xa2;
		if (len >= 14) {
			put64(buf + 5, g_rand_boolean(r) ? near : edge); /* receive limit */
			if (harmless)
				put64(buf + 5, 0); /* below what was announced: ignored */
			guint n = g_rand_boolean(r) ? (len - 14) / 16 : (guint)g_rand_int_range(r, 0, 256);
			buf[13] = (guint8)n;
			for (guint i = 0; 14 + 16 * (i + 1) <= len; i++) {
				/* never sent: far above what a short session numbers */
				guint64 hi = harmless ? (G_GUINT64_CONSTANT(1) << 40) + near : near;
				put64(buf + 14 + 16 * i, g_rand_boolean(r) ? hi : edge);
				put64(buf + 22 + 16 * i, g_rand_boolean(r) ? hi - MIN(hi, near) : edge);
			}
		}
		break;
	case 2: /* short or unknown */
		if (harmless && buf[0] == 0xd1)
			buf[0] = 0x00;
		if (harmless && buf[0] == 0xa2)
			len = MIN(len, 13);
		break;
	default:
		if (harmless)
			buf[0] = 0xd1, len = MIN(len, 16); /* shorter than a DATA header */
		break;
	}
	return len;
}

/* The datagram transport's parsers against what a hostile network could send from the
 * peer's address (ICE drops everything else). First, 50,000 harmless datagrams into
 * both ends must leave a session that then runs to the end, bytes intact. Then 200,000
 * random ones must not crash it, nor make it hold more than a window of bytes. (A fuzz
 * pass with a fixed seed: the same inputs every run.) */
static void
test_dgram_hostile(void)
{
	Fixture f;
	Side a = { 0 }, b = { 0 };
	g_autoptr(GRand) r = g_rand_new_with_seed(20261123);
	guint8 buf[1500];

	fixture_init(&f);
	dgram_pair(&a, &b);
	for (guint i = 0; i < 50000; i++) {
		gsize len = hostile_datagram(r, buf, sizeof buf, TRUE);
		p2p_transport_dgram_input(i % 2 ? a.transport : b.transport, buf, len);
		if (i % 1000 == 0)
			g_main_context_iteration(NULL, FALSE);
	}
	g_assert_cmpuint(p2p_transport_dgram_buffered(b.transport), ==, 0);
	run_session(&f, a.transport, b.transport, "datagram after harmless junk");
	g_object_unref(a.agent);
	g_object_unref(b.agent);

	Side c = { 0 }, d = { 0 };
	dgram_pair(&c, &d);
	/* a flood of full segments one byte apart, past the stream's start (so none is
	 * in order): 20,000 x 1383 bytes if all were kept */
	for (guint i = 0; i < 20000; i++) {
		memset(buf, 0x55, sizeof buf);
		buf[0] = 0xd1;
		put64(buf + 1, 100000 + i);
		put64(buf + 9, 1 + i);
		p2p_transport_dgram_input(d.transport, buf, 1400);
	}
	g_assert_cmpuint(p2p_transport_dgram_buffered(d.transport), <=, 4u << 20);
	for (guint i = 0; i < 200000; i++) {
		gsize len = hostile_datagram(r, buf, sizeof buf, FALSE);
		p2p_transport_dgram_input(i % 2 ? c.transport : d.transport, buf, len);
		if (i % 1000 == 0)
			g_main_context_iteration(NULL, FALSE);
	}
	/* overlapping forged segments are bounded by the window: 4 MiB, since no data of
	 * ours was acked on this pair, so no RTT says the path is long */
	g_assert_cmpuint(p2p_transport_dgram_buffered(d.transport), <=, 4u << 20);
	g_assert_cmpuint(p2p_transport_dgram_buffered(c.transport), <=, 4u << 20);
	p2p_transport_free(c.transport);
	p2p_transport_free(d.transport);
	g_object_unref(c.agent);
	g_object_unref(d.agent);
	fixture_clear(&f);
}

/* Loopback must exist for the ICE tests to mean anything: skip (77) only if it does not. */
static gboolean
have_loopback(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	gboolean ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!have_loopback()) {
		g_printerr("no usable 127.0.0.1: skipping\n");
		return 77;
	}
	g_test_add_func("/identity/create-reload", test_identity);
	g_test_add_func("/channel/memory/session", test_memory_session);
	g_test_add_func("/channel/memory/garbage-peer", test_garbage_peer);
	g_test_add_func("/channel/memory/tampered", test_tampered);
	g_test_add_func("/channel/memory/send-errors", test_send_errors);
	g_test_add_data_func("/channel/nice/ice-tcp", GINT_TO_POINTER(MODE_ICE_TCP), test_nice);
	g_test_add_data_func("/channel/nice/pseudo-tcp", GINT_TO_POINTER(MODE_PSEUDO_TCP), test_nice);
	g_test_add_data_func("/channel/nice/datagram-udp", GINT_TO_POINTER(MODE_DGRAM_UDP), test_nice);
	g_test_add_data_func("/channel/nice/datagram-ice-tcp", GINT_TO_POINTER(MODE_DGRAM_TCP), test_nice);
	g_test_add_func("/channel/nice/datagram-hostile", test_dgram_hostile);
	return g_test_run();
}

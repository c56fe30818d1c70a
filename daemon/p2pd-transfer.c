/* p2pd-transfer.c: see p2pd-transfer.h.
 *
 * Sender: OFFER -> (ACCEPT) -> DATA... -> FILE_END(sha256) -> (ACK). The file is read
 * and hashed in one pass, and reading pauses while the channel holds more than
 * SEND_HIGH_WATER bytes, resuming on the channel's writable callback.
 * Receiver: policy checks on OFFER, a partial file in the inbox's staging directory,
 * in-order DATA, SHA-256 compared on FILE_END, then fsync, rename, ACK. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2pd-inbox.h"
#include "p2pd-session.h"
#include "p2pd-testhooks.h"
#include "p2pd-transfer.h"

#define SEND_HIGH_WATER        (1024 * 1024)
#define PROGRESS_INTERVAL_US   (200 * 1000)
#define MAX_INCOMING_PER_PEER  16
#define INBOX_RESERVE          (1024 * 1024)

const char *
p2p_transfer_state_name(P2pTransferState st)
{
	static const char *const names[] = {
		"connecting", "offered", "transferring", "verifying",
		"complete", "failed", "rejected", "cancelled",
	};
	return st < G_N_ELEMENTS(names) ? names[st] : "?";
}

gboolean
p2p_transfer_is_active(P2pTransfer *t)
{
	return t->state < P2P_XFER_COMPLETE;
}

static double
usec_to_s(gint64 us)
{
	return (double)us / G_USEC_PER_SEC;
}

JsonNode *
p2p_transfer_to_json(P2pTransfer *t)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "id", t->id);
	json_object_set_string_member(o, "direction", t->outgoing ? "out" : "in");
	json_object_set_string_member(o, "peer", t->peer);
	json_object_set_string_member(o, "name", t->name);
	json_object_set_int_member(o, "size", (gint64)t->size);
	json_object_set_int_member(o, "bytes", (gint64)t->bytes);
	json_object_set_string_member(o, "state", p2p_transfer_state_name(t->state));
	if (t->sha256)
		json_object_set_string_member(o, "sha256", t->sha256);
	if (t->path)
		json_object_set_string_member(o, "path", t->path);
	if (t->reason_code) {
		JsonObject *r = json_object_new();
		json_object_set_string_member(r, "code", t->reason_code);
		json_object_set_string_member(r, "message", t->reason_message);
		json_object_set_object_member(o, "reason", r);
	}
	json_object_set_double_member(o, "started", usec_to_s(t->started));
	if (t->finished)
		json_object_set_double_member(o, "finished", usec_to_s(t->finished));
	gint64 end = t->finished ? t->finished : g_get_real_time();
	double secs = usec_to_s(end - t->started);
	json_object_set_double_member(o, "rate", secs > 0 ? t->bytes / secs : 0.0);
	return p2p_json_node_take_object(o);
}

static void
emit(P2pTransfer *t, const char *event)
{
	p2p_daemon_emit(t->d, event, p2p_transfer_to_json(t));
}

static void
release_io(P2pTransfer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	g_clear_pointer(&t->md, EVP_MD_CTX_free);
	if (t->partial_path) {
		unlink(t->partial_path);
		g_clear_pointer(&t->partial_path, g_free);
	}
}

void
p2p_transfer_free(P2pTransfer *t)
{
	if (t == NULL)
		return;
	release_io(t);
	g_free(t->id);
	g_free(t->peer);
	g_free(t->name);
	g_free(t->sha256);
	g_free(t->path);
	g_free(t->reason_code);
	g_free(t->reason_message);
	g_free(t->source_path);
	g_free(t);
}

static P2pTransfer *
transfer_new(P2pDaemon *d, gboolean outgoing, const char *peer)
{
	P2pTransfer *t = g_new0(P2pTransfer, 1);
	t->d = d;
	do {
		g_free(t->id);
		t->id = g_strdup_printf("%08x", g_random_int());
	} while (g_hash_table_contains(d->transfers, t->id));
	t->outgoing = outgoing;
	t->peer = g_strdup(peer);
	t->fd = -1;
	t->started = g_get_real_time();
	g_hash_table_insert(d->transfers, t->id, t);
	return t;
}

P2pTransfer *
p2p_transfer_lookup(P2pDaemon *d, const char *id)
{
	return g_hash_table_lookup(d->transfers, id);
}

/* Ends a transfer locally: state, reason, event; removes any partial file. */
static void
finish(P2pTransfer *t, P2pTransferState st, const char *code, const char *message)
{
	if (!p2p_transfer_is_active(t))
		return;
	release_io(t);
	t->state = st;
	t->finished = g_get_real_time();
	t->session = NULL;
	if (code) {
		g_free(t->reason_code);
		g_free(t->reason_message);
		t->reason_code = g_strdup(code);
		t->reason_message = g_strdup(message);
	}
	if (st == P2P_XFER_COMPLETE) {
		g_info("transfer %s: %s %s %s: %" G_GUINT64_FORMAT " bytes verified", t->id, t->name,
		       t->outgoing ? "to" : "from", t->peer, t->bytes);
		emit(t, P2P_E_TRANSFER_COMPLETE);
	} else {
		g_info("transfer %s: %s: %s", t->id, p2p_transfer_state_name(st), message);
		emit(t, P2P_E_TRANSFER_FAILED);
	}
}

/* Sends a reasoned frame (REJECT, NACK, CANCEL) about t to its peer. */
static void
send_reason(P2pSession *s, guint8 type, guint64 xfer, const char *code, const char *message)
{
	if (s == NULL || p2p_session_get_channel(s) == NULL)
		return;
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_int_member(o, "xfer", (gint64)xfer);
	if (type == P2P_FRAME_NACK)
		json_object_set_int_member(o, "file", 0);
	json_object_set_string_member(o, "code", code);
	json_object_set_string_member(o, "message", message);
	p2p_channel_send_json(p2p_session_get_channel(s), type, o, NULL);
}

static void
fail(P2pTransfer *t, guint8 tell, const char *code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void
fail(P2pTransfer *t, guint8 tell, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (tell)
		send_reason(t->session, tell, t->wire_id, code, msg);
	finish(t, P2P_XFER_FAILED, code, msg);
}

static void
progress(P2pTransfer *t)
{
	gint64 now = g_get_monotonic_time();
	if (now - t->last_progress < PROGRESS_INTERVAL_US)
		return;
	t->last_progress = now;
	emit(t, P2P_E_TRANSFER_PROGRESS);
}

static char *
digest_hex(EVP_MD_CTX *md)
{
	guint8 out[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(md, out, &len);
	GString *s = g_string_sized_new(len * 2);
	for (unsigned int i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", out[i]);
	return g_string_free(s, FALSE);
}

/* ---- sending ------------------------------------------------------------------ */

static void
offer(P2pTransfer *t, P2pSession *s)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) o = json_object_new();
	JsonArray *files = json_array_new();
	JsonObject *f = json_object_new();

	json_object_set_string_member(f, "name", t->name);
	json_object_set_int_member(f, "size", (gint64)t->size);
	json_object_set_int_member(f, "mode", t->mode);
	json_object_set_int_member(f, "mtime", t->mtime);
	json_array_add_object_element(files, f);
	json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
	json_object_set_array_member(o, "files", files);
	if (p2p_test_hooks && p2p_test_hooks->offer)
		p2p_test_hooks->offer(o);
	t->session = s;
	if (!p2p_channel_send_json(p2p_session_get_channel(s), P2P_FRAME_OFFER, o, &error)) {
		fail(t, 0, P2P_REASON_DISCONNECTED, "cannot send the offer: %s", error->message);
		return;
	}
	t->state = P2P_XFER_OFFERED;
	emit(t, P2P_E_OFFER_SENT);
}

P2pTransfer *
p2p_transfer_send(P2pDaemon *d, const char *path, int fd, P2pPeer *peer, GError **error)
{
	struct stat st;
	g_autoptr(GError) local = NULL;
	g_autofree char *name = NULL;

	if (!peer->online) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PEER_OFFLINE, "peer \"%s\" is offline",
		            peer->id);
		goto fail;
	}
	if (!g_path_is_absolute(path)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "path \"%s\" is not absolute", path);
		goto fail;
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot open \"%s\": %s", path,
		            g_strerror(errno));
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO,
		            "the descriptor passed for \"%s\" is not open for reading", path);
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "\"%s\" is not a regular file", path);
		goto fail;
	}
	name = g_path_get_basename(path);
	if (!p2p_inbox_name_valid(name, &local)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, "%s", local->message);
		goto fail;
	}

	P2pTransfer *t = transfer_new(d, TRUE, peer->id);
	t->fd = fd;
	t->name = g_steal_pointer(&name);
	t->size = st.st_size;
	t->mode = st.st_mode & 0777;
	t->mtime = st.st_mtime;
	t->source_path = g_strdup(path);
	t->wire_id = ((guint64)g_random_int() << 32 | g_random_int()) & G_MAXINT64;
	t->state = P2P_XFER_CONNECTING;
	g_info("transfer %s: sending %s (%" G_GUINT64_FORMAT " bytes) to %s", t->id, t->name,
	       t->size, t->peer);

	if (peer->session == NULL) {
		if (p2p_session_connect(d, peer, &local) == NULL) {
			fail(t, 0, P2P_REASON_DISCONNECTED, "cannot start a session with %s: %s",
			     peer->id, local->message);
		}
	} else if (p2p_session_get_state(peer->session) == P2P_SESSION_READY) {
		offer(t, peer->session);
	}
	return t;
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* FILE_END carries the SHA-256 of the bytes read; the receiver answers ACK or NACK. */
static void
send_file_end(P2pTransfer *t, P2pChannel *c)
{
	g_autoptr(JsonObject) o = json_object_new();
	t->sha256 = digest_hex(t->md);
	json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
	json_object_set_int_member(o, "file", 0);
	json_object_set_string_member(o, "sha256", t->sha256);
	if (p2p_test_hooks == NULL || p2p_test_hooks->file_end == NULL ||
	    p2p_test_hooks->file_end(o))
		p2p_channel_send_json(c, P2P_FRAME_FILE_END, o, NULL);
	t->state = P2P_XFER_VERIFYING;
	emit(t, P2P_E_TRANSFER_PROGRESS);
}

/* The test seam (p2pd-testhooks.h): without hooks every chunk goes out as it was read. */
static gboolean
hook_data(P2pTransfer *t, guint8 *buf, gsize *len, guint64 *xfer)
{
	*xfer = t->wire_id;
	return p2p_test_hooks == NULL || p2p_test_hooks->data == NULL ||
	       p2p_test_hooks->data(t->bytes, buf, len, xfer);
}

static void
pump(P2pTransfer *t)
{
	P2pChannel *c = t->session ? p2p_session_get_channel(t->session) : NULL;
	g_autofree guint8 *buf = NULL;
	g_autoptr(GError) error = NULL;

	if (c == NULL || t->state != P2P_XFER_TRANSFERRING)
		return;
	buf = g_malloc(P2P_DATA_CHUNK);
	while (t->state == P2P_XFER_TRANSFERRING && p2p_channel_queued(c) < SEND_HIGH_WATER) {
		gsize want = MIN((guint64)P2P_DATA_CHUNK, t->size - t->bytes);
		ssize_t n = want ? pread(t->fd, buf, want, (off_t)t->bytes) : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "cannot read \"%s\": %s",
			     t->source_path, g_strerror(errno));
			return;
		}
		if (n == 0) {
			if (t->bytes < t->size) {
				fail(t, P2P_FRAME_CANCEL, P2P_REASON_BAD_SIZE,
				     "\"%s\" shrank to %" G_GUINT64_FORMAT " bytes while being sent",
				     t->source_path, t->bytes);
				return;
			}
			/* a file that grew is sent as offered, but not silently */
			char extra;
			if (pread(t->fd, &extra, 1, (off_t)t->size) == 1) {
				fail(t, P2P_FRAME_CANCEL, P2P_REASON_BAD_SIZE,
				     "\"%s\" grew while being sent", t->source_path);
				return;
			}
			send_file_end(t, c);
			return;
		}
		EVP_DigestUpdate(t->md, buf, n);
		gsize len = n;
		guint64 xfer;
		if (!hook_data(t, buf, &len, &xfer)) {
			send_file_end(t, c);
			return;
		}
		if (!p2p_channel_send_data(c, xfer, 0, t->bytes, buf, len, &error)) {
			fail(t, 0, P2P_REASON_DISCONNECTED, "%s", error->message);
			return;
		}
		t->bytes += n;
		progress(t);
	}
}

/* ---- receiving ---------------------------------------------------------------- */

/* Opens the partial file and answers ACCEPT; on failure the transfer is ended with its
 * reason sent to the peer, and FALSE returned. */
static gboolean
accept_open(P2pTransfer *t)
{
	g_autoptr(GError) local = NULL;
	P2pDaemon *d = t->d;

	/* space may have gone while the offer waited */
	if (!p2p_inbox_check_space(d->cfg->save_dir, t->size, INBOX_RESERVE, &local)) {
		send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, P2P_REASON_NO_SPACE,
		            local->message);
		finish(t, P2P_XFER_REJECTED, P2P_REASON_NO_SPACE, local->message);
		return FALSE;
	}
	t->fd = p2p_inbox_open_partial(d->cfg->save_dir, &t->partial_path, &local);
	if (t->fd < 0) {
		g_warning("transfer %s: %s", t->id, local->message);
		send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, P2P_REASON_IO,
		            "the receiver cannot write to its inbox");
		finish(t, P2P_XFER_FAILED, P2P_REASON_IO, local->message);
		return FALSE;
	}
	t->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(t->md, EVP_sha256(), NULL);

	g_autoptr(JsonObject) o = json_object_new();
	JsonArray *offsets = json_array_new();
	json_array_add_int_element(offsets, 0);
	json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
	json_object_set_array_member(o, "offsets", offsets);
	p2p_channel_send_json(p2p_session_get_channel(t->session), P2P_FRAME_ACCEPT, o, NULL);
	t->state = P2P_XFER_TRANSFERRING;
	return TRUE;
}

gboolean
p2p_transfer_accept(P2pTransfer *t, GError **error)
{
	if (t->outgoing || t->state != P2P_XFER_OFFERED) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is not an incoming offer waiting for an answer (it is %s)",
		            t->id, p2p_transfer_state_name(t->state));
		return FALSE;
	}
	if (accept_open(t))
		emit(t, P2P_E_TRANSFER_START);
	return TRUE;
}

gboolean
p2p_transfer_reject(P2pTransfer *t, const char *reason, GError **error)
{
	if (t->outgoing || t->state != P2P_XFER_OFFERED) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is not an incoming offer waiting for an answer (it is %s)",
		            t->id, p2p_transfer_state_name(t->state));
		return FALSE;
	}
	g_autofree char *msg = g_strdup_printf("%s declined the file%s%s", t->d->cfg->agent,
	                                       reason ? ": " : "", reason ? reason : "");
	send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, P2P_REASON_DECLINED, msg);
	finish(t, P2P_XFER_REJECTED, P2P_REASON_DECLINED, msg);
	return TRUE;
}

static P2pTransfer *
find(P2pDaemon *d, P2pSession *s, gboolean outgoing, guint64 wire_id)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		if (t->session == s && t->outgoing == outgoing && t->wire_id == wire_id)
			return t;
	}
	return NULL;
}

/* An incoming transfer from this peer that has ended: finish() unbinds it from its
 * session, so find() no longer sees it, but DATA the sender had queued may still come. */
static gboolean
ended_incoming(P2pDaemon *d, P2pSession *s, guint64 wire_id)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		if (!t->outgoing && !p2p_transfer_is_active(t) && t->wire_id == wire_id &&
		    strcmp(t->peer, p2p_session_peer_id(s)) == 0)
			return TRUE;
	}
	return FALSE;
}

static guint
count_incoming(P2pDaemon *d, P2pSession *s)
{
	guint n = 0;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		n += t->session == s && !t->outgoing && p2p_transfer_is_active(t);
	}
	return n;
}

typedef struct {
	const char *name;
	guint64 size;
	guint64 mode;
	gint64 mtime;
} OfferFile;

static const P2pField offer_file_fields[] = {
	P2P_FIELD(OfferFile, name, "name", P2P_FIELD_STRING, TRUE, 4096),
	P2P_FIELD(OfferFile, size, "size", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(OfferFile, mode, "mode", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(OfferFile, mtime, "mtime", P2P_FIELD_INT, FALSE, 0),
	{ NULL },
};

typedef struct {
	guint64 xfer;
	JsonArray *files;
	const char *sha256;
	guint64 file;
	const char *code;
	const char *message;
	JsonArray *offsets;
} Control;

static const P2pField offer_fields[] = {
	P2P_FIELD(Control, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Control, files, "files", P2P_FIELD_ARRAY, TRUE, P2P_OFFER_MAX_FILES),
	{ NULL },
};
static const P2pField accept_fields[] = {
	P2P_FIELD(Control, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Control, offsets, "offsets", P2P_FIELD_ARRAY, FALSE, 1),
	{ NULL },
};
static const P2pField reason_fields[] = {
	P2P_FIELD(Control, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Control, file, "file", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(Control, code, "code", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(Control, message, "message", P2P_FIELD_STRING, FALSE, 1024),
	{ NULL },
};
static const P2pField end_fields[] = {
	P2P_FIELD(Control, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Control, file, "file", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Control, sha256, "sha256", P2P_FIELD_STRING, TRUE, 64),
	{ NULL },
};

static void
protocol_error(P2pSession *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A frame that cannot be tied to a transfer: the peer is broken or hostile. */
static void
protocol_error(P2pSession *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("session %s: %s", p2p_session_peer_id(s), msg);
	p2p_session_close(s, P2P_REASON_PROTOCOL, msg);
}

static void
handle_offer(P2pDaemon *d, P2pSession *s, JsonObject *o)
{
	Control c = { 0 };
	OfferFile f = { 0 };
	g_autoptr(GError) error = NULL;
	const char *peer = p2p_session_peer_id(s);

	if (!p2p_schema_decode(o, offer_fields, &c, &error)) {
		protocol_error(s, "bad OFFER: %s", error->message);
		return;
	}
	if (find(d, s, FALSE, c.xfer)) {
		protocol_error(s, "OFFER reuses transfer id %" G_GUINT64_FORMAT, c.xfer);
		return;
	}
	JsonNode *fn = json_array_get_length(c.files) == 1 ? json_array_get_element(c.files, 0)
	                                                   : NULL;
	if (fn == NULL || !JSON_NODE_HOLDS_OBJECT(fn)) {
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_PROTOCOL,
		            "an offer must carry exactly one file object in this version");
		return;
	}
	if (!p2p_schema_decode(json_node_get_object(fn), offer_file_fields, &f, &error)) {
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_PROTOCOL, error->message);
		return;
	}
	if (count_incoming(d, s) >= MAX_INCOMING_PER_PEER) {
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_DECLINED,
		            "too many transfers from you at once");
		return;
	}

	P2pTransfer *t = transfer_new(d, FALSE, peer);
	t->session = s;
	t->wire_id = c.xfer;
	t->name = g_strdup(f.name);
	t->size = f.size;
	t->mode = f.mode & 0777;
	t->mtime = f.mtime;
	t->state = P2P_XFER_OFFERED;
	g_info("transfer %s: %s offers %s (%" G_GUINT64_FORMAT " bytes)", t->id, peer, f.name,
	       f.size);

	if (!p2p_inbox_name_valid(f.name, &error)) {
		g_free(t->name);
		t->name = g_strescape(f.name, NULL);
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_BAD_NAME, error->message);
		finish(t, P2P_XFER_REJECTED, P2P_REASON_BAD_NAME, error->message);
		return;
	}
	if (!p2p_config_allows(d->cfg, peer)) {
		g_autofree char *m = g_strdup_printf("%s does not accept files from %s",
		                                     d->cfg->agent, peer);
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_NOT_ALLOWED, m);
		finish(t, P2P_XFER_REJECTED, P2P_REASON_NOT_ALLOWED, m);
		return;
	}
	if (d->cfg->max_file_size && f.size > d->cfg->max_file_size) {
		g_autofree char *a = g_format_size_full(f.size, G_FORMAT_SIZE_IEC_UNITS);
		g_autofree char *b = g_format_size_full(d->cfg->max_file_size, G_FORMAT_SIZE_IEC_UNITS);
		g_autofree char *m = g_strdup_printf("file is %s, %s accepts at most %s", a,
		                                     d->cfg->agent, b);
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_TOO_LARGE, m);
		finish(t, P2P_XFER_REJECTED, P2P_REASON_TOO_LARGE, m);
		return;
	}
	if (!p2p_inbox_check_space(d->cfg->save_dir, f.size, INBOX_RESERVE, &error)) {
		send_reason(s, P2P_FRAME_REJECT, c.xfer, P2P_REASON_NO_SPACE, error->message);
		finish(t, P2P_XFER_REJECTED, P2P_REASON_NO_SPACE, error->message);
		return;
	}
	/* the "file" event tells whether the offer waits (offered) or is already accepted */
	if (d->cfg->auto_accept && !accept_open(t))
		return;
	emit(t, P2P_E_FILE);
	if (t->state == P2P_XFER_TRANSFERRING)
		emit(t, P2P_E_TRANSFER_START);
}

static void
handle_data(P2pDaemon *d, P2pSession *s, GBytes *payload)
{
	guint64 xfer, offset;
	guint32 file;
	const guint8 *data;
	gsize len, plen;
	const guint8 *p = g_bytes_get_data(payload, &plen);
	g_autoptr(GError) error = NULL;

	if (!p2p_frame_data_parse(p, plen, &xfer, &file, &offset, &data, &len, &error)) {
		protocol_error(s, "bad DATA frame: %s", error->message);
		return;
	}
	P2pTransfer *t = find(d, s, FALSE, xfer);
	if (t == NULL && !ended_incoming(d, s, xfer)) {
		/* not a transfer of ours that ended: the peer is broken or hostile, and the
		 * transfers it did offer cannot be trusted either */
		protocol_error(s, "DATA for transfer %" G_GUINT64_FORMAT " that was never offered",
		               xfer);
		return;
	}
	/* late data after we ended the transfer is expected */
	if (t == NULL || t->state != P2P_XFER_TRANSFERRING)
		return;
	if (file != 0) {
		fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL, "DATA for file %u, only file 0 was offered",
		     file);
		return;
	}
	if (offset != t->bytes) {
		fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		     "DATA at offset %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, offset,
		     t->bytes);
		return;
	}
	if (len > t->size - t->bytes) {
		fail(t, P2P_FRAME_CANCEL, P2P_REASON_BAD_SIZE,
		     "the sender sent more than the %" G_GUINT64_FORMAT " bytes it offered", t->size);
		return;
	}
	for (gsize done = 0; done < len;) {
		ssize_t n = write(t->fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			if (e == ENOSPC || e == EDQUOT)
				fail(t, P2P_FRAME_CANCEL, P2P_REASON_NO_SPACE,
				     "the receiver's disk is full (%s)", g_strerror(e));
			else
				fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot write: %s",
				     g_strerror(e));
			return;
		}
		done += n;
	}
	EVP_DigestUpdate(t->md, data, len);
	t->bytes += len;
	progress(t);
}

static void
handle_file_end(P2pDaemon *d, P2pSession *s, JsonObject *o)
{
	Control c = { 0 };
	g_autoptr(GError) error = NULL;

	if (!p2p_schema_decode(o, end_fields, &c, &error)) {
		protocol_error(s, "bad FILE_END: %s", error->message);
		return;
	}
	P2pTransfer *t = find(d, s, FALSE, c.xfer);
	if (t == NULL || t->state != P2P_XFER_TRANSFERRING)
		return;
	if (t->bytes != t->size) {
		fail(t, P2P_FRAME_NACK, P2P_REASON_BAD_SIZE,
		     "the stream ended after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
		     t->bytes, t->size);
		return;
	}
	t->state = P2P_XFER_VERIFYING;
	g_autofree char *got = digest_hex(t->md);
	if (g_ascii_strcasecmp(got, c.sha256) != 0) {
		fail(t, P2P_FRAME_NACK, P2P_REASON_HASH_MISMATCH,
		     "SHA-256 mismatch: the sender announced %s, the received bytes hash to %s",
		     c.sha256, got);
		return;
	}
	t->sha256 = g_steal_pointer(&got);
	if (fsync(t->fd) != 0 || fchmod(t->fd, 0640) != 0) {
		fail(t, P2P_FRAME_NACK, P2P_REASON_IO, "the receiver cannot sync the file: %s",
		     g_strerror(errno));
		return;
	}
	close(t->fd);
	t->fd = -1;
	g_autofree char *final_path = NULL;
	if (!p2p_inbox_commit(d->cfg->save_dir, t->partial_path, t->name, &final_path, &error)) {
		fail(t, P2P_FRAME_NACK, P2P_REASON_IO, "%s", error->message);
		return;
	}
	g_clear_pointer(&t->partial_path, g_free);
	t->path = g_steal_pointer(&final_path);

	g_autoptr(JsonObject) ack = json_object_new();
	json_object_set_int_member(ack, "xfer", (gint64)t->wire_id);
	json_object_set_int_member(ack, "file", 0);
	json_object_set_string_member(ack, "sha256", t->sha256);
	p2p_channel_send_json(p2p_session_get_channel(s), P2P_FRAME_ACK, ack, NULL);
	t->state = P2P_XFER_TRANSFERRING; /* so that finish() sees it active */
	finish(t, P2P_XFER_COMPLETE, NULL, NULL);
}

static void
handle_answer(P2pDaemon *d, P2pSession *s, guint8 type, JsonObject *o)
{
	Control c = { 0 };
	g_autoptr(GError) error = NULL;
	const P2pField *fields = type == P2P_FRAME_ACCEPT ? accept_fields
	                         : type == P2P_FRAME_ACK  ? end_fields
	                                                  : reason_fields;

	if (!p2p_schema_decode(o, fields, &c, &error)) {
		protocol_error(s, "bad frame 0x%02x: %s", type, error->message);
		return;
	}
	if (type == P2P_FRAME_CANCEL) {
		/* either direction */
		P2pTransfer *t = find(d, s, FALSE, c.xfer);
		if (t == NULL)
			t = find(d, s, TRUE, c.xfer);
		if (t) {
			g_autofree char *m = g_strdup_printf("%s: %s", t->peer,
			                                     c.message ? c.message : c.code);
			finish(t, g_strcmp0(c.code, P2P_REASON_CANCELLED) == 0 ? P2P_XFER_CANCELLED
			                                                       : P2P_XFER_FAILED,
			       c.code, m);
		}
		return;
	}
	P2pTransfer *t = find(d, s, TRUE, c.xfer);
	if (t == NULL)
		return;
	switch (type) {
	case P2P_FRAME_ACCEPT:
		if (t->state != P2P_XFER_OFFERED)
			return;
		t->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(t->md, EVP_sha256(), NULL);
		t->state = P2P_XFER_TRANSFERRING;
		emit(t, P2P_E_TRANSFER_START);
		pump(t);
		break;
	case P2P_FRAME_REJECT:
		if (t->state == P2P_XFER_OFFERED)
			finish(t, P2P_XFER_REJECTED, c.code, c.message ? c.message : c.code);
		break;
	case P2P_FRAME_ACK:
		if (t->state != P2P_XFER_VERIFYING)
			return;
		if (g_ascii_strcasecmp(c.sha256, t->sha256) != 0) {
			fail(t, 0, P2P_REASON_HASH_MISMATCH,
			     "the receiver acknowledged SHA-256 %s, the file hashes to %s", c.sha256,
			     t->sha256);
			return;
		}
		finish(t, P2P_XFER_COMPLETE, NULL, NULL);
		break;
	case P2P_FRAME_NACK:
		finish(t, P2P_XFER_FAILED, c.code, c.message ? c.message : c.code);
		break;
	default:
		break;
	}
}

void
p2p_transfers_frame(P2pDaemon *d, P2pSession *s, guint8 type, GBytes *payload)
{
	g_autoptr(GError) error = NULL;

	if (type == P2P_FRAME_DATA) {
		handle_data(d, s, payload);
		return;
	}
	g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, &error);
	if (o == NULL) {
		protocol_error(s, "bad frame 0x%02x: %s", type, error->message);
		return;
	}
	switch (type) {
	case P2P_FRAME_OFFER:
		handle_offer(d, s, o);
		break;
	case P2P_FRAME_FILE_END:
		handle_file_end(d, s, o);
		break;
	case P2P_FRAME_ACCEPT:
	case P2P_FRAME_REJECT:
	case P2P_FRAME_ACK:
	case P2P_FRAME_NACK:
	case P2P_FRAME_CANCEL:
		handle_answer(d, s, type, o);
		break;
	default:
		protocol_error(s, "unexpected frame type 0x%02x", type);
		break;
	}
}

/* ---- session events ----------------------------------------------------------- */

void
p2p_transfers_session_ready(P2pDaemon *d, P2pSession *s)
{
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (t->outgoing && t->state == P2P_XFER_CONNECTING &&
		    strcmp(t->peer, p2p_session_peer_id(s)) == 0)
			offer(t, s);
	}
}

void
p2p_transfers_session_writable(P2pDaemon *d, P2pSession *s)
{
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (t->session == s && t->outgoing)
			pump(t);
	}
}

void
p2p_transfers_session_closed(P2pDaemon *d, P2pSession *s, const char *code,
                             const char *message)
{
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	P2pPeer *peer = p2p_daemon_lookup_peer(d, p2p_session_peer_id(s));
	gboolean taken_over = peer && peer->session && peer->session != s;

	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (!p2p_transfer_is_active(t))
			continue;
		if (t->session == s ||
		    (t->session == NULL && !taken_over && strcmp(t->peer, p2p_session_peer_id(s)) == 0))
			finish(t, P2P_XFER_FAILED, code, message);
	}
}

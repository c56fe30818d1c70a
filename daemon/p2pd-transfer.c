/* p2pd-transfer.c: see p2pd-transfer.h.
 *
 * Sender: OFFER (+ MANIFEST frames) -> ACCEPT {file, offset} -> for each regular file
 * in manifest order: DATA..., FILE_END {sha256} -> ACK {upto} now and then -> the last
 * ACK completes it. Files are read and hashed in one pass (a resumed file's first bytes
 * are hashed again from the disk, so the hash still covers every byte), and reading
 * pauses while the channel holds more than SEND_HIGH_WATER bytes, resuming on the
 * channel's writable callback. When the session drops the transfer pauses, the peer is
 * called again with backoff, and the OFFER goes out again with the same xfer: the
 * receiver answers with where it stands. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2p-log.h"
#include "p2pd-call.h"
#include "p2pd-chat.h"
#include "p2pd-inbox.h"
#include "p2pd-journal.h"
#include "p2pd-session.h"
#include "p2pd-testhooks.h"
#include "p2pd-transfer-internal.h"

#define SEND_HIGH_WATER        (1024 * 1024)
#define RATE_TICK_MS           20
#define RECONNECT_MIN_S        1
#define RECONNECT_MAX_S        60

static const char *const state_names[] = {
	"connecting", "offered", "transferring", "verifying", "paused",
	"complete", "failed", "rejected", "cancelled",
};

const char *
p2p_transfer_state_name(P2pTransferState st)
{
	return st < G_N_ELEMENTS(state_names) ? state_names[st] : "?";
}

gboolean
p2p_transfer_state_parse(const char *name, P2pTransferState *st)
{
	for (guint i = 0; name && i < G_N_ELEMENTS(state_names); i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*st = i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
p2p_transfer_is_active(P2pTransfer *t)
{
	return t->state < P2P_XFER_COMPLETE;
}

gboolean
p2p_transfer_is_single_file(P2pTransfer *t)
{
	return t->files == 1 && t->dirs == 0 && t->links == 0;
}

static double
usec_to_s(gint64 us)
{
	return (double)us / G_USEC_PER_SEC;
}

static JsonArray *
strv_json(char **v)
{
	JsonArray *a = json_array_new();
	for (guint i = 0; v && v[i]; i++)
		json_array_add_string_element(a, v[i]);
	return a;
}

JsonNode *
p2p_transfer_to_json(P2pTransfer *t)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "id", t->id);
	json_object_set_string_member(o, "direction", t->outgoing ? "out" : "in");
	json_object_set_string_member(o, "peer", t->peer);
	json_object_set_string_member(o, "name", t->name ? t->name : "");
	json_object_set_array_member(o, "items", strv_json(t->items));
	json_object_set_int_member(o, "files", t->files);
	json_object_set_int_member(o, "dirs", t->dirs);
	json_object_set_int_member(o, "links", t->links);
	json_object_set_int_member(o, "size", (gint64)t->size);
	json_object_set_int_member(o, "bytes", (gint64)t->bytes);
	json_object_set_int_member(o, "wire_bytes", (gint64)t->wire_bytes);
	json_object_set_string_member(o, "state", p2p_transfer_state_name(t->state));
	if (t->sha256)
		json_object_set_string_member(o, "sha256", t->sha256);
	if (t->paths && t->paths[0]) {
		json_object_set_string_member(o, "path", t->paths[0]);
		json_object_set_array_member(o, "paths", strv_json(t->paths));
	}
	if (t->output)
		json_object_set_string_member(o, "output", t->output);
	if (t->reason_code) {
		JsonObject *r = json_object_new();
		json_object_set_string_member(r, "code", t->reason_code);
		json_object_set_string_member(r, "message",
		                              t->reason_message ? t->reason_message : t->reason_code);
		json_object_set_object_member(o, "reason", r);
	}
	if (t->expires && t->state == P2P_XFER_OFFERED && !t->outgoing)
		json_object_set_double_member(o, "expires", usec_to_s(t->expires));
	json_object_set_double_member(o, "started", usec_to_s(t->started));
	if (t->finished)
		json_object_set_double_member(o, "finished", usec_to_s(t->finished));
	gint64 end = t->finished ? t->finished : g_get_real_time();
	double secs = usec_to_s(end - t->started);
	json_object_set_double_member(o, "duration", secs);
	json_object_set_double_member(o, "rate", secs > 0 ? t->bytes / secs : 0.0);
	return p2p_json_node_take_object(o);
}

void
p2p_transfer_emit(P2pTransfer *t, const char *event)
{
	p2p_daemon_emit(t->d, event, p2p_transfer_to_json(t));
}

void
p2p_transfer_release_io(P2pTransfer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->hashing) {
		t->hashing = FALSE;
		t->hash_gen++; /* the worker's result will be dropped */
	}
	g_clear_pointer(&t->small, g_byte_array_unref);
	g_clear_handle_id(&t->rate_timer, g_source_remove);
}

static void
close_roots(P2pTransfer *t)
{
	for (guint i = 0; t->root_fds && i < t->root_fds->len; i++) {
		int *fd = &g_array_index(t->root_fds, int, i);
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

P2pTransfer *
p2p_transfer_alloc(P2pDaemon *d)
{
	P2pTransfer *t = g_new0(P2pTransfer, 1);
	t->d = d;
	t->fd = -1;
	t->staging_fd = -1;
	t->root_fds = g_array_new(FALSE, FALSE, sizeof(int));
	return t;
}

void
p2p_transfer_free(P2pTransfer *t)
{
	if (t == NULL)
		return;
	p2p_transfer_release_io(t);
	g_clear_pointer(&t->md, EVP_MD_CTX_free);
	g_clear_handle_id(&t->sync_timer, g_source_remove);
	g_clear_handle_id(&t->journal_idle, g_source_remove);
	close_roots(t);
	g_array_unref(t->root_fds);
	if (t->staging_fd >= 0)
		close(t->staging_fd);
	g_clear_pointer(&t->wdir, p2p_writer_dir_unref);
	g_clear_handle_id(&t->expire_timer, g_source_remove);
	p2p_manifest_free(t->manifest);
	g_free(t->id);
	g_free(t->peer);
	g_free(t->name);
	g_strfreev(t->items);
	g_free(t->sha256);
	g_strfreev(t->paths);
	g_free(t->output);
	g_free(t->staging);
	g_free(t->reason_code);
	g_free(t->reason_message);
	g_free(t);
}

P2pTransfer *
p2p_transfer_new(P2pDaemon *d, gboolean outgoing, const char *peer)
{
	P2pTransfer *t = p2p_transfer_alloc(d);
	do {
		g_free(t->id);
		t->id = g_strdup_printf("%08x", g_random_int());
	} while (g_hash_table_contains(d->transfers, t->id));
	t->outgoing = outgoing;
	t->peer = g_strdup(peer);
	t->started = g_get_real_time();
	g_hash_table_insert(d->transfers, t->id, t);
	return t;
}

void
p2p_transfer_describe(P2pTransfer *t)
{
	P2pManifest *m = t->manifest;
	g_autoptr(GPtrArray) items = p2p_manifest_items(m);

	/* names a peer sent are shown to users: the ones the checks would refuse (control
	 * characters, invalid UTF-8) are kept only escaped */
	for (guint i = 0; i < items->len; i++) {
		items->pdata[i] = p2p_inbox_name_valid(items->pdata[i], NULL)
		                      ? g_strdup(items->pdata[i])
		                      : g_strescape(items->pdata[i], NULL);
	}
	guint n = items->len;
	g_strfreev(t->items);
	g_ptr_array_add(items, NULL);
	t->items = (char **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
	g_free(t->name);
	if (n > 1)
		t->name = g_strdup_printf("%s (+%u more)", t->items[0], n - 1);
	else
		t->name = g_strdup(t->items[0] ? t->items[0] : "");
	t->files = m->files;
	t->dirs = m->dirs;
	t->links = m->links;
	t->count = m->entries->len;
	t->size = m->bytes;
}

P2pTransfer *
p2p_transfer_lookup(P2pDaemon *d, const char *id)
{
	P2pTransfer *t = g_hash_table_lookup(d->transfers, id);
	if (t == NULL && (t = p2p_journal_get(d, id)))
		g_hash_table_insert(d->transfers, t->id, t);
	return t;
}

void
p2p_transfer_finish(P2pTransfer *t, P2pTransferState st, const char *code, const char *message)
{
	if (!p2p_transfer_is_active(t))
		return;
	p2p_transfer_release_io(t);
	close_roots(t);
	g_clear_handle_id(&t->expire_timer, g_source_remove);
	g_clear_handle_id(&t->sync_timer, g_source_remove);
	if (!t->outgoing && st != P2P_XFER_COMPLETE)
		p2p_receive_remove_staging(t);
	/* the journal's PATH_TYPE of the session it ends on, when there is one */
	const char *path_type = t->session ? p2p_session_path_type(t->session) : NULL;
	t->state = st;
	t->finished = g_get_real_time();
	t->session = NULL;
	if (code) {
		g_free(t->reason_code);
		g_free(t->reason_message);
		t->reason_code = g_strdup(code);
		t->reason_message = g_strdup(message);
	}
	p2p_journal_update(t);
	g_clear_pointer(&t->manifest, p2p_manifest_free);
	if (st == P2P_XFER_COMPLETE) {
		p2p_log_fields(G_LOG_LEVEL_INFO, t->peer, t->id, (gint64)t->size, path_type,
		               "transfer %s: %s %s %s: %u files, %" G_GUINT64_FORMAT " bytes verified",
		               t->id, t->name, t->outgoing ? "to" : "from", t->peer, t->files,
		               t->size);
		p2p_transfer_emit(t, P2P_E_TRANSFER_COMPLETE);
	} else {
		p2p_log_fields(G_LOG_LEVEL_INFO, t->peer, t->id, (gint64)t->bytes, path_type,
		               "transfer %s: %s: %s", t->id, p2p_transfer_state_name(st), message);
		p2p_transfer_emit(t, P2P_E_TRANSFER_FAILED);
	}
}

void
p2p_transfer_send_reason(P2pSession *s, guint8 type, guint64 xfer, guint file,
                         const char *code, const char *message)
{
	if (s == NULL || p2p_session_get_channel(s) == NULL)
		return;
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_int_member(o, "xfer", (gint64)xfer);
	if (type == P2P_FRAME_NACK)
		json_object_set_int_member(o, "file", file);
	json_object_set_string_member(o, "code", code);
	json_object_set_string_member(o, "message", message);
	p2p_channel_send_json(p2p_session_get_channel(s), type, o, NULL);
}

void
p2p_transfer_fail(P2pTransfer *t, guint8 tell, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (tell)
		p2p_transfer_send_reason(t->session, tell, t->wire_id, t->cur, code, msg);
	p2p_transfer_finish(t, P2P_XFER_FAILED, code, msg);
}

void
p2p_transfer_pause(P2pTransfer *t, const char *message)
{
	p2p_transfer_release_io(t);
	g_clear_handle_id(&t->sync_timer, g_source_remove);
	t->session = NULL;
	t->pending = 0;
	t->pending_bytes = 0;
	if (!t->outgoing && !t->accepted) {
		/* an offer nobody answered yet keeps waiting for its decision */
		p2p_journal_update(t);
		return;
	}
	t->state = P2P_XFER_PAUSED;
	g_free(t->reason_code);
	g_free(t->reason_message);
	t->reason_code = g_strdup(P2P_REASON_DISCONNECTED);
	t->reason_message = g_strdup(message);
	p2p_journal_update(t);
	p2p_log_fields(G_LOG_LEVEL_INFO, t->peer, t->id, (gint64)t->bytes, NULL,
	               "transfer %s: paused at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
	               " bytes: %s", t->id, t->bytes, t->size, message);
	p2p_transfer_emit(t, P2P_E_TRANSFER_PAUSED);
}

void
p2p_transfer_progress(P2pTransfer *t)
{
	gint64 now = g_get_monotonic_time();
	if (now - t->last_progress < P2P_PROGRESS_INTERVAL_US)
		return;
	t->last_progress = now;
	/* the counters survive a crash to within a few seconds (where a transfer resumes is
	 * the receiver's durable state, not these) */
	if (now - t->last_journal > P2P_JOURNAL_INTERVAL_US) {
		t->last_journal = now;
		p2p_journal_update(t);
	}
	p2p_transfer_emit(t, P2P_E_TRANSFER_PROGRESS);
}

void
p2p_transfer_clear_reason(P2pTransfer *t)
{
	g_clear_pointer(&t->reason_code, g_free);
	g_clear_pointer(&t->reason_message, g_free);
}

char *
p2p_hex(const guint8 *data, gsize len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = g_malloc(len * 2 + 1);
	for (gsize i = 0; i < len; i++) {
		s[2 * i] = digits[data[i] >> 4];
		s[2 * i + 1] = digits[data[i] & 15];
	}
	s[len * 2] = '\0';
	return s;
}

/* SHA-256 fetched once: EVP_sha256() in an init makes OpenSSL 3 look the algorithm
 * up again each time, which a tree of small files pays per file. */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md;
	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md;
}

/* Starts md over and hashes the first len bytes of fd into it (on either thread). */
static gboolean
hash_prefix(EVP_MD_CTX *md, int fd, guint64 len, GError **error)
{
	EVP_DigestInit_ex2(md, sha256_md(), NULL);
	if (len == 0)
		return TRUE;
	g_autofree guint8 *buf = g_malloc(P2P_DATA_CHUNK * 4);
	for (guint64 off = 0; off < len;) {
		ssize_t n = pread(fd, buf, MIN((guint64)P2P_DATA_CHUNK * 4, len - off), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "cannot read back the first %" G_GUINT64_FORMAT " bytes: %s", len,
			            n < 0 ? g_strerror(errno) : "the file is shorter");
			return FALSE;
		}
		EVP_DigestUpdate(md, buf, n);
		off += n;
	}
	return TRUE;
}

gboolean
p2p_digest_start(P2pTransfer *t, int fd, guint64 len, GError **error)
{
	if (t->md == NULL)
		t->md = EVP_MD_CTX_new();
	return hash_prefix(t->md, fd, len, error);
}

typedef struct {
	P2pDaemon *d;
	char *id;
	guint gen;
	int fd;
	guint64 len;
	P2pDigestDone done;
} PrefixJob;

static void
prefix_job_free(gpointer data)
{
	PrefixJob *j = data;
	close(j->fd);
	g_free(j->id);
	g_free(j);
}

static void
prefix_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
	PrefixJob *j = data;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	GError *error = NULL;

	if (!hash_prefix(md, j->fd, j->len, &error)) {
		EVP_MD_CTX_free(md);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, md, (GDestroyNotify)EVP_MD_CTX_free);
}

static void
prefix_done(GObject *source, GAsyncResult *res, gpointer user)
{
	PrefixJob *j = g_task_get_task_data(G_TASK(res));
	g_autoptr(GError) error = NULL;
	EVP_MD_CTX *md = g_task_propagate_pointer(G_TASK(res), &error);
	P2pTransfer *t = p2p_transfer_lookup(j->d, j->id);

	if (t == NULL || !t->hashing || t->hash_gen != j->gen) {
		EVP_MD_CTX_free(md); /* paused or ended meanwhile */
		return;
	}
	t->hashing = FALSE;
	if (md != NULL) {
		EVP_MD_CTX_free(t->md);
		t->md = md;
	}
	j->done(t, error);
}

gboolean
p2p_digest_start_async(P2pTransfer *t, int fd, guint64 len, P2pDigestDone done, GError **error)
{
	if (len <= P2P_DIGEST_INLINE)
		return p2p_digest_start(t, fd, len, error);
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot duplicate a descriptor: %s", g_strerror(errno));
		return FALSE;
	}
	PrefixJob *j = g_new0(PrefixJob, 1);
	j->d = t->d;
	j->id = g_strdup(t->id);
	j->gen = ++t->hash_gen;
	j->fd = dup_fd;
	j->len = len;
	j->done = done;
	sha256_md(); /* fetched here, on the main thread, before the worker uses it */
	t->hashing = TRUE;
	g_autoptr(GTask) task = g_task_new(NULL, NULL, prefix_done, NULL);
	g_task_set_task_data(task, j, prefix_job_free);
	g_task_run_in_thread(task, prefix_thread);
	return TRUE;
}

P2pTransfer *
p2p_transfer_find(P2pDaemon *d, P2pSession *s, gboolean outgoing, guint64 wire_id)
{
	/* every DATA and FILE_END frame looks its transfer up: the last one found first */
	P2pTransfer *last = d->last_found;
	if (last && last->session == s && last->outgoing == outgoing && last->wire_id == wire_id)
		return last;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		if (t->session == s && t->outgoing == outgoing && t->wire_id == wire_id) {
			d->last_found = t;
			return t;
		}
	}
	return NULL;
}

P2pTransfer *
p2p_transfer_find_wire(P2pDaemon *d, const char *peer, gboolean outgoing, guint64 wire_id)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		if (t->outgoing == outgoing && t->wire_id == wire_id && strcmp(t->peer, peer) == 0)
			return t;
	}
	P2pTransfer *t = p2p_journal_get_wire(d, peer, outgoing, wire_id);
	if (t)
		g_hash_table_insert(d->transfers, t->id, t);
	return t;
}

void
p2p_transfer_protocol_error(P2pSession *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("session %s: %s", p2p_session_peer_id(s), msg);
	p2p_session_close(s, P2P_REASON_PROTOCOL, msg);
}

/* ---- sending ------------------------------------------------------------------ */

/* OFFER with as much of the manifest as fits in P2P_MANIFEST_FRAME_BYTES, then
 * MANIFEST frames with the rest. */
static void
offer(P2pTransfer *t, P2pSession *s)
{
	g_autoptr(GError) error = NULL;
	P2pChannel *c = p2p_session_get_channel(s);
	P2pManifest *m = t->manifest;
	guint first = 0;

	t->session = s;
	while (first < m->entries->len || first == 0) {
		guint n = 0;
		gsize bytes = 0;
		while (first + n < m->entries->len && (n == 0 || bytes < P2P_MANIFEST_FRAME_BYTES / 2)) {
			P2pEntry *e = p2p_manifest_entry(m, first + n);
			bytes += strlen(e->path) * 2 + (e->target ? strlen(e->target) * 2 : 0) + 96;
			n++;
		}
		gboolean ok;
		if (first == 0 && p2p_test_hooks && p2p_test_hooks->offer) {
			g_autoptr(JsonObject) o = json_object_new();
			json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
			json_object_set_int_member(o, "count", m->entries->len);
			json_object_set_int_member(o, "bytes", (gint64)m->bytes);
			json_object_set_array_member(o, "entries",
			                             p2p_manifest_entries_to_json(m, first, n, FALSE));
			p2p_test_hooks->offer(o);
			ok = p2p_channel_send_json(c, P2P_FRAME_OFFER, o, &error);
		} else {
			g_autoptr(GString) text = g_string_sized_new(bytes + 128);
			g_string_append_printf(text, "{\"xfer\":%" G_GUINT64_FORMAT, t->wire_id);
			if (first == 0)
				g_string_append_printf(text, ",\"count\":%u,\"bytes\":%" G_GUINT64_FORMAT,
				                       m->entries->len, m->bytes);
			g_string_append(text, ",\"entries\":");
			p2p_manifest_write_json(m, first, n, FALSE, text);
			g_string_append_c(text, '}');
			ok = p2p_channel_send(c, first == 0 ? P2P_FRAME_OFFER : P2P_FRAME_MANIFEST,
			                      text->str, text->len, &error);
		}
		if (!ok) {
			p2p_transfer_pause(t, error->message);
			return;
		}
		first += n;
		if (n == 0)
			break;
	}
	gboolean again = t->state == P2P_XFER_PAUSED;
	t->state = P2P_XFER_OFFERED;
	if (!again)
		p2p_transfer_emit(t, P2P_E_OFFER_SENT);
}

static gboolean
journal_idle_cb(gpointer data)
{
	P2pTransfer *t = data;
	t->journal_idle = 0;
	p2p_journal_insert(t);
	return G_SOURCE_REMOVE;
}

static void
close_fds(int *fds, guint n)
{
	for (guint i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

P2pTransfer *
p2p_transfer_send(P2pDaemon *d, char **paths, int *fds, guint n, const P2pCaller *caller,
                  P2pPeer *peer, GPtrArray *warnings, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(P2pManifest) m = p2p_manifest_new();
	g_autoptr(GArray) roots = g_array_new(FALSE, FALSE, sizeof(int));

	if (!peer->online) {
		close_fds(fds, n);
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PEER_OFFLINE, "peer \"%s\" is offline",
		            peer->id);
		return NULL;
	}
	for (guint i = 0; i < n; i++) {
		if (!g_path_is_absolute(paths[i])) {
			close_fds(fds, n);
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "path \"%s\" is not absolute", paths[i]);
			return NULL;
		}
	}
	for (guint i = 0; i < n; i++) {
		int fd = fds[i];
		fds[i] = -1;
		if (fd < 0)
			fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot open \"%s\": %s", paths[i],
			            g_strerror(errno));
			close_fds(fds, n);
			close_fds((int *)roots->data, roots->len);
			return NULL;
		}
		int keep = dup(fd);
		g_array_append_val(roots, keep);
		if (!p2p_manifest_add(m, paths[i], fd, caller, warnings, &local)) {
			gboolean usage = local->code == G_IO_ERROR_INVALID_FILENAME ||
			                 local->code == G_IO_ERROR_EXISTS ||
			                 local->code == G_IO_ERROR_NOT_REGULAR_FILE;
			g_set_error(error, P2P_RPC_ERROR, usage ? P2P_RPC_INVALID_PARAMS : P2P_RPC_IO, "%s",
			            local->message);
			close_fds(fds, n);
			close_fds((int *)roots->data, roots->len);
			return NULL;
		}
	}
	p2p_manifest_finish(m, warnings);

	P2pTransfer *t = p2p_transfer_new(d, TRUE, peer->id);
	t->manifest = g_steal_pointer(&m);
	g_array_append_vals(t->root_fds, roots->data, roots->len);
	g_array_set_size(roots, 0);
	p2p_transfer_describe(t);
	t->wire_id = ((guint64)g_random_int() << 32 | g_random_int()) & G_MAXINT64;
	t->state = P2P_XFER_CONNECTING;
	g_info("transfer %s: sending %s (%u files, %" G_GUINT64_FORMAT " bytes) to %s", t->id,
	       t->name, t->files, t->size, t->peer);

	if (peer->session == NULL) {
		if (p2p_session_connect(d, peer, &local) == NULL) {
			p2p_transfer_fail(t, 0, P2P_REASON_DISCONNECTED,
			                  "cannot start a session with %s: %s", peer->id, local->message);
		}
	} else if (p2p_session_get_state(peer->session) == P2P_SESSION_READY) {
		offer(t, peer->session);
	}
	/* once the offer is out, so that writing the row (a 10,000-entry manifest is a
	 * megabyte) overlaps the receiver reading it; a crash within those milliseconds
	 * loses a transfer that had not started */
	t->journal_idle = g_idle_add_full(G_PRIORITY_LOW, journal_idle_cb, t, NULL);
	return t;
}

/* FILE_END carries the SHA-256 of the file's bytes; the receiver answers with ACKs
 * (or a NACK that ends the transfer). */
static gboolean
send_file_end(P2pTransfer *t, P2pChannel *c)
{
	guint8 digest[EVP_MAX_MD_SIZE];
	guint8 frame[P2P_FILE_END_LEN];
	unsigned int len = 0;

	EVP_DigestFinal_ex(t->md, digest, &len);
	if (p2p_transfer_is_single_file(t)) {
		g_free(t->sha256);
		t->sha256 = p2p_hex(digest, P2P_SHA256_LEN);
	}
	if (p2p_test_hooks && p2p_test_hooks->file_end && !p2p_test_hooks->file_end(digest))
		return TRUE;
	p2p_frame_file_end(frame, t->wire_id, t->cur, digest);
	return p2p_channel_send(c, P2P_FRAME_FILE_END, frame, sizeof(frame), NULL);
}

/* The test seam (p2pd-testhooks.h): without hooks every chunk goes out as it was read. */
static gboolean
hook_data(P2pTransfer *t, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	*xfer = t->wire_id;
	*file = t->cur;
	return p2p_test_hooks == NULL || p2p_test_hooks->data == NULL ||
	       p2p_test_hooks->data(t->bytes, buf, len, xfer, file);
}

/* The top-level item of e, open: the caller's descriptor, or reopened by path after a
 * restart and accepted only if it is still the same file or directory (dev, inode). */
static int
root_fd(P2pTransfer *t, P2pEntry *e, GError **error)
{
	int *fd = &g_array_index(t->root_fds, int, e->root);
	const char *path = t->manifest->roots->pdata[e->root];
	struct stat st;

	if (*fd >= 0)
		return *fd;
	int r = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (r < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open \"%s\" again: %s", path,
		            g_strerror(errno));
		return -1;
	}
	if (fstat(r, &st) != 0 ||
	    (guint64)st.st_dev != g_array_index(t->manifest->root_ids, guint64, 2 * e->root) ||
	    (guint64)st.st_ino != g_array_index(t->manifest->root_ids, guint64, 2 * e->root + 1)) {
		close(r);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "\"%s\" was replaced by another file since it was offered", path);
		return -1;
	}
	*fd = r;
	return r;
}

static void pump(P2pTransfer *t);

/* The bytes the receiver already has are hashed: on with the rest. */
static void
source_hashed(P2pTransfer *t, const GError *error)
{
	if (error != NULL) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_CHANGED, "\"%s\": %s",
		                  p2p_manifest_entry(t->manifest, t->cur)->path, error->message);
		return;
	}
	pump(t);
}

/* Opens entry t->cur and checks that it is the file that was offered. */
static gboolean
open_source(P2pTransfer *t, GError **error)
{
	P2pEntry *e = p2p_manifest_entry(t->manifest, t->cur);
	const char *slash = strchr(e->path, '/');
	struct stat st;

	int r = root_fd(t, e, error);
	if (r < 0)
		return FALSE;
	int fd = slash ? openat(r, slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	                                          O_NONBLOCK)
	               : dup(r);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open \"%s\": %s", e->path,
		            g_strerror(errno));
		return FALSE;
	}
	const char *why = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		why = "it is no longer a regular file";
	else if ((guint64)st.st_dev != e->dev || (guint64)st.st_ino != e->ino)
		why = "it was replaced by another file";
	else if ((guint64)st.st_size != e->size)
		why = "its size changed";
	else if (st.st_mtime != e->mtime || (guint32)st.st_mtim.tv_nsec != e->mtime_ns)
		why = "it was modified";
	if (why) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "\"%s\" changed since it was offered: %s", e->path, why);
		return FALSE;
	}
	t->fd = fd;
	if (!p2p_digest_start_async(t, fd, t->cur_off, source_hashed, error)) {
		g_prefix_error(error, "\"%s\": ", e->path);
		return FALSE;
	}
	return TRUE;
}


static gboolean
rate_tick(gpointer data)
{
	P2pTransfer *t = data;
	t->rate_timer = 0;
	pump(t);
	return G_SOURCE_REMOVE;
}

/* With rate-limit set: whether more may go now; if not, pump runs again later. */
static gboolean
rate_allows(P2pTransfer *t)
{
	guint64 limit = t->d->cfg->rate_limit;
	if (limit == 0)
		return TRUE;
	gint64 now = g_get_monotonic_time();
	if (t->rate_start == 0 || now - t->rate_start > G_USEC_PER_SEC) {
		/* one-second windows, so that an idle spell is not saved up as a burst */
		t->rate_start = now;
		t->rate_bytes = 0;
	}
	guint64 allowed = limit * (guint64)(now - t->rate_start) / G_USEC_PER_SEC + P2P_DATA_CHUNK;
	if (t->rate_bytes < allowed)
		return TRUE;
	if (t->rate_timer == 0)
		t->rate_timer = g_timeout_add(RATE_TICK_MS, rate_tick, t);
	return FALSE;
}

static void
pump_files(P2pTransfer *t, P2pChannel *c)
{
	P2pManifest *m = t->manifest;
	g_autofree guint8 *buf = g_malloc(P2P_DATA_CHUNK);
	g_autoptr(GError) error = NULL;

	while (t->state == P2P_XFER_TRANSFERRING && p2p_channel_queued(c) < SEND_HIGH_WATER) {
		if (t->hashing)
			return; /* source_hashed pumps again */
		if (t->fd < 0) {
			while (t->cur < m->entries->len &&
			       p2p_manifest_entry(m, t->cur)->type != P2P_ENTRY_FILE)
				t->cur++;
			if (t->cur >= m->entries->len) {
				/* every file is out: wait for the receiver's last ACK */
				t->state = P2P_XFER_VERIFYING;
				p2p_journal_update(t);
				p2p_transfer_emit(t, P2P_E_TRANSFER_PROGRESS);
				return;
			}
			if (!open_source(t, &error)) {
				p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_CHANGED, "%s",
				                  error->message);
				return;
			}
			continue; /* its prefix may be hashing */
		}
		if (!rate_allows(t))
			return;
		P2pEntry *e = p2p_manifest_entry(m, t->cur);
		/* one byte more than is left tells a file that grew without another read */
		gsize want = MIN((guint64)P2P_DATA_CHUNK, e->size - t->cur_off + 1);
		ssize_t n = pread(t->fd, buf, want, (off_t)t->cur_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "cannot read \"%s\": %s",
			                  e->path, g_strerror(errno));
			return;
		}
		if ((guint64)n > e->size - t->cur_off) {
			/* a file that grew is not sent as offered, nor silently cut */
			p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_CHANGED,
			                  "\"%s\" grew while being sent", e->path);
			return;
		}
		if (n == 0 && t->cur_off < e->size) {
			p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_CHANGED,
			                  "\"%s\" shrank to %" G_GUINT64_FORMAT " bytes while being sent",
			                  e->path, t->cur_off);
			return;
		}
		if (n > 0) {
			EVP_DigestUpdate(t->md, buf, n);
			gsize len = n;
			guint64 xfer;
			guint32 file;
			if (hook_data(t, buf, &len, &xfer, &file)) {
				if (!p2p_channel_send_data(c, xfer, file, t->cur_off, buf, len, &error)) {
					p2p_transfer_pause(t, error->message);
					return;
				}
				t->wire_bytes += len;
				t->rate_bytes += len;
			} else {
				t->cur_off = e->size - n; /* the hook ends the file here */
			}
			t->cur_off += n;
			t->bytes += n;
			p2p_transfer_progress(t);
		}
		if (t->cur_off == e->size) {
			if (!send_file_end(t, c)) {
				p2p_transfer_pause(t, "the connection closed");
				return;
			}
			p2p_transfer_release_io(t);
			t->cur++;
			t->cur_off = 0;
		}
	}
}

/* Sends what the channel takes now; small files and their FILE_ENDs share records. */
static void
pump(P2pTransfer *t)
{
	P2pChannel *c = t->session ? p2p_session_get_channel(t->session) : NULL;
	g_autoptr(GError) error = NULL;

	if (c == NULL || t->state != P2P_XFER_TRANSFERRING)
		return;
	p2p_channel_cork(c);
	pump_files(t, c);
	if (!p2p_channel_uncork(c, &error) && t->session)
		p2p_transfer_pause(t, error->message);
}

/* ---- answers to the sender -------------------------------------------------------- */

typedef struct {
	guint64 xfer;
	guint64 file;
	guint64 offset;
	guint64 upto;
	const char *code;
	const char *message;
} Answer;

static const P2pField accept_fields[] = {
	P2P_FIELD(Answer, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Answer, file, "file", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Answer, offset, "offset", P2P_FIELD_UINT, TRUE, 0),
	{ NULL },
};
static const P2pField ack_fields[] = {
	P2P_FIELD(Answer, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Answer, upto, "upto", P2P_FIELD_UINT, TRUE, 0),
	{ NULL },
};
static const P2pField reason_fields[] = {
	P2P_FIELD(Answer, xfer, "xfer", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(Answer, file, "file", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(Answer, code, "code", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(Answer, message, "message", P2P_FIELD_STRING, FALSE, 1024),
	{ NULL },
};

/* ACCEPT: start at entry file, byte offset (both 0 for a new transfer). */
static void
on_accept(P2pTransfer *t, const Answer *a)
{
	P2pManifest *m = t->manifest;
	if (t->state != P2P_XFER_OFFERED)
		return;
	if (a->file > m->entries->len ||
	    (a->file < m->entries->len && a->offset > p2p_manifest_entry(m, a->file)->size) ||
	    (a->file == m->entries->len && a->offset != 0)) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  "the receiver asked to start at entry %" G_GUINT64_FORMAT
		                  " offset %" G_GUINT64_FORMAT ", outside the offer", a->file,
		                  a->offset);
		return;
	}
	t->cur = a->file;
	t->cur_off = a->offset;
	t->bytes = p2p_manifest_bytes_before(m, t->cur) + a->offset;
	t->state = P2P_XFER_TRANSFERRING;
	t->rate_start = 0;
	p2p_transfer_clear_reason(t);
	if (t->resumed || t->bytes > 0) {
		g_info("transfer %s: resuming at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
		       t->id, t->bytes, t->size);
		p2p_transfer_emit(t, P2P_E_TRANSFER_RESUMED);
	} else {
		p2p_transfer_emit(t, P2P_E_TRANSFER_START);
	}
	t->resumed = TRUE;
	p2p_journal_update(t);
	pump(t);
}

static void
on_ack(P2pTransfer *t, const Answer *a)
{
	if (t->state != P2P_XFER_TRANSFERRING && t->state != P2P_XFER_VERIFYING &&
	    t->state != P2P_XFER_OFFERED)
		return;
	if (a->upto > t->count) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  "the receiver acknowledged %" G_GUINT64_FORMAT " of %u entries",
		                  a->upto, t->count);
		return;
	}
	t->upto = MAX(t->upto, (guint)a->upto);
	if (t->upto == t->count) {
		t->bytes = t->size;
		p2p_transfer_finish(t, P2P_XFER_COMPLETE, NULL, NULL);
		return;
	}
	p2p_journal_update(t);
}

static void
handle_answer(P2pDaemon *d, P2pSession *s, guint8 type, JsonObject *o)
{
	Answer a = { 0 };
	g_autoptr(GError) error = NULL;
	const P2pField *fields = type == P2P_FRAME_ACCEPT ? accept_fields
	                         : type == P2P_FRAME_ACK  ? ack_fields
	                                                  : reason_fields;

	if (!p2p_schema_decode(o, fields, &a, &error)) {
		p2p_transfer_protocol_error(s, "bad %s frame: %s", p2p_frame_type_name(type),
		                            error->message);
		return;
	}
	const char *message = a.message ? a.message : a.code;
	if (type == P2P_FRAME_CANCEL) {
		/* either direction */
		P2pTransfer *t = p2p_transfer_find(d, s, FALSE, a.xfer);
		if (t == NULL)
			t = p2p_transfer_find(d, s, TRUE, a.xfer);
		/* or one that is not bound to a session: paused, or waiting for a decision */
		if (t == NULL)
			t = p2p_transfer_find_wire(d, p2p_session_peer_id(s), FALSE, a.xfer);
		if (t == NULL || !p2p_transfer_is_active(t))
			t = p2p_transfer_find_wire(d, p2p_session_peer_id(s), TRUE, a.xfer);
		if (t && p2p_transfer_is_active(t)) {
			/* say who, unless the peer's message already does */
			g_autofree char *m = g_str_has_prefix(message, t->peer)
			                         ? g_strdup(message)
			                         : g_strdup_printf("%s: %s", t->peer, message);
			p2p_transfer_finish(t,
			                    g_strcmp0(a.code, P2P_REASON_CANCELLED) == 0 ? P2P_XFER_CANCELLED
			                                                                 : P2P_XFER_FAILED,
			                    a.code, m);
		}
		return;
	}
	P2pTransfer *t = p2p_transfer_find(d, s, TRUE, a.xfer);
	if (t == NULL)
		return;
	switch (type) {
	case P2P_FRAME_ACCEPT:
		on_accept(t, &a);
		break;
	case P2P_FRAME_ACK:
		on_ack(t, &a);
		break;
	case P2P_FRAME_REJECT:
		if (t->state == P2P_XFER_OFFERED)
			p2p_transfer_finish(t, P2P_XFER_REJECTED, a.code, message);
		break;
	case P2P_FRAME_NACK:
		p2p_transfer_finish(t, P2P_XFER_FAILED, a.code, message);
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
		p2p_receive_data(d, s, payload);
		return;
	}
	if (type == P2P_FRAME_FILE_END) {
		p2p_receive_file_end(d, s, payload);
		return;
	}
	if (type == P2P_FRAME_OFFER) {
		p2p_receive_offer(d, s, payload);
		return;
	}
	if (type == P2P_FRAME_MANIFEST) {
		p2p_receive_manifest(d, s, payload);
		return;
	}
	g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, &error);
	if (o == NULL) {
		p2p_transfer_protocol_error(s, "bad frame 0x%02x: %s", type, error->message);
		return;
	}
	switch (type) {
	case P2P_FRAME_CHAT:
	case P2P_FRAME_CHAT_ACK:
	case P2P_FRAME_TYPING:
		p2p_chat_frame(d, s, type, o);
		break;
	case P2P_FRAME_CALL:
		p2p_call_frame(d, s, o);
		break;
	case P2P_FRAME_ACCEPT:
	case P2P_FRAME_REJECT:
	case P2P_FRAME_ACK:
	case P2P_FRAME_NACK:
	case P2P_FRAME_CANCEL:
		handle_answer(d, s, type, o);
		break;
	default:
		p2p_transfer_protocol_error(s, "unexpected frame type 0x%02x", type);
		break;
	}
}

/* ---- control entry points ----------------------------------------------------------- */

gboolean
p2p_transfer_accept(P2pTransfer *t, const char *output, GError **error)
{
	if (t->outgoing || t->state != P2P_XFER_OFFERED || t->accepted) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is not an incoming offer waiting for an answer (it is %s)",
		            t->id, p2p_transfer_state_name(t->state));
		return FALSE;
	}
	return p2p_receive_accept(t, output, error);
}

gboolean
p2p_transfer_reject(P2pTransfer *t, const char *reason, GError **error)
{
	if (t->outgoing || t->state != P2P_XFER_OFFERED || t->accepted) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is not an incoming offer waiting for an answer (it is %s)",
		            t->id, p2p_transfer_state_name(t->state));
		return FALSE;
	}
	g_autofree char *msg = g_strdup_printf("%s declined %s%s%s", t->d->cfg->agent, t->name,
	                                       reason ? ": " : "", reason ? reason : "");
	p2p_transfer_send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, 0,
	                         P2P_REASON_DECLINED, msg);
	p2p_transfer_finish(t, P2P_XFER_REJECTED, P2P_REASON_DECLINED, msg);
	return TRUE;
}

gboolean
p2p_transfer_cancel(P2pTransfer *t, const char *reason, GError **error)
{
	if (!p2p_transfer_is_active(t)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s has already ended (it is %s)", t->id,
		            p2p_transfer_state_name(t->state));
		return FALSE;
	}
	g_autofree char *msg = g_strdup_printf("%s cancelled %s%s%s", t->d->cfg->agent, t->name,
	                                       reason ? ": " : "", reason ? reason : "");
	if (t->session)
		p2p_transfer_send_reason(t->session, P2P_FRAME_CANCEL, t->wire_id, 0,
		                         P2P_REASON_CANCELLED, msg);
	else
		t->tell_peer = t->outgoing;
	p2p_transfer_finish(t, P2P_XFER_CANCELLED, P2P_REASON_CANCELLED, msg);
	return TRUE;
}

/* ---- session and presence events --------------------------------------------------- */

/* Whether anything of ours waits for this peer: transfers, or chat messages. */
static gboolean
has_outgoing(P2pDaemon *d, const char *peer)
{
	if (p2p_chat_has_queued(d, peer))
		return TRUE;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		P2pTransfer *t = v;
		if (t->outgoing && (p2p_transfer_is_active(t) || t->tell_peer) &&
		    t->session == NULL && strcmp(t->peer, peer) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
connect_peer(P2pDaemon *d, P2pPeer *peer)
{
	g_autoptr(GError) error = NULL;
	if (peer->session || !peer->online || !has_outgoing(d, peer->id))
		return;
	g_info("transfers or messages for %s are waiting: connecting", peer->id);
	if (p2p_session_connect(d, peer, &error) == NULL)
		g_warning("session %s: %s", peer->id, error->message);
}

static gboolean
reconnect_cb(gpointer data)
{
	P2pPeer *peer = data;
	peer->retry = 0;
	connect_peer(peer->daemon, peer);
	return G_SOURCE_REMOVE;
}

static void
schedule_reconnect(P2pDaemon *d, const char *id)
{
	if (d->stopping)
		return;
	P2pPeer *peer = p2p_daemon_lookup_peer(d, id);
	if (peer == NULL || peer->retry || !has_outgoing(d, id))
		return;
	peer->backoff = CLAMP(peer->backoff * 2, RECONNECT_MIN_S, RECONNECT_MAX_S);
	/* jitter, so that two daemons that lost each other do not call at the same instant */
	guint ms = peer->backoff * 1000 + g_random_int_range(0, 500);
	peer->retry = g_timeout_add(ms, reconnect_cb, peer);
}

void
p2p_transfers_peer_online(P2pDaemon *d, P2pPeer *peer)
{
	peer->backoff = 0;
	g_clear_handle_id(&peer->retry, g_source_remove);
	connect_peer(d, peer);
}

void
p2p_transfers_session_ready(P2pDaemon *d, P2pSession *s)
{
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	const char *peer_id = p2p_session_peer_id(s);
	P2pPeer *peer = p2p_daemon_lookup_peer(d, peer_id);

	if (peer) {
		peer->backoff = 0;
		g_clear_handle_id(&peer->retry, g_source_remove);
	}
	p2p_chat_session_ready(d, s);
	p2p_call_session_ready(d, s);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (!t->outgoing || strcmp(t->peer, peer_id) != 0)
			continue;
		if (t->tell_peer) {
			/* ended while we were apart: say so, or the peer would wait for it */
			t->tell_peer = FALSE;
			g_autoptr(JsonObject) o = json_object_new();
			json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
			json_object_set_string_member(o, "code", t->reason_code);
			json_object_set_string_member(o, "message", t->reason_message);
			p2p_channel_send_json(p2p_session_get_channel(s), P2P_FRAME_CANCEL, o, NULL);
			continue;
		}
		if (t->session == NULL &&
		    (t->state == P2P_XFER_CONNECTING || t->state == P2P_XFER_PAUSED))
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
	const char *peer_id = p2p_session_peer_id(s);
	P2pPeer *peer = d->stopping ? NULL : p2p_daemon_lookup_peer(d, peer_id);
	gboolean taken_over = peer && peer->session && peer->session != s;
	gboolean pause = g_strcmp0(code, P2P_REASON_DISCONNECTED) == 0;

	p2p_receive_session_closed(d, s);
	p2p_call_session_closed(d, s, taken_over);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (!p2p_transfer_is_active(t))
			continue;
		gboolean mine = t->session == s ||
		                (t->session == NULL && !taken_over && t->outgoing &&
		                 t->state == P2P_XFER_CONNECTING && strcmp(t->peer, peer_id) == 0);
		if (!mine)
			continue;
		if (pause)
			p2p_transfer_pause(t, message);
		else
			p2p_transfer_finish(t, P2P_XFER_FAILED, code, message);
	}
	if (pause && !taken_over)
		schedule_reconnect(d, peer_id);
}

void
p2p_transfers_load(P2pDaemon *d)
{
	g_autoptr(GPtrArray) rows = p2p_journal_load(d);
	guint resumed = 0;

	for (guint i = 0; i < rows->len; i++) {
		P2pTransfer *t = rows->pdata[i];
		g_hash_table_insert(d->transfers, t->id, t);
		if (!p2p_transfer_is_active(t))
			continue;
		resumed++;
		t->resumed = TRUE;
		if (t->outgoing || t->accepted) {
			t->state = P2P_XFER_PAUSED;
			g_free(t->reason_code);
			g_free(t->reason_message);
			t->reason_code = g_strdup(P2P_REASON_DISCONNECTED);
			t->reason_message = g_strdup("p2pd restarted; continues when the peer is back");
			p2p_journal_update(t);
		} else {
			p2p_receive_arm_expiry(t);
		}
	}
	if (resumed)
		g_info("journal: %u unfinished transfers continue when their peers are back", resumed);
	p2p_receive_clean_staging(d);
}

/* p2pd-receive.c: the receiving side of a transfer.
 *
 * OFFER (+ MANIFEST frames) collects the manifest; once complete it is checked (paths,
 * parents, links, sizes) and the policy applied, and the offer is accepted, held for
 * the user, or refused with a reason. Accepted transfers are written into a staging
 * directory, OUTPUT/.p2pd-partial/ID.d, with the tree's real relative paths: the
 * directories first, then each file in manifest order, verified against its FILE_END
 * hash, then given its mode and mtime. Verified files are made durable in batches (one
 * syncfs per batch, no fsync per file) and acknowledged with ACK {upto}; the journal
 * keeps upto, so a restart resumes at the first file not yet durable, from the bytes
 * its staged copy holds. After the last file: symlinks, directory modes and mtimes,
 * one more sync, and each top-level item is renamed into OUTPUT without replacing
 * anything ("name (1)" when taken). Nothing appears under its final name before it is
 * complete and verified, and nothing is created outside the staging directory: every
 * path was checked, parents are directories this transfer created, and symlinks are
 * made last. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2pd-inbox.h"
#include "p2pd-journal.h"
#include "p2pd-session.h"
#include "p2pd-transfer-internal.h"

#define MAX_INCOMING_PER_PEER  16
#define MAX_PENDING_OFFERS     4                   /* manifests arriving per session */
#define BATCH_BYTES            (64 * 1024 * 1024)  /* sync after this much ... */
#define BATCH_FILES            4096                /* ... or this many files ... */
#define BATCH_DELAY_MS         250                 /* ... or this long after the first */
#define STAGING_SUFFIX         ".d"

/* An offer whose manifest is still arriving. */
typedef struct {
	P2pSession *session;
	guint64 xfer;
	guint count;
	guint64 bytes;
	P2pManifest *manifest;
} PendingOffer;

static GList *pending_offers;

static void
pending_free(PendingOffer *po)
{
	p2p_manifest_free(po->manifest);
	g_free(po);
}

static PendingOffer *
pending_find(P2pSession *s, guint64 xfer)
{
	for (GList *l = pending_offers; l; l = l->next) {
		PendingOffer *po = l->data;
		if (po->session == s && po->xfer == xfer)
			return po;
	}
	return NULL;
}

static void
pending_drop(PendingOffer *po)
{
	pending_offers = g_list_remove(pending_offers, po);
	pending_free(po);
}

void
p2p_receive_session_closed(P2pDaemon *d, P2pSession *s)
{
	for (GList *l = pending_offers, *next; l; l = next) {
		next = l->next;
		if (((PendingOffer *)l->data)->session == s)
			pending_drop(l->data);
	}
}

/* ---- the staging directory ---------------------------------------------------------- */

/* Removes dir/name and everything under it, never following a symlink. */
static void
remove_tree_at(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			unlinkat(dir, name, 0);
		else if (errno == EACCES && fchmodat(dir, name, 0700, 0) == 0)
			remove_tree_at(dir, name);
		return;
	}
	fchmod(fd, 0700);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			g_ptr_array_add(names, g_strdup(de->d_name));
	for (guint i = 0; i < names->len; i++) {
		struct stat st;
		if (fstatat(dirfd(d), names->pdata[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			remove_tree_at(dirfd(d), names->pdata[i]);
		else
			unlinkat(dirfd(d), names->pdata[i], 0);
	}
	closedir(d);
	unlinkat(dir, name, AT_REMOVEDIR);
}

void
p2p_receive_remove_staging(P2pTransfer *t)
{
	/* nothing of the writer's may land in it after it is gone */
	if (t->d->writer)
		p2p_writer_drain(t->d->writer);
	g_clear_pointer(&t->wdir, p2p_writer_dir_unref);
	if (t->staging_fd >= 0) {
		close(t->staging_fd);
		t->staging_fd = -1;
	}
	if (t->staging == NULL)
		return;
	g_autofree char *parent = g_path_get_dirname(t->staging);
	g_autofree char *base = g_path_get_basename(t->staging);
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		remove_tree_at(pfd, base);
		close(pfd);
	}
	g_clear_pointer(&t->staging, g_free);
}

static void
clean_partial_dir(P2pDaemon *d, const char *dir, GHashTable *keep)
{
	g_autofree char *pdir = g_build_filename(dir, P2P_INBOX_PARTIAL_DIR, NULL);
	g_autoptr(GDir) gd = g_dir_open(pdir, 0, NULL);
	int pfd = gd ? open(pdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	const char *n;

	while (pfd >= 0 && (n = g_dir_read_name(gd))) {
		g_autofree char *full = g_build_filename(pdir, n, NULL);
		if (!g_hash_table_contains(keep, full)) {
			g_info("removing %s, left by a transfer that has ended", full);
			remove_tree_at(pfd, n);
		}
	}
	if (pfd >= 0)
		close(pfd);
}

void
p2p_receive_clean_staging(P2pDaemon *d)
{
	g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (!t->outgoing && p2p_transfer_is_active(t) && t->staging)
			g_hash_table_add(keep, t->staging);
	}
	clean_partial_dir(d, d->cfg->save_dir, keep);
	if (d->cfg->peer_subfolders) {
		g_autoptr(GDir) gd = g_dir_open(d->cfg->save_dir, 0, NULL);
		const char *n;
		while (gd && (n = g_dir_read_name(gd))) {
			g_autofree char *sub = g_build_filename(d->cfg->save_dir, n, NULL);
			if (n[0] != '.' && g_file_test(sub, G_FILE_TEST_IS_DIR))
				clean_partial_dir(d, sub, keep);
		}
	}
}

static char *
default_output(P2pTransfer *t)
{
	P2pConfig *cfg = t->d->cfg;
	return cfg->peer_subfolders ? g_build_filename(cfg->save_dir, t->peer, NULL)
	                            : g_strdup(cfg->save_dir);
}

/* Creates OUTPUT (for a peer subfolder), the staging directory and every directory of
 * the manifest in it. */
static gboolean
prepare_staging(P2pTransfer *t, GError **error)
{
	if (g_mkdir_with_parents(t->output, 0750) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create \"%s\": %s", t->output, g_strerror(errno));
		return FALSE;
	}
	g_autofree char *pdir = g_build_filename(t->output, P2P_INBOX_PARTIAL_DIR, NULL);
	if (mkdir(pdir, 0700) != 0 && errno != EEXIST) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create \"%s\": %s", pdir, g_strerror(errno));
		return FALSE;
	}
	if (t->staging == NULL) {
		g_autofree char *base = g_strconcat(t->id, STAGING_SUFFIX, NULL);
		t->staging = g_build_filename(pdir, base, NULL);
	}
	if (mkdir(t->staging, 0700) != 0 && errno != EEXIST) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create \"%s\": %s", t->staging, g_strerror(errno));
		return FALSE;
	}
	if (t->staging_fd < 0)
		t->staging_fd = open(t->staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t->staging_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open \"%s\": %s",
		            t->staging, g_strerror(errno));
		return FALSE;
	}
	P2pManifest *m = t->manifest;
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		struct stat st;
		if (e->type != P2P_ENTRY_DIR)
			continue;
		if (mkdirat(t->staging_fd, e->path, 0700) != 0 &&
		    !(errno == EEXIST && fstatat(t->staging_fd, e->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISDIR(st.st_mode))) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot create \"%s\" in \"%s\": %s", e->path, t->staging,
			            g_strerror(errno));
			return FALSE;
		}
	}
	return TRUE;
}

/* Free space for what is still to come, keeping min-free-space. */
static gboolean
check_space(P2pTransfer *t, const char *dir, GError **error)
{
	return p2p_inbox_check_space(dir, t->size - MIN(t->size, t->bytes),
	                             t->d->cfg->min_free_space, error);
}

/* ---- answering an offer ---------------------------------------------------------------- */

static void
send_ack(P2pTransfer *t, guint upto)
{
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
	json_object_set_int_member(o, "upto", upto);
	if (t->session && p2p_session_get_channel(t->session))
		p2p_channel_send_json(p2p_session_get_channel(t->session), P2P_FRAME_ACK, o, NULL);
}

static void finalize(P2pTransfer *t);
static void writer_failed(P2pTransfer *t, int err, const char *path);

static void send_accept(P2pTransfer *t);

/* The bytes of a resumed file already on disk are hashed: now the sender may go on. */
static void
target_hashed(P2pTransfer *t, const GError *error)
{
	if (error != NULL) {
		g_warning("transfer %s: %s", t->id, error->message);
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot read "
		                  "back its copy: %s", error->message);
		return;
	}
	if (t->session != NULL)
		send_accept(t);
}

/* Opens the staged copy of entry t->cur for writing from t->cur_off (whatever the copy
 * holds beyond that is cut off), hashing what is already there. */
static gboolean
open_target(P2pTransfer *t, GError **error)
{
	P2pEntry *e = p2p_manifest_entry(t->manifest, t->cur);
	/* a new file is truncated on open; a resumed one is cut to the resume point */
	int flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (t->cur_off ? 0 : O_TRUNC);

	/* created with its final mode (the staging directory keeps it private), so that
	 * FILE_END need not chmod unless the umask took bits away */
	int fd = openat(t->staging_fd, e->path, flags, e->mode);
	if (fd < 0 && errno == EACCES) {
		/* an earlier attempt's complete copy that already got a read-only mode */
		unlinkat(t->staging_fd, e->path, 0);
		t->bytes -= t->cur_off;
		t->cur_off = 0;
		fd = openat(t->staging_fd, e->path, flags | O_TRUNC, e->mode);
	}
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create \"%s\" in \"%s\": %s", e->path, t->staging, g_strerror(errno));
		return FALSE;
	}
	if (t->cur_off > 0 && ftruncate(fd, (off_t)t->cur_off) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot truncate \"%s\": %s",
		            e->path, g_strerror(errno));
		close(fd);
		return FALSE;
	}
	t->fd = fd;
	if (!p2p_digest_start_async(t, fd, t->cur_off, target_hashed, error)) {
		p2p_transfer_release_io(t);
		return FALSE;
	}
	return TRUE;
}

/* Starts entry t->cur: a new small file is kept in memory until its FILE_END and then
 * handed to the writer thread; anything else is opened here and written as it comes. */
static gboolean
start_file(P2pTransfer *t, GError **error)
{
	P2pEntry *e = p2p_manifest_entry(t->manifest, t->cur);
	if (t->cur_off == 0 && e->size <= P2P_WRITER_MAX_FILE) {
		t->small = g_byte_array_sized_new(e->size);
		return p2p_digest_start(t, -1, 0, error);
	}
	return open_target(t, error);
}

static mode_t
process_umask(void)
{
	static mode_t mask = (mode_t)-1;
	if (mask == (mode_t)-1) {
		mask = umask(077);
		umask(mask);
	}
	return mask;
}

static guint
next_file(P2pTransfer *t, guint from)
{
	P2pManifest *m = t->manifest;
	while (from < m->entries->len && p2p_manifest_entry(m, from)->type != P2P_ENTRY_FILE)
		from++;
	return from;
}

/* ACCEPT from where the staged copy stands: the first file not acknowledged durable,
 * from the bytes its copy holds (a restart may have lost the unsynced rest of the batch;
 * those files come again). */
static void
start_receiving(P2pTransfer *t)
{
	g_autoptr(GError) error = NULL;
	P2pManifest *m = t->manifest;
	struct stat st;

	if (!prepare_staging(t, &error)) {
		g_warning("transfer %s: %s", t->id, error->message);
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO,
		                  "the receiver cannot write its staging directory");
		return;
	}
	p2p_transfer_release_io(t);
	/* what the writer still holds from before is on disk before the copy is looked at,
	 * and its late results are told apart by the generation */
	p2p_writer_drain(t->d->writer);
	g_clear_pointer(&t->wdir, p2p_writer_dir_unref);
	t->wdir = p2p_writer_dir_new(t->staging_fd, t->id, ++t->wgen);
	if (t->wdir == NULL) {
		g_warning("transfer %s: cannot duplicate a descriptor: %s", t->id, g_strerror(errno));
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO,
		                  "the receiver is out of file descriptors");
		return;
	}
	t->cur = next_file(t, t->upto);
	t->cur_off = 0;
	if (t->cur < m->entries->len &&
	    fstatat(t->staging_fd, p2p_manifest_entry(m, t->cur)->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		t->cur_off = MIN((guint64)st.st_size, p2p_manifest_entry(m, t->cur)->size);
	t->bytes = p2p_manifest_bytes_before(m, t->cur) + t->cur_off;
	if (t->cur < m->entries->len && !open_target(t, &error)) {
		g_warning("transfer %s: %s", t->id, error->message);
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot write: %s",
		                  error->message);
		return;
	}
	if (!t->hashing) /* else target_hashed sends it */
		send_accept(t);
}

/* ACCEPT {file, offset}: the sender goes on from t->cur, t->cur_off. */
static void
send_accept(P2pTransfer *t)
{
	P2pManifest *m = t->manifest;
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_int_member(o, "xfer", (gint64)t->wire_id);
	json_object_set_int_member(o, "file", t->cur);
	json_object_set_int_member(o, "offset", (gint64)t->cur_off);
	p2p_channel_send_json(p2p_session_get_channel(t->session), P2P_FRAME_ACCEPT, o, NULL);
	t->state = P2P_XFER_TRANSFERRING;
	p2p_transfer_clear_reason(t);
	p2p_journal_update(t);
	if (t->resumed) {
		g_info("transfer %s: resuming at entry %u, %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
		       " bytes", t->id, t->cur, t->bytes, t->size);
		p2p_transfer_emit(t, P2P_E_TRANSFER_RESUMED);
	} else {
		p2p_transfer_emit(t, P2P_E_TRANSFER_START);
	}
	t->resumed = TRUE;
	if (t->cur >= m->entries->len)
		finalize(t); /* every file was durable already: only the last step was missing */
}

static gboolean
writable_dir(const char *dir, GError **error)
{
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "\"%s\" is not a directory p2pd can "
		            "write to", dir);
		return FALSE;
	}
	return TRUE;
}

/* Accepted, by policy or by the user: staging now, ACCEPT when the sender is there. */
static gboolean
accept_now(P2pTransfer *t, const char *output)
{
	g_autoptr(GError) error = NULL;

	g_free(t->output);
	t->output = output ? g_strdup(output) : default_output(t);
	if (g_mkdir_with_parents(t->output, 0750) == 0 && !check_space(t, t->output, &error)) {
		p2p_transfer_send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, 0,
		                         P2P_REASON_NO_SPACE, error->message);
		p2p_transfer_finish(t, P2P_XFER_REJECTED, P2P_REASON_NO_SPACE, error->message);
		return FALSE;
	}
	if (!prepare_staging(t, &error)) {
		g_warning("transfer %s: %s", t->id, error->message);
		p2p_transfer_send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, 0, P2P_REASON_IO,
		                         "the receiver cannot write to its inbox");
		p2p_transfer_finish(t, P2P_XFER_FAILED, P2P_REASON_IO, error->message);
		return FALSE;
	}
	t->accepted = TRUE;
	g_clear_handle_id(&t->expire_timer, g_source_remove);
	t->expires = 0;
	if (t->session == NULL) {
		/* the sender went away while the offer waited: it resumes when it is back */
		t->state = P2P_XFER_PAUSED;
		p2p_journal_update(t);
		p2p_transfer_emit(t, P2P_E_TRANSFER_PAUSED);
		return TRUE;
	}
	start_receiving(t);
	return TRUE;
}

gboolean
p2p_receive_accept(P2pTransfer *t, const char *output, GError **error)
{
	if (output && !g_path_is_absolute(output)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "output \"%s\" is not an absolute path", output);
		return FALSE;
	}
	if (output && !writable_dir(output, error))
		return FALSE;
	accept_now(t, output);
	return TRUE;
}

static gboolean
expire_cb(gpointer data)
{
	P2pTransfer *t = data;
	t->expire_timer = 0;
	if (t->state != P2P_XFER_OFFERED || t->accepted)
		return G_SOURCE_REMOVE;
	g_autofree char *msg = g_strdup_printf("%s did not answer the offer of %s within %"
	                                       G_GUINT64_FORMAT " s", t->d->cfg->agent, t->name,
	                                       t->d->cfg->offer_timeout);
	p2p_transfer_send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, 0, P2P_REASON_EXPIRED,
	                         msg);
	p2p_transfer_finish(t, P2P_XFER_REJECTED, P2P_REASON_EXPIRED, msg);
	return G_SOURCE_REMOVE;
}

void
p2p_receive_arm_expiry(P2pTransfer *t)
{
	g_clear_handle_id(&t->expire_timer, g_source_remove);
	if (t->state != P2P_XFER_OFFERED || t->accepted || t->expires == 0)
		return;
	gint64 left = t->expires - g_get_real_time();
	t->expire_timer = g_timeout_add(left > 0 ? (guint)MIN(left / 1000, G_MAXUINT) : 0,
	                                expire_cb, t);
}

static void
refuse(P2pTransfer *t, const char *code, const char *message)
{
	p2p_transfer_send_reason(t->session, P2P_FRAME_REJECT, t->wire_id, 0, code, message);
	p2p_transfer_finish(t, P2P_XFER_REJECTED, code, message);
}

static char *
size_text(guint64 n)
{
	return g_format_size_full(n, G_FORMAT_SIZE_IEC_UNITS);
}

/* "1.0 MiB" and "1.0 MiB" would read as no reason at all: then say the bytes. */
static void
sizes_text(guint64 a, guint64 b, char **ta, char **tb)
{
	*ta = size_text(a);
	*tb = size_text(b);
	if (strcmp(*ta, *tb) == 0) {
		g_free(*ta);
		g_free(*tb);
		*ta = g_strdup_printf("%" G_GUINT64_FORMAT " bytes", a);
		*tb = g_strdup_printf("%" G_GUINT64_FORMAT " bytes", b);
	}
}

/* The policy, in order; the first refusal wins. */
static gboolean
policy_allows(P2pTransfer *t, gboolean *ask)
{
	P2pDaemon *d = t->d;
	P2pConfig *cfg = d->cfg;
	g_autoptr(GError) error = NULL;

	*ask = !cfg->auto_accept;
	if (!p2p_config_allows(cfg, t->peer)) {
		if (!cfg->unknown_ask) {
			g_autofree char *m = g_strdup_printf("%s does not accept files from %s", cfg->agent,
			                                     t->peer);
			refuse(t, P2P_REASON_NOT_ALLOWED, m);
			return FALSE;
		}
		*ask = TRUE;
	}
	if (cfg->max_file_size) {
		P2pManifest *m = t->manifest;
		for (guint i = 0; i < m->entries->len; i++) {
			P2pEntry *e = p2p_manifest_entry(m, i);
			if (e->type == P2P_ENTRY_FILE && e->size > cfg->max_file_size) {
				g_autofree char *a = NULL, *b = NULL;
				sizes_text(e->size, cfg->max_file_size, &a, &b);
				g_autofree char *shown = g_strescape(e->path, NULL);
				g_autofree char *msg = g_strdup_printf("file \"%.200s\" is %s, %s accepts at "
				                                       "most %s per file", shown, a, cfg->agent, b);
				refuse(t, P2P_REASON_TOO_LARGE, msg);
				return FALSE;
			}
		}
	}
	if (cfg->max_transfer_size && t->size > cfg->max_transfer_size) {
		g_autofree char *a = NULL, *b = NULL;
		sizes_text(t->size, cfg->max_transfer_size, &a, &b);
		g_autofree char *msg = g_strdup_printf("the transfer is %s, %s accepts at most %s at "
		                                       "once", a, cfg->agent, b);
		refuse(t, P2P_REASON_TOO_LARGE, msg);
		return FALSE;
	}
	if (!check_space(t, cfg->save_dir, &error)) {
		refuse(t, P2P_REASON_NO_SPACE, error->message);
		return FALSE;
	}
	return TRUE;
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

/* The sender offers a transfer this side already knows (it reconnected or restarted). */
static void
offered_again(P2pTransfer *t, P2pSession *s, PendingOffer *po)
{
	if (!p2p_transfer_is_active(t)) {
		/* it ended here while the sender was away: tell it how */
		t->session = s;
		if (t->state == P2P_XFER_COMPLETE)
			send_ack(t, t->count);
		else
			p2p_transfer_send_reason(s, t->state == P2P_XFER_REJECTED ? P2P_FRAME_REJECT
			                                                          : P2P_FRAME_CANCEL,
			                         t->wire_id, 0, t->reason_code ? t->reason_code
			                                                       : P2P_REASON_CANCELLED,
			                         t->reason_message ? t->reason_message : "ended");
		t->session = NULL;
		return;
	}
	if (t->manifest == NULL || po->count != t->count || po->bytes != t->size) {
		t->session = s;
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  "the offer of %s came again with other contents", t->name);
		return;
	}
	p2p_transfer_release_io(t);
	t->session = s;
	if (!t->accepted) {
		t->state = P2P_XFER_OFFERED;
		p2p_journal_update(t);
		return;
	}
	start_receiving(t);
}

/* Checks, policy, answer; t is not in the journal yet. */
static void
decide(P2pTransfer *t, gboolean ok, const char *code, const GError *error)
{
	P2pDaemon *d = t->d;
	g_autoptr(GError) local = NULL;

	if (!ok) {
		g_warning("transfer %s: %s refused: %s", t->id, t->peer, error->message);
		refuse(t, code, error->message);
		return;
	}
	gboolean ask;
	if (!policy_allows(t, &ask))
		return;
	if (ask) {
		t->expires = g_get_real_time() + (gint64)d->cfg->offer_timeout * G_USEC_PER_SEC;
		p2p_receive_arm_expiry(t);
		p2p_transfer_emit(t, P2P_E_FILE);
		return;
	}
	/* the "file" event tells whether the offer waits (offered) or is already accepted */
	t->accepted = TRUE;
	t->output = default_output(t);
	if (!prepare_staging(t, &local)) {
		g_warning("transfer %s: %s", t->id, local->message);
		refuse(t, P2P_REASON_IO, "the receiver cannot write to its inbox");
		return;
	}
	t->state = P2P_XFER_TRANSFERRING;
	p2p_transfer_emit(t, P2P_E_FILE);
	start_receiving(t);
}

/* The whole manifest is in: check it, apply the policy, answer. */
static void
offer_complete(P2pDaemon *d, P2pSession *s, PendingOffer *po)
{
	g_autoptr(GError) error = NULL;
	const char *peer = p2p_session_peer_id(s);
	const char *code = NULL;

	pending_offers = g_list_remove(pending_offers, po);
	P2pTransfer *known = p2p_transfer_find_wire(d, peer, FALSE, po->xfer);
	if (known) {
		offered_again(known, s, po);
		pending_free(po);
		return;
	}

	P2pTransfer *t = p2p_transfer_new(d, FALSE, peer);
	t->session = s;
	t->wire_id = po->xfer;
	t->manifest = g_steal_pointer(&po->manifest);
	gboolean ok = p2p_manifest_check(t->manifest, po->bytes, &code, &error);
	p2p_transfer_describe(t);
	t->size = po->bytes;
	pending_free(po);
	t->state = P2P_XFER_OFFERED;
	g_info("transfer %s: %s offers %s (%u files, %" G_GUINT64_FORMAT " bytes)", t->id, peer,
	       t->name, t->files, t->size);
	decide(t, ok, code, error);
	/* after the answer, so that the sender starts meanwhile; a crash before this line
	 * leaves a staging directory the next start removes, and the sender's next offer
	 * of it is taken as new */
	p2p_journal_insert(t);
}

/* Adds a frame's entries to po; answers and drops it on too many; completes it at count. */
static void
pending_add(P2pDaemon *d, PendingOffer *po, P2pManifestFrame *f)
{
	P2pSession *s = po->session;

	if (po->manifest->entries->len + f->entries->len > po->count) {
		p2p_transfer_send_reason(s, P2P_FRAME_REJECT, po->xfer, 0, P2P_REASON_PROTOCOL,
		                         "the manifest has more entries than the offer's count");
		pending_drop(po);
		return;
	}
	p2p_manifest_take(po->manifest, f);
	if (po->manifest->entries->len == po->count)
		offer_complete(d, s, po);
}

/* An OFFER (offer TRUE) or MANIFEST frame, decoded; FALSE after telling the peer what was
 * wrong with it. A bad entry refuses the offer (the peer learns which entry and why); a
 * frame that is not what the protocol says ends the session. */
static gboolean
decode_manifest_frame(P2pSession *s, GBytes *payload, gboolean offer, P2pManifestFrame *f)
{
	g_autoptr(GError) error = NULL;
	const char *name = offer ? "OFFER" : "MANIFEST";
	gsize len;
	const char *text = g_bytes_get_data(payload, &len);

	if (len == 0 || !p2p_json_check_depth(text, len, P2P_JSONRPC_MAX_DEPTH, &error)) {
		p2p_transfer_protocol_error(s, "bad %s: %s", name,
		                            error ? error->message : "empty payload");
		return FALSE;
	}
	if (!p2p_manifest_frame_decode(text, len, f, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA) && f->has_xfer) {
			/* a bad entry: that offer is refused, the session goes on */
			PendingOffer *po = offer ? NULL : pending_find(s, f->xfer);
			p2p_transfer_send_reason(s, P2P_FRAME_REJECT, f->xfer, 0, P2P_REASON_PROTOCOL,
			                         error->message);
			if (po)
				pending_drop(po);
		} else {
			p2p_transfer_protocol_error(s, "bad %s: %s", name, error->message);
		}
		p2p_manifest_frame_clear(f);
		return FALSE;
	}
	const char *missing = !f->has_xfer               ? "xfer"
	                      : offer && !f->has_count   ? "count"
	                      : offer && !f->has_bytes   ? "bytes"
	                      : !f->has_entries          ? "entries"
	                                                 : NULL;
	if (missing) {
		p2p_transfer_protocol_error(s, "bad %s: missing member \"%s\" (%s)", name, missing,
		                            strcmp(missing, "entries") == 0 ? "an array"
		                                                            : "a non-negative integer");
		p2p_manifest_frame_clear(f);
		return FALSE;
	}
	return TRUE;
}

void
p2p_receive_offer(P2pDaemon *d, P2pSession *s, GBytes *payload)
{
	P2pManifestFrame f;
	const char *peer = p2p_session_peer_id(s);
	guint pending = 0;

	if (!decode_manifest_frame(s, payload, TRUE, &f))
		return;
	P2pTransfer *t = p2p_transfer_find(d, s, FALSE, f.xfer);
	if ((t && p2p_transfer_is_active(t)) || pending_find(s, f.xfer)) {
		p2p_transfer_protocol_error(s, "OFFER reuses transfer id %" G_GUINT64_FORMAT, f.xfer);
		p2p_manifest_frame_clear(&f);
		return;
	}
	for (GList *l = pending_offers; l; l = l->next)
		pending += ((PendingOffer *)l->data)->session == s;
	if (f.count == 0) {
		p2p_transfer_send_reason(s, P2P_FRAME_REJECT, f.xfer, 0, P2P_REASON_PROTOCOL,
		                         "an offer needs at least one entry");
		p2p_manifest_frame_clear(&f);
		return;
	}
	if (f.count > d->cfg->max_files || f.count > P2P_OFFER_MAX_ENTRIES) {
		g_autofree char *m = g_strdup_printf("the offer has %" G_GUINT64_FORMAT " files and "
		                                     "directories, %s accepts at most %" G_GUINT64_FORMAT
		                                     " in one transfer", f.count, d->cfg->agent,
		                                     MIN(d->cfg->max_files, P2P_OFFER_MAX_ENTRIES));
		g_info("session %s: %s", peer, m);
		p2p_transfer_send_reason(s, P2P_FRAME_REJECT, f.xfer, 0, P2P_REASON_TOO_MANY_FILES, m);
		p2p_manifest_frame_clear(&f);
		return;
	}
	if (pending >= MAX_PENDING_OFFERS || count_incoming(d, s) >= MAX_INCOMING_PER_PEER) {
		p2p_transfer_send_reason(s, P2P_FRAME_REJECT, f.xfer, 0, P2P_REASON_DECLINED,
		                         "too many transfers from you at once");
		p2p_manifest_frame_clear(&f);
		return;
	}
	PendingOffer *po = g_new0(PendingOffer, 1);
	po->session = s;
	po->xfer = f.xfer;
	po->count = f.count;
	po->bytes = f.bytes;
	po->manifest = p2p_manifest_new();
	pending_offers = g_list_append(pending_offers, po);
	pending_add(d, po, &f);
	p2p_manifest_frame_clear(&f);
}

void
p2p_receive_manifest(P2pDaemon *d, P2pSession *s, GBytes *payload)
{
	P2pManifestFrame f;

	if (!decode_manifest_frame(s, payload, FALSE, &f))
		return;
	PendingOffer *po = pending_find(s, f.xfer);
	if (po) /* else an offer refused at its first frame: the rest is dropped */
		pending_add(d, po, &f);
	p2p_manifest_frame_clear(&f);
}

/* ---- data, file ends, batches ----------------------------------------------------------- */

static void
write_failed(P2pTransfer *t, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_NO_SPACE,
		                  "the receiver's disk is full (%s)", g_strerror(e));
	else
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot write: %s",
		                  g_strerror(e));
}

void
p2p_receive_data(P2pDaemon *d, P2pSession *s, GBytes *payload)
{
	guint64 xfer, offset;
	guint32 file;
	const guint8 *data;
	gsize len, plen;
	const guint8 *p = g_bytes_get_data(payload, &plen);
	g_autoptr(GError) error = NULL;

	if (!p2p_frame_data_parse(p, plen, &xfer, &file, &offset, &data, &len, &error)) {
		p2p_transfer_protocol_error(s, "bad DATA frame: %s", error->message);
		return;
	}
	P2pTransfer *t = p2p_transfer_find(d, s, FALSE, xfer);
	if (t == NULL) {
		/* DATA the sender queued before it learnt that the transfer ended, paused or was
		 * refused is expected; DATA for a transfer never offered is not */
		if (!pending_find(s, xfer) &&
		    !p2p_transfer_find_wire(d, p2p_session_peer_id(s), FALSE, xfer))
			p2p_transfer_send_reason(s, P2P_FRAME_CANCEL, xfer, 0, P2P_REASON_PROTOCOL,
			                         "DATA for a transfer that was never offered");
		return;
	}
	if (t->state != P2P_XFER_TRANSFERRING)
		return;
	P2pManifest *m = t->manifest;
	if (file != t->cur) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  file >= m->entries->len ? "DATA for entry %u, which was never offered"
		                                          : "DATA for entry %u, expected entry %u",
		                  file, t->cur);
		return;
	}
	P2pEntry *e = p2p_manifest_entry(m, t->cur);
	if (offset != t->cur_off) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  "DATA at offset %" G_GUINT64_FORMAT " of entry %u, expected %"
		                  G_GUINT64_FORMAT, offset, file, t->cur_off);
		return;
	}
	if (len > e->size - t->cur_off) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_BAD_SIZE,
		                  "the sender sent more than the %" G_GUINT64_FORMAT " bytes it offered "
		                  "for entry %u", e->size, file);
		return;
	}
	if (t->fd < 0 && t->small == NULL && !start_file(t, &error)) {
		g_warning("transfer %s: %s", t->id, error->message);
		write_failed(t, error->code == G_IO_ERROR_NO_SPACE ? ENOSPC : EIO);
		return;
	}
	if (t->small) /* hashed below, written whole after its FILE_END */
		g_byte_array_append(t->small, data, len);
	for (gsize done = 0; t->small == NULL && done < len;) {
		ssize_t n = pwrite(t->fd, data + done, len - done, (off_t)(t->cur_off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			write_failed(t, errno);
			return;
		}
		done += n;
	}
	EVP_DigestUpdate(t->md, data, len);
	t->cur_off += len;
	t->bytes += len;
	t->wire_bytes += len;
	p2p_transfer_progress(t);
}

/* One sync point for every file verified since the last: then ACK them. */
static gboolean
sync_batch(P2pTransfer *t)
{
	g_clear_handle_id(&t->sync_timer, g_source_remove);
	if (t->pending == 0)
		return TRUE;
	/* in the writer's queue, after the files it covers; the ACK goes when it has run */
	p2p_writer_sync(t->d->writer, t->wdir, t->cur, FALSE);
	t->pending = 0;
	t->pending_bytes = 0;
	return TRUE;
}

/* A failure of the writer thread for t (err an errno), or of a write it ran inline. */
static void
writer_failed(P2pTransfer *t, int err, const char *path)
{
	g_autofree char *shown = g_strescape(path ? path : "", NULL);
	g_warning("transfer %s: cannot write \"%s\": %s", t->id, shown, g_strerror(err));
	write_failed(t, err);
}

void
p2p_receive_written(const P2pWriterResult *r, gpointer user)
{
	P2pDaemon *d = user;
	P2pTransfer *t = p2p_transfer_lookup(d, r->transfer);

	/* a transfer that ended, or restarted since (its files are looked at again) */
	if (t == NULL || t->outgoing || t->wgen != r->gen || !p2p_transfer_is_active(t))
		return;
	if (r->err != 0) {
		writer_failed(t, r->err, r->path);
		return;
	}
	if (!r->sync)
		return;
	t->upto = MAX(t->upto, r->upto);
	if (r->last && t->state == P2P_XFER_TRANSFERRING) {
		finalize(t);
		return;
	}
	p2p_journal_update(t);
	send_ack(t, t->upto); /* if a session is up: else the next ACCEPT says it */
}

static gboolean
sync_cb(gpointer data)
{
	P2pTransfer *t = data;
	t->sync_timer = 0;
	sync_batch(t);
	return G_SOURCE_REMOVE;
}

static void
set_times_at(int dir, const char *path, gint64 mtime)
{
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	utimensat(dir, path, ts, AT_SYMLINK_NOFOLLOW);
}

static void
finalize(P2pTransfer *t)
{
	P2pManifest *m = t->manifest;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

	g_clear_handle_id(&t->sync_timer, g_source_remove);
	/* symlinks last of all, so that no path this transfer wrote could go through one */
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type != P2P_ENTRY_LINK)
			continue;
		unlinkat(t->staging_fd, e->path, 0);
		if (symlinkat(e->target, t->staging_fd, e->path) != 0) {
			p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO,
			                  "the receiver cannot create symlink \"%s\": %s", e->path,
			                  g_strerror(errno));
			return;
		}
		set_times_at(t->staging_fd, e->path, e->mtime);
	}
	/* children before parents, so that a parent's mtime is the last thing set */
	for (guint i = m->entries->len; i-- > 0;) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type == P2P_ENTRY_DIR && strchr(e->path, '/')) {
			fchmodat(t->staging_fd, e->path, e->mode, 0);
			set_times_at(t->staging_fd, e->path, e->mtime);
		}
	}
	if (syncfs(t->staging_fd) != 0) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot sync: %s",
		                  g_strerror(errno));
		return;
	}
	int out = open(t->output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out < 0) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "the receiver cannot open %s: %s",
		                  t->output, g_strerror(errno));
		return;
	}
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (strchr(e->path, '/'))
			continue;
		g_autofree char *base = p2p_inbox_commit_at(t->staging_fd, e->path, out, &error);
		if (base == NULL) {
			close(out);
			p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_IO, "%s", error->message);
			return;
		}
		if (e->type == P2P_ENTRY_DIR) {
			/* a directory that does not let its owner write cannot be moved, so its mode
			 * comes after the move */
			fchmodat(out, base, e->mode, 0);
			set_times_at(out, base, e->mtime);
		}
		g_ptr_array_add(paths, g_build_filename(t->output, base, NULL));
	}
	fsync(out);
	close(out);
	p2p_receive_remove_staging(t);
	g_ptr_array_add(paths, NULL);
	g_strfreev(t->paths);
	t->paths = (char **)g_ptr_array_free(g_steal_pointer(&paths), FALSE);
	t->upto = t->count;
	t->bytes = t->size;
	send_ack(t, t->count);
	p2p_transfer_finish(t, P2P_XFER_COMPLETE, NULL, NULL);
}

void
p2p_receive_file_end(P2pDaemon *d, P2pSession *s, GBytes *payload)
{
	guint64 xfer;
	guint32 file;
	const guint8 *sha256;
	gsize plen;
	const guint8 *p = g_bytes_get_data(payload, &plen);
	g_autoptr(GError) error = NULL;

	if (!p2p_frame_file_end_parse(p, plen, &xfer, &file, &sha256, &error)) {
		p2p_transfer_protocol_error(s, "bad FILE_END: %s", error->message);
		return;
	}
	P2pTransfer *t = p2p_transfer_find(d, s, FALSE, xfer);
	if (t == NULL || t->state != P2P_XFER_TRANSFERRING)
		return;
	if (file != t->cur) {
		p2p_transfer_fail(t, P2P_FRAME_CANCEL, P2P_REASON_PROTOCOL,
		                  "FILE_END for entry %u, expected entry %u", file, t->cur);
		return;
	}
	P2pEntry *e = p2p_manifest_entry(t->manifest, t->cur);
	if (t->fd < 0 && t->small == NULL && !start_file(t, &error)) {
		g_warning("transfer %s: %s", t->id, error->message);
		write_failed(t, EIO);
		return;
	}
	if (t->cur_off != e->size) {
		p2p_transfer_fail(t, P2P_FRAME_NACK, P2P_REASON_BAD_SIZE,
		                  "\"%s\" ended after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
		                  e->path, t->cur_off, e->size);
		return;
	}
	guint8 got[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(t->md, got, &len);
	if (memcmp(got, sha256, P2P_SHA256_LEN) != 0) {
		g_autofree char *want_hex = p2p_hex(sha256, P2P_SHA256_LEN);
		g_autofree char *got_hex = p2p_hex(got, P2P_SHA256_LEN);
		p2p_transfer_fail(t, P2P_FRAME_NACK, P2P_REASON_HASH_MISMATCH,
		                  "SHA-256 mismatch for \"%s\": the sender announced %s, the received "
		                  "bytes hash to %s", e->path, want_hex, got_hex);
		return;
	}
	struct timespec ts[2] = { { e->mtime, 0 }, { e->mtime, 0 } };
	if (t->small) {
		int err;
		gsize n = t->small->len;
		p2p_writer_file(t->d->writer, t->wdir, e->path, g_byte_array_steal(t->small, NULL), n,
		                e->mode, (e->mode & process_umask()) != 0, e->mtime, &err);
		g_clear_pointer(&t->small, g_byte_array_unref);
		if (err != 0) {
			writer_failed(t, err, e->path);
			return;
		}
	} else if (((e->mode & process_umask()) && fchmod(t->fd, e->mode) != 0) ||
	           futimens(t->fd, ts) != 0) {
		p2p_transfer_fail(t, P2P_FRAME_NACK, P2P_REASON_IO, "the receiver cannot set the "
		                  "mode of \"%s\": %s", e->path, g_strerror(errno));
		return;
	}
	if (p2p_transfer_is_single_file(t)) {
		g_free(t->sha256);
		t->sha256 = p2p_hex(got, P2P_SHA256_LEN);
	}
	p2p_transfer_release_io(t);
	t->pending++;
	t->pending_bytes += e->size;
	t->cur = next_file(t, t->cur + 1);
	t->cur_off = 0;
	if (t->cur >= t->manifest->entries->len) {
		/* finalize once the writer has every file on disk */
		g_clear_handle_id(&t->sync_timer, g_source_remove);
		p2p_writer_sync(t->d->writer, t->wdir, t->cur, TRUE);
		return;
	}
	if (t->pending_bytes >= BATCH_BYTES || t->pending >= BATCH_FILES)
		sync_batch(t);
	else if (t->sync_timer == 0)
		t->sync_timer = g_timeout_add(BATCH_DELAY_MS, sync_cb, t);
}

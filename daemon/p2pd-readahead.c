/* p2pd-readahead.c: see p2pd-readahead.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "p2p-protocol.h"
#include "p2pd-readahead.h"

struct _P2pReadAhead {
	gint ref;               /* the owner's, the thread's, one per posted wake */
	const P2pManifest *m;
	guint first;
	int *root_fds;
	guint n_roots;
	EVP_MD *sha256;
	GMainContext *ctx;
	GSourceFunc wake;
	gpointer user;
	GDestroyNotify destroy_user;
	GThread *thread;
	GMutex lock;
	GCond room;             /* the main loop took something, or stop */
	GQueue ready;           /* P2pAheadFile, in entry order */
	gsize ready_bytes;
	gboolean waiting;       /* the main loop asked for an item that was not there */
	gboolean barrier;       /* after a large file: read on only once the main loop is
	                         * done with it, so that the files after it are checked
	                         * close to when they go out, not seconds before */
	gboolean stop;
};

void
p2p_ahead_file_free(P2pAheadFile *f)
{
	if (f == NULL)
		return;
	g_free(f->data);
	g_free(f->message);
	g_free(f);
}

static void
ra_unref(P2pReadAhead *ra)
{
	if (!g_atomic_int_dec_and_test(&ra->ref))
		return;
	g_queue_clear_full(&ra->ready, (GDestroyNotify)p2p_ahead_file_free);
	for (guint i = 0; i < ra->n_roots; i++)
		if (ra->root_fds[i] >= 0)
			close(ra->root_fds[i]);
	g_free(ra->root_fds);
	EVP_MD_free(ra->sha256);
	if (ra->destroy_user)
		ra->destroy_user(ra->user);
	g_main_context_unref(ra->ctx);
	g_mutex_clear(&ra->lock);
	g_cond_clear(&ra->room);
	g_free(ra);
}

static P2pAheadFile *
failed(P2pAheadFile *f, const char *code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static P2pAheadFile *
failed(P2pAheadFile *f, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	f->message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	f->code = code;
	g_clear_pointer(&f->data, g_free);
	f->len = 0;
	return f;
}

/* Entry i, opened, checked to be the file that was offered (the same checks as the main
 * loop's open_source in p2pd-transfer.c, with the same words), read and hashed. */
static P2pAheadFile *
read_one(P2pReadAhead *ra, guint i)
{
	const P2pEntry *e = p2p_manifest_entry(ra->m, i);
	P2pAheadFile *f = g_new0(P2pAheadFile, 1);
	const char *slash = strchr(e->path, '/');
	struct stat st;

	f->index = i;
	int r = e->root < ra->n_roots ? ra->root_fds[e->root] : -1;
	if (r < 0)
		return failed(f, P2P_REASON_CHANGED, "cannot open \"%s\": its top-level item is gone",
		              e->path);
	int fd = slash ? openat(r, slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	                                          O_NONBLOCK)
	               : fcntl(r, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return failed(f, P2P_REASON_CHANGED, "cannot open \"%s\": %s", e->path,
		              g_strerror(errno));
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
		return failed(f, P2P_REASON_CHANGED, "\"%s\" changed since it was offered: %s",
		              e->path, why);
	}
	/* one byte more than offered tells a file that grew */
	f->data = g_malloc(e->size + 1);
	gsize got = 0;
	while (got < e->size + 1) {
		ssize_t n = pread(fd, f->data + got, e->size + 1 - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			return failed(f, P2P_REASON_IO, "cannot read \"%s\": %s", e->path,
			              g_strerror(err));
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	if (got > e->size)
		return failed(f, P2P_REASON_CHANGED, "\"%s\" grew while being sent", e->path);
	if (got < e->size)
		return failed(f, P2P_REASON_CHANGED,
		              "\"%s\" shrank to %" G_GSIZE_FORMAT " bytes while being sent", e->path,
		              got);
	f->len = got;
	EVP_Digest(f->data, f->len, f->sha256, NULL, ra->sha256, NULL);
	return f;
}

static gboolean
wake_cb(gpointer data)
{
	P2pReadAhead *ra = data;
	if (!ra->stop)
		ra->wake(ra->user);
	return G_SOURCE_REMOVE;
}

static gpointer
thread_main(gpointer data)
{
	P2pReadAhead *ra = data;
	const P2pManifest *m = ra->m;

	for (guint i = ra->first; i < m->entries->len; i++) {
		const P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type != P2P_ENTRY_FILE)
			continue;
		g_mutex_lock(&ra->lock);
		while (!ra->stop && (ra->barrier || ra->ready_bytes >= P2P_READAHEAD_BYTES ||
		                     ra->ready.length >= P2P_READAHEAD_FILES))
			g_cond_wait(&ra->room, &ra->lock);
		gboolean stop = ra->stop;
		g_mutex_unlock(&ra->lock);
		if (stop)
			break;

		P2pAheadFile *f;
		if (e->size > P2P_READAHEAD_MAX_FILE) {
			f = g_new0(P2pAheadFile, 1);
			f->index = i; /* data NULL: the main loop reads it */
		} else {
			f = read_one(ra, i);
		}
		gboolean last = f->code != NULL; /* nothing after a file that cannot go */
		g_mutex_lock(&ra->lock);
		g_queue_push_tail(&ra->ready, f);
		ra->ready_bytes += f->len;
		ra->barrier = f->data == NULL && f->code == NULL;
		gboolean wake = ra->waiting;
		ra->waiting = FALSE;
		g_mutex_unlock(&ra->lock);
		if (wake) {
			g_atomic_int_inc(&ra->ref);
			g_main_context_invoke_full(ra->ctx, G_PRIORITY_DEFAULT, wake_cb, ra,
			                           (GDestroyNotify)ra_unref);
		}
		if (last)
			break;
	}
	ra_unref(ra);
	return NULL;
}

P2pReadAhead *
p2p_readahead_new(const P2pManifest *m, guint first, const int *root_fds, guint n_roots,
                  GSourceFunc wake, gpointer user, GDestroyNotify destroy_user)
{
	P2pReadAhead *ra = g_new0(P2pReadAhead, 1);
	ra->ref = 2; /* the owner's and the thread's */
	ra->m = m;
	ra->first = first;
	ra->n_roots = n_roots;
	ra->root_fds = g_new(int, MAX(n_roots, 1));
	for (guint i = 0; i < n_roots; i++)
		ra->root_fds[i] = root_fds[i] >= 0 ? fcntl(root_fds[i], F_DUPFD_CLOEXEC, 0) : -1;
	ra->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ra->ctx = g_main_context_ref_thread_default();
	ra->wake = wake;
	ra->user = user;
	ra->destroy_user = destroy_user;
	g_mutex_init(&ra->lock);
	g_cond_init(&ra->room);
	g_queue_init(&ra->ready);
	ra->thread = g_thread_new("p2pd-readahead", thread_main, ra);
	return ra;
}

void
p2p_readahead_free(P2pReadAhead *ra)
{
	if (ra == NULL)
		return;
	g_mutex_lock(&ra->lock);
	ra->stop = TRUE;
	g_cond_signal(&ra->room);
	g_mutex_unlock(&ra->lock);
	g_thread_join(ra->thread);
	ra_unref(ra);
}

P2pAheadFile *
p2p_readahead_take(P2pReadAhead *ra, guint index)
{
	P2pAheadFile *f = NULL;

	g_mutex_lock(&ra->lock);
	P2pAheadFile *head = g_queue_peek_head(&ra->ready);
	if (head != NULL && head->index == index) {
		f = g_queue_pop_head(&ra->ready);
		ra->ready_bytes -= f->len;
		g_cond_signal(&ra->room);
	} else {
		ra->waiting = TRUE;
		if (head == NULL && ra->barrier) {
			ra->barrier = FALSE; /* the main loop is past the large file */
			g_cond_signal(&ra->room);
		}
	}
	g_mutex_unlock(&ra->lock);
	return f;
}

/* p2pd-writer.c: see p2pd-writer.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pd-writer.h"

struct _P2pWriterDir {
	gint ref;
	int fd;
	char *transfer;
	guint gen;
	int err;       /* the first failure of a file job here (under the writer's lock) */
	char *failed;  /* and its path */
};

typedef struct {
	P2pWriterDir *dir;
	gboolean sync;
	char *path;
	guint8 *data;
	gsize len;
	mode_t mode;
	gboolean chmod_after;
	gint64 mtime;
	guint upto;
	gboolean last;
} Job;

struct _P2pWriter {
	gint ref;           /* the owner's, and one per undelivered result */
	gboolean closed;    /* p2p_writer_free ran: results are dropped */
	GThreadPool *pool;
	GMainContext *ctx;
	P2pWriterFunc done;
	gpointer user;
	GMutex lock;
	GCond idle;
	guint queued;       /* jobs not yet run */
	gsize queued_bytes; /* their data */
};

typedef struct {
	P2pWriter *w;
	P2pWriterResult r;
	P2pWriterDir *dir; /* holds r.transfer */
	char *path;
} Delivery;

P2pWriterDir *
p2p_writer_dir_new(int dfd, const char *transfer, guint gen)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	P2pWriterDir *dir = g_new0(P2pWriterDir, 1);
	dir->ref = 1;
	dir->fd = fd;
	dir->transfer = g_strdup(transfer);
	dir->gen = gen;
	return dir;
}

static P2pWriterDir *
dir_ref(P2pWriterDir *dir)
{
	g_atomic_int_inc(&dir->ref);
	return dir;
}

void
p2p_writer_dir_unref(P2pWriterDir *dir)
{
	if (dir == NULL || !g_atomic_int_dec_and_test(&dir->ref))
		return;
	close(dir->fd);
	g_free(dir->transfer);
	g_free(dir->failed);
	g_free(dir);
}

static void
job_free(Job *j)
{
	p2p_writer_dir_unref(j->dir);
	g_free(j->path);
	g_free(j->data);
	g_free(j);
}

/* The same steps as the main loop's own path for a file (p2pd-receive.c): created
 * with its final mode, a copy left read-only by an earlier attempt replaced. */
static int
write_file(const Job *j)
{
	int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(j->dir->fd, j->path, flags, j->mode);
	if (fd < 0 && errno == EACCES) {
		unlinkat(j->dir->fd, j->path, 0);
		fd = openat(j->dir->fd, j->path, flags, j->mode);
	}
	if (fd < 0)
		return errno;
	for (gsize done = 0; done < j->len;) {
		ssize_t n = write(fd, j->data + done, j->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return e;
		}
		done += n;
	}
	struct timespec ts[2] = { { j->mtime, 0 }, { j->mtime, 0 } };
	if ((j->chmod_after && fchmod(fd, j->mode) != 0) || futimens(fd, ts) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	/* close reports the errors of file systems that write back late (NFS) */
	return close(fd) != 0 ? errno : 0;
}

static void
writer_unref(P2pWriter *w)
{
	if (!g_atomic_int_dec_and_test(&w->ref))
		return;
	g_main_context_unref(w->ctx);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->idle);
	g_free(w);
}

static gboolean
deliver(gpointer data)
{
	Delivery *dl = data;
	if (!dl->w->closed)
		dl->w->done(&dl->r, dl->w->user);
	return G_SOURCE_REMOVE;
}

static void
delivery_free(gpointer data)
{
	Delivery *dl = data;
	writer_unref(dl->w);
	p2p_writer_dir_unref(dl->dir);
	g_free(dl->path);
	g_free(dl);
}

static void
post(P2pWriter *w, const Job *j, int err, const char *path)
{
	Delivery *dl = g_new0(Delivery, 1);
	g_atomic_int_inc(&w->ref);
	dl->w = w;
	dl->dir = dir_ref(j->dir);
	dl->path = g_strdup(path);
	dl->r = (P2pWriterResult){ .transfer = dl->dir->transfer, .gen = dl->dir->gen,
		                   .sync = j->sync, .upto = j->upto, .last = j->last,
		                   .err = err, .path = dl->path };
	g_main_context_invoke_full(w->ctx, G_PRIORITY_DEFAULT, deliver, dl, delivery_free);
}

/* Runs j on whichever thread; reports what the main loop must hear of. */
static void
run(P2pWriter *w, Job *j)
{
	if (!j->sync) {
		int err = write_file(j);
		if (err != 0) {
			g_mutex_lock(&w->lock);
			if (j->dir->err == 0) {
				j->dir->err = err;
				j->dir->failed = g_strdup(j->path);
			}
			g_mutex_unlock(&w->lock);
			post(w, j, err, j->path);
		}
		return;
	}
	g_mutex_lock(&w->lock);
	int err = j->dir->err;
	g_autofree char *failed = g_strdup(j->dir->failed);
	g_mutex_unlock(&w->lock);
	if (err == 0 && syncfs(j->dir->fd) != 0)
		err = errno;
	post(w, j, err, failed);
}

static void
pool_func(gpointer data, gpointer user)
{
	P2pWriter *w = user;
	Job *j = data;

	run(w, j);
	g_mutex_lock(&w->lock);
	w->queued--;
	w->queued_bytes -= j->len;
	if (w->queued == 0)
		g_cond_broadcast(&w->idle);
	g_mutex_unlock(&w->lock);
	job_free(j);
}

P2pWriter *
p2p_writer_new(P2pWriterFunc done, gpointer user)
{
	P2pWriter *w = g_new0(P2pWriter, 1);
	w->ref = 1;
	w->ctx = g_main_context_ref_thread_default();
	w->done = done;
	w->user = user;
	g_mutex_init(&w->lock);
	g_cond_init(&w->idle);
	/* one thread: jobs run in order, and both cores are busy with the two ends of a
	 * transfer already */
	w->pool = g_thread_pool_new(pool_func, w, 1, FALSE, NULL);
	return w;
}

void
p2p_writer_free(P2pWriter *w)
{
	if (w == NULL)
		return;
	g_thread_pool_free(w->pool, FALSE, TRUE);
	w->closed = TRUE;
	writer_unref(w);
}

static void
queue(P2pWriter *w, Job *j)
{
	g_mutex_lock(&w->lock);
	w->queued++;
	w->queued_bytes += j->len;
	g_mutex_unlock(&w->lock);
	g_thread_pool_push(w->pool, j, NULL);
}

void
p2p_writer_file(P2pWriter *w, P2pWriterDir *dir, const char *path, guint8 *data, gsize len,
                mode_t mode, gboolean chmod_after, gint64 mtime, int *err)
{
	Job *j = g_new0(Job, 1);
	j->dir = dir_ref(dir);
	j->path = g_strdup(path);
	j->data = data;
	j->len = len;
	j->mode = mode;
	j->chmod_after = chmod_after;
	j->mtime = mtime;
	*err = 0;

	g_mutex_lock(&w->lock);
	gboolean full = w->queued_bytes + len > P2P_WRITER_MAX_QUEUE;
	g_mutex_unlock(&w->lock);
	if (!full) {
		queue(w, j);
		return;
	}
	/* the thread is behind: this one is written here, which also slows the main loop
	 * down to the disk's pace instead of queuing without bound */
	*err = write_file(j);
	if (*err != 0) {
		g_mutex_lock(&w->lock);
		if (dir->err == 0) {
			dir->err = *err;
			dir->failed = g_strdup(path);
		}
		g_mutex_unlock(&w->lock);
	}
	job_free(j);
}

void
p2p_writer_sync(P2pWriter *w, P2pWriterDir *dir, guint upto, gboolean last)
{
	Job *j = g_new0(Job, 1);
	j->dir = dir_ref(dir);
	j->sync = TRUE;
	j->upto = upto;
	j->last = last;
	queue(w, j);
}

void
p2p_writer_drain(P2pWriter *w)
{
	g_mutex_lock(&w->lock);
	while (w->queued > 0)
		g_cond_wait(&w->idle, &w->lock);
	g_mutex_unlock(&w->lock);
}

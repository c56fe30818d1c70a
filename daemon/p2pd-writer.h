/* p2pd-writer.h: a thread that creates the receiver's small files and runs its batch
 * syncs, so that the main loop decrypts and hashes the next file while the kernel
 * creates this one. For a tree of small files the receiver spends more time in
 * openat/write/futimens/close than in everything else together; on one thread that
 * is the whole transfer's pace (bench/RESULTS.md).
 *
 * One FIFO for the whole daemon: every job runs in the order it was queued, so a sync
 * covers every file queued before it. Results come back on the main context of the
 * thread that made the writer. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define P2P_WRITER_MAX_FILE  (256 * 1024)        /* files up to this size go through it */
#define P2P_WRITER_MAX_QUEUE (16 * 1024 * 1024)  /* bytes queued before writes run inline */

typedef struct _P2pWriter P2pWriter;
typedef struct _P2pWriterDir P2pWriterDir;

/* What a job came to. Failures of file jobs are reported at once; a sync after a failed
 * file of its directory reports that failure instead of success. */
typedef struct {
	const char *transfer;  /* the directory's owner, as given to p2p_writer_dir_new */
	guint gen;             /* and its generation */
	gboolean sync;         /* a sync job (else a file job, which only reports failures) */
	guint upto;            /* sync: as queued */
	gboolean last;         /* sync: as queued */
	int err;               /* 0, or the errno of the first failure */
	const char *path;      /* the file that failed, relative to the directory */
} P2pWriterResult;

typedef void (*P2pWriterFunc)(const P2pWriterResult *r, gpointer user);

P2pWriter *p2p_writer_new(P2pWriterFunc done, gpointer user);
/* Runs what is queued, then stops the thread. Results not yet delivered are dropped. */
void p2p_writer_free(P2pWriter *w);

/* A directory jobs write into: dfd is duplicated; transfer and gen come back in results. */
P2pWriterDir *p2p_writer_dir_new(int dfd, const char *transfer, guint gen);
void p2p_writer_dir_unref(P2pWriterDir *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pWriterDir, p2p_writer_dir_unref)

/* Creates path (relative to dir, through no symlink) holding data (len bytes, taken)
 * with mode (chmod again after creation when the umask could have removed bits) and
 * mtime. Queued; when the queue is full the file is written now, before this returns,
 * and a failure comes back in *err (0 otherwise, and always 0 when queued). */
void p2p_writer_file(P2pWriter *w, P2pWriterDir *dir, const char *path, guint8 *data, gsize len,
                     mode_t mode, gboolean chmod_after, gint64 mtime, int *err);
/* syncfs on dir's file system once every job queued before has run. */
void p2p_writer_sync(P2pWriter *w, P2pWriterDir *dir, guint upto, gboolean last);
/* Blocks until every queued job has run (their results may still be undelivered). */
void p2p_writer_drain(P2pWriter *w);

G_END_DECLS

/* p2pd-readahead.h: a thread that opens, checks, reads and hashes the sender's small
 * files ahead of the main loop. For a tree of small files the sender spent most of its
 * time in openat/fstat/pread/close and SHA-256, on the thread that also encrypts and
 * sends, which set the pace of the whole transfer (bench/RESULTS.md); with this the
 * main loop only frames and encrypts what is ready.
 *
 * One per outgoing transfer while it moves. It reads entries in manifest order from a
 * starting index, at most P2P_READAHEAD_BYTES or P2P_READAHEAD_FILES ahead of what the
 * main loop took; a file larger than P2P_READAHEAD_MAX_FILE is left to the main loop
 * (an item with data NULL and no error says so). */
#pragma once

#include <glib.h>

#include "p2pd-manifest.h"

G_BEGIN_DECLS

#define P2P_READAHEAD_MAX_FILE (256 * 1024)
#define P2P_READAHEAD_BYTES    (8 * 1024 * 1024)
#define P2P_READAHEAD_FILES    2048

typedef struct _P2pReadAhead P2pReadAhead;

typedef struct {
	guint index;           /* the manifest entry */
	guint8 *data;          /* its bytes (NULL: a large file, the main loop reads it) */
	gsize len;
	guint8 sha256[32];
	const char *code;      /* NULL, or the reason code why it cannot be sent as offered */
	char *message;         /* and what is wrong, naming the file */
} P2pAheadFile;

void p2p_ahead_file_free(P2pAheadFile *f);

/* Starts reading the file entries of m from first. root_fds[i] is top-level item i open
 * (duplicated here; -1 for items no entry from first on needs). wake(user) is called on
 * the calling thread's main context when an item becomes ready while the main loop
 * waits for one (see p2p_readahead_take). m must outlive the reader (its entries are
 * read, never changed). */
P2pReadAhead *p2p_readahead_new(const P2pManifest *m, guint first, const int *root_fds,
                                guint n_roots, GSourceFunc wake, gpointer user,
                                GDestroyNotify destroy_user);
/* Stops the thread (waits for the file it is reading) and frees what was read. */
void p2p_readahead_free(P2pReadAhead *ra);
/* The item for entry index if it is ready (the caller frees it); else NULL, and wake
 * will be called once it is. index must be the next file entry after the last taken. */
P2pAheadFile *p2p_readahead_take(P2pReadAhead *ra, guint index);

G_END_DECLS

/* p2pd-manifest.h: what one transfer carries: regular files, directories and symlinks
 * under relative paths. The sender builds it by walking what the user named; the
 * receiver checks every entry before anything is created. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define P2P_PATH_MAX 4096   /* bytes of one entry's relative path */

typedef enum {
	P2P_ENTRY_FILE,
	P2P_ENTRY_DIR,
	P2P_ENTRY_LINK,
} P2pEntryType;

typedef struct {
	char *path;           /* relative, '/'-separated, first component = top-level item */
	P2pEntryType type;
	guint64 size;         /* files */
	guint32 mode;         /* permission bits only (0777) */
	gint64 mtime;         /* seconds */
	char *target;         /* links */
	/* sender only: which top-level item it is under, and its identity there, so that a
	 * file replaced after the offer (or after a restart) is noticed */
	guint root;
	guint64 dev;
	guint64 ino;
	guint32 mtime_ns;     /* a change within the same second is a change too */
} P2pEntry;

typedef struct {
	GPtrArray *entries;   /* P2pEntry, parents before children */
	guint files, dirs, links;
	guint64 bytes;        /* sum of the files' sizes */
	/* sender only: the absolute path of each top-level item, with its dev/ino */
	GPtrArray *roots;     /* char * */
	GArray *root_ids;     /* guint64 pairs: dev, ino */
} P2pManifest;

P2pManifest *p2p_manifest_new(void);
void p2p_manifest_free(P2pManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pManifest, p2p_manifest_free)

static inline P2pEntry *
p2p_manifest_entry(const P2pManifest *m, guint i)
{
	return m->entries->pdata[i];
}

/* Bytes of the files before entry i: where a transfer resuming at entry i stands. */
guint64 p2p_manifest_bytes_before(const P2pManifest *m, guint i);

/* Who asks for the walk: a caller other than the daemon's own uid only gets entries
 * that the permission bits let that uid read. */
typedef struct {
	uid_t uid;
	gid_t gid;
} P2pCaller;

/* Adds the item open as fd (a regular file or a directory; consumed) under the name
 * of path's last component. Directories are walked without following symlinks; a
 * symlink whose target leaves the sent tree, a device, FIFO or socket is skipped
 * and a line added to warnings. */
gboolean p2p_manifest_add(P2pManifest *m, const char *path, int fd, const P2pCaller *caller,
                          GPtrArray *warnings, GError **error);
/* After every item is added: drops symlinks that leave their item or go through
 * another symlink (warning each), and counts. */
void p2p_manifest_finish(P2pManifest *m, GPtrArray *warnings);

/* A relative entry path a receiver accepts: components are file names (see
 * p2p_inbox_name_valid), no empty, "." or ".." component, at most P2P_PATH_MAX bytes. */
gboolean p2p_manifest_path_valid(const char *path, GError **error);
/* Whether link entry i's target stays inside its top-level item without going
 * through another symlink of the manifest. index maps path -> entry. */
gboolean p2p_manifest_link_ok(const P2pManifest *m, GHashTable *index, guint i);

/* Entries as the OFFER/MANIFEST frames carry them. The sender-only members are
 * written only with with_source (for the journal). */
JsonArray *p2p_manifest_entries_to_json(const P2pManifest *m, guint first, guint count,
                                        gboolean with_source);
/* The same as JSON text (an array), appended to out: what the sender puts on the wire. */
void p2p_manifest_write_json(const P2pManifest *m, guint first, guint count,
                             gboolean with_source, GString *out);
/* Appends entries from JSON, decoding each by schema; the checks of
 * p2p_manifest_check come later. */
gboolean p2p_manifest_append_json(P2pManifest *m, JsonArray *entries, gboolean with_source,
                                  GError **error);
/* An OFFER or MANIFEST frame's members: the header ones (has_* tell which were there)
 * and the entries. */
typedef struct {
	guint64 xfer, count, bytes;
	gboolean has_xfer, has_count, has_bytes, has_entries;
	GPtrArray *entries; /* P2pEntry */
} P2pManifestFrame;

/* Decodes the JSON text of an OFFER or MANIFEST frame in one pass, each entry by the
 * same rules as p2p_manifest_append_json; a member other than xfer, count, bytes and
 * entries is refused. Which members are required is the caller's call. On failure the
 * error is G_IO_ERROR_INVALID_DATA for a bad entry (named in the message; the header
 * members are still decoded, entries is empty) and G_IO_ERROR_INVALID_ARGUMENT for a
 * frame that is not what the protocol says. Clear frame after either outcome. */
gboolean p2p_manifest_frame_decode(const char *text, gsize len, P2pManifestFrame *frame,
                                   GError **error);
void p2p_manifest_frame_clear(P2pManifestFrame *frame);
/* Moves a decoded frame's entries to the end of m. */
void p2p_manifest_take(P2pManifest *m, P2pManifestFrame *frame);
/* The receiver's checks over a complete manifest: paths, duplicates, parents declared
 * as directories before their children, link targets, and that the files' sizes add up
 * to bytes. Fills the counts. The error names the first bad entry; *code gets the
 * reason code (bad-path or bad-size). */
gboolean p2p_manifest_check(P2pManifest *m, guint64 bytes, const char **code, GError **error);

/* The top-level items' names, in order. */
GPtrArray *p2p_manifest_items(const P2pManifest *m);
/* The journal form: entries with source identity, and the roots. */
char *p2p_manifest_to_journal(const P2pManifest *m);
P2pManifest *p2p_manifest_from_journal(const char *text, GError **error);

G_END_DECLS

/* p2pd-inbox.h: the save directory: names a peer may use, free space, and the final
 * rename that never overwrites. Staging lives in P2P_INBOX_PARTIAL_DIR (p2pd-receive.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define P2P_INBOX_PARTIAL_DIR ".p2pd-partial"
#define P2P_NAME_MAX 255

/* A file name offered by a peer: one path component, valid UTF-8, no control
 * characters, not "." or "..", at most P2P_NAME_MAX bytes. The error says why. */
gboolean p2p_inbox_name_valid(const char *name, GError **error);
/* "name (n).ext" for n >= 1; a leading dot does not start an extension. The stem (or
 * the whole name) is shortened on a character boundary so that the result fits in
 * P2P_NAME_MAX bytes. */
char *p2p_inbox_collision_name(const char *name, guint n);
/* Refuses when writing size bytes would leave less than reserve free. */
gboolean p2p_inbox_check_space(const char *dir, guint64 size, guint64 reserve, GError **error);
/* Moves from/name (a finished file, directory or symlink) into the directory to, under
 * name or "name (n).ext" when taken; never replaces anything (renameat2
 * RENAME_NOREPLACE). Returns the name used. */
char *p2p_inbox_commit_at(int from, const char *name, int to, GError **error);

G_END_DECLS

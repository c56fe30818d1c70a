/* p2pd-inbox.c: see p2pd-inbox.h. */
#include "config.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "p2pd-inbox.h"

gboolean
p2p_inbox_name_valid(const char *name, GError **error)
{
	gsize len = strlen(name);
	const char *why = NULL;

	if (len == 0)
		why = "it is empty";
	else if (len > P2P_NAME_MAX)
		why = "it is longer than 255 bytes";
	else if (!g_utf8_validate(name, len, NULL))
		why = "it is not valid UTF-8";
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		why = "it names a directory";
	else if (strchr(name, '/'))
		why = "it contains \"/\"";
	else {
		for (const char *p = name; *p; p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
				why = "it contains a control character";
				break;
			}
		}
	}
	if (why) {
		g_autofree char *shown = g_strescape(name, NULL);
		if (strlen(shown) > 80)
			strcpy(shown + 77, "...");
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "file name \"%s\" is refused: %s", shown, why);
		return FALSE;
	}
	return TRUE;
}

/* The longest prefix of the first len bytes of s that ends on a character boundary
 * (s is valid UTF-8). */
static gsize
utf8_cut(const char *s, gsize len)
{
	while (len > 0 && ((guchar)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

char *
p2p_inbox_collision_name(const char *name, guint n)
{
	char tag[16];
	gsize tag_len = g_snprintf(tag, sizeof(tag), " (%u)", n);
	gsize len = strlen(name);
	const char *dot = strrchr(name, '.');
	const char *ext = (dot == NULL || dot == name) ? name + len : dot;
	gsize stem = ext - name;
	gsize ext_len = len - stem;

	/* a name near P2P_NAME_MAX has no room for the tag: shorten the stem, or the whole
	 * name when the extension leaves no stem, so that the file system takes it */
	if (stem + tag_len + ext_len > P2P_NAME_MAX) {
		if (tag_len + ext_len < P2P_NAME_MAX) {
			stem = utf8_cut(name, P2P_NAME_MAX - tag_len - ext_len);
		} else {
			ext = name + len;
			ext_len = 0;
			stem = utf8_cut(name, MIN(len, P2P_NAME_MAX - tag_len));
		}
	}
	return g_strdup_printf("%.*s%s%s", (int)stem, name, tag, ext);
}

gboolean
p2p_inbox_check_space(const char *dir, guint64 size, guint64 reserve, GError **error)
{
	struct statvfs vfs;
	if (statvfs(dir, &vfs) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot stat \"%s\": %s",
		            dir, g_strerror(errno));
		return FALSE;
	}
	guint64 avail = (guint64)vfs.f_bavail * vfs.f_frsize;
	if (avail < size || avail - size < reserve) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
		            "not enough space: %" G_GUINT64_FORMAT " bytes offered, %" G_GUINT64_FORMAT
		            " free on the receiver", size, avail);
		return FALSE;
	}
	return TRUE;
}

static gboolean
rename_noreplace(int from, const char *name, int to, const char *candidate)
{
	if (renameat2(from, name, to, candidate, RENAME_NOREPLACE) == 0)
		return TRUE;
	if (errno != EINVAL)
		return FALSE;
	/* a file system without RENAME_NOREPLACE: link() fails with EEXIST instead of
	 * replacing, for files; a directory is only moved onto a name that is free */
	struct stat st;
	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return FALSE;
	if (!S_ISDIR(st.st_mode)) {
		if (linkat(from, name, to, candidate, 0) != 0)
			return FALSE;
		unlinkat(from, name, 0);
		return TRUE;
	}
	if (fstatat(to, candidate, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return FALSE;
	}
	return renameat(from, name, to, candidate) == 0;
}

char *
p2p_inbox_commit_at(int from, const char *name, int to, GError **error)
{
	for (guint n = 0; n < 10000; n++) {
		g_autofree char *candidate = n ? p2p_inbox_collision_name(name, n) : g_strdup(name);
		if (rename_noreplace(from, name, to, candidate))
			return g_steal_pointer(&candidate);
		if (errno != EEXIST) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot move \"%s\" into place: %s", name, g_strerror(errno));
			return NULL;
		}
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "too many items named like \"%s\"",
	            name);
	return NULL;
}

/* p2pd-manifest.c: see p2pd-manifest.h. */
#include "config.h"

#include <gio/gio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2p-jsonrpc.h"
#include "p2p-protocol.h"
#include "p2pd-inbox.h"
#include "p2pd-manifest.h"

#define WALK_MAX_DEPTH 128

static void
entry_free(gpointer p)
{
	P2pEntry *e = p;
	g_free(e->path);
	g_free(e->target);
	g_free(e);
}

P2pManifest *
p2p_manifest_new(void)
{
	P2pManifest *m = g_new0(P2pManifest, 1);
	m->entries = g_ptr_array_new_with_free_func(entry_free);
	m->roots = g_ptr_array_new_with_free_func(g_free);
	m->root_ids = g_array_new(FALSE, FALSE, sizeof(guint64));
	return m;
}

void
p2p_manifest_free(P2pManifest *m)
{
	if (m == NULL)
		return;
	g_ptr_array_unref(m->entries);
	g_ptr_array_unref(m->roots);
	g_array_unref(m->root_ids);
	g_free(m);
}

static P2pEntry *
add_entry(P2pManifest *m, char *path /* consumed */, P2pEntryType type, const struct stat *st)
{
	P2pEntry *e = g_new0(P2pEntry, 1);
	e->path = path;
	e->type = type;
	e->size = type == P2P_ENTRY_FILE ? (guint64)st->st_size : 0;
	e->mode = st->st_mode & 0777;
	e->mtime = st->st_mtime;
	e->root = m->roots->len - 1;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime_ns = st->st_mtim.tv_nsec;
	g_ptr_array_add(m->entries, e);
	return e;
}

/* The permission bits, for a caller that is not the daemon's uid (ACLs are not read:
 * a file only an ACL opens to the caller is refused, never the other way round). */
static gboolean
readable_by(const struct stat *st, const P2pCaller *c)
{
	static uid_t self = (uid_t)-1;
	if (self == (uid_t)-1)
		self = geteuid();
	if (c == NULL || c->uid == self)
		return TRUE;
	guint need = S_ISDIR(st->st_mode) ? 5 : 4;
	guint bits = st->st_uid == c->uid   ? st->st_mode >> 6
	             : st->st_gid == c->gid ? st->st_mode >> 3
	                                    : st->st_mode;
	return (bits & need) == need;
}

static gint
str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
warn(GPtrArray *warnings, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
warn(GPtrArray *warnings, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_info("send: %s", s);
	if (warnings)
		g_ptr_array_add(warnings, s);
	else
		g_free(s);
}

/* Walks the directory open as dfd (consumed), whose entry path is rel. Names are
 * sorted so that a transfer's order does not depend on the file system. */
static gboolean
walk(P2pManifest *m, int dfd, const char *rel, const P2pCaller *caller, GPtrArray *warnings,
     guint depth, GError **error)
{
	DIR *dir = fdopendir(dfd);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	struct dirent *de;

	if (dir == NULL) {
		close(dfd);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot read \"%s\": %s",
		            rel, g_strerror(errno));
		return FALSE;
	}
	if (depth > WALK_MAX_DEPTH) {
		closedir(dir);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "\"%s\" is nested more than %d directories deep", rel, WALK_MAX_DEPTH);
		return FALSE;
	}
	errno = 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			g_ptr_array_add(names, g_strdup(de->d_name));
	}
	g_ptr_array_sort(names, str_cmp);

	gboolean ok = TRUE;
	for (guint i = 0; ok && i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *path = g_strconcat(rel, "/", name, NULL);
		g_autoptr(GError) bad = NULL;
		struct stat st;

		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot stat \"%s\": %s", path, g_strerror(errno));
			ok = FALSE;
			break;
		}
		if (!p2p_inbox_name_valid(name, &bad) || strlen(path) > P2P_PATH_MAX) {
			warn(warnings, "skipped \"%s\": %s", path,
			     bad ? bad->message : "the path is longer than 4096 bytes");
			continue;
		}
		if (m->entries->len >= P2P_OFFER_MAX_ENTRIES) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "more than %d files and directories in one transfer",
			            P2P_OFFER_MAX_ENTRIES);
			ok = FALSE;
			break;
		}
		if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			if (!readable_by(&st, caller)) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
				            "cannot read \"%s\": permission denied for uid %u", path,
				            (unsigned)caller->uid);
				ok = FALSE;
				break;
			}
		}
		if (S_ISREG(st.st_mode)) {
			add_entry(m, g_steal_pointer(&path), P2P_ENTRY_FILE, &st);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
				            "cannot open \"%s\": %s", path, g_strerror(errno));
				ok = FALSE;
				break;
			}
			P2pEntry *e = add_entry(m, g_strdup(path), P2P_ENTRY_DIR, &st);
			ok = walk(m, sub, e->path, caller, warnings, depth + 1, error);
		} else if (S_ISLNK(st.st_mode)) {
			char target[P2P_PATH_MAX + 1];
			ssize_t n = readlinkat(dirfd(dir), name, target, sizeof(target));
			if (n <= 0 || n > P2P_PATH_MAX) {
				warn(warnings, "skipped symlink \"%s\": its target cannot be read", path);
				continue;
			}
			P2pEntry *e = add_entry(m, g_steal_pointer(&path), P2P_ENTRY_LINK, &st);
			e->target = g_strndup(target, n);
			e->mode = 0777;
		} else {
			warn(warnings, "skipped \"%s\": not a regular file, directory or symlink", path);
		}
	}
	closedir(dir);
	return ok;
}

gboolean
p2p_manifest_add(P2pManifest *m, const char *path, int fd, const P2pCaller *caller,
                 GPtrArray *warnings, GError **error)
{
	struct stat st;
	g_autofree char *name = g_path_get_basename(path);
	g_autoptr(GError) bad = NULL;

	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
		            "\"%s\" is not a regular file or a directory", path);
		close(fd);
		return FALSE;
	}
	if (!p2p_inbox_name_valid(name, &bad)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "%s", bad->message);
		close(fd);
		return FALSE;
	}
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (strchr(e->path, '/') == NULL && strcmp(e->path, name) == 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "two items are named \"%s\"; send them separately", name);
			close(fd);
			return FALSE;
		}
	}
	g_ptr_array_add(m->roots, g_strdup(path));
	guint64 id[2] = { st.st_dev, st.st_ino };
	g_array_append_vals(m->root_ids, id, 2);
	if (S_ISREG(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		close(fd);
		if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			            "the descriptor passed for \"%s\" is not open for reading", path);
			return FALSE;
		}
		add_entry(m, g_steal_pointer(&name), P2P_ENTRY_FILE, &st);
		return TRUE;
	}
	P2pEntry *e = add_entry(m, g_steal_pointer(&name), P2P_ENTRY_DIR, &st);
	return walk(m, fd, e->path, caller, warnings, 1, error);
}

static void
count(P2pManifest *m)
{
	m->files = m->dirs = m->links = 0;
	m->bytes = 0;
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		m->files += e->type == P2P_ENTRY_FILE;
		m->dirs += e->type == P2P_ENTRY_DIR;
		m->links += e->type == P2P_ENTRY_LINK;
		if (e->type == P2P_ENTRY_FILE)
			m->bytes += e->size;
	}
}

guint64
p2p_manifest_bytes_before(const P2pManifest *m, guint i)
{
	guint64 n = 0;
	for (guint k = 0; k < i && k < m->entries->len; k++)
		n += p2p_manifest_entry(m, k)->size;
	return n;
}

static GHashTable *
index_paths(const P2pManifest *m)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < m->entries->len; i++)
		g_hash_table_insert(h, p2p_manifest_entry(m, i)->path, p2p_manifest_entry(m, i));
	return h;
}

gboolean
p2p_manifest_link_ok(const P2pManifest *m, GHashTable *index, guint i)
{
	P2pEntry *e = p2p_manifest_entry(m, i);
	if (e->target == NULL || e->target[0] == '\0' || e->target[0] == '/' ||
	    !g_utf8_validate(e->target, -1, NULL))
		return FALSE;

	/* resolve the target lexically from the link's directory; each step is what the
	 * kernel would do as long as no component on the way is itself a symlink, which
	 * is why going through one is refused */
	g_auto(GStrv) dir = g_strsplit(e->path, "/", -1);
	g_auto(GStrv) parts = g_strsplit(e->target, "/", -1);
	g_autoptr(GPtrArray) stack = g_ptr_array_new();
	for (guint k = 0; dir[k] && dir[k + 1]; k++)
		g_ptr_array_add(stack, dir[k]);
	for (guint k = 0; parts[k]; k++) {
		const char *p = parts[k];
		if (*p == '\0' || strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			if (stack->len <= 1)
				return FALSE; /* leaves the top-level item */
			g_ptr_array_set_size(stack, stack->len - 1);
			continue;
		}
		for (const char *c = p; *c; c++)
			if ((guchar)*c < 0x20 || *c == 0x7f)
				return FALSE;
		g_ptr_array_add(stack, (gpointer)p);
		gboolean last = TRUE;
		for (guint j = k + 1; parts[j]; j++)
			last &= parts[j][0] == '\0' || strcmp(parts[j], ".") == 0;
		if (!last) {
			g_ptr_array_add(stack, NULL);
			g_autofree char *prefix = g_strjoinv("/", (char **)stack->pdata);
			g_ptr_array_set_size(stack, stack->len - 1);
			P2pEntry *x = g_hash_table_lookup(index, prefix);
			if (x && x->type == P2P_ENTRY_LINK)
				return FALSE;
		}
	}
	return stack->len >= 1;
}

void
p2p_manifest_finish(P2pManifest *m, GPtrArray *warnings)
{
	g_autoptr(GHashTable) index = index_paths(m);
	g_autoptr(GPtrArray) drop = g_ptr_array_new();

	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type == P2P_ENTRY_LINK && !p2p_manifest_link_ok(m, index, i)) {
			warn(warnings, "skipped symlink \"%s\": its target \"%s\" is outside the sent tree",
			     e->path, e->target);
			g_ptr_array_add(drop, e);
		}
	}
	g_hash_table_remove_all(index);
	for (guint i = 0; i < drop->len; i++)
		g_ptr_array_remove(m->entries, drop->pdata[i]);
	count(m);
}

gboolean
p2p_manifest_path_valid(const char *path, GError **error)
{
	if (path[0] == '\0') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "path \"\" is refused: it is empty");
		return FALSE;
	}
	if (strlen(path) > P2P_PATH_MAX) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "path is longer than %d bytes", P2P_PATH_MAX);
		return FALSE;
	}
	if (path[0] == '/') {
		g_autofree char *shown = g_strescape(path, NULL);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "path \"%.80s\" is absolute", shown);
		return FALSE;
	}
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	for (guint k = 0; parts[k]; k++) {
		g_autoptr(GError) bad = NULL;
		if (!p2p_inbox_name_valid(parts[k], &bad)) {
			g_autofree char *shown = g_strescape(path, NULL);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
			            "path \"%.80s\" is refused: component %u: %s", shown, k + 1,
			            bad->message);
			return FALSE;
		}
	}
	return TRUE;
}

static const char *const type_names[] = { "file", "dir", "link" };

JsonArray *
p2p_manifest_entries_to_json(const P2pManifest *m, guint first, guint n, gboolean with_source)
{
	JsonArray *a = json_array_sized_new(n);
	for (guint i = first; i < first + n && i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "path", e->path);
		if (e->type != P2P_ENTRY_FILE)
			json_object_set_string_member(o, "type", type_names[e->type]);
		if (e->type == P2P_ENTRY_FILE)
			json_object_set_int_member(o, "size", (gint64)e->size);
		json_object_set_int_member(o, "mode", e->mode);
		json_object_set_int_member(o, "mtime", e->mtime);
		if (e->target)
			json_object_set_string_member(o, "target", e->target);
		if (with_source) {
			json_object_set_int_member(o, "root", e->root);
			json_object_set_int_member(o, "dev", (gint64)e->dev);
			json_object_set_int_member(o, "ino", (gint64)e->ino);
		}
		json_array_add_object_element(a, o);
	}
	return a;
}

/* JSON text by hand: json-glib's generator formats every number through printf and
 * was a tenth of a 10,000-file send. Strings here are valid UTF-8 (the walk and the
 * schema both made sure), so only quotes, backslashes and controls need escaping. */
static void
append_json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const char *p = s; *p; p++) {
		guchar c = *p;
		if (c == '"' || c == '\\') {
			g_string_append_c(out, '\\');
			g_string_append_c(out, c);
		} else if (c < 0x20) {
			g_string_append_printf(out, "\\u%04x", c);
		} else {
			g_string_append_c(out, c);
		}
	}
	g_string_append_c(out, '"');
}

static void
append_member_int(GString *out, const char *name, gint64 v)
{
	char num[24];
	g_string_append_c(out, ',');
	g_string_append_c(out, '"');
	g_string_append(out, name);
	g_string_append(out, "\":");
	g_string_append_len(out, num, g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, v));
}

void
p2p_manifest_write_json(const P2pManifest *m, guint first, guint n, gboolean with_source,
                        GString *out)
{
	g_string_append_c(out, '[');
	for (guint i = first; i < first + n && i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (i > first)
			g_string_append_c(out, ',');
		g_string_append(out, "{\"path\":");
		append_json_string(out, e->path);
		if (e->type != P2P_ENTRY_FILE) {
			g_string_append(out, ",\"type\":");
			append_json_string(out, type_names[e->type]);
		} else {
			append_member_int(out, "size", (gint64)e->size);
		}
		append_member_int(out, "mode", e->mode);
		append_member_int(out, "mtime", e->mtime);
		if (e->target) {
			g_string_append(out, ",\"target\":");
			append_json_string(out, e->target);
		}
		if (with_source) {
			append_member_int(out, "root", e->root);
			append_member_int(out, "dev", (gint64)e->dev);
			append_member_int(out, "ino", (gint64)e->ino);
			append_member_int(out, "mtime_ns", e->mtime_ns);
		}
		g_string_append_c(out, '}');
	}
	g_string_append_c(out, ']');
}

typedef struct {
	const char *path;
	const char *type;
	guint64 size;
	guint64 mode;
	gint64 mtime;
	const char *target;
	guint64 root, dev, ino, mtime_ns;
} EntryFields;

static const P2pField entry_fields[] = {
	P2P_FIELD(EntryFields, path, "path", P2P_FIELD_STRING, TRUE, P2P_PATH_MAX),
	P2P_FIELD(EntryFields, type, "type", P2P_FIELD_STRING, FALSE, 8),
	P2P_FIELD(EntryFields, size, "size", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(EntryFields, mode, "mode", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(EntryFields, mtime, "mtime", P2P_FIELD_INT, FALSE, 0),
	P2P_FIELD(EntryFields, target, "target", P2P_FIELD_STRING, FALSE, P2P_PATH_MAX),
	{ NULL },
};
static const P2pField source_fields[] = {
	P2P_FIELD(EntryFields, path, "path", P2P_FIELD_STRING, TRUE, P2P_PATH_MAX),
	P2P_FIELD(EntryFields, type, "type", P2P_FIELD_STRING, FALSE, 8),
	P2P_FIELD(EntryFields, size, "size", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(EntryFields, mode, "mode", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(EntryFields, mtime, "mtime", P2P_FIELD_INT, FALSE, 0),
	P2P_FIELD(EntryFields, target, "target", P2P_FIELD_STRING, FALSE, P2P_PATH_MAX),
	P2P_FIELD(EntryFields, root, "root", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(EntryFields, dev, "dev", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(EntryFields, ino, "ino", P2P_FIELD_UINT, TRUE, 0),
	P2P_FIELD(EntryFields, mtime_ns, "mtime_ns", P2P_FIELD_UINT, FALSE, 0),
	{ NULL },
};

gboolean
p2p_manifest_append_json(P2pManifest *m, JsonArray *entries, gboolean with_source,
                         GError **error)
{
	for (guint i = 0; i < json_array_get_length(entries); i++) {
		JsonNode *n = json_array_get_element(entries, i);
		EntryFields f = { 0 };
		g_autoptr(GError) local = NULL;
		guint index = m->entries->len;

		if (!JSON_NODE_HOLDS_OBJECT(n)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "entry %u is not an object", index);
			return FALSE;
		}
		if (!p2p_schema_decode(json_node_get_object(n), with_source ? source_fields
		                                                            : entry_fields,
		                       &f, &local)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "entry %u: %s", index,
			            local->message);
			return FALSE;
		}
		P2pEntryType type;
		if (f.type == NULL || strcmp(f.type, "file") == 0)
			type = P2P_ENTRY_FILE;
		else if (strcmp(f.type, "dir") == 0)
			type = P2P_ENTRY_DIR;
		else if (strcmp(f.type, "link") == 0)
			type = P2P_ENTRY_LINK;
		else {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "entry %u: type \"%s\" is not file, dir or link", index, f.type);
			return FALSE;
		}
		if ((type == P2P_ENTRY_LINK) != (f.target != NULL) ||
		    (type != P2P_ENTRY_FILE && f.size != 0)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "entry %u: %s", index,
			            type == P2P_ENTRY_LINK ? "a link needs a target"
			            : f.target             ? "only links have a target"
			                                   : "only files have a size");
			return FALSE;
		}
		P2pEntry *e = g_new0(P2pEntry, 1);
		e->path = g_strdup(f.path);
		e->type = type;
		e->size = f.size;
		e->mode = f.mode & 0777;
		e->mtime = f.mtime;
		e->target = g_strdup(f.target);
		e->root = f.root;
		e->dev = f.dev;
		e->ino = f.ino;
		e->mtime_ns = f.mtime_ns;
		g_ptr_array_add(m->entries, e);
	}
	return TRUE;
}

gboolean
p2p_manifest_check(P2pManifest *m, guint64 bytes, const char **code, GError **error)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) local = NULL;

	*code = P2P_REASON_BAD_PATH;
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (!p2p_manifest_path_valid(e->path, &local)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "entry %u: %s", i,
			            local->message);
			return FALSE;
		}
		g_autofree char *shown = g_strescape(e->path, NULL);
		if (g_hash_table_contains(seen, e->path)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "entry %u: path \"%.80s\" appears twice", i, shown);
			return FALSE;
		}
		const char *slash = strrchr(e->path, '/');
		if (slash) {
			g_autofree char *parent = g_strndup(e->path, slash - e->path);
			P2pEntry *p = g_hash_table_lookup(seen, parent);
			if (p == NULL || p->type != P2P_ENTRY_DIR) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
				            "entry %u: the parent of \"%.80s\" is not a directory listed "
				            "before it", i, shown);
				return FALSE;
			}
		}
		g_hash_table_insert(seen, e->path, e);
	}
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type == P2P_ENTRY_LINK && !p2p_manifest_link_ok(m, seen, i)) {
			g_autofree char *shown = g_strescape(e->path, NULL);
			g_autofree char *target = g_strescape(e->target, NULL);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
			            "entry %u: symlink \"%.80s\" -> \"%.80s\" leaves the transfer's tree "
			            "or goes through another symlink", i, shown, target);
			return FALSE;
		}
	}
	guint64 sum = 0;
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (e->type == P2P_ENTRY_FILE && (sum + e->size < sum)) {
			*code = P2P_REASON_BAD_SIZE;
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "the file sizes overflow 64 bits");
			return FALSE;
		}
		if (e->type == P2P_ENTRY_FILE)
			sum += e->size;
	}
	count(m);
	if (sum != bytes) {
		*code = P2P_REASON_BAD_SIZE;
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "the files add up to %" G_GUINT64_FORMAT " bytes, the offer says %"
		            G_GUINT64_FORMAT, sum, bytes);
		return FALSE;
	}
	return TRUE;
}

GPtrArray *
p2p_manifest_items(const P2pManifest *m)
{
	GPtrArray *a = g_ptr_array_new();
	for (guint i = 0; i < m->entries->len; i++) {
		P2pEntry *e = p2p_manifest_entry(m, i);
		if (strchr(e->path, '/') == NULL)
			g_ptr_array_add(a, e->path);
	}
	return a;
}

char *
p2p_manifest_to_journal(const P2pManifest *m)
{
	GString *out = g_string_sized_new(64 + m->entries->len * 80);
	g_string_append(out, "{\"roots\":[");
	for (guint i = 0; i < m->roots->len; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append(out, "{\"path\":");
		append_json_string(out, m->roots->pdata[i]);
		append_member_int(out, "dev", (gint64)g_array_index(m->root_ids, guint64, 2 * i));
		append_member_int(out, "ino", (gint64)g_array_index(m->root_ids, guint64, 2 * i + 1));
		g_string_append_c(out, '}');
	}
	g_string_append(out, "],\"entries\":");
	p2p_manifest_write_json(m, 0, m->entries->len, m->roots->len > 0, out);
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

P2pManifest *
p2p_manifest_from_journal(const char *text, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(P2pManifest) m = p2p_manifest_new();

	if (!json_parser_load_from_data(parser, text, -1, error))
		return NULL;
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an object");
		return NULL;
	}
	JsonObject *o = json_node_get_object(root);
	JsonArray *roots = json_object_get_array_member(o, "roots");
	JsonArray *entries = json_object_get_array_member(o, "entries");
	if (roots == NULL || entries == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "roots or entries missing");
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(roots); i++) {
		JsonObject *r = json_array_get_object_element(roots, i);
		g_ptr_array_add(m->roots, g_strdup(json_object_get_string_member(r, "path")));
		guint64 id[2] = { json_object_get_int_member(r, "dev"),
		                  json_object_get_int_member(r, "ino") };
		g_array_append_vals(m->root_ids, id, 2);
	}
	if (!p2p_manifest_append_json(m, entries, m->roots->len > 0, error))
		return NULL;
	count(m);
	return g_steal_pointer(&m);
}

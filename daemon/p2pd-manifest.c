/* p2pd-manifest.c: see p2pd-manifest.h. */
#include "config.h"

#include <gio/gio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

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

/* The entry that decoded fields describe, or NULL with error (index names it). */
static P2pEntry *
entry_from_fields(const EntryFields *f, guint index, GError **error)
{
	P2pEntryType type;
	if (f->type == NULL || strcmp(f->type, "file") == 0)
		type = P2P_ENTRY_FILE;
	else if (strcmp(f->type, "dir") == 0)
		type = P2P_ENTRY_DIR;
	else if (strcmp(f->type, "link") == 0)
		type = P2P_ENTRY_LINK;
	else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "entry %u: type \"%s\" is not file, dir or link", index, f->type);
		return NULL;
	}
	if ((type == P2P_ENTRY_LINK) != (f->target != NULL) ||
	    (type != P2P_ENTRY_FILE && f->size != 0)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "entry %u: %s", index,
		            type == P2P_ENTRY_LINK ? "a link needs a target"
		            : f->target            ? "only links have a target"
		                                   : "only files have a size");
		return NULL;
	}
	P2pEntry *e = g_new0(P2pEntry, 1);
	e->path = g_strdup(f->path);
	e->type = type;
	e->size = f->size;
	e->mode = f->mode & 0777;
	e->mtime = f->mtime;
	e->target = g_strdup(f->target);
	e->root = f->root;
	e->dev = f->dev;
	e->ino = f->ino;
	e->mtime_ns = f->mtime_ns;
	return e;
}

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
		P2pEntry *e = entry_from_fields(&f, index, error);
		if (e == NULL)
			return FALSE;
		g_ptr_array_add(m->entries, e);
	}
	return TRUE;
}

/* ---- OFFER and MANIFEST frames, decoded as they are read -------------------------------- */

/* yajl's event parser walks the text once and the entries are built as their members go
 * by; json-glib first builds a tree of about ten objects per entry, which took 27 ms of
 * the receiver's time for a 10,000-entry manifest against 2 ms here (bench/RESULTS.md).
 * The members are checked against the same tables as p2p_schema_decode does, with the
 * same rules: unknown members refused, null taken as absent, strings without NUL. */

typedef enum {
	AT_START,       /* before the frame's object */
	AT_TOP_KEY,     /* in it, before a member name or its end */
	AT_TOP_VALUE,   /* after a member name */
	AT_ELEMENT,     /* in "entries", before an entry or the array's end */
	AT_ENTRY_KEY,   /* in an entry, before a member name or its end */
	AT_ENTRY_VALUE, /* after an entry member's name */
	AT_END,
} DecodeAt;

typedef struct {
	P2pManifestFrame *frame;
	const P2pField *fields; /* of one entry */
	DecodeAt at;
	guint64 *top;           /* the header member whose value comes next; NULL = entries */
	gboolean *top_seen;
	const P2pField *field;  /* the entry member whose value comes next */
	EntryFields entry;
	guint64 seen;           /* bit i: member fields[i] of this entry has a value */
	char *strings[3];       /* what entry's path, type and target point to */
	guint depth;            /* of nesting: 1 in the frame's object, 2 in "entries" */
	gboolean skipping;      /* after a bad entry: the rest of "entries" is passed over */
	GError *error;          /* the frame is not what the protocol says */
	GError *entry_error;    /* the first bad entry */
} Decoder;

static void
decoder_fail(Decoder *dc, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
decoder_fail(Decoder *dc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (dc->at == AT_ELEMENT || dc->at == AT_ENTRY_KEY || dc->at == AT_ENTRY_VALUE) {
		g_set_error(&dc->entry_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "entry %u: %s",
		            dc->frame->entries->len, msg);
		dc->skipping = TRUE;
	} else {
		g_set_error_literal(&dc->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, msg);
	}
}

/* What a callback returns after decoder_fail: go on over the rest of the entries (the
 * header may come after them, and the peer is told which offer was refused), stop on a
 * bad frame. */
static int
failed(Decoder *dc)
{
	return dc->error == NULL;
}

static void
decoder_reset_entry(Decoder *dc)
{
	for (guint i = 0; i < G_N_ELEMENTS(dc->strings); i++)
		g_clear_pointer(&dc->strings[i], g_free);
	memset(&dc->entry, 0, sizeof dc->entry);
	dc->seen = 0;
}

static void
mark_seen(Decoder *dc, gboolean seen)
{
	guint64 bit = (guint64)1 << (dc->field - dc->fields);
	dc->seen = seen ? dc->seen | bit : dc->seen & ~bit;
}

static const char *
field_kind(const P2pField *f)
{
	return f->type == P2P_FIELD_STRING ? "a string"
	       : f->type == P2P_FIELD_INT  ? "an integer"
	                                   : "a non-negative integer";
}

/* A value that is not what the member at hand takes. */
static int
wrong_type(Decoder *dc)
{
	if (dc->at == AT_TOP_VALUE)
		decoder_fail(dc, "member \"%s\" must be %s",
		             dc->top ? (dc->top == &dc->frame->xfer    ? "xfer"
		                        : dc->top == &dc->frame->count ? "count"
		                                                       : "bytes")
		                     : "entries",
		             dc->top ? "a non-negative integer" : "an array");
	else if (dc->at == AT_ENTRY_VALUE)
		decoder_fail(dc, "member \"%s\" must be %s", dc->field->member,
		             field_kind(dc->field));
	else if (dc->at == AT_ELEMENT)
		decoder_fail(dc, "not an object");
	else
		decoder_fail(dc, "the frame is not a JSON object");
	return failed(dc);
}

static int
on_null(void *ctx)
{
	Decoder *dc = ctx;
	if (dc->skipping)
		return 1;
	/* null is an absent member, as p2p_schema_decode takes it */
	if (dc->at == AT_TOP_VALUE) {
		if (dc->top_seen)
			*dc->top_seen = FALSE;
		dc->at = AT_TOP_KEY;
		return 1;
	}
	if (dc->at == AT_ENTRY_VALUE) {
		guint8 *dest = (guint8 *)&dc->entry + dc->field->offset;
		if (dc->field->type == P2P_FIELD_STRING)
			*(const char **)dest = NULL;
		else
			*(guint64 *)dest = 0;
		mark_seen(dc, FALSE);
		dc->at = AT_ENTRY_KEY;
		return 1;
	}
	return wrong_type(dc);
}

static int
on_boolean(void *ctx, int value)
{
	Decoder *dc = ctx;
	return dc->skipping ? 1 : wrong_type(dc);
}

static int
on_number(void *ctx, const char *text, size_t len)
{
	Decoder *dc = ctx;
	if (dc->skipping)
		return 1;
	char buf[32];
	gboolean is_signed = dc->at == AT_ENTRY_VALUE && dc->field->type == P2P_FIELD_INT;

	if ((dc->at != AT_TOP_VALUE || dc->top == NULL) &&
	    (dc->at != AT_ENTRY_VALUE || dc->field->type == P2P_FIELD_STRING))
		return wrong_type(dc);
	if (len >= sizeof buf)
		return wrong_type(dc);
	memcpy(buf, text, len);
	buf[len] = '\0';
	guint64 u = 0;
	gint64 i = 0;
	gboolean ok = is_signed ? g_ascii_string_to_signed(buf, 10, G_MININT64, G_MAXINT64, &i, NULL)
	                        : g_ascii_string_to_unsigned(buf, 10, 0, G_MAXINT64, &u, NULL);
	if (!ok)
		return wrong_type(dc);
	if (dc->at == AT_TOP_VALUE) {
		*dc->top = u;
		*dc->top_seen = TRUE;
		dc->at = AT_TOP_KEY;
		return 1;
	}
	guint8 *dest = (guint8 *)&dc->entry + dc->field->offset;
	if (is_signed)
		*(gint64 *)dest = i;
	else
		*(guint64 *)dest = u;
	mark_seen(dc, TRUE);
	dc->at = AT_ENTRY_KEY;
	return 1;
}

static int
on_string(void *ctx, const unsigned char *text, size_t len)
{
	Decoder *dc = ctx;
	if (dc->skipping)
		return 1;
	const P2pField *f = dc->field;

	if (dc->at != AT_ENTRY_VALUE || f->type != P2P_FIELD_STRING)
		return wrong_type(dc);
	if (f->max_len && len > f->max_len) {
		decoder_fail(dc, "member \"%s\" is %" G_GSIZE_FORMAT " bytes long, the limit is %"
		             G_GSIZE_FORMAT, f->member, (gsize)len, f->max_len);
		return failed(dc);
	}
	if (memchr(text, '\0', len) != NULL) {
		decoder_fail(dc, "member \"%s\" contains a NUL byte", f->member);
		return failed(dc);
	}
	guint slot = f->offset == G_STRUCT_OFFSET(EntryFields, path)   ? 0
	             : f->offset == G_STRUCT_OFFSET(EntryFields, type) ? 1
	                                                               : 2;
	g_free(dc->strings[slot]);
	dc->strings[slot] = g_strndup((const char *)text, len);
	*(const char **)((guint8 *)&dc->entry + f->offset) = dc->strings[slot];
	mark_seen(dc, TRUE);
	dc->at = AT_ENTRY_KEY;
	return 1;
}

static int
on_start_map(void *ctx)
{
	Decoder *dc = ctx;
	dc->depth++;
	if (dc->skipping)
		return 1;
	if (dc->at == AT_START) {
		dc->at = AT_TOP_KEY;
		return 1;
	}
	if (dc->at == AT_ELEMENT) {
		decoder_reset_entry(dc);
		dc->at = AT_ENTRY_KEY;
		return 1;
	}
	return wrong_type(dc);
}

static int
on_map_key(void *ctx, const unsigned char *key, size_t len)
{
	Decoder *dc = ctx;
	P2pManifestFrame *fr = dc->frame;
	if (dc->skipping)
		return 1;
	g_autofree char *name = g_strndup((const char *)key, len);

	if (dc->at == AT_TOP_KEY) {
		dc->at = AT_TOP_VALUE;
		if (strcmp(name, "xfer") == 0) {
			dc->top = &fr->xfer;
			dc->top_seen = &fr->has_xfer;
		} else if (strcmp(name, "count") == 0) {
			dc->top = &fr->count;
			dc->top_seen = &fr->has_count;
		} else if (strcmp(name, "bytes") == 0) {
			dc->top = &fr->bytes;
			dc->top_seen = &fr->has_bytes;
		} else if (strcmp(name, "entries") == 0) {
			dc->top = NULL;
			dc->top_seen = &fr->has_entries;
		} else {
			dc->at = AT_TOP_KEY;
			decoder_fail(dc, "unknown member \"%.64s\"", name);
			return failed(dc);
		}
		return 1;
	}
	for (const P2pField *f = dc->fields; f->member; f++) {
		if (strcmp(f->member, name) == 0) {
			dc->field = f;
			dc->at = AT_ENTRY_VALUE;
			return 1;
		}
	}
	decoder_fail(dc, "unknown member \"%.64s\"", name);
	return failed(dc);
}

static int
on_end_map(void *ctx)
{
	Decoder *dc = ctx;
	dc->depth--;
	if (dc->skipping)
		return 1;
	if (dc->at == AT_TOP_KEY) {
		dc->at = AT_END;
		return 1;
	}
	/* the end of an entry */
	for (const P2pField *f = dc->fields; f->member; f++) {
		if (f->required && !(dc->seen & (guint64)1 << (f - dc->fields))) {
			decoder_fail(dc, "missing member \"%s\" (%s)", f->member, field_kind(f));
			return failed(dc);
		}
	}
	P2pEntry *e = entry_from_fields(&dc->entry, dc->frame->entries->len, &dc->entry_error);
	decoder_reset_entry(dc);
	if (e == NULL) {
		dc->skipping = TRUE;
		return 1;
	}
	g_ptr_array_add(dc->frame->entries, e);
	dc->at = AT_ELEMENT;
	return 1;
}

static int
on_start_array(void *ctx)
{
	Decoder *dc = ctx;
	dc->depth++;
	if (dc->skipping)
		return 1;
	if (dc->at != AT_TOP_VALUE || dc->top != NULL)
		return wrong_type(dc);
	dc->frame->has_entries = TRUE;
	dc->at = AT_ELEMENT;
	return 1;
}

static int
on_end_array(void *ctx)
{
	Decoder *dc = ctx;
	if (--dc->depth > 1)
		return 1; /* an array inside a bad entry, passed over */
	/* the end of "entries", the only array a good frame has */
	dc->skipping = FALSE;
	dc->at = AT_TOP_KEY;
	return 1;
}

static const yajl_callbacks decode_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_boolean,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_map_key,
	.yajl_end_map = on_end_map,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end_array,
};

gboolean
p2p_manifest_frame_decode(const char *text, gsize len, P2pManifestFrame *frame, GError **error)
{
	Decoder dc = { .frame = frame, .fields = entry_fields, .at = AT_START };

	memset(frame, 0, sizeof *frame);
	frame->entries = g_ptr_array_new_with_free_func(entry_free);
	yajl_handle h = yajl_alloc(&decode_callbacks, NULL, &dc);
	if (h == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory");
		return FALSE;
	}
	yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok && dc.error == NULL) {
		unsigned char *why = yajl_get_error(h, 0, NULL, 0);
		g_set_error(&dc.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not JSON: %s",
		            g_strchomp((char *)why));
		yajl_free_error(h, why);
	}
	yajl_free(h);
	decoder_reset_entry(&dc);
	if (dc.error != NULL || dc.entry_error != NULL) {
		/* a bad frame outranks a bad entry */
		if (dc.error != NULL) {
			g_propagate_error(error, dc.error);
			g_clear_error(&dc.entry_error);
		} else {
			g_propagate_error(error, dc.entry_error);
		}
		g_ptr_array_set_size(frame->entries, 0);
		return FALSE;
	}
	return TRUE;
}

void
p2p_manifest_frame_clear(P2pManifestFrame *frame)
{
	g_clear_pointer(&frame->entries, g_ptr_array_unref);
}

void
p2p_manifest_take(P2pManifest *m, P2pManifestFrame *frame)
{
	g_ptr_array_extend_and_steal(m->entries, g_steal_pointer(&frame->entries));
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
		if (g_hash_table_contains(seen, e->path)) {
			g_autofree char *shown = g_strescape(e->path, NULL);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "entry %u: path \"%.80s\" appears twice", i, shown);
			return FALSE;
		}
		char *slash = strrchr(e->path, '/');
		if (slash) {
			/* the parent's name is the path up to its last slash: cut there for the
			 * lookup instead of copying, ten thousand times for a large tree */
			*slash = '\0';
			P2pEntry *p = g_hash_table_lookup(seen, e->path);
			*slash = '/';
			if (p == NULL || p->type != P2P_ENTRY_DIR) {
				g_autofree char *shown = g_strescape(e->path, NULL);
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

/* p2pctl-cmd-recv.c: "recv [--output DIR]": receive one file. The daemon keeps verified
 * files in its own inbox; recv takes the descriptor of one (transfer.take), copies it
 * into DIR as the user who runs p2pctl, and then lets the daemon drop its copy
 * (transfer.taken). The copy never replaces an existing file. Only single-file
 * transfers are recv's: trees and several files stay where the daemon saved them
 * (see "accept --output"), and recv neither accepts nor takes them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pctl.h"

#define COPY_CHUNK (1024 * 1024)

gboolean
p2pctl_name_is_safe(const char *name)
{
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && strlen(name) <= NAME_MAX;
}

static gboolean
write_all(int fd, const guint8 *data, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

/* Copies src into the open temp file, hashing as it goes. pread: the descriptor may
 * share its offset with the daemon's. */
static gboolean
copy_and_hash(int src_fd, int dst_fd, const char *name, guint64 size, const char *sha256,
              GError **error)
{
	g_autofree guint8 *buf = g_malloc(COPY_CHUNK);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *ename = p2pctl_escape(name);
	guint64 off = 0;

	for (;;) {
		if (p2pctl_interrupted()) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED,
			            "interrupted while copying \"%s\"", ename);
			return FALSE;
		}
		ssize_t n = pread(src_fd, buf, COPY_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
			            "cannot read the received \"%s\" from p2pd: %s", ename,
			            g_strerror(errno));
			return FALSE;
		}
		if (n == 0)
			break;
		if (!write_all(dst_fd, buf, n)) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot write \"%s\": %s",
			            ename, g_strerror(errno ? errno : EIO));
			return FALSE;
		}
		g_checksum_update(sum, buf, n);
		off += n;
	}
	if (off != size) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "the received \"%s\" has %" G_GUINT64_FORMAT " bytes, p2pd announced %"
		            G_GUINT64_FORMAT, ename, off, size);
		return FALSE;
	}
	if (sha256 && g_ascii_strcasecmp(sha256, g_checksum_get_string(sum)) != 0) {
		g_autofree char *esha = p2pctl_escape(sha256);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "the copy of \"%s\" has sha256 %s, p2pd announced %s", ename,
		            g_checksum_get_string(sum), esha);
		return FALSE;
	}
	return TRUE;
}

/* Gives tmp the first free name among name, "name (1).ext", ...; never replaces. */
static char *
link_no_replace(int dir_fd, const char *tmp, const char *name, GError **error)
{
	g_autofree char *ename = p2pctl_escape(name);

	for (guint n = 0; n <= P2PCTL_MAX_COLLISIONS; n++) {
		g_autofree char *cand = n == 0 ? g_strdup(name) : p2pctl_collision_name(name, n);

		if (renameat2(dir_fd, tmp, dir_fd, cand, RENAME_NOREPLACE) == 0)
			return g_steal_pointer(&cand);
		if (errno == EEXIST)
			continue;
		/* Filesystems without RENAME_NOREPLACE: link() refuses to replace too. */
		if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
			if (linkat(dir_fd, tmp, dir_fd, cand, 0) == 0) {
				unlinkat(dir_fd, tmp, 0);
				return g_steal_pointer(&cand);
			}
			if (errno == EEXIST)
				continue;
		}
		g_autofree char *ecand = p2pctl_escape(cand);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot create \"%s\": %s", ecand,
		            g_strerror(errno));
		return NULL;
	}
	g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
	            "\"%s\" and %d numbered variants of it exist already", ename,
	            P2PCTL_MAX_COLLISIONS);
	return NULL;
}

char *
p2pctl_save_file(int src_fd, int dir_fd, const char *name, guint64 size, const char *sha256,
                 GError **error)
{
	g_autofree char *ename = p2pctl_escape(name);
	g_autofree char *tmp = NULL;
	char *final = NULL;
	struct stat st;
	int fd = -1;

	if (!p2pctl_name_is_safe(name)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd gave the file an unusable name \"%s\"", ename);
		return NULL;
	}
	if (fstat(src_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd passed something other than a regular file for \"%s\"", ename);
		return NULL;
	}
	for (guint attempt = 0; attempt < 100 && fd < 0; attempt++) {
		g_free(tmp);
		tmp = g_strdup_printf(".p2pctl-%08x.part", g_random_int());
		/* mode 0644 before the umask, like any file the user creates */
		fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
			            "cannot create a temporary file for \"%s\": %s", ename,
			            g_strerror(errno));
			return NULL;
		}
	}
	if (fd < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot find a free temporary name for \"%s\"", ename);
		return NULL;
	}
	if (!copy_and_hash(src_fd, fd, name, size, sha256, error))
		goto fail;
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot write \"%s\": %s", ename,
		            g_strerror(errno));
		goto fail;
	}
	fd = -1;
	final = link_no_replace(dir_fd, tmp, name, error);
	if (final == NULL)
		goto fail;
	/* The new name is durable only once the directory is. */
	if (fsync(dir_fd) < 0 && errno != EINVAL) {
		g_autofree char *efinal = p2pctl_escape(final);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot sync the directory of \"%s\": %s",
		            efinal, g_strerror(errno));
		unlinkat(dir_fd, final, 0);
		g_free(final);
		return NULL;
	}
	return final;

fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dir_fd, tmp, 0);
	return NULL;
}

/* ---- the command ------------------------------------------------------------------ */

typedef struct {
	P2pctlContext *ctx;
	P2pctlConn *conn;
	char *tracked; /* id of the incoming transfer this run follows */
	GPtrArray *skipped; /* the daemon's messages for transfers it would not hand over */
	P2pctlProgress progress;
} Recv;

static JsonNode *
id_params(const char *id)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "id", id);
	return p2pctl_node_take_object(o);
}

static gint
by_started(gconstpointer a, gconstpointer b)
{
	const P2pctlTransfer *ta = *(P2pctlTransfer *const *)a;
	const P2pctlTransfer *tb = *(P2pctlTransfer *const *)b;
	return (ta->started > tb->started) - (ta->started < tb->started);
}

/* transfer.take + copy + transfer.taken. Returns the take result on success; with
 * not_found_ok, a transfer already taken by someone else yields NULL and no error. */
static char *
take_and_save(Recv *r, const char *id, int dir_fd, const char *dir, gboolean not_found_ok,
              GError **error)
{
	g_autoptr(JsonNode) data = NULL;
	int fd = -1;
	g_autoptr(JsonNode) res = p2pctl_conn_call(r->conn, P2P_M_TRANSFER_TAKE, id_params(id),
	                                           &fd, &data, error);
	if (res == NULL) {
		/* Gone (another recv took it), or a tree the daemon does not hand over
		 * (-32010, its message says where it was saved): try the next one. */
		if (not_found_ok && error && *error && (*error)->domain == P2P_RPC_ERROR &&
		    ((*error)->code == P2P_RPC_NOT_FOUND || (*error)->code == P2P_RPC_STATE)) {
			if ((*error)->code == P2P_RPC_STATE)
				g_ptr_array_add(r->skipped, g_strdup((*error)->message));
			g_clear_error(error);
		}
		return NULL;
	}
	if (fd < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd answered \"%s\" without passing the file", P2P_M_TRANSFER_TAKE);
		return NULL;
	}
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(res) ? json_node_get_object(res) : NULL;
	JsonNode *size = o ? json_object_get_member(o, "size") : NULL;
	const char *name = o ? json_object_get_string_member_with_default(o, "name", NULL) : NULL;
	const char *sha = o ? json_object_get_string_member_with_default(o, "sha256", NULL) : NULL;
	if (name == NULL || size == NULL || !JSON_NODE_HOLDS_VALUE(size) ||
	    json_node_get_value_type(size) != G_TYPE_INT64 || json_node_get_int(size) < 0) {
		close(fd);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd's answer to \"%s\" lacks \"name\" or \"size\"", P2P_M_TRANSFER_TAKE);
		return NULL;
	}
	g_autofree char *final = p2pctl_save_file(fd, dir_fd, name, (guint64)json_node_get_int(size),
	                                          sha, error);
	close(fd);
	if (final == NULL)
		return NULL;

	g_autoptr(GError) local = NULL;
	g_autoptr(JsonNode) taken = p2pctl_conn_call(r->conn, P2P_M_TRANSFER_TAKEN, id_params(id),
	                                             NULL, NULL, &local);
	if (taken == NULL && !r->ctx->json) {
		/* The file is safe in DIR; only the daemon's copy stays behind. */
		g_autofree char *msg = p2pctl_escape(local->message);
		fprintf(r->ctx->err, "p2pctl: warning: p2pd keeps its copy: %s\n", msg);
	}
	return g_build_filename(dir, final, NULL);
}

/* Files that arrived before recv started: take the oldest complete one, else follow
 * the oldest one still under way or waiting for acceptance. */
static char *
check_backlog(Recv *r, int dir_fd, const char *dir, JsonNode **final_node, GError **error)
{
	g_autoptr(JsonNode) res = p2pctl_conn_call(r->conn, P2P_M_TRANSFER_LIST, NULL, NULL, NULL,
	                                           error);
	g_autoptr(GPtrArray) incoming = g_ptr_array_new_with_free_func(
		(GDestroyNotify)p2pctl_transfer_free);
	g_autoptr(GPtrArray) nodes = g_ptr_array_new();

	if (res == NULL)
		return NULL;
	JsonNode *list = JSON_NODE_HOLDS_OBJECT(res)
		? json_object_get_member(json_node_get_object(res), "transfers") : NULL;
	if (list == NULL || !JSON_NODE_HOLDS_ARRAY(list))
		return NULL;
	JsonArray *a = json_node_get_array(list);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		P2pctlTransfer *t = p2pctl_transfer_from_json(json_array_get_element(a, i), NULL);
		if (t && g_strcmp0(t->direction, "in") == 0 && p2pctl_transfer_is_single_file(t))
			g_ptr_array_add(incoming, t);
		else
			p2pctl_transfer_free(t);
	}
	g_ptr_array_sort(incoming, by_started);
	for (guint i = 0; i < incoming->len; i++) {
		P2pctlTransfer *t = incoming->pdata[i];
		if (g_strcmp0(t->state, "complete") != 0)
			continue;
		char *path = take_and_save(r, t->id, dir_fd, dir, TRUE, error);
		if (path || *error) {
			if (path) {
				g_autoptr(GError) ignored = NULL;
				*final_node = p2pctl_conn_call(r->conn, P2P_M_TRANSFER_STATUS,
				                               id_params(t->id), NULL, NULL, &ignored);
			}
			return path;
		}
	}
	for (guint i = 0; i < incoming->len && r->tracked == NULL; i++) {
		P2pctlTransfer *t = incoming->pdata[i];
		if (!p2pctl_transfer_is_final(t))
			r->tracked = g_strdup(t->id);
	}
	return NULL;
}

int
p2pctl_cmd_recv(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	const char *out_opt = p2pctl_opt(ctx, "output");
	g_autofree char *dir = g_canonicalize_filename(out_opt && *out_opt ? out_opt : ".", NULL);
	g_autofree char *edir = p2pctl_escape(dir);
	g_autoptr(JsonNode) final_node = NULL;
	g_autofree char *saved = NULL;
	g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func(g_free);
	Recv r = { .ctx = ctx, .skipped = skipped };
	int status = P2PCTL_EXIT_OK;

	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot use \"%s\" for saving: %s",
		            edir, g_strerror(errno));
		return p2pctl_fail(ctx, error);
	}
	/* Fail before accepting anything rather than after the file arrived. */
	if (faccessat(dir_fd, ".", W_OK, AT_EACCESS) < 0) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot write to \"%s\": %s", edir,
		            g_strerror(errno));
		close(dir_fd);
		return p2pctl_fail(ctx, error);
	}

	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	if (conn == NULL) {
		close(dir_fd);
		return p2pctl_fail(ctx, error);
	}
	r.conn = conn;
	p2pctl_catch_interrupts();
	p2pctl_progress_init(&r.progress, ctx->err);

	g_autoptr(JsonNode) sub = p2pctl_call(ctx, conn, P2P_M_EVENTS_SUBSCRIBE, NULL, &status);
	if (sub == NULL)
		goto out;
	saved = check_backlog(&r, dir_fd, dir, &final_node, &error);
	if (saved == NULL && error)
		goto fail;

	/* If the backlog had an offer waiting, accept it now. */
	if (saved == NULL && r.tracked) {
		g_autoptr(JsonNode) st = p2pctl_conn_call(conn, P2P_M_TRANSFER_STATUS,
		                                          id_params(r.tracked), NULL, NULL, &error);
		g_autoptr(P2pctlTransfer) t = st ? p2pctl_transfer_from_json(st, &error) : NULL;
		if (t == NULL)
			goto fail;
		if (g_strcmp0(t->state, "offered") == 0) {
			g_autoptr(JsonNode) acc = p2pctl_conn_call(conn, P2P_M_TRANSFER_ACCEPT,
			                                           id_params(t->id), NULL, NULL, &error);
			if (acc == NULL)
				goto fail;
		}
	}
	/* Nothing to take but trees the daemon kept: say where they are, then wait. */
	if (saved == NULL && r.tracked == NULL && !ctx->json) {
		for (guint i = 0; i < skipped->len; i++) {
			g_autofree char *msg = p2pctl_escape(skipped->pdata[i]);
			fprintf(ctx->err, "p2pctl: note: %s\n", msg);
		}
	}
	if (saved == NULL && r.tracked == NULL && !ctx->json && r.progress.enabled)
		fprintf(ctx->err, "waiting for a file (Ctrl-C to stop)...\n");

	while (saved == NULL) {
		g_autofree char *method = NULL;
		g_autoptr(JsonNode) params = NULL;

		if (!p2pctl_conn_next_event(conn, -1, &method, &params, &error))
			goto fail;
		if (strcmp(method, P2P_E_FILE) != 0 && strcmp(method, P2P_E_TRANSFER_START) != 0 &&
		    strcmp(method, P2P_E_TRANSFER_PROGRESS) != 0 &&
		    strcmp(method, P2P_E_TRANSFER_PAUSED) != 0 &&
		    strcmp(method, P2P_E_TRANSFER_RESUMED) != 0 &&
		    strcmp(method, P2P_E_TRANSFER_COMPLETE) != 0 &&
		    strcmp(method, P2P_E_TRANSFER_FAILED) != 0)
			continue;
		g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(params, &error);
		if (t == NULL)
			goto fail;
		if (g_strcmp0(t->direction, "in") != 0)
			continue;
		if (r.tracked == NULL && !p2pctl_transfer_is_single_file(t))
			continue; /* a tree or several files: not recv's to accept */
		if (r.tracked == NULL)
			r.tracked = g_strdup(t->id);
		else if (strcmp(r.tracked, t->id) != 0)
			continue; /* another file: left for the next recv */

		if (strcmp(method, P2P_E_FILE) == 0 && g_strcmp0(t->state, "offered") == 0) {
			g_autoptr(JsonNode) acc = p2pctl_conn_call(conn, P2P_M_TRANSFER_ACCEPT,
			                                           id_params(t->id), NULL, NULL, &error);
			if (acc == NULL)
				goto fail;
			continue;
		}
		if (strcmp(method, P2P_E_TRANSFER_FAILED) == 0 ||
		    (p2pctl_transfer_is_final(t) && g_strcmp0(t->state, "complete") != 0)) {
			p2pctl_progress_clear(&r.progress);
			if (!p2pctl_transfer_is_final(t)) {
				g_free(t->state);
				t->state = g_strdup("failed");
			}
			status = p2pctl_report_final(ctx, t, params);
			goto out;
		}
		if (strcmp(method, P2P_E_TRANSFER_COMPLETE) == 0) {
			p2pctl_progress_clear(&r.progress);
			saved = take_and_save(&r, t->id, dir_fd, dir, FALSE, &error);
			if (saved == NULL)
				goto fail;
			final_node = g_steal_pointer(&params);
			break;
		}
		p2pctl_progress_update(&r.progress, t);
	}

	p2pctl_progress_clear(&r.progress);
	if (ctx->json) {
		/* The daemon's Transfer, plus where this run saved it. A new object: what the
		 * parser built is immutable. */
		JsonObject *o = json_object_new();
		if (final_node && JSON_NODE_HOLDS_OBJECT(final_node)) {
			JsonObject *src = json_node_get_object(final_node);
			g_autoptr(GList) members = json_object_get_members(src);
			for (GList *l = members; l; l = l->next)
				json_object_set_member(o, l->data,
				                       json_node_copy(json_object_get_member(src, l->data)));
		}
		json_object_set_string_member(o, "saved_path", saved);
		g_clear_pointer(&final_node, json_node_unref);
		final_node = p2pctl_node_take_object(o);
		p2pctl_print_json(ctx, final_node);
	} else {
		g_autofree char *esaved = p2pctl_escape(saved);
		fprintf(ctx->out, "%s\n", esaved);
	}
	status = P2PCTL_EXIT_OK;
	goto out;

fail:
	p2pctl_progress_clear(&r.progress);
	if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED))
		status = p2pctl_report_interrupt(ctx, r.tracked);
	else
		status = p2pctl_fail(ctx, error);
out:
	close(dir_fd);
	g_free(r.tracked);
	return status;
}

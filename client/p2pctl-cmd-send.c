/* p2pctl-cmd-send.c: "send PATH... PEER": open every path here, with the user's rights,
 * subscribe first (so that no event of the new transfer can be missed), then one
 * transfer.send carrying all descriptors, then follow that transfer's events until it
 * is complete (the receiver acknowledged every file) or has failed. A paused transfer
 * (session lost, a daemon restarted) is waited for: it goes on by itself. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pctl.h"

/* The id of a notification's Transfer, or NULL. */
static const char *
event_transfer_id(JsonNode *params)
{
	if (params == NULL || !JSON_NODE_HOLDS_OBJECT(params))
		return NULL;
	return json_object_get_string_member_with_default(json_node_get_object(params), "id",
	                                                   NULL);
}

/* Shared by send and recv: "interrupted", and where the transfer went. */
int
p2pctl_report_interrupt(P2pctlContext *ctx, const char *id)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *eid = id ? p2pctl_escape(id) : NULL;

	if (id)
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED,
		            "interrupted; transfer %s continues in p2pd (see 'p2pctl status %s')",
		            eid, eid);
	else
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED, "interrupted");
	return p2pctl_fail(ctx, error);
}

/* Ends a followed transfer: complete -> 0, anything else -> 4 with the reason. */
int
p2pctl_report_final(P2pctlContext *ctx, const P2pctlTransfer *t, JsonNode *node)
{
	if (g_strcmp0(t->state, "complete") == 0)
		return P2PCTL_EXIT_OK;
	if (ctx->json) {
		p2pctl_print_json(ctx, node);
	} else {
		g_autofree char *id = p2pctl_escape(t->id);
		g_autofree char *name = p2pctl_escape(t->name ? t->name : "?");
		g_autofree char *state = p2pctl_escape(t->state);
		g_autofree char *code = p2pctl_escape(t->reason_code ? t->reason_code : "unknown");
		g_autofree char *msg = p2pctl_escape(t->reason_message ? t->reason_message : "");
		fprintf(ctx->err, "p2pctl: transfer %s (%s) %s: %s%s%s\n", id, name, state, code,
		        *msg ? ": " : "", msg);
	}
	return P2PCTL_EXIT_TRANSFER;
}

/* Opens one path for transfer.send: the daemon reads only what the user could read.
 * A symlink named on the command line is followed, as users expect. */
static int
open_path(const char *path, GError **error)
{
	g_autofree char *epath = p2pctl_escape(path);
	struct stat st;

	if (strlen(path) > P2PCTL_MAX_PATH) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot send \"%.64s...\": the path is longer than %d bytes", epath,
		            P2PCTL_MAX_PATH);
		return -1;
	}
	/* Checked before open(): opening a FIFO would block, a device may act on open. */
	if (stat(path, &st) < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot open \"%s\": %s", epath,
		            g_strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot send \"%s\": not a regular file or directory", epath);
		return -1;
	}
	int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY | O_CLOEXEC
	                                : O_RDONLY | O_NOCTTY | O_CLOEXEC;
	int fd = open(path, flags);
	if (fd < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot open \"%s\": %s", epath,
		            g_strerror(errno));
		return -1;
	}
	/* The path may have been replaced between stat() and open(). */
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		close(fd);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot send \"%s\": not a regular file or directory", epath);
		return -1;
	}
	return fd;
}

static void
close_array(GArray *fds)
{
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	g_array_set_size(fds, 0);
}

/* The daemon's warnings (skipped devices, links leaving the tree): quoted from the
 * sender's own file system, escaped all the same. */
static void
print_warnings(P2pctlContext *ctx, JsonNode *result)
{
	JsonNode *w = JSON_NODE_HOLDS_OBJECT(result)
		? json_object_get_member(json_node_get_object(result), "warnings") : NULL;

	if (w == NULL || !JSON_NODE_HOLDS_ARRAY(w))
		return;
	JsonArray *a = json_node_get_array(w);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
			continue;
		g_autofree char *text = p2pctl_escape(json_node_get_string(e));
		fprintf(ctx->err, "p2pctl: warning: %s\n", text);
	}
	fflush(ctx->err);
}

int
p2pctl_cmd_send(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	const char *peer = argv[argc - 1];
	gboolean no_wait = p2pctl_opt(ctx, "no-wait") != NULL;
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	g_autoptr(JsonArray) paths = json_array_new();
	int status = P2PCTL_EXIT_OK;

	/* Absolute, normalised paths (symlinks are not resolved: the daemon names each
	 * item after the last component the user typed). All are opened before anything
	 * is sent: a typo fails the whole command, not half a transfer. */
	for (int i = 0; i < argc - 1; i++) {
		g_autofree char *path = g_canonicalize_filename(argv[i], NULL);
		int fd = open_path(path, &error);
		if (fd < 0) {
			close_array(fds);
			return p2pctl_fail(ctx, error);
		}
		g_array_append_val(fds, fd);
		json_array_add_string_element(paths, path);
	}

	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	if (conn == NULL) {
		close_array(fds);
		return p2pctl_fail(ctx, error);
	}
	p2pctl_catch_interrupts();
	if (!no_wait) {
		g_autoptr(JsonNode) sub = p2pctl_call(ctx, conn, P2P_M_EVENTS_SUBSCRIBE, NULL,
		                                      &status);
		if (sub == NULL) {
			close_array(fds);
			return status;
		}
	}
	/* Attached after the subscription: they ride with the transfer.send line itself,
	 * in the order of "paths". */
	gboolean attached = p2pctl_conn_attach_fds(conn, (const int *)fds->data, fds->len, &error);
	g_array_set_size(fds, 0);
	if (!attached)
		return p2pctl_fail(ctx, error);

	JsonObject *o = json_object_new();
	json_object_set_array_member(o, "paths", json_array_ref(paths));
	json_object_set_string_member(o, "peer", peer);
	g_clear_pointer(&ctx->error_data, json_node_unref);
	g_autoptr(JsonNode) node = p2pctl_conn_call(conn, P2P_M_TRANSFER_SEND,
	                                            p2pctl_node_take_object(o), NULL,
	                                            &ctx->error_data, &error);
	if (node == NULL) {
		if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED))
			g_prefix_error(&error, "%s", "the transfer may have started in p2pd "
			                             "(see 'p2pctl transfers'): ");
		return p2pctl_fail(ctx, error);
	}
	g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(node, &error);
	if (t == NULL)
		return p2pctl_fail(ctx, error);
	print_warnings(ctx, node);
	g_autofree char *id = g_strdup(t->id);

	if (no_wait) {
		if (ctx->json) {
			p2pctl_print_json(ctx, node);
		} else {
			g_autofree char *eid = p2pctl_escape(id);
			fprintf(ctx->out, "%s\n", eid);
		}
		return P2PCTL_EXIT_OK;
	}

	P2pctlProgress progress;
	p2pctl_progress_init(&progress, ctx->err);
	while (!p2pctl_transfer_is_final(t)) {
		g_autofree char *method = NULL;
		g_autoptr(JsonNode) params = NULL;

		if (!p2pctl_conn_next_event(conn, -1, &method, &params, &error)) {
			p2pctl_progress_clear(&progress);
			if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED))
				return p2pctl_report_interrupt(ctx, id);
			return p2pctl_fail(ctx, error);
		}
		if (g_strcmp0(event_transfer_id(params), id) != 0)
			continue;
		g_autoptr(P2pctlTransfer) next = p2pctl_transfer_from_json(params, &error);
		if (next == NULL) {
			p2pctl_progress_clear(&progress);
			return p2pctl_fail(ctx, error);
		}
		/* A complete/failed event ends the wait even if its state lags behind. */
		if (strcmp(method, P2P_E_TRANSFER_COMPLETE) == 0 && !p2pctl_transfer_is_final(next)) {
			g_free(next->state);
			next->state = g_strdup("complete");
		} else if (strcmp(method, P2P_E_TRANSFER_FAILED) == 0 &&
		           !p2pctl_transfer_is_final(next)) {
			g_free(next->state);
			next->state = g_strdup("failed");
		}
		p2pctl_transfer_free(g_steal_pointer(&t));
		t = g_steal_pointer(&next);
		g_clear_pointer(&node, json_node_unref);
		node = g_steal_pointer(&params);
		if (!p2pctl_transfer_is_final(t))
			p2pctl_progress_update(&progress, t);
	}
	p2pctl_progress_clear(&progress);

	if (g_strcmp0(t->state, "complete") != 0)
		return p2pctl_report_final(ctx, t, node);
	if (ctx->json) {
		p2pctl_print_json(ctx, node);
	} else {
		g_autofree char *first = g_path_get_basename(
			json_array_get_string_element(paths, 0));
		g_autofree char *line = p2pctl_format_sent(t, first, peer);
		fprintf(ctx->out, "%s\n", line);
	}
	return P2PCTL_EXIT_OK;
}

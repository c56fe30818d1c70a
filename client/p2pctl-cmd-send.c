/* p2pctl-cmd-send.c: "send FILE PEER": subscribe first (so that no event of the new
 * transfer can be missed), then transfer.send, then follow that transfer's events
 * until it is complete (the receiver acknowledged the SHA-256) or has failed. */
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

int
p2pctl_cmd_send(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_canonicalize_filename(argv[0], NULL);
	const char *peer = argv[1];
	struct stat st = { 0 };
	int status = P2PCTL_EXIT_OK;

	/* The file is opened here, with the user's rights, and handed to the daemon open:
	 * p2pd reads only what the user could read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = fd < 0 ? -1 : fstat(fd, &st);
	int saved_errno = errno;
	if (rc < 0 || !S_ISREG(st.st_mode)) {
		const char *why = rc < 0 ? g_strerror(saved_errno) : "not a regular file";
		g_autofree char *epath = p2pctl_escape(path);
		if (fd >= 0)
			close(fd);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot send \"%s\": %s", epath,
		            why);
		return p2pctl_fail(ctx, error);
	}

	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	if (conn == NULL) {
		close(fd);
		return p2pctl_fail(ctx, error);
	}
	/* the daemon keeps it for the transfer.send on this connection */
	p2pctl_conn_attach_fd(conn, fd);
	p2pctl_catch_interrupts();
	g_autoptr(JsonNode) sub = p2pctl_call(ctx, conn, P2P_M_EVENTS_SUBSCRIBE, NULL, &status);
	if (sub == NULL)
		return status;

	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "path", path);
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
	g_autofree char *id = g_strdup(t->id);

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
		g_autofree char *name = p2pctl_escape(t->name ? t->name : path);
		g_autofree char *epeer = p2pctl_escape(t->peer ? t->peer : peer);
		g_autofree char *sha = p2pctl_escape(t->sha256 ? t->sha256 : "(not reported)");
		fprintf(ctx->out, "sent %s to %s: %" G_GUINT64_FORMAT " bytes, sha256 %s, "
		        "verified by the receiver\n", name, epeer, t->size, sha);
	}
	return P2PCTL_EXIT_OK;
}

/* p2pctl-cmd-watch.c: "watch": subscribe and print every event until interrupted. */
#include "config.h"

#include "p2pctl.h"

int
p2pctl_cmd_watch(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	p2pctl_catch_interrupts();
	g_autoptr(JsonNode) sub = p2pctl_call(ctx, conn, P2P_M_EVENTS_SUBSCRIBE, NULL, &status);
	if (sub == NULL)
		return status;

	for (;;) {
		g_autofree char *method = NULL;
		g_autoptr(JsonNode) params = NULL;

		if (!p2pctl_conn_next_event(conn, -1, &method, &params, &error)) {
			/* Ctrl-C is how watch is meant to end. */
			if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED))
				return P2PCTL_EXIT_OK;
			return p2pctl_fail(ctx, error);
		}
		if (ctx->json) {
			JsonObject *o = json_object_new();
			json_object_set_string_member(o, "event", method);
			json_object_set_member(o, "params", params ? json_node_copy(params)
			                                           : json_node_new(JSON_NODE_NULL));
			g_autoptr(JsonNode) line = json_node_init_object(json_node_alloc(), o);
			json_object_unref(o);
			p2pctl_print_json(ctx, line);
		} else {
			g_autofree char *text = p2pctl_format_event(method, params);
			fprintf(ctx->out, "%s\n", text);
			fflush(ctx->out);
		}
	}
}

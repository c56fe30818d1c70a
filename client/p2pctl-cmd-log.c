/* p2pctl-cmd-log.c: "log-level" (log.set-level). */
#include "config.h"

#include "p2p-log.h"
#include "p2pctl.h"

int
p2pctl_cmd_log_level(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	int status = P2PCTL_EXIT_OK;

	if (!p2p_log_level_valid(argv[0])) {
		error = g_error_new(P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		                    "log-level: \"%s\" is not " P2P_LOG_LEVELS, argv[0]);
		return p2pctl_fail(ctx, error);
	}
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	JsonObject *params = json_object_new();
	json_object_set_string_member(params, "level", argv[0]);
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, P2P_M_LOG_LEVEL,
	                                         p2pctl_node_take_object(params), &status);
	if (result == NULL)
		return status;
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	const char *previous = NULL;
	if (JSON_NODE_HOLDS_OBJECT(result))
		previous = json_object_get_string_member_with_default(json_node_get_object(result),
		                                                      "previous", NULL);
	g_autofree char *prev = p2pctl_escape(previous ? previous : "-");
	fprintf(ctx->out, "log level %s (was %s)\n", argv[0], prev);
	return P2PCTL_EXIT_OK;
}

/* p2pctl-cmd-info.c: "info" (daemon.info) and "list" (peers.list). */
#include "config.h"

#include <string.h>

#include "p2pctl.h"

/* Members shown to humans: a wrong type shows as absent rather than aborting, since
 * --json prints the object exactly as received anyway. */
static const char *
member_string(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
		return json_node_get_string(n);
	return NULL;
}

static JsonObject *
member_object(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static gboolean
member_number(JsonObject *o, const char *name, double *out)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return FALSE;
	if (json_node_get_value_type(n) == G_TYPE_DOUBLE)
		*out = json_node_get_double(n);
	else if (json_node_get_value_type(n) == G_TYPE_INT64)
		*out = (double)json_node_get_int(n);
	else
		return FALSE;
	return TRUE;
}

static void
print_kv(FILE *out, const char *key, const char *value)
{
	g_autofree char *v = p2pctl_escape(value ? value : "-");
	fprintf(out, "%-12s %s\n", key, v);
}

static gboolean
result_object(P2pctlContext *ctx, JsonNode *result, const char *method, int *status)
{
	if (JSON_NODE_HOLDS_OBJECT(result))
		return TRUE;
	g_autoptr(GError) error = g_error_new(P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
	                                      "p2pd answered \"%s\" with something other "
	                                      "than an object", method);
	*status = p2pctl_fail(ctx, error);
	return FALSE;
}

int
p2pctl_cmd_info(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, P2P_M_DAEMON_INFO, NULL, &status);
	if (result == NULL)
		return status;
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	if (!result_object(ctx, result, P2P_M_DAEMON_INFO, &status))
		return status;

	JsonObject *o = json_node_get_object(result);
	JsonObject *sig = member_object(o, "signaling");
	const char *server = member_string(sig, "server");
	const char *state = member_string(sig, "state");
	g_autofree char *signaling = g_strdup_printf("%s%s%s%s", state ? state : "unknown",
	                                             server ? " (" : "", server ? server : "",
	                                             server ? ")" : "");
	print_kv(ctx->out, "agent:", member_string(o, "agent"));
	print_kv(ctx->out, "fingerprint:", member_string(o, "fingerprint"));
	print_kv(ctx->out, "version:", member_string(o, "version"));
	print_kv(ctx->out, "signaling:", signaling);
	if (member_string(sig, "error"))
		print_kv(ctx->out, "last error:", member_string(sig, "error"));
	print_kv(ctx->out, "save dir:", member_string(o, "save_dir"));
	print_kv(ctx->out, "state dir:", member_string(o, "state_dir"));
	JsonNode *up = json_object_get_member(o, "uptime");
	if (up && JSON_NODE_HOLDS_VALUE(up) && json_node_get_value_type(up) == G_TYPE_INT64) {
		g_autofree char *d = p2pctl_format_duration((double)json_node_get_int(up));
		print_kv(ctx->out, "uptime:", d);
	}
	return P2PCTL_EXIT_OK;
}

static const char *
member_bool_text(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN)
		return json_node_get_boolean(n) ? "yes" : "no";
	return NULL;
}

int
p2pctl_cmd_list(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, P2P_M_PEERS_LIST, NULL, &status);
	if (result == NULL)
		return status;
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	if (!result_object(ctx, result, P2P_M_PEERS_LIST, &status))
		return status;

	JsonNode *peers = json_object_get_member(json_node_get_object(result), "peers");
	if (peers == NULL || !JSON_NODE_HOLDS_ARRAY(peers)) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd's answer to \"%s\" lacks the \"peers\" array", P2P_M_PEERS_LIST);
		return p2pctl_fail(ctx, error);
	}
	JsonArray *a = json_node_get_array(peers);
	if (json_array_get_length(a) == 0) {
		fprintf(ctx->out, "no peers visible\n");
		return P2PCTL_EXIT_OK;
	}
	g_autoptr(P2pctlTable) table = p2pctl_table_new(9, "PEER", "ONLINE", "SESSION",
	                                                "FINGERPRINT", "PINNED", "RTT", "IN",
	                                                "OUT", "PATH");
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);
		if (!JSON_NODE_HOLDS_OBJECT(n))
			continue;
		JsonObject *p = json_node_get_object(n);
		const char *fp = member_string(p, "fingerprint");
		/* 16 hex digits (64 bits) tell keys apart at a glance; --json has them all. */
		g_autofree char *short_fp = fp && strlen(fp) > 16 ? g_strdup_printf("%.16s...", fp)
		                                                  : g_strdup(fp);
		JsonObject *link = member_object(p, "link");
		double v;
		g_autofree char *rtt = member_number(link, "rtt_ms", &v) ? p2pctl_format_rtt(v) : NULL;
		g_autofree char *rin = member_number(link, "rate_in", &v) ? p2pctl_format_rate(v)
		                                                          : NULL;
		g_autofree char *rout = member_number(link, "rate_out", &v) ? p2pctl_format_rate(v)
		                                                            : NULL;
		p2pctl_table_add(table, member_string(p, "id"), member_bool_text(p, "online"),
		                 member_string(p, "session"), short_fp,
		                 member_bool_text(p, "pinned"), rtt, rin, rout,
		                 member_string(p, "path"));
	}
	p2pctl_table_print(table, ctx->out);
	return P2PCTL_EXIT_OK;
}

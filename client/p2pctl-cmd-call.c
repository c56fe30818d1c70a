/* p2pctl-cmd-call.c: "call", "answer", "hangup" and "calls" (call.start, call.answer,
 * call.hangup, call.list), and the one-line form of call events for watch. The call
 * itself runs in the browser, on the page p2pd serves on loopback: these commands
 * open it (xdg-open) or print its one-time link. */
#include "config.h"

#include <string.h>

#include "p2pctl.h"

static const char *
member(JsonNode *n, const char *name)
{
	if (n == NULL || !JSON_NODE_HOLDS_OBJECT(n))
		return NULL;
	return json_object_get_string_member_with_default(json_node_get_object(n), name, NULL);
}

/* xdg-open, when there is a graphical session for it to open a browser in: on a text
 * console it would start a text browser, which has no WebRTC. */
static char *
find_opener(void)
{
	const char *x = g_getenv("DISPLAY");
	const char *w = g_getenv("WAYLAND_DISPLAY");
	if ((x == NULL || *x == '\0') && (w == NULL || *w == '\0'))
		return NULL;
	return g_find_program_in_path("xdg-open");
}

/* Opens url in the default browser when xdg-open can and --no-open was not given;
 * otherwise the user opens it. The link holds a one-time token: it goes to stdout,
 * never into a log. */
static void
open_page(P2pctlContext *ctx, const char *what, JsonNode *result)
{
	const char *url = member(result, "url");
	const char *id = member(result, "call");
	g_autofree char *eid = p2pctl_escape(id ? id : "?");
	g_autofree char *peer = p2pctl_escape(member(result, "peer") ? member(result, "peer") : "?");
	g_autofree char *xdg = p2pctl_opt(ctx, "no-open") ? NULL : find_opener();
	g_autoptr(GError) error = NULL;

	if (url && xdg) {
		char *argv[] = { xdg, (char *)url, NULL };
		if (g_spawn_async(NULL, argv, NULL,
		                  G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
		                  NULL, &error)) {
			if (!ctx->json)
				fprintf(ctx->out, "%s %s (call %s): the call page opens in your browser\n",
				        what, peer, eid);
			return;
		}
		fprintf(ctx->err, "p2pctl: cannot run xdg-open: %s\n", error->message);
	}
	if (!ctx->json)
		fprintf(ctx->out, "%s %s (call %s): open this link in a browser (it works once):\n%s\n",
		        what, peer, eid, url ? url : "?");
}

static int
call_verb(P2pctlContext *ctx, const char *method, JsonObject *params, const char *what)
{
	g_autoptr(GError) error = NULL;
	int status = P2PCTL_EXIT_OK;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);

	if (conn == NULL) {
		json_object_unref(params);
		return p2pctl_fail(ctx, error);
	}
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, method, p2pctl_node_take_object(params),
	                                         &status);
	if (result == NULL)
		return status;
	if (ctx->json)
		p2pctl_print_json(ctx, result);
	if (what) {
		open_page(ctx, what, result);
	} else if (!ctx->json) {
		g_autofree char *id = p2pctl_escape(member(result, "call") ? member(result, "call") : "?");
		g_autofree char *peer = p2pctl_escape(member(result, "peer") ? member(result, "peer") : "?");
		fprintf(ctx->out, "hung up call %s with %s\n", id, peer);
	}
	return P2PCTL_EXIT_OK;
}

int
p2pctl_cmd_call(int argc, char **argv, P2pctlContext *ctx)
{
	JsonObject *params = json_object_new();
	json_object_set_string_member(params, "peer", argv[0]);
	return call_verb(ctx, P2P_M_CALL_START, params, "calling");
}

int
p2pctl_cmd_answer(int argc, char **argv, P2pctlContext *ctx)
{
	JsonObject *params = json_object_new();
	if (argc > 0)
		json_object_set_string_member(params, "call", argv[0]);
	return call_verb(ctx, P2P_M_CALL_ANSWER, params, "answering");
}

int
p2pctl_cmd_hangup(int argc, char **argv, P2pctlContext *ctx)
{
	JsonObject *params = json_object_new();
	if (argc > 0)
		json_object_set_string_member(params, "call", argv[0]);
	return call_verb(ctx, P2P_M_CALL_HANGUP, params, NULL);
}

/* "active, connected, direct, 312 frames" / "ended: hangup (bob hung up)" */
static char *
call_state_text(JsonObject *o)
{
	const char *state = json_object_get_string_member_with_default(o, "state", "?");
	const char *reason = json_object_get_string_member_with_default(o, "reason", NULL);
	const char *message = json_object_get_string_member_with_default(o, "message", NULL);
	const char *conn = json_object_get_string_member_with_default(o, "connection", NULL);
	const char *path = json_object_get_string_member_with_default(o, "path", NULL);
	GString *s = g_string_new(state);

	if (reason)
		g_string_append_printf(s, ": %s%s%s%s", reason, message ? " (" : "",
		                       message ? message : "", message ? ")" : "");
	else {
		if (!json_object_get_boolean_member_with_default(o, "page", FALSE))
			g_string_append(s, ", page not open");
		if (conn)
			g_string_append_printf(s, ", %s", conn);
		if (path)
			g_string_append_printf(s, ", %s", path);
	}
	g_autofree char *raw = g_string_free(s, FALSE);
	return p2pctl_escape(raw);
}

int
p2pctl_cmd_calls(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	int status = P2PCTL_EXIT_OK;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, P2P_M_CALL_LIST, NULL, &status);
	if (result == NULL)
		return status;
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	JsonNode *calls = JSON_NODE_HOLDS_OBJECT(result)
	                      ? json_object_get_member(json_node_get_object(result), "calls") : NULL;
	if (calls == NULL || !JSON_NODE_HOLDS_ARRAY(calls)) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "call.list: the daemon's answer has no calls array");
		return p2pctl_fail(ctx, error);
	}
	g_autoptr(P2pctlTable) table = p2pctl_table_new(5, "CALL", "DIRECTION", "PEER", "STARTED",
	                                                "STATE");
	JsonArray *a = json_node_get_array(calls);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);
		if (!JSON_NODE_HOLDS_OBJECT(n))
			continue;
		JsonObject *o = json_node_get_object(n);
		g_autofree char *started = p2pctl_format_time(
			json_object_get_double_member_with_default(o, "started", 0));
		g_autofree char *state = call_state_text(o);
		p2pctl_table_add(table, member(n, "call"), member(n, "direction"), member(n, "peer"),
		                 started, state);
	}
	p2pctl_table_print(table, ctx->out);
	return P2PCTL_EXIT_OK;
}

char *
p2pctl_format_call_event(const char *method, JsonNode *params)
{
	g_autofree char *emethod = p2pctl_escape(method);
	if (params == NULL || !JSON_NODE_HOLDS_OBJECT(params))
		return g_strdup_printf("%s (unreadable)", emethod);
	JsonObject *o = json_node_get_object(params);
	g_autofree char *id = p2pctl_escape(member(params, "call") ? member(params, "call") : "?");
	g_autofree char *peer = p2pctl_escape(member(params, "peer") ? member(params, "peer") : "?");
	gboolean in = g_strcmp0(member(params, "direction"), "in") == 0;
	g_autofree char *state = call_state_text(o);

	if (strcmp(method, P2P_E_CALL_INCOMING) == 0)
		return g_strdup_printf("%s %s from %s (p2pctl answer %s)", emethod, id, peer, id);
	return g_strdup_printf("%s %s %s %s: %s", emethod, id, in ? "from" : "to", peer, state);
}

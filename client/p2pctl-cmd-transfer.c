/* p2pctl-cmd-transfer.c: "status", "transfers", "accept", "reject" and "cancel": one
 * call each and a human rendering of the Transfer objects they return. */
#include "config.h"

#include <string.h>

#include "p2pctl.h"

/* {"id"} plus one optional string member ("reason", "output"). */
static JsonNode *
id_params(const char *id, const char *member, const char *value)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "id", id);
	if (member && value)
		json_object_set_string_member(o, member, value);
	return p2pctl_node_take_object(o);
}

int
p2pctl_print_transfer_list(P2pctlContext *ctx, JsonNode *result)
{
	g_autoptr(GError) error = NULL;

	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	JsonNode *list = JSON_NODE_HOLDS_OBJECT(result)
		? json_object_get_member(json_node_get_object(result), "transfers") : NULL;
	if (list == NULL || !JSON_NODE_HOLDS_ARRAY(list)) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd's answer to \"%s\" lacks the \"transfers\" array",
		            P2P_M_TRANSFER_LIST);
		return p2pctl_fail(ctx, error);
	}
	JsonArray *a = json_node_get_array(list);
	if (json_array_get_length(a) == 0) {
		fprintf(ctx->out, "no transfers\n");
		return P2PCTL_EXIT_OK;
	}
	g_autoptr(P2pctlTable) table = p2pctl_table_new(8, "ID", "DIR", "PEER", "STATE", "FILES",
	                                                "SIZE", "DONE", "NAME");
	g_autoptr(GPtrArray) offers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autoptr(P2pctlTransfer) t =
			p2pctl_transfer_from_json(json_array_get_element(a, i), &error);
		if (t == NULL)
			return p2pctl_fail(ctx, error);
		g_autofree char *size = p2pctl_format_size(t->size);
		g_autofree char *done = g_strdup_printf(
			"%u%%", t->size ? (guint)(MIN(t->bytes, t->size) * 100 / t->size)
			                : (g_strcmp0(t->state, "complete") == 0 ? 100u : 0u));
		g_autofree char *files = t->files >= 0
			? g_strdup_printf("%" G_GINT64_FORMAT "%s", t->files,
			                  t->dirs > 0 || t->links > 0 ? "+" : "")
			: NULL;
		g_autofree char *state = p2pctl_transfer_state_text(t);
		p2pctl_table_add(table, t->id, t->direction, t->peer, state, files, size, done,
		                 t->name);
		if (g_strcmp0(t->direction, "in") == 0 && g_strcmp0(t->state, "offered") == 0)
			g_ptr_array_add(offers, p2pctl_escape(t->id));
	}
	p2pctl_table_print(table, ctx->out);
	/* An offer that waits for a decision is the one row that asks something of the
	 * user: say how to answer it (on stderr, the table stays a table). */
	if (offers->len > 0) {
		const char *example = offers->pdata[0];
		fflush(ctx->out); /* after the table, also when both go to one terminal */
		fprintf(ctx->err, "%u incoming offer%s wait%s for a decision: "
		        "'p2pctl accept %s' or 'p2pctl reject %s'\n", offers->len,
		        offers->len == 1 ? "" : "s", offers->len == 1 ? "s" : "", example, example);
	}
	return P2PCTL_EXIT_OK;
}

static int
list_transfers(P2pctlContext *ctx, gboolean all)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	JsonObject *o = json_object_new();
	if (all)
		json_object_set_boolean_member(o, "all", TRUE);
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, P2P_M_TRANSFER_LIST,
	                                         p2pctl_node_take_object(o),
	                                         &status);
	if (result == NULL)
		return status;
	return p2pctl_print_transfer_list(ctx, result);
}

/* One call with {"id":..} whose result is a Transfer, printed as key: value lines. */
static int
transfer_call(P2pctlContext *ctx, const char *method, JsonNode *params, const char *verb)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;

	if (conn == NULL) {
		json_node_unref(params);
		return p2pctl_fail(ctx, error);
	}
	g_autoptr(JsonNode) result = p2pctl_call(ctx, conn, method, params, &status);
	if (result == NULL)
		return status;
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(result, &error);
	if (t == NULL)
		return p2pctl_fail(ctx, error);
	if (verb) {
		g_autofree char *line = p2pctl_format_verb_result(verb, t);
		fprintf(ctx->out, "%s\n", line);
	} else {
		g_autofree char *text = p2pctl_transfer_describe(t);
		fputs(text, ctx->out);
	}
	return P2PCTL_EXIT_OK;
}

int
p2pctl_cmd_status(int argc, char **argv, P2pctlContext *ctx)
{
	if (argc == 0)
		return list_transfers(ctx, FALSE);
	return transfer_call(ctx, P2P_M_TRANSFER_STATUS, id_params(argv[0], NULL, NULL), NULL);
}

int
p2pctl_cmd_transfers(int argc, char **argv, P2pctlContext *ctx)
{
	return list_transfers(ctx, p2pctl_opt(ctx, "all") != NULL);
}

int
p2pctl_cmd_accept(int argc, char **argv, P2pctlContext *ctx)
{
	const char *output = p2pctl_opt(ctx, "output");
	g_autofree char *abs = NULL;

	if (output) {
		if (*output == '\0') {
			g_autoptr(GError) error = NULL;
			g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
			            "option --output needs a non-empty directory");
			return p2pctl_fail(ctx, error);
		}
		/* the daemon needs an absolute path; it checks that it is a writable
		 * directory the caller owns */
		abs = g_canonicalize_filename(output, NULL);
	}
	return transfer_call(ctx, P2P_M_TRANSFER_ACCEPT, id_params(argv[0], "output", abs),
	                     "accepted");
}

int
p2pctl_cmd_reject(int argc, char **argv, P2pctlContext *ctx)
{
	return transfer_call(ctx, P2P_M_TRANSFER_REJECT,
	                     id_params(argv[0], "reason", p2pctl_opt(ctx, "reason")), "rejected");
}

int
p2pctl_cmd_cancel(int argc, char **argv, P2pctlContext *ctx)
{
	return transfer_call(ctx, P2P_M_TRANSFER_CANCEL,
	                     id_params(argv[0], "reason", p2pctl_opt(ctx, "reason")), "cancelled");
}

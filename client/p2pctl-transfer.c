/* p2pctl-transfer.c: the Transfer object of the control protocol: decoding with type
 * checks, and its human forms (status lines, one-line events for watch). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "p2pctl.h"

void
p2pctl_transfer_free(P2pctlTransfer *t)
{
	if (t == NULL)
		return;
	g_free(t->id);
	g_free(t->direction);
	g_free(t->peer);
	g_free(t->name);
	g_free(t->state);
	g_free(t->sha256);
	g_free(t->path);
	g_free(t->reason_code);
	g_free(t->reason_message);
	g_free(t);
}

static gboolean
get_string(JsonObject *o, const char *member, gboolean required, char **out, GError **error)
{
	JsonNode *n = json_object_get_member(o, member);

	if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
		if (!required)
			return TRUE;
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "transfer from p2pd lacks member \"%s\"", member);
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "transfer member \"%s\" from p2pd is not a string", member);
		return FALSE;
	}
	*out = g_strdup(json_node_get_string(n));
	return TRUE;
}

static gboolean
get_number(JsonObject *o, const char *member, double *out, GError **error)
{
	JsonNode *n = json_object_get_member(o, member);

	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return TRUE;
	if (JSON_NODE_HOLDS_VALUE(n)) {
		GType t = json_node_get_value_type(n);
		if (t == G_TYPE_INT64) {
			*out = (double)json_node_get_int(n);
			return TRUE;
		}
		if (t == G_TYPE_DOUBLE) {
			*out = json_node_get_double(n);
			return TRUE;
		}
	}
	g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
	            "transfer member \"%s\" from p2pd is not a number", member);
	return FALSE;
}

static gboolean
get_uint(JsonObject *o, const char *member, guint64 *out, GError **error)
{
	JsonNode *n = json_object_get_member(o, member);

	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64 ||
	    json_node_get_int(n) < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "transfer member \"%s\" from p2pd is not a non-negative integer", member);
		return FALSE;
	}
	*out = (guint64)json_node_get_int(n);
	return TRUE;
}

P2pctlTransfer *
p2pctl_transfer_from_json(JsonNode *node, GError **error)
{
	g_autoptr(P2pctlTransfer) t = g_new0(P2pctlTransfer, 1);

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd sent a transfer that is not a JSON object");
		return NULL;
	}
	JsonObject *o = json_node_get_object(node);
	if (!get_string(o, "id", TRUE, &t->id, error) ||
	    !get_string(o, "state", TRUE, &t->state, error) ||
	    !get_string(o, "direction", FALSE, &t->direction, error) ||
	    !get_string(o, "peer", FALSE, &t->peer, error) ||
	    !get_string(o, "name", FALSE, &t->name, error) ||
	    !get_string(o, "sha256", FALSE, &t->sha256, error) ||
	    !get_string(o, "path", FALSE, &t->path, error) ||
	    !get_uint(o, "size", &t->size, error) || !get_uint(o, "bytes", &t->bytes, error) ||
	    !get_number(o, "started", &t->started, error) ||
	    !get_number(o, "finished", &t->finished, error) ||
	    !get_number(o, "rate", &t->rate, error))
		return NULL;

	JsonNode *reason = json_object_get_member(o, "reason");
	if (reason && JSON_NODE_HOLDS_OBJECT(reason)) {
		JsonObject *r = json_node_get_object(reason);
		if (!get_string(r, "code", FALSE, &t->reason_code, error) ||
		    !get_string(r, "message", FALSE, &t->reason_message, error))
			return NULL;
	} else if (reason && !JSON_NODE_HOLDS_NULL(reason)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "transfer member \"reason\" from p2pd is not an object");
		return NULL;
	}
	return g_steal_pointer(&t);
}

gboolean
p2pctl_transfer_is_final(const P2pctlTransfer *t)
{
	static const char *const final[] = { "complete", "failed", "rejected", "cancelled" };

	for (guint i = 0; i < G_N_ELEMENTS(final); i++)
		if (g_strcmp0(t->state, final[i]) == 0)
			return TRUE;
	return FALSE;
}

static void
add_line(GString *s, const char *key, const char *value)
{
	g_autofree char *v = p2pctl_escape(value);
	g_string_append_printf(s, "%-10s %s\n", key, v);
}

/* "too-large: file is 20 MiB, the limit is 10 MiB" (unescaped; callers escape) */
static char *
reason_text(const P2pctlTransfer *t)
{
	if (t->reason_code && t->reason_message && *t->reason_message)
		return g_strdup_printf("%s: %s", t->reason_code, t->reason_message);
	if (t->reason_code)
		return g_strdup(t->reason_code);
	if (t->reason_message)
		return g_strdup(t->reason_message);
	return NULL;
}

char *
p2pctl_transfer_describe(const P2pctlTransfer *t)
{
	GString *s = g_string_new(NULL);
	g_autofree char *size = p2pctl_format_size(t->size);
	g_autofree char *sizeline = g_strdup_printf("%s (%" G_GUINT64_FORMAT " bytes)", size,
	                                            t->size);
	g_autofree char *progress = g_strdup_printf(
		"%u%% (%" G_GUINT64_FORMAT " bytes)",
		t->size ? (guint)(MIN(t->bytes, t->size) * 100 / t->size)
		        : (p2pctl_transfer_is_final(t) ? 100u : 0u),
		t->bytes);
	g_autofree char *rate = p2pctl_format_rate(t->rate);
	g_autofree char *reason = reason_text(t);

	add_line(s, "id:", t->id);
	add_line(s, "direction:", g_strcmp0(t->direction, "in") == 0 ? "in (receiving)"
	                          : g_strcmp0(t->direction, "out") == 0 ? "out (sending)"
	                                                                : t->direction);
	add_line(s, "peer:", t->peer);
	add_line(s, "name:", t->name);
	add_line(s, "state:", t->state);
	add_line(s, "size:", sizeline);
	add_line(s, "progress:", progress);
	if (t->rate > 0)
		add_line(s, "rate:", rate);
	if (t->sha256)
		add_line(s, "sha256:", t->sha256);
	if (t->path)
		add_line(s, "path:", t->path);
	if (reason)
		add_line(s, "reason:", reason);
	if (t->started > 0) {
		g_autofree char *when = p2pctl_format_time(t->started);
		add_line(s, "started:", when);
	}
	if (t->finished > 0) {
		g_autofree char *when = p2pctl_format_time(t->finished);
		add_line(s, "finished:", when);
		if (t->started > 0 && t->finished >= t->started) {
			g_autofree char *took = p2pctl_format_duration(t->finished - t->started);
			add_line(s, "duration:", took);
		}
	}
	return g_string_free(s, FALSE);
}

static char *
describe_peer_event(const char *method, JsonNode *params)
{
	const char *id = NULL, *fp = NULL;

	if (params && JSON_NODE_HOLDS_OBJECT(params)) {
		JsonObject *o = json_node_get_object(params);
		id = json_object_get_string_member_with_default(o, "id", NULL);
		fp = json_object_get_string_member_with_default(o, "fingerprint", NULL);
	}
	g_autofree char *eid = p2pctl_escape(id ? id : "?");
	g_autofree char *efp = p2pctl_escape(fp ? fp : "?");
	return g_strdup_printf("%s %s (%.16s)", strcmp(method, P2P_E_PEER_ONLINE) == 0
	                                            ? "peer online:" : "peer offline:",
	                       eid, efp);
}

static char *
describe_error_event(JsonNode *params)
{
	const char *message = NULL, *peer = NULL;

	if (params && JSON_NODE_HOLDS_OBJECT(params)) {
		JsonObject *o = json_node_get_object(params);
		message = json_object_get_string_member_with_default(o, "message", NULL);
		peer = json_object_get_string_member_with_default(o, "peer", NULL);
	}
	g_autofree char *em = p2pctl_escape(message ? message : "(no message)");
	if (peer) {
		g_autofree char *ep = p2pctl_escape(peer);
		return g_strdup_printf("error from %s: %s", ep, em);
	}
	return g_strdup_printf("error: %s", em);
}

char *
p2pctl_format_event(const char *method, JsonNode *params)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *stamp = g_date_time_format(now, "%H:%M:%S");
	g_autofree char *body = NULL;

	if (strcmp(method, P2P_E_PEER_ONLINE) == 0 || strcmp(method, P2P_E_PEER_OFFLINE) == 0) {
		body = describe_peer_event(method, params);
	} else if (strcmp(method, P2P_E_ERROR) == 0) {
		body = describe_error_event(params);
	} else {
		g_autoptr(GError) error = NULL;
		g_autoptr(P2pctlTransfer) t = p2pctl_transfer_from_json(params, &error);
		g_autofree char *emethod = p2pctl_escape(method);
		if (t == NULL) {
			body = g_strdup_printf("%s (unreadable: %s)", emethod, error->message);
		} else {
			gboolean in = g_strcmp0(t->direction, "in") == 0;
			g_autofree char *id = p2pctl_escape(t->id);
			g_autofree char *name = p2pctl_escape(t->name ? t->name : "?");
			g_autofree char *peer = p2pctl_escape(t->peer ? t->peer : "?");
			g_autofree char *size = p2pctl_format_size(t->size);
			g_autofree char *reason = reason_text(t);
			g_autofree char *ereason = reason ? p2pctl_escape(reason) : NULL;
			GString *s = g_string_new(NULL);

			g_string_append_printf(s, "%s %s %s %s: %s (%s) %s", emethod, id,
			                       in ? "from" : "to", peer, name, size, t->state);
			if (strcmp(method, P2P_E_TRANSFER_PROGRESS) == 0 && t->size > 0) {
				g_autofree char *rate = p2pctl_format_rate(t->rate);
				g_string_append_printf(s, " %u%% %s",
				                       (guint)(MIN(t->bytes, t->size) * 100 / t->size),
				                       rate);
			}
			if (t->sha256 && strcmp(method, P2P_E_TRANSFER_COMPLETE) == 0) {
				g_autofree char *sha = p2pctl_escape(t->sha256);
				g_string_append_printf(s, " sha256 %s", sha);
			}
			if (ereason)
				g_string_append_printf(s, " (%s)", ereason);
			body = g_string_free(s, FALSE);
		}
	}
	return g_strdup_printf("%s %s", stamp, body);
}

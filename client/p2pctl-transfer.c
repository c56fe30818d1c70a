/* p2pctl-transfer.c: the Transfer object of the control protocol: decoding with type
 * checks, and its human forms (status lines, one-line events for watch). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "p2pctl.h"
#include "p2pctl-chat.h"

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
	g_free(t->output);
	g_strfreev(t->items);
	g_strfreev(t->paths);
	g_free(t->reason_code);
	g_free(t->reason_message);
	g_free(t->link_path);
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

/* A count the daemon may leave out (older p2pd): -1 then. */
static gboolean
get_count(JsonObject *o, const char *member, gint64 *out, GError **error)
{
	guint64 v = 0;

	*out = -1;
	if (json_object_get_member(o, member) == NULL)
		return TRUE;
	if (!get_uint(o, member, &v, error))
		return FALSE;
	*out = (gint64)MIN(v, (guint64)G_MAXINT64);
	return TRUE;
}

/* An array of strings; the length is bounded by the line limit of the connection. */
static gboolean
get_strv(JsonObject *o, const char *member, GStrv *out, GError **error)
{
	JsonNode *n = json_object_get_member(o, member);

	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return TRUE;
	if (JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *a = json_node_get_array(n);
		guint len = json_array_get_length(a);
		g_autoptr(GPtrArray) v = g_ptr_array_new_null_terminated(len, g_free, TRUE);
		guint i;
		for (i = 0; i < len; i++) {
			JsonNode *e = json_array_get_element(a, i);
			if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
				break;
			g_ptr_array_add(v, g_strdup(json_node_get_string(e)));
		}
		if (i == len) {
			*out = (GStrv)g_ptr_array_steal(v, NULL);
			return TRUE;
		}
	}
	g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
	            "transfer member \"%s\" from p2pd is not an array of strings", member);
	return FALSE;
}

P2pctlTransfer *
p2pctl_transfer_from_json(JsonNode *node, GError **error)
{
	g_autoptr(P2pctlTransfer) t = g_new0(P2pctlTransfer, 1);

	t->files = t->dirs = t->links = t->wire_bytes = -1;
	t->link_rtt_ms = t->link_rate_in = t->link_rate_out = -1;

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
	    !get_string(o, "output", FALSE, &t->output, error) ||
	    !get_strv(o, "items", &t->items, error) ||
	    !get_strv(o, "paths", &t->paths, error) ||
	    !get_count(o, "files", &t->files, error) ||
	    !get_count(o, "dirs", &t->dirs, error) ||
	    !get_count(o, "links", &t->links, error) ||
	    !get_count(o, "wire_bytes", &t->wire_bytes, error) ||
	    !get_uint(o, "size", &t->size, error) || !get_uint(o, "bytes", &t->bytes, error) ||
	    !get_number(o, "started", &t->started, error) ||
	    !get_number(o, "finished", &t->finished, error) ||
	    !get_number(o, "duration", &t->duration, error) ||
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
	JsonNode *link = json_object_get_member(o, "link");
	if (link && JSON_NODE_HOLDS_OBJECT(link)) {
		JsonObject *l = json_node_get_object(link);
		if (!get_string(l, "path", FALSE, &t->link_path, error) ||
		    !get_number(l, "rtt_ms", &t->link_rtt_ms, error) ||
		    !get_number(l, "rate_in", &t->link_rate_in, error) ||
		    !get_number(l, "rate_out", &t->link_rate_out, error))
			return NULL;
	} else if (link && !JSON_NODE_HOLDS_NULL(link)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "transfer member \"link\" from p2pd is not an object");
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

gboolean
p2pctl_transfer_is_single_file(const P2pctlTransfer *t)
{
	return (t->files < 0 || t->files == 1) && t->dirs <= 0 && t->links <= 0;
}

static void
append_count(GString *s, gint64 n, const char *one, const char *many)
{
	if (n < 0)
		return;
	if (s->len > 0)
		g_string_append(s, ", ");
	g_string_append_printf(s, "%" G_GINT64_FORMAT " %s", n, n == 1 ? one : many);
}

char *
p2pctl_transfer_contents(const P2pctlTransfer *t)
{
	GString *s = g_string_new(NULL);

	append_count(s, t->files, "file", "files");
	/* "3 files" alone when there is nothing else: directories and links are news */
	if (t->dirs > 0)
		append_count(s, t->dirs, "directory", "directories");
	if (t->links > 0)
		append_count(s, t->links, "link", "links");
	if (s->len == 0) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

char *
p2pctl_transfer_state_text(const P2pctlTransfer *t)
{
	/* "cancelled: cancelled" says nothing twice */
	if (t->reason_code && *t->reason_code && g_strcmp0(t->reason_code, t->state) != 0)
		return g_strdup_printf("%s: %s", t->state, t->reason_code);
	return g_strdup(t->state);
}

static void
add_line(GString *s, const char *key, const char *value)
{
	g_autofree char *v = p2pctl_escape(value);
	g_string_append_printf(s, "%-12s %s\n", key, v);
}

/* Several values under one key, one per line, aligned. */
static void
add_lines(GString *s, const char *key, GStrv values)
{
	for (guint i = 0; values && values[i]; i++)
		add_line(s, i == 0 ? key : "", values[i]);
}

static void
add_bytes(GString *s, const char *key, guint64 n)
{
	g_autofree char *size = p2pctl_format_size(n);
	g_autofree char *line = n >= 1024 ? g_strdup_printf("%" G_GUINT64_FORMAT " bytes (%s)", n, size)
	                                  : g_strdup_printf("%" G_GUINT64_FORMAT " bytes", n);
	add_line(s, key, line);
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

/* Seconds the transfer took or has taken: the daemon's duration, else the timestamps. */
static double
transfer_duration(const P2pctlTransfer *t)
{
	if (t->duration > 0)
		return t->duration;
	if (t->started > 0 && t->finished >= t->started)
		return t->finished - t->started;
	return -1;
}

char *
p2pctl_transfer_describe(const P2pctlTransfer *t)
{
	GString *s = g_string_new(NULL);
	g_autofree char *progress = g_strdup_printf(
		"%u%%", t->size ? (guint)(MIN(t->bytes, t->size) * 100 / t->size)
		                : (g_strcmp0(t->state, "complete") == 0 ? 100u : 0u));
	g_autofree char *reason = reason_text(t);
	g_autofree char *contents = p2pctl_transfer_contents(t);
	double took = transfer_duration(t);

	add_line(s, "id:", t->id);
	add_line(s, "direction:", g_strcmp0(t->direction, "in") == 0 ? "in (receiving)"
	                          : g_strcmp0(t->direction, "out") == 0 ? "out (sending)"
	                                                                : t->direction);
	add_line(s, "peer:", t->peer);
	add_line(s, "name:", t->name);
	if (t->items && g_strv_length(t->items) > 1)
		add_lines(s, "items:", t->items);
	if (contents)
		add_line(s, "contents:", contents);
	add_line(s, "state:", t->state);
	if (reason)
		add_line(s, "reason:", reason);
	add_bytes(s, "size:", t->size);
	add_bytes(s, "done:", t->bytes);
	add_line(s, "progress:", progress);
	if (t->wire_bytes >= 0)
		add_bytes(s, "on the wire:", (guint64)t->wire_bytes);
	if (t->started > 0) {
		g_autofree char *when = p2pctl_format_time(t->started);
		add_line(s, "started:", when);
	}
	if (t->finished > 0) {
		g_autofree char *when = p2pctl_format_time(t->finished);
		add_line(s, "finished:", when);
	}
	if (took >= 0) {
		g_autofree char *d = p2pctl_format_duration(took);
		add_line(s, "duration:", d);
	}
	if (t->rate > 0) {
		g_autofree char *rate = p2pctl_format_rate(t->rate);
		add_line(s, "mean rate:", rate);
	}
	if (t->output)
		add_line(s, "output:", t->output);
	if (t->paths && t->paths[0])
		add_lines(s, "paths:", t->paths);
	else if (t->path)
		add_line(s, "path:", t->path);
	if (t->sha256)
		add_line(s, "sha256:", t->sha256);
	if (t->link_path)
		add_line(s, "link:", t->link_path);
	if (t->link_rtt_ms >= 0) {
		g_autofree char *rtt = p2pctl_format_rtt(t->link_rtt_ms);
		add_line(s, "rtt:", rtt);
	}
	if (t->link_rate_in >= 0 && t->link_rate_out >= 0) {
		g_autofree char *rin = p2pctl_format_rate(t->link_rate_in);
		g_autofree char *rout = p2pctl_format_rate(t->link_rate_out);
		g_autofree char *both = g_strdup_printf("in %s, out %s", rin, rout);
		add_line(s, "link rate:", both);
	}
	return g_string_free(s, FALSE);
}

char *
p2pctl_format_verb_result(const char *verb, const P2pctlTransfer *t)
{
	g_autofree char *eid = p2pctl_escape(t->id);
	g_autofree char *name = p2pctl_escape(t->name ? t->name : "?");
	g_autofree char *peer = p2pctl_escape(t->peer ? t->peer : "?");
	g_autofree char *state = p2pctl_escape(t->state);
	g_autofree char *size = p2pctl_format_size(t->size);
	g_autofree char *contents = p2pctl_transfer_contents(t);
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "%s %s: %s (%s%s%s) %s %s, now %s", verb, eid, name,
	                       contents ? contents : "", contents ? ", " : "", size,
	                       g_strcmp0(t->direction, "out") == 0 ? "to" : "from", peer, state);
	if (t->output && strcmp(verb, "accepted") == 0) {
		g_autofree char *out = p2pctl_escape(t->output);
		g_string_append_printf(s, ", saving into %s", out);
	}
	return g_string_free(s, FALSE);
}

char *
p2pctl_format_sent(const P2pctlTransfer *t, const char *fallback_name,
                   const char *fallback_peer)
{
	g_autofree char *name = p2pctl_escape(t->name ? t->name : fallback_name);
	g_autofree char *peer = p2pctl_escape(t->peer ? t->peer : fallback_peer);
	g_autofree char *contents = p2pctl_transfer_contents(t);
	g_autofree char *size = p2pctl_format_size(t->size);
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "sent %s to %s: ", name, peer);
	if (contents)
		g_string_append_printf(s, "%s, ", contents);
	g_string_append_printf(s, "%" G_GUINT64_FORMAT " bytes", t->size);
	if (t->size >= 1024)
		g_string_append_printf(s, " (%s)", size);
	if (t->sha256) {
		g_autofree char *sha = p2pctl_escape(t->sha256);
		g_string_append_printf(s, ", sha256 %s", sha);
	}
	g_string_append(s, ", verified by the receiver");
	return g_string_free(s, FALSE);
}

char *
p2pctl_format_transfer_progress(const P2pctlTransfer *t, guint width)
{
	if (g_strcmp0(t->state, "paused") == 0) {
		/* No bar: nothing moves until both sides are back. */
		g_autofree char *why = reason_text(t);
		g_autofree char *line = g_strdup_printf(
			"%s: paused: %s, waiting for %s", t->name ? t->name : "?",
			why ? why : "connection lost", t->peer ? t->peer : "the peer");
		g_autofree char *escaped = p2pctl_escape(line);
		/* the last column stays free: no auto-wrap */
		if (width > 1 && (guint)g_utf8_strlen(escaped, -1) > width - 1) {
			const char *end = g_utf8_offset_to_pointer(escaped, width > 4 ? width - 4 : 0);
			return g_strdup_printf("%.*s...", (int)(end - escaped), escaped);
		}
		return g_steal_pointer(&escaped);
	}
	return p2pctl_format_progress(t->name ? t->name : "?", t->bytes, t->size, t->rate, width);
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
	} else if (g_str_has_prefix(method, "chat_")) {
		body = p2pctl_chat_format_event(method, params);
	} else if (g_str_has_prefix(method, "call_")) {
		body = p2pctl_format_call_event(method, params);
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
			g_autofree char *contents = p2pctl_transfer_contents(t);
			GString *s = g_string_new(NULL);

			g_string_append_printf(s, "%s %s %s %s: %s (%s%s%s) %s", emethod, id,
			                       in ? "from" : "to", peer, name,
			                       contents ? contents : "", contents ? ", " : "", size,
			                       t->state);
			if ((strcmp(method, P2P_E_TRANSFER_RESUMED) == 0 ||
			     strcmp(method, P2P_E_TRANSFER_PAUSED) == 0) && t->size > 0) {
				/* where it stopped / where it goes on */
				g_autofree char *done = p2pctl_format_size(t->bytes);
				g_string_append_printf(s, " at %u%% (%s)",
				                       (guint)(MIN(t->bytes, t->size) * 100 / t->size),
				                       done);
			}
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

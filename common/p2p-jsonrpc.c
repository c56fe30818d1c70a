/* p2p-jsonrpc.c: see p2p-jsonrpc.h. */
#include "config.h"

#include <string.h>

#include "p2p-jsonrpc.h"

G_DEFINE_QUARK(p2p-rpc-error-quark, p2p_rpc_error)

/* ---- line framing ------------------------------------------------------------ */

void
p2p_line_reader_init(P2pLineReader *r, gsize max_line)
{
	r->buf = g_byte_array_new();
	r->max_line = max_line;
	r->overflow = FALSE;
}

void
p2p_line_reader_clear(P2pLineReader *r)
{
	g_clear_pointer(&r->buf, g_byte_array_unref);
}

void
p2p_line_reader_feed(P2pLineReader *r, const void *data, gsize len)
{
	if (r->overflow)
		return;
	g_byte_array_append(r->buf, data, len);
}

char *
p2p_line_reader_next(P2pLineReader *r, gsize *len_out, GError **error)
{
	if (r->overflow || r->buf->len == 0)
		return NULL;
	const guint8 *nl = memchr(r->buf->data, '\n', r->buf->len);
	if (nl == NULL) {
		if (r->buf->len > r->max_line) {
			r->overflow = TRUE;
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT,
			            "line longer than %" G_GSIZE_FORMAT " bytes", r->max_line);
		}
		return NULL;
	}
	gsize len = nl - r->buf->data;
	if (len > r->max_line) {
		r->overflow = TRUE;
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT,
		            "line of %" G_GSIZE_FORMAT " bytes is longer than %" G_GSIZE_FORMAT,
		            len, r->max_line);
		return NULL;
	}
	gsize used = len + 1;
	if (len > 0 && r->buf->data[len - 1] == '\r')
		len--;
	char *line = g_malloc(len + 1);
	memcpy(line, r->buf->data, len);
	line[len] = '\0';
	g_byte_array_remove_range(r->buf, 0, used);
	if (len_out)
		*len_out = len;
	return line;
}

/* ---- parsing ----------------------------------------------------------------- */

gboolean
p2p_json_check_depth(const char *text, gsize len, guint max_depth, GError **error)
{
	guint depth = 0;
	gboolean in_string = FALSE;

	for (gsize i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\' && i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0) {
				/* json-glib would cut the string there: refuse it rather than let
				 * "a\u0000b" quietly become "a" */
				g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PARSE_ERROR,
				            "a string contains an escaped NUL (\\u0000) at byte %"
				            G_GSIZE_FORMAT, i);
				return FALSE;
			}
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = FALSE;
			continue;
		}
		switch (c) {
		case '"':
			in_string = TRUE;
			break;
		case '[':
		case '{':
			if (++depth > max_depth) {
				g_set_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT,
				            "JSON nested deeper than %u levels at byte %" G_GSIZE_FORMAT,
				            max_depth, i);
				return FALSE;
			}
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return TRUE;
}

void
p2p_rpc_message_clear(P2pRpcMessage *msg)
{
	g_clear_pointer(&msg->root, json_node_unref);
	memset(msg, 0, sizeof(*msg));
}

static gboolean
valid_id(JsonNode *id)
{
	if (JSON_NODE_HOLDS_NULL(id))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(id))
		return FALSE;
	GType t = json_node_get_value_type(id);
	return t == G_TYPE_INT64 || t == G_TYPE_STRING;
}

gboolean
p2p_rpc_parse(const char *line, gsize len, guint max_depth, P2pRpcMessage *msg,
              JsonNode **id_out, GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) local = NULL;

	memset(msg, 0, sizeof(*msg));
	if (id_out)
		*id_out = NULL;
	if (!p2p_json_check_depth(line, len, max_depth, error))
		return FALSE;
	if (!g_utf8_validate(line, len, NULL)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PARSE_ERROR, "message is not valid UTF-8");
		return FALSE;
	}
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, line, len, &local)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PARSE_ERROR, "parse error: %s",
		            local->message);
		return FALSE;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_REQUEST,
		            "message is not a JSON object");
		return FALSE;
	}
	JsonObject *o = json_node_get_object(root);
	JsonNode *id = json_object_get_member(o, "id");
	if (id != NULL && valid_id(id) && id_out)
		*id_out = json_node_copy(id);

	JsonNode *ver = json_object_get_member(o, "jsonrpc");
	if (ver == NULL || !JSON_NODE_HOLDS_VALUE(ver) ||
	    json_node_get_value_type(ver) != G_TYPE_STRING ||
	    g_strcmp0(json_node_get_string(ver), "2.0") != 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_REQUEST,
		            "member \"jsonrpc\" must be \"2.0\"");
		return FALSE;
	}
	if (id != NULL && !valid_id(id)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_REQUEST,
		            "member \"id\" must be an integer, a string or null");
		return FALSE;
	}

	JsonNode *method = json_object_get_member(o, "method");
	JsonNode *params = json_object_get_member(o, "params");
	JsonNode *result = json_object_get_member(o, "result");
	JsonNode *err = json_object_get_member(o, "error");

	if (method != NULL) {
		if (!JSON_NODE_HOLDS_VALUE(method) ||
		    json_node_get_value_type(method) != G_TYPE_STRING) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_REQUEST,
			            "member \"method\" must be a string");
			return FALSE;
		}
		if (params != NULL && !JSON_NODE_HOLDS_OBJECT(params)) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "member \"params\" must be an object (by-name parameters)");
			return FALSE;
		}
		msg->kind = id ? P2P_RPC_KIND_REQUEST : P2P_RPC_KIND_NOTIFICATION;
		msg->method = json_node_get_string(method);
		msg->params = params;
	} else if (result != NULL && id != NULL) {
		msg->kind = P2P_RPC_KIND_RESULT;
		msg->result = result;
	} else if (err != NULL && JSON_NODE_HOLDS_OBJECT(err)) {
		JsonObject *eo = json_node_get_object(err);
		msg->kind = P2P_RPC_KIND_ERROR;
		msg->error_code = json_object_get_int_member_with_default(eo, "code", 0);
		msg->error_message = json_object_get_string_member_with_default(eo, "message", "");
		msg->error_data = json_object_get_member(eo, "data");
	} else {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_REQUEST,
		            "message has neither \"method\", \"result\" nor \"error\"");
		return FALSE;
	}
	msg->id = id;
	msg->root = json_node_ref(root);
	return TRUE;
}

/* ---- schema ------------------------------------------------------------------ */

static const char *
field_type_name(P2pFieldType t)
{
	switch (t) {
	case P2P_FIELD_STRING: return "a string";
	case P2P_FIELD_INT: return "an integer";
	case P2P_FIELD_UINT: return "a non-negative integer";
	case P2P_FIELD_BOOL: return "a boolean";
	case P2P_FIELD_OBJECT: return "an object";
	case P2P_FIELD_ARRAY: return "an array";
	case P2P_FIELD_STRV: return "an array of strings";
	}
	return "?";
}

static gboolean
node_is(JsonNode *n, GType t)
{
	return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == t;
}

static gboolean
decode_one(JsonNode *n, const P2pField *f, gpointer dest, GError **error)
{
	guint8 *p = (guint8 *)dest + f->offset;

	switch (f->type) {
	case P2P_FIELD_STRING: {
		if (!node_is(n, G_TYPE_STRING))
			break;
		const char *s = json_node_get_string(n);
		gsize len = strlen(s);
		if (f->max_len && len > f->max_len) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "member \"%s\" is %" G_GSIZE_FORMAT " bytes long, the limit is %"
			            G_GSIZE_FORMAT, f->member, len, f->max_len);
			return FALSE;
		}
		*(const char **)p = s;
		return TRUE;
	}
	case P2P_FIELD_INT:
		if (!node_is(n, G_TYPE_INT64))
			break;
		*(gint64 *)p = json_node_get_int(n);
		return TRUE;
	case P2P_FIELD_UINT:
		if (!node_is(n, G_TYPE_INT64) || json_node_get_int(n) < 0)
			break;
		*(guint64 *)p = (guint64)json_node_get_int(n);
		return TRUE;
	case P2P_FIELD_BOOL:
		if (!node_is(n, G_TYPE_BOOLEAN))
			break;
		*(gboolean *)p = json_node_get_boolean(n);
		return TRUE;
	case P2P_FIELD_OBJECT:
		if (!JSON_NODE_HOLDS_OBJECT(n))
			break;
		*(JsonObject **)p = json_node_get_object(n);
		return TRUE;
	case P2P_FIELD_ARRAY:
	case P2P_FIELD_STRV: {
		if (!JSON_NODE_HOLDS_ARRAY(n))
			break;
		JsonArray *a = json_node_get_array(n);
		guint len = json_array_get_length(a);
		if (f->max_len && len > f->max_len) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "member \"%s\" has %u elements, the limit is %" G_GSIZE_FORMAT,
			            f->member, len, f->max_len);
			return FALSE;
		}
		if (f->type == P2P_FIELD_STRV) {
			for (guint i = 0; i < len; i++) {
				if (!node_is(json_array_get_element(a, i), G_TYPE_STRING)) {
					g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
					            "member \"%s\"[%u] must be a string", f->member, i);
					return FALSE;
				}
			}
		}
		*(JsonArray **)p = a;
		return TRUE;
	}
	}
	g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, "member \"%s\" must be %s",
	            f->member, field_type_name(f->type));
	return FALSE;
}

gboolean
p2p_schema_decode(JsonObject *obj, const P2pField *fields, gpointer dest, GError **error)
{
	g_autoptr(GList) members = json_object_get_members(obj);

	for (GList *l = members; l; l = l->next) {
		const char *name = l->data;
		gboolean known = FALSE;
		for (const P2pField *f = fields; f->member; f++) {
			if (strcmp(f->member, name) == 0) {
				known = TRUE;
				break;
			}
		}
		if (!known) {
			g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
			            "unknown member \"%s\"", name);
			return FALSE;
		}
	}
	for (const P2pField *f = fields; f->member; f++) {
		JsonNode *n = json_object_get_member(obj, f->member);
		if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
			if (f->required) {
				g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
				            "missing member \"%s\" (%s)", f->member,
				            field_type_name(f->type));
				return FALSE;
			}
			continue;
		}
		if (!decode_one(n, f, dest, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
p2p_schema_decode_params(JsonNode *params, const P2pField *fields, gpointer dest,
                         GError **error)
{
	g_autoptr(JsonObject) empty = NULL;

	if (params == NULL) {
		empty = json_object_new();
		return p2p_schema_decode(empty, fields, dest, error);
	}
	if (!JSON_NODE_HOLDS_OBJECT(params)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, "params must be an object");
		return FALSE;
	}
	return p2p_schema_decode(json_node_get_object(params), fields, dest, error);
}

/* ---- builders ---------------------------------------------------------------- */

JsonNode *
p2p_json_node_take_object(JsonObject *o)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, o);
	return n;
}

char *
p2p_json_to_string(JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, node);
	return json_generator_to_data(gen, NULL);
}

static char *
finish(JsonObject *o)
{
	g_autoptr(JsonNode) root = p2p_json_node_take_object(o);
	g_autofree char *s = p2p_json_to_string(root);
	return g_strconcat(s, "\n", NULL);
}

static JsonObject *
envelope(void)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "jsonrpc", "2.0");
	return o;
}

char *
p2p_rpc_build_request(gint64 id, const char *method, JsonNode *params)
{
	JsonObject *o = envelope();
	json_object_set_int_member(o, "id", id);
	json_object_set_string_member(o, "method", method);
	if (params)
		json_object_set_member(o, "params", params);
	return finish(o);
}

char *
p2p_rpc_build_notification(const char *method, JsonNode *params)
{
	JsonObject *o = envelope();
	json_object_set_string_member(o, "method", method);
	if (params)
		json_object_set_member(o, "params", params);
	return finish(o);
}

char *
p2p_rpc_build_result(JsonNode *id, JsonNode *result)
{
	JsonObject *o = envelope();
	json_object_set_member(o, "id", id ? json_node_copy(id) : json_node_new(JSON_NODE_NULL));
	json_object_set_member(o, "result", result ? result : json_node_new(JSON_NODE_NULL));
	return finish(o);
}

char *
p2p_rpc_build_error(JsonNode *id, gint64 code, const char *message, JsonNode *data)
{
	JsonObject *o = envelope();
	JsonObject *e = json_object_new();
	json_object_set_int_member(e, "code", code);
	json_object_set_string_member(e, "message", message);
	if (data)
		json_object_set_member(e, "data", data);
	json_object_set_member(o, "id", id ? json_node_copy(id) : json_node_new(JSON_NODE_NULL));
	json_object_set_object_member(o, "error", e);
	return finish(o);
}

char *
p2p_rpc_build_gerror(JsonNode *id, const GError *error)
{
	gint64 code = error->domain == P2P_RPC_ERROR ? error->code : P2P_RPC_INTERNAL_ERROR;
	return p2p_rpc_build_error(id, code, error->message, NULL);
}

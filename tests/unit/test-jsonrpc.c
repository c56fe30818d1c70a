/* Unit tests for line framing, the depth check, message classification and the
 * parameter schema. */
#include "config.h"

#include <string.h>

#include "p2p-jsonrpc.h"

static void
test_lines(void)
{
	P2pLineReader r;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	p2p_line_reader_init(&r, 16);
	p2p_line_reader_feed(&r, "abc\r\nde", 7);
	g_autofree char *a = p2p_line_reader_next(&r, &len, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(a, ==, "abc");
	g_assert_cmpuint(len, ==, 3);
	g_assert_null(p2p_line_reader_next(&r, &len, &error));
	g_assert_no_error(error);
	p2p_line_reader_feed(&r, "f\n", 2);
	g_autofree char *b = p2p_line_reader_next(&r, &len, &error);
	g_assert_cmpstr(b, ==, "def");
	/* 17 bytes without a newline: over the limit */
	p2p_line_reader_feed(&r, "0123456789abcdefg", 17);
	g_assert_null(p2p_line_reader_next(&r, &len, &error));
	g_assert_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT);
	g_assert_true(r.overflow);
	p2p_line_reader_clear(&r);
}

static void
test_depth(void)
{
	g_autoptr(GError) error = NULL;
	const char *ok = "{\"a\":[[1]],\"s\":\"[[[[[[\"}";
	const char *deep = "[[[[[1]]]]]";

	g_assert_true(p2p_json_check_depth(ok, strlen(ok), 3, &error));
	g_assert_no_error(error);
	g_assert_false(p2p_json_check_depth(deep, strlen(deep), 4, &error));
	g_assert_error(error, P2P_RPC_ERROR, P2P_RPC_LIMIT);
}

static void
expect_parse_error(const char *line, int code)
{
	P2pRpcMessage msg;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) id = NULL;

	g_assert_false(p2p_rpc_parse(line, strlen(line), 8, &msg, &id, &error));
	g_assert_error(error, P2P_RPC_ERROR, code);
}

static void
test_parse(void)
{
	P2pRpcMessage msg;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) id = NULL;
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"daemon.info\",\"params\":{}}";

	g_assert_true(p2p_rpc_parse(req, strlen(req), 8, &msg, &id, &error));
	g_assert_no_error(error);
	g_assert_cmpint(msg.kind, ==, P2P_RPC_KIND_REQUEST);
	g_assert_cmpstr(msg.method, ==, "daemon.info");
	g_assert_cmpint(json_node_get_int(msg.id), ==, 7);
	p2p_rpc_message_clear(&msg);

	const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"presence\"}";
	g_assert_true(p2p_rpc_parse(note, strlen(note), 8, &msg, NULL, &error));
	g_assert_cmpint(msg.kind, ==, P2P_RPC_KIND_NOTIFICATION);
	p2p_rpc_message_clear(&msg);

	const char *res = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"x\"}}";
	g_assert_true(p2p_rpc_parse(res, strlen(res), 8, &msg, NULL, &error));
	g_assert_cmpint(msg.kind, ==, P2P_RPC_KIND_ERROR);
	g_assert_cmpint(msg.error_code, ==, -32601);
	p2p_rpc_message_clear(&msg);

	expect_parse_error("{not json", P2P_RPC_PARSE_ERROR);
	expect_parse_error("[1,2]", P2P_RPC_INVALID_REQUEST);
	expect_parse_error("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}", P2P_RPC_INVALID_REQUEST);
	expect_parse_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", P2P_RPC_INVALID_REQUEST);
	expect_parse_error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}", P2P_RPC_INVALID_REQUEST);
	expect_parse_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}",
	                   P2P_RPC_INVALID_PARAMS);
	expect_parse_error("[[[[[[[[[[[[]]]]]]]]]]]]", P2P_RPC_LIMIT);
	expect_parse_error("{\"jsonrpc\":\"2.0\",\"id\":1}", P2P_RPC_INVALID_REQUEST);
}

typedef struct {
	const char *path;
	const char *peer;
	guint64 size;
	gboolean flag;
	JsonArray *list;
} Params;

static const P2pField params_fields[] = {
	P2P_FIELD(Params, path, "path", P2P_FIELD_STRING, TRUE, 10),
	P2P_FIELD(Params, peer, "peer", P2P_FIELD_STRING, FALSE, 0),
	P2P_FIELD(Params, size, "size", P2P_FIELD_UINT, FALSE, 0),
	P2P_FIELD(Params, flag, "flag", P2P_FIELD_BOOL, FALSE, 0),
	P2P_FIELD(Params, list, "list", P2P_FIELD_STRV, FALSE, 2),
	{ NULL },
};

static gboolean
decode(const char *json, Params *p, GError **error)
{
	g_autoptr(JsonNode) n = json_from_string(json, NULL);
	memset(p, 0, sizeof(*p));
	/* the node is kept alive by the caller's copy of the borrowed strings not being used
	 * after this returns in the failing cases; for the success case we copy below */
	gboolean ok = p2p_schema_decode_params(n, params_fields, p, error);
	if (ok)
		p->path = g_intern_string(p->path);
	p->peer = NULL;
	p->list = NULL;
	return ok;
}

static void
test_schema(void)
{
	Params p;

	{
		g_autoptr(GError) error = NULL;
		g_assert_true(decode("{\"path\":\"/a\",\"size\":5,\"flag\":true,\"list\":[\"x\"]}", &p,
		                     &error));
		g_assert_no_error(error);
		g_assert_cmpstr(p.path, ==, "/a");
		g_assert_cmpuint(p.size, ==, 5);
		g_assert_true(p.flag);
	}
	const struct {
		const char *json;
		const char *needle;
	} bad[] = {
		{ "{}", "missing member \"path\"" },
		{ "{\"path\":1}", "member \"path\" must be a string" },
		{ "{\"path\":\"0123456789x\"}", "limit is 10" },
		{ "{\"path\":\"/a\",\"size\":-1}", "non-negative" },
		{ "{\"path\":\"/a\",\"size\":1.5}", "non-negative" },
		{ "{\"path\":\"/a\",\"bogus\":1}", "unknown member \"bogus\"" },
		{ "{\"path\":\"/a\",\"list\":[1]}", "\"list\"[0] must be a string" },
		{ "{\"path\":\"/a\",\"list\":[\"a\",\"b\",\"c\"]}", "limit is 2" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(decode(bad[i].json, &p, &error));
		g_assert_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS);
		if (strstr(error->message, bad[i].needle) == NULL)
			g_error("%s: message \"%s\" lacks \"%s\"", bad[i].json, error->message,
			        bad[i].needle);
	}
}

static void
test_build(void)
{
	g_autoptr(JsonNode) id = json_node_new(JSON_NODE_VALUE);
	json_node_set_int(id, 3);
	g_autofree char *e = p2p_rpc_build_error(id, -32601, "no such method \"x\"", NULL);
	g_assert_cmpstr(e, ==,
	                "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,"
	                "\"message\":\"no such method \\\"x\\\"\"}}\n");
	g_autofree char *n = p2p_rpc_build_notification("peer_online", NULL);
	g_assert_cmpstr(n, ==, "{\"jsonrpc\":\"2.0\",\"method\":\"peer_online\"}\n");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/jsonrpc/lines", test_lines);
	g_test_add_func("/jsonrpc/depth", test_depth);
	g_test_add_func("/jsonrpc/parse", test_parse);
	g_test_add_func("/jsonrpc/schema", test_schema);
	g_test_add_func("/jsonrpc/build", test_build);
	return g_test_run();
}

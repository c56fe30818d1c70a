/* Unit tests for peer protocol frames: reassembly, limits, DATA headers, JSON payloads. */
#include "config.h"

#include <string.h>

#include "p2p-frame.h"

static GByteArray *
build(guint8 type, const void *payload, guint32 len)
{
	GByteArray *b = g_byte_array_new();
	guint8 hdr[P2P_FRAME_HEADER];
	p2p_frame_header(hdr, type, len);
	g_byte_array_append(b, hdr, sizeof(hdr));
	g_byte_array_append(b, payload, len);
	return b;
}

static void
test_round_trip(void)
{
	P2pFrameReader r;
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) a = build(P2P_FRAME_HELLO, "{\"v\":1}", 7);
	g_autoptr(GByteArray) b = build(P2P_FRAME_CANCEL, "", 0);
	guint8 type = 0;
	GBytes *payload = NULL;

	p2p_frame_reader_init(&r);
	g_byte_array_append(a, b->data, b->len);
	p2p_frame_reader_feed(&r, a->data, a->len);

	g_assert_true(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(type, ==, P2P_FRAME_HELLO);
	g_assert_cmpmem(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload), "{\"v\":1}", 7);
	g_bytes_unref(payload);

	g_assert_true(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_cmpuint(type, ==, P2P_FRAME_CANCEL);
	g_assert_cmpuint(g_bytes_get_size(payload), ==, 0);
	g_bytes_unref(payload);

	g_assert_false(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(p2p_frame_reader_pending(&r), ==, 0);
	p2p_frame_reader_clear(&r);
}

/* Every byte fed separately; then many small frames through reserve/commit, which must
 * all come out in order (exercises the change of blocks). */
static void
test_partial(void)
{
	P2pFrameReader r;
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) a = build(P2P_FRAME_ACK, "0123456789", 10);
	guint8 type = 0;
	GBytes *payload = NULL;

	p2p_frame_reader_init(&r);
	for (guint i = 0; i < a->len; i++) {
		g_assert_false(p2p_frame_reader_next(&r, &type, &payload, &error));
		g_assert_no_error(error);
		p2p_frame_reader_feed(&r, a->data + i, 1);
	}
	g_assert_true(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_cmpuint(type, ==, P2P_FRAME_ACK);
	g_assert_cmpuint(g_bytes_get_size(payload), ==, 10);
	g_bytes_unref(payload);

	const guint n = 50000;
	guint next = 0;
	for (guint i = 0; i < n; i++) {
		guint32 v = GUINT32_TO_BE(i);
		g_autoptr(GByteArray) f = build(P2P_FRAME_NACK, &v, sizeof(v));
		/* uneven split across two writes */
		guint cut = i % f->len;
		p2p_frame_reader_feed(&r, f->data, cut);
		guint8 *p = p2p_frame_reader_reserve(&r, 4096);
		memcpy(p, f->data + cut, f->len - cut);
		p2p_frame_reader_commit(&r, f->len - cut);
		if (i % 7 != 0)
			continue;
		while (p2p_frame_reader_next(&r, &type, &payload, &error)) {
			g_assert_cmpuint(type, ==, P2P_FRAME_NACK);
			g_assert_cmpuint(g_bytes_get_size(payload), ==, 4);
			guint32 got;
			memcpy(&got, g_bytes_get_data(payload, NULL), 4);
			g_assert_cmpuint(GUINT32_FROM_BE(got), ==, next);
			next++;
			g_bytes_unref(payload);
		}
		g_assert_no_error(error);
	}
	while (p2p_frame_reader_next(&r, &type, &payload, &error)) {
		next++;
		g_bytes_unref(payload);
	}
	g_assert_cmpuint(next, ==, n);
	g_assert_cmpuint(p2p_frame_reader_pending(&r), ==, 0);
	p2p_frame_reader_clear(&r);
}

/* Payloads are slices of the reader's blocks: ones a user keeps must stay intact while
 * the reader moves on through several blocks, and a frame split across two blocks must
 * come out whole. */
static void
test_kept_payloads(void)
{
	P2pFrameReader r;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	const guint n = 100, size = P2P_DATA_CHUNK + 17;
	g_autofree guint8 *body = g_malloc(size);
	guint8 type = 0;
	GBytes *payload = NULL;

	p2p_frame_reader_init(&r);
	for (guint i = 0; i < n; i++) {
		memset(body, i, size);
		g_autoptr(GByteArray) f = build(P2P_FRAME_DATA, body, size);
		/* fed in uneven pieces, as SSL_read hands them over */
		for (guint off = 0; off < f->len;) {
			guint piece = MIN(f->len - off, 1000 + i * 37);
			memcpy(p2p_frame_reader_reserve(&r, piece), f->data + off, piece);
			p2p_frame_reader_commit(&r, piece);
			off += piece;
		}
		g_assert_true(p2p_frame_reader_next(&r, &type, &payload, &error));
		g_assert_no_error(error);
		g_ptr_array_add(kept, payload);
	}
	g_assert_cmpuint(p2p_frame_reader_pending(&r), ==, 0);
	p2p_frame_reader_clear(&r);
	for (guint i = 0; i < n; i++) {
		gsize len = 0;
		const guint8 *p = g_bytes_get_data(kept->pdata[i], &len);
		g_assert_cmpuint(len, ==, size);
		for (gsize j = 0; j < len; j++)
			g_assert_cmpuint(p[j], ==, (guint8)i);
	}
}

static void
test_oversize(void)
{
	P2pFrameReader r;
	g_autoptr(GError) error = NULL;
	guint8 hdr[P2P_FRAME_HEADER];
	guint8 type = 0;
	GBytes *payload = NULL;

	p2p_frame_reader_init(&r);
	p2p_frame_header(hdr, P2P_FRAME_DATA, P2P_FRAME_MAX_PAYLOAD + 1);
	/* refused as soon as the header is there, without waiting for a megabyte */
	p2p_frame_reader_feed(&r, hdr, sizeof(hdr));
	g_assert_false(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_TOO_LARGE);
	p2p_frame_reader_clear(&r);

	/* exactly the limit is fine */
	g_clear_error(&error);
	p2p_frame_reader_init(&r);
	p2p_frame_header(hdr, P2P_FRAME_DATA, P2P_FRAME_MAX_PAYLOAD);
	p2p_frame_reader_feed(&r, hdr, sizeof(hdr));
	g_assert_false(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_no_error(error);
	p2p_frame_reader_clear(&r);
}

static void
test_unknown_type(void)
{
	P2pFrameReader r;
	g_autoptr(GError) error = NULL;
	guint8 type = 0;
	GBytes *payload = NULL;

	g_assert_null(p2p_frame_type_name(0));
	g_assert_null(p2p_frame_type_name(0xff));
	g_assert_cmpstr(p2p_frame_type_name(P2P_FRAME_DATA), ==, "data");
	g_assert_cmpstr(p2p_frame_type_name(P2P_FRAME_PING), ==, "ping");
	g_assert_cmpstr(p2p_frame_type_name(P2P_FRAME_PONG), ==, "pong");
	g_assert_null(p2p_frame_type_name(P2P_FRAME_PONG + 1));

	p2p_frame_reader_init(&r);
	/* the type byte alone is enough to refuse */
	p2p_frame_reader_feed(&r, "\x7f", 1);
	g_assert_false(p2p_frame_reader_next(&r, &type, &payload, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_UNKNOWN_TYPE);
	g_assert_nonnull(strstr(error->message, "0x7f"));
	p2p_frame_reader_clear(&r);
}

static void
test_data(void)
{
	g_autoptr(GError) error = NULL;
	guint8 buf[P2P_DATA_HEADER + 3];
	guint64 xfer = 0, offset = 0;
	guint32 file = 0;
	const guint8 *data = NULL;
	gsize data_len = 0;

	p2p_frame_data_header(buf, G_GUINT64_CONSTANT(0x0102030405060708), 0xa0b0c0d0,
	                      G_GUINT64_CONSTANT(1) << 40);
	memcpy(buf + P2P_DATA_HEADER, "xyz", 3);
	/* big-endian on the wire */
	g_assert_cmpuint(buf[0], ==, 0x01);
	g_assert_cmpuint(buf[8], ==, 0xa0);
	g_assert_true(p2p_frame_data_parse(buf, sizeof(buf), &xfer, &file, &offset, &data,
	                                   &data_len, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(xfer, ==, G_GUINT64_CONSTANT(0x0102030405060708));
	g_assert_cmpuint(file, ==, 0xa0b0c0d0);
	g_assert_cmpuint(offset, ==, G_GUINT64_CONSTANT(1) << 40);
	g_assert_cmpmem(data, data_len, "xyz", 3);

	/* header only: empty data is valid */
	g_assert_true(p2p_frame_data_parse(buf, P2P_DATA_HEADER, &xfer, &file, &offset, &data,
	                                   &data_len, &error));
	g_assert_cmpuint(data_len, ==, 0);

	g_assert_false(p2p_frame_data_parse(buf, P2P_DATA_HEADER - 1, &xfer, &file, &offset,
	                                    &data, &data_len, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED);
}

static void
test_file_end(void)
{
	guint8 digest[P2P_SHA256_LEN], buf[P2P_FILE_END_LEN];
	guint64 xfer;
	guint32 file;
	const guint8 *got;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < sizeof(digest); i++)
		digest[i] = i * 7;
	p2p_frame_file_end(buf, G_GUINT64_CONSTANT(0x7fffffffffffff01), 0xfffffffe, digest);
	g_assert_true(p2p_frame_file_end_parse(buf, sizeof(buf), &xfer, &file, &got, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(xfer, ==, G_GUINT64_CONSTANT(0x7fffffffffffff01));
	g_assert_cmpuint(file, ==, 0xfffffffe);
	g_assert_cmpmem(got, P2P_SHA256_LEN, digest, sizeof(digest));
	/* one byte short or long is malformed, not read past */
	g_assert_false(p2p_frame_file_end_parse(buf, sizeof(buf) - 1, &xfer, &file, &got, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED);
	g_clear_error(&error);
	g_assert_false(p2p_frame_file_end_parse(buf, sizeof(buf) + 1, &xfer, &file, &got, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED);
}

static void
expect_json_error(const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) b = g_bytes_new_static(text, strlen(text));
	g_assert_null(p2p_frame_parse_json(b, &error));
	g_assert_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED);
}

static void
test_json(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_int_member(o, "xfer", 42);
	json_object_set_string_member(o, "name", "a \"b\"");
	g_autoptr(GBytes) b = p2p_frame_build_json(o);
	g_autoptr(JsonObject) back = p2p_frame_parse_json(b, &error);
	g_assert_no_error(error);
	g_assert_cmpint(json_object_get_int_member(back, "xfer"), ==, 42);
	g_assert_cmpstr(json_object_get_string_member(back, "name"), ==, "a \"b\"");

	g_autoptr(GString) deep = g_string_new("{\"a\":");
	for (guint i = 0; i < P2P_JSONRPC_MAX_DEPTH + 1; i++)
		g_string_append_c(deep, '[');
	for (guint i = 0; i < P2P_JSONRPC_MAX_DEPTH + 1; i++)
		g_string_append_c(deep, ']');
	g_string_append_c(deep, '}');
	expect_json_error(deep->str);
	expect_json_error("[1,2]");
	expect_json_error("\"str\"");
	expect_json_error("{\"a\":");
	expect_json_error("");
	expect_json_error("{\"a\":\"\xff\"}");
	/* json-glib would cut "a\u0000b" to "a": refused instead */
	expect_json_error("{\"path\":\"a\\u0000b\"}");
	/* an escaped backslash before "u0000" is no NUL */
	g_autoptr(GBytes) ok = g_bytes_new_static("{\"p\":\"\\\\u0000\"}", 15);
	g_autoptr(JsonObject) back2 = p2p_frame_parse_json(ok, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(back2, "p"), ==, "\\u0000");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/frame/round-trip", test_round_trip);
	g_test_add_func("/frame/partial", test_partial);
	g_test_add_func("/frame/kept-payloads", test_kept_payloads);
	g_test_add_func("/frame/oversize", test_oversize);
	g_test_add_func("/frame/file-end", test_file_end);
	g_test_add_func("/frame/unknown-type", test_unknown_type);
	g_test_add_func("/frame/data", test_data);
	g_test_add_func("/frame/json", test_json);
	return g_test_run();
}

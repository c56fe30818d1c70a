/* p2p-frame.c: see p2p-frame.h. */
#include "config.h"

#include <string.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"

G_DEFINE_QUARK(p2p-frame-parse-error-quark, p2p_frame_parse_error)

/* Consumed bytes are dropped only once they are at least this many and at least half of
 * the buffer, so that the memmove stays amortised O(1) per byte however small the
 * frames are. */
#define COMPACT_MIN (64 * 1024)

const char *
p2p_frame_type_name(guint8 type)
{
	switch (type) {
	case P2P_FRAME_HELLO:    return "hello";
	case P2P_FRAME_OFFER:    return "offer";
	case P2P_FRAME_ACCEPT:   return "accept";
	case P2P_FRAME_REJECT:   return "reject";
	case P2P_FRAME_DATA:     return "data";
	case P2P_FRAME_FILE_END: return "file-end";
	case P2P_FRAME_ACK:      return "ack";
	case P2P_FRAME_NACK:     return "nack";
	case P2P_FRAME_CANCEL:   return "cancel";
	case P2P_FRAME_ERROR:    return "error";
	case P2P_FRAME_MANIFEST: return "manifest";
	case P2P_FRAME_CHAT:     return "chat";
	case P2P_FRAME_CHAT_ACK: return "chat-ack";
	case P2P_FRAME_TYPING:   return "typing";
	case P2P_FRAME_CALL:     return "call";
	case P2P_FRAME_PING:     return "ping";
	case P2P_FRAME_PONG:     return "pong";
	default:                 return NULL;
	}
}

void
p2p_frame_reader_init(P2pFrameReader *r)
{
	r->buf = g_byte_array_new();
	r->pos = 0;
}

void
p2p_frame_reader_clear(P2pFrameReader *r)
{
	g_clear_pointer(&r->buf, g_byte_array_unref);
	r->pos = 0;
}

static void
reader_compact(P2pFrameReader *r)
{
	if (r->pos == r->buf->len) {
		g_byte_array_set_size(r->buf, 0);
		r->pos = 0;
	} else if (r->pos >= COMPACT_MIN && r->pos * 2 >= r->buf->len) {
		g_byte_array_remove_range(r->buf, 0, r->pos);
		r->pos = 0;
	}
}

void
p2p_frame_reader_feed(P2pFrameReader *r, const void *data, gsize len)
{
	reader_compact(r);
	g_byte_array_append(r->buf, data, len);
}

guint8 *
p2p_frame_reader_reserve(P2pFrameReader *r, gsize len)
{
	reader_compact(r);
	gsize old = r->buf->len;
	g_byte_array_set_size(r->buf, old + len);
	/* set_size moved len forward; commit puts it back to what was really written */
	r->buf->len = old;
	return r->buf->data + old;
}

void
p2p_frame_reader_commit(P2pFrameReader *r, gsize len)
{
	r->buf->len += len;
}

gsize
p2p_frame_reader_pending(const P2pFrameReader *r)
{
	return r->buf->len - r->pos;
}

gboolean
p2p_frame_reader_next(P2pFrameReader *r, guint8 *type, GBytes **payload, GError **error)
{
	gsize avail = r->buf->len - r->pos;
	const guint8 *p = r->buf->data + r->pos;

	if (avail < 1)
		return FALSE;
	if (p2p_frame_type_name(p[0]) == NULL) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_UNKNOWN_TYPE,
		            "unknown frame type 0x%02x", p[0]);
		return FALSE;
	}
	if (avail < P2P_FRAME_HEADER)
		return FALSE;
	guint32 len = ((guint32)p[1] << 24) | ((guint32)p[2] << 16) | ((guint32)p[3] << 8) | p[4];
	if (len > P2P_FRAME_MAX_PAYLOAD) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_TOO_LARGE,
		            "%s frame of %u bytes is larger than the limit of %u",
		            p2p_frame_type_name(p[0]), len, (guint)P2P_FRAME_MAX_PAYLOAD);
		return FALSE;
	}
	if (avail - P2P_FRAME_HEADER < len)
		return FALSE;
	*type = p[0];
	*payload = g_bytes_new(p + P2P_FRAME_HEADER, len);
	r->pos += P2P_FRAME_HEADER + len;
	reader_compact(r);
	return TRUE;
}

static inline void
put_be32(guint8 *o, guint32 v)
{
	o[0] = v >> 24;
	o[1] = v >> 16;
	o[2] = v >> 8;
	o[3] = v;
}

static inline void
put_be64(guint8 *o, guint64 v)
{
	put_be32(o, v >> 32);
	put_be32(o + 4, (guint32)v);
}

static inline guint32
get_be32(const guint8 *p)
{
	return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static inline guint64
get_be64(const guint8 *p)
{
	return ((guint64)get_be32(p) << 32) | get_be32(p + 4);
}

void
p2p_frame_header(guint8 out[P2P_FRAME_HEADER], guint8 type, guint32 len)
{
	out[0] = type;
	put_be32(out + 1, len);
}

void
p2p_frame_data_header(guint8 out[P2P_DATA_HEADER], guint64 xfer, guint32 file, guint64 offset)
{
	put_be64(out, xfer);
	put_be32(out + 8, file);
	put_be64(out + 12, offset);
}

gboolean
p2p_frame_data_parse(const guint8 *p, gsize len, guint64 *xfer, guint32 *file,
                     guint64 *offset, const guint8 **data, gsize *data_len, GError **error)
{
	if (len < P2P_DATA_HEADER) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "data frame of %" G_GSIZE_FORMAT " bytes is shorter than its %d-byte header",
		            len, P2P_DATA_HEADER);
		return FALSE;
	}
	*xfer = get_be64(p);
	*file = get_be32(p + 8);
	*offset = get_be64(p + 12);
	*data = p + P2P_DATA_HEADER;
	*data_len = len - P2P_DATA_HEADER;
	return TRUE;
}

void
p2p_frame_file_end(guint8 out[P2P_FILE_END_LEN], guint64 xfer, guint32 file,
                   const guint8 sha256[P2P_SHA256_LEN])
{
	guint8 hdr[P2P_DATA_HEADER];
	p2p_frame_data_header(hdr, xfer, file, 0);
	memcpy(out, hdr, 12);
	memcpy(out + 12, sha256, P2P_SHA256_LEN);
}

gboolean
p2p_frame_file_end_parse(const guint8 *p, gsize len, guint64 *xfer, guint32 *file,
                         const guint8 **sha256, GError **error)
{
	if (len != P2P_FILE_END_LEN) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "file-end frame of %" G_GSIZE_FORMAT " bytes, expected %d", len,
		            P2P_FILE_END_LEN);
		return FALSE;
	}
	*xfer = get_be64(p);
	*file = get_be32(p + 8);
	*sha256 = p + 12;
	return TRUE;
}

JsonObject *
p2p_frame_parse_json(GBytes *payload, GError **error)
{
	gsize len = 0;
	const char *text = g_bytes_get_data(payload, &len);
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) local = NULL;

	if (len == 0 || text == NULL) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "empty JSON frame payload");
		return NULL;
	}
	if (!p2p_json_check_depth(text, len, P2P_JSONRPC_MAX_DEPTH, &local)) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "frame payload: %s", local->message);
		return NULL;
	}
	if (!g_utf8_validate(text, len, NULL)) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "frame payload is not valid UTF-8");
		return NULL;
	}
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, text, len, &local)) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "frame payload is not JSON: %s", local->message);
		return NULL;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, P2P_FRAME_PARSE_ERROR, P2P_FRAME_PARSE_ERROR_MALFORMED,
		            "frame payload is not a JSON object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

GBytes *
p2p_frame_build_json(JsonObject *obj)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(node, obj);
	char *text = p2p_json_to_string(node);
	return g_bytes_new_take(text, strlen(text));
}

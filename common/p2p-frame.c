/* p2p-frame.c: see p2p-frame.h. */
#include "config.h"

#include <string.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"

G_DEFINE_QUARK(p2p-frame-parse-error-quark, p2p_frame_parse_error)

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
	*r = (P2pFrameReader){0};
}

void
p2p_frame_reader_clear(P2pFrameReader *r)
{
	g_clear_pointer(&r->block, g_bytes_unref);
	*r = (P2pFrameReader){0};
}

void
p2p_frame_reader_feed(P2pFrameReader *r, const void *data, gsize len)
{
	memcpy(p2p_frame_reader_reserve(r, len), data, len);
	p2p_frame_reader_commit(r, len);
}

guint8 *
p2p_frame_reader_reserve(P2pFrameReader *r, gsize len)
{
	if (r->cap - r->len >= len)
		return r->data + r->len;
	/* A new block: the old one may still be referenced by payloads handed out, so the
	 * unread tail (at most one unfinished frame and a header) is copied, never moved
	 * in place. A block no payload holds any more is freed by the unref below. */
	gsize pending = r->len - r->pos;
	gsize cap = MAX(P2P_FRAME_READER_BLOCK, pending + len);
	guint8 *data = g_malloc(cap);
	if (pending > 0)
		memcpy(data, r->data + r->pos, pending);
	g_clear_pointer(&r->block, g_bytes_unref);
	r->block = g_bytes_new_take(data, cap);
	r->data = data;
	r->cap = cap;
	r->len = pending;
	r->pos = 0;
	return r->data + r->len;
}

void
p2p_frame_reader_commit(P2pFrameReader *r, gsize len)
{
	g_assert(len <= r->cap - r->len);
	r->len += len;
}

gsize
p2p_frame_reader_pending(const P2pFrameReader *r)
{
	return r->len - r->pos;
}

gboolean
p2p_frame_reader_next(P2pFrameReader *r, guint8 *type, GBytes **payload, GError **error)
{
	gsize avail = r->len - r->pos;
	const guint8 *p = r->data + r->pos;

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
	/* the bytes after len in the block are still being filled: the slice never covers
	 * them, and nothing writes below len again */
	*payload = g_bytes_new_from_bytes(r->block, r->pos + P2P_FRAME_HEADER, len);
	r->pos += P2P_FRAME_HEADER + len;
	if (r->pos == r->len && r->cap - r->len < P2P_FRAME_READER_BLOCK / 4) {
		/* all read and the block nearly full: the next reserve starts a new one */
		g_clear_pointer(&r->block, g_bytes_unref);
		*r = (P2pFrameReader){0};
	}
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

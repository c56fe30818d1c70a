/* p2p-frame.h: the peer protocol's binary frames, [u8 type][u32 BE length][payload],
 * carried inside the TLS channel. A reader that reassembles frames from a byte stream,
 * header builders, the DATA header, and JSON payload helpers. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "p2p-protocol.h"

G_BEGIN_DECLS

/* Named so because P2P_FRAME_ERROR is the ERROR frame type. */
#define P2P_FRAME_PARSE_ERROR (p2p_frame_parse_error_quark())
GQuark p2p_frame_parse_error_quark(void);

typedef enum {
	P2P_FRAME_PARSE_ERROR_UNKNOWN_TYPE, /* a type byte this version does not know */
	P2P_FRAME_PARSE_ERROR_TOO_LARGE,    /* length above P2P_FRAME_MAX_PAYLOAD */
	P2P_FRAME_PARSE_ERROR_MALFORMED,    /* payload does not match its type (short DATA, bad JSON) */
} P2pFrameParseError;

/* Name of a known frame type ("hello", "data", ...), NULL for an unknown one. Every
 * type added to P2pFrameType gets a line here, or the reader refuses it. */
const char *p2p_frame_type_name(guint8 type);

/* Frames are reassembled in blocks of at least P2P_FRAME_READER_BLOCK bytes and handed
 * out as slices of the block (g_bytes_new_from_bytes), so a DATA payload is never copied
 * on its way from SSL_read to the file. A payload kept by its user keeps its block alive;
 * the reader then fills a new block, carrying over only the unfinished frame. */
#define P2P_FRAME_READER_BLOCK (1024 * 1024)

typedef struct {
	GBytes *block;   /* owns data; NULL until the first byte */
	guint8 *data;    /* filled up to len; the unread bytes start at pos */
	gsize cap, len, pos;
} P2pFrameReader;

void p2p_frame_reader_init(P2pFrameReader *r);
void p2p_frame_reader_clear(P2pFrameReader *r);
void p2p_frame_reader_feed(P2pFrameReader *r, const void *data, gsize len);
/* Zero-copy feeding: room for at least len bytes at the end of the buffer; write into it,
 * then commit how many bytes were actually written. */
guint8 *p2p_frame_reader_reserve(P2pFrameReader *r, gsize len);
void p2p_frame_reader_commit(P2pFrameReader *r, gsize len);
/* Bytes buffered and not yet returned as frames. */
gsize p2p_frame_reader_pending(const P2pFrameReader *r);
/* TRUE with type and payload when a whole frame is buffered; FALSE without error when
 * incomplete; FALSE with a P2P_FRAME_PARSE_ERROR for an unknown type or a length above
 * P2P_FRAME_MAX_PAYLOAD, as soon as the header shows it (the caller drops the link). */
gboolean p2p_frame_reader_next(P2pFrameReader *r, guint8 *type, GBytes **payload,
                               GError **error);

void p2p_frame_header(guint8 out[P2P_FRAME_HEADER], guint8 type, guint32 len);
void p2p_frame_data_header(guint8 out[P2P_DATA_HEADER], guint64 xfer, guint32 file,
                           guint64 offset);
/* Splits a DATA payload; data points into p. */
gboolean p2p_frame_data_parse(const guint8 *p, gsize len, guint64 *xfer, guint32 *file,
                              guint64 *offset, const guint8 **data, gsize *data_len,
                              GError **error);

/* FILE_END: binary, so that a tree of small files costs no JSON per file. */
void p2p_frame_file_end(guint8 out[P2P_FILE_END_LEN], guint64 xfer, guint32 file,
                        const guint8 sha256[P2P_SHA256_LEN]);
gboolean p2p_frame_file_end_parse(const guint8 *p, gsize len, guint64 *xfer, guint32 *file,
                                  const guint8 **sha256, GError **error);
/* A frame payload as a JSON object: UTF-8, depth checked (P2P_JSONRPC_MAX_DEPTH) before
 * parsing, root must be an object. Returns a new reference. */
JsonObject *p2p_frame_parse_json(GBytes *payload, GError **error);
/* Compact serialisation of obj as a frame payload. */
GBytes *p2p_frame_build_json(JsonObject *obj);

G_END_DECLS

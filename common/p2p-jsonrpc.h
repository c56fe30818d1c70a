/* p2p-jsonrpc.h: newline-delimited JSON-RPC 2.0 shared by the control socket and the
 * signaling link: line framing with a length limit, a depth check before parsing,
 * message classification, declarative parameter decoding, and reply builders. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "p2p-protocol.h"

G_BEGIN_DECLS

/* Errors whose code is the JSON-RPC error code to send back. */
#define P2P_RPC_ERROR (p2p_rpc_error_quark())
GQuark p2p_rpc_error_quark(void);

/* ---- line framing --------------------------------------------------------- */

typedef struct {
	GByteArray *buf;
	gsize max_line;
	gboolean overflow; /* a line longer than max_line was seen: caller must drop the link */
} P2pLineReader;

void p2p_line_reader_init(P2pLineReader *r, gsize max_line);
void p2p_line_reader_clear(P2pLineReader *r);
void p2p_line_reader_feed(P2pLineReader *r, const void *data, gsize len);
/* Next complete line without its newline (and without a trailing \r), or NULL when
 * none is complete yet. Sets error (P2P_RPC_LIMIT) once a line exceeds the limit;
 * after that the reader stays in overflow and returns NULL. Caller frees. */
char *p2p_line_reader_next(P2pLineReader *r, gsize *len_out, GError **error);

/* ---- parsing ---------------------------------------------------------------- */

/* Rejects input nested deeper than max_depth (P2P_RPC_LIMIT) without building a tree,
 * and strings with an escaped NUL (P2P_RPC_PARSE_ERROR), which json-glib would
 * silently cut short. */
gboolean p2p_json_check_depth(const char *text, gsize len, guint max_depth, GError **error);

typedef enum {
	P2P_RPC_KIND_REQUEST,      /* method + id */
	P2P_RPC_KIND_NOTIFICATION, /* method, no id */
	P2P_RPC_KIND_RESULT,       /* id + result */
	P2P_RPC_KIND_ERROR,        /* id (maybe null) + error */
} P2pRpcKind;

typedef struct {
	P2pRpcKind kind;
	JsonNode *root;        /* owns everything below */
	JsonNode *id;          /* NULL for notifications; borrowed */
	const char *method;    /* requests and notifications */
	JsonNode *params;      /* object node or NULL; borrowed */
	JsonNode *result;      /* results; borrowed */
	gint64 error_code;     /* errors */
	const char *error_message;
	JsonNode *error_data;  /* may be NULL */
} P2pRpcMessage;

void p2p_rpc_message_clear(P2pRpcMessage *msg);
/* Parses and classifies one line. On failure, error->code is the JSON-RPC code to
 * answer with (-32700 or -32600) and *id_out (if given) is the request id when one
 * could be recovered, so that the error reply can carry it. */
gboolean p2p_rpc_parse(const char *line, gsize len, guint max_depth, P2pRpcMessage *msg,
                       JsonNode **id_out, GError **error);

/* ---- declarative parameter decoding ----------------------------------------- */

typedef enum {
	P2P_FIELD_STRING, /* const char *, borrowed from the node */
	P2P_FIELD_INT,    /* gint64, must be integral */
	P2P_FIELD_UINT,   /* guint64, integral and >= 0 */
	P2P_FIELD_BOOL,   /* gboolean */
	P2P_FIELD_OBJECT, /* JsonObject *, borrowed */
	P2P_FIELD_ARRAY,  /* JsonArray *, borrowed */
	P2P_FIELD_STRV,   /* JsonArray * whose every element is a string, borrowed */
} P2pFieldType;

typedef struct {
	const char *member;
	P2pFieldType type;
	gboolean required;
	gsize offset; /* into the destination struct */
	gsize max_len; /* strings: max bytes; arrays: max elements; 0 = no limit */
} P2pField;

#define P2P_FIELD(st, m, name, t, req, max) \
	{ (name), (t), (req), G_STRUCT_OFFSET(st, m), (max) }

/* Decodes the members of obj into dest following fields (terminated by a {NULL}
 * entry). Unknown members are refused so that a typo is an error, not a no-op.
 * Strings must be valid UTF-8 without NUL. Errors name the member and the problem. */
gboolean p2p_schema_decode(JsonObject *obj, const P2pField *fields, gpointer dest,
                           GError **error);
/* Same, for a params node that may be NULL (treated as an empty object). */
gboolean p2p_schema_decode_params(JsonNode *params, const P2pField *fields, gpointer dest,
                                  GError **error);

/* ---- builders: each returns one line, newline included ------------------------ */

char *p2p_rpc_build_request(gint64 id, const char *method, JsonNode *params /* consumed */);
char *p2p_rpc_build_notification(const char *method, JsonNode *params /* consumed */);
char *p2p_rpc_build_result(JsonNode *id, JsonNode *result /* consumed */);
char *p2p_rpc_build_error(JsonNode *id, gint64 code, const char *message,
                          JsonNode *data /* consumed, may be NULL */);
/* From a GError: P2P_RPC_ERROR codes map 1:1, anything else becomes -32603. */
char *p2p_rpc_build_gerror(JsonNode *id, const GError *error);

/* Wraps o in a new node that takes over the caller's reference (json_node_init_object
 * would add one, which is how objects leak). */
JsonNode *p2p_json_node_take_object(JsonObject *o);

/* Serialises a node compactly (no newline). */
char *p2p_json_to_string(JsonNode *node);

G_END_DECLS

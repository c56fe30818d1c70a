/* p2pctl.h: the command-line client's internals, shared by its files and the unit tests.
 * Every verb is one row of p2pctl_commands[] (p2pctl-cli.c) and one handler
 * p2pctl_cmd_NAME() in a p2pctl-cmd-*.c file. */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "p2p-jsonrpc.h"

G_BEGIN_DECLS

/* Exit statuses, documented in p2pctl(1). */
enum {
	P2PCTL_EXIT_OK = 0,
	P2PCTL_EXIT_FAILED = 1,      /* the daemon returned an error / operation failed */
	P2PCTL_EXIT_USAGE = 2,
	P2PCTL_EXIT_UNREACHABLE = 3, /* cannot connect to the control socket */
	P2PCTL_EXIT_TRANSFER = 4,    /* the transfer failed or was rejected */
	P2PCTL_EXIT_PEER = 5,        /* unknown, ambiguous or offline peer */
	P2PCTL_EXIT_INTERRUPTED = 130,
};

/* Client-side errors; daemon errors stay in P2P_RPC_ERROR with their JSON-RPC code. */
#define P2PCTL_ERROR (p2pctl_error_quark())
GQuark p2pctl_error_quark(void);
typedef enum {
	P2PCTL_ERROR_USAGE,
	P2PCTL_ERROR_CONNECT,      /* socket missing, refused, permission denied */
	P2PCTL_ERROR_DISCONNECTED, /* the daemon closed the connection or a read failed */
	P2PCTL_ERROR_PROTOCOL,     /* the daemon sent something we cannot use */
	P2PCTL_ERROR_TIMEOUT,
	P2PCTL_ERROR_IO,           /* a local file operation failed */
	P2PCTL_ERROR_TRANSFER,     /* transfer failed / rejected */
	P2PCTL_ERROR_INTERRUPTED,  /* SIGINT / SIGTERM */
} P2pctlError;

/* Limits the client enforces on what the daemon sends. Responses can be larger than
 * requests (transfer.list --all), hence a bigger line limit than the shared default. */
#define P2PCTL_MAX_LINE        (8 * 1024 * 1024)
#define P2PCTL_CALL_TIMEOUT_MS (60 * 1000) /* a request the daemon does not answer */
#define P2PCTL_MAX_QUEUED      4096        /* notifications waiting to be read */
#define P2PCTL_MAX_COLLISIONS  9999        /* "name (N).ext" attempts in recv */
#define P2PCTL_MAX_SEND_FDS    253         /* the kernel's SCM_MAX_FD per message */
#define P2PCTL_MAX_PATH        4096        /* bytes per path in transfer.send (PATH_MAX) */

/* A node that owns o (json_node_init_object() would add a reference instead). */
JsonNode *p2pctl_node_take_object(JsonObject *o);

/* ---- connection (p2pctl-rpc.c) -------------------------------------------------- */

typedef struct _P2pctlConn P2pctlConn;

P2pctlConn *p2pctl_conn_open(const char *path, GError **error);
/* A connection over an already connected stream socket (fd consumed); label names it
 * in messages. For the unit tests (a socketpair) and p2pctl_conn_open(). */
P2pctlConn *p2pctl_conn_new_from_fd(int fd, const char *label);
void p2pctl_conn_free(P2pctlConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pctlConn, p2pctl_conn_free)

/* Sends one request and waits for its response; notifications that arrive meanwhile
 * are queued for p2pctl_conn_next_event(). params is consumed (may be NULL = {}).
 * A daemon error becomes a P2P_RPC_ERROR with the daemon's code and message; its
 * "data" member is kept in *error_data_out when given. fd_out (may be NULL) receives
 * the descriptor passed with the response, or -1. */
JsonNode *p2pctl_conn_call(P2pctlConn *conn, const char *method, JsonNode *params,
                           int *fd_out, JsonNode **error_data_out, GError **error);
/* Adds n descriptors (consumed, also on failure) to those passed with the next request,
 * all in one SCM_RIGHTS message, in this order. Fails beyond P2PCTL_MAX_SEND_FDS. */
gboolean p2pctl_conn_attach_fds(P2pctlConn *conn, const int *fds, guint n, GError **error);
/* Next notification (queued or read, waiting up to timeout_ms, -1 = forever).
 * Returns FALSE with error on disconnection, interruption or timeout. */
gboolean p2pctl_conn_next_event(P2pctlConn *conn, int timeout_ms, char **method_out,
                                JsonNode **params_out, GError **error);
const char *p2pctl_conn_get_path(P2pctlConn *conn);
/* The socket, for a poll() that also waits for other input (chat). A timeout of 0 in
 * p2pctl_conn_next_event() then reads what is there without waiting. */
int p2pctl_conn_get_fd(P2pctlConn *conn);

/* SIGINT/SIGTERM stop any wait with P2PCTL_ERROR_INTERRUPTED from then on. */
void p2pctl_catch_interrupts(void);
gboolean p2pctl_interrupted(void);
/* Readable once SIGINT/SIGTERM arrived (after p2pctl_catch_interrupts()), -1 before. */
int p2pctl_interrupt_fd(void);

/* ---- transfer objects (p2pctl-transfer.c) -------------------------------------- */

typedef struct {
	char *id;
	char *direction; /* "in" | "out" */
	char *peer;
	char *name;      /* first item, "photos (+2 more)" when several */
	char *state;
	char *sha256;    /* single-file transfers */
	char *path;      /* incoming, complete: final path of the first item */
	char *output;    /* incoming: the directory it is saved into */
	char *reason_code;
	char *reason_message;
	GStrv items;     /* top-level names, NULL if not sent */
	GStrv paths;     /* incoming, complete: final paths of every item */
	gint64 files;    /* regular files; -1: not reported (an older p2pd) */
	gint64 dirs;
	gint64 links;
	gint64 wire_bytes;
	guint64 size;
	guint64 bytes;
	double started;
	double finished;
	double duration;
	double rate;
	/* the session it runs on now (transfer.status only): NULL / -1 when absent */
	char *link_path;
	double link_rtt_ms;
	double link_rate_in;
	double link_rate_out;
} P2pctlTransfer;

void p2pctl_transfer_free(P2pctlTransfer *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pctlTransfer, p2pctl_transfer_free)
/* Type-checked decoding that tolerates members it does not know (a newer daemon). */
P2pctlTransfer *p2pctl_transfer_from_json(JsonNode *node, GError **error);
gboolean p2pctl_transfer_is_final(const P2pctlTransfer *t);
/* What "recv" can take: one regular file, no directories or links (counts that the
 * daemon did not report do not exclude it). */
gboolean p2pctl_transfer_is_single_file(const P2pctlTransfer *t);
/* "3 files", "1 file, 2 directories, 1 link"; NULL when the daemon gave no counts. */
char *p2pctl_transfer_contents(const P2pctlTransfer *t);
/* The state, with the reason code when there is one: "paused: disconnected". */
char *p2pctl_transfer_state_text(const P2pctlTransfer *t);
/* Multi-line "key: value" description, escaped for a terminal. */
char *p2pctl_transfer_describe(const P2pctlTransfer *t);
/* One line for an event notification (watch), escaped for a terminal. */
char *p2pctl_format_event(const char *method, JsonNode *params);

/* ---- output helpers (p2pctl-output.c) -------------------------------------------- */

char *p2pctl_format_size(guint64 bytes);            /* "1.5 MiB" */
char *p2pctl_format_rate(double bytes_per_second);  /* "1.5 MiB/s" */
char *p2pctl_format_rtt(double ms);
char *p2pctl_format_duration(double seconds);       /* "1:05", "1:02:03", "--:--" */
char *p2pctl_format_time(double unix_seconds);      /* local "YYYY-MM-DD HH:MM:SS" */
/* Makes text from the daemon or a peer safe on a terminal: control characters,
 * bidi overrides and invalid UTF-8 become visible escapes. */
char *p2pctl_escape(const char *text);
/* "name (n).ext" for n >= 1; dotfiles and names without an extension get " (n)" at
 * the end, "x.tar.gz" becomes "x (n).tar.gz". */
char *p2pctl_collision_name(const char *name, guint n);
/* One progress line that fits width columns: name, percent, bar, bytes, rate, ETA. */
char *p2pctl_format_progress(const char *name, guint64 bytes, guint64 size, double rate,
                             guint width);

/* Column table for human output; cells are escaped when printed. */
typedef struct _P2pctlTable P2pctlTable;
P2pctlTable *p2pctl_table_new(guint ncols, ...); /* ncols header strings */
void p2pctl_table_add(P2pctlTable *table, ...);  /* ncols cell strings (NULL = "-") */
void p2pctl_table_print(P2pctlTable *table, FILE *out);
void p2pctl_table_free(P2pctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pctlTable, p2pctl_table_free)

/* Draws / clears the in-place progress line on a terminal. */
typedef struct {
	FILE *out;
	gboolean enabled; /* out is a terminal */
	gboolean drawn;
} P2pctlProgress;
void p2pctl_progress_init(P2pctlProgress *p, FILE *out);
void p2pctl_progress_update(P2pctlProgress *p, const P2pctlTransfer *t);
void p2pctl_progress_clear(P2pctlProgress *p);

/* ---- command line (p2pctl-cli.c) -------------------------------------------------- */

typedef struct {
	const char *long_name;
	char short_name;
	const char *arg_name; /* NULL: a flag */
	const char *help;
} P2pctlOption;

typedef struct _P2pctlContext P2pctlContext;

typedef struct {
	const char *name;
	const char *args;    /* positional synopsis: "FILE PEER", "[ID]" */
	const char *summary;
	int (*handler)(int argc, char **argv, P2pctlContext *ctx);
	guint min_args;
	guint max_args;
	const P2pctlOption *options; /* {NULL}-terminated, may be NULL */
} P2pctlCommand;

struct _P2pctlContext {
	const char *socket_path;
	gboolean json;
	FILE *out; /* results */
	FILE *err; /* messages, progress */
	const P2pctlCommand *command;
	GHashTable *options; /* long name -> value ("" for flags) */
	JsonNode *error_data; /* "data" of the last daemon error, for --json */
};

extern const P2pctlCommand p2pctl_commands[];

/* The whole program, minus setlocale; out/err let the tests capture output. */
int p2pctl_run(int argc, char **argv, FILE *out, FILE *err);

const char *p2pctl_opt(P2pctlContext *ctx, const char *long_name); /* NULL if absent */
P2pctlConn *p2pctl_connect(P2pctlContext *ctx, GError **error);
/* Reports error (human on err, or {"error":...} on out with --json); returns the
 * exit status for it. */
int p2pctl_fail(P2pctlContext *ctx, const GError *error);
int p2pctl_exit_status(const GError *error);
/* Prints a result node with --json (compact, one line). */
void p2pctl_print_json(P2pctlContext *ctx, JsonNode *node);
/* Calls method and on failure reports it; returns the result or NULL with *status set. */
JsonNode *p2pctl_call(P2pctlContext *ctx, P2pctlConn *conn, const char *method,
                      JsonNode *params, int *status);

/* Handlers, one per row of the table. */
int p2pctl_cmd_info(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_list(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_send(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_recv(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_status(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_transfers(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_accept(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_reject(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_cancel(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_watch(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_log_level(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_call(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_answer(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_hangup(int argc, char **argv, P2pctlContext *ctx);
int p2pctl_cmd_calls(int argc, char **argv, P2pctlContext *ctx);
/* One line for a call_* event (watch), escaped for a terminal. */
char *p2pctl_format_call_event(const char *method, JsonNode *params);

/* Shared by send and recv: report an interruption (naming the transfer that goes on
 * in the daemon), and the end of a followed transfer (0 complete, 4 otherwise). */
int p2pctl_report_interrupt(P2pctlContext *ctx, const char *id);
int p2pctl_report_final(P2pctlContext *ctx, const P2pctlTransfer *t, JsonNode *node);

/* Shared by status and transfers: prints a transfer.list result. */
int p2pctl_print_transfer_list(P2pctlContext *ctx, JsonNode *result);

/* "accepted 44acef7d: photos (3 files, 12.1 KiB) from bob, now transferring" (escaped);
 * verb: accepted, rejected, cancelled. */
char *p2pctl_format_verb_result(const char *verb, const P2pctlTransfer *t);
/* send's final line: "sent NAME to PEER: 3 files, 12345 bytes (12.1 KiB), verified by
 * the receiver" (escaped). */
char *p2pctl_format_sent(const P2pctlTransfer *t, const char *fallback_name,
                         const char *fallback_peer);
/* The progress line of send and recv; a paused transfer says why and whom it waits for. */
char *p2pctl_format_transfer_progress(const P2pctlTransfer *t, guint width);

/* ---- recv helpers (p2pctl-cmd-recv.c), exposed for the unit tests ---------------- */

/* Copies fd into dir_fd under a temporary name, checks size and SHA-256, fsyncs, then
 * links it to the first free name among NAME, "NAME (1).ext", ... without ever
 * replacing a file. Returns the final name (relative to the directory). */
char *p2pctl_save_file(int src_fd, int dir_fd, const char *name, guint64 size,
                       const char *sha256, GError **error);
/* A peer-supplied name is usable as one path component: not empty, no '/', not "."
 * or "..", at most NAME_MAX bytes. */
gboolean p2pctl_name_is_safe(const char *name);

G_END_DECLS

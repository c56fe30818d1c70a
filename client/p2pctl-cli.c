/* p2pctl-cli.c: the verb table, option parsing, help printed from the table, and the
 * one place where errors become messages and exit statuses. */
#include "config.h"

#include <string.h>

#include "p2pctl.h"
#include "p2pctl-chat.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define DEFAULT_SOCKET RUNSTATEDIR "/p2pd/control.sock"

static int cmd_help(int argc, char **argv, P2pctlContext *ctx);

static const P2pctlOption send_options[] = {
	{ "no-wait", 'n', NULL, "print the transfer id once p2pd accepted the request and exit" },
	{ NULL }
};
static const P2pctlOption accept_options[] = {
	{ "output", 'o', "DIR", "directory to save into instead of the daemon's save directory" },
	{ NULL }
};
static const P2pctlOption recv_options[] = {
	{ "output", 'o', "DIR", "directory to save the file in (default: the current one)" },
	{ NULL }
};
static const P2pctlOption transfers_options[] = {
	{ "all", 'a', NULL, "include transfers from earlier runs of p2pd" },
	{ NULL }
};
static const P2pctlOption reject_options[] = {
	{ "reason", 'r', "TEXT", "explanation sent to the peer" },
	{ NULL }
};
static const P2pctlOption cancel_options[] = {
	{ "reason", 'r', "TEXT", "explanation sent to the peer" },
	{ NULL }
};
static const P2pctlOption chat_options[] = {
	{ "send", 'm', "TEXT", "send one message and print its id instead of opening the chat" },
	{ "history", 'H', NULL, "print the stored conversation (the last N messages, default 50)" },
	{ NULL }
};

static const P2pctlOption call_options[] = {
	{ "no-open", 'n', NULL, "print the call page's one-time link instead of opening a browser" },
	{ NULL }
};

const P2pctlCommand p2pctl_commands[] = {
	{ "info", "", "show this agent, its key fingerprint and the signaling state",
	  p2pctl_cmd_info, 0, 0, NULL },
	{ "list", "", "list the peers this agent can see, their keys and sessions",
	  p2pctl_cmd_list, 0, 0, NULL },
	/* PATH... PEER: up to P2P_SEND_MAX_PATHS paths, then the peer */
	{ "send", "PATH... PEER",
	  "send files and directories to PEER and wait until the receiver verified them",
	  p2pctl_cmd_send, 2, P2P_SEND_MAX_PATHS + 1, send_options },
	{ "recv", "", "accept the next incoming file and save it in the current directory",
	  p2pctl_cmd_recv, 0, 0, recv_options },
	{ "status", "[ID]", "show one transfer in detail, or list the transfers of this daemon run",
	  p2pctl_cmd_status, 0, 1, NULL },
	{ "transfers", "", "list transfers (active and finished in this run)",
	  p2pctl_cmd_transfers, 0, 0, transfers_options },
	{ "accept", "ID", "accept an incoming offer that waits for a decision",
	  p2pctl_cmd_accept, 1, 1, accept_options },
	{ "reject", "ID", "reject an incoming offer", p2pctl_cmd_reject, 1, 1, reject_options },
	{ "cancel", "ID", "stop a transfer in either direction (also a paused one)",
	  p2pctl_cmd_cancel, 1, 1, cancel_options },
	{ "watch", "", "print events (offers, progress, peers) as they happen",
	  p2pctl_cmd_watch, 0, 0, NULL },
	/* PEER [N]: N only with --history */
	{ "chat", "PEER [N]", "chat with PEER in the terminal, or send or print messages",
	  p2pctl_cmd_chat, 1, 2, chat_options },
	{ "call", "PEER", "video call PEER: opens the call page of p2pd in the browser",
	  p2pctl_cmd_call, 1, 1, call_options },
	{ "answer", "[CALL-ID]", "answer a ringing call: opens its page in the browser",
	  p2pctl_cmd_answer, 0, 1, call_options },
	{ "hangup", "[CALL-ID]", "end a call (the only one going on when no id is given)",
	  p2pctl_cmd_hangup, 0, 1, NULL },
	{ "calls", "", "list the calls of this daemon run", p2pctl_cmd_calls, 0, 0, NULL },
	{ "log-level", "LEVEL", "set what p2pd logs until its next reload: error, warning, info or debug",
	  p2pctl_cmd_log_level, 1, 1, NULL },
	{ "help", "[COMMAND]", "show help for all commands or one", cmd_help, 0, 1, NULL },
	{ NULL }
};

/* Accepted before and after the command name. */
static const P2pctlOption global_options[] = {
	{ "socket", 's', "PATH", "control socket of p2pd (default: $P2PD_SOCKET or " DEFAULT_SOCKET ")" },
	{ "json", 'j', NULL, "machine-readable JSON output" },
	{ "help", 'h', NULL, "show help and exit" },
	{ "version", 'V', NULL, "show the version and exit" },
	{ NULL }
};

/* ---- help ------------------------------------------------------------------------- */

static const P2pctlCommand *
find_command(const char *name)
{
	for (const P2pctlCommand *c = p2pctl_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void
print_options(FILE *out, const P2pctlOption *opts)
{
	for (const P2pctlOption *o = opts; o && o->long_name; o++) {
		g_autofree char *left = g_strdup_printf("-%c, --%s%s%s", o->short_name, o->long_name,
		                                        o->arg_name ? " " : "",
		                                        o->arg_name ? o->arg_name : "");
		fprintf(out, "  %-22s %s\n", left, o->help);
	}
}

static char *
command_synopsis(const P2pctlCommand *c)
{
	GString *s = g_string_new(c->name);

	for (const P2pctlOption *o = c->options; o && o->long_name; o++) {
		if (o->arg_name)
			g_string_append_printf(s, " [--%s %s]", o->long_name, o->arg_name);
		else
			g_string_append_printf(s, " [--%s]", o->long_name);
	}
	if (*c->args)
		g_string_append_printf(s, " %s", c->args);
	return g_string_free(s, FALSE);
}

static void
print_usage(FILE *out)
{
	fprintf(out, "usage: p2pctl [--socket PATH] [--json] COMMAND [ARGS]\n\n"
	             "Sends files directly and end-to-end encrypted through the local p2pd.\n\n"
	             "Commands:\n");
	for (const P2pctlCommand *c = p2pctl_commands; c->name; c++) {
		g_autofree char *syn = command_synopsis(c);
		fprintf(out, "  %-30s %s\n", syn, c->summary);
	}
	fprintf(out, "\nOptions:\n");
	print_options(out, global_options);
	fprintf(out, "\nRun 'p2pctl COMMAND --help' for one command; see p2pctl(1).\n");
}

static void
print_command_help(FILE *out, const P2pctlCommand *c)
{
	g_autofree char *syn = command_synopsis(c);

	fprintf(out, "usage: p2pctl [--socket PATH] [--json] %s\n\n%s\n", syn, c->summary);
	if (c->options && c->options->long_name) {
		fprintf(out, "\nOptions:\n");
		print_options(out, c->options);
	}
}

static int
cmd_help(int argc, char **argv, P2pctlContext *ctx)
{
	if (argc == 0) {
		print_usage(ctx->out);
		return P2PCTL_EXIT_OK;
	}
	const P2pctlCommand *c = find_command(argv[0]);
	if (c == NULL) {
		g_autoptr(GError) error = NULL;
		g_autofree char *name = p2pctl_escape(argv[0]);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "unknown command \"%s\" (see 'p2pctl --help')", name);
		return p2pctl_fail(ctx, error);
	}
	print_command_help(ctx->out, c);
	return P2PCTL_EXIT_OK;
}

/* ---- errors and JSON ----------------------------------------------------------------- */

int
p2pctl_exit_status(const GError *error)
{
	if (error->domain == P2P_RPC_ERROR) {
		switch (error->code) {
		case P2P_RPC_UNKNOWN_PEER:
		case P2P_RPC_AMBIGUOUS_PEER:
		case P2P_RPC_PEER_OFFLINE:
			return P2PCTL_EXIT_PEER;
		default:
			return P2PCTL_EXIT_FAILED;
		}
	}
	if (error->domain == P2PCTL_ERROR) {
		switch (error->code) {
		case P2PCTL_ERROR_USAGE: return P2PCTL_EXIT_USAGE;
		case P2PCTL_ERROR_CONNECT: return P2PCTL_EXIT_UNREACHABLE;
		case P2PCTL_ERROR_TRANSFER: return P2PCTL_EXIT_TRANSFER;
		case P2PCTL_ERROR_INTERRUPTED: return P2PCTL_EXIT_INTERRUPTED;
		default: return P2PCTL_EXIT_FAILED;
		}
	}
	return P2PCTL_EXIT_FAILED;
}

void
p2pctl_print_json(P2pctlContext *ctx, JsonNode *node)
{
	g_autofree char *s = p2p_json_to_string(node);
	fprintf(ctx->out, "%s\n", s);
	fflush(ctx->out);
}

int
p2pctl_fail(P2pctlContext *ctx, const GError *error)
{
	int status = p2pctl_exit_status(error);

	if (ctx->json) {
		/* Daemon errors keep their JSON-RPC code; the client's own use the exit status. */
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "error");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "code");
		json_builder_add_int_value(b, error->domain == P2P_RPC_ERROR ? error->code : status);
		json_builder_set_member_name(b, "message");
		json_builder_add_string_value(b, error->message);
		if (ctx->error_data && error->domain == P2P_RPC_ERROR) {
			json_builder_set_member_name(b, "data");
			json_builder_add_value(b, json_node_copy(ctx->error_data));
		}
		json_builder_end_object(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		p2pctl_print_json(ctx, root);
	} else {
		/* The message may quote what a peer or the daemon sent. */
		g_autofree char *msg = p2pctl_escape(error->message);
		fflush(ctx->out);
		fprintf(ctx->err, "p2pctl: %s\n", msg);
		fflush(ctx->err);
	}
	return status;
}

P2pctlConn *
p2pctl_connect(P2pctlContext *ctx, GError **error)
{
	return p2pctl_conn_open(ctx->socket_path, error);
}

JsonNode *
p2pctl_call(P2pctlContext *ctx, P2pctlConn *conn, const char *method, JsonNode *params,
            int *status)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&ctx->error_data, json_node_unref);
	JsonNode *result = p2pctl_conn_call(conn, method, params, NULL, &ctx->error_data, &error);
	if (result == NULL)
		*status = p2pctl_fail(ctx, error);
	return result;
}

const char *
p2pctl_opt(P2pctlContext *ctx, const char *long_name)
{
	return ctx->options ? g_hash_table_lookup(ctx->options, long_name) : NULL;
}

/* ---- parsing ----------------------------------------------------------------------- */

static const P2pctlOption *
match_option(const P2pctlOption *opts, const char *arg, const char **inline_value)
{
	*inline_value = NULL;
	for (const P2pctlOption *o = opts; o && o->long_name; o++) {
		if (arg[1] != '-') {
			if (arg[1] == o->short_name && arg[2] == '\0')
				return o;
			continue;
		}
		gsize n = strlen(o->long_name);
		if (strncmp(arg + 2, o->long_name, n) != 0)
			continue;
		if (arg[2 + n] == '\0')
			return o;
		if (arg[2 + n] == '=') {
			*inline_value = arg + 3 + n;
			return o;
		}
	}
	return NULL;
}

typedef enum { OPT_OK, OPT_HELP, OPT_VERSION } OptResult;

/* Consumes options from argv[*i]; stops at the first positional when stop_at_positional
 * (before the command), else collects positionals into pos. */
static gboolean
parse_args(P2pctlContext *ctx, const P2pctlOption *cmd_opts, int argc, char **argv, int *i,
           gboolean stop_at_positional, GPtrArray *pos, OptResult *res, GError **error)
{
	const char *where = ctx->command ? ctx->command->name : NULL;
	gboolean only_positional = FALSE;

	for (; *i < argc; (*i)++) {
		const char *arg = argv[*i];
		const char *value = NULL;

		if (only_positional || arg[0] != '-' || arg[1] == '\0') {
			if (stop_at_positional)
				return TRUE;
			g_ptr_array_add(pos, (gpointer)arg);
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_positional = TRUE;
			if (stop_at_positional) {
				(*i)++;
				return TRUE;
			}
			continue;
		}
		const P2pctlOption *o = match_option(cmd_opts, arg, &value);
		gboolean global = FALSE;
		if (o == NULL) {
			o = match_option(global_options, arg, &value);
			global = TRUE;
		}
		if (o == NULL) {
			g_autofree char *earg = p2pctl_escape(arg);
			if (where)
				g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
				            "unknown option \"%s\" for \"%s\" (see 'p2pctl %s --help')",
				            earg, where, where);
			else
				g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
				            "unknown option \"%s\" (see 'p2pctl --help')", earg);
			return FALSE;
		}
		if (o->arg_name && value == NULL) {
			if (*i + 1 >= argc) {
				g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
				            "option --%s needs an argument (%s)", o->long_name,
				            o->arg_name);
				return FALSE;
			}
			value = argv[++(*i)];
		} else if (!o->arg_name && value != NULL) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
			            "option --%s takes no argument", o->long_name);
			return FALSE;
		}
		if (!global) {
			g_hash_table_replace(ctx->options, (gpointer)o->long_name,
			                     (gpointer)(value ? value : ""));
		} else if (strcmp(o->long_name, "socket") == 0) {
			if (*value == '\0') {
				g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
				            "option --socket needs a non-empty path");
				return FALSE;
			}
			ctx->socket_path = value;
		} else if (strcmp(o->long_name, "json") == 0) {
			ctx->json = TRUE;
		} else if (strcmp(o->long_name, "help") == 0) {
			*res = OPT_HELP;
		} else if (strcmp(o->long_name, "version") == 0) {
			*res = OPT_VERSION;
		}
	}
	return TRUE;
}

/* Names the first missing positional from the synopsis: "send FILE PEER" -> "PEER". */
static char *
missing_arg_name(const P2pctlCommand *c, guint have)
{
	g_auto(GStrv) words = g_strsplit(c->args, " ", -1);

	if (have < g_strv_length(words)) {
		/* "PATH..." names a list: one of them is what is missing */
		if (g_str_has_suffix(words[have], "..."))
			return g_strndup(words[have], strlen(words[have]) - 3);
		return g_strdup(words[have]);
	}
	return g_strdup("an argument");
}

int
p2pctl_run(int argc, char **argv, FILE *out, FILE *err)
{
	P2pctlContext ctx = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) pos = g_ptr_array_new();
	g_autoptr(GHashTable) options = g_hash_table_new(g_str_hash, g_str_equal);
	OptResult res = OPT_OK;
	int i = 1;
	int status;

	ctx.out = out;
	ctx.err = err;
	ctx.options = options;
	ctx.socket_path = g_getenv("P2PD_SOCKET");
	if (ctx.socket_path == NULL || *ctx.socket_path == '\0')
		ctx.socket_path = DEFAULT_SOCKET;

	if (!parse_args(&ctx, NULL, argc, argv, &i, TRUE, NULL, &res, &error))
		return p2pctl_fail(&ctx, error);
	if (res == OPT_VERSION) {
		fprintf(out, "p2pctl %s (control protocol %d)\n", PACKAGE_VERSION,
		        P2P_CONTROL_VERSION);
		return P2PCTL_EXIT_OK;
	}
	if (res == OPT_HELP) {
		print_usage(out);
		return P2PCTL_EXIT_OK;
	}
	if (i >= argc) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "missing command (see 'p2pctl --help')");
		return p2pctl_fail(&ctx, error);
	}
	ctx.command = find_command(argv[i]);
	if (ctx.command == NULL) {
		g_autofree char *name = p2pctl_escape(argv[i]);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "unknown command \"%s\" (see 'p2pctl --help')", name);
		return p2pctl_fail(&ctx, error);
	}
	i++;
	if (!parse_args(&ctx, ctx.command->options, argc, argv, &i, FALSE, pos, &res, &error))
		return p2pctl_fail(&ctx, error);
	if (res == OPT_HELP) {
		print_command_help(out, ctx.command);
		return P2PCTL_EXIT_OK;
	}
	if (res == OPT_VERSION) {
		fprintf(out, "p2pctl %s\n", PACKAGE_VERSION);
		return P2PCTL_EXIT_OK;
	}
	if (pos->len < ctx.command->min_args) {
		g_autofree char *missing = missing_arg_name(ctx.command, pos->len);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "\"%s\" needs %s (usage: p2pctl %s %s)", ctx.command->name, missing,
		            ctx.command->name, ctx.command->args);
		return p2pctl_fail(&ctx, error);
	}
	if (pos->len > ctx.command->max_args && ctx.command->max_args > 2) {
		/* send: many arguments are fine, too many is a limit, not a typo */
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "\"%s\" takes at most %u arguments (%s), got %u", ctx.command->name,
		            ctx.command->max_args, ctx.command->args, pos->len);
		return p2pctl_fail(&ctx, error);
	}
	if (pos->len > ctx.command->max_args) {
		g_autofree char *extra = p2pctl_escape(pos->pdata[ctx.command->max_args]);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "unexpected argument \"%s\" for \"%s\" (see 'p2pctl %s --help')", extra,
		            ctx.command->name, ctx.command->name);
		return p2pctl_fail(&ctx, error);
	}

	g_ptr_array_add(pos, NULL);
	status = ctx.command->handler((int)pos->len - 1, (char **)pos->pdata, &ctx);
	g_clear_pointer(&ctx.error_data, json_node_unref);
	fflush(out);
	fflush(err);
	return status;
}

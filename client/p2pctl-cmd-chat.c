/* p2pctl-cmd-chat.c: "chat PEER": one message (--send), one per line of standard
 * input, the stored conversation (--history [N]), or, on a terminal, the interactive
 * chat: events.subscribe and the keyboard read by one poll(), the screen redrawn from
 * the model in p2pctl-chat.c. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2pctl-chat.h"

/* stdin lines: a rate-limited send is retried this often, this far apart, so that a
 * script can pipe a file without pacing itself. */
#define LIMIT_RETRIES  40
#define LIMIT_PAUSE_US (250 * 1000)
/* A lone ESC from the keyboard is given this long to become a sequence. */
#define ESC_WAIT_MS    100

static double
now_unix(void)
{
	return (double)g_get_real_time() / G_USEC_PER_SEC;
}

static JsonNode *
peer_params(const char *peer)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "peer", peer);
	return p2pctl_node_take_object(o);
}

/* What the daemon would refuse anyway, said before a connection is made and with the
 * input quoted. */
static gboolean
check_text(const char *text, const char *where, GError **error)
{
	if (!g_utf8_validate(text, -1, NULL)) {
		g_autofree char *e = p2pctl_escape(text);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "%s is not valid UTF-8: \"%s\"", where, e);
		return FALSE;
	}
	if (*text == '\0') {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE, "%s is empty", where);
		return FALSE;
	}
	if (strlen(text) > P2P_CHAT_MAX_TEXT) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "%s is %zu bytes long, a chat message has at most %d", where,
		            strlen(text), P2P_CHAT_MAX_TEXT);
		return FALSE;
	}
	return TRUE;
}

static JsonNode *
send_message(P2pctlConn *conn, const char *peer, const char *text, JsonNode **error_data,
             GError **error)
{
	JsonNode *params = peer_params(peer);
	json_object_set_string_member(json_node_get_object(params), "text", text);
	return p2pctl_conn_call(conn, P2P_M_CHAT_SEND, params, NULL, error_data, error);
}

/* Prints the answer to chat.send: the id, or the Message with --json. */
static int
print_sent(P2pctlContext *ctx, JsonNode *result)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlChatMessage) m = p2pctl_chat_message_from_json(result, &error);

	if (m == NULL)
		return p2pctl_fail(ctx, error);
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
	} else {
		g_autofree char *id = p2pctl_escape(m->id);
		fprintf(ctx->out, "%s\n", id);
		fflush(ctx->out);
	}
	return P2PCTL_EXIT_OK;
}

static int
chat_send_one(P2pctlContext *ctx, const char *peer, const char *text)
{
	g_autoptr(GError) error = NULL;

	if (!check_text(text, "the message", &error))
		return p2pctl_fail(ctx, error);
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	p2pctl_catch_interrupts();
	g_clear_pointer(&ctx->error_data, json_node_unref);
	g_autoptr(JsonNode) result = send_message(conn, peer, text, &ctx->error_data, &error);
	if (result == NULL)
		return p2pctl_fail(ctx, error);
	return print_sent(ctx, result);
}

static int
chat_send_lines(P2pctlContext *ctx, const char *peer)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	char buf[P2P_CHAT_MAX_TEXT + 3]; /* the text, "\r\n", NUL */
	guint lineno = 0;

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	p2pctl_catch_interrupts();
	while (fgets(buf, sizeof(buf), stdin)) {
		gsize len = strlen(buf);
		lineno++;
		if (len > 0 && buf[len - 1] == '\n') {
			buf[--len] = '\0';
		} else if (!feof(stdin)) {
			g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
			            "line %u of standard input is longer than %d bytes, the most a "
			            "chat message can hold", lineno, P2P_CHAT_MAX_TEXT);
			return p2pctl_fail(ctx, error);
		}
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (len == 0)
			continue; /* nothing to say */
		g_autofree char *where = g_strdup_printf("line %u of standard input", lineno);
		if (!check_text(buf, where, &error))
			return p2pctl_fail(ctx, error);

		g_autoptr(JsonNode) result = NULL;
		for (guint attempt = 0;; attempt++) {
			g_clear_pointer(&ctx->error_data, json_node_unref);
			result = send_message(conn, peer, buf, &ctx->error_data, &error);
			if (result || attempt >= LIMIT_RETRIES ||
			    !g_error_matches(error, P2P_RPC_ERROR, P2P_RPC_LIMIT) ||
			    p2pctl_interrupted())
				break;
			g_clear_error(&error);
			g_usleep(LIMIT_PAUSE_US);
		}
		if (result == NULL)
			return p2pctl_fail(ctx, error);
		int status = print_sent(ctx, result);
		if (status != P2PCTL_EXIT_OK)
			return status;
	}
	if (ferror(stdin)) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot read standard input: %s", g_strerror(errno));
		return p2pctl_fail(ctx, error);
	}
	return P2PCTL_EXIT_OK;
}

/* daemon.info's agent name, for our own lines; "me" if the daemon does not say. */
static char *
agent_name(P2pctlConn *conn)
{
	g_autoptr(JsonNode) info = p2pctl_conn_call(conn, P2P_M_DAEMON_INFO, NULL, NULL, NULL,
	                                            NULL);
	if (info && JSON_NODE_HOLDS_OBJECT(info)) {
		JsonObject *o = json_node_get_object(info);
		JsonNode *n = json_object_get_member(o, "agent");
		if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
			return g_strdup(json_node_get_string(n));
	}
	return g_strdup("me");
}

/* Fetches the last limit messages; the result node, or NULL with the exit status. */
static JsonArray *
history_messages(JsonNode *result, GError **error)
{
	JsonNode *msgs = JSON_NODE_HOLDS_OBJECT(result)
	                         ? json_object_get_member(json_node_get_object(result), "messages")
	                         : NULL;
	if (msgs == NULL || !JSON_NODE_HOLDS_ARRAY(msgs)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd's answer to \"%s\" lacks the \"messages\" array",
		            P2P_M_CHAT_HISTORY);
		return NULL;
	}
	return json_node_get_array(msgs);
}

static JsonNode *
call_history(P2pctlConn *conn, const char *peer, guint limit, JsonNode **error_data,
             GError **error)
{
	JsonNode *params = peer_params(peer);
	json_object_set_int_member(json_node_get_object(params), "limit", limit);
	return p2pctl_conn_call(conn, P2P_M_CHAT_HISTORY, params, NULL, error_data, error);
}

static int
chat_history(P2pctlContext *ctx, const char *peer, guint limit)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	p2pctl_catch_interrupts();
	g_clear_pointer(&ctx->error_data, json_node_unref);
	g_autoptr(JsonNode) result = call_history(conn, peer, limit, &ctx->error_data, &error);
	if (result == NULL)
		return p2pctl_fail(ctx, error);
	JsonArray *a = history_messages(result, &error);
	if (a == NULL)
		return p2pctl_fail(ctx, error);
	if (ctx->json) {
		p2pctl_print_json(ctx, result);
		return P2PCTL_EXIT_OK;
	}
	g_autofree char *me = agent_name(conn);
	double now = now_unix();
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autoptr(P2pctlChatMessage) m =
			p2pctl_chat_message_from_json(json_array_get_element(a, i), &error);
		if (m == NULL)
			return p2pctl_fail(ctx, error);
		g_autofree char *line = p2pctl_chat_render(m, me, m->peer ? m->peer : peer, now);
		fprintf(ctx->out, "%s\n", line);
	}
	fflush(ctx->out);
	return P2PCTL_EXIT_OK;
}

/* ---- interactive ------------------------------------------------------------------ */

typedef struct {
	P2pctlContext *ctx;
	P2pctlConn *conn;
	P2pctlChat chat;
	P2pctlEditor *ed;
	int in_fd;
	int out_fd;
	guint rows;
	guint cols;
	gboolean dirty_all;   /* the conversation or the status line changed */
	gboolean dirty_input; /* only the input line */
	gboolean quit;
	gint64 last_typing;   /* monotonic µs of our last chat.typing */
	gboolean typing_due;  /* typed within 2 s of it: tell the peer when they are up */
	char keys[P2PCTL_KEY_MAX_SEQ * 4];
	gsize nkeys;          /* bytes of an unfinished key waiting in keys */
	GError *fatal;        /* what ended the chat, if not the user */
} Session;

/* The peer's id as the daemon names it and whether it is online, from peers.list.
 * The same rule as p2pd's: the exact id, else the one id whose part after the dot is
 * the alias. */
static guint
resolve_peer(Session *s)
{
	g_autoptr(JsonNode) r = p2pctl_conn_call(s->conn, P2P_M_PEERS_LIST, NULL, NULL, NULL,
	                                         NULL);
	JsonNode *peers = r && JSON_NODE_HOLDS_OBJECT(r)
	                          ? json_object_get_member(json_node_get_object(r), "peers")
	                          : NULL;
	JsonObject *found = NULL;
	guint matches = 0;

	if (peers == NULL || !JSON_NODE_HOLDS_ARRAY(peers))
		return 1; /* cannot tell: let chat.send decide */
	JsonArray *a = json_node_get_array(peers);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);
		if (!JSON_NODE_HOLDS_OBJECT(n))
			continue;
		JsonObject *p = json_node_get_object(n);
		JsonNode *idn = json_object_get_member(p, "id");
		if (idn == NULL || !JSON_NODE_HOLDS_VALUE(idn) ||
		    json_node_get_value_type(idn) != G_TYPE_STRING)
			continue;
		const char *id = json_node_get_string(idn);
		if (strcmp(id, s->chat.peer_arg) == 0) {
			found = p;
			matches = 1;
			break;
		}
		if (p2pctl_chat_peer_matches(id, NULL, s->chat.peer_arg)) {
			found = p;
			matches++;
		}
	}
	if (matches != 1) {
		s->chat.online = FALSE; /* never seen: it is not online either */
		return matches;
	}
	s->chat.peer_id = g_strdup(json_object_get_string_member(found, "id"));
	JsonNode *on = json_object_get_member(found, "online");
	s->chat.online = on && JSON_NODE_HOLDS_VALUE(on) &&
	                 json_node_get_value_type(on) == G_TYPE_BOOLEAN &&
	                 json_node_get_boolean(on);
	return 1;
}

static const char *
event_peer(JsonNode *params, const char *member)
{
	if (params == NULL || !JSON_NODE_HOLDS_OBJECT(params))
		return NULL;
	JsonNode *n = json_object_get_member(json_node_get_object(params), member);
	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
		return json_node_get_string(n);
	return NULL;
}

static gboolean
is_our_peer(Session *s, const char *name)
{
	return p2pctl_chat_peer_matches(name, s->chat.peer_id, s->chat.peer_arg);
}

static void
take_message(Session *s, JsonNode *node)
{
	g_autoptr(GError) error = NULL;
	P2pctlChatMessage *m = p2pctl_chat_message_from_json(node, &error);

	if (m == NULL || !is_our_peer(s, m->peer)) {
		p2pctl_chat_message_free(m);
		return; /* another conversation, or something we cannot show */
	}
	if (s->chat.peer_id == NULL)
		s->chat.peer_id = g_strdup(m->peer);
	if (!m->outgoing && s->chat.typing_until) {
		/* the message the peer was typing is here */
		s->chat.typing_until = 0;
		s->dirty_all = TRUE;
	}
	if (p2pctl_chat_upsert(&s->chat, m))
		s->dirty_all = TRUE;
}

static void
on_event(Session *s, const char *method, JsonNode *params)
{
	if (strcmp(method, P2P_E_CHAT_MESSAGE) == 0) {
		take_message(s, params);
	} else if (strcmp(method, P2P_E_CHAT_DELIVERED) == 0) {
		const char *id = event_peer(params, "id");
		if (id && is_our_peer(s, event_peer(params, "peer")) &&
		    p2pctl_chat_delivered(&s->chat, id))
			s->dirty_all = TRUE;
	} else if (strcmp(method, P2P_E_CHAT_TYPING) == 0) {
		if (is_our_peer(s, event_peer(params, "peer"))) {
			s->chat.typing_until = g_get_monotonic_time() + P2PCTL_CHAT_TYPING_SHOWN_US;
			s->dirty_all = TRUE;
		}
	} else if (strcmp(method, P2P_E_PEER_ONLINE) == 0 ||
	           strcmp(method, P2P_E_PEER_OFFLINE) == 0) {
		gboolean online = strcmp(method, P2P_E_PEER_ONLINE) == 0;
		if (!is_our_peer(s, event_peer(params, "id")) || s->chat.online == online)
			return;
		s->chat.online = online;
		if (!online)
			s->chat.typing_until = 0;
		g_autofree char *name = g_strdup(s->chat.peer_arg);
		g_autofree char *note = g_strdup_printf(online ? "%s is back online"
		                                               : "%s went offline", name);
		p2pctl_chat_note(&s->chat, now_unix(), note);
		s->dirty_all = TRUE;
	}
}

/* Everything the daemon sent so far (and the events queued during calls). */
static gboolean
drain_events(Session *s)
{
	for (;;) {
		g_autoptr(GError) error = NULL;
		g_autofree char *method = NULL;
		g_autoptr(JsonNode) params = NULL;

		if (!p2pctl_conn_next_event(s->conn, 0, &method, &params, &error)) {
			if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_TIMEOUT))
				return TRUE;
			if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED)) {
				s->quit = TRUE;
				return TRUE;
			}
			g_propagate_error(&s->fatal, g_steal_pointer(&error));
			return FALSE;
		}
		on_event(s, method, params);
	}
}

/* A call from inside the loop: a lost connection ends the chat, anything else is shown
 * as a note. */
static JsonNode *
loop_call(Session *s, const char *method, JsonNode *params, const char *what)
{
	g_autoptr(GError) error = NULL;
	JsonNode *r = p2pctl_conn_call(s->conn, method, params, NULL, NULL, &error);

	if (r)
		return r;
	if (error->domain == P2PCTL_ERROR &&
	    (error->code == P2PCTL_ERROR_DISCONNECTED || error->code == P2PCTL_ERROR_PROTOCOL)) {
		g_propagate_error(&s->fatal, g_steal_pointer(&error));
	} else if (g_error_matches(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED)) {
		s->quit = TRUE;
	} else if (what) {
		g_autofree char *note = g_strdup_printf("%s: %s", what, error->message);
		p2pctl_chat_note(&s->chat, now_unix(), note);
		s->dirty_all = TRUE;
	}
	return NULL;
}

static void
submit(Session *s)
{
	g_autofree char *line = p2pctl_editor_take_line(s->ed);
	JsonNode *params = peer_params(s->chat.peer_id ? s->chat.peer_id : s->chat.peer_arg);

	json_object_set_string_member(json_node_get_object(params), "text", line);
	g_autoptr(JsonNode) r = loop_call(s, P2P_M_CHAT_SEND, params, "not sent");
	if (r == NULL) {
		/* give the line back so that it can be sent again */
		if (!s->fatal && !s->quit)
			p2pctl_editor_set_text(s->ed, line);
		s->dirty_all = TRUE;
		return;
	}
	take_message(s, r);
	s->dirty_all = TRUE;
	s->typing_due = FALSE; /* the message says it all */
}

/* chat.typing now, for text the user is writing. */
static void
send_typing(Session *s)
{
	s->typing_due = FALSE;
	if (*p2pctl_editor_text(s->ed) == '\0')
		return;
	g_autoptr(JsonNode) r = loop_call(s, P2P_M_CHAT_TYPING,
	                                  peer_params(s->chat.peer_id ? s->chat.peer_id
	                                                              : s->chat.peer_arg),
	                                  NULL);
	/* taken after the answer, so later than p2pd's own clock for its 2 s: the next
	 * call is never absorbed for being a hair early */
	s->last_typing = g_get_monotonic_time();
}

/* At most one chat.typing every 2 s; keys typed in between are not forgotten but told
 * when the 2 s are up, so that a burst of typing (a paste, or typing right after a
 * send) still reaches the peer, which absorbs what comes faster. */
static void
typed(Session *s)
{
	s->dirty_input = TRUE;
	if (s->last_typing &&
	    g_get_monotonic_time() - s->last_typing < P2PCTL_CHAT_TYPING_EVERY_US) {
		s->typing_due = TRUE;
		return;
	}
	send_typing(s);
}

static void
on_key(Session *s, const P2pctlKey *key)
{
	switch (key->type) {
	case P2PCTL_KEY_PAGE_UP:
		s->chat.scroll += MAX(s->rows / 2, 1u);
		s->dirty_all = TRUE;
		return;
	case P2PCTL_KEY_PAGE_DOWN:
		s->chat.scroll -= MIN(s->chat.scroll, MAX(s->rows / 2, 1u));
		s->dirty_all = TRUE;
		return;
	case P2PCTL_KEY_REDRAW:
		s->dirty_all = TRUE;
		return;
	default:
		break;
	}
	switch (p2pctl_editor_key(s->ed, key)) {
	case P2PCTL_EDIT_NONE:
		break;
	case P2PCTL_EDIT_MOVED:
		s->dirty_input = TRUE;
		break;
	case P2PCTL_EDIT_CHANGED:
		typed(s);
		break;
	case P2PCTL_EDIT_SUBMIT:
		submit(s);
		break;
	case P2PCTL_EDIT_QUIT:
		s->quit = TRUE;
		break;
	case P2PCTL_EDIT_BELL:
		p2pctl_write_all(s->out_fd, "\a", 1);
		break;
	}
}

static void
read_keys(Session *s)
{
	ssize_t n = read(s->in_fd, s->keys + s->nkeys, sizeof(s->keys) - s->nkeys);

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		s->quit = TRUE; /* the terminal is gone */
		return;
	}
	if (n < 0)
		return;
	s->nkeys += (gsize)n;
	gsize at = 0;
	while (at < s->nkeys && !s->quit && !s->fatal) {
		P2pctlKey key;
		gsize used = p2pctl_key_decode(s->keys + at, s->nkeys - at, &key);
		if (used == 0)
			break;
		at += used;
		on_key(s, &key);
	}
	if (s->quit || s->fatal)
		at = s->nkeys;
	memmove(s->keys, s->keys + at, s->nkeys - at);
	s->nkeys -= at;
	if (s->nkeys == sizeof(s->keys))
		s->nkeys = 0; /* cannot happen with P2PCTL_KEY_MAX_SEQ, but never spin */
}

static gboolean
draw(Session *s)
{
	g_autofree char *out = NULL;

	if (s->dirty_all)
		out = p2pctl_chat_frame(&s->chat, s->ed, s->rows, s->cols, now_unix(),
		                        g_get_monotonic_time());
	else if (s->dirty_input)
		out = p2pctl_chat_input_line(s->ed, s->rows, s->cols);
	s->dirty_all = s->dirty_input = FALSE;
	return out == NULL || p2pctl_write_all(s->out_fd, out, strlen(out));
}

static int
poll_timeout(Session *s)
{
	gint64 now = g_get_monotonic_time();
	int timeout = -1;

	if (s->nkeys > 0)
		timeout = ESC_WAIT_MS;
	if (s->chat.typing_until > now) {
		int t = (int)((s->chat.typing_until - now) / 1000 + 1);
		if (timeout < 0 || t < timeout)
			timeout = t;
	}
	if (s->typing_due) {
		gint64 due = s->last_typing + P2PCTL_CHAT_TYPING_EVERY_US;
		int t = due > now ? (int)((due - now) / 1000 + 1) : 0;
		if (timeout < 0 || t < timeout)
			timeout = t;
	}
	return timeout;
}

static void
run_loop(Session *s)
{
	while (!s->quit && !s->fatal) {
		if (!drain_events(s) || s->quit)
			break;
		if (s->typing_due &&
		    g_get_monotonic_time() - s->last_typing >= P2PCTL_CHAT_TYPING_EVERY_US) {
			send_typing(s);
			if (s->fatal || s->quit)
				break;
		}
		if (s->chat.typing_until && s->chat.typing_until <= g_get_monotonic_time()) {
			s->chat.typing_until = 0; /* no TYPING for a while: stopped typing */
			s->dirty_all = TRUE;
		}
		if (!draw(s)) {
			s->quit = TRUE;
			break;
		}
		struct pollfd pfd[4] = {
			{ .fd = s->in_fd, .events = POLLIN },
			{ .fd = p2pctl_conn_get_fd(s->conn), .events = POLLIN },
			{ .fd = p2pctl_term_fd(), .events = POLLIN },
			{ .fd = p2pctl_interrupt_fd(), .events = POLLIN },
		};
		int n = poll(pfd, G_N_ELEMENTS(pfd), poll_timeout(s));
		if (n < 0 && errno != EINTR) {
			g_set_error(&s->fatal, P2PCTL_ERROR, P2PCTL_ERROR_IO, "poll: %s",
			            g_strerror(errno));
			break;
		}
		guint sig = p2pctl_term_signals();
		if (sig & P2PCTL_TERM_HANGUP)
			s->quit = TRUE;
		if (sig & P2PCTL_TERM_RESIZED) {
			p2pctl_term_size(s->out_fd, &s->rows, &s->cols);
			s->dirty_all = TRUE;
		}
		if (p2pctl_interrupted())
			s->quit = TRUE;
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			read_keys(s);
		else if (n == 0 && s->nkeys > 0)
			s->nkeys -= p2pctl_key_flush(s->keys, s->nkeys); /* a lone Escape */
		/* the socket is read by drain_events() at the top */
	}
}

static int
chat_interactive(P2pctlContext *ctx, const char *peer)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(P2pctlConn) conn = p2pctl_connect(ctx, &error);
	int status = P2PCTL_EXIT_OK;
	Session s = { 0 };

	if (conn == NULL)
		return p2pctl_fail(ctx, error);
	p2pctl_catch_interrupts();
	/* Subscribe first: nothing said between the history and the first event is lost
	 * (duplicates are merged by id). */
	g_autoptr(JsonNode) sub = p2pctl_call(ctx, conn, P2P_M_EVENTS_SUBSCRIBE, NULL, &status);
	if (sub == NULL)
		return status;
	g_clear_pointer(&ctx->error_data, json_node_unref);
	g_autoptr(JsonNode) hist = call_history(conn, peer, P2PCTL_CHAT_START_HISTORY,
	                                        &ctx->error_data, &error);
	if (hist == NULL) /* an unknown or ambiguous peer ends here, before the screen */
		return p2pctl_fail(ctx, error);
	JsonArray *a = history_messages(hist, &error);
	if (a == NULL)
		return p2pctl_fail(ctx, error);

	g_autofree char *me = agent_name(conn);
	s.ctx = ctx;
	s.conn = conn;
	s.in_fd = STDIN_FILENO;
	s.out_fd = fileno(ctx->out);
	p2pctl_chat_init(&s.chat, me, peer);
	if (resolve_peer(&s) == 0 && json_array_get_length(a) == 0) {
		/* chat.history answers for any name (the peer of an old conversation need
		 * not be visible now); a name with neither a peer nor a past is a typo */
		g_autofree char *e = p2pctl_escape(peer);
		g_set_error(&error, P2P_RPC_ERROR, P2P_RPC_UNKNOWN_PEER,
		            "no peer \"%s\" is visible and there is no conversation with it "
		            "(see 'p2pctl list')", e);
		p2pctl_chat_clear(&s.chat);
		return p2pctl_fail(ctx, error);
	}
	for (guint i = 0; i < json_array_get_length(a); i++)
		take_message(&s, json_array_get_element(a, i));
	s.ed = p2pctl_editor_new(P2P_CHAT_MAX_TEXT);
	p2pctl_term_size(s.out_fd, &s.rows, &s.cols);
	s.dirty_all = TRUE;

	fflush(ctx->out);
	if (!p2pctl_term_enter(s.in_fd, s.out_fd, &error)) {
		status = p2pctl_fail(ctx, error);
	} else {
		run_loop(&s);
		p2pctl_term_leave();
		if (s.fatal)
			status = p2pctl_fail(ctx, s.fatal);
	}
	g_clear_error(&s.fatal);
	p2pctl_editor_free(s.ed);
	p2pctl_chat_clear(&s.chat);
	return status;
}

/* ---- the verb ------------------------------------------------------------------- */

static gboolean
parse_limit(const char *arg, guint *limit, GError **error)
{
	guint64 v = 0;

	if (!g_ascii_string_to_unsigned(arg, 10, 1, P2P_CHAT_HISTORY_MAX, &v, NULL)) {
		g_autofree char *e = p2pctl_escape(arg);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "--history takes a number of messages from 1 to %d, not \"%s\"",
		            P2P_CHAT_HISTORY_MAX, e);
		return FALSE;
	}
	*limit = (guint)v;
	return TRUE;
}

int
p2pctl_cmd_chat(int argc, char **argv, P2pctlContext *ctx)
{
	g_autoptr(GError) error = NULL;
	const char *peer = argv[0];
	const char *text = p2pctl_opt(ctx, "send");
	gboolean history = p2pctl_opt(ctx, "history") != NULL;
	guint limit = 50;

	if (text && history) {
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "--send and --history do not go together");
		return p2pctl_fail(ctx, error);
	}
	if (argc > 1 && !history) {
		g_autofree char *e = p2pctl_escape(argv[1]);
		g_set_error(&error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "unexpected argument \"%s\" for \"chat\" (a number only follows "
		            "--history)", e);
		return p2pctl_fail(ctx, error);
	}
	if (argc > 1 && !parse_limit(argv[1], &limit, &error))
		return p2pctl_fail(ctx, error);

	if (history)
		return chat_history(ctx, peer, limit);
	if (text)
		return chat_send_one(ctx, peer, text);
	int out_fd = fileno(ctx->out);
	if (!ctx->json && isatty(STDIN_FILENO) && out_fd >= 0 && isatty(out_fd))
		return chat_interactive(ctx, peer);
	return chat_send_lines(ctx, peer);
}

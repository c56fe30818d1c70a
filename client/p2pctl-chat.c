/* p2pctl-chat.c: the conversation as the chat screen shows it. Message objects from
 * the daemon, one line per message (everything a peer wrote passes p2pctl_escape()
 * before it reaches the terminal), wrapping, and the frame: conversation, status line,
 * input line, as one string of terminal output. No I/O here: the unit tests compare
 * the strings. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "p2pctl-chat.h"

#define MARK_PENDING   "\xe2\x80\xa6" /* … */
#define MARK_DELIVERED "\xe2\x9c\x93" /* ✓ */

/* ---- messages ------------------------------------------------------------------- */

void
p2pctl_chat_message_free(P2pctlChatMessage *m)
{
	if (m == NULL)
		return;
	g_free(m->id);
	g_free(m->peer);
	g_free(m->text);
	g_free(m);
}

gboolean
p2pctl_chat_state_parse(const char *s, P2pctlChatState *state)
{
	static const char *const names[] = { "queued", "sent", "delivered", "received" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_strcmp0(s, names[i]) == 0) {
			*state = (P2pctlChatState)i;
			return TRUE;
		}
	}
	return FALSE;
}

static const char *
get_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
		return json_node_get_string(n);
	return NULL;
}

P2pctlChatMessage *
p2pctl_chat_message_from_json(JsonNode *node, GError **error)
{
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd sent a chat message that is not an object");
		return NULL;
	}
	JsonObject *o = json_node_get_object(node);
	const char *id = get_string(o, "id");
	const char *direction = get_string(o, "direction");
	const char *text = get_string(o, "text");
	const char *state = get_string(o, "state");
	JsonNode *ts = json_object_get_member(o, "ts");
	P2pctlChatState st = P2PCTL_CHAT_SENT;

	if (id == NULL || text == NULL ||
	    (g_strcmp0(direction, "in") != 0 && g_strcmp0(direction, "out") != 0)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd sent a chat message without a string \"id\", \"text\" or a "
		            "\"direction\" of \"in\" or \"out\"");
		return NULL;
	}
	gboolean outgoing = strcmp(direction, "out") == 0;
	if (state && !p2pctl_chat_state_parse(state, &st)) {
		/* a newer daemon's state: show it as not (yet) delivered, not as an error */
		st = outgoing ? P2PCTL_CHAT_SENT : P2PCTL_CHAT_RECEIVED;
	} else if (state == NULL) {
		st = outgoing ? P2PCTL_CHAT_SENT : P2PCTL_CHAT_RECEIVED;
	}
	P2pctlChatMessage *m = g_new0(P2pctlChatMessage, 1);
	m->id = g_strdup(id);
	m->peer = g_strdup(get_string(o, "peer"));
	m->outgoing = outgoing;
	m->text = g_strdup(text);
	m->state = st;
	if (ts && JSON_NODE_HOLDS_VALUE(ts) &&
	    (json_node_get_value_type(ts) == G_TYPE_DOUBLE ||
	     json_node_get_value_type(ts) == G_TYPE_INT64))
		m->ts = json_node_get_double(ts);
	return m;
}

gboolean
p2pctl_chat_peer_matches(const char *event_peer, const char *id, const char *arg)
{
	if (event_peer == NULL)
		return FALSE;
	if (id && strcmp(event_peer, id) == 0)
		return TRUE;
	if (arg == NULL)
		return FALSE;
	if (strcmp(event_peer, arg) == 0)
		return TRUE;
	/* "bob" is the alias of "team.bob", as p2pd resolves it (an alias has no dot) */
	if (id == NULL && strchr(arg, '.') == NULL) {
		const char *dot = strchr(event_peer, '.');
		return dot && strcmp(dot + 1, arg) == 0;
	}
	return FALSE;
}

/* ---- one line per message ------------------------------------------------------- */

static char *
format_when(double ts, double now)
{
	if (!isfinite(ts) || ts <= 0)
		return g_strdup("--:--");
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_local((gint64)floor(ts));
	g_autoptr(GDateTime) n = g_date_time_new_from_unix_local((gint64)floor(now));
	if (t == NULL)
		return g_strdup("--:--");
	if (n && g_date_time_get_year(t) == g_date_time_get_year(n) &&
	    g_date_time_get_day_of_year(t) == g_date_time_get_day_of_year(n))
		return g_date_time_format(t, "%H:%M");
	return g_date_time_format(t, "%Y-%m-%d %H:%M");
}

char *
p2pctl_chat_render(const P2pctlChatMessage *m, const char *me, const char *peer, double now)
{
	g_autofree char *when = format_when(m->ts, now);
	g_autofree char *text = p2pctl_escape(m->text);

	if (m->id == NULL) /* a note of ours */
		return g_strdup_printf("%s -- %s", when, text);

	g_autofree char *who = p2pctl_escape(m->outgoing ? me : peer);
	const char *mark = "";
	if (m->outgoing)
		mark = m->state == P2PCTL_CHAT_DELIVERED ? " " MARK_DELIVERED : " " MARK_PENDING;
	return g_strdup_printf("%s %s: %s%s", when, who, text, mark);
}

GPtrArray *
p2pctl_chat_wrap(const char *line, guint width)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func(g_free);
	const char *start = line;
	const char *p = line;
	guint cols = 0;

	if (width == 0)
		width = 1;
	while (*p) {
		guint w = p2pctl_text_columns(p, g_utf8_skip[*(const guchar *)p]);
		if (cols + w > width && p > start) {
			g_ptr_array_add(rows, g_strndup(start, (gsize)(p - start)));
			start = p;
			cols = 0;
		}
		cols += w;
		p = g_utf8_next_char(p);
	}
	if (p > start || rows->len == 0)
		g_ptr_array_add(rows, g_strndup(start, (gsize)(p - start)));
	return rows;
}

/* ---- the model ---------------------------------------------------------------- */

void
p2pctl_chat_init(P2pctlChat *chat, const char *me, const char *peer_arg)
{
	memset(chat, 0, sizeof(*chat));
	chat->me = g_strdup(me);
	chat->peer_arg = g_strdup(peer_arg);
	chat->items = g_ptr_array_new_with_free_func((GDestroyNotify)p2pctl_chat_message_free);
	chat->online = TRUE;
}

void
p2pctl_chat_clear(P2pctlChat *chat)
{
	g_free(chat->me);
	g_free(chat->peer_arg);
	g_free(chat->peer_id);
	g_clear_pointer(&chat->items, g_ptr_array_unref);
}

static void
add_item(P2pctlChat *chat, P2pctlChatMessage *m)
{
	if (chat->items->len >= P2PCTL_CHAT_MAX_ITEMS)
		g_ptr_array_remove_index(chat->items, 0);
	g_ptr_array_add(chat->items, m);
}

static P2pctlChatMessage *
find_message(P2pctlChat *chat, gboolean outgoing, const char *id)
{
	for (guint i = chat->items->len; i-- > 0;) {
		P2pctlChatMessage *m = chat->items->pdata[i];
		if (m->id && m->outgoing == outgoing && strcmp(m->id, id) == 0)
			return m;
	}
	return NULL;
}

gboolean
p2pctl_chat_upsert(P2pctlChat *chat, P2pctlChatMessage *m)
{
	P2pctlChatMessage *old = find_message(chat, m->outgoing, m->id);

	if (old == NULL) {
		add_item(chat, m);
		return TRUE;
	}
	/* queued < sent < delivered: an answer that arrives late never undoes an event */
	gboolean changed = m->state > old->state;
	if (changed)
		old->state = m->state;
	p2pctl_chat_message_free(m);
	return changed;
}

gboolean
p2pctl_chat_delivered(P2pctlChat *chat, const char *id)
{
	P2pctlChatMessage *m = find_message(chat, TRUE, id);

	if (m == NULL || m->state == P2PCTL_CHAT_DELIVERED)
		return FALSE;
	m->state = P2PCTL_CHAT_DELIVERED;
	return TRUE;
}

void
p2pctl_chat_note(P2pctlChat *chat, double now, const char *text)
{
	P2pctlChatMessage *m = g_new0(P2pctlChatMessage, 1);

	m->text = g_strdup(text);
	m->ts = now;
	m->state = P2PCTL_CHAT_RECEIVED;
	add_item(chat, m);
}

char *
p2pctl_chat_status(P2pctlChat *chat, gint64 now_mono)
{
	g_autofree char *peer = p2pctl_escape(chat->peer_arg);

	if (chat->typing_until > now_mono)
		return g_strdup_printf("%s is typing" MARK_PENDING, peer);
	if (!chat->online)
		return g_strdup_printf("%s is offline: messages wait until it is back", peer);
	return g_strdup_printf("%s is online", peer);
}

/* ---- the screen ------------------------------------------------------------------ */

char *
p2pctl_chat_input_line(P2pctlEditor *ed, guint rows, guint cols)
{
	static const char prompt[] = "> ";
	guint width = cols > 3 ? cols - 2 : 1;
	guint cursor = 0;
	g_autofree char *visible = p2pctl_editor_visible(ed, width, &cursor);

	return g_strdup_printf("\033[%u;1H\033[2K%s%s\033[%u;%uH", rows, prompt, visible, rows,
	                       cursor + 3);
}

char *
p2pctl_chat_frame(P2pctlChat *chat, P2pctlEditor *ed, guint rows, guint cols, double now,
                  gint64 now_mono)
{
	GString *out = g_string_new("\033[?25l");
	guint conv = rows > 2 ? rows - 2 : 0;
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

	/* Wrap from the newest message back until the screen (and the scroll) is full;
	 * lines collects rows newest first. */
	for (guint i = chat->items->len; i-- > 0 && lines->len < conv + chat->scroll;) {
		g_autofree char *line = p2pctl_chat_render(chat->items->pdata[i], chat->me,
		                                           chat->peer_arg, now);
		g_autoptr(GPtrArray) wrapped = p2pctl_chat_wrap(line, cols);
		for (guint j = wrapped->len; j-- > 0;)
			g_ptr_array_add(lines, g_strdup(wrapped->pdata[j]));
	}
	if (chat->scroll > 0 && lines->len < conv + chat->scroll)
		chat->scroll = lines->len > conv ? lines->len - conv : 0;
	for (guint r = 0; r < conv; r++) {
		/* screen row r+1 shows lines[k], counted from the bottom */
		guint from_bottom = conv - 1 - r + chat->scroll;
		g_string_append_printf(out, "\033[%u;1H\033[2K", r + 1);
		if (from_bottom < lines->len)
			g_string_append(out, lines->pdata[from_bottom]);
	}
	if (rows >= 2) {
		g_autofree char *status = p2pctl_chat_status(chat, now_mono);
		if (chat->scroll > 0) {
			char *s = g_strdup_printf("%s (scrolled back %u lines: PageDown)", status,
			                          chat->scroll);
			g_free(status);
			status = s;
		}
		g_autoptr(GPtrArray) fit = p2pctl_chat_wrap(status, cols);
		const char *shown = fit->pdata[0];
		guint pad = cols - MIN(cols, p2pctl_text_columns(shown, -1));
		g_string_append_printf(out, "\033[%u;1H\033[2K\033[7m%s%*s\033[0m", rows - 1, shown,
		                       (int)pad, "");
	}
	g_autofree char *input = p2pctl_chat_input_line(ed, MAX(rows, 1), cols);
	g_string_append(out, input);
	g_string_append(out, "\033[?25h");
	return g_string_free(out, FALSE);
}

/* ---- watch ------------------------------------------------------------------------ */

static const char *
param_string(JsonNode *params, const char *name)
{
	if (params == NULL || !JSON_NODE_HOLDS_OBJECT(params))
		return NULL;
	return get_string(json_node_get_object(params), name);
}

char *
p2pctl_chat_format_event(const char *method, JsonNode *params)
{
	g_autofree char *emethod = p2pctl_escape(method);
	g_autofree char *peer = p2pctl_escape(param_string(params, "peer") ? param_string(params, "peer")
	                                                                  : "?");

	if (strcmp(method, P2P_E_CHAT_MESSAGE) == 0) {
		g_autoptr(GError) error = NULL;
		g_autoptr(P2pctlChatMessage) m = p2pctl_chat_message_from_json(params, &error);
		if (m == NULL)
			return g_strdup_printf("%s (unreadable: %s)", emethod, error->message);
		static const char *const states[] = { "queued", "sent", "delivered", "received" };
		g_autofree char *id = p2pctl_escape(m->id);
		g_autofree char *text = p2pctl_escape(m->text);
		return g_strdup_printf("%s %s %s %s (%s): %s", emethod, id, m->outgoing ? "to" : "from",
		                       peer, states[m->state], text);
	}
	if (strcmp(method, P2P_E_CHAT_DELIVERED) == 0) {
		const char *id = param_string(params, "id");
		g_autofree char *eid = p2pctl_escape(id ? id : "?");
		return g_strdup_printf("%s %s to %s", emethod, eid, peer);
	}
	if (strcmp(method, P2P_E_CHAT_TYPING) == 0)
		return g_strdup_printf("%s %s is typing", emethod, peer);
	return g_strdup_printf("%s %s", emethod, peer);
}

/* p2pctl-edit.c: the chat's line editor. Bytes from a raw terminal become keys, keys
 * edit a UTF-8 buffer; nothing here touches the terminal, so the unit tests drive it
 * with strings. Only printable characters enter the buffer: what the user sends is
 * what the peer's screen can show. */
#include "config.h"

#include <string.h>

#include "p2pctl-chat.h"

/* ---- keys ----------------------------------------------------------------------- */

static gsize
decode_csi(const char *buf, gsize len, P2pctlKey *key)
{
	/* ESC [ parameters(0x30-0x3f)* intermediates(0x20-0x2f)* final(0x40-0x7e) */
	gsize i = 2;
	guint param = 0;
	gboolean first = TRUE;

	while (i < len && (guchar)buf[i] >= 0x30 && (guchar)buf[i] <= 0x3f) {
		if (buf[i] == ';')
			first = FALSE; /* modifiers ("1;5C" = Ctrl-Right): same key for us */
		else if (first && g_ascii_isdigit(buf[i]) && param < 1000)
			param = param * 10 + (guint)(buf[i] - '0');
		i++;
	}
	while (i < len && (guchar)buf[i] >= 0x20 && (guchar)buf[i] <= 0x2f)
		i++;
	if (i >= len)
		return len >= P2PCTL_KEY_MAX_SEQ ? len : 0;
	guchar final = (guchar)buf[i];
	if (final < 0x40 || final > 0x7e) {
		/* not a sequence after all: drop the ESC [ and read the rest as keys */
		return 2;
	}
	switch (final) {
	case 'A': key->type = P2PCTL_KEY_UP; break;
	case 'B': key->type = P2PCTL_KEY_DOWN; break;
	case 'C': key->type = P2PCTL_KEY_RIGHT; break;
	case 'D': key->type = P2PCTL_KEY_LEFT; break;
	case 'H': key->type = P2PCTL_KEY_HOME; break;
	case 'F': key->type = P2PCTL_KEY_END; break;
	case '~':
		switch (param) {
		case 1: case 7: key->type = P2PCTL_KEY_HOME; break;
		case 4: case 8: key->type = P2PCTL_KEY_END; break;
		case 3: key->type = P2PCTL_KEY_DELETE; break;
		case 5: key->type = P2PCTL_KEY_PAGE_UP; break;
		case 6: key->type = P2PCTL_KEY_PAGE_DOWN; break;
		default: break;
		}
		break;
	default:
		break;
	}
	return i + 1;
}

gsize
p2pctl_key_decode(const char *buf, gsize len, P2pctlKey *key)
{
	memset(key, 0, sizeof(*key));
	if (len == 0)
		return 0;

	guchar c = (guchar)buf[0];
	if (c == 0x1b) {
		if (len < 2)
			return 0;
		if (buf[1] == '[')
			return decode_csi(buf, len, key);
		if (buf[1] == 'O') {
			/* SS3: application cursor keys (what tmux sends in some modes) */
			if (len < 3)
				return 0;
			switch (buf[2]) {
			case 'A': key->type = P2PCTL_KEY_UP; break;
			case 'B': key->type = P2PCTL_KEY_DOWN; break;
			case 'C': key->type = P2PCTL_KEY_RIGHT; break;
			case 'D': key->type = P2PCTL_KEY_LEFT; break;
			case 'H': key->type = P2PCTL_KEY_HOME; break;
			case 'F': key->type = P2PCTL_KEY_END; break;
			default: break;
			}
			return 3;
		}
		if (buf[1] == 0x1b)
			return 1; /* ESC ESC: the first one was a lone Escape */
		return 2;     /* Alt+key: not ours */
	}
	switch (c) {
	case 0x01: key->type = P2PCTL_KEY_HOME; return 1;       /* Ctrl-A */
	case 0x02: key->type = P2PCTL_KEY_LEFT; return 1;       /* Ctrl-B */
	case 0x03: key->type = P2PCTL_KEY_CTRL_C; return 1;
	case 0x04: key->type = P2PCTL_KEY_CTRL_D; return 1;
	case 0x05: key->type = P2PCTL_KEY_END; return 1;        /* Ctrl-E */
	case 0x06: key->type = P2PCTL_KEY_RIGHT; return 1;      /* Ctrl-F */
	case 0x08: case 0x7f: key->type = P2PCTL_KEY_BACKSPACE; return 1;
	case 0x0a: case 0x0d: key->type = P2PCTL_KEY_ENTER; return 1;
	case 0x0b: key->type = P2PCTL_KEY_KILL_END; return 1;   /* Ctrl-K */
	case 0x0c: key->type = P2PCTL_KEY_REDRAW; return 1;     /* Ctrl-L */
	case 0x0e: key->type = P2PCTL_KEY_DOWN; return 1;       /* Ctrl-N */
	case 0x10: key->type = P2PCTL_KEY_UP; return 1;         /* Ctrl-P */
	case 0x15: key->type = P2PCTL_KEY_KILL_START; return 1; /* Ctrl-U */
	case 0x17: key->type = P2PCTL_KEY_KILL_WORD; return 1;  /* Ctrl-W */
	default: break;
	}
	if (c < 0x20)
		return 1; /* other control keys: ignored */
	if (c < 0x80) {
		key->type = P2PCTL_KEY_CHAR;
		key->text[0] = (char)c;
		return 1;
	}
	/* UTF-8: wait for the rest of a character the read cut in two */
	gsize need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (need == 1 || c > 0xf4)
		return 1; /* a stray continuation or invalid lead byte */
	if (len < need) {
		for (gsize i = 1; i < len; i++)
			if (((guchar)buf[i] & 0xc0) != 0x80)
				return 1;
		return 0;
	}
	gunichar u = g_utf8_get_char_validated(buf, (gssize)need);
	if (u == (gunichar)-1 || u == (gunichar)-2)
		return 1;
	/* Format characters (bidi overrides), controls, unassigned: never into the text. */
	if (g_unichar_isprint(u)) {
		key->type = P2PCTL_KEY_CHAR;
		memcpy(key->text, buf, need);
	}
	return need;
}

gsize
p2pctl_key_flush(const char *buf, gsize len)
{
	/* The prefix was a lone ESC, or ESC [ / ESC O: the user pressed Escape (or
	 * Alt-[), which does nothing here. A cut UTF-8 character that never completed is
	 * dropped the same way. */
	return len;
}

/* ---- the editor --------------------------------------------------------------- */

/* Lines kept for Up/Down in one session. */
#define EDITOR_MAX_HISTORY 200

struct _P2pctlEditor {
	GString *text;
	gsize cursor;      /* byte offset, always at a character boundary */
	gsize max_bytes;
	GPtrArray *history; /* sent lines, oldest first */
	guint hist_pos;     /* == history->len: the line being written */
	char *draft;        /* the line being written while browsing history */
};

P2pctlEditor *
p2pctl_editor_new(gsize max_bytes)
{
	P2pctlEditor *ed = g_new0(P2pctlEditor, 1);

	ed->text = g_string_new(NULL);
	ed->max_bytes = max_bytes;
	ed->history = g_ptr_array_new_with_free_func(g_free);
	return ed;
}

void
p2pctl_editor_free(P2pctlEditor *ed)
{
	if (ed == NULL)
		return;
	g_string_free(ed->text, TRUE);
	g_ptr_array_unref(ed->history);
	g_free(ed->draft);
	g_free(ed);
}

const char *
p2pctl_editor_text(P2pctlEditor *ed)
{
	return ed->text->str;
}

gsize
p2pctl_editor_cursor(P2pctlEditor *ed)
{
	return ed->cursor;
}

void
p2pctl_editor_set_text(P2pctlEditor *ed, const char *text)
{
	g_string_assign(ed->text, text);
	if (ed->text->len > ed->max_bytes) {
		/* cut at a character boundary */
		const char *p = ed->text->str;
		while (*p && (gsize)(g_utf8_next_char(p) - ed->text->str) <= ed->max_bytes)
			p = g_utf8_next_char(p);
		g_string_truncate(ed->text, (gsize)(p - ed->text->str));
	}
	ed->cursor = ed->text->len;
}

char *
p2pctl_editor_take_line(P2pctlEditor *ed)
{
	char *line = g_strdup(ed->text->str);

	if (ed->history->len == 0 ||
	    strcmp(g_ptr_array_index(ed->history, ed->history->len - 1), line) != 0) {
		if (ed->history->len >= EDITOR_MAX_HISTORY)
			g_ptr_array_remove_index(ed->history, 0);
		g_ptr_array_add(ed->history, g_strdup(line));
	}
	ed->hist_pos = ed->history->len;
	g_clear_pointer(&ed->draft, g_free);
	g_string_truncate(ed->text, 0);
	ed->cursor = 0;
	return line;
}

static gsize
prev_char(P2pctlEditor *ed, gsize pos)
{
	if (pos == 0)
		return 0;
	const char *p = g_utf8_find_prev_char(ed->text->str, ed->text->str + pos);
	return p ? (gsize)(p - ed->text->str) : 0;
}

static gsize
next_char(P2pctlEditor *ed, gsize pos)
{
	if (pos >= ed->text->len)
		return ed->text->len;
	return (gsize)(g_utf8_next_char(ed->text->str + pos) - ed->text->str);
}

static P2pctlEditResult
history_move(P2pctlEditor *ed, int delta)
{
	if ((delta < 0 && ed->hist_pos == 0) || (delta > 0 && ed->hist_pos >= ed->history->len))
		return P2PCTL_EDIT_BELL;
	if (ed->hist_pos == ed->history->len) {
		g_free(ed->draft);
		ed->draft = g_strdup(ed->text->str);
	}
	ed->hist_pos += delta;
	if (ed->hist_pos == ed->history->len) {
		g_string_assign(ed->text, ed->draft ? ed->draft : "");
		g_clear_pointer(&ed->draft, g_free);
	} else {
		g_string_assign(ed->text, g_ptr_array_index(ed->history, ed->hist_pos));
	}
	ed->cursor = ed->text->len;
	return P2PCTL_EDIT_CHANGED;
}

P2pctlEditResult
p2pctl_editor_key(P2pctlEditor *ed, const P2pctlKey *key)
{
	gsize at;

	switch (key->type) {
	case P2PCTL_KEY_CHAR: {
		gsize n = strlen(key->text);
		if (n == 0)
			return P2PCTL_EDIT_NONE;
		if (ed->text->len + n > ed->max_bytes)
			return P2PCTL_EDIT_BELL;
		g_string_insert_len(ed->text, (gssize)ed->cursor, key->text, (gssize)n);
		ed->cursor += n;
		return P2PCTL_EDIT_CHANGED;
	}
	case P2PCTL_KEY_ENTER:
		return ed->text->len > 0 ? P2PCTL_EDIT_SUBMIT : P2PCTL_EDIT_NONE;
	case P2PCTL_KEY_LEFT:
		if (ed->cursor == 0)
			return P2PCTL_EDIT_NONE;
		ed->cursor = prev_char(ed, ed->cursor);
		return P2PCTL_EDIT_MOVED;
	case P2PCTL_KEY_RIGHT:
		if (ed->cursor >= ed->text->len)
			return P2PCTL_EDIT_NONE;
		ed->cursor = next_char(ed, ed->cursor);
		return P2PCTL_EDIT_MOVED;
	case P2PCTL_KEY_HOME:
		if (ed->cursor == 0)
			return P2PCTL_EDIT_NONE;
		ed->cursor = 0;
		return P2PCTL_EDIT_MOVED;
	case P2PCTL_KEY_END:
		if (ed->cursor == ed->text->len)
			return P2PCTL_EDIT_NONE;
		ed->cursor = ed->text->len;
		return P2PCTL_EDIT_MOVED;
	case P2PCTL_KEY_BACKSPACE:
		if (ed->cursor == 0)
			return P2PCTL_EDIT_BELL;
		at = prev_char(ed, ed->cursor);
		g_string_erase(ed->text, (gssize)at, (gssize)(ed->cursor - at));
		ed->cursor = at;
		return P2PCTL_EDIT_CHANGED;
	case P2PCTL_KEY_CTRL_D:
		if (ed->text->len == 0)
			return P2PCTL_EDIT_QUIT;
		/* on text, Ctrl-D deletes as in a shell */
		G_GNUC_FALLTHROUGH;
	case P2PCTL_KEY_DELETE:
		if (ed->cursor >= ed->text->len)
			return P2PCTL_EDIT_BELL;
		at = next_char(ed, ed->cursor);
		g_string_erase(ed->text, (gssize)ed->cursor, (gssize)(at - ed->cursor));
		return P2PCTL_EDIT_CHANGED;
	case P2PCTL_KEY_CTRL_C:
		return P2PCTL_EDIT_QUIT;
	case P2PCTL_KEY_KILL_START:
		if (ed->cursor == 0)
			return P2PCTL_EDIT_NONE;
		g_string_erase(ed->text, 0, (gssize)ed->cursor);
		ed->cursor = 0;
		return P2PCTL_EDIT_CHANGED;
	case P2PCTL_KEY_KILL_END:
		if (ed->cursor == ed->text->len)
			return P2PCTL_EDIT_NONE;
		g_string_truncate(ed->text, ed->cursor);
		return P2PCTL_EDIT_CHANGED;
	case P2PCTL_KEY_KILL_WORD:
		if (ed->cursor == 0)
			return P2PCTL_EDIT_NONE;
		at = ed->cursor;
		while (at > 0 && ed->text->str[at - 1] == ' ')
			at--;
		while (at > 0 && ed->text->str[at - 1] != ' ')
			at--; /* a multibyte character has no ' ' byte inside: stays whole */
		g_string_erase(ed->text, (gssize)at, (gssize)(ed->cursor - at));
		ed->cursor = at;
		return P2PCTL_EDIT_CHANGED;
	case P2PCTL_KEY_UP:
		return history_move(ed, -1);
	case P2PCTL_KEY_DOWN:
		return history_move(ed, +1);
	case P2PCTL_KEY_NONE:
	case P2PCTL_KEY_REDRAW:
	case P2PCTL_KEY_PAGE_UP:
	case P2PCTL_KEY_PAGE_DOWN:
		break;
	}
	return P2PCTL_EDIT_NONE;
}

/* ---- display ------------------------------------------------------------------- */

static guint
char_columns(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

guint
p2pctl_text_columns(const char *s, gssize len)
{
	const char *end = len < 0 ? s + strlen(s) : s + len;
	guint cols = 0;

	for (const char *p = s; p < end; p = g_utf8_next_char(p))
		cols += char_columns(g_utf8_get_char(p));
	return cols;
}

char *
p2pctl_editor_visible(P2pctlEditor *ed, guint width, guint *cursor_col)
{
	const char *s = ed->text->str;
	const char *cur = s + ed->cursor;
	const char *start = s;

	if (width < 2)
		width = 2;
	/* Scroll so that the cursor sits on the last column at most; the rest of the line
	 * after it fills what is left. */
	guint before = p2pctl_text_columns(s, (gssize)ed->cursor);
	while (before > width - 1 && start < cur) {
		before -= char_columns(g_utf8_get_char(start));
		start = g_utf8_next_char(start);
	}
	*cursor_col = before;
	const char *end = start;
	guint cols = 0;
	while (*end) {
		guint w = char_columns(g_utf8_get_char(end));
		if (cols + w > width)
			break;
		cols += w;
		end = g_utf8_next_char(end);
	}
	return g_strndup(start, (gsize)(end - start));
}

/* p2pctl-chat.h: "p2pctl chat": the pieces of the terminal chat, each testable alone.
 *   p2pctl-edit.c      key decoding and the line editor (pure: bytes in, buffer out)
 *   p2pctl-term.c      the terminal: raw mode, its restoration on every exit, window size
 *   p2pctl-chat.c      the conversation: Message objects, rendering, the screen frame
 *   p2pctl-cmd-chat.c  the verb: --send, stdin lines, --history, the interactive loop */
#pragma once

#include "p2pctl.h"

G_BEGIN_DECLS

/* ---- keys and the line editor (p2pctl-edit.c) ---------------------------------- */

typedef enum {
	P2PCTL_KEY_NONE,      /* a sequence we do not use: consumed, ignored */
	P2PCTL_KEY_CHAR,      /* one printable character, UTF-8 in key->text */
	P2PCTL_KEY_ENTER,
	P2PCTL_KEY_LEFT,
	P2PCTL_KEY_RIGHT,
	P2PCTL_KEY_UP,
	P2PCTL_KEY_DOWN,
	P2PCTL_KEY_HOME,
	P2PCTL_KEY_END,
	P2PCTL_KEY_BACKSPACE,
	P2PCTL_KEY_DELETE,
	P2PCTL_KEY_CTRL_C,
	P2PCTL_KEY_CTRL_D,
	P2PCTL_KEY_KILL_START, /* Ctrl-U */
	P2PCTL_KEY_KILL_END,   /* Ctrl-K */
	P2PCTL_KEY_KILL_WORD,  /* Ctrl-W */
	P2PCTL_KEY_REDRAW,     /* Ctrl-L */
	P2PCTL_KEY_PAGE_UP,
	P2PCTL_KEY_PAGE_DOWN,
} P2pctlKeyType;

typedef struct {
	P2pctlKeyType type;
	char text[8]; /* P2PCTL_KEY_CHAR: the character, NUL-terminated */
} P2pctlKey;

/* Longest escape sequence we wait for; anything longer is dropped as noise. */
#define P2PCTL_KEY_MAX_SEQ 32

/* Decodes the first key in buf[0..len). Returns the bytes it used (> 0), or 0 when
 * buf holds only the start of a key (an escape sequence or a UTF-8 character cut by
 * the read): keep those bytes and call again with more. A lone ESC stays incomplete
 * until p2pctl_key_flush() gives up on it. */
gsize p2pctl_key_decode(const char *buf, gsize len, P2pctlKey *key);
/* What an incomplete prefix amounts to when no more bytes came: the bytes to drop. */
gsize p2pctl_key_flush(const char *buf, gsize len);

typedef enum {
	P2PCTL_EDIT_NONE,    /* nothing changed */
	P2PCTL_EDIT_MOVED,   /* the cursor moved */
	P2PCTL_EDIT_CHANGED, /* the text changed (the user is typing) */
	P2PCTL_EDIT_SUBMIT,  /* Enter on a non-empty line: p2pctl_editor_take_line() */
	P2PCTL_EDIT_QUIT,    /* Ctrl-C, or Ctrl-D on an empty line */
	P2PCTL_EDIT_BELL,    /* refused: line full, nothing to delete, no more history */
} P2pctlEditResult;

typedef struct _P2pctlEditor P2pctlEditor;

/* max_bytes: the longest line (P2P_CHAT_MAX_TEXT for chat). */
P2pctlEditor *p2pctl_editor_new(gsize max_bytes);
void p2pctl_editor_free(P2pctlEditor *ed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pctlEditor, p2pctl_editor_free)
P2pctlEditResult p2pctl_editor_key(P2pctlEditor *ed, const P2pctlKey *key);
const char *p2pctl_editor_text(P2pctlEditor *ed);
gsize p2pctl_editor_cursor(P2pctlEditor *ed); /* byte offset into the text */
/* The submitted line (caller frees); it joins the history, the editor is emptied. */
char *p2pctl_editor_take_line(P2pctlEditor *ed);
/* Puts a line back (a send that failed) so that the user can retry it. */
void p2pctl_editor_set_text(P2pctlEditor *ed, const char *text);
/* Columns a string of printable characters takes on a terminal (wide = 2, combining 0). */
guint p2pctl_text_columns(const char *s, gssize len);
/* The part of the text shown in width columns with the cursor in view: returns it and
 * sets *cursor_col to the cursor's column inside it. */
char *p2pctl_editor_visible(P2pctlEditor *ed, guint width, guint *cursor_col);

/* ---- the terminal (p2pctl-term.c) ------------------------------------------------ */

/* Raw input (no echo, no line buffering, no signals from keys) on the terminal fd, the
 * alternate screen on out_fd. Restored by p2pctl_term_leave(), at exit(), and on fatal
 * signals; SIGHUP, SIGWINCH, SIGTSTP/SIGCONT are handled through p2pctl_term_fd(). */
gboolean p2pctl_term_enter(int in_fd, int out_fd, GError **error);
void p2pctl_term_leave(void);
/* Readable when a signal needs attention; p2pctl_term_signals() reads and clears. */
int p2pctl_term_fd(void);
typedef enum {
	P2PCTL_TERM_RESIZED = 1 << 0, /* SIGWINCH, or back from SIGTSTP: redraw */
	P2PCTL_TERM_HANGUP = 1 << 1,  /* SIGHUP: the terminal is gone */
} P2pctlTermSignals;
guint p2pctl_term_signals(void);
/* Rows and columns of the terminal (24x80 when it does not say). */
void p2pctl_term_size(int fd, guint *rows, guint *cols);
/* write() until done; FALSE on error (the terminal is gone). */
gboolean p2pctl_write_all(int fd, const char *data, gsize len);

/* ---- the conversation (p2pctl-chat.c) -------------------------------------------- */

typedef enum {
	P2PCTL_CHAT_QUEUED,
	P2PCTL_CHAT_SENT,
	P2PCTL_CHAT_DELIVERED,
	P2PCTL_CHAT_RECEIVED,
} P2pctlChatState;

typedef struct {
	char *id;
	char *peer;
	gboolean outgoing;
	char *text;
	double ts;
	P2pctlChatState state;
} P2pctlChatMessage;

void p2pctl_chat_message_free(P2pctlChatMessage *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pctlChatMessage, p2pctl_chat_message_free)
/* A Message object from the daemon, type-checked; unknown members are ignored. */
P2pctlChatMessage *p2pctl_chat_message_from_json(JsonNode *node, GError **error);
gboolean p2pctl_chat_state_parse(const char *s, P2pctlChatState *state);

/* Does a peer named in an event mean the peer this chat is with? id: what the daemon
 * calls it (may be NULL when unknown), arg: what the user typed (an id or an alias,
 * "bob" matching "team.bob" as the daemon resolves it). */
gboolean p2pctl_chat_peer_matches(const char *event_peer, const char *id, const char *arg);

/* One message as a line: "HH:MM SENDER: TEXT MARK", the time with the date in front
 * when it is not the day of now, the sender and text escaped, MARK "…" for an
 * outgoing message not yet delivered, "✓" once delivered. */
char *p2pctl_chat_render(const P2pctlChatMessage *m, const char *me, const char *peer,
                         double now);
/* Splits a line of printable characters into rows of at most width columns. */
GPtrArray *p2pctl_chat_wrap(const char *line, guint width);

/* What the screen shows; the interactive loop owns one. */
typedef struct {
	char *me;          /* our agent name, for our own lines */
	char *peer_arg;    /* the peer as the user typed it, shown as the sender */
	char *peer_id;     /* as the daemon names it (NULL until known) */
	GPtrArray *items;  /* P2pctlChatMessage*, oldest first; notes have no id */
	gboolean online;
	gint64 typing_until; /* monotonic µs; 0 = not typing */
	guint scroll;       /* rows scrolled back from the bottom (PageUp) */
} P2pctlChat;

/* How long "is typing" stays without another TYPING, and how often we send ours. */
#define P2PCTL_CHAT_TYPING_SHOWN_US (5 * G_USEC_PER_SEC)
#define P2PCTL_CHAT_TYPING_EVERY_US (2 * G_USEC_PER_SEC)
#define P2PCTL_CHAT_START_HISTORY   20
/* Messages kept on screen; older ones scroll away (--history shows all). */
#define P2PCTL_CHAT_MAX_ITEMS       2000

void p2pctl_chat_init(P2pctlChat *chat, const char *me, const char *peer_arg);
void p2pctl_chat_clear(P2pctlChat *chat);
/* Adds a message or updates the one with its id (direction and id); a state never goes
 * back (a late "sent" does not undo "delivered"). Returns TRUE if the screen changes. */
gboolean p2pctl_chat_upsert(P2pctlChat *chat, P2pctlChatMessage *m); /* takes m */
gboolean p2pctl_chat_delivered(P2pctlChat *chat, const char *id);
/* A line of our own (peer went offline, a send failed), shown in the conversation. */
void p2pctl_chat_note(P2pctlChat *chat, double now, const char *text);
/* The status line: "bob is typing…", "bob is offline (messages wait for it)", ... */
char *p2pctl_chat_status(P2pctlChat *chat, gint64 now_mono);
/* The whole screen as terminal output: the last rows of the conversation, the status
 * line, the input line with the cursor placed in it. */
char *p2pctl_chat_frame(P2pctlChat *chat, P2pctlEditor *ed, guint rows, guint cols,
                        double now, gint64 now_mono);
/* One line for "watch": chat_message, chat_delivered, chat_typing (escaped, without
 * the time stamp that p2pctl_format_event() puts in front). */
char *p2pctl_chat_format_event(const char *method, JsonNode *params);
/* Only the input line (after a key that did not change anything else). */
char *p2pctl_chat_input_line(P2pctlEditor *ed, guint rows, guint cols);

/* ---- the verb (p2pctl-cmd-chat.c) ------------------------------------------------ */

int p2pctl_cmd_chat(int argc, char **argv, P2pctlContext *ctx);

G_END_DECLS

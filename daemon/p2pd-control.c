/* p2pd-control.c: see p2pd-control.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "p2p-jsonrpc.h"
#include "p2p-log.h"
#include "p2pd-call.h"
#include "p2pd-chat.h"
#include "p2pd-control.h"
#include "p2pd-journal.h"
#include "p2pd-session.h"
#include "p2pd-transfer.h"

typedef struct {
	GBytes *data;
	gsize off;
	int fd; /* passed with the first byte of data, or -1 */
} Chunk;

typedef struct {
	P2pControl *ctrl;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	guint watch;
	GIOCondition cond;
	P2pLineReader reader;
	GQueue out;
	gsize out_bytes;
	gboolean subscribed;
	gboolean closing; /* flush, then close */
	GArray *recv_fds; /* descriptors of the latest message that carried any (SCM_RIGHTS),
	                   * for transfer.send */
} Client;

struct _P2pControl {
	P2pDaemon *d;
	char *path;
	int fd;
	gboolean activated; /* fd came from systemd (p2pd.socket), which owns the file */
	guint watch;
	GList *clients;
};

static void client_free(Client *c);

/* ---- output ------------------------------------------------------------------- */

static void
chunk_free(Chunk *ch)
{
	g_bytes_unref(ch->data);
	if (ch->fd >= 0)
		close(ch->fd);
	g_free(ch);
}

static gboolean client_io(gint fd, GIOCondition cond, gpointer data);

static void
client_update_watch(Client *c)
{
	GIOCondition cond = G_IO_IN | (c->out.length ? G_IO_OUT : 0);
	if (c->watch && cond == c->cond)
		return;
	g_clear_handle_id(&c->watch, g_source_remove);
	c->watch = g_unix_fd_add(c->fd, cond, client_io, c);
	c->cond = cond;
}

/* Writes what the socket takes; FALSE when the client is gone. */
static gboolean
client_flush(Client *c)
{
	Chunk *ch;
	while ((ch = g_queue_peek_head(&c->out))) {
		const guint8 *p = g_bytes_get_data(ch->data, NULL);
		gsize len = g_bytes_get_size(ch->data) - ch->off;
		struct iovec iov = { (void *)(p + ch->off), len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		if (ch->fd >= 0) {
			memset(&u, 0, sizeof(u));
			msg.msg_control = u.buf;
			msg.msg_controllen = sizeof(u.buf);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &ch->fd, sizeof(int));
		}
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return FALSE;
		}
		if (ch->fd >= 0) {
			close(ch->fd);
			ch->fd = -1;
		}
		ch->off += n;
		c->out_bytes -= n;
		if (ch->off == g_bytes_get_size(ch->data))
			chunk_free(g_queue_pop_head(&c->out));
	}
	if (c->out.length == 0 && c->closing)
		return FALSE;
	client_update_watch(c);
	return TRUE;
}

/* Queues one line (consumed); fd (consumed, may be -1) rides with it. */
static void
client_send(Client *c, char *line, int fd)
{
	Chunk *ch = g_new0(Chunk, 1);
	gsize len = strlen(line);
	ch->data = g_bytes_new_take(line, len);
	ch->fd = fd;
	g_queue_push_tail(&c->out, ch);
	c->out_bytes += len;
	client_update_watch(c);
}

void
p2p_control_broadcast(P2pControl *ctrl, const char *event, JsonNode *params)
{
	g_autofree char *line = p2p_rpc_build_notification(event, params);
	for (GList *l = ctrl->clients; l;) {
		Client *c = l->data;
		l = l->next;
		if (!c->subscribed || c->closing)
			continue;
		if (c->out_bytes > P2P_CONTROL_MAX_OUTPUT) {
			g_warning("control: dropping a client of uid %u that stopped reading events",
			          (unsigned)c->uid);
			client_free(c);
			continue;
		}
		client_send(c, g_strdup(line), -1);
	}
}

/* ---- methods ------------------------------------------------------------------ */

/* A handler returns its result, or NULL with error set (and optionally *data, the
 * error's machine-readable details). pass_fd: a descriptor to send with the reply. */
typedef JsonNode *(*MethodFunc)(Client *c, gpointer params, int *pass_fd, JsonNode **data,
                                GError **error);

typedef struct {
	const char *name;
	MethodFunc func;
	const P2pField *fields;
	gsize params_size;
} Method;

typedef struct {
	int unused;
} NoParams;

static const P2pField no_fields[] = { { NULL } };

static JsonNode *
m_daemon_info(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	P2pDaemon *d = c->ctrl->d;
	JsonObject *o = json_object_new();
	JsonObject *sig = json_object_new();

	json_object_set_string_member(o, "version", PACKAGE_VERSION);
	json_object_set_string_member(o, "agent", d->cfg->agent);
	json_object_set_string_member(o, "fingerprint", d->identity->fingerprint);
	json_object_set_string_member(sig, "server", d->cfg->signal_server);
	json_object_set_string_member(sig, "state",
	                              p2p_signal_state_name(p2p_signal_get_state(d->signal)));
	if (p2p_signal_last_error(d->signal))
		json_object_set_string_member(sig, "error", p2p_signal_last_error(d->signal));
	json_object_set_object_member(o, "signaling", sig);
	json_object_set_string_member(o, "save_dir", d->cfg->save_dir);
	json_object_set_string_member(o, "state_dir", d->cfg->state_dir);
	json_object_set_int_member(o, "uptime",
	                           (g_get_monotonic_time() - d->started) / G_USEC_PER_SEC);
	return p2p_json_node_take_object(o);
}

static gint
peer_cmp(gconstpointer a, gconstpointer b)
{
	const P2pPeer *pa = *(P2pPeer *const *)a;
	const P2pPeer *pb = *(P2pPeer *const *)b;
	return strcmp(pa->id, pb->id);
}

static JsonNode *
m_peers_list(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	P2pDaemon *d = c->ctrl->d;
	JsonObject *o = json_object_new();
	JsonArray *a = json_array_new();
	g_autoptr(GPtrArray) peers = p2p_hash_values(d->peers);

	g_ptr_array_sort(peers, peer_cmp);
	for (guint i = 0; i < peers->len; i++) {
		P2pPeer *p = peers->pdata[i];
		JsonObject *po = json_object_new();
		g_autofree char *pin = p2p_daemon_pinned_fingerprint(d, p->id);
		json_object_set_string_member(po, "id", p->id);
		json_object_set_string_member(po, "fingerprint", p->fingerprint);
		json_object_set_boolean_member(po, "online", p->online);
		json_object_set_boolean_member(po, "pinned", pin != NULL);
		json_object_set_string_member(po, "session",
		                              p->session ? p2p_session_state_name(p->session) : "none");
		if (p->session && p2p_session_path(p->session))
			json_object_set_string_member(po, "path", p2p_session_path(p->session));
		JsonObject *link = p->session ? p2p_session_link_json(p->session) : NULL;
		if (link)
			json_object_set_object_member(po, "link", link);
		json_object_set_int_member(po, "sessions", p->sessions);
		json_array_add_object_element(a, po);
	}
	json_object_set_array_member(o, "peers", a);
	return p2p_json_node_take_object(o);
}

/* The peer a caller named (p2p_daemon_resolve_peer); when the name is ambiguous the
 * candidates go in the error's data. */
static P2pPeer *
resolve_peer(Client *c, const char *name, JsonNode **data, GError **error)
{
	g_autoptr(GPtrArray) candidates = NULL;
	P2pPeer *peer = p2p_daemon_resolve_peer(c->ctrl->d, name, &candidates, error);
	if (peer == NULL && candidates) {
		JsonObject *o = json_object_new();
		JsonArray *a = json_array_new();
		for (guint i = 0; i < candidates->len; i++)
			json_array_add_string_element(a, candidates->pdata[i]);
		json_object_set_array_member(o, "candidates", a);
		*data = p2p_json_node_take_object(o);
	}
	return peer;
}

typedef struct {
	JsonArray *paths;
	const char *peer;
} SendParams;

static const P2pField send_fields[] = {
	P2P_FIELD(SendParams, paths, "paths", P2P_FIELD_STRV, TRUE, P2P_SEND_MAX_PATHS),
	P2P_FIELD(SendParams, peer, "peer", P2P_FIELD_STRING, TRUE, 200),
	{ NULL },
};

static void
drop_fds(Client *c)
{
	for (guint i = 0; i < c->recv_fds->len; i++)
		close(g_array_index(c->recv_fds, int, i));
	g_array_set_size(c->recv_fds, 0);
}

static JsonNode *
m_transfer_send(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	SendParams *p = params;
	g_autoptr(GArray) fds = c->recv_fds;
	guint n = json_array_get_length(p->paths);
	g_autofree char **paths = g_new0(char *, n + 1);
	g_autofree int *fdv = g_new(int, n + 1);
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);

	/* the descriptors are this request's, whatever happens to it */
	c->recv_fds = g_array_new(FALSE, FALSE, sizeof(int));
	if (n == 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS, "paths is empty");
		goto fail;
	}
	P2pPeer *peer = resolve_peer(c, p->peer, data, error);
	if (peer == NULL)
		goto fail;
	/* Files are read with the caller's rights, not the daemon's: the caller passes them
	 * open (p2pctl does), one descriptor per path. Only a caller with the daemon's own
	 * uid may name paths for the daemon to open, or any group member could send the
	 * daemon's keys. */
	if (fds->len == 0 && c->uid != geteuid()) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PERMISSION,
		            "uid %u must pass \"%s\" as an open file descriptor (SCM_RIGHTS) with "
		            "the request; p2pd only opens paths for its own uid %u",
		            (unsigned)c->uid, json_array_get_string_element(p->paths, 0),
		            (unsigned)geteuid());
		goto fail;
	}
	if (fds->len != 0 && fds->len != n) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "%u descriptors came with %u paths; pass one per path, in order",
		            fds->len, n);
		goto fail;
	}
	for (guint i = 0; i < n; i++) {
		paths[i] = (char *)json_array_get_string_element(p->paths, i);
		fdv[i] = fds->len ? g_array_index(fds, int, i) : -1;
	}
	g_array_set_size(fds, 0);
	P2pCaller caller = { c->uid, c->gid };
	P2pTransfer *t = p2p_transfer_send(c->ctrl->d, paths, fdv, n, &caller, peer, warnings,
	                                   error);
	if (t == NULL)
		return NULL;
	JsonNode *node = p2p_transfer_to_json(t);
	JsonArray *w = json_array_new();
	for (guint i = 0; i < warnings->len; i++)
		json_array_add_string_element(w, warnings->pdata[i]);
	json_object_set_array_member(json_node_get_object(node), "warnings", w);
	return node;
fail:
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	return NULL;
}

typedef struct {
	gboolean all;
} ListParams;

static const P2pField list_fields[] = {
	P2P_FIELD(ListParams, all, "all", P2P_FIELD_BOOL, FALSE, 0),
	{ NULL },
};

static gint
transfer_cmp(gconstpointer a, gconstpointer b)
{
	const P2pTransfer *ta = *(P2pTransfer *const *)a;
	const P2pTransfer *tb = *(P2pTransfer *const *)b;
	return ta->started < tb->started ? -1 : ta->started > tb->started;
}

static JsonNode *
m_transfer_list(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	ListParams *p = params;
	P2pDaemon *d = c->ctrl->d;
	JsonObject *o = json_object_new();
	JsonArray *a = json_array_new();
	g_autoptr(GPtrArray) all = p2p_hash_values(d->transfers);
	/* without "all": what is active and what ended since this daemon started */
	gint64 since = g_get_real_time() - (g_get_monotonic_time() - d->started);

	g_ptr_array_sort(all, transfer_cmp);
	for (guint i = 0; i < all->len; i++) {
		P2pTransfer *t = all->pdata[i];
		if (p->all || p2p_transfer_is_active(t) || t->finished >= since)
			json_array_add_element(a, p2p_transfer_to_json(t));
	}
	json_object_set_array_member(o, "transfers", a);
	return p2p_json_node_take_object(o);
}

typedef struct {
	const char *id;
	const char *reason;
	const char *output;
} IdParams;

static const P2pField id_fields[] = {
	P2P_FIELD(IdParams, id, "id", P2P_FIELD_STRING, TRUE, 64),
	{ NULL },
};
static const P2pField reject_fields[] = {
	P2P_FIELD(IdParams, id, "id", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(IdParams, reason, "reason", P2P_FIELD_STRING, FALSE, 512),
	{ NULL },
};
static const P2pField accept_fields[] = {
	P2P_FIELD(IdParams, id, "id", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(IdParams, output, "output", P2P_FIELD_STRING, FALSE, 4096),
	{ NULL },
};

static P2pTransfer *
lookup(Client *c, const char *id, GError **error)
{
	P2pTransfer *t = p2p_transfer_lookup(c->ctrl->d, id);
	if (t == NULL)
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_NOT_FOUND, "no transfer with id \"%s\"", id);
	return t;
}

static JsonNode *
m_transfer_status(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	P2pTransfer *t = lookup(c, ((IdParams *)params)->id, error);
	if (t == NULL)
		return NULL;
	JsonNode *node = p2p_transfer_to_json(t);
	/* the path the transfer runs on now (only here: events stay small) */
	JsonObject *link = t->session ? p2p_session_link_json(t->session) : NULL;
	if (link)
		json_object_set_object_member(json_node_get_object(node), "link", link);
	return node;
}

static JsonNode *
m_transfer_accept(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	IdParams *p = params;
	P2pTransfer *t = lookup(c, p->id, error);
	struct stat st;
	if (t == NULL)
		return NULL;
	/* files land where the caller says only if the caller could put them there: any
	 * socket-group member could otherwise make the daemon write into its own dirs */
	if (p->output && c->uid != geteuid() &&
	    (stat(p->output, &st) != 0 || st.st_uid != c->uid)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PERMISSION,
		            "uid %u may only direct files into a directory it owns, and \"%s\" is "
		            "not one", (unsigned)c->uid, p->output);
		return NULL;
	}
	if (!p2p_transfer_accept(t, p->output, error))
		return NULL;
	return p2p_transfer_to_json(t);
}

static JsonNode *
m_transfer_cancel(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	IdParams *p = params;
	P2pTransfer *t = lookup(c, p->id, error);
	if (t == NULL || !p2p_transfer_cancel(t, p->reason, error))
		return NULL;
	return p2p_transfer_to_json(t);
}

static JsonNode *
m_transfer_reject(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	IdParams *p = params;
	P2pTransfer *t = lookup(c, p->id, error);
	if (t == NULL || !p2p_transfer_reject(t, p->reason, error))
		return NULL;
	return p2p_transfer_to_json(t);
}

static P2pTransfer *
lookup_received(Client *c, const char *id, GError **error)
{
	P2pTransfer *t = lookup(c, id, error);
	if (t == NULL)
		return NULL;
	if (t->outgoing || t->state != P2P_XFER_COMPLETE || t->paths == NULL || !t->paths[0]) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is not a completed incoming file", id);
		return NULL;
	}
	if (!p2p_transfer_is_single_file(t)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "transfer %s is a directory tree or several files; it was saved in %s",
		            id, t->output ? t->output : t->paths[0]);
		return NULL;
	}
	if (t->taken) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_STATE,
		            "the file of transfer %s was already taken from the inbox", id);
		return NULL;
	}
	return t;
}

static JsonNode *
m_transfer_take(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	P2pTransfer *t = lookup_received(c, ((IdParams *)params)->id, error);
	if (t == NULL)
		return NULL;
	int fd = open(t->paths[0], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot open \"%s\": %s", t->paths[0],
		            g_strerror(errno));
		return NULL;
	}
	*pass_fd = fd;
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "name", t->name);
	json_object_set_int_member(o, "size", (gint64)t->size);
	json_object_set_string_member(o, "sha256", t->sha256);
	return p2p_json_node_take_object(o);
}

static JsonNode *
m_transfer_taken(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	P2pTransfer *t = lookup_received(c, ((IdParams *)params)->id, error);
	if (t == NULL)
		return NULL;
	if (unlink(t->paths[0]) != 0 && errno != ENOENT) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_IO, "cannot remove \"%s\": %s", t->paths[0],
		            g_strerror(errno));
		return NULL;
	}
	g_info("transfer %s: %s taken from the inbox by uid %u", t->id, t->paths[0],
	       (unsigned)c->uid);
	t->taken = TRUE;
	p2p_journal_update(t);
	return p2p_json_node_take_object(json_object_new());
}

typedef struct {
	const char *peer;
	const char *text;
	guint64 limit;
} ChatParams;

static const P2pField chat_send_fields[] = {
	P2P_FIELD(ChatParams, peer, "peer", P2P_FIELD_STRING, TRUE, 200),
	P2P_FIELD(ChatParams, text, "text", P2P_FIELD_STRING, TRUE, P2P_CHAT_MAX_TEXT * 4),
	{ NULL },
};
static const P2pField chat_peer_fields[] = {
	P2P_FIELD(ChatParams, peer, "peer", P2P_FIELD_STRING, TRUE, 200),
	{ NULL },
};
static const P2pField chat_history_fields[] = {
	P2P_FIELD(ChatParams, peer, "peer", P2P_FIELD_STRING, TRUE, 200),
	P2P_FIELD(ChatParams, limit, "limit", P2P_FIELD_UINT, FALSE, 0),
	{ NULL },
};

static JsonNode *
m_chat_send(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	ChatParams *p = params;
	P2pPeer *peer = resolve_peer(c, p->peer, data, error);
	return peer ? p2p_chat_send(c->ctrl->d, peer, p->text, error) : NULL;
}

static JsonNode *
m_chat_typing(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	ChatParams *p = params;
	P2pPeer *peer = resolve_peer(c, p->peer, data, error);
	if (peer == NULL)
		return NULL;
	p2p_chat_typing(c->ctrl->d, peer);
	return p2p_json_node_take_object(json_object_new());
}

static JsonNode *
m_chat_history(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	ChatParams *p = params;
	guint64 limit = p->limit ? p->limit : 50;
	if (limit > P2P_CHAT_HISTORY_MAX) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "limit %" G_GUINT64_FORMAT " is above %d", limit, P2P_CHAT_HISTORY_MAX);
		return NULL;
	}
	/* the history of a peer that is not visible now is still there: exact ids work */
	P2pPeer *peer = p2p_daemon_lookup_peer(c->ctrl->d, p->peer);
	if (peer == NULL && (peer = resolve_peer(c, p->peer, data, error)) == NULL) {
		if (g_error_matches(*error, P2P_RPC_ERROR, P2P_RPC_UNKNOWN_PEER)) {
			g_clear_error(error);
			return p2p_chat_history(c->ctrl->d, p->peer, limit, error);
		}
		return NULL;
	}
	return p2p_chat_history(c->ctrl->d, peer->id, limit, error);
}

typedef struct {
	const char *peer;
	const char *call;
} CallParams;

static const P2pField call_start_fields[] = {
	P2P_FIELD(CallParams, peer, "peer", P2P_FIELD_STRING, TRUE, 200),
	{ NULL },
};
static const P2pField call_id_fields[] = {
	P2P_FIELD(CallParams, call, "call", P2P_FIELD_STRING, FALSE, 64),
	{ NULL },
};

static JsonNode *
m_call_start(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	P2pPeer *peer = resolve_peer(c, ((CallParams *)params)->peer, data, error);
	return peer ? p2p_call_start(c->ctrl->d, peer, error) : NULL;
}

static JsonNode *
m_call_answer(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	return p2p_call_answer(c->ctrl->d, ((CallParams *)params)->call, error);
}

static JsonNode *
m_call_hangup(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	return p2p_call_hangup(c->ctrl->d, ((CallParams *)params)->call, error);
}

static JsonNode *
m_call_list(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	return p2p_call_list(c->ctrl->d);
}

static JsonNode *
m_events_subscribe(Client *c, gpointer params, int *pass_fd, JsonNode **data,
          GError **error)
{
	c->subscribed = TRUE;
	return p2p_json_node_take_object(json_object_new());
}

typedef struct {
	const char *level;
} LogLevelParams;

static const P2pField log_level_fields[] = {
	P2P_FIELD(LogLevelParams, level, "level", P2P_FIELD_STRING, TRUE, 16),
	{ NULL },
};

static JsonNode *
m_log_set_level(Client *c, gpointer params, int *pass_fd, JsonNode **data, GError **error)
{
	const char *level = ((LogLevelParams *)params)->level;

	/* debug logging writes file names and peers into the journal: the administrator's
	 * decision, not any group member's */
	if (c->uid != 0 && c->uid != geteuid()) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_PERMISSION,
		            "uid %u may not change the log level; root or uid %u may",
		            (unsigned)c->uid, (unsigned)geteuid());
		return NULL;
	}
	const char *previous = p2p_log_get_level();
	if (!p2p_log_set_level(level)) {
		g_set_error(error, P2P_RPC_ERROR, P2P_RPC_INVALID_PARAMS,
		            "level: \"%s\" is not " P2P_LOG_LEVELS, level);
		return NULL;
	}
	g_message("log level %s (was %s), set by uid %u", level, previous, (unsigned)c->uid);
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "level", level);
	json_object_set_string_member(o, "previous", previous);
	return p2p_json_node_take_object(o);
}

#define METHOD(n, f, fields, st) { (n), (f), (fields), sizeof(st) }

static const Method methods[] = {
	METHOD(P2P_M_DAEMON_INFO, m_daemon_info, no_fields, NoParams),
	METHOD(P2P_M_PEERS_LIST, m_peers_list, no_fields, NoParams),
	METHOD(P2P_M_TRANSFER_SEND, m_transfer_send, send_fields, SendParams),
	METHOD(P2P_M_TRANSFER_LIST, m_transfer_list, list_fields, ListParams),
	METHOD(P2P_M_TRANSFER_STATUS, m_transfer_status, id_fields, IdParams),
	METHOD(P2P_M_TRANSFER_ACCEPT, m_transfer_accept, accept_fields, IdParams),
	METHOD(P2P_M_TRANSFER_REJECT, m_transfer_reject, reject_fields, IdParams),
	METHOD(P2P_M_TRANSFER_CANCEL, m_transfer_cancel, reject_fields, IdParams),
	METHOD(P2P_M_CHAT_SEND, m_chat_send, chat_send_fields, ChatParams),
	METHOD(P2P_M_CHAT_TYPING, m_chat_typing, chat_peer_fields, ChatParams),
	METHOD(P2P_M_CHAT_HISTORY, m_chat_history, chat_history_fields, ChatParams),
	METHOD(P2P_M_CALL_START, m_call_start, call_start_fields, CallParams),
	METHOD(P2P_M_CALL_ANSWER, m_call_answer, call_id_fields, CallParams),
	METHOD(P2P_M_CALL_HANGUP, m_call_hangup, call_id_fields, CallParams),
	METHOD(P2P_M_CALL_LIST, m_call_list, no_fields, NoParams),
	METHOD(P2P_M_TRANSFER_TAKE, m_transfer_take, id_fields, IdParams),
	METHOD(P2P_M_TRANSFER_TAKEN, m_transfer_taken, id_fields, IdParams),
	METHOD(P2P_M_EVENTS_SUBSCRIBE, m_events_subscribe, no_fields, NoParams),
	METHOD(P2P_M_LOG_LEVEL, m_log_set_level, log_level_fields, LogLevelParams),
};

static void
handle_line(Client *c, const char *line, gsize len)
{
	P2pRpcMessage msg;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) id = NULL;

	if (!p2p_rpc_parse(line, len, P2P_JSONRPC_MAX_DEPTH, &msg, &id, &error)) {
		client_send(c, p2p_rpc_build_gerror(id, error), -1);
		if (error->code == P2P_RPC_LIMIT)
			c->closing = TRUE;
		return;
	}
	if (msg.kind != P2P_RPC_KIND_REQUEST) {
		/* notifications get no answer, by JSON-RPC's rules; responses are not expected */
		p2p_rpc_message_clear(&msg);
		return;
	}
	const Method *m = NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(methods); i++)
		if (strcmp(methods[i].name, msg.method) == 0)
			m = &methods[i];
	if (m == NULL) {
		g_autofree char *text = g_strdup_printf("unknown method \"%s\"", msg.method);
		client_send(c, p2p_rpc_build_error(msg.id, P2P_RPC_METHOD_NOT_FOUND, text, NULL), -1);
		p2p_rpc_message_clear(&msg);
		return;
	}
	g_autofree gpointer params = g_malloc0(m->params_size);
	int pass_fd = -1;
	JsonNode *result = NULL;
	JsonNode *data = NULL;
	if (p2p_schema_decode_params(msg.params, m->fields, params, &error))
		result = m->func(c, params, &pass_fd, &data, &error);
	if (result) {
		client_send(c, p2p_rpc_build_result(msg.id, result), pass_fd);
	} else {
		gint64 code = error->domain == P2P_RPC_ERROR ? error->code : P2P_RPC_INTERNAL_ERROR;
		client_send(c, p2p_rpc_build_error(msg.id, code, error->message, data), -1);
	}
	p2p_rpc_message_clear(&msg);
}

static gboolean
client_io(gint fd, GIOCondition cond, gpointer data)
{
	Client *c = data;
	guint8 buf[8192];

	if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) {
		if (!(cond & G_IO_IN))
			goto gone;
	}
	if (cond & G_IO_OUT) {
		if (!client_flush(c))
			goto gone;
	}
	if ((cond & G_IO_IN) && !c->closing) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * P2P_SEND_MAX_PATHS)];
			struct cmsghdr align;
		} u;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
		                     .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			gsize nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			/* only the latest set counts: it rides with the request it came with */
			drop_fds(c);
			for (gsize i = 0; i < nfds; i++) {
				int fd_in;
				memcpy(&fd_in, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				g_array_append_val(c->recv_fds, fd_in);
			}
		}
		if (n == 0)
			goto gone;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				goto gone;
			return G_SOURCE_CONTINUE;
		}
		p2p_line_reader_feed(&c->reader, buf, n);
		for (;;) {
			g_autoptr(GError) error = NULL;
			gsize len;
			g_autofree char *line = p2p_line_reader_next(&c->reader, &len, &error);
			if (error) {
				client_send(c, p2p_rpc_build_gerror(NULL, error), -1);
				c->closing = TRUE;
				break;
			}
			if (line == NULL)
				break;
			handle_line(c, line, len);
			if (c->closing)
				break;
		}
		if (!client_flush(c))
			goto gone;
	}
	return G_SOURCE_CONTINUE;
gone:
	/* the watch may have been replaced while handling: client_free removes whichever is
	 * current (removing the dispatching source from inside it is allowed) */
	client_free(c);
	return G_SOURCE_REMOVE;
}

static void
client_free(Client *c)
{
	c->ctrl->clients = g_list_remove(c->ctrl->clients, c);
	g_clear_handle_id(&c->watch, g_source_remove);
	close(c->fd);
	drop_fds(c);
	g_array_unref(c->recv_fds);
	p2p_line_reader_clear(&c->reader);
	g_queue_clear_full(&c->out, (GDestroyNotify)chunk_free);
	g_free(c);
}

static gboolean
accept_cb(gint fd, GIOCondition cond, gpointer data)
{
	P2pControl *ctrl = data;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		close(cfd);
		return G_SOURCE_CONTINUE;
	}
	guint same_uid = 0;
	for (GList *l = ctrl->clients; l; l = l->next)
		same_uid += ((Client *)l->data)->uid == cred.uid;
	if (same_uid >= P2P_CONTROL_MAX_CLIENTS_PER_UID) {
		g_autofree char *line = p2p_rpc_build_error(
			NULL, P2P_RPC_LIMIT, "too many control connections from this user", NULL);
		(void)!send(cfd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		g_warning("control: refused a connection from uid %u: %u already open",
		          (unsigned)cred.uid, same_uid);
		return G_SOURCE_CONTINUE;
	}
	Client *c = g_new0(Client, 1);
	c->ctrl = ctrl;
	c->fd = cfd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->recv_fds = g_array_new(FALSE, FALSE, sizeof(int));
	p2p_line_reader_init(&c->reader, P2P_JSONRPC_MAX_LINE);
	g_queue_init(&c->out);
	ctrl->clients = g_list_prepend(ctrl->clients, c);
	client_update_watch(c);
	return G_SOURCE_CONTINUE;
}

static P2pControl *
control_wrap(P2pDaemon *d, const char *path, int fd, gboolean activated)
{
	P2pControl *ctrl = g_new0(P2pControl, 1);
	ctrl->d = d;
	ctrl->path = g_strdup(path);
	ctrl->fd = fd;
	ctrl->activated = activated;
	ctrl->watch = g_unix_fd_add(fd, G_IO_IN, accept_cb, ctrl);
	return ctrl;
}

/* The listening socket systemd passed (p2pd.socket), or -1 when started by hand.
 * More than one socket, or one of another kind, is a unit file error worth stopping
 * for rather than serving something nobody asked for. */
static int
activation_fd(const char *path, GError **error)
{
	int n = sd_listen_fds(TRUE);
	if (n == 0)
		return -1;
	if (n < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-n),
		            "sockets passed by systemd: %s", g_strerror(-n));
		return -2;
	}
	if (n > 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "systemd passed %d sockets; p2pd takes one listening UNIX stream socket "
		            "(ListenStream= in p2pd.socket)", n);
		return -2;
	}
	int fd = SD_LISTEN_FDS_START;
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) <= 0)
		g_warning("control: systemd passed a socket that is not control-socket \"%s\"; "
		          "serving it anyway (p2pctl --socket must name it)", path);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "socket passed by systemd: %s", g_strerror(errno));
		return -2;
	}
	return fd;
}

P2pControl *
p2p_control_new(P2pDaemon *d, const char *path, GError **error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	int afd = activation_fd(path, error);
	if (afd == -2)
		return NULL;
	if (afd >= 0) {
		g_info("control: serving the socket systemd passed");
		return control_wrap(d, path, afd, TRUE);
	}

	if (strlen(path) >= sizeof(sa.sun_path)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
		            "control socket path \"%s\" is too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	g_autofree char *dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot create \"%s\": %s",
		            dir, g_strerror(errno));
		return NULL;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s",
		            g_strerror(errno));
		return NULL;
	}
	/* a socket file left by a crashed daemon is replaced; a live daemon's is not */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "\"%s\" exists and is not a socket", path);
			close(fd);
			return NULL;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			            "another daemon is serving \"%s\"", path);
			return NULL;
		}
		close(probe);
		unlink(path);
	}
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r != 0 || chmod(path, 0660) != 0 || listen(fd, 64) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot listen on \"%s\": %s",
		            path, g_strerror(errno));
		close(fd);
		return NULL;
	}
	return control_wrap(d, path, fd, FALSE);
}

void
p2p_control_free(P2pControl *ctrl)
{
	if (ctrl == NULL)
		return;
	while (ctrl->clients)
		client_free(ctrl->clients->data);
	g_clear_handle_id(&ctrl->watch, g_source_remove);
	close(ctrl->fd);
	/* systemd keeps listening on an activated socket while p2pd is down and starts it
	 * again on the next connection: its file must stay */
	if (!ctrl->activated)
		unlink(ctrl->path);
	g_free(ctrl->path);
	g_free(ctrl);
}

/* p2pctl-rpc.c: the client end of the control socket. One request at a time: a call
 * writes one line and reads until the response with its id; notifications read on the
 * way are queued for p2pctl_conn_next_event(). A descriptor passed with SCM_RIGHTS
 * (transfer.take) is kept until the response it came with has been parsed; the
 * descriptors a request carries (transfer.send: one per path) all ride in one
 * SCM_RIGHTS message with the request's first byte. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "p2pctl.h"

G_DEFINE_QUARK(p2pctl-error-quark, p2pctl_error)

#define MAX_FDS_PER_READ 4

typedef struct {
	char *method;
	JsonNode *params;
} Event;

struct _P2pctlConn {
	int fd;
	char *path;
	P2pLineReader reader;
	gint64 next_id;
	GQueue events; /* Event* */
	GArray *fds;      /* descriptors received, not yet claimed by a response */
	GArray *send_fds; /* to pass with the next request, owned until sent */
};

JsonNode *
p2pctl_node_take_object(JsonObject *o)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, o);
	return node;
}

/* ---- interruption --------------------------------------------------------------- */

/* A self-pipe so that poll() wakes up on SIGINT even if the signal arrives between
 * the flag check and the poll call. */
static int interrupt_pipe[2] = { -1, -1 };
static volatile sig_atomic_t interrupt_flag;

static void
on_interrupt(int sig)
{
	int saved = errno;
	interrupt_flag = 1;
	if (interrupt_pipe[1] >= 0) {
		char c = 1;
		ssize_t r = write(interrupt_pipe[1], &c, 1);
		(void)r;
	}
	errno = saved;
}

void
p2pctl_catch_interrupts(void)
{
	struct sigaction sa = { 0 };

	if (interrupt_pipe[0] < 0 && pipe2(interrupt_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		interrupt_pipe[0] = interrupt_pipe[1] = -1;
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

gboolean
p2pctl_interrupted(void)
{
	return interrupt_flag != 0;
}

int
p2pctl_interrupt_fd(void)
{
	return interrupt_pipe[0];
}

/* ---- connection ------------------------------------------------------------------ */

static void
event_free(Event *e)
{
	g_free(e->method);
	if (e->params)
		json_node_unref(e->params);
	g_free(e);
}

static void
close_all(GArray *fds)
{
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	g_array_set_size(fds, 0);
}

static void
close_fds(P2pctlConn *conn)
{
	close_all(conn->fds);
}

P2pctlConn *
p2pctl_conn_new_from_fd(int fd, const char *label)
{
	P2pctlConn *conn = g_new0(P2pctlConn, 1);

	conn->fd = fd;
	conn->path = g_strdup(label);
	conn->next_id = 1;
	conn->fds = g_array_new(FALSE, FALSE, sizeof(int));
	conn->send_fds = g_array_new(FALSE, FALSE, sizeof(int));
	p2p_line_reader_init(&conn->reader, P2PCTL_MAX_LINE);
	g_queue_init(&conn->events);
	return conn;
}

P2pctlConn *
p2pctl_conn_open(const char *path, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sun.sun_path)) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_CONNECT,
		            "cannot connect to p2pd: socket path \"%s\" is longer than %zu bytes",
		            path, sizeof(sun.sun_path) - 1);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_CONNECT, "cannot create a socket: %s",
		            g_strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		if (e == EINTR && !interrupt_flag)
			continue;
		close(fd);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_CONNECT,
		            "cannot connect to p2pd at \"%s\": %s (%s)", path, g_strerror(e),
		            e == EACCES ? "is your user allowed to use the control socket?"
		                        : "is p2pd running? use --socket PATH or P2PD_SOCKET");
		return NULL;
	}
	return p2pctl_conn_new_from_fd(fd, path);
}

void
p2pctl_conn_free(P2pctlConn *conn)
{
	if (conn == NULL)
		return;
	close_fds(conn);
	close_all(conn->send_fds);
	g_array_unref(conn->fds);
	g_array_unref(conn->send_fds);
	g_queue_clear_full(&conn->events, (GDestroyNotify)event_free);
	p2p_line_reader_clear(&conn->reader);
	close(conn->fd);
	g_free(conn->path);
	g_free(conn);
}

const char *
p2pctl_conn_get_path(P2pctlConn *conn)
{
	return conn->path;
}

int
p2pctl_conn_get_fd(P2pctlConn *conn)
{
	return conn->fd;
}

gboolean
p2pctl_conn_attach_fds(P2pctlConn *conn, const int *fds, guint n, GError **error)
{
	if (conn->send_fds->len + n > P2PCTL_MAX_SEND_FDS) {
		for (guint i = 0; i < n; i++)
			close(fds[i]);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "cannot pass more than %d open files in one request",
		            P2PCTL_MAX_SEND_FDS);
		return FALSE;
	}
	g_array_append_vals(conn->send_fds, fds, n);
	return TRUE;
}

static gboolean
write_all(P2pctlConn *conn, const char *data, gsize len, GError **error)
{
	while (len > 0) {
		struct iovec iov = { (void *)data, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		g_autofree char *control = NULL;
		guint nfds = conn->send_fds->len;

		if (nfds > 0) {
			/* All descriptors in one cmsg with the first byte of the request: the
			 * daemon matches them to the request's paths by position. g_malloc0
			 * memory is aligned for struct cmsghdr. */
			gsize space = CMSG_SPACE(sizeof(int) * nfds);
			control = g_malloc0(space);
			mh.msg_control = control;
			mh.msg_controllen = space;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), conn->send_fds->data, sizeof(int) * nfds);
		}
		ssize_t n = sendmsg(conn->fd, &mh, MSG_NOSIGNAL);
		if (n > 0 && nfds > 0)
			close_all(conn->send_fds); /* the daemon holds its own copies now */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_DISCONNECTED,
			            "lost the connection to p2pd at \"%s\": %s", conn->path,
			            g_strerror(errno));
			return FALSE;
		}
		data += n;
		len -= n;
	}
	return TRUE;
}

/* Waits until the socket is readable, honouring the deadline (monotonic µs, 0 = none)
 * and interruptions. */
static gboolean
wait_readable(P2pctlConn *conn, gint64 deadline, const char *what, GError **error)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = conn->fd, .events = POLLIN },
			{ .fd = interrupt_pipe[0], .events = POLLIN },
		};
		int timeout = -1;
		gboolean last = FALSE;

		if (deadline > 0) {
			gint64 left = deadline - g_get_monotonic_time();
			/* Past the deadline, one look without waiting: what is already there
			 * still counts (the chat reads its events with a timeout of 0). */
			last = left <= 0;
			timeout = last ? 0 : (int)MIN(left / 1000 + 1, G_MAXINT);
		}
		int n = poll(pfd, interrupt_pipe[0] >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_DISCONNECTED, "poll: %s",
			            g_strerror(errno));
			return FALSE;
		}
		/* Data first: a response that is already here (say, the new transfer's id)
		 * is worth reading before giving up. */
		if (n > 0 && pfd[0].revents)
			return TRUE;
		if (interrupt_flag) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED, "interrupted");
			return FALSE;
		}
		if (last) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_TIMEOUT,
			            "p2pd at \"%s\" did not answer %s in time", conn->path, what);
			return FALSE;
		}
	}
}

static gboolean
read_some(P2pctlConn *conn, GError **error)
{
	char buf[64 * 1024];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.space,
		.msg_controllen = sizeof(control.space),
	};
	ssize_t n;

	do
		n = recvmsg(conn->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR && !interrupt_flag);
	if (n < 0 && errno == EINTR) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED, "interrupted");
		return FALSE;
	}
	if (n < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_DISCONNECTED,
		            "lost the connection to p2pd at \"%s\": %s", conn->path,
		            g_strerror(errno));
		return FALSE;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		gsize nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (gsize i = 0; i < nfds; i++) {
			int fd;
			memcpy(&fd, &fds[i], sizeof(fd));
			g_array_append_val(conn->fds, fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(conn);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "p2pd at \"%s\" passed more file descriptors than expected", conn->path);
		return FALSE;
	}
	if (n == 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_DISCONNECTED,
		            "p2pd closed the connection on \"%s\" (did it stop?)", conn->path);
		return FALSE;
	}
	p2p_line_reader_feed(&conn->reader, buf, n);
	return TRUE;
}

/* Reads the next message (any kind). */
static gboolean
read_message(P2pctlConn *conn, gint64 deadline, const char *what, P2pRpcMessage *msg,
             GError **error)
{
	for (;;) {
		g_autoptr(GError) local = NULL;
		gsize len = 0;
		g_autofree char *line = p2p_line_reader_next(&conn->reader, &len, &local);

		if (local) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
			            "p2pd at \"%s\" sent a line that is too long: %s", conn->path,
			            local->message);
			return FALSE;
		}
		if (line) {
			if (len == 0)
				continue;
			if (!p2p_rpc_parse(line, len, P2P_JSONRPC_MAX_DEPTH, msg, NULL, &local)) {
				g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
				            "p2pd at \"%s\" sent an invalid message: %s", conn->path,
				            local->message);
				return FALSE;
			}
			return TRUE;
		}
		if (!wait_readable(conn, deadline, what, error) || !read_some(conn, error))
			return FALSE;
	}
}

static gboolean
queue_event(P2pctlConn *conn, P2pRpcMessage *msg, GError **error)
{
	if (g_queue_get_length(&conn->events) >= P2PCTL_MAX_QUEUED) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_PROTOCOL,
		            "more than %d unread notifications from p2pd", P2PCTL_MAX_QUEUED);
		return FALSE;
	}
	Event *e = g_new0(Event, 1);
	e->method = g_strdup(msg->method);
	e->params = msg->params ? json_node_copy(msg->params) : NULL;
	g_queue_push_tail(&conn->events, e);
	return TRUE;
}

static gboolean
id_matches(JsonNode *id, gint64 want)
{
	return id && JSON_NODE_HOLDS_VALUE(id) && json_node_get_value_type(id) == G_TYPE_INT64 &&
	       json_node_get_int(id) == want;
}

JsonNode *
p2pctl_conn_call(P2pctlConn *conn, const char *method, JsonNode *params, int *fd_out,
                 JsonNode **error_data_out, GError **error)
{
	gint64 id = conn->next_id++;
	g_autofree char *line = NULL;
	gint64 deadline = g_get_monotonic_time() + (gint64)P2PCTL_CALL_TIMEOUT_MS * 1000;
	g_autofree char *what = g_strdup_printf("\"%s\"", method);

	if (fd_out)
		*fd_out = -1;
	if (error_data_out)
		*error_data_out = NULL;
	if (params == NULL)
		params = p2pctl_node_take_object(json_object_new());
	line = p2p_rpc_build_request(id, method, params);
	/* p2pd reads at most P2P_JSONRPC_MAX_LINE per line and would drop the connection:
	 * say why here instead (long or many paths in transfer.send). */
	gsize line_len = strlen(line) - 1; /* the limit excludes the newline */
	if (line_len > P2P_JSONRPC_MAX_LINE) {
		close_all(conn->send_fds);
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE,
		            "the \"%s\" request would be %zu bytes long, p2pd accepts at most %d "
		            "(fewer or shorter paths?)", method, line_len, P2P_JSONRPC_MAX_LINE);
		return NULL;
	}
	/* A descriptor left over from an earlier response belongs to nothing. */
	close_fds(conn);
	if (!write_all(conn, line, strlen(line), error))
		return NULL;

	for (;;) {
		P2pRpcMessage msg;
		if (!read_message(conn, deadline, what, &msg, error))
			return NULL;

		if (msg.kind == P2P_RPC_KIND_NOTIFICATION) {
			gboolean ok = queue_event(conn, &msg, error);
			p2p_rpc_message_clear(&msg);
			if (!ok)
				return NULL;
			continue;
		}
		if (msg.kind == P2P_RPC_KIND_ERROR &&
		    (msg.id == NULL || JSON_NODE_HOLDS_NULL(msg.id) || id_matches(msg.id, id))) {
			/* id null: the daemon could not read our request at all */
			g_set_error(error, P2P_RPC_ERROR, (gint)msg.error_code, "%s",
			            msg.error_message && *msg.error_message ? msg.error_message
			                                                    : "unknown error");
			if (error_data_out && msg.error_data)
				*error_data_out = json_node_copy(msg.error_data);
			p2p_rpc_message_clear(&msg);
			close_fds(conn);
			return NULL;
		}
		if (msg.kind == P2P_RPC_KIND_RESULT && id_matches(msg.id, id)) {
			JsonNode *result = json_node_copy(msg.result);
			p2p_rpc_message_clear(&msg);
			if (fd_out && conn->fds->len > 0) {
				*fd_out = g_array_index(conn->fds, int, 0);
				g_array_remove_index(conn->fds, 0);
			}
			close_fds(conn);
			return result;
		}
		/* A request from the daemon or a stale response: not ours to answer. */
		p2p_rpc_message_clear(&msg);
	}
}

gboolean
p2pctl_conn_next_event(P2pctlConn *conn, int timeout_ms, char **method_out,
                       JsonNode **params_out, GError **error)
{
	gint64 deadline = timeout_ms >= 0 ? g_get_monotonic_time() + (gint64)timeout_ms * 1000
	                                  : 0;

	for (;;) {
		Event *e = g_queue_pop_head(&conn->events);
		if (e) {
			*method_out = g_steal_pointer(&e->method);
			*params_out = g_steal_pointer(&e->params);
			event_free(e);
			return TRUE;
		}
		/* Checked here too so that a queued backlog does not hide an interruption. */
		if (interrupt_flag) {
			g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_INTERRUPTED, "interrupted");
			return FALSE;
		}
		P2pRpcMessage msg;
		if (!read_message(conn, deadline, "with an event", &msg, error))
			return FALSE;
		gboolean ok = msg.kind != P2P_RPC_KIND_NOTIFICATION || queue_event(conn, &msg, error);
		p2p_rpc_message_clear(&msg);
		close_fds(conn);
		if (!ok)
			return FALSE;
	}
}

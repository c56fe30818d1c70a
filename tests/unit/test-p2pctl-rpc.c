/* p2pctl against a scripted fake p2pd (a thread serving the control socket): the
 * order of calls (subscribe before transfer.send), events that arrive before the
 * response, exit statuses, SCM_RIGHTS for transfer.take, saving without overwriting,
 * and a daemon that hangs up mid-way. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "p2pctl.h"

typedef struct _Fake Fake;
/* Answers one request; returns FALSE to hang up. */
typedef gboolean (*FakeHandler)(Fake *f, const char *method, JsonObject *params, gint64 id);

struct _Fake {
	char *dir;
	char *sock_path;
	int listen_fd;
	int conn_fd;
	FakeHandler handler;
	GThread *thread;
	GPtrArray *calls; /* "method" or "method {params}" */
	GArray *fds;      /* descriptors received with requests, in order, still open */
	gpointer data;
};

static void
fake_write(Fake *f, const char *line)
{
	gsize len = strlen(line);
	while (len > 0) {
		ssize_t n = send(f->conn_fd, line, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		line += n;
		len -= n;
	}
}

static void
fake_result(Fake *f, gint64 id, const char *json)
{
	g_autofree char *line = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":%" G_GINT64_FORMAT
	                                        ",\"result\":%s}\n", id, json);
	fake_write(f, line);
}

static void
fake_error(Fake *f, gint64 id, int code, const char *message, const char *data)
{
	g_autofree char *line = g_strdup_printf(
		"{\"jsonrpc\":\"2.0\",\"id\":%" G_GINT64_FORMAT ",\"error\":{\"code\":%d,"
		"\"message\":\"%s\"%s%s}}\n", id, code, message, data ? ",\"data\":" : "",
		data ? data : "");
	fake_write(f, line);
}

static void
fake_notify(Fake *f, const char *method, const char *json)
{
	g_autofree char *line = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\","
	                                        "\"params\":%s}\n", method, json);
	fake_write(f, line);
}

/* The response line with one descriptor attached, as p2pd sends transfer.take. */
static void
fake_result_fd(Fake *f, gint64 id, const char *json, int fd)
{
	g_autofree char *line = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":%" G_GINT64_FORMAT
	                                        ",\"result\":%s}\n", id, json);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct iovec iov = { .iov_base = line, .iov_len = strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	g_assert_cmpint(sendmsg(f->conn_fd, &mh, MSG_NOSIGNAL), ==, (ssize_t)strlen(line));
}

static gpointer
fake_thread(gpointer user_data)
{
	Fake *f = user_data;
	P2pLineReader r;
	char buf[4096];
	guint pending_fds = 0; /* received since the last request line */

	f->conn_fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	g_assert_cmpint(f->conn_fd, >=, 0);
	p2p_line_reader_init(&r, P2P_JSONRPC_MAX_LINE);
	for (;;) {
		g_autofree char *line = NULL;
		gsize len = 0;

		line = p2p_line_reader_next(&r, &len, NULL);
		if (line == NULL) {
			/* recvmsg, as p2pd does: the descriptors of transfer.send are kept */
			union {
				struct cmsghdr align;
				char buf[CMSG_SPACE(sizeof(int) * 256)];
			} control;
			struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			                     .msg_control = control.buf,
			                     .msg_controllen = sizeof(control.buf) };
			ssize_t n = recvmsg(f->conn_fd, &mh, MSG_CMSG_CLOEXEC);
			if (n <= 0)
				break;
			g_assert_false(mh.msg_flags & MSG_CTRUNC);
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
				g_assert_cmpint(c->cmsg_type, ==, SCM_RIGHTS);
				guint nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				g_array_append_vals(f->fds, CMSG_DATA(c), nfds);
				pending_fds += nfds;
			}
			p2p_line_reader_feed(&r, buf, n);
			continue;
		}
		P2pRpcMessage msg;
		g_assert_true(p2p_rpc_parse(line, len, 8, &msg, NULL, NULL));
		g_assert_cmpint(msg.kind, ==, P2P_RPC_KIND_REQUEST);
		JsonObject *params = msg.params ? json_node_get_object(msg.params) : NULL;
		GString *call = g_string_new(msg.method);
		if (params && json_object_get_size(params) > 0) {
			g_autofree char *p = p2p_json_to_string(msg.params);
			g_string_append_printf(call, " %s", p);
		}
		/* the client sends one request at a time: descriptors belong to this one */
		if (pending_fds > 0)
			g_string_append_printf(call, " [%u fd%s]", pending_fds,
			                       pending_fds == 1 ? "" : "s");
		pending_fds = 0;
		g_ptr_array_add(f->calls, g_string_free(call, FALSE));
		gboolean go_on = f->handler(f, msg.method, params, json_node_get_int(msg.id));
		p2p_rpc_message_clear(&msg);
		if (!go_on)
			break;
	}
	p2p_line_reader_clear(&r);
	close(f->conn_fd);
	return NULL;
}

static Fake *
fake_start(FakeHandler handler, gpointer data)
{
	Fake *f = g_new0(Fake, 1);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	f->dir = g_dir_make_tmp("p2pctl-rpc-XXXXXX", NULL);
	f->sock_path = g_build_filename(f->dir, "control.sock", NULL);
	f->handler = handler;
	f->data = data;
	f->calls = g_ptr_array_new_with_free_func(g_free);
	f->fds = g_array_new(FALSE, FALSE, sizeof(int));
	g_strlcpy(sun.sun_path, f->sock_path, sizeof(sun.sun_path));
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(bind(f->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	g_assert_cmpint(listen(f->listen_fd, 4), ==, 0);
	f->thread = g_thread_new("fake-p2pd", fake_thread, f);
	return f;
}

/* Joins the thread (the client has hung up by now) and returns the calls made; the
 * descriptors received go to *fds_out when given, else are closed. */
static char *
fake_stop_fds(Fake *f, GArray **fds_out)
{
	g_thread_join(f->thread);
	if (fds_out) {
		*fds_out = f->fds;
	} else {
		for (guint i = 0; i < f->fds->len; i++)
			close(g_array_index(f->fds, int, i));
		g_array_unref(f->fds);
	}
	close(f->listen_fd);
	unlink(f->sock_path);
	rmdir(f->dir);
	g_ptr_array_add(f->calls, NULL);
	char *calls = g_strjoinv("\n", (char **)f->calls->pdata);
	g_ptr_array_unref(f->calls);
	g_free(f->sock_path);
	g_free(f->dir);
	g_free(f);
	return calls;
}

static char *
fake_stop(Fake *f)
{
	return fake_stop_fds(f, NULL);
}

typedef struct {
	int status;
	char *out;
	char *err;
} Run;

static void
run_clear(Run *r)
{
	g_free(r->out);
	g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

static void
run(Run *r, Fake *f, const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	FILE *err = open_memstream(&ebuf, &elen);

	g_ptr_array_add(argv, (gpointer)"p2pctl");
	g_ptr_array_add(argv, (gpointer)"--socket");
	g_ptr_array_add(argv, f->sock_path);
	for (; *args; args++)
		g_ptr_array_add(argv, (gpointer)*args);
	g_ptr_array_add(argv, NULL);
	r->status = p2pctl_run((int)argv->len - 1, (char **)argv->pdata, out, err);
	fclose(out);
	fclose(err);
	r->out = g_strdup(obuf);
	r->err = g_strdup(ebuf);
	free(obuf);
	free(ebuf);
}

#define XFER(id, dir, state, extra)                                                \
	"{\"id\":\"" id "\",\"direction\":\"" dir "\",\"peer\":\"bob\",\"name\":\"a.txt\"," \
	"\"size\":5,\"bytes\":0,\"state\":\"" state "\"" extra "}"

/* ---- send ----------------------------------------------------------------------- */

static gboolean
send_ok(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	if (strcmp(method, P2P_M_EVENTS_SUBSCRIBE) == 0) {
		fake_result(f, id, "{}");
		return TRUE;
	}
	g_assert_cmpstr(method, ==, P2P_M_TRANSFER_SEND);
	/* events can precede the response: another transfer's, and our own */
	fake_notify(f, P2P_E_TRANSFER_PROGRESS, XFER("other", "out", "transferring", ""));
	fake_notify(f, P2P_E_OFFER_SENT, XFER("t1", "out", "offered", ""));
	fake_result(f, id, XFER("t1", "out", "connecting", ""));
	fake_notify(f, P2P_E_TRANSFER_COMPLETE, XFER("other", "out", "complete", ""));
	fake_notify(f, P2P_E_TRANSFER_PROGRESS, XFER("t1", "out", "transferring", ",\"bytes\":3"));
	fake_notify(f, P2P_E_TRANSFER_COMPLETE,
	            XFER("t1", "out", "complete", ",\"bytes\":5,\"sha256\":\"abc123\""));
	return TRUE;
}

static void
test_send_ok(void)
{
	g_autofree char *file = NULL;
	int fd = g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL);
	g_assert_cmpint(write(fd, "hello", 5), ==, 5);
	close(fd);

	Fake *f = fake_start(send_ok, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", file, "bob", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_autofree char *expect = g_strdup_printf("events.subscribe\ntransfer.send "
	                                          "{\"paths\":[\"%s\"],\"peer\":\"bob\"} "
	                                          "[1 fd]", file);
	g_assert_cmpstr(calls, ==, expect);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "sent a.txt to bob: 5 bytes, sha256 abc123, verified by the receiver\n");
	g_assert_cmpstr(r.err, ==, "");
	unlink(file);
}

static void
test_send_relative_path(void)
{
	g_autofree char *cwd = g_get_current_dir();
	g_autofree char *dir = g_dir_make_tmp("p2pctl-rel-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "a.txt", NULL);
	g_assert_true(g_file_set_contents(file, "hello", 5, NULL));
	g_assert_cmpint(chdir(dir), ==, 0);

	Fake *f = fake_start(send_ok, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "--json", "send", "./sub/../a.txt", "bob", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpint(chdir(cwd), ==, 0);
	/* the daemon gets an absolute, normalised path */
	g_autofree char *expect = g_strdup_printf("\"paths\":[\"%s\"]", file);
	g_assert_nonnull(strstr(calls, expect));
	g_assert_cmpint(r.status, ==, 0);
	/* --json: the final Transfer object, one line */
	g_assert_true(g_str_has_prefix(r.out, "{\"id\":\"t1\""));
	g_assert_nonnull(strstr(r.out, "\"state\":\"complete\""));
	g_assert_true(g_str_has_suffix(r.out, "}\n"));
	unlink(file);
	rmdir(dir);
}

static gboolean
send_rejected(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	fake_result(f, id, strcmp(method, P2P_M_TRANSFER_SEND) == 0
	                   ? XFER("t2", "out", "connecting", "") : "{}");
	if (strcmp(method, P2P_M_TRANSFER_SEND) == 0)
		fake_notify(f, P2P_E_TRANSFER_FAILED,
		            XFER("t2", "out", "rejected",
		                 ",\"reason\":{\"code\":\"too-large\",\"message\":\"file is 5 B, "
		                 "the limit is 1 B\\u001b[2J\"}"));
	return TRUE;
}

static void
test_send_rejected(void)
{
	g_autofree char *file = NULL;
	close(g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL));

	Fake *f = fake_start(send_rejected, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", file, "bob", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_TRANSFER);
	g_assert_cmpstr(r.out, ==, "");
	g_assert_cmpstr(r.err, ==, "p2pctl: transfer t2 (a.txt) rejected: too-large: file is 5 B, "
	                           "the limit is 1 B\\x1b[2J\n");
	unlink(file);
}

static gboolean
send_ambiguous(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	if (strcmp(method, P2P_M_TRANSFER_SEND) == 0)
		fake_error(f, id, P2P_RPC_AMBIGUOUS_PEER, "\\\"bob\\\" matches alpha.bob, beta.bob",
		           "{\"candidates\":[\"alpha.bob\",\"beta.bob\"]}");
	else
		fake_result(f, id, "{}");
	return TRUE;
}

static void
test_send_ambiguous(void)
{
	g_autofree char *file = NULL;
	close(g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL));

	Fake *f = fake_start(send_ambiguous, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", file, "bob", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_PEER);
	g_assert_cmpstr(r.err, ==, "p2pctl: \"bob\" matches alpha.bob, beta.bob\n");

	f = fake_start(send_ambiguous, NULL);
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "--json", "send", file, "bob", NULL };
	run(&j, f, jargs);
	g_free(fake_stop(f));
	g_assert_cmpint(j.status, ==, P2PCTL_EXIT_PEER);
	g_assert_cmpstr(j.out, ==, "{\"error\":{\"code\":-32003,\"message\":\"\\\"bob\\\" matches "
	                           "alpha.bob, beta.bob\",\"data\":{\"candidates\":[\"alpha.bob\","
	                           "\"beta.bob\"]}}}\n");
	unlink(file);
}

static gboolean
hang_up_on_send(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	if (strcmp(method, P2P_M_TRANSFER_SEND) == 0) {
		/* half a line, then gone */
		fake_write(f, "{\"jsonrpc\":\"2.0\",\"id\":");
		return FALSE;
	}
	fake_result(f, id, "{}");
	return TRUE;
}

static void
test_daemon_hangs_up(void)
{
	g_autofree char *file = NULL;
	close(g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL));

	Fake *f = fake_start(hang_up_on_send, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", file, "bob", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(r.err, "p2pd closed the connection on"));
	g_assert_nonnull(strstr(r.err, "control.sock"));
	unlink(file);
}

static gboolean
garbage(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	fake_write(f, "this is not json\n");
	return TRUE;
}

static void
test_daemon_sends_garbage(void)
{
	Fake *f = fake_start(garbage, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "info", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(r.err, "sent an invalid message"));
}

static gboolean
interrupt_after_send(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	if (strcmp(method, P2P_M_TRANSFER_SEND) == 0) {
		fake_result(f, id, XFER("t3", "out", "transferring", ""));
		/* as if the user pressed Ctrl-C while p2pctl waits for events */
		kill(getpid(), SIGINT);
		return TRUE;
	}
	fake_result(f, id, "{}");
	return TRUE;
}

static void
test_send_interrupted(void)
{
	g_autofree char *file = NULL;
	close(g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL));

	Fake *f = fake_start(interrupt_after_send, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", file, "bob", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_INTERRUPTED);
	g_assert_cmpstr(r.err, ==, "p2pctl: interrupted; transfer t3 continues in p2pd "
	                           "(see 'p2pctl status t3')\n");
	unlink(file);
}


/* ---- several paths, one message ---------------------------------------------------- */

#define TREE(id, state, extra)                                                            \
	"{\"id\":\"" id "\",\"direction\":\"out\",\"peer\":\"bob\",\"name\":\"d (+1 more)\","   \
	"\"items\":[\"d\",\"a.txt\"],\"files\":2,\"dirs\":1,\"links\":0,\"size\":10,"          \
	"\"bytes\":0,\"state\":\"" state "\"" extra "}"

static gboolean
send_tree(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	if (strcmp(method, P2P_M_EVENTS_SUBSCRIBE) == 0) {
		fake_result(f, id, "{}");
		return TRUE;
	}
	g_assert_cmpstr(method, ==, P2P_M_TRANSFER_SEND);
	fake_result(f, id, TREE("t9", "connecting",
	                        ",\"warnings\":[\"skipped \\\"d/fifo\\\": not a regular file, "
	                        "directory or symlink\",\"skipped \\\"d/\\u001b[2J\\\": x\"]"));
	/* a pause is not an end: p2pctl waits on */
	fake_notify(f, P2P_E_TRANSFER_PAUSED,
	            TREE("t9", "paused", ",\"bytes\":4,\"reason\":{\"code\":\"disconnected\"}"));
	fake_notify(f, P2P_E_TRANSFER_RESUMED, TREE("t9", "transferring", ",\"bytes\":4"));
	fake_notify(f, P2P_E_TRANSFER_COMPLETE, TREE("t9", "complete", ",\"bytes\":10"));
	return TRUE;
}

static void
test_send_tree(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-tree-XXXXXX", NULL);
	g_autofree char *sub = g_build_filename(dir, "d", NULL);
	g_autofree char *file = g_build_filename(dir, "a.txt", NULL);
	g_autofree char *link = g_build_filename(dir, "link", NULL);
	g_assert_cmpint(mkdir(sub, 0700), ==, 0);
	g_assert_true(g_file_set_contents(file, "hello", 5, NULL));
	/* a symlink on the command line is followed: its target's descriptor goes */
	g_assert_cmpint(symlink("a.txt", link), ==, 0);

	Fake *f = fake_start(send_tree, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", sub, link, "bob", NULL };
	run(&r, f, args);
	g_autoptr(GArray) fds = NULL;
	g_autofree char *calls = fake_stop_fds(f, &fds);
	g_autofree char *expect = g_strdup_printf(
		"events.subscribe\ntransfer.send {\"paths\":[\"%s\",\"%s\"],\"peer\":\"bob\"} "
		"[2 fds]", sub, link);
	g_assert_cmpstr(calls, ==, expect);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.err, ==,
	                "p2pctl: warning: skipped \"d/fifo\": not a regular file, directory or symlink\n"
	                "p2pctl: warning: skipped \"d/\\x1b[2J\": x\n");
	g_assert_cmpstr(r.out, ==, "sent d (+1 more) to bob: 2 files, 1 directory, 10 bytes, "
	                           "verified by the receiver\n");

	/* both descriptors arrived, in the order of "paths", opened read-only */
	g_assert_cmpuint(fds->len, ==, 2);
	struct stat st, want;
	int d = g_array_index(fds, int, 0), a = g_array_index(fds, int, 1);
	g_assert_cmpint(fstat(d, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpint(fstat(a, &st), ==, 0);
	g_assert_cmpint(stat(file, &want), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_ino, ==, want.st_ino);
	g_assert_cmpint(fcntl(a, F_GETFL) & O_ACCMODE, ==, O_RDONLY);
	g_assert_cmpint(fcntl(d, F_GETFL) & O_ACCMODE, ==, O_RDONLY);
	close(d);
	close(a);
	unlink(link);
	unlink(file);
	rmdir(sub);
	rmdir(dir);
}

static gboolean
send_no_wait(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	g_assert_cmpstr(method, ==, P2P_M_TRANSFER_SEND);
	fake_result(f, id, TREE("t7", "connecting", ",\"warnings\":[]"));
	return TRUE;
}

static void
test_send_no_wait(void)
{
	g_autofree char *file = NULL;
	close(g_file_open_tmp("p2pctl-send-XXXXXX", &file, NULL));

	Fake *f = fake_start(send_no_wait, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "send", "-n", file, "bob", NULL };
	run(&r, f, args);
	g_autoptr(GArray) fds = NULL;
	g_autofree char *calls = fake_stop_fds(f, &fds);
	/* no subscription: nothing is followed */
	g_assert_true(g_str_has_prefix(calls, "transfer.send {"));
	g_assert_true(g_str_has_suffix(calls, "} [1 fd]"));
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "t7\n");
	g_assert_cmpstr(r.err, ==, "");
	g_assert_cmpuint(fds->len, ==, 1);
	close(g_array_index(fds, int, 0));

	f = fake_start(send_no_wait, NULL);
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "--json", "send", "--no-wait", file, "bob", NULL };
	run(&j, f, jargs);
	g_free(fake_stop(f));
	g_assert_cmpint(j.status, ==, 0);
	g_assert_true(g_str_has_prefix(j.out, "{\"id\":\"t7\""));
	g_assert_nonnull(strstr(j.out, "\"warnings\":[]"));
	unlink(file);
}

/* A request line the daemon would refuse is refused here, descriptors closed. */
static void
test_send_line_too_long(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-long-XXXXXX", NULL);
	g_autofree char *comp = g_strnfill(250, 'x');
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *cur = g_strdup(dir);

	/* one 3000-byte path, 30 times over the same file: 90 KB of JSON */
	for (guint i = 0; i < 11; i++) {
		char *next = g_build_filename(cur, comp, NULL);
		g_assert_cmpint(mkdir(next, 0700), ==, 0);
		g_ptr_array_add(made, g_strdup(next));
		g_free(cur);
		cur = next;
	}
	g_autofree char *file = g_build_filename(cur, "f", NULL);
	g_assert_true(g_file_set_contents(file, "x", 1, NULL));
	g_ptr_array_add(args, g_strdup("send"));
	for (guint i = 0; i < 30; i++)
		g_ptr_array_add(args, g_strdup(file));
	g_ptr_array_add(args, g_strdup("bob"));
	g_ptr_array_add(args, NULL);

	Fake *f = fake_start(send_ok, NULL);
	g_auto(Run) r = { 0 };
	run(&r, f, (const char *const *)args->pdata);
	g_autoptr(GArray) fds = NULL;
	g_autofree char *calls = fake_stop_fds(f, &fds);
	g_assert_cmpstr(calls, ==, "events.subscribe");
	g_assert_cmpuint(fds->len, ==, 0);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_USAGE);
	g_assert_nonnull(strstr(r.err, "the \"transfer.send\" request would be"));
	g_assert_nonnull(strstr(r.err, "p2pd accepts at most 65536"));
	unlink(file);
	for (guint i = made->len; i > 0; i--)
		rmdir(made->pdata[i - 1]);
	rmdir(dir);
}

/* p2pctl_conn_attach_fds over a socketpair: one message, every descriptor. */
static void
test_attach_fds(void)
{
	int sv[2];
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
	/* the answer is already waiting: the call writes, then reads it */
	const char *answer = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}\n";
	g_assert_cmpint(write(sv[1], answer, strlen(answer)), ==, (ssize_t)strlen(answer));

	g_autoptr(P2pctlConn) conn = p2pctl_conn_new_from_fd(sv[0], "socketpair");
	g_autoptr(GError) error = NULL;
	int mine[5];
	for (guint i = 0; i < G_N_ELEMENTS(mine); i++)
		mine[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_assert_true(p2pctl_conn_attach_fds(conn, mine, 3, &error));
	g_assert_true(p2pctl_conn_attach_fds(conn, mine + 3, 2, &error));
	g_autoptr(JsonNode) res = p2pctl_conn_call(conn, "x.y", NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(res);
	/* handed over: the client's copies are closed */
	for (guint i = 0; i < G_N_ELEMENTS(mine); i++)
		g_assert_cmpint(fcntl(mine[i], F_GETFD), ==, -1);

	char buf[4096];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC);
	g_assert_cmpint(n, >, 0);
	g_autofree char *line = g_strndup(buf, n);
	g_assert_nonnull(strstr(line, "\"method\":\"x.y\""));
	g_assert_true(g_str_has_suffix(line, "}\n"));
	guint cmsgs = 0, nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		g_assert_cmpint(c->cmsg_level, ==, SOL_SOCKET);
		g_assert_cmpint(c->cmsg_type, ==, SCM_RIGHTS);
		cmsgs++;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *got = (int *)CMSG_DATA(c);
		for (guint i = 0; i < nfds; i++) {
			int fd;
			memcpy(&fd, &got[i], sizeof(fd));
			g_assert_cmpint(fcntl(fd, F_GETFD), >=, 0);
			close(fd);
		}
	}
	g_assert_cmpuint(cmsgs, ==, 1);
	g_assert_cmpuint(nfds, ==, 5);

	/* a second request carries none */
	const char *answer2 = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n";
	g_assert_cmpint(write(sv[1], answer2, strlen(answer2)), ==, (ssize_t)strlen(answer2));
	g_autoptr(JsonNode) res2 = p2pctl_conn_call(conn, "x.z", NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	mh.msg_controllen = sizeof(control.buf);
	n = recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC);
	g_assert_cmpint(n, >, 0);
	g_assert_null(CMSG_FIRSTHDR(&mh));

	/* beyond what the kernel passes in one message: refused, all closed */
	int many[P2PCTL_MAX_SEND_FDS + 1];
	for (guint i = 0; i < G_N_ELEMENTS(many); i++)
		many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_assert_false(p2pctl_conn_attach_fds(conn, many, G_N_ELEMENTS(many), &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_USAGE);
	for (guint i = 0; i < G_N_ELEMENTS(many); i++)
		g_assert_cmpint(fcntl(many[i], F_GETFD), ==, -1);
	close(sv[1]);
}

/* ---- accept, reject, cancel, transfers, status ------------------------------------ */

static gboolean
one_answer(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	fake_result(f, id, f->data);
	return TRUE;
}

static void
test_accept_cancel(void)
{
	g_autofree char *cwd = g_get_current_dir();
	Fake *f = fake_start(one_answer, (gpointer)TREE("t5", "transferring",
	                                                ",\"direction\":\"in\","
	                                                "\"output\":\"/x/in\""));
	g_auto(Run) r = { 0 };
	const char *args[] = { "accept", "t5", "--output", "in", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_autofree char *expect = g_strdup_printf("transfer.accept {\"id\":\"t5\",\"output\":"
	                                          "\"%s/in\"}", cwd);
	g_assert_cmpstr(calls, ==, expect);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "accepted t5: d (+1 more) (2 files, 1 directory, 10 B) from "
	                           "bob, now transferring, saving into /x/in\n");

	f = fake_start(one_answer, (gpointer)TREE("t6", "cancelled",
	                                          ",\"reason\":{\"code\":\"cancelled\"}"));
	g_auto(Run) c = { 0 };
	const char *cargs[] = { "cancel", "-r", "wrong files", "t6", NULL };
	run(&c, f, cargs);
	g_autofree char *ccalls = fake_stop(f);
	g_assert_cmpstr(ccalls, ==, "transfer.cancel {\"id\":\"t6\",\"reason\":\"wrong files\"}");
	g_assert_cmpint(c.status, ==, 0);
	g_assert_cmpstr(c.out, ==, "cancelled t6: d (+1 more) (2 files, 1 directory, 10 B) to "
	                           "bob, now cancelled\n");

	/* without options: {"id"} only; --json prints the raw result */
	f = fake_start(one_answer, (gpointer)TREE("t8", "rejected", ""));
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "--json", "reject", "t8", NULL };
	run(&j, f, jargs);
	g_autofree char *jcalls = fake_stop(f);
	g_assert_cmpstr(jcalls, ==, "transfer.reject {\"id\":\"t8\"}");
	g_assert_true(g_str_has_prefix(j.out, "{\"id\":\"t8\",\"direction\":\"out\""));
}

static gboolean
cancel_inactive(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	fake_error(f, id, P2P_RPC_STATE, "transfer t6 is not active (complete)", NULL);
	return TRUE;
}

static void
test_cancel_inactive(void)
{
	Fake *f = fake_start(cancel_inactive, NULL);
	g_auto(Run) r = { 0 };
	const char *args[] = { "cancel", "t6", NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_cmpstr(r.err, ==, "p2pctl: transfer t6 is not active (complete)\n");
}

#define LIST                                                                               \
	"{\"transfers\":["                                                                     \
	TREE("t1", "paused", ",\"bytes\":5,\"reason\":{\"code\":\"disconnected\"}") ","          \
	"{\"id\":\"o1\",\"direction\":\"in\",\"peer\":\"carol\",\"name\":\"b.bin\",\"files\":1," \
	"\"dirs\":0,\"links\":0,\"size\":2048,\"bytes\":0,\"state\":\"offered\"},"               \
	"{\"id\":\"x1\",\"direction\":\"in\",\"peer\":\"carol\",\"name\":\"c\",\"size\":0,"      \
	"\"state\":\"rejected\",\"reason\":{\"code\":\"expired\"}}"                              \
	"]}"

static void
test_transfers_table(void)
{
	Fake *f = fake_start(one_answer, (gpointer)LIST);
	g_auto(Run) r = { 0 };
	const char *args[] = { "transfers", "--all", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "transfer.list {\"all\":true}");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==,
	                "ID  DIR  PEER   STATE                 FILES  SIZE     DONE  NAME\n"
	                "t1  out  bob    paused: disconnected  2+     10 B     50%   d (+1 more)\n"
	                "o1  in   carol  offered               1      2.0 KiB  0%    b.bin\n"
	                "x1  in   carol  rejected: expired     -      0 B      0%    c\n");
	g_assert_cmpstr(r.err, ==, "1 incoming offer waits for a decision: 'p2pctl accept o1' "
	                           "or 'p2pctl reject o1'\n");

	/* --json: the daemon's answer as it is */
	f = fake_start(one_answer, (gpointer)LIST);
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "status", "--json", NULL };
	run(&j, f, jargs);
	g_free(fake_stop(f));
	g_assert_true(g_str_has_prefix(j.out, "{\"transfers\":[{\"id\":\"t1\""));
	g_assert_cmpstr(j.err, ==, "");
}

static void
test_status_detail(void)
{
	Fake *f = fake_start(one_answer, (gpointer)TREE("t1", "complete",
	                                                ",\"bytes\":10,\"wire_bytes\":6,"
	                                                "\"duration\":3,\"rate\":3.3"));
	g_auto(Run) r = { 0 };
	const char *args[] = { "status", "t1", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "transfer.status {\"id\":\"t1\"}");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==,
	                "id:          t1\n"
	                "direction:   out (sending)\n"
	                "peer:        bob\n"
	                "name:        d (+1 more)\n"
	                "items:       d\n"
	                "             a.txt\n"
	                "contents:    2 files, 1 directory\n"
	                "state:       complete\n"
	                "size:        10 bytes\n"
	                "done:        10 bytes\n"
	                "progress:    100%\n"
	                "on the wire: 6 bytes\n"
	                "duration:    0:03\n"
	                "mean rate:   3 B/s\n");
}

/* ---- recv ------------------------------------------------------------------------ */

typedef struct {
	int file_fd;
	const char *name_json; /* "name" member of the take result */
	const char *sha256;
} RecvScript;

static gboolean
recv_handler(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	RecvScript *s = f->data;

	if (strcmp(method, P2P_M_EVENTS_SUBSCRIBE) == 0) {
		fake_result(f, id, "{}");
	} else if (strcmp(method, P2P_M_TRANSFER_LIST) == 0) {
		/* an outgoing transfer in the list is not ours to take */
		fake_result(f, id, "{\"transfers\":[" XFER("o1", "out", "complete", "") "]}");
		fake_notify(f, P2P_E_FILE, XFER("o2", "out", "offered", ""));
		fake_notify(f, P2P_E_FILE, XFER("r1", "in", "offered", ""));
	} else if (strcmp(method, P2P_M_TRANSFER_ACCEPT) == 0) {
		g_assert_cmpstr(json_object_get_string_member(params, "id"), ==, "r1");
		fake_result(f, id, XFER("r1", "in", "transferring", ""));
		/* a second offer while the first runs: left for the next recv */
		fake_notify(f, P2P_E_FILE, XFER("r2", "in", "offered", ""));
		fake_notify(f, P2P_E_TRANSFER_PROGRESS, XFER("r1", "in", "transferring", ",\"bytes\":2"));
		fake_notify(f, P2P_E_TRANSFER_COMPLETE, XFER("r1", "in", "complete", ",\"bytes\":5"));
	} else if (strcmp(method, P2P_M_TRANSFER_TAKE) == 0) {
		g_autofree char *res = g_strdup_printf("{\"name\":%s,\"size\":5,\"sha256\":\"%s\"}",
		                                       s->name_json, s->sha256);
		fake_result_fd(f, id, res, s->file_fd);
	} else if (strcmp(method, P2P_M_TRANSFER_TAKEN) == 0) {
		fake_result(f, id, "{}");
	} else {
		fake_error(f, id, P2P_RPC_METHOD_NOT_FOUND, "no", NULL);
	}
	return TRUE;
}

#define HELLO_SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static int
source_fd(void)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("p2pctl-src-XXXXXX", &path, NULL);
	g_assert_cmpint(write(fd, "hello", 5), ==, 5);
	unlink(path);
	return fd;
}

static void
test_recv_collision(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-out-XXXXXX", NULL);
	g_autofree char *existing = g_build_filename(dir, "a.txt", NULL);
	g_autofree char *expected = g_build_filename(dir, "a (1).txt", NULL);
	RecvScript s = { source_fd(), "\"a.txt\"", HELLO_SHA };
	g_assert_true(g_file_set_contents(existing, "old", 3, NULL));

	Fake *f = fake_start(recv_handler, &s);
	g_auto(Run) r = { 0 };
	const char *args[] = { "recv", "--output", dir, NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "events.subscribe\ntransfer.list\n"
	                           "transfer.accept {\"id\":\"r1\"}\n"
	                           "transfer.take {\"id\":\"r1\"}\n"
	                           "transfer.taken {\"id\":\"r1\"}");
	g_assert_cmpstr(r.err, ==, "");
	g_assert_cmpint(r.status, ==, 0);
	g_autofree char *line = g_strdup_printf("%s\n", expected);
	g_assert_cmpstr(r.out, ==, line);

	g_autofree char *old = NULL, *got = NULL;
	g_assert_true(g_file_get_contents(existing, &old, NULL, NULL));
	g_assert_cmpstr(old, ==, "old");
	g_assert_true(g_file_get_contents(expected, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, "hello");
	struct stat st;
	mode_t mask = umask(0);
	umask(mask);
	g_assert_cmpint(stat(expected, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0644 & ~mask);
	g_assert_cmpint(st.st_uid, ==, getuid());

	/* no temporary file left behind */
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	for (const char *e = g_dir_read_name(d); e; e = g_dir_read_name(d), n++)
		g_assert_false(g_str_has_suffix(e, ".part"));
	g_assert_cmpuint(n, ==, 2);
	close(s.file_fd);
	unlink(existing);
	unlink(expected);
	rmdir(dir);
}

static void
test_recv_bad_hash(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-out-XXXXXX", NULL);
	RecvScript s = { source_fd(), "\"a.txt\"", "00" HELLO_SHA };

	Fake *f = fake_start(recv_handler, &s);
	g_auto(Run) r = { 0 };
	const char *args[] = { "recv", "-o", dir, NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(r.err, "has sha256 " HELLO_SHA));
	/* the daemon keeps its copy: no transfer.taken */
	g_assert_null(strstr(calls, P2P_M_TRANSFER_TAKEN));
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_assert_null(g_dir_read_name(d));
	close(s.file_fd);
	rmdir(dir);
}

static void
test_recv_bad_name(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-out-XXXXXX", NULL);
	RecvScript s = { source_fd(), "\"../escape\\u001b.txt\"", HELLO_SHA };

	Fake *f = fake_start(recv_handler, &s);
	g_auto(Run) r = { 0 };
	const char *args[] = { "recv", "--output", dir, NULL };
	run(&r, f, args);
	g_free(fake_stop(f));
	g_assert_cmpint(r.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_nonnull(strstr(r.err, "unusable name \"../escape\\x1b.txt\""));
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_assert_null(g_dir_read_name(d));
	close(s.file_fd);
	rmdir(dir);
}


/* recv takes single files only: a tree in the list is no candidate, and a take the
 * daemon refuses (-32010) moves on to the next one. */
static gboolean
recv_skips_trees(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	RecvScript *s = f->data;

	if (strcmp(method, P2P_M_EVENTS_SUBSCRIBE) == 0) {
		fake_result(f, id, "{}");
	} else if (strcmp(method, P2P_M_TRANSFER_LIST) == 0) {
		g_autofree char *list = g_strdup_printf("{\"transfers\":["
		            "{\"id\":\"d1\",\"direction\":\"in\",\"name\":\"photos\",\"files\":3,"
		            "\"dirs\":1,\"size\":5,\"state\":\"complete\",\"started\":1},"
		            "{\"id\":\"d2\",\"direction\":\"in\",\"name\":\"l\",\"files\":1,"
		            "\"links\":1,\"size\":5,\"state\":\"transferring\",\"started\":1},"
		            "{\"id\":\"s1\",\"direction\":\"in\",\"name\":\"a.txt\",\"size\":5,"
		            "\"state\":\"complete\",\"started\":2}%s]}",
		            s->file_fd >= 0 ? ",{\"id\":\"s2\",\"direction\":\"in\",\"name\":"
		                              "\"a.txt\",\"files\":1,\"size\":5,\"state\":"
		                              "\"complete\",\"started\":3}" : "");
		fake_result(f, id, list);
	} else if (strcmp(method, P2P_M_TRANSFER_TAKE) == 0) {
		const char *tid = json_object_get_string_member(params, "id");
		if (strcmp(tid, "s1") == 0) {
			fake_error(f, id, P2P_RPC_STATE, "transfer s1 is a directory tree or several "
			           "files; it was saved in /inbox/a.txt", NULL);
			return s->file_fd >= 0;
		}
		g_assert_cmpstr(tid, ==, "s2");
		fake_result_fd(f, id, "{\"name\":\"a.txt\",\"size\":5,\"sha256\":\"" HELLO_SHA "\"}",
		               s->file_fd);
	} else if (strcmp(method, P2P_M_TRANSFER_TAKEN) == 0) {
		fake_result(f, id, "{}");
	} else if (strcmp(method, P2P_M_TRANSFER_STATUS) == 0) {
		fake_result(f, id, XFER("s2", "in", "complete", ""));
	} else {
		fake_error(f, id, P2P_RPC_METHOD_NOT_FOUND, "no", NULL);
	}
	return TRUE;
}

static void
test_recv_skips_trees(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-out-XXXXXX", NULL);
	g_autofree char *expected = g_build_filename(dir, "a.txt", NULL);
	RecvScript s = { source_fd(), NULL, NULL };

	Fake *f = fake_start(recv_skips_trees, &s);
	g_auto(Run) r = { 0 };
	const char *args[] = { "recv", "--output", dir, NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "events.subscribe\ntransfer.list\n"
	                           "transfer.take {\"id\":\"s1\"}\n"
	                           "transfer.take {\"id\":\"s2\"}\n"
	                           "transfer.taken {\"id\":\"s2\"}\n"
	                           "transfer.status {\"id\":\"s2\"}");
	g_assert_cmpint(r.status, ==, 0);
	g_autofree char *line = g_strdup_printf("%s\n", expected);
	g_assert_cmpstr(r.out, ==, line);
	/* another file was saved: the skipped one is not worth a note */
	g_assert_cmpstr(r.err, ==, "");
	close(s.file_fd);
	unlink(expected);
	rmdir(dir);

	/* the only candidate refused: its message is shown, then recv waits (here the
	 * daemon hangs up, which ends it) */
	dir = (g_free(dir), g_dir_make_tmp("p2pctl-out-XXXXXX", NULL));
	RecvScript none = { -1, NULL, NULL };
	f = fake_start(recv_skips_trees, &none);
	g_auto(Run) o = { 0 };
	const char *oargs[] = { "recv", "--output", dir, NULL };
	run(&o, f, oargs);
	g_free(fake_stop(f));
	g_assert_cmpint(o.status, ==, P2PCTL_EXIT_FAILED);
	g_assert_true(g_str_has_prefix(o.err, "p2pctl: note: transfer s1 is a directory tree or "
	                                      "several files; it was saved in /inbox/a.txt\n"));
	g_assert_nonnull(strstr(o.err, "p2pd closed the connection"));
	rmdir(dir);
}

static void
test_save_file_names(void)
{
	g_autofree char *dir = g_dir_make_tmp("p2pctl-save-XXXXXX", NULL);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	int src = source_fd();
	const char *names[] = { ".bashrc", ".bashrc", ".bashrc", "README", "README",
	                        "x.tar.gz", "x.tar.gz" };
	const char *expect[] = { ".bashrc", ".bashrc (1)", ".bashrc (2)", "README", "README (1)",
	                         "x.tar.gz", "x (1).tar.gz" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *got = p2pctl_save_file(src, dir_fd, names[i], 5, HELLO_SHA, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(got, ==, expect[i]);
	}
	/* wrong size: refused, nothing left behind */
	g_autoptr(GError) error = NULL;
	g_assert_null(p2pctl_save_file(src, dir_fd, "y", 6, NULL, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO);
	g_assert_false(faccessat(dir_fd, "y", F_OK, 0) == 0);

	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	for (const char *e = g_dir_read_name(d); e; e = g_dir_read_name(d), n++)
		unlinkat(dir_fd, e, 0);
	g_assert_cmpuint(n, ==, G_N_ELEMENTS(names));
	close(src);
	close(dir_fd);
	rmdir(dir);
}

/* ---- chat ---------------------------------------------------------------------- */

#define CHAT_MSG(id, dir, text, state)                                                  \
	"{\"id\":\"" id "\",\"peer\":\"team.bob\",\"direction\":\"" dir "\",\"text\":\"" text \
	"\",\"ts\":0,\"state\":\"" state "\"}"

typedef struct {
	guint sends;
	guint limited; /* rate-limit answers given so far */
} ChatFake;

static gboolean
chat_fake(Fake *f, const char *method, JsonObject *params, gint64 id)
{
	ChatFake *cf = f->data;

	if (strcmp(method, P2P_M_DAEMON_INFO) == 0) {
		fake_result(f, id, "{\"agent\":\"alice\"}");
	} else if (strcmp(method, P2P_M_CHAT_HISTORY) == 0) {
		/* what a hostile peer wrote: a clear-screen and a bidi override */
		fake_result(f, id, "{\"messages\":[" CHAT_MSG("01", "out", "hi", "delivered") ","
		                   CHAT_MSG("02", "in", "\\u001b[2J\\u202etxt.exe", "received") ","
		                   CHAT_MSG("03", "out", "later", "queued") "]}");
	} else if (strcmp(method, P2P_M_CHAT_SEND) == 0) {
		const char *text = json_object_get_string_member(params, "text");
		if (strcmp(text, "unknown") == 0) {
			fake_error(f, id, P2P_RPC_UNKNOWN_PEER, "no peer \\\"nobody\\\"", NULL);
			return TRUE;
		}
		if (strcmp(text, "slow") == 0 && cf->limited < 2) {
			cf->limited++;
			fake_error(f, id, P2P_RPC_LIMIT, "more than 20 messages a second to bob", NULL);
			return TRUE;
		}
		cf->sends++;
		g_autofree char *mid = g_strdup_printf("%016x", cf->sends);
		g_autofree char *json = g_strdup_printf(
			"{\"id\":\"%s\",\"peer\":\"team.bob\",\"direction\":\"out\",\"text\":\"x\","
			"\"ts\":1.5,\"state\":\"queued\"}", mid);
		/* the event of our own message may come first */
		fake_notify(f, P2P_E_CHAT_MESSAGE, json);
		fake_result(f, id, json);
	} else {
		g_assert_not_reached();
	}
	return TRUE;
}

static void
test_chat_send(void)
{
	ChatFake cf = { 0 };
	Fake *f = fake_start(chat_fake, &cf);
	g_auto(Run) r = { 0 };
	const char *args[] = { "chat", "--send", "hello \xc3\xa9", "bob", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "chat.send {\"peer\":\"bob\",\"text\":\"hello \xc3\xa9\"}");
	g_assert_cmpint(r.status, ==, 0); /* queued is not a failure */
	g_assert_cmpstr(r.out, ==, "0000000000000001\n");
	g_assert_cmpstr(r.err, ==, "");

	ChatFake cf2 = { 0 };
	f = fake_start(chat_fake, &cf2);
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "--json", "chat", "bob", "-m", "hi", NULL };
	run(&j, f, jargs);
	g_free(fake_stop(f));
	g_assert_cmpint(j.status, ==, 0);
	g_assert_cmpstr(j.out, ==, "{\"id\":\"0000000000000001\",\"peer\":\"team.bob\","
	                           "\"direction\":\"out\",\"text\":\"x\",\"ts\":1.5,"
	                           "\"state\":\"queued\"}\n");

	/* the daemon's error and its exit status */
	ChatFake cf3 = { 0 };
	f = fake_start(chat_fake, &cf3);
	g_auto(Run) u = { 0 };
	const char *uargs[] = { "chat", "--send", "unknown", "nobody", NULL };
	run(&u, f, uargs);
	g_free(fake_stop(f));
	g_assert_cmpint(u.status, ==, P2PCTL_EXIT_PEER);
	g_assert_cmpstr(u.err, ==, "p2pctl: no peer \"nobody\"\n");
}

/* Refused before any connection: the socket does not even exist. */
static void
test_chat_usage(void)
{
	g_autofree char *big = g_strnfill(P2P_CHAT_MAX_TEXT + 1, 'a');
	g_autofree char *max = g_strnfill(P2P_CHAT_MAX_TEXT, 'a');
	static const struct {
		const char *a, *b, *c, *d, *e;
		const char *err;
	} cases[] = {
		{ "chat", "--send", "", "bob", NULL, "p2pctl: the message is empty\n" },
		{ "chat", "--send", "bad\xff", "bob", NULL,
		  "p2pctl: the message is not valid UTF-8: \"bad\\xff\"\n" },
		{ "chat", "--send", "x", "--history", "bob", "p2pctl: --send and --history do not go together\n" },
		{ "chat", "bob", "5", NULL, NULL,
		  "p2pctl: unexpected argument \"5\" for \"chat\" (a number only follows --history)\n" },
		{ "chat", "--history", "bob", "0", NULL,
		  "p2pctl: --history takes a number of messages from 1 to 1000, not \"0\"\n" },
		{ "chat", "--history", "bob", "1001", NULL,
		  "p2pctl: --history takes a number of messages from 1 to 1000, not \"1001\"\n" },
		{ "chat", NULL, NULL, NULL, NULL, "p2pctl: \"chat\" needs PEER (usage: p2pctl chat PEER [N])\n" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *obuf = NULL, *ebuf = NULL;
		size_t olen = 0, elen = 0;
		FILE *out = open_memstream(&obuf, &olen);
		FILE *err = open_memstream(&ebuf, &elen);
		const char *argv[] = { "p2pctl", "--socket", "/nonexistent/p2pd.sock", cases[i].a,
		                       cases[i].b, cases[i].c, cases[i].d, cases[i].e, NULL };
		int argc = 0;
		while (argv[argc])
			argc++;
		int status = p2pctl_run(argc, (char **)argv, out, err);
		fclose(out);
		fclose(err);
		g_assert_cmpint(status, ==, P2PCTL_EXIT_USAGE);
		g_assert_cmpstr(ebuf, ==, cases[i].err);
		free(obuf);
		free(ebuf);
	}
	/* one byte over the limit is refused, the limit itself is not (it fails later:
	 * no daemon) */
	const char *over[] = { "p2pctl", "--socket", "/nonexistent/p2pd.sock", "chat", "-m", big,
	                       "bob", NULL };
	const char *at[] = { "p2pctl", "--socket", "/nonexistent/p2pd.sock", "chat", "-m", max,
	                     "bob", NULL };
	FILE *null = fopen("/dev/null", "w");
	g_assert_cmpint(p2pctl_run(7, (char **)over, null, null), ==, P2PCTL_EXIT_USAGE);
	g_assert_cmpint(p2pctl_run(7, (char **)at, null, null), ==, P2PCTL_EXIT_UNREACHABLE);
	fclose(null);
}

static void
test_chat_history(void)
{
	ChatFake cf = { 0 };
	Fake *f = fake_start(chat_fake, &cf);
	g_auto(Run) r = { 0 };
	const char *args[] = { "chat", "--history", "bob", "3", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "chat.history {\"peer\":\"bob\",\"limit\":3}\ndaemon.info");
	g_assert_cmpint(r.status, ==, 0);
	/* the escape sequence and the override arrive as visible text, marks for ours */
	g_assert_cmpstr(r.out, ==, "--:-- alice: hi \xe2\x9c\x93\n"
	                           "--:-- team.bob: \\x1b[2J\\u{202E}txt.exe\n"
	                           "--:-- alice: later \xe2\x80\xa6\n");

	ChatFake cf2 = { 0 };
	f = fake_start(chat_fake, &cf2);
	g_auto(Run) j = { 0 };
	const char *jargs[] = { "--json", "chat", "--history", "bob", NULL };
	run(&j, f, jargs);
	g_free(calls);
	calls = fake_stop(f);
	g_assert_cmpstr(calls, ==, "chat.history {\"peer\":\"bob\",\"limit\":50}");
	g_assert_true(g_str_has_prefix(j.out, "{\"messages\":[{\"id\":\"01\""));
}

/* Not a terminal: one message per line; empty lines skipped, a rate-limited line
 * retried. */
static void
test_chat_stdin_lines(void)
{
	int p[2];
	g_assert_cmpint(pipe(p), ==, 0);
	const char *input = "one\n\ntwo\r\nslow\nlast without newline";
	g_assert_cmpint(write(p[1], input, strlen(input)), ==, (ssize_t)strlen(input));
	close(p[1]);
	int saved = dup(STDIN_FILENO);
	g_assert_cmpint(dup2(p[0], STDIN_FILENO), ==, STDIN_FILENO);
	close(p[0]);
	clearerr(stdin);

	ChatFake cf = { 0 };
	Fake *f = fake_start(chat_fake, &cf);
	g_auto(Run) r = { 0 };
	const char *args[] = { "chat", "bob", NULL };
	run(&r, f, args);
	g_autofree char *calls = fake_stop(f);
	dup2(saved, STDIN_FILENO);
	close(saved);
	clearerr(stdin);

	g_assert_cmpstr(calls, ==,
	                "chat.send {\"peer\":\"bob\",\"text\":\"one\"}\n"
	                "chat.send {\"peer\":\"bob\",\"text\":\"two\"}\n"
	                "chat.send {\"peer\":\"bob\",\"text\":\"slow\"}\n"
	                "chat.send {\"peer\":\"bob\",\"text\":\"slow\"}\n"
	                "chat.send {\"peer\":\"bob\",\"text\":\"slow\"}\n"
	                "chat.send {\"peer\":\"bob\",\"text\":\"last without newline\"}");
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "0000000000000001\n0000000000000002\n0000000000000003\n"
	                           "0000000000000004\n");
	g_assert_cmpstr(r.err, ==, "");
}

/* The chat's poll loop reads events with a timeout of 0: what is on the socket counts,
 * a line cut in two waits for its end, nothing there is a timeout at once. */
static void
test_next_event_now(void)
{
	int sv[2];
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
	g_autoptr(P2pctlConn) conn = p2pctl_conn_new_from_fd(sv[0], "pair");
	g_autoptr(GError) error = NULL;
	char *method = NULL;
	JsonNode *params = NULL;

	g_assert_false(p2pctl_conn_next_event(conn, 0, &method, &params, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_TIMEOUT);
	g_clear_error(&error);

	const char *half = "{\"jsonrpc\":\"2.0\",\"method\":\"chat_typing\",";
	g_assert_cmpint(write(sv[1], half, strlen(half)), ==, (ssize_t)strlen(half));
	g_assert_false(p2pctl_conn_next_event(conn, 0, &method, &params, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_TIMEOUT);
	g_clear_error(&error);

	const char *rest = "\"params\":{\"peer\":\"bob\"}}\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n";
	g_assert_cmpint(write(sv[1], rest, strlen(rest)), ==, (ssize_t)strlen(rest));
	g_assert_true(p2pctl_conn_next_event(conn, 0, &method, &params, &error));
	g_assert_cmpstr(method, ==, "chat_typing");
	g_clear_pointer(&method, g_free);
	g_clear_pointer(&params, json_node_unref);
	g_assert_true(p2pctl_conn_next_event(conn, 0, &method, &params, &error));
	g_assert_cmpstr(method, ==, "x");
	g_clear_pointer(&method, g_free);
	g_clear_pointer(&params, json_node_unref);

	close(sv[1]);
	g_assert_false(p2pctl_conn_next_event(conn, 0, &method, &params, &error));
	g_assert_error(error, P2PCTL_ERROR, P2PCTL_ERROR_DISCONNECTED);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/p2pctl/rpc/send-ok", test_send_ok);
	g_test_add_func("/p2pctl/rpc/chat-send", test_chat_send);
	g_test_add_func("/p2pctl/rpc/next-event-now", test_next_event_now);
	g_test_add_func("/p2pctl/rpc/chat-usage", test_chat_usage);
	g_test_add_func("/p2pctl/rpc/chat-history", test_chat_history);
	g_test_add_func("/p2pctl/rpc/chat-stdin-lines", test_chat_stdin_lines);
	g_test_add_func("/p2pctl/rpc/send-relative-path", test_send_relative_path);
	g_test_add_func("/p2pctl/rpc/send-rejected", test_send_rejected);
	g_test_add_func("/p2pctl/rpc/send-ambiguous", test_send_ambiguous);
	g_test_add_func("/p2pctl/rpc/daemon-hangs-up", test_daemon_hangs_up);
	g_test_add_func("/p2pctl/rpc/daemon-sends-garbage", test_daemon_sends_garbage);
	g_test_add_func("/p2pctl/rpc/recv-collision", test_recv_collision);
	g_test_add_func("/p2pctl/rpc/recv-bad-hash", test_recv_bad_hash);
	g_test_add_func("/p2pctl/rpc/recv-bad-name", test_recv_bad_name);
	g_test_add_func("/p2pctl/rpc/save-file-names", test_save_file_names);
	g_test_add_func("/p2pctl/rpc/recv-skips-trees", test_recv_skips_trees);
	g_test_add_func("/p2pctl/rpc/send-tree", test_send_tree);
	g_test_add_func("/p2pctl/rpc/send-no-wait", test_send_no_wait);
	g_test_add_func("/p2pctl/rpc/send-line-too-long", test_send_line_too_long);
	g_test_add_func("/p2pctl/rpc/attach-fds", test_attach_fds);
	g_test_add_func("/p2pctl/rpc/accept-cancel", test_accept_cancel);
	g_test_add_func("/p2pctl/rpc/cancel-inactive", test_cancel_inactive);
	g_test_add_func("/p2pctl/rpc/transfers-table", test_transfers_table);
	g_test_add_func("/p2pctl/rpc/status-detail", test_status_detail);
	/* last: the interruption flag stays set for the rest of the process */
	g_test_add_func("/p2pctl/rpc/send-interrupted", test_send_interrupted);
	return g_test_run();
}

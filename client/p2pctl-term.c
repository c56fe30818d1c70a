/* p2pctl-term.c: the terminal under the chat. Raw mode must never outlive p2pctl: a
 * shell left without echo is the one bug every user notices. So the saved settings are
 * restored by p2pctl_term_leave(), by an atexit() handler, and from the handlers of
 * fatal signals (tcsetattr() and write() are async-signal-safe); SIGTSTP restores
 * before stopping and SIGCONT re-enters raw mode. Signals that need the main loop
 * (SIGWINCH, SIGHUP) only set a flag and wake it through a self-pipe. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "p2pctl-chat.h"

/* alternate screen on / off; cursor visible again, attributes reset */
#define ENTER_SCREEN "\033[?1049h\033[H\033[2J"
#define LEAVE_SCREEN "\033[0m\033[?25h\033[?1049l"

static struct termios saved;
static int term_in = -1;
static int term_out = -1;
static volatile sig_atomic_t active;
static volatile sig_atomic_t resized;
static volatile sig_atomic_t hangup;
static int wake_pipe[2] = { -1, -1 };
static gboolean atexit_done;

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT };
static const int loop_signals[] = { SIGWINCH, SIGHUP, SIGTSTP, SIGCONT };
static struct sigaction old_fatal[G_N_ELEMENTS(fatal_signals)];
static struct sigaction old_loop[G_N_ELEMENTS(loop_signals)];

gboolean
p2pctl_write_all(int fd, const char *data, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* Async-signal-safe: only tcsetattr() and write(). */
static void
restore_now(void)
{
	if (!active)
		return;
	active = 0;
	ssize_t r = write(term_out, LEAVE_SCREEN, sizeof(LEAVE_SCREEN) - 1);
	(void)r;
	tcsetattr(term_in, TCSADRAIN, &saved);
}

static gboolean
make_raw(void)
{
	struct termios raw = saved;

	/* No echo, no line editing, no signals from Ctrl-C/Ctrl-Z/Ctrl-\ (they are keys
	 * here), no CR->NL, no flow control; output processing stays (\n is \r\n). */
	raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INLCR | IGNCR | ISTRIP | IXON | PARMRK);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(term_in, TCSADRAIN, &raw) < 0)
		return FALSE;
	active = 1;
	return p2pctl_write_all(term_out, ENTER_SCREEN, sizeof(ENTER_SCREEN) - 1);
}

static void
wake(void)
{
	int saved_errno = errno;
	if (wake_pipe[1] >= 0) {
		char c = 1;
		ssize_t r = write(wake_pipe[1], &c, 1);
		(void)r;
	}
	errno = saved_errno;
}

static void
on_fatal(int sig)
{
	restore_now();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
on_loop_signal(int sig)
{
	int saved_errno = errno;

	switch (sig) {
	case SIGWINCH:
		resized = 1;
		break;
	case SIGHUP:
		hangup = 1;
		break;
	case SIGTSTP:
		/* give the shell its terminal back, then really stop */
		restore_now();
		signal(SIGTSTP, SIG_DFL);
		raise(SIGTSTP);
		break;
	case SIGCONT:
		if (!active && term_in >= 0) {
			struct sigaction sa = { 0 };
			sa.sa_handler = on_loop_signal;
			sigemptyset(&sa.sa_mask);
			sigaction(SIGTSTP, &sa, NULL);
			make_raw();
		}
		resized = 1;
		break;
	default:
		break;
	}
	wake();
	errno = saved_errno;
}

static void
leave_at_exit(void)
{
	p2pctl_term_leave();
}

gboolean
p2pctl_term_enter(int in_fd, int out_fd, GError **error)
{
	struct sigaction sa = { 0 };

	if (tcgetattr(in_fd, &saved) < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot read the terminal settings: %s", g_strerror(errno));
		return FALSE;
	}
	if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO, "cannot create a pipe: %s",
		            g_strerror(errno));
		return FALSE;
	}
	term_in = in_fd;
	term_out = out_fd;
	if (!atexit_done) {
		atexit(leave_at_exit);
		atexit_done = TRUE;
	}
	/* Handlers first, so that no signal finds the terminal raw and nobody to restore
	 * it. Each handler blocks the others while it runs. */
	sigemptyset(&sa.sa_mask);
	for (guint i = 0; i < G_N_ELEMENTS(loop_signals); i++)
		sigaddset(&sa.sa_mask, loop_signals[i]);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	for (guint i = 0; i < G_N_ELEMENTS(fatal_signals); i++)
		sigaction(fatal_signals[i], &sa, &old_fatal[i]);
	sa.sa_handler = on_loop_signal;
	sa.sa_flags = SA_RESTART;
	for (guint i = 0; i < G_N_ELEMENTS(loop_signals); i++)
		sigaction(loop_signals[i], &sa, &old_loop[i]);

	if (!make_raw()) {
		int e = errno;
		p2pctl_term_leave();
		g_set_error(error, P2PCTL_ERROR, P2PCTL_ERROR_IO,
		            "cannot put the terminal in raw mode: %s", g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

void
p2pctl_term_leave(void)
{
	if (term_in < 0)
		return;
	restore_now();
	for (guint i = 0; i < G_N_ELEMENTS(fatal_signals); i++)
		sigaction(fatal_signals[i], &old_fatal[i], NULL);
	for (guint i = 0; i < G_N_ELEMENTS(loop_signals); i++)
		sigaction(loop_signals[i], &old_loop[i], NULL);
	term_in = term_out = -1;
}

int
p2pctl_term_fd(void)
{
	return wake_pipe[0];
}

guint
p2pctl_term_signals(void)
{
	char buf[64];

	while (wake_pipe[0] >= 0 && read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
	guint got = 0;
	/* A resize that lands between the test and the clear is drawn by the redraw this
	 * one causes; a hangup is never cleared. */
	if (resized) {
		resized = 0;
		got |= P2PCTL_TERM_RESIZED;
	}
	if (hangup)
		got |= P2PCTL_TERM_HANGUP;
	return got;
}

void
p2pctl_term_size(int fd, guint *rows, guint *cols)
{
	struct winsize ws = { 0 };

	*rows = 24;
	*cols = 80;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

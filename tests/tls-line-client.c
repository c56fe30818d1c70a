/* tls-line-client: a test tool. Connects with TLS to HOST PORT, copies stdin to the
 * server and what the server sends to stdout, and exits when the server closes.
 *
 *   tls-line-client [--ca FILE] [--raw] [--no-read] [--wait SECONDS] HOST PORT
 *
 * --ca FILE      verify the server's certificate against FILE and its name against HOST
 *                (without it the certificate is not checked)
 * --raw          send stdin bytes as they come, without waiting for whole lines
 *                (for hostile input: overlong lines, floods, binary junk)
 * --no-read      never read what the server sends (a client that stalls: for testing
 *                the server's bound on queued output); exits when stdin ends
 * --wait SECONDS after stdin ends, keep printing what the server sends until it has
 *                been silent that long (default 5; 0 = exit at once)
 *
 * On stderr it says "tls-line-client: connection closed by server" when the server
 * hangs up, so that tests can assert on a disconnect. Exit status: 0 after a close by
 * either side, 1 when connecting or the handshake fails, 2 on usage errors. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define OUT_MAX (256 * 1024) /* stdin bytes held for the server at most */

static const char *prog = "tls-line-client";

static void
usage(void)
{
	fprintf(stderr, "usage: %s [--ca FILE] [--raw] [--no-read] [--wait SECONDS] HOST PORT\n", prog);
	exit(2);
}

static void
ssl_fail(const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	fprintf(stderr, "%s: %s failed%s%s\n", prog, what, e ? ": " : "", buf);
	exit(1);
}

static int
tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	int fd = -1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "%s: %s:%s: %s\n", prog, host, port, gai_strerror(rc));
		exit(1);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot connect to %s:%s: %s\n", prog, host, port, strerror(errno));
		exit(1);
	}
	return fd;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(1);
		p += w;
		n -= (size_t)w;
	}
}

int
main(int argc, char **argv)
{
	const char *ca = NULL;
	int raw = 0;
	int no_read = 0;
	double wait_s = 5;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--raw") == 0)
			raw = 1;
		else if (strcmp(argv[i], "--no-read") == 0)
			no_read = 1;
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
			wait_s = atof(argv[++i]);
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	const char *host = argv[i], *port = argv[i + 1];

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		ssl_fail("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (ca) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
			ssl_fail("loading the CA file");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	int fd = tcp_connect(host, port);
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
		ssl_fail("SSL_new");
	if (ca) {
		/* check the name the test connected to: an IP address or a DNS name */
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
			if (SSL_set1_host(ssl, host) != 1)
				ssl_fail("setting the expected host name");
			SSL_set_tlsext_host_name(ssl, host);
		}
	}
	if (SSL_connect(ssl) != 1)
		ssl_fail("TLS handshake");
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	static char out[OUT_MAX];  /* stdin bytes not yet sent */
	size_t out_len = 0;
	size_t out_ready = 0;       /* of which this many may go (whole lines unless --raw) */
	int stdin_open = 1;
	double last_rx = now();

	for (;;) {
		int want_write = out_ready > 0;
		struct pollfd p[2] = {
			{ .fd = fd, .events = (no_read ? 0 : POLLIN) | (want_write ? POLLOUT : 0) },
			{ .fd = 0, .events = POLLIN },
		};
		int nfds = stdin_open && out_len < OUT_MAX ? 2 : 1;
		int timeout = -1;
		if (!stdin_open && out_ready == 0) {
			double left = wait_s - (now() - last_rx);
			if (left <= 0)
				break;
			timeout = (int)(left * 1000) + 1;
		}
		/* SSL may hold decrypted bytes the socket no longer shows */
		if (no_read && !stdin_open && out_ready == 0)
			break;
		int r = !no_read && SSL_pending(ssl) > 0 ? 0 : poll(p, nfds, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("poll");
			return 1;
		}

		if (no_read && (p[0].revents & (POLLHUP | POLLERR))) {
			fprintf(stderr, "%s: connection closed by server\n", prog);
			return 0;
		}

		/* server -> stdout */
		for (; !no_read;) {
			char buf[16384];
			int n = SSL_read(ssl, buf, sizeof(buf));
			if (n > 0) {
				write_all(1, buf, (size_t)n);
				last_rx = now();
				continue;
			}
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			/* clean close_notify, a plain FIN, or a reset: the server is gone */
			fprintf(stderr, "%s: connection closed by server\n", prog);
			return 0;
		}

		/* stdin -> buffer */
		if (nfds == 2 && (p[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(0, out + out_len, OUT_MAX - out_len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				stdin_open = 0;
				out_ready = out_len; /* a last line without newline goes too */
				last_rx = now();
				if (out_len == 0 && wait_s <= 0)
					break;
			} else {
				out_len += (size_t)n;
				if (raw) {
					out_ready = out_len;
				} else {
					char *nl = memrchr(out, '\n', out_len);
					out_ready = nl ? (size_t)(nl - out) + 1 : 0;
				}
				if (out_len == OUT_MAX && out_ready == 0)
					out_ready = out_len; /* a line too long for us: send it anyway */
			}
		}

		/* buffer -> server */
		if (out_ready > 0) {
			int n = SSL_write(ssl, out, (int)out_ready);
			if (n > 0) {
				memmove(out, out + n, out_len - (size_t)n);
				out_len -= (size_t)n;
				out_ready -= (size_t)n;
			} else {
				int e = SSL_get_error(ssl, n);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					/* the server hung up while we wrote; print what it said last */
					char buf[16384];
					int m;
					while ((m = SSL_read(ssl, buf, sizeof(buf))) > 0)
						write_all(1, buf, (size_t)m);
					fprintf(stderr, "%s: connection closed by server\n", prog);
					return 0;
				}
			}
		}
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return 0;
}

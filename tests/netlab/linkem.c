/* linkem: a user-space link emulator between two TUN devices.
 *
 * The kernel here has no sch_netem, so the network lab and the benchmark put this
 * between two network namespaces: it opens TUN device A (optionally after entering
 * namespace A) and TUN device B (after entering namespace B), and forwards every IP
 * packet read from one to the other through a model of a link, per direction:
 *
 *   random loss (--loss PERCENT)       each packet dropped with that probability;
 *   a bottleneck (--rate BITS/S)       packets are serialised at that rate behind a
 *     with a bounded queue (--queue)   tail-drop queue of that many bytes;
 *   propagation delay (--delay MS)     added after serialisation.
 *
 * Delay is constant per direction and serialisation ends in the order packets
 * arrived, so every direction's release times never decrease: one FIFO per
 * direction is the whole timer structure (no reordering, no jitter, by design).
 *
 * One process, one thread, ppoll(2). Counters go to stderr on SIGUSR1 and at exit.
 * Options given once apply to both directions; --loss-ab / --loss-ba etc. to one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define LINKEM_MTU_MAX      65535               /* largest packet a TUN device hands us */
#define LINKEM_BATCH        64                  /* packets read per wakeup per side */
#define LINKEM_DEFAULT_MAXBUF (256u * 1024 * 1024) /* bytes held in total, a hard cap */

typedef struct Packet Packet;
struct Packet {
	Packet *next;
	uint64_t due_ns;
	size_t len;
	unsigned char data[];
};

typedef struct {
	const char *name; /* "a->b" */
	/* the model */
	uint64_t delay_ns;
	uint64_t rate_bps; /* 0 = unlimited */
	uint64_t queue_bytes;
	double loss;       /* 0..1 */
	/* the state */
	uint64_t busy_until_ns; /* when the bottleneck finishes what it holds */
	Packet *head, *tail;
	int out_fd;
	/* counters */
	uint64_t rx, tx, tx_bytes, drop_loss, drop_queue, drop_mem, drop_write;
} Direction;

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stats_flag;
static uint64_t buffered_bytes;
static uint64_t max_buffered = LINKEM_DEFAULT_MAXBUF;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: loss decisions only, reproducible with --seed */
static double
rng_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ull) >> 11) / (double)(1ull << 53);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_flag = 1;
	else
		stop_flag = 1;
}

static void
print_stats(const Direction *d)
{
	fprintf(stderr,
	        "linkem: %s rx %" PRIu64 " tx %" PRIu64 " tx_bytes %" PRIu64 " drop_loss %" PRIu64
	        " drop_queue %" PRIu64 " drop_mem %" PRIu64 " drop_write %" PRIu64 "\n",
	        d->name, d->rx, d->tx, d->tx_bytes, d->drop_loss, d->drop_queue, d->drop_mem,
	        d->drop_write);
}

/* Opens TUN device name (IFF_TUN, no packet info), in namespace netns_path when given:
 * the device is created in the namespace of the thread that creates it. */
static int
open_tun(const char *name, const char *netns_path)
{
	if (netns_path) {
		int ns = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (ns < 0) {
			fprintf(stderr, "linkem: cannot open namespace %s: %s\n", netns_path,
			        strerror(errno));
			return -1;
		}
		if (setns(ns, CLONE_NEWNET) != 0) {
			fprintf(stderr, "linkem: cannot enter namespace %s: %s\n", netns_path,
			        strerror(errno));
			close(ns);
			return -1;
		}
		close(ns);
	}
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "linkem: cannot open /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "linkem: device name \"%s\" is longer than %d characters\n", name,
		        IFNAMSIZ - 1);
		close(fd);
		return -1;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		fprintf(stderr, "linkem: cannot create TUN device \"%s\"%s%s: %s\n", name,
		        netns_path ? " in " : "", netns_path ? netns_path : "", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* One packet read from the sending side enters direction d at time now. */
static void
admit(Direction *d, const unsigned char *buf, size_t len, uint64_t now)
{
	d->rx++;
	if (d->loss > 0 && rng_uniform() < d->loss) {
		d->drop_loss++;
		return;
	}
	uint64_t start = d->busy_until_ns > now ? d->busy_until_ns : now;
	uint64_t done = start;
	if (d->rate_bps) {
		/* what the bottleneck still holds, in bytes, decides tail drop */
		uint64_t backlog = (uint64_t)((double)(start - now) * (double)d->rate_bps / 8e9);
		if (backlog + len > d->queue_bytes) {
			d->drop_queue++;
			return;
		}
		done = start + (uint64_t)((double)len * 8e9 / (double)d->rate_bps);
		d->busy_until_ns = done;
	}
	if (buffered_bytes + len > max_buffered) {
		d->drop_mem++;
		return;
	}
	Packet *p = malloc(sizeof *p + len);
	if (p == NULL) {
		d->drop_mem++;
		return;
	}
	p->next = NULL;
	p->due_ns = done + d->delay_ns;
	p->len = len;
	memcpy(p->data, buf, len);
	buffered_bytes += len;
	if (d->tail)
		d->tail->next = p;
	else
		d->head = p;
	d->tail = p;
}

/* Writes every packet of d that is due; returns the next due time or 0. */
static uint64_t
release(Direction *d, uint64_t now)
{
	while (d->head && d->head->due_ns <= now) {
		Packet *p = d->head;
		d->head = p->next;
		if (d->head == NULL)
			d->tail = NULL;
		ssize_t n = write(d->out_fd, p->data, p->len);
		if (n == (ssize_t)p->len) {
			d->tx++;
			d->tx_bytes += p->len;
		} else {
			/* a full TUN transmit queue on the far side: the packet is lost, as on
			 * a real link */
			d->drop_write++;
		}
		buffered_bytes -= p->len;
		free(p);
	}
	return d->head ? d->head->due_ns : 0;
}

static void
drain(Direction *d)
{
	while (d->head) {
		Packet *p = d->head;
		d->head = p->next;
		free(p);
	}
	d->tail = NULL;
}

static bool
parse_double(const char *opt, const char *text, double min, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || v < min || v > max) {
		fprintf(stderr, "linkem: --%s: \"%s\" is not a number from %g to %g\n", opt, text,
		        min, max);
		return false;
	}
	*out = v;
	return true;
}

/* "1G", "100M", "4M", "1500": a count with an optional K/M/G suffix (powers of 1000
 * for rates, of 1024 for sizes, as tc reads them) */
static bool
parse_count(const char *opt, const char *text, uint64_t unit_k, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	uint64_t mult = 1;
	if (errno || end == text || v < 0)
		goto bad;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = unit_k; end++; break;
	case 'm': case 'M': mult = unit_k * unit_k; end++; break;
	case 'g': case 'G': mult = unit_k * unit_k * unit_k; end++; break;
	default: goto bad;
	}
	if (*end || v * (double)mult > 1e15)
		goto bad;
	*out = (uint64_t)(v * (double)mult);
	return true;
bad:
	fprintf(stderr, "linkem: --%s: \"%s\" is not a count (a number, optional K, M or G)\n",
	        opt, text);
	return false;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: linkem --dev-a NAME --dev-b NAME [OPTIONS]\n"
	        "Forwards IP packets between two TUN devices through an emulated link.\n"
	        "  --dev-a NAME, --dev-b NAME   the TUN devices to create\n"
	        "  --netns-a PATH, --netns-b PATH\n"
	        "                               create the device in that network namespace\n"
	        "                               (e.g. /run/netns/NAME)\n"
	        "  --delay MS                   one-way delay added after serialisation (0)\n"
	        "  --rate BITS                  bottleneck rate in bit/s, K/M/G = 10^3/6/9 (0 = none)\n"
	        "  --queue BYTES                bottleneck queue, K/M/G = 2^10/20/30 (4M)\n"
	        "  --loss PERCENT               random loss (0)\n"
	        "  --delay-ab, --rate-ab, --queue-ab, --loss-ab and the same with -ba:\n"
	        "                               one direction only (a->b: read from A, written to B)\n"
	        "  --max-buffer BYTES           cap on everything held in memory (256M)\n"
	        "  --seed N                     seed of the loss decisions\n"
	        "  --ready-file PATH            written once both devices exist\n"
	        "Counters go to stderr on SIGUSR1 and at exit (SIGTERM, SIGINT).\n");
}

enum {
	OPT_DEV_A = 256, OPT_DEV_B, OPT_NS_A, OPT_NS_B, OPT_DELAY, OPT_RATE, OPT_QUEUE, OPT_LOSS,
	OPT_DELAY_AB, OPT_RATE_AB, OPT_QUEUE_AB, OPT_LOSS_AB,
	OPT_DELAY_BA, OPT_RATE_BA, OPT_QUEUE_BA, OPT_LOSS_BA,
	OPT_MAXBUF, OPT_SEED, OPT_READY, OPT_HELP,
};

static const struct option long_opts[] = {
	{ "dev-a", required_argument, NULL, OPT_DEV_A },
	{ "dev-b", required_argument, NULL, OPT_DEV_B },
	{ "netns-a", required_argument, NULL, OPT_NS_A },
	{ "netns-b", required_argument, NULL, OPT_NS_B },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "loss", required_argument, NULL, OPT_LOSS },
	{ "delay-ab", required_argument, NULL, OPT_DELAY_AB },
	{ "rate-ab", required_argument, NULL, OPT_RATE_AB },
	{ "queue-ab", required_argument, NULL, OPT_QUEUE_AB },
	{ "loss-ab", required_argument, NULL, OPT_LOSS_AB },
	{ "delay-ba", required_argument, NULL, OPT_DELAY_BA },
	{ "rate-ba", required_argument, NULL, OPT_RATE_BA },
	{ "queue-ba", required_argument, NULL, OPT_QUEUE_BA },
	{ "loss-ba", required_argument, NULL, OPT_LOSS_BA },
	{ "max-buffer", required_argument, NULL, OPT_MAXBUF },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Applies one model option to the directions it names (mask: 1 = a->b, 2 = b->a). */
static bool
set_model(Direction dirs[2], int mask, int what, const char *opt, const char *arg)
{
	double v = 0;
	uint64_t u = 0;
	for (int i = 0; i < 2; i++) {
		if (!(mask & (1 << i)))
			continue;
		Direction *d = &dirs[i];
		switch (what) {
		case OPT_DELAY:
			if (!parse_double(opt, arg, 0, 60000, &v))
				return false;
			d->delay_ns = (uint64_t)(v * 1e6);
			break;
		case OPT_RATE:
			if (!parse_count(opt, arg, 1000, &u))
				return false;
			d->rate_bps = u;
			break;
		case OPT_QUEUE:
			if (!parse_count(opt, arg, 1024, &u))
				return false;
			d->queue_bytes = u;
			break;
		case OPT_LOSS:
			if (!parse_double(opt, arg, 0, 100, &v))
				return false;
			d->loss = v / 100.0;
			break;
		}
	}
	return true;
}

int
main(int argc, char **argv)
{
	const char *dev_a = NULL, *dev_b = NULL, *ns_a = NULL, *ns_b = NULL, *ready = NULL;
	Direction dirs[2] = {
		{ .name = "a->b", .queue_bytes = 4u << 20 },
		{ .name = "b->a", .queue_bytes = 4u << 20 },
	};
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		const char *opt = long_opts[0].name;
		for (const struct option *o = long_opts; o->name; o++)
			if (o->val == c)
				opt = o->name;
		bool ok = true;
		switch (c) {
		case OPT_DEV_A: dev_a = optarg; break;
		case OPT_DEV_B: dev_b = optarg; break;
		case OPT_NS_A: ns_a = optarg; break;
		case OPT_NS_B: ns_b = optarg; break;
		case OPT_DELAY: case OPT_RATE: case OPT_QUEUE: case OPT_LOSS:
			ok = set_model(dirs, 3, c, opt, optarg);
			break;
		case OPT_DELAY_AB: case OPT_RATE_AB: case OPT_QUEUE_AB: case OPT_LOSS_AB:
			ok = set_model(dirs, 1, c - OPT_DELAY_AB + OPT_DELAY, opt, optarg);
			break;
		case OPT_DELAY_BA: case OPT_RATE_BA: case OPT_QUEUE_BA: case OPT_LOSS_BA:
			ok = set_model(dirs, 2, c - OPT_DELAY_BA + OPT_DELAY, opt, optarg);
			break;
		case OPT_MAXBUF:
			ok = parse_count(opt, optarg, 1024, &max_buffered);
			break;
		case OPT_SEED: {
			uint64_t seed = 0;
			ok = parse_count(opt, optarg, 1000, &seed);
			rng_state = seed ? seed : rng_state;
			break;
		}
		case OPT_READY: ready = optarg; break;
		case OPT_HELP: case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok)
			return 2;
	}
	if (optind < argc || dev_a == NULL || dev_b == NULL) {
		usage(stderr);
		return 2;
	}

	int fd_a = open_tun(dev_a, ns_a);
	if (fd_a < 0)
		return 1;
	int fd_b = open_tun(dev_b, ns_b);
	if (fd_b < 0) {
		close(fd_a);
		return 1;
	}
	dirs[0].out_fd = fd_b;
	dirs[1].out_fd = fd_a;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
			fprintf(stderr, "linkem: cannot write %s: %s\n", ready, strerror(errno));
			goto out;
		}
	}

	static unsigned char buf[LINKEM_MTU_MAX];
	struct pollfd pfd[2] = { { .fd = fd_a, .events = POLLIN }, { .fd = fd_b, .events = POLLIN } };
	while (!stop_flag) {
		uint64_t now = now_ns();
		uint64_t next = 0;
		for (int i = 0; i < 2; i++) {
			uint64_t due = release(&dirs[i], now);
			if (due && (next == 0 || due < next))
				next = due;
		}
		/* ppoll: nanosecond timeouts, so that packets leave when due and not in
		 * millisecond bursts (125 KB at 1 Gbit/s) */
		struct timespec ts, *tsp = NULL;
		if (next) {
			uint64_t wait = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
			tsp = &ts;
		}
		int n = ppoll(pfd, 2, tsp, NULL);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "linkem: poll: %s\n", strerror(errno));
			goto out;
		}
		if (stats_flag) {
			stats_flag = 0;
			print_stats(&dirs[0]);
			print_stats(&dirs[1]);
		}
		if (n <= 0)
			continue;
		now = now_ns();
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (int k = 0; k < LINKEM_BATCH; k++) {
				ssize_t len = read(pfd[i].fd, buf, sizeof buf);
				if (len <= 0)
					break;
				admit(&dirs[i], buf, (size_t)len, now);
			}
		}
	}
	rc = 0;
out:
	print_stats(&dirs[0]);
	print_stats(&dirs[1]);
	drain(&dirs[0]);
	drain(&dirs[1]);
	close(fd_a);
	close(fd_b);
	return rc;
}

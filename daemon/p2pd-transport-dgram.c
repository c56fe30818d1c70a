/* p2pd-transport-dgram.c: P2pTransport over libnice datagrams (a non-reliable agent).
 *
 * libnice's pseudo-TCP is CPU-bound near 50 MB/s and collapses with loss (1.15 MB/s at
 * 50 ms RTT, 0.3 MB/s with 0.5% loss); usrsctp and every TCP-like congestion control
 * halve their window on each loss, which at 0.5% random loss and 50 ms caps a flow
 * near 0.5 MB/s whatever the link (kernel CUBIC measured 0.46 MB/s). So this is a
 * small reliable byte stream of our own, shaped like QUIC's loss recovery (RFC 9002)
 * with BBR-style congestion control (rate from delivery samples, paced, loss ignored
 * as a signal): see docs/TRANSPORT.md for the choice and the numbers.
 *
 * It carries the TLS channel's ciphertext unchanged, so no crypto here: TLS protects
 * the bytes and the pinned identity keys decide who is on the other end. ICE already
 * drops datagrams from addresses that are not the selected pair's; what a spoofer on
 * the path could still do (forge acks, stall the stream) ends in a TLS error or a
 * timeout, never in accepted bytes (docs/SECURITY.md).
 *
 * Wire (big-endian), the first byte >= 0x80 so that nothing here parses as STUN:
 *   DATA  d1 | packet number u64 | stream offset u64 | payload (to the datagram's end)
 *   ACK   a2 | ack delay us u32 | receive limit (stream offset) u64 | n u8 |
 *            n x (highest u64, lowest u64) packet-number ranges, highest first
 * Packet numbers are never reused: a lost payload goes out again in a new packet, so
 * every ack gives an unambiguous RTT and delivery-rate sample. */
#include "config.h"

#include <gio/gio.h>
#include <nice/agent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include "p2pd-transport.h"

#define DG_MTU           1400  /* whole datagram: fits 1500-byte links under IPv6, UDP, TURN */
#define DG_DATA          0xd1
#define DG_ACK           0xa2
#define DATA_HDR         17
#define MAX_PAYLOAD      (DG_MTU - DATA_HDR)
#define ACK_HDR          14
#define ACK_RANGES_MAX   32
#define RECV_RANGES_MAX  64
#define PN_MAX           (G_GUINT64_CONSTANT(1) << 62)
#define PN_AHEAD_MAX     (1u << 20)  /* far more packets than any window holds */
#define SND_MAX          (16u << 20) /* unacknowledged + unsent bytes we hold */
#define RCV_WINDOW       (16u << 20) /* bytes past what the reader took that we accept */
#define RCV_WINDOW_MIN   (4u << 20)  /* ... on a path with a short RTT */
#define RCV_WINDOW_RATE  2.5e9       /* bytes/s a window must cover for one min RTT */
#define SOCK_BUF         (8 << 20)   /* UDP socket buffers: one daemon pass of bursts */
#define ACK_EVERY        8           /* packets per ack (and at once on a gap) */
#define ACK_DELAY_US     1000
#define INIT_CWND        (32 * DG_MTU)
#define MIN_CWND         (4 * DG_MTU)
#define CWND_RTT_MIN_US  5000
#define PACE_BURST_MIN   2000        /* GLib wakes us with ms granularity */
#define PACE_BURST_MAX   10000
#define PTO_FIRST_US     (300 * 1000)
#define PTO_MIN_US       (20 * 1000) /* a peer's main loop can be busy that long */
#define IDLE_FAIL_US     (30 * G_USEC_PER_SEC)
#define MIN_RTT_WIN_US   (10 * G_USEC_PER_SEC)
#define BW_ROUNDS        10
#define STARTUP_GAIN     2.885
#define PROBE_CWND_GAIN  1.5 /* 2 x BDP overflowed a 0.67 x BDP queue (link b) */
#define EARLY_MAX        (256 * 1024)
#define LOSS_THRESH_PERMILLE 20      /* 2% of a round's bytes lost: a queue overflowed */
#define UNSENT_MIN       (256 * 1024)
#define SND_WAKE         (1024 * 1024)
#define GSO_SEGS         44          /* 44 x 1400 bytes: one UDP GSO send under 64 KiB */

typedef struct {
	guint64 lo, hi; /* packet numbers, inclusive */
} PnRange;

typedef struct {
	guint64 lo, hi; /* stream offsets, [lo, hi) */
} OffRange;

enum { SENT_NONE, SENT_FLIGHT, SENT_DONE };

typedef struct {
	guint64 off;
	guint32 len;
	guint8 state;
	gboolean app_limited;
	gint64 sent_us;
	guint64 delivered;     /* our delivered count when this was sent (BBR rate sample) */
	gint64 delivered_us;
	gint64 first_sent_us;
} Sent;

typedef struct {
	guint64 off;
	guint32 len;
	guint8 data[];
} Seg;

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW };

typedef struct {
	P2pTransport parent;
	NiceAgent *agent;
	GMainContext *context;
	guint stream_id;
	guint component_id;
	gulong state_handler;
	gulong pair_handler;
	GSource *timer;        /* pacing, acks, loss and probe timeouts: one deadline */
	GSource *notify;       /* deferred readable/writable/closed */
	gboolean closed;       /* no more callbacks; the protocol still runs until free */
	gboolean want_writable;
	gboolean sock_tuned;
	GError *fail;

	/* sender: stream bytes in a ring, [snd_una, snd_end) kept */
	guint8 *sbuf;
	gsize sbuf_cap;        /* power of two */
	guint64 snd_una;       /* everything below is acknowledged */
	guint64 snd_nxt;       /* next new byte to send */
	guint64 snd_end;
	guint64 peer_max;      /* the peer's receive limit */
	GArray *acked;         /* OffRange above snd_una, sorted, merged */
	GArray *rtx;           /* OffRange to send again, FIFO from rtx_head */
	guint rtx_head;

	/* sent packets in a ring by packet number, [first_pn, next_pn) */
	Sent *sent;
	gsize sent_cap;
	guint64 first_pn, next_pn;
	guint64 largest_acked;
	gboolean any_acked;
	gsize inflight;        /* bytes on the wire, headers included */
	gint64 last_sent_us;
	gint64 ack_wait_us;    /* since when data is in flight without any ack */
	guint pto_count;
	guint persist_count;   /* window probes sent since the peer's limit last grew */
	guint probes;          /* packets a probe timeout may send past cwnd */

	/* RTT and BBR */
	gint64 srtt, rttvar, latest_rtt, min_rtt, min_rtt_us;
	gint64 path_rtt;       /* the least RTT ever seen: a session keeps its path */
	guint64 delivered;
	gint64 delivered_us, first_sent_us;
	guint64 app_limited_until;
	guint64 round, next_round_delivered;
	double bw[BW_ROUNDS];
	guint64 bw_round[BW_ROUNDS];
	double btl_bw;         /* bytes per second */
	double full_bw;
	guint full_cnt;
	int bbr_state;
	guint cycle;
	gint64 cycle_us;
	double pacing_rate;
	gint64 pace_next_us;
	guint64 round_lost, round_delivered; /* bytes, this round trip */
	gsize inflight_hi;     /* 0 = none: the bound a lossy round set (BBRv2's idea) */

	/* receiver */
	guint64 rcv_nxt;       /* bytes in order received */
	GByteArray *rx;        /* in order, not yet handed to the reader */
	GTree *ooo;            /* Seg by offset, past rcv_nxt */
	gsize ooo_bytes;
	GArray *pns;           /* PnRange received, highest first */
	gint64 largest_rcv_us;
	guint ack_pending;
	gint64 ack_due_us;     /* 0 = no ack timer */
	guint64 adv_limit;     /* the receive limit our last ack announced */

	/* Fast send path on a direct UDP pair: the pair's own socket, full datagrams
	 * batched into one UDP GSO send (the kernel cuts them; a route lookup and a
	 * syscall per 44 packets instead of per packet). NULL: through libnice. */
	GSocket *gso_sock;
	struct sockaddr_storage gso_peer;
	socklen_t gso_peer_len;
	guint8 *batch;         /* GSO_SEGS datagrams */
	gsize batch_len;
	guint batch_n;

	/* stats for the log */
	guint64 lost, sent_pkts, rcvd_pkts, gso_sends, drop_win, drop_early, drop_dup;
} DgTransport;

static void dg_close(P2pTransport *t);
static void try_send(DgTransport *d, gint64 now);
static void rearm(DgTransport *d);
static gboolean room_again(DgTransport *d);
static void send_ack(DgTransport *d, gint64 now);
static const P2pTransportOps dgram_ops;

static inline void
wr64(guint8 *p, guint64 v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static inline void
wr32(guint8 *p, guint32 v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static inline guint64
rd64(const guint8 *p)
{
	guint64 v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline guint32
rd32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

/* ---- callbacks, always from our own idle ------------------------------------- */

/* What we accept past what the reader took. A long path needs the bandwidth-delay
 * product (16 MiB covers 2.5 Gbit/s at 50 ms); a LAN's is tiny, and a full window is
 * what a busy reader holds in memory (issue 10's 32 MiB peak RSS): so the window
 * follows the least RTT we measured on what we sent (the TLS handshake comes before
 * any data, then ACK frames and pings). The path never changes under a session, so
 * the least ever, not BBR's windowed one, which a busy peer inflates. */
static gsize
rcv_window(DgTransport *d)
{
	return (gsize)CLAMP(RCV_WINDOW_RATE * d->path_rtt / G_USEC_PER_SEC, RCV_WINDOW_MIN,
	                    RCV_WINDOW);
}

/* The offset up to which we take data: never below what an ack already announced. */
static guint64
rcv_limit(DgTransport *d)
{
	return MAX(d->adv_limit, d->rcv_nxt - d->rx->len + rcv_window(d));
}

static gboolean
notify_cb(gpointer data)
{
	DgTransport *d = data;
	P2pTransport *t = &d->parent;

	g_clear_pointer(&d->notify, g_source_unref);
	if (d->closed)
		return G_SOURCE_REMOVE;
	if (d->fail != NULL) {
		g_autoptr(GError) e = g_steal_pointer(&d->fail);
		dg_close(t);
		if (t->cb.closed)
			t->cb.closed(t, e, t->user);
		return G_SOURCE_REMOVE;
	}
	if (d->rx->len > 0 && t->cb.readable == NULL) {
		/* the peer reached READY first: keep the bytes until the channel reads */
		d->notify = g_timeout_source_new(10);
		g_source_set_callback(d->notify, notify_cb, d, NULL);
		g_source_attach(d->notify, d->context);
		return G_SOURCE_REMOVE;
	}
	if (d->rx->len > 0) {
		g_autoptr(GByteArray) b = d->rx;
		d->rx = g_byte_array_sized_new(64 * 1024);
		t->cb.readable(t, b->data, b->len, t->user);
		if (d->closed)
			return G_SOURCE_REMOVE;
		/* A sender at our limit sends nothing, so no data would carry the new limit:
		 * announce it once a quarter of the window opened since the last ack (a
		 * window update; the sender's window probes cover a lost one). */
		if (rcv_limit(d) >= d->adv_limit + rcv_window(d) / 4)
			send_ack(d, g_get_monotonic_time());
		/* the reader took bytes: the window opened */
		try_send(d, g_get_monotonic_time());
	}
	if (d->want_writable && room_again(d)) {
		d->want_writable = FALSE;
		if (t->cb.writable)
			t->cb.writable(t, t->user);
	}
	return G_SOURCE_REMOVE;
}

static void
schedule_notify(DgTransport *d)
{
	if (d->notify != NULL || d->closed)
		return;
	d->notify = g_idle_source_new();
	g_source_set_priority(d->notify, G_PRIORITY_DEFAULT);
	g_source_set_callback(d->notify, notify_cb, d, NULL);
	g_source_attach(d->notify, d->context);
}

static void
fail(DgTransport *d, GError *e)
{
	if (d->fail == NULL && !d->closed)
		d->fail = e;
	else
		g_error_free(e);
	schedule_notify(d);
}

/* ---- socket -------------------------------------------------------------------- */

/* Bursts of a whole pacing slot, and a receiver busy decrypting and writing, need more
 * than the kernel's default 208 KiB; the FORCE variants pass rmem_max when we may. */
static void
tune_socket(DgTransport *d)
{
	if (d->sock_tuned)
		return;
	g_autoptr(GSocket) sock = nice_agent_get_selected_socket(d->agent, d->stream_id,
	                                                         d->component_id);
	if (sock == NULL)
		return;
	d->sock_tuned = TRUE;
	int fd = g_socket_get_fd(sock);
	int v = SOCK_BUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);

	/* libnice hands out only a direct UDP pair's socket (not a relay's, not TCP), so
	 * what we send on it goes to the peer as libnice would send it */
	NiceCandidate *local = NULL, *remote = NULL;
	if (!nice_agent_get_selected_pair(d->agent, d->stream_id, d->component_id, &local,
	                                  &remote) || remote == NULL)
		return;
	memset(&d->gso_peer, 0, sizeof d->gso_peer);
	nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&d->gso_peer);
	d->gso_peer_len = d->gso_peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                                    : sizeof(struct sockaddr_in);
	g_set_object(&d->gso_sock, sock);
	if (d->batch == NULL)
		d->batch = g_malloc(GSO_SEGS * DG_MTU);
}

/* Back to sending through libnice: the pair changed, its socket closed, or the
 * kernel refused a GSO send. */
static void
gso_off(DgTransport *d, const char *why)
{
	if (d->gso_sock != NULL && why != NULL)
		g_debug("dgram: sending through libnice from now on: %s", why);
	g_clear_object(&d->gso_sock);
}

/* ---- sender -------------------------------------------------------------------- */

static gsize
cwnd(DgTransport *d)
{
	if (d->btl_bw <= 0 || d->min_rtt <= 0)
		return INIT_CWND;
	double gain = d->bbr_state == BBR_PROBE_BW ? PROBE_CWND_GAIN : STARTUP_GAIN;
	/* On a LAN the min RTT (~0.1 ms) is far below how late the two main loops read
	 * and ack (milliseconds while they hash and encrypt): a window of bw x min RTT
	 * would stall between acks, so the window covers at least CWND_RTT_MIN_US. */
	gint64 rtt = MAX(d->min_rtt, CWND_RTT_MIN_US);
	double w = gain * d->btl_bw * (double)rtt / G_USEC_PER_SEC + 3 * DG_MTU;
	if (d->bbr_state == BBR_STARTUP)
		w = MAX(w, INIT_CWND);
	if (d->inflight_hi > 0)
		w = MIN(w, d->inflight_hi);
	return (gsize)MAX(w, MIN_CWND);
}

/* Unsent bytes we take from the writer: enough to keep the pacer fed between two
 * writable callbacks, no more, so that a session that dies loses little more than
 * what was in flight (the transfer resumes from what the peer made durable). */
static gsize
unsent_max(DgTransport *d)
{
	return MAX(cwnd(d) / 2, UNSENT_MIN);
}

/* What we hold (unacknowledged + unsent): no more than the peer's window lets out, so
 * that a short path's small window keeps our ring small too (issue 10's peak RSS); at
 * most SND_MAX. */
static gsize
snd_cap(DgTransport *d)
{
	guint64 win = d->peer_max > d->snd_una ? d->peer_max - d->snd_una : 0;
	gsize cap = 2 * SND_WAKE;
	while (cap * 2 <= MIN(win, SND_MAX))
		cap *= 2; /* the ring is a power of two: 4.1 MiB would take 8 */
	return cap;
}

static gboolean
room_again(DgTransport *d)
{
	/* a hole at snd_una holds everything behind it for a round trip or more: wake the
	 * writer as soon as some room is back, not only once the buffer drained */
	return d->snd_end - d->snd_una + SND_WAKE <= snd_cap(d) &&
	       d->snd_end - d->snd_nxt <= unsent_max(d) / 2;
}

static gboolean
range_acked(DgTransport *d, guint64 lo, guint64 hi)
{
	if (hi <= d->snd_una)
		return TRUE;
	for (guint i = 0; i < d->acked->len; i++) {
		OffRange *r = &g_array_index(d->acked, OffRange, i);
		if (r->lo <= lo && hi <= r->hi)
			return TRUE;
		if (r->lo > lo)
			break;
	}
	return FALSE;
}

/* Records [lo, hi) as acknowledged and moves snd_una past what is now contiguous. */
static void
mark_acked(DgTransport *d, guint64 lo, guint64 hi)
{
	if (hi <= d->snd_una)
		return;
	lo = MAX(lo, d->snd_una);
	GArray *a = d->acked;
	guint i = 0;
	while (i < a->len && g_array_index(a, OffRange, i).hi < lo)
		i++;
	/* merge every range that touches [lo, hi) into one */
	guint j = i;
	while (j < a->len && g_array_index(a, OffRange, j).lo <= hi) {
		OffRange *r = &g_array_index(a, OffRange, j);
		lo = MIN(lo, r->lo);
		hi = MAX(hi, r->hi);
		j++;
	}
	if (j > i)
		g_array_remove_range(a, i, j - i);
	OffRange n = { lo, hi };
	g_array_insert_val(a, i, n);
	OffRange *first = &g_array_index(a, OffRange, 0);
	if (first->lo <= d->snd_una) {
		d->snd_una = first->hi;
		g_array_remove_index(a, 0);
	}
}

static Sent *
slot(DgTransport *d, guint64 pn)
{
	return &d->sent[pn & (d->sent_cap - 1)];
}

static void
sent_grow(DgTransport *d)
{
	gsize cap = d->sent_cap * 2;
	Sent *n = g_new0(Sent, cap);
	for (guint64 pn = d->first_pn; pn < d->next_pn; pn++)
		n[pn & (cap - 1)] = *slot(d, pn);
	g_free(d->sent);
	d->sent = n;
	d->sent_cap = cap;
}

static void
sbuf_reserve(DgTransport *d, gsize need)
{
	if (need <= d->sbuf_cap)
		return;
	gsize cap = MAX(d->sbuf_cap, 64 * 1024);
	while (cap < need)
		cap *= 2;
	g_debug("dgram: send ring grows to %zu KiB (window %" G_GUINT64_FORMAT " KiB)", cap / 1024,
	        (d->peer_max - d->snd_una) / 1024);
	guint8 *n = g_malloc(cap);
	for (guint64 o = d->snd_una; o < d->snd_end;) {
		gsize at = o & (d->sbuf_cap - 1);
		gsize run = MIN(d->sbuf_cap - at, d->snd_end - o);
		gsize to = o & (cap - 1);
		gsize run2 = MIN(run, cap - to);
		memcpy(n + to, d->sbuf + at, run2);
		if (run2 < run)
			memcpy(n, d->sbuf + at + run2, run - run2);
		o += run;
	}
	g_free(d->sbuf);
	d->sbuf = n;
	d->sbuf_cap = cap;
}

static void
sbuf_copy_out(DgTransport *d, guint64 off, gsize len, guint8 *out)
{
	gsize at = off & (d->sbuf_cap - 1);
	gsize run = MIN(len, d->sbuf_cap - at);
	memcpy(out, d->sbuf + at, run);
	if (run < len)
		memcpy(out + run, d->sbuf, len - run);
}

static void
advance_first_pn(DgTransport *d)
{
	while (d->first_pn < d->next_pn && slot(d, d->first_pn)->state != SENT_FLIGHT)
		d->first_pn++;
}

static void
lose(DgTransport *d, Sent *s)
{
	s->state = SENT_DONE;
	d->inflight -= s->len + DATA_HDR;
	d->lost++;
	d->round_lost += s->len + DATA_HDR;
	if (!range_acked(d, s->off, s->off + s->len)) {
		OffRange r = { s->off, s->off + s->len };
		g_array_append_val(d->rtx, r);
	}
}

/* The next range to send again that the peer does not have yet. */
static gboolean
peek_rtx(DgTransport *d, OffRange *out)
{
	while (d->rtx_head < d->rtx->len) {
		OffRange *r = &g_array_index(d->rtx, OffRange, d->rtx_head);
		if (!range_acked(d, r->lo, r->hi)) {
			*out = *r;
			return TRUE;
		}
		d->rtx_head++;
	}
	if (d->rtx_head > 0) {
		g_array_set_size(d->rtx, 0);
		d->rtx_head = 0;
	}
	return FALSE;
}

static gboolean
send_datagram(DgTransport *d, const guint8 *buf, gsize len)
{
	return nice_agent_send(d->agent, d->stream_id, d->component_id, len,
	                       (const gchar *)buf) == (gint)len;
}

/* Sends the batch as one GSO datagram train. The packets are already counted as in
 * flight: if the kernel takes none of them, they are lost and go again. */
static void
flush_batch(DgTransport *d, gint64 now)
{
	if (d->batch_n == 0)
		return;
	guint n = d->batch_n;
	gsize len = d->batch_len;
	d->batch_n = 0;
	d->batch_len = 0;

	int err = 0;
	if (d->gso_sock == NULL || g_socket_is_closed(d->gso_sock)) {
		err = EBADF;
	} else {
		union {
			char buf[CMSG_SPACE(sizeof(guint16))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { d->batch, len };
		struct msghdr msg = { .msg_name = &d->gso_peer, .msg_namelen = d->gso_peer_len,
		                      .msg_iov = &iov, .msg_iovlen = 1 };
		if (n > 1) {
			memset(&ctl, 0, sizeof ctl);
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof ctl.buf;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(guint16));
			guint16 seg = DG_MTU;
			memcpy(CMSG_DATA(cm), &seg, sizeof seg);
		}
		ssize_t r;
		do
			r = sendmsg(g_socket_get_fd(d->gso_sock), &msg, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r >= 0) {
			d->gso_sends++;
			return;
		}
		err = errno;
	}
	for (guint64 pn = d->next_pn - n; pn < d->next_pn; pn++) {
		Sent *s = slot(d, pn);
		if (s->state == SENT_FLIGHT) {
			lose(d, s);
			d->lost--; /* not the path's loss: ours */
		}
	}
	advance_first_pn(d);
	if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS)
		d->pace_next_us = now + 1000; /* socket buffer full: shortly */
	else
		gso_off(d, g_strerror(err));
}

static void
try_send(DgTransport *d, gint64 now)
{
	guint8 one[DG_MTU];

	if (d->fail != NULL)
		return;
	for (;;) {
		OffRange r;
		gboolean is_rtx = peek_rtx(d, &r);
		if (!is_rtx) {
			guint64 limit = MIN(d->snd_end, d->peer_max);
			if (d->snd_nxt >= limit) {
				/* nothing to send: rate samples until these are acked show our
				 * appetite, not the path's */
				if (d->snd_nxt >= d->snd_end)
					d->app_limited_until = d->delivered + d->inflight + 1;
				break;
			}
			r.lo = d->snd_nxt;
			r.hi = MIN(limit, r.lo + MAX_PAYLOAD);
		}
		gsize len = r.hi - r.lo;
		gboolean probe = d->probes > 0;
		if (!probe && d->inflight + len + DATA_HDR > cwnd(d))
			break; /* acks reopen it */
		if (!probe && d->pace_next_us > now)
			break; /* the timer reopens it */

		if (d->next_pn - d->first_pn == d->sent_cap)
			sent_grow(d);
		guint64 pn = d->next_pn;
		guint8 *pkt = d->gso_sock != NULL ? d->batch + d->batch_len : one;
		pkt[0] = DG_DATA;
		wr64(pkt + 1, pn);
		wr64(pkt + 9, r.lo);
		sbuf_copy_out(d, r.lo, len, pkt + DATA_HDR);
		if (d->gso_sock != NULL) {
			d->batch_len += len + DATA_HDR;
			d->batch_n++;
		} else if (!send_datagram(d, pkt, len + DATA_HDR)) {
			/* socket buffer full (or a TCP pair's queue): try again shortly */
			d->pace_next_us = now + 1000;
			break;
		}
		d->next_pn++;
		d->sent_pkts++;
		if (probe)
			d->probes--;
		if (is_rtx)
			d->rtx_head++;
		else
			d->snd_nxt = r.hi;
		if (d->inflight == 0) {
			d->ack_wait_us = now;
			/* a new flight: rate samples start from here */
			d->first_sent_us = now;
			d->delivered_us = now;
		}
		Sent *s = slot(d, pn);
		*s = (Sent){ .off = r.lo, .len = len, .state = SENT_FLIGHT, .sent_us = now,
		             .delivered = d->delivered, .delivered_us = d->delivered_us,
		             .first_sent_us = d->first_sent_us,
		             .app_limited = d->app_limited_until > d->delivered };
		d->inflight += len + DATA_HDR;
		d->last_sent_us = now;
		double rate = d->pacing_rate > 0 ? d->pacing_rate : 1e12;
		/* a main loop busy elsewhere (reading, hashing, encrypting) must not cost
		 * rate: catch up on up to a quarter of the min RTT, or the delivery rate
		 * falls below the pacing rate and the model spirals down */
		gint64 burst = CLAMP(d->min_rtt / 4, PACE_BURST_MIN, PACE_BURST_MAX);
		d->pace_next_us = MAX(d->pace_next_us, now - burst) +
		                  (gint64)((len + DATA_HDR) * 1e6 / rate);
		/* GSO cuts a train into equal datagrams: a short one ends it */
		if (d->batch_n == GSO_SEGS || (d->batch_n > 0 && len + DATA_HDR < DG_MTU))
			flush_batch(d, now);
	}
	flush_batch(d, now);
	if (d->want_writable && room_again(d))
		schedule_notify(d);
	rearm(d);
}

static void
update_rtt(DgTransport *d, gint64 rtt, gint64 ack_delay, gint64 now)
{
	d->latest_rtt = rtt;
	if (d->path_rtt == 0 || rtt < d->path_rtt)
		d->path_rtt = rtt;
	if (d->min_rtt == 0 || rtt < d->min_rtt || now - d->min_rtt_us > MIN_RTT_WIN_US) {
		/* no PROBE_RTT phase: an expired minimum takes the newest sample */
		d->min_rtt = rtt;
		d->min_rtt_us = now;
	}
	if (rtt - ack_delay >= d->min_rtt)
		rtt -= ack_delay;
	if (d->srtt == 0) {
		d->srtt = rtt;
		d->rttvar = rtt / 2;
	} else {
		gint64 dv = d->srtt > rtt ? d->srtt - rtt : rtt - d->srtt;
		d->rttvar = (3 * d->rttvar + dv) / 4;
		d->srtt = (7 * d->srtt + rtt) / 8;
	}
}

static void
bw_sample(DgTransport *d, double rate)
{
	guint i = d->round % BW_ROUNDS;
	if (d->bw_round[i] != d->round) {
		d->bw_round[i] = d->round;
		d->bw[i] = 0;
	}
	d->bw[i] = MAX(d->bw[i], rate);
	double m = 0;
	for (guint k = 0; k < BW_ROUNDS; k++) {
		if (d->bw_round[k] + BW_ROUNDS > d->round)
			m = MAX(m, d->bw[k]);
	}
	d->btl_bw = m;
}

static const double probe_gains[8] = { 1.25, 0.75, 1, 1, 1, 1, 1, 1 };

static void
bbr_update(DgTransport *d, gboolean round_start, gint64 now)
{
	double bdp = d->btl_bw * (double)d->min_rtt / G_USEC_PER_SEC;
	double gain = 1;

	if (round_start) {
		/* Random loss (a lossy radio, link (c)) is not congestion, but a queue that
		 * overflows is: a round that lost more than LOSS_THRESH of its bytes bounds
		 * what may be in flight, and clean rounds raise the bound again by 1/8. */
		guint64 total = d->round_delivered + d->round_lost;
		if (total > 16 * DG_MTU && d->round_lost * 1000 > total * LOSS_THRESH_PERMILLE) {
			gsize cur = d->inflight_hi > 0 ? d->inflight_hi : cwnd(d);
			d->inflight_hi = MAX((gsize)(cur * 0.85), (gsize)MAX(bdp, MIN_CWND));
			if (d->bbr_state == BBR_STARTUP) {
				d->bbr_state = BBR_DRAIN;
				g_debug("dgram: startup ended by loss at %.1f MB/s", d->btl_bw / 1e6);
			}
		} else if (d->inflight_hi > 0) {
			d->inflight_hi += d->inflight_hi / 8;
			if (d->inflight_hi > 4 * MAX(bdp, MIN_CWND))
				d->inflight_hi = 0;
		}
		d->round_lost = d->round_delivered = 0;
	}
	if (d->bbr_state == BBR_STARTUP && round_start) {
		if (d->btl_bw >= d->full_bw * 1.25) {
			d->full_bw = d->btl_bw;
			d->full_cnt = 0;
		} else if (++d->full_cnt >= 3) {
			d->bbr_state = BBR_DRAIN;
			g_debug("dgram: startup done at %.1f MB/s, min RTT %.1f ms", d->btl_bw / 1e6,
			        d->min_rtt / 1e3);
		}
	}
	if (d->bbr_state == BBR_DRAIN && d->inflight <= bdp) {
		d->bbr_state = BBR_PROBE_BW;
		d->cycle = 2;
		d->cycle_us = now;
	}
	if (d->bbr_state == BBR_PROBE_BW) {
		gboolean next = now - d->cycle_us > d->min_rtt;
		if (probe_gains[d->cycle] < 1 && d->inflight <= bdp)
			next = TRUE;
		if (next) {
			d->cycle = (d->cycle + 1) % 8;
			d->cycle_us = now;
		}
		gain = probe_gains[d->cycle];
	} else {
		gain = d->bbr_state == BBR_STARTUP ? STARTUP_GAIN : 1 / STARTUP_GAIN;
	}
	if (d->btl_bw > 0)
		d->pacing_rate = gain * d->btl_bw;
}

static void
detect_lost(DgTransport *d, gint64 now)
{
	if (!d->any_acked)
		return;
	gint64 delay = MAX(MAX(d->srtt, d->latest_rtt) * 9 / 8, 1000);
	for (guint64 pn = d->first_pn; pn < d->largest_acked; pn++) {
		Sent *s = slot(d, pn);
		if (s->state != SENT_FLIGHT)
			continue;
		if (d->largest_acked - pn >= 3 || s->sent_us <= now - delay)
			lose(d, s);
	}
	advance_first_pn(d);
}

static void
on_ack(DgTransport *d, const guint8 *p, gsize len, gint64 now)
{
	if (len < ACK_HDR)
		return;
	gint64 ack_delay = rd32(p + 1);
	guint64 limit = rd64(p + 5);
	guint n = p[13];
	if (n == 0 || len != ACK_HDR + (gsize)n * 16)
		return;
	if (limit > d->peer_max) {
		d->peer_max = limit;
		d->persist_count = 0;
	}

	Sent *newest = NULL;
	guint64 newest_pn = 0, prev_lo = G_MAXUINT64;
	gboolean first = TRUE;
	for (guint i = 0; i < n; i++) {
		guint64 hi = rd64(p + ACK_HDR + 16 * i), lo = rd64(p + ACK_HDR + 16 * i + 8);
		/* unordered ranges end the parse; a range above what we sent (a forged
		 * packet number the peer recorded) is cut to what we did send */
		if (lo > hi || hi >= prev_lo)
			break;
		prev_lo = lo;
		if (lo >= d->next_pn)
			continue;
		hi = MIN(hi, d->next_pn - 1);
		if (first && (!d->any_acked || hi > d->largest_acked)) {
			Sent *s = slot(d, hi);
			if (hi >= d->first_pn && s->state == SENT_FLIGHT)
				update_rtt(d, now - s->sent_us, ack_delay, now);
			d->largest_acked = hi;
			d->any_acked = TRUE;
		}
		first = FALSE;
		for (guint64 pn = MAX(lo, d->first_pn); pn <= hi; pn++) {
			Sent *s = slot(d, pn);
			if (s->state != SENT_FLIGHT)
				continue;
			s->state = SENT_DONE;
			d->inflight -= s->len + DATA_HDR;
			d->delivered += s->len + DATA_HDR;
			d->round_delivered += s->len + DATA_HDR;
			mark_acked(d, s->off, s->off + s->len);
			if (newest == NULL || pn > newest_pn) {
				newest = s;
				newest_pn = pn;
			}
		}
	}
	if (newest == NULL) {
		try_send(d, now);
		return;
	}
	d->pto_count = 0;
	d->ack_wait_us = now;

	/* delivery rate over the longer of the send and the ack intervals (BBR) */
	gboolean round_start = FALSE;
	gint64 send_int = newest->sent_us - newest->first_sent_us;
	gint64 ack_int = now - newest->delivered_us;
	gint64 interval = MAX(send_int, ack_int);
	if (newest->delivered >= d->next_round_delivered) {
		d->next_round_delivered = d->delivered;
		d->round++;
		round_start = TRUE;
	}
	if (interval > 0 && interval >= d->min_rtt / 2) {
		double rate = (double)(d->delivered - newest->delivered) * 1e6 / interval;
		if (!newest->app_limited || rate > d->btl_bw)
			bw_sample(d, rate);
	}
	d->delivered_us = now;
	d->first_sent_us = newest->sent_us;

	detect_lost(d, now);
	bbr_update(d, round_start, now);
	advance_first_pn(d);
	try_send(d, now);
}

/* ---- receiver ------------------------------------------------------------------ */

/* FALSE when pn was seen before. */
static gboolean
record_pn(DgTransport *d, guint64 pn)
{
	GArray *a = d->pns;
	guint i;
	for (i = 0; i < a->len; i++) {
		PnRange *r = &g_array_index(a, PnRange, i);
		if (pn > r->hi + 1) {
			break;
		} else if (pn == r->hi + 1) {
			r->hi = pn;
			if (i > 0 && g_array_index(a, PnRange, i - 1).lo == pn + 1) {
				r->hi = g_array_index(a, PnRange, i - 1).hi;
				g_array_remove_index(a, i - 1);
			}
			return TRUE;
		} else if (pn >= r->lo) {
			return FALSE;
		} else if (pn + 1 == r->lo) {
			r->lo = pn;
			if (i + 1 < a->len && g_array_index(a, PnRange, i + 1).hi + 1 == pn) {
				r->lo = g_array_index(a, PnRange, i + 1).lo;
				g_array_remove_index(a, i + 1);
			}
			return TRUE;
		}
	}
	PnRange n = { pn, pn };
	g_array_insert_val(a, i, n);
	if (a->len > RECV_RANGES_MAX)
		g_array_set_size(a, RECV_RANGES_MAX);
	return TRUE;
}

static void
send_ack(DgTransport *d, gint64 now)
{
	guint8 pkt[ACK_HDR + ACK_RANGES_MAX * 16];
	guint n = MIN(d->pns->len, ACK_RANGES_MAX);

	if (n == 0)
		return;
	pkt[0] = DG_ACK;
	wr32(pkt + 1, (guint32)MIN(now - d->largest_rcv_us, G_MAXUINT32));
	d->adv_limit = rcv_limit(d);
	wr64(pkt + 5, d->adv_limit);
	pkt[13] = n;
	for (guint i = 0; i < n; i++) {
		PnRange *r = &g_array_index(d->pns, PnRange, i);
		wr64(pkt + ACK_HDR + 16 * i, r->hi);
		wr64(pkt + ACK_HDR + 16 * i + 8, r->lo);
	}
	/* a lost ack is covered by the next one */
	(void)send_datagram(d, pkt, ACK_HDR + n * 16);
	d->ack_pending = 0;
	d->ack_due_us = 0;
}

static gint
seg_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : x > y;
}

static void
take_in_order(DgTransport *d, guint64 off, const guint8 *data, gsize len)
{
	if (off + len <= d->rcv_nxt)
		return;
	gsize skip = d->rcv_nxt - off;
	g_byte_array_append(d->rx, data + skip, len - skip);
	d->rcv_nxt = off + len;
}

static void
on_data(DgTransport *d, const guint8 *p, gsize len, gint64 now)
{
	if (len < DATA_HDR)
		return;
	guint64 pn = rd64(p + 1), off = rd64(p + 9);
	/* Packet numbers start at 0 and grow by one per packet: one far past the highest
	 * seen is forged, and would make our acks nonsense to the honest sender (or wrap
	 * the range arithmetic). */
	if (pn >= PN_MAX || (d->pns->len > 0 && pn > g_array_index(d->pns, PnRange, 0).hi + PN_AHEAD_MAX))
		return;
	if (len == DATA_HDR) {
		/* a window probe: the sender is at our limit with nothing in flight; the ack
		 * tells it where the limit is now */
		if (record_pn(d, pn))
			send_ack(d, now);
		return;
	}
	gsize plen = len - DATA_HDR;
	/* past our limit: dropped unacknowledged, the sender sends it again */
	if (off > G_MAXUINT64 - plen || off + plen > rcv_limit(d)) {
		d->drop_win++;
		return;
	}
	if (!d->closed && d->parent.cb.readable == NULL && d->rx->len + plen > EARLY_MAX) {
		d->drop_early++;
		return;
	}
	/* Segments at distinct offsets may overlap: forged ones (from the peer's address)
	 * must not hold more than the window, whatever their offsets. An honest sender's
	 * never do: they do not overlap and all lie below the limit. Dropped before the
	 * packet number is recorded, so that it is not acked. */
	if (off > d->rcv_nxt && d->ooo_bytes + plen > rcv_limit(d) - d->rcv_nxt &&
	    g_tree_lookup(d->ooo, &off) == NULL) {
		d->drop_win++;
		return;
	}
	gboolean gap = d->pns->len > 0 && pn != g_array_index(d->pns, PnRange, 0).hi + 1;
	if (!record_pn(d, pn)) {
		d->drop_dup++;
		return; /* a duplicate datagram */
	}
	d->rcvd_pkts++;
	if (pn == g_array_index(d->pns, PnRange, 0).hi)
		d->largest_rcv_us = now;

	if (off <= d->rcv_nxt) {
		take_in_order(d, off, p + DATA_HDR, plen);
		/* what arrived earlier out of order may follow now */
		GTreeNode *node;
		while ((node = g_tree_node_first(d->ooo)) != NULL) {
			Seg *s = g_tree_node_value(node);
			if (s->off > d->rcv_nxt)
				break;
			take_in_order(d, s->off, s->data, s->len);
			d->ooo_bytes -= s->len;
			g_tree_remove(d->ooo, &s->off);
		}
		if (d->closed)
			g_byte_array_set_size(d->rx, 0); /* nobody reads any more */
		else
			schedule_notify(d);
	} else if (g_tree_lookup(d->ooo, &off) == NULL) {
		Seg *s = g_malloc(sizeof(Seg) + plen);
		s->off = off;
		s->len = plen;
		memcpy(s->data, p + DATA_HDR, plen);
		g_tree_insert(d->ooo, &s->off, s);
		d->ooo_bytes += plen;
	}

	if (++d->ack_pending >= ACK_EVERY || gap)
		send_ack(d, now);
	else if (d->ack_due_us == 0)
		d->ack_due_us = now + ACK_DELAY_US;
}

static void
on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
        gpointer data)
{
	DgTransport *d = data;

	if (!d->sock_tuned)
		tune_socket(d);
	p2p_transport_dgram_input(&d->parent, (const guint8 *)buf, len);
}

void
p2p_transport_dgram_input(P2pTransport *t, const guint8 *buf, gsize len)
{
	DgTransport *d = (DgTransport *)t;
	gint64 now = g_get_monotonic_time();

	g_return_if_fail(t->ops == &dgram_ops);
	if (len == 0)
		return;
	switch (buf[0]) {
	case DG_DATA:
		on_data(d, buf, len, now);
		break;
	case DG_ACK:
		on_ack(d, buf, len, now);
		break;
	default:
		break; /* unknown: a later version's, or noise */
	}
	rearm(d);
}

/* ---- timer ---------------------------------------------------------------------- */

static gint64
pto_us(DgTransport *d)
{
	/* The peer acks from its main loop, which may spend tens of milliseconds on a
	 * backlog of records to decrypt, hash and write: on a LAN a timeout of a few
	 * RTTs fired while nothing was lost (measured: ~15 spurious probes per 256 MiB
	 * on loopback at 5 ms). Real tail losses are rare; 20 ms costs them little. */
	gint64 base = d->srtt == 0 ? PTO_FIRST_US
	                           : MAX(d->srtt + MAX(4 * d->rttvar, 1000) + 5 * ACK_DELAY_US,
	                                 PTO_MIN_US);
	return base << MIN(d->pto_count, 6);
}

/* Everything acknowledged, more to send, and the peer's limit reached: only an ack
 * can open the window, and without data in flight none would come. */
static gboolean
flow_blocked(DgTransport *d)
{
	return d->inflight == 0 && d->rtx_head >= d->rtx->len && d->snd_nxt < d->snd_end &&
	       d->snd_nxt >= d->peer_max;
}

static gint64
persist_us(DgTransport *d)
{
	gint64 base = d->srtt == 0 ? PTO_FIRST_US : d->srtt + MAX(4 * d->rttvar, 1000);
	return MIN(base << MIN(d->persist_count, 10), G_USEC_PER_SEC);
}

/* A DATA header with no payload (TCP's persist probe): the peer acks it at once, with
 * its current limit. It takes a packet number but is never in flight or resent. */
static void
send_window_probe(DgTransport *d, gint64 now)
{
	guint8 pkt[DATA_HDR];

	if (d->next_pn - d->first_pn == d->sent_cap)
		sent_grow(d);
	guint64 pn = d->next_pn++;
	*slot(d, pn) = (Sent){ .off = d->snd_nxt, .state = SENT_DONE, .sent_us = now };
	advance_first_pn(d);
	pkt[0] = DG_DATA;
	wr64(pkt + 1, pn);
	wr64(pkt + 9, d->snd_nxt);
	(void)send_datagram(d, pkt, sizeof pkt);
	d->last_sent_us = now;
	d->persist_count++;
}

static gint64
deadline(DgTransport *d)
{
	gint64 t = G_MAXINT64;
	if (d->ack_due_us)
		t = MIN(t, d->ack_due_us);
	if (d->inflight > 0) {
		t = MIN(t, d->last_sent_us + pto_us(d));
		/* time-threshold loss of packets below the largest acked */
		if (d->any_acked && d->first_pn < d->largest_acked) {
			gint64 delay = MAX(MAX(d->srtt, d->latest_rtt) * 9 / 8, 1000);
			t = MIN(t, slot(d, d->first_pn)->sent_us + delay);
		}
	}
	if (flow_blocked(d))
		t = MIN(t, d->last_sent_us + persist_us(d));
	/* paced data waiting */
	if ((d->rtx_head < d->rtx->len || d->snd_nxt < MIN(d->snd_end, d->peer_max)) &&
	    d->inflight + DG_MTU <= cwnd(d))
		t = MIN(t, d->pace_next_us);
	return t;
}

static void
rearm(DgTransport *d)
{
	if (d->timer == NULL)
		return;
	gint64 t = deadline(d);
	g_source_set_ready_time(d->timer, t == G_MAXINT64 ? -1 : t);
}

static gboolean
timer_cb(gpointer data)
{
	DgTransport *d = data;
	gint64 now = g_get_monotonic_time();

	if (d->ack_due_us && now >= d->ack_due_us)
		send_ack(d, now);
	if (d->inflight > 0) {
		if (now - d->ack_wait_us > IDLE_FAIL_US) {
			fail(d, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			                    "no acknowledgement from the peer for %d s (stream %u)",
			                    (int)(IDLE_FAIL_US / G_USEC_PER_SEC), d->stream_id));
			g_source_set_ready_time(d->timer, -1);
			return G_SOURCE_CONTINUE;
		}
		detect_lost(d, now);
		if (d->inflight > 0 && now >= d->last_sent_us + pto_us(d)) {
			/* probe timeout: the oldest packet goes again, past cwnd, and its ack
			 * tells which of the others were lost */
			g_debug("dgram: probe timeout %u: %zu in flight, cwnd %zu, una %" G_GUINT64_FORMAT
			        " nxt %" G_GUINT64_FORMAT " end %" G_GUINT64_FORMAT " peer max %"
			        G_GUINT64_FORMAT ", pn %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
			        " largest acked %" G_GUINT64_FORMAT ", rtx %u",
			        d->pto_count, d->inflight, cwnd(d), d->snd_una, d->snd_nxt, d->snd_end,
			        d->peer_max, d->first_pn, d->next_pn, d->largest_acked,
			        d->rtx->len - d->rtx_head);
			Sent *s = slot(d, d->first_pn);
			if (s->state == SENT_FLIGHT)
				lose(d, s);
			advance_first_pn(d);
			d->pto_count++;
			d->probes = 2;
			d->last_sent_us = now;
		}
	}
	if (flow_blocked(d) && now >= d->last_sent_us + persist_us(d))
		send_window_probe(d, now);
	try_send(d, now);
	return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	g_source_set_ready_time(source, -1);
	return cb(data);
}

static GSourceFuncs timer_funcs = { .dispatch = timer_dispatch };

/* ---- P2pTransport ---------------------------------------------------------------- */

static void
on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
	DgTransport *d = data;

	if (stream_id != d->stream_id || component_id != d->component_id)
		return;
	if (state == NICE_COMPONENT_STATE_READY)
		tune_socket(d);
	if (state == NICE_COMPONENT_STATE_FAILED)
		fail(d, g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
		                    "ICE connection failed (stream %u, component %u)", stream_id,
		                    component_id));
}

static void
on_pair(NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *l,
        NiceCandidate *r, gpointer data)
{
	DgTransport *d = data;

	/* another socket may carry us now */
	if (stream_id == d->stream_id && component_id == d->component_id) {
		d->sock_tuned = FALSE;
		gso_off(d, "the selected pair changed");
	}
}

static gssize
dg_write(P2pTransport *t, const guint8 *data, gsize len, GError **error)
{
	DgTransport *d = (DgTransport *)t;

	if (d->closed || d->fail != NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "datagram transport is closed");
		return -1;
	}
	gsize held = d->snd_end - d->snd_una;
	gsize unsent = d->snd_end - d->snd_nxt, umax = unsent_max(d);
	gsize cap = snd_cap(d);
	if (held >= cap || unsent >= umax) {
		d->want_writable = TRUE;
		return 0;
	}
	gsize n = MIN(len, MIN(cap - held, umax - unsent));
	sbuf_reserve(d, held + n);
	gsize at = d->snd_end & (d->sbuf_cap - 1);
	gsize run = MIN(n, d->sbuf_cap - at);
	memcpy(d->sbuf + at, data, run);
	if (run < n)
		memcpy(d->sbuf, data + run, n - run);
	d->snd_end += n;
	if (n < len)
		d->want_writable = TRUE;
	try_send(d, g_get_monotonic_time());
	return n;
}

/* Stops the callbacks; what is queued still goes out, and acks still come and go,
 * until free (the session keeps the agent a little while for that). */
static void
dg_close(P2pTransport *t)
{
	DgTransport *d = (DgTransport *)t;

	if (d->closed)
		return;
	d->closed = TRUE;
	if (d->notify != NULL) {
		g_source_destroy(d->notify);
		g_clear_pointer(&d->notify, g_source_unref);
	}
	g_clear_error(&d->fail);
	g_byte_array_set_size(d->rx, 0);
	g_debug("dgram: closed after %" G_GUINT64_FORMAT " packets out (%" G_GUINT64_FORMAT
	        " lost, %" G_GUINT64_FORMAT " GSO sends), %" G_GUINT64_FORMAT " in; %.1f MB/s "
	        "estimated, min RTT %.1f ms; dropped %" G_GUINT64_FORMAT " (window) %" G_GUINT64_FORMAT
	        " (early) %" G_GUINT64_FORMAT " (duplicate)"
	        "; send ring %zu KiB, receive window %zu KiB", d->sent_pkts, d->lost,
	        d->gso_sends, d->rcvd_pkts, d->btl_bw / 1e6, d->min_rtt / 1e3, d->drop_win,
	        d->drop_early, d->drop_dup, d->sbuf_cap / 1024, rcv_window(d) / 1024);
}

static void
dg_free(P2pTransport *t)
{
	DgTransport *d = (DgTransport *)t;

	dg_close(t);
	nice_agent_attach_recv(d->agent, d->stream_id, d->component_id, d->context, NULL, NULL);
	g_clear_signal_handler(&d->state_handler, d->agent);
	g_clear_signal_handler(&d->pair_handler, d->agent);
	if (d->timer != NULL) {
		g_source_destroy(d->timer);
		g_clear_pointer(&d->timer, g_source_unref);
	}
	g_clear_object(&d->gso_sock);
	g_free(d->batch);
	g_free(d->sbuf);
	g_free(d->sent);
	g_array_unref(d->acked);
	g_array_unref(d->rtx);
	g_array_unref(d->pns);
	g_tree_unref(d->ooo);
	g_byte_array_unref(d->rx);
	g_clear_pointer(&d->context, g_main_context_unref);
	g_clear_object(&d->agent);
	g_free(d);
}

static const P2pTransportOps dgram_ops = {
	.write = dg_write,
	.close = dg_close,
	.free = dg_free,
	.name = "datagram",
};

P2pTransport *
p2p_transport_dgram_new(NiceAgent *agent, guint stream_id, guint component_id)
{
	g_return_val_if_fail(NICE_IS_AGENT(agent), NULL);

	DgTransport *d = g_new0(DgTransport, 1);
	d->parent.ops = &dgram_ops;
	d->agent = g_object_ref(agent);
	d->stream_id = stream_id;
	d->component_id = component_id;
	GMainContext *ctx = NULL;
	g_object_get(agent, "main-context", &ctx, NULL);
	d->context = g_main_context_ref(ctx != NULL ? ctx : g_main_context_default());
	d->sent_cap = 1024;
	d->sent = g_new0(Sent, d->sent_cap);
	d->acked = g_array_new(FALSE, FALSE, sizeof(OffRange));
	d->rtx = g_array_new(FALSE, FALSE, sizeof(OffRange));
	d->pns = g_array_new(FALSE, FALSE, sizeof(PnRange));
	d->ooo = g_tree_new_full(seg_cmp, NULL, NULL, g_free);
	d->rx = g_byte_array_sized_new(64 * 1024);
	/* until the first ack: the peer takes the smallest window, the first flight goes
	 * unpaced (STARTUP's first round trip sends far less) */
	d->peer_max = RCV_WINDOW_MIN;
	d->adv_limit = RCV_WINDOW_MIN; /* what the peer assumes of us, likewise */
	d->pacing_rate = 0;
	d->timer = g_source_new(&timer_funcs, sizeof(GSource));
	g_source_set_callback(d->timer, timer_cb, d, NULL);
	g_source_set_ready_time(d->timer, -1);
	g_source_attach(d->timer, d->context);
	d->state_handler = g_signal_connect(agent, "component-state-changed",
	                                    G_CALLBACK(on_state), d);
	d->pair_handler = g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_pair), d);
	nice_agent_attach_recv(agent, stream_id, component_id, d->context, on_recv, d);
	return &d->parent;
}

gsize
p2p_transport_dgram_buffered(P2pTransport *t)
{
	g_return_val_if_fail(t->ops == &dgram_ops, 0);
	DgTransport *d = (DgTransport *)t;
	return d->rx->len + d->ooo_bytes;
}

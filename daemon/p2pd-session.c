/* p2pd-session.c: see p2pd-session.h.
 *
 * The initiator is ICE-controlling and the TLS client; the responder the opposite.
 * When both sides offer at once (glare), the side with the lower fingerprint keeps its
 * offer and the other answers it. */
#include "config.h"

#include <gio/gio.h>

#include <agent.h>
#include <string.h>

#include "p2p-frame.h"
#include "p2p-jsonrpc.h"
#include "p2p-log.h"
#include "p2pd-session.h"
#include "p2pd-testhooks.h"
#include "p2pd-transfer.h"
#include "p2pd-transport.h"

/* Rates are over the last RATE_SAMPLES - 1 seconds: short enough to follow a transfer,
 * long enough to smooth the sender's 20 ms pacing and TCP bursts. */
#define RATE_SAMPLES 6

typedef struct {
	gint64 t; /* monotonic */
	guint64 in;
	guint64 out;
} RateSample;

struct _P2pSession {
	P2pDaemon *d;
	char *peer_id;
	char *peer_fingerprint; /* announced by the signaling server */
	char *sid;
	gboolean controlling;
	P2pSessionState state;
	NiceAgent *agent;
	guint stream;
	gboolean remote_creds;
	P2pTransport *transport; /* until the channel takes it */
	P2pChannel *channel;
	P2pChannel *closing;    /* closed, freed with the session */
	char *path;
	NiceCandidate *local;   /* the selected pair (copies), for the link report */
	NiceCandidate *remote;
	guint path_changes;     /* pairs selected after the session became ready */
	guint timeout;
	guint free_timer;
	gboolean hello_sent;
	gboolean datagram;       /* p2pd-transport-dgram.c over a non-reliable agent */
	/* once ready: a 1 s tick samples the channel's counters, pings, watches silence */
	gboolean peer_pings;    /* its HELLO listed P2P_CAP_PING */
	guint tick;
	guint ticks;
	gint64 ready_at;        /* real time */
	gint64 last_heard;      /* monotonic: when bytes last came in */
	guint64 last_in;
	double srtt_ms;         /* smoothed PING round trip, 0 until the first PONG */
	RateSample rate[RATE_SAMPLES];
	guint rate_next;        /* ring index of the next sample */
	guint rate_count;
	char **peer_caps;       /* the capabilities in the peer's HELLO */
};

static void session_destroy(P2pSession *s);
static gboolean free_idle(gpointer data);
static guint free_soon(P2pSession *s);

P2pSessionState
p2p_session_get_state(P2pSession *s)
{
	return s->state;
}

const char *
p2p_session_state_name(P2pSession *s)
{
	switch (s->state) {
	case P2P_SESSION_CONNECTING:
	case P2P_SESSION_SECURING:
		return "connecting";
	case P2P_SESSION_READY:
		return "connected";
	case P2P_SESSION_CLOSED:
		return "none";
	}
	return "?";
}

P2pChannel *
p2p_session_get_channel(P2pSession *s)
{
	return s->channel;
}

const char *
p2p_session_peer_id(P2pSession *s)
{
	return s->peer_id;
}

const char *
p2p_session_path(P2pSession *s)
{
	return s->path;
}

gboolean
p2p_session_peer_has_cap(P2pSession *s, const char *cap)
{
	return s->peer_caps && g_strv_contains((const char *const *)s->peer_caps, cap);
}

static void
send_signal(P2pSession *s, const char *kind, JsonObject *extra)
{
	g_autoptr(GError) error = NULL;
	JsonObject *p = extra ? extra : json_object_new();

	json_object_set_string_member(p, "to", s->peer_id);
	json_object_set_string_member(p, "kind", kind);
	json_object_set_string_member(p, "session", s->sid);
	if (!p2p_signal_request(s->d->signal, P2P_S_SIGNAL, p, NULL, NULL, &error))
		g_debug("session %s: cannot send %s: %s", s->peer_id, kind, error->message);
}

static void
send_credentials(P2pSession *s, const char *kind)
{
	g_autofree char *ufrag = NULL;
	g_autofree char *pwd = NULL;

	nice_agent_get_local_credentials(s->agent, s->stream, &ufrag, &pwd);
	JsonObject *p = json_object_new();
	json_object_set_string_member(p, "ufrag", ufrag);
	json_object_set_string_member(p, "pwd", pwd);
	/* the answerer takes the offerer's: the two ends must run the same transport */
	json_object_set_string_member(p, "transport", s->datagram ? P2P_TRANSPORT_DATAGRAM
	                                                        : P2P_TRANSPORT_PSEUDOTCP);
	send_signal(s, kind, p);
}

static void
new_candidate_cb(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
	P2pSession *s = data;
	g_autofree char *sdp = nice_agent_generate_local_candidate_sdp(agent, cand);
	JsonObject *p = json_object_new();
	JsonArray *a = json_array_new();

	g_debug("session %s: local candidate %s", s->peer_id, sdp);
	json_array_add_string_element(a, sdp);
	json_object_set_array_member(p, "candidates", a);
	send_signal(s, P2P_SK_CANDIDATE, p);
}

static void
gathering_done_cb(NiceAgent *agent, guint stream, gpointer data)
{
	send_signal(data, P2P_SK_END, NULL);
}

static const char *
cand_type(NiceCandidateType t)
{
	switch (t) {
	case NICE_CANDIDATE_TYPE_HOST: return "host";
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
	case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
	}
	return "?";
}

/* How a relayed candidate reaches its TURN server. libnice 0.1.21 does not say, but
 * its type preference does (the top byte of the priority, the same on the peer's
 * side): 30 over UDP, 20 over TCP, halved for a UDP candidate on a reliable agent.
 * The lab's scenarios 4 and 5 check both. */
static const char *
relay_transport(const NiceCandidate *c)
{
	switch (c->priority >> 24) {
	case 30: case 15: return " (turn-udp)";
	case 20: case 10: return " (turn-tcp)";
	}
	return "";
}

static char *
cand_describe(NiceCandidate *c)
{
	char addr[NICE_ADDRESS_STRING_LEN];
	nice_address_to_string(&c->addr, addr);
	gboolean v6 = strchr(addr, ':') != NULL;
	return g_strdup_printf("%s %s%s%s:%u%s", cand_type(c->type), v6 ? "[" : "", addr,
	                       v6 ? "]" : "", nice_address_get_port(&c->addr),
	                       c->type == NICE_CANDIDATE_TYPE_RELAYED ? relay_transport(c) : "");
}

static void
selected_pair_cb(NiceAgent *agent, guint stream, guint comp, NiceCandidate *local,
                 NiceCandidate *remote, gpointer data)
{
	P2pSession *s = data;
	g_autofree char *l = cand_describe(local);
	g_autofree char *r = cand_describe(remote);
	const char *proto = local->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp";

	g_autofree char *old = g_steal_pointer(&s->path);
	s->path = g_strdup_printf("%s %s <-> %s", proto, l, r);
	g_clear_pointer(&s->local, nice_candidate_free);
	g_clear_pointer(&s->remote, nice_candidate_free);
	s->local = nice_candidate_copy(local);
	s->remote = nice_candidate_copy(remote);
	if (s->state == P2P_SESSION_READY && g_strcmp0(old, s->path) != 0) {
		/* libnice moved the stream to another pair under the live channel */
		s->path_changes++;
		p2p_log_fields(G_LOG_LEVEL_INFO, s->peer_id, NULL, -1, p2p_session_path_type(s),
		               "session %s: path changed from %s to %s", s->peer_id,
		               old ? old : "?", s->path);
		return;
	}
	g_info("session %s: path %s", s->peer_id, s->path);
}

/* ---- liveness, round trip and rates -------------------------------------------- */

static void
send_ping(P2pSession *s)
{
	guint8 p[P2P_PING_LEN];
	guint64 now = (guint64)g_get_monotonic_time();

	for (guint i = 0; i < P2P_PING_LEN; i++)
		p[i] = now >> (8 * (P2P_PING_LEN - 1 - i));
	if (p2p_test_hooks && p2p_test_hooks->ping && !p2p_test_hooks->ping(P2P_FRAME_PING))
		return;
	p2p_channel_send(s->channel, P2P_FRAME_PING, p, sizeof(p), NULL);
}

static gboolean
tick_cb(gpointer data)
{
	P2pSession *s = data;
	gint64 now = g_get_monotonic_time();
	RateSample *r = &s->rate[s->rate_next];

	if (s->channel == NULL)
		return G_SOURCE_CONTINUE;
	r->t = now;
	p2p_channel_get_counters(s->channel, &r->in, &r->out);
	s->rate_next = (s->rate_next + 1) % RATE_SAMPLES;
	s->rate_count = MIN(s->rate_count + 1, RATE_SAMPLES);
	if (r->in != s->last_in) {
		s->last_in = r->in;
		s->last_heard = now;
	}
	/* a peer that pings speaks every P2P_PING_INTERVAL_S: its silence means the path
	 * died, whatever ICE says (an ICE-TCP pair can hang without failing) */
	if (s->peer_pings && now - s->last_heard > P2P_PEER_SILENCE_S * G_USEC_PER_SEC) {
		g_autofree char *m = g_strdup_printf("nothing heard from %s for %d s over %s: "
		                                     "the path is gone", s->peer_id,
		                                     P2P_PEER_SILENCE_S, s->path ? s->path : "?");
		g_warning("session %s: %s", s->peer_id, m);
		s->tick = 0;
		p2p_transfers_session_closed(s->d, s, P2P_REASON_DISCONNECTED, m);
		send_signal(s, P2P_SK_BYE, NULL);
		session_destroy(s);
		return G_SOURCE_REMOVE;
	}
	if (s->peer_pings && ++s->ticks % P2P_PING_INTERVAL_S == 0)
		send_ping(s);
	return G_SOURCE_CONTINUE;
}

const char *
p2p_session_path_type(P2pSession *s)
{
	if (s->local == NULL || s->remote == NULL)
		return NULL;
	gboolean relayed = s->local->type == NICE_CANDIDATE_TYPE_RELAYED ||
	                   s->remote->type == NICE_CANDIDATE_TYPE_RELAYED;
	gboolean udp = s->local->transport == NICE_CANDIDATE_TRANSPORT_UDP;
	return relayed ? (udp ? "relayed-udp" : "relayed-tcp") : (udp ? "direct-udp" : "direct-tcp");
}

static JsonObject *
cand_json(NiceCandidate *c)
{
	JsonObject *o = json_object_new();
	char addr[NICE_ADDRESS_STRING_LEN];

	nice_address_to_string(&c->addr, addr);
	json_object_set_string_member(o, "type", cand_type(c->type));
	json_object_set_string_member(o, "address", addr);
	json_object_set_int_member(o, "port", nice_address_get_port(&c->addr));
	if (c->type == NICE_CANDIDATE_TYPE_RELAYED) {
		const char *via = relay_transport(c);
		/* " (turn-udp)" -> "turn-udp" */
		if (*via) {
			g_autofree char *name = g_strndup(via + 2, strlen(via) - 3);
			json_object_set_string_member(o, "relay", name);
		}
	}
	return o;
}

JsonObject *
p2p_session_link_json(P2pSession *s)
{
	if (s->state != P2P_SESSION_READY || s->channel == NULL || s->local == NULL ||
	    s->remote == NULL)
		return NULL;
	JsonObject *o = json_object_new();
	guint64 in = 0, out = 0;

	p2p_channel_get_counters(s->channel, &in, &out);
	json_object_set_string_member(o, "path", s->path);
	json_object_set_string_member(o, "type", p2p_session_path_type(s));
	json_object_set_string_member(o, "transport",
	                              s->local->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp"
	                                                                                  : "tcp");
	json_object_set_string_member(o, "carrier", s->datagram ? P2P_TRANSPORT_DATAGRAM
	                                                      : P2P_TRANSPORT_PSEUDOTCP);
	json_object_set_boolean_member(o, "relayed",
	                               s->local->type == NICE_CANDIDATE_TYPE_RELAYED ||
	                                   s->remote->type == NICE_CANDIDATE_TYPE_RELAYED);
	json_object_set_object_member(o, "local", cand_json(s->local));
	json_object_set_object_member(o, "remote", cand_json(s->remote));
	if (s->srtt_ms > 0)
		json_object_set_double_member(o, "rtt_ms", s->srtt_ms);
	/* rate over the samples the tick took, up to RATE_SAMPLES - 1 seconds back */
	double rin = 0, rout = 0;
	if (s->rate_count >= 2) {
		RateSample *newest = &s->rate[(s->rate_next + RATE_SAMPLES - 1) % RATE_SAMPLES];
		RateSample *oldest = &s->rate[s->rate_count < RATE_SAMPLES ? 0 : s->rate_next];
		double secs = (double)(newest->t - oldest->t) / G_USEC_PER_SEC;
		if (secs > 0) {
			rin = (double)(newest->in - oldest->in) / secs;
			rout = (double)(newest->out - oldest->out) / secs;
		}
	}
	json_object_set_double_member(o, "rate_in", rin);
	json_object_set_double_member(o, "rate_out", rout);
	json_object_set_int_member(o, "bytes_in", (gint64)in);
	json_object_set_int_member(o, "bytes_out", (gint64)out);
	json_object_set_double_member(o, "since", (double)s->ready_at / G_USEC_PER_SEC);
	json_object_set_int_member(o, "path_changes", s->path_changes);
	return o;
}

/* ---- the channel -------------------------------------------------------------- */

static void
send_error_frame(P2pSession *s, const char *code, const char *message)
{
	g_autoptr(JsonObject) o = json_object_new();
	json_object_set_string_member(o, "code", code);
	json_object_set_string_member(o, "message", message);
	p2p_channel_send_json(s->channel, P2P_FRAME_ERROR, o, NULL);
}

static void
emit_error(P2pSession *s, const char *message)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "message", message);
	json_object_set_string_member(o, "peer", s->peer_id);
	p2p_daemon_emit(s->d, P2P_E_ERROR, p2p_json_node_take_object(o));
}

static void
channel_ready(P2pChannel *c, const char *peer_fp, gpointer data)
{
	P2pSession *s = data;
	P2pDaemon *d = s->d;
	g_autofree char *pinned = p2p_daemon_pinned_fingerprint(d, s->peer_id);
	g_autofree char *why = NULL;

	if (g_strcmp0(peer_fp, s->peer_fingerprint) != 0) {
		why = g_strdup_printf("%s presented key %s, but the signaling server announced %s",
		                      s->peer_id, peer_fp, s->peer_fingerprint);
	} else if (pinned && strcmp(pinned, peer_fp) != 0) {
		why = g_strdup_printf("the key of %s changed: it presented %s, the pinned key is %s; "
		                      "refusing (if the change is expected, update the pin)",
		                      s->peer_id, peer_fp, pinned);
	}
	if (why) {
		g_warning("session %s: %s", s->peer_id, why);
		emit_error(s, why);
		g_autofree char *to_peer = g_strdup_printf("%s refused your key: %s",
		                                           d->cfg->agent, why);
		p2p_session_close(s, P2P_REASON_KEY_MISMATCH, to_peer);
		return;
	}
	if (pinned == NULL) {
		g_autoptr(GError) error = NULL;
		if (!p2p_state_pin_set(d->state, s->peer_id, peer_fp, &error))
			g_warning("session %s: %s", s->peer_id, error->message);
		else
			g_info("session %s: pinned key %s on first contact", s->peer_id, peer_fp);
	}
	JsonObject *hello = json_object_new();
	JsonArray *caps = json_array_new();
	json_array_add_string_element(caps, "file");
	json_array_add_string_element(caps, "chat");
	json_array_add_string_element(caps, P2P_CAP_PING);
	json_array_add_string_element(caps, P2P_CALL_CAP);
	json_object_set_int_member(hello, "version", P2P_PEER_VERSION);
	json_object_set_string_member(hello, "agent", d->cfg->agent);
	json_object_set_array_member(hello, "caps", caps);
	p2p_channel_send_json(c, P2P_FRAME_HELLO, hello, NULL);
	json_object_unref(hello);
	s->hello_sent = TRUE;
}

static void
handle_hello(P2pSession *s, GBytes *payload)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, &error);
	gint64 version = o ? json_object_get_int_member_with_default(o, "version", 0) : 0;

	if (o == NULL) {
		p2p_session_close(s, P2P_REASON_PROTOCOL, error->message);
		return;
	}
	if (version != P2P_PEER_VERSION) {
		g_autofree char *m = g_strdup_printf("peer protocol version %" G_GINT64_FORMAT
		                                     " is not supported (this side speaks %d)",
		                                     version, P2P_PEER_VERSION);
		p2p_session_close(s, P2P_REASON_VERSION, m);
		return;
	}
	if (s->state == P2P_SESSION_READY)
		return;
	/* what the peer understands: a frame type it does not know would end the session */
	JsonNode *caps = json_object_get_member(o, "caps");
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	for (guint i = 0; caps && JSON_NODE_HOLDS_ARRAY(caps) &&
	                  i < MIN(json_array_get_length(json_node_get_array(caps)), 64);
	     i++) {
		JsonNode *e = json_array_get_element(json_node_get_array(caps), i);
		if (JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING &&
		    strlen(json_node_get_string(e)) <= 32)
			g_strv_builder_add(b, json_node_get_string(e));
	}
	g_strfreev(s->peer_caps);
	s->peer_caps = g_strv_builder_end(b);
	s->peer_pings = p2p_session_peer_has_cap(s, P2P_CAP_PING);
	s->state = P2P_SESSION_READY;
	g_clear_handle_id(&s->timeout, g_source_remove);
	s->ready_at = g_get_real_time();
	s->last_heard = g_get_monotonic_time();
	s->tick = g_timeout_add_seconds(1, tick_cb, s);
	if (s->peer_pings)
		send_ping(s);
	P2pPeer *peer = p2p_daemon_lookup_peer(s->d, s->peer_id);
	if (peer)
		peer->sessions++;
	p2p_log_fields(G_LOG_LEVEL_INFO, s->peer_id, NULL, -1, p2p_session_path_type(s),
	               "session %s: ready over %s (session %u with %s in this run)",
	               s->peer_id, s->path ? s->path : "?", peer ? peer->sessions : 0,
	               s->peer_id);
	p2p_transfers_session_ready(s->d, s);
}

/* PING: echo the bytes. PONG: they are our monotonic clock at the PING, in
 * microseconds, big-endian; the peer cannot learn or forge anything that matters. */
static gboolean
handle_ping(P2pSession *s, guint8 type, GBytes *payload)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(payload, &len);

	if (len != P2P_PING_LEN) {
		g_autofree char *m = g_strdup_printf("%s frame of %" G_GSIZE_FORMAT " bytes "
		                                     "(it has %d)", type == P2P_FRAME_PING ?
		                                     "PING" : "PONG", len, P2P_PING_LEN);
		p2p_session_close(s, P2P_REASON_PROTOCOL, m);
		return FALSE;
	}
	if (type == P2P_FRAME_PING) {
		if (!(p2p_test_hooks && p2p_test_hooks->ping && !p2p_test_hooks->ping(P2P_FRAME_PONG)))
			p2p_channel_send(s->channel, P2P_FRAME_PONG, p, len, NULL);
		return TRUE;
	}
	guint64 sent = 0;
	for (guint i = 0; i < P2P_PING_LEN; i++)
		sent = sent << 8 | p[i];
	gint64 now = g_get_monotonic_time();
	if (sent > (guint64)now || now - (gint64)sent > 120 * G_USEC_PER_SEC)
		return TRUE; /* not one of ours (or absurdly late): no sample */
	double ms = (double)(now - (gint64)sent) / 1000.0;
	/* RFC 6298's smoothing: one slow answer does not swing the figure */
	s->srtt_ms = s->srtt_ms > 0 ? 0.875 * s->srtt_ms + 0.125 * ms : ms;
	return TRUE;
}

static void
channel_frame(P2pChannel *c, guint8 type, GBytes *payload, gpointer data)
{
	P2pSession *s = data;

	if (s->state == P2P_SESSION_CLOSED)
		return;
	if (type == P2P_FRAME_HELLO) {
		handle_hello(s, payload);
		return;
	}
	if (type == P2P_FRAME_ERROR) {
		g_autoptr(JsonObject) o = p2p_frame_parse_json(payload, NULL);
		const char *code = o ? json_object_get_string_member_with_default(o, "code", NULL)
		                     : NULL;
		const char *msg = o ? json_object_get_string_member_with_default(o, "message", NULL)
		                    : NULL;
		g_autofree char *m = g_strdup_printf("%s closed the session: %s", s->peer_id,
		                                     msg ? msg : "no reason given");
		g_warning("session %s: %s", s->peer_id, m);
		emit_error(s, m);
		p2p_transfers_session_closed(s->d, s, code ? code : P2P_REASON_PROTOCOL, m);
		session_destroy(s);
		return;
	}
	if (s->state != P2P_SESSION_READY) {
		p2p_session_close(s, P2P_REASON_PROTOCOL, "frame before HELLO");
		return;
	}
	if (type == P2P_FRAME_PING || type == P2P_FRAME_PONG) {
		handle_ping(s, type, payload);
		return;
	}
	p2p_transfers_frame(s->d, s, type, payload);
}

static void
channel_writable(P2pChannel *c, gpointer data)
{
	P2pSession *s = data;
	if (s->state == P2P_SESSION_READY)
		p2p_transfers_session_writable(s->d, s);
}

static void
channel_closed(P2pChannel *c, const GError *error, gpointer data)
{
	P2pSession *s = data;
	g_autofree char *m = g_strdup_printf("connection to %s closed%s%s", s->peer_id,
	                                     error ? ": " : "", error ? error->message : "");
	if (s->state == P2P_SESSION_CLOSED) {
		/* the close we asked for is done: the session can go */
		if (c == s->closing) {
			g_source_remove(s->free_timer);
			s->free_timer = free_soon(s);
		}
		return;
	}
	g_info("session %s: %s", s->peer_id, m);
	/* already closed: freed with the session, not closed again */
	s->closing = g_steal_pointer(&s->channel);
	p2p_transfers_session_closed(s->d, s, P2P_REASON_DISCONNECTED, m);
	/* the path died under us (ICE failed, consent lost): our close_notify cannot
	 * reach the peer that way, the signaling server may; the peer then calls again
	 * at once instead of waiting for its own consent check to fail */
	if (error)
		send_signal(s, P2P_SK_BYE, NULL);
	session_destroy(s);
}

static const P2pChannelCallbacks channel_cb = {
	.ready = channel_ready,
	.frame = channel_frame,
	.writable = channel_writable,
	.closed = channel_closed,
};

static void
component_state_cb(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
	P2pSession *s = data;

	g_debug("session %s: component state %s", s->peer_id, nice_component_state_to_string(state));
	if (state == NICE_COMPONENT_STATE_READY && s->transport) {
		s->state = P2P_SESSION_SECURING;
		s->channel = p2p_channel_new(g_steal_pointer(&s->transport), s->d->identity,
		                             s->controlling, &channel_cb, s);
	} else if (state == NICE_COMPONENT_STATE_FAILED && s->channel == NULL) {
		g_autofree char *m = g_strdup_printf("no network path to %s: every ICE candidate pair "
		                                     "failed", s->peer_id);
		g_warning("session %s: %s", s->peer_id, m);
		p2p_transfers_session_closed(s->d, s, P2P_REASON_DISCONNECTED, m);
		send_signal(s, P2P_SK_BYE, NULL);
		session_destroy(s);
	}
}

static gboolean
timeout_cb(gpointer data)
{
	P2pSession *s = data;
	s->timeout = 0;
	g_autofree char *m = g_strdup_printf("could not connect to %s within %d s", s->peer_id,
	                                     P2P_SESSION_CONNECT_TIMEOUT_S);
	g_warning("session %s: %s", s->peer_id, m);
	p2p_transfers_session_closed(s->d, s, P2P_REASON_DISCONNECTED, m);
	send_signal(s, P2P_SK_BYE, NULL);
	session_destroy(s);
	return G_SOURCE_REMOVE;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void
agent_closed_cb(GObject *agent, GAsyncResult *result, gpointer stream)
{
	nice_agent_remove_stream(NICE_AGENT(agent), GPOINTER_TO_UINT(stream));
}

static gboolean
free_idle(gpointer data)
{
	P2pSession *s = data;
	GSource *current = g_main_current_source();
	if (s->free_timer && !(current && g_source_get_id(current) == s->free_timer))
		g_source_remove(s->free_timer);
	s->d->closed_sessions = g_list_remove(s->d->closed_sessions, s);
	if (s->closing)
		p2p_channel_free(s->closing);
	if (s->transport)
		p2p_transport_free(s->transport);
	if (s->agent) {
		g_signal_handlers_disconnect_by_data(s->agent, s);
		/* releases TURN allocations now (lifetime 0) rather than leaving them to
		 * expire on the relay; the task holds the agent until the requests are out.
		 * The stream goes only then: removing it at once closes the sockets the
		 * deallocations still retransmit on (libnice 0.1.21 skips refreshes that
		 * close_async already owns), and when the relay does not answer (it
		 * restarted: lab scenario 6b) a retransmission hits the closed socket and
		 * libnice aborts (udp-bsd.c: assertion sock->priv != NULL). */
		nice_agent_close_async(s->agent, agent_closed_cb, GUINT_TO_POINTER(s->stream));
		g_object_unref(s->agent);
	}
	g_free(s->peer_id);
	g_free(s->peer_fingerprint);
	g_free(s->sid);
	g_free(s->path);
	g_clear_pointer(&s->local, nice_candidate_free);
	g_clear_pointer(&s->remote, nice_candidate_free);
	g_strfreev(s->peer_caps);
	g_free(s);
	return G_SOURCE_REMOVE;
}

/* free_idle once the stack has unwound, at the default priority: a dead ICE-TCP
 * connection's socket (EOF, CLOSE_WAIT) keeps libnice's source at that priority ready
 * until the stream is removed, which starved a G_PRIORITY_DEFAULT_IDLE source for ever:
 * the daemon spun at 100% CPU after a lost session and never freed it. */
static guint
free_soon(P2pSession *s)
{
	return g_idle_add_full(G_PRIORITY_DEFAULT, free_idle, s, NULL);
}

/* Detaches the session from its peer and frees it once the stack has unwound. */
static void
session_destroy(P2pSession *s)
{
	if (s->state == P2P_SESSION_CLOSED)
		return;
	s->state = P2P_SESSION_CLOSED;
	s->d->closed_sessions = g_list_prepend(s->d->closed_sessions, s);
	g_clear_handle_id(&s->timeout, g_source_remove);
	g_clear_handle_id(&s->tick, g_source_remove);
	P2pPeer *peer = p2p_daemon_lookup_peer(s->d, s->peer_id);
	if (peer && peer->session == s)
		peer->session = NULL;
	if (s->agent)
		g_signal_handlers_disconnect_by_data(s->agent, s);
	if (s->channel) {
		/* callbacks may be on the stack: close now (close_notify and any ERROR frame
		 * still go out), free later, after the transport had time to flush */
		s->closing = g_steal_pointer(&s->channel);
		p2p_channel_close(s->closing);
		/* freed from channel_closed once close_notify is out, or after the
		 * channel's own close timeout */
		s->free_timer = g_timeout_add_seconds(15, free_idle, s);
		return;
	}
	s->free_timer = free_soon(s);
}

void
p2p_session_reap_all(P2pDaemon *d)
{
	while (d->closed_sessions)
		free_idle(d->closed_sessions->data);
}

void
p2p_session_close(P2pSession *s, const char *code, const char *message)
{
	if (s->state == P2P_SESSION_CLOSED)
		return;
	if (code && s->channel)
		send_error_frame(s, code, message);
	p2p_transfers_session_closed(s->d, s, code ? code : P2P_REASON_DISCONNECTED,
	                             message ? message : "session closed");
	/* with a channel up the peer learns it in band, and a bye through the server
	 * could overtake the ERROR frame that says why */
	if (s->channel == NULL)
		send_signal(s, P2P_SK_BYE, NULL);
	session_destroy(s);
}

/* TURN over UDP, and over TCP for networks that let no UDP out (turn-transport): the
 * relayed candidate is UDP on the server's side either way. When both allocations
 * succeed libnice keeps the first and drops the other as redundant. */
static void
add_relay(P2pSession *s, const char *host, guint port, const char *user, const char *pass)
{
	P2pConfig *cfg = s->d->cfg;
	gboolean ok = TRUE;

	if (cfg->turn_udp)
		ok &= nice_agent_set_relay_info(s->agent, s->stream, 1, host, port, user, pass,
		                                NICE_RELAY_TYPE_TURN_UDP);
	if (cfg->turn_tcp)
		ok &= nice_agent_set_relay_info(s->agent, s->stream, 1, host, port, user, pass,
		                                NICE_RELAY_TYPE_TURN_TCP);
	if (!ok)
		g_warning("session %s: cannot use TURN server %s:%u", s->peer_id, host, port);
	else
		g_debug("session %s: TURN server %s:%u (%s%s%s) as %s", s->peer_id, host, port,
		        cfg->turn_udp ? "udp" : "", cfg->turn_udp && cfg->turn_tcp ? ", " : "",
		        cfg->turn_tcp ? "tcp" : "", user);
}

typedef struct {
	const char *address;
	const char *username;
	const char *password;
} TurnFields;

static const P2pField turn_fields[] = {
	P2P_FIELD(TurnFields, address, "address", P2P_FIELD_STRING, TRUE, 300),
	P2P_FIELD(TurnFields, username, "username", P2P_FIELD_STRING, TRUE, 513),
	P2P_FIELD(TurnFields, password, "password", P2P_FIELD_STRING, TRUE, 256),
	{ NULL },
};

typedef struct {
	JsonArray *stun;
	JsonArray *turn;
	gint64 ttl;
} IceServerFields;

static const P2pField ice_server_fields[] = {
	P2P_FIELD(IceServerFields, stun, "stun", P2P_FIELD_STRV, FALSE, P2P_SESSION_MAX_ICE_SERVERS),
	P2P_FIELD(IceServerFields, turn, "turn", P2P_FIELD_ARRAY, FALSE, P2P_SESSION_MAX_ICE_SERVERS),
	P2P_FIELD(IceServerFields, ttl, "ttl", P2P_FIELD_INT, FALSE, 0),
	{ NULL },
};

void
p2p_session_foreach_ice_server(P2pDaemon *d, P2pIceServerFunc fn, gpointer user)
{
	P2pConfig *cfg = d->cfg;
	JsonObject *ice = d->signal ? p2p_signal_get_ice_servers(d->signal) : NULL;
	IceServerFields f = { 0 };
	g_autoptr(GError) error = NULL;

	if (cfg->stun_host)
		fn(FALSE, cfg->stun_host, cfg->stun_port, NULL, NULL, user);
	if (cfg->turn_host)
		fn(TRUE, cfg->turn_host, cfg->turn_port, cfg->turn_user, cfg->turn_password, user);
	if (ice && !p2p_schema_decode(ice, ice_server_fields, &f, &error)) {
		g_warning("signaling: ignoring the STUN/TURN servers handed out: %s", error->message);
		return;
	}
	/* libnice takes one STUN server: the configured one, else the first handed out */
	if (cfg->stun_host == NULL && f.stun && json_array_get_length(f.stun) > 0) {
		g_autofree char *host = NULL;
		guint16 port = 0;
		const char *a = json_array_get_string_element(f.stun, 0);
		if (p2p_parse_host_port(a, &host, &port, NULL) && g_hostname_is_ip_address(host))
			fn(FALSE, host, port, NULL, NULL, user);
		else
			g_warning("signaling: ignoring STUN server \"%s\": not ADDR:PORT", a);
	}
	for (guint i = 0; f.turn && i < json_array_get_length(f.turn); i++) {
		JsonNode *n = json_array_get_element(f.turn, i);
		TurnFields t = { 0 };
		g_autofree char *host = NULL;
		guint16 port = 0;
		g_clear_error(&error);
		if (!JSON_NODE_HOLDS_OBJECT(n) ||
		    !p2p_schema_decode(json_node_get_object(n), turn_fields, &t, &error) ||
		    !p2p_parse_host_port(t.address, &host, &port, NULL) ||
		    !g_hostname_is_ip_address(host)) {
			g_warning("signaling: ignoring TURN server %u handed out: %s", i,
			          error ? error->message : "not an object with address ADDR:PORT");
			continue;
		}
		fn(TRUE, host, port, t.username, t.password, user);
	}
}

static void
use_ice_server(gboolean turn, const char *host, guint16 port, const char *username,
               const char *password, gpointer user)
{
	P2pSession *s = user;
	if (turn)
		add_relay(s, host, port, username, password);
	else
		g_object_set(s->agent, "stun-server", host, "stun-server-port", (guint)port, NULL);
}

/* transport: the offerer's choice when answering; NULL when offering (the config's). */
static P2pSession *
session_new(P2pDaemon *d, P2pPeer *peer, const char *sid, gboolean controlling,
            const char *transport, GError **error)
{
	P2pConfig *cfg = d->cfg;
	P2pSession *s = g_new0(P2pSession, 1);

	s->d = d;
	s->peer_id = g_strdup(peer->id);
	s->peer_fingerprint = g_strdup(peer->fingerprint);
	s->sid = sid ? g_strdup(sid) : g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
	s->controlling = controlling;
	s->state = P2P_SESSION_CONNECTING;
	/* consent freshness (RFC 7675): a selected pair that stops answering (a NAT
	 * mapping gone, an address gone) fails within about 30 s instead of hanging; the
	 * session then closes as disconnected, its transfers pause, and the sender calls
	 * again (a new ICE session through signaling) and resumes them */
	/* udp-transport=datagram: a non-reliable agent, whose datagrams carry our own
	 * transport (libnice's reliable flag is per agent, so ICE-TCP pairs carry it too,
	 * framed as RFC 4571); pseudotcp: libnice's reliable agent, as before */
	s->datagram = g_strcmp0(transport ? transport : cfg->udp_transport,
	                        P2P_TRANSPORT_PSEUDOTCP) != 0;
	s->agent = nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245,
	                               (s->datagram ? 0 : NICE_AGENT_OPTION_RELIABLE) |
	                                   NICE_AGENT_OPTION_ICE_TRICKLE |
	                                   NICE_AGENT_OPTION_CONSENT_FRESHNESS);
	/* no UPnP: it multicasts to the LAN and opens router ports nobody asked for */
	g_object_set(s->agent, "controlling-mode", controlling, "ice-tcp", cfg->ice_tcp, "ice-udp",
	             cfg->ice_udp, "upnp", FALSE, NULL);
	for (char **a = cfg->ice_address; a && *a; a++) {
		NiceAddress addr;
		nice_address_init(&addr);
		if (!nice_address_set_from_string(&addr, *a) ||
		    !nice_agent_add_local_address(s->agent, &addr)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "ice-address: cannot use \"%s\"", *a);
			g_object_unref(s->agent);
			s->agent = NULL;
			free_idle(s);
			return NULL;
		}
	}
	s->stream = nice_agent_add_stream(s->agent, 1);
	nice_agent_set_stream_name(s->agent, s->stream, "application");
	/* STUN and TURN servers: the config's own, then those p2p-signald handed out (with
	 * credentials of this daemon's, renewed by the signaling link) */
	p2p_session_foreach_ice_server(d, use_ice_server, s);
	g_signal_connect(s->agent, "new-candidate-full", G_CALLBACK(new_candidate_cb), s);
	g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(gathering_done_cb), s);
	g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(component_state_cb), s);
	g_signal_connect(s->agent, "new-selected-pair-full", G_CALLBACK(selected_pair_cb), s);
	s->timeout = g_timeout_add_seconds(P2P_SESSION_CONNECT_TIMEOUT_S, timeout_cb, s);
	peer->session = s;
	return s;
}

static gboolean
gather(P2pSession *s, GError **error)
{
	/* receiving must be attached before the checks start: libnice answers connectivity
	 * checks on a reliable stream only once someone receives on it */
	s->transport = s->datagram ? p2p_transport_dgram_new(s->agent, s->stream, 1)
	                           : p2p_transport_nice_new(s->agent, s->stream, 1);
	if (!nice_agent_gather_candidates(s->agent, s->stream)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "cannot gather ICE candidates (no usable local address?)");
		return FALSE;
	}
	return TRUE;
}

P2pSession *
p2p_session_connect(P2pDaemon *d, P2pPeer *peer, GError **error)
{
	P2pSession *s = session_new(d, peer, NULL, TRUE, NULL, error);
	if (s == NULL)
		return NULL;
	/* credentials go out before the first trickled candidate */
	send_credentials(s, P2P_SK_OFFER);
	if (!gather(s, error)) {
		session_destroy(s);
		return NULL;
	}
	g_info("session %s: offering (session %s)", s->peer_id, s->sid);
	return s;
}

typedef struct {
	const char *from;
	const char *fingerprint;
	const char *kind;
	const char *session;
	const char *ufrag;
	const char *pwd;
	const char *transport;
	JsonArray *candidates;
} SignalParams;

static const P2pField signal_fields[] = {
	P2P_FIELD(SignalParams, from, "from", P2P_FIELD_STRING, TRUE, 200),
	P2P_FIELD(SignalParams, fingerprint, "fingerprint", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(SignalParams, kind, "kind", P2P_FIELD_STRING, TRUE, 16),
	P2P_FIELD(SignalParams, session, "session", P2P_FIELD_STRING, TRUE, 64),
	P2P_FIELD(SignalParams, ufrag, "ufrag", P2P_FIELD_STRING, FALSE, 256),
	P2P_FIELD(SignalParams, pwd, "pwd", P2P_FIELD_STRING, FALSE, 256),
	P2P_FIELD(SignalParams, transport, "transport", P2P_FIELD_STRING, FALSE, 16),
	P2P_FIELD(SignalParams, candidates, "candidates", P2P_FIELD_STRV, FALSE, 64),
	{ NULL },
};

static void
add_remote_candidates(P2pSession *s, JsonArray *cands)
{
	GSList *list = NULL;
	for (guint i = 0; cands && i < json_array_get_length(cands); i++) {
		const char *sdp = json_array_get_string_element(cands, i);
		NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(s->agent, s->stream, sdp);
		if (c == NULL) {
			g_debug("session %s: ignoring unparsable candidate \"%s\"", s->peer_id, sdp);
			continue;
		}
		g_debug("session %s: remote candidate %s", s->peer_id, sdp);
		list = g_slist_prepend(list, c);
	}
	if (list)
		nice_agent_set_remote_candidates(s->agent, s->stream, 1, list);
	g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
}

void
p2p_session_handle_signal(P2pDaemon *d, JsonObject *params)
{
	SignalParams p = { 0 };
	g_autoptr(GError) error = NULL;

	if (!p2p_schema_decode(params, signal_fields, &p, &error)) {
		g_warning("signaling: bad signal message: %s", error->message);
		return;
	}
	P2pPeer *peer = p2p_daemon_lookup_peer(d, p.from);
	if (peer == NULL) {
		g_debug("signaling: signal from unknown peer %s", p.from);
		return;
	}
	if (g_strcmp0(peer->fingerprint, p.fingerprint) != 0) {
		g_free(peer->fingerprint);
		peer->fingerprint = g_strdup(p.fingerprint);
	}
	P2pSession *s = peer->session;

	if (strcmp(p.kind, P2P_SK_OFFER) == 0) {
		if (p.ufrag == NULL || p.pwd == NULL) {
			g_warning("signaling: offer from %s without credentials", p.from);
			return;
		}
		if (s && s->controlling && s->state == P2P_SESSION_CONNECTING &&
		    strcmp(d->identity->fingerprint, p.fingerprint) < 0) {
			/* glare: ours wins, the peer will answer our offer */
			g_debug("session %s: glare, keeping our offer", p.from);
			return;
		}
		if (s) {
			/* glare lost, or the peer restarted: its new offer replaces our session,
			 * and transfers still connecting move to the new one */
			g_info("session %s: replaced by the peer's new offer", p.from);
			peer->session = NULL;
			if (s->state != P2P_SESSION_CONNECTING) {
				p2p_transfers_session_closed(d, s, P2P_REASON_DISCONNECTED,
				                             "the peer restarted the session");
			}
			session_destroy(s);
		}
		/* an offer without "transport" comes from a p2pd of before the datagram
		 * transport, whose agent was reliable */
		const char *transport = p.transport ? p.transport : P2P_TRANSPORT_PSEUDOTCP;
		if (strcmp(transport, P2P_TRANSPORT_DATAGRAM) != 0 &&
		    strcmp(transport, P2P_TRANSPORT_PSEUDOTCP) != 0) {
			g_autofree char *shown = g_strescape(transport, NULL);
			g_warning("session %s: offer for an unknown transport \"%s\"", p.from, shown);
			return;
		}
		s = session_new(d, peer, p.session, FALSE, transport, &error);
		if (s == NULL) {
			g_warning("session %s: %s", p.from, error->message);
			return;
		}
		nice_agent_set_remote_credentials(s->agent, s->stream, p.ufrag, p.pwd);
		s->remote_creds = TRUE;
		send_credentials(s, P2P_SK_ANSWER);
		if (!gather(s, &error)) {
			g_warning("session %s: %s", p.from, error->message);
			session_destroy(s);
			return;
		}
		add_remote_candidates(s, p.candidates);
		return;
	}
	if (s == NULL || strcmp(s->sid, p.session) != 0) {
		g_debug("session %s: %s for a session we do not have", p.from, p.kind);
		return;
	}
	if (strcmp(p.kind, P2P_SK_ANSWER) == 0) {
		if (p.ufrag && p.pwd && !s->remote_creds) {
			nice_agent_set_remote_credentials(s->agent, s->stream, p.ufrag, p.pwd);
			s->remote_creds = TRUE;
		}
		add_remote_candidates(s, p.candidates);
	} else if (strcmp(p.kind, P2P_SK_CANDIDATE) == 0) {
		add_remote_candidates(s, p.candidates);
	} else if (strcmp(p.kind, P2P_SK_END) == 0) {
		nice_agent_peer_candidate_gathering_done(s->agent, s->stream);
	} else if (strcmp(p.kind, P2P_SK_BYE) == 0) {
		g_autofree char *m = g_strdup_printf("%s ended the session", p.from);
		g_info("session %s: %s", p.from, m);
		p2p_transfers_session_closed(d, s, P2P_REASON_DISCONNECTED, m);
		session_destroy(s);
	}
}

/* hostile-peer: the real p2pd, with the lies of a broken or hostile sender in it.
 *
 *   hostile-peer MODE p2pd-options...
 *
 * Sets the test seam of p2pd-testhooks.h for MODE, then runs the daemon as p2pd would.
 * Only what this daemon sends is changed: ICE, TLS, framing and everything it receives
 * are the real thing, so a receiver under test sees exactly what a peer could send.
 * tests/integration/p2pd-hostile.sh drives it. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "p2p-protocol.h"
#include "p2pd-run.h"
#include "p2pd-testhooks.h"

/* Where truncated mode stops; the test sends a file bigger than this. */
#define TRUNCATE_AT   (256 * 1024)
/* How many bytes size-more adds to the last chunk. */
#define EXTRA_BYTES   1000

static guint64 offered_size; /* the true size, as the real sender put it in the OFFER */

/* ---- the manifest of an OFFER: {xfer, count, bytes, entries: [{path, type, size,
 * mode, mtime, target}]} (docs/PROTOCOL.md) ---- */

static JsonArray *
entries(JsonObject *offer)
{
	return json_object_get_array_member(offer, "entries");
}

/* The entry whose path is PATH, or NULL. */
static JsonObject *
entry_at(JsonObject *offer, const char *path)
{
	JsonArray *a = entries(offer);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *e = json_array_get_object_element(a, i);
		if (g_strcmp0(json_object_get_string_member_with_default(e, "path", ""), path) == 0)
			return e;
	}
	fprintf(stderr, "hostile-peer: the OFFER has no entry \"%s\"; the test sends the wrong thing\n",
	        path);
	return NULL;
}

static JsonObject *
first_file(JsonObject *offer)
{
	JsonArray *a = entries(offer);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *e = json_array_get_object_element(a, i);
		if (g_strcmp0(json_object_get_string_member_with_default(e, "type", ""), "file") == 0)
			return e;
	}
	return json_array_get_object_element(a, 0);
}

/* Adds DELTA to the OFFER's member NAME ("count" or "bytes"). */
static void
add_to(JsonObject *offer, const char *name, gint64 delta)
{
	json_object_set_int_member(offer, name, json_object_get_int_member(offer, name) + delta);
}

static void
remember_size(JsonObject *offer)
{
	offered_size = (guint64)json_object_get_int_member(first_file(offer), "size");
}

static void
rename_to(JsonObject *offer, const char *name)
{
	remember_size(offer);
	json_object_set_string_member(first_file(offer), "path", name);
}

static void offer_slash(JsonObject *o) { rename_to(o, "../../etc/x"); }
static void offer_subdir(JsonObject *o) { rename_to(o, "a/b"); }
static void offer_dotdot(JsonObject *o) { rename_to(o, ".."); }
static void offer_control(JsonObject *o) { rename_to(o, "evil\x1b[31m.txt"); }
static void offer_empty(JsonObject *o) { rename_to(o, ""); }

/* A second file the sender never meant to send, appended to the manifest. */
static void
offer_two_files(JsonObject *o)
{
	JsonObject *second = json_object_new();
	json_object_set_string_member(second, "path", "second.txt");
	json_object_set_string_member(second, "type", "file");
	json_object_set_int_member(second, "size", 1);
	json_object_set_int_member(second, "mode", 0644);
	json_object_set_int_member(second, "mtime", 0);
	json_array_add_object_element(entries(o), second);
	add_to(o, "count", 1);
	add_to(o, "bytes", 1);
}

/* ---- lies in a tree's manifest. The test sends "tree" from mallory: the entries
 * tree, tree/a.txt (1000 bytes), tree/sub, tree/sub/b.bin (100000 bytes). Each lie
 * keeps the entry indexes the real sender uses for DATA unless the lie is about them. */

/* Where an absolute path or link target points: a directory the test watches. */
static const char *
outside_dir(void)
{
	const char *d = g_getenv("HOSTILE_OUTSIDE");
	return d && *d ? d : "/tmp/p2pd-hostile-outside";
}

static void
set_path(JsonObject *o, const char *from, const char *to)
{
	JsonObject *e = entry_at(o, from);
	if (e)
		json_object_set_string_member(e, "path", to);
}

static void
m_absolute(JsonObject *o)
{
	g_autofree char *p = g_build_filename(outside_dir(), "evil-abs.txt", NULL);
	set_path(o, "tree/a.txt", p);
}
static void m_dotdot(JsonObject *o) { set_path(o, "tree/a.txt", "tree/../../evil-dotdot.txt"); }
static void m_dotdot_top(JsonObject *o) { set_path(o, "tree/a.txt", "../evil-top.txt"); }
static void m_control(JsonObject *o) { set_path(o, "tree/a.txt", "tree/evil\x1b[31m.txt"); }
static void m_ctrl_one(JsonObject *o) { set_path(o, "tree/a.txt", "tree/evil\x01.txt"); }
static void m_orphan(JsonObject *o) { set_path(o, "tree/a.txt", "nodir/evil-orphan.txt"); }
static void m_empty_comp(JsonObject *o) { set_path(o, "tree/a.txt", "tree//evil-empty.txt"); }

/* tree/sub becomes a symlink to TARGET; tree/sub/b.bin then goes through it. */
static void
sub_to_link(JsonObject *o, const char *target)
{
	JsonObject *e = entry_at(o, "tree/sub");
	if (!e)
		return;
	json_object_set_string_member(e, "type", "link");
	json_object_set_string_member(e, "target", target);
	json_object_set_int_member(e, "size", 0);
}
static void m_link_through(JsonObject *o) { sub_to_link(o, "."); }
static void m_link_escape(JsonObject *o) { sub_to_link(o, "../.."); }
static void m_link_abs(JsonObject *o) { sub_to_link(o, outside_dir()); }

/* A symlink entry of its own, appended, whose target leaves the tree. */
static void
m_link_only(JsonObject *o)
{
	JsonObject *e = json_object_new();
	json_object_set_string_member(e, "path", "tree/evil-link");
	json_object_set_string_member(e, "type", "link");
	json_object_set_string_member(e, "target", "../../../../../../etc");
	json_object_set_int_member(e, "size", 0);
	json_object_set_int_member(e, "mode", 0777);
	json_object_set_int_member(e, "mtime", 0);
	json_array_add_object_element(entries(o), e);
	add_to(o, "count", 1);
}

/* A copy of the entry at PATH appended: the same path twice. */
static void
dup_entry(JsonObject *o, const char *path)
{
	JsonObject *e = entry_at(o, path);
	if (!e)
		return;
	json_array_add_object_element(entries(o), json_object_ref(e));
	add_to(o, "count", 1);
	add_to(o, "bytes", json_object_get_int_member_with_default(e, "size", 0));
}
static void m_dup_file(JsonObject *o) { dup_entry(o, "tree/a.txt"); }
static void m_dup_dir(JsonObject *o) { dup_entry(o, "tree/sub"); }

static void m_sum(JsonObject *o) { add_to(o, "bytes", 1); }
static void m_count_less(JsonObject *o) { add_to(o, "count", -1); }

static void
resize_b(JsonObject *o, gint64 delta)
{
	JsonObject *e = entry_at(o, "tree/sub/b.bin");
	if (!e)
		return;
	json_object_set_int_member(e, "size", json_object_get_int_member(e, "size") + delta);
	add_to(o, "bytes", delta);
}
/* sizes and total agree with each other, not with the bytes that come */
static void m_size_small(JsonObject *o) { resize_b(o, -1000); }
static void m_size_big(JsonObject *o) { resize_b(o, 1000); }
static void m_size_huge(JsonObject *o) { resize_b(o, 2 * 1024 * 1024); }
static void m_size_negative(JsonObject *o) { resize_b(o, -200000); }

static void
m_type(JsonObject *o)
{
	JsonObject *e = entry_at(o, "tree/a.txt");
	if (e)
		json_object_set_string_member(e, "type", "fifo");
}

/* 20 more empty files than the sender has: over the receiver's max-files. */
static void
m_many(JsonObject *o)
{
	for (int i = 0; i < 20; i++) {
		g_autofree char *p = g_strdup_printf("tree/many%02d", i);
		JsonObject *e = json_object_new();
		json_object_set_string_member(e, "path", p);
		json_object_set_string_member(e, "type", "file");
		json_object_set_int_member(e, "size", 0);
		json_object_set_int_member(e, "mode", 0644);
		json_object_set_int_member(e, "mtime", 0);
		json_array_add_object_element(entries(o), e);
	}
	add_to(o, "count", 20);
}

/* The last chunk carries EXTRA_BYTES more than the file has (the test picks a size
 * that leaves room for them in the chunk buffer). */
static gboolean
data_more(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (offset + *len == offered_size && *len + EXTRA_BYTES <= P2P_DATA_CHUNK) {
		memset(buf + *len, 'X', EXTRA_BYTES);
		*len += EXTRA_BYTES;
	}
	return TRUE;
}

/* Half the file, then FILE_END as if that were all. */
static gboolean
data_less(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	return offset == 0 || offset < offered_size / 2;
}

/* One flipped byte; the sender hashes what it read, so the FILE_END hash is the
 * original's. */
static gboolean
data_corrupt(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (offset == 0 && *len > 0)
		buf[*len / 2] ^= 0xff;
	return TRUE;
}

/* The first chunk one byte short: the next one starts where the receiver does not
 * expect it. */
static gboolean
data_gap(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (offset == 0 && *len > 1)
		*len -= 1;
	return TRUE;
}

static gboolean
data_truncate(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	return offset < TRUNCATE_AT;
}

/* Every chunk under a transfer id that was never offered. */
static gboolean
data_unknown(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	*xfer = (*xfer + 1) & G_MAXINT64;
	return TRUE;
}

static gboolean
end_wrong_hash(guint8 sha256[32])
{
	memset(sha256, 0, 32);
	return TRUE;
}

/* Silence after the last chunk: no FILE_END, the test kills this process. */
static gboolean
end_never(guint8 sha256[32])
{
	fprintf(stderr, "hostile-peer: stopped sending at byte %d, no FILE_END\n", TRUNCATE_AT);
	return FALSE;
}

/* tree/sub/b.bin's last chunk (the only one of 100000 - 65536 bytes) carries
 * EXTRA_BYTES more: DATA past the end of an entry of a tree. */
static gboolean
data_tree_more(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (*len == 100000 - P2P_DATA_CHUNK) {
		memset(buf + *len, 'X', EXTRA_BYTES);
		*len += EXTRA_BYTES;
	}
	return TRUE;
}

/* The first chunk under an entry index the manifest never had. */
static gboolean
data_bad_index(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (offset == 0)
		*file = 1000;
	return TRUE;
}

/* The first chunk under entry 0, the directory "tree". */
static gboolean
data_dir_index(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file)
{
	if (offset == 0)
		*file = 0;
	return TRUE;
}

/* A peer that lists the "ping" cap and never sends PING or PONG. */
static gboolean
ping_never(guint8 type)
{
	return FALSE;
}

/* ---- CALL frames (p2pd-call-hostile.sh) ---- */

/* ---- CHAT frames (p2pd-chat-hostile.sh) ---- */

static void
chat_bad_id(JsonObject *frame)
{
	json_object_set_string_member(frame, "id", "../../etc/passwd");
}

static void
chat_empty(JsonObject *frame)
{
	json_object_set_string_member(frame, "text", "");
}

static void
chat_big(JsonObject *frame)
{
	g_autofree char *text = g_strnfill(P2P_CHAT_MAX_TEXT + 1, 'x');
	json_object_set_string_member(frame, "text", text);
}

static void
chat_no_ts(JsonObject *frame)
{
	json_object_set_string_member(frame, "ts", "yesterday");
}

static void
call_bad_id(JsonObject *frame)
{
	json_object_set_string_member(frame, "call", "not-16-hex-digit");
}

/* Speaks for a call of someone else's: the id in $HOSTILE_CALL, in every frame but
 * the RING that starts mallory's own call. */
static void
call_foreign(JsonObject *frame)
{
	const char *id = g_getenv("HOSTILE_CALL");
	if (id && g_strcmp0(json_object_get_string_member_with_default(frame, "kind", ""),
	                    P2P_CALL_RING) != 0)
		json_object_set_string_member(frame, "call", id);
}

static void
call_big_sdp(JsonObject *frame)
{
	g_autofree char *sdp = g_strnfill(P2P_CALL_MAX_SDP + 1, 'v');
	json_object_set_string_member(frame, "sdp", sdp);
}

static const struct {
	const char *mode;
	P2pTestHooks hooks;
	const char *what;
} modes[] = {
	{ "name-slash", { .offer = offer_slash }, "offer the name \"../../etc/x\"" },
	{ "name-subdir", { .offer = offer_subdir }, "offer the name \"a/b\"" },
	{ "name-dotdot", { .offer = offer_dotdot }, "offer the name \"..\"" },
	{ "name-control", { .offer = offer_control }, "offer a name with an escape sequence" },
	{ "name-empty", { .offer = offer_empty }, "offer an empty name" },
	{ "size-more", { .offer = remember_size, .data = data_more },
	  "send more bytes than offered" },
	{ "size-less", { .offer = remember_size, .data = data_less },
	  "send half the bytes offered, then FILE_END" },
	{ "corrupt", { .data = data_corrupt }, "flip a byte, announce the original's hash" },
	{ "offset-gap", { .data = data_gap }, "leave a one-byte gap between two chunks" },
	{ "wrong-hash", { .file_end = end_wrong_hash }, "announce a wrong SHA-256" },
	{ "truncated", { .data = data_truncate, .file_end = end_never },
	  "stop after 256 KiB without FILE_END" },
	{ "unknown-xfer", { .data = data_unknown }, "send DATA for a transfer never offered" },
	{ "many-files", { .offer = offer_two_files }, "offer two files at once" },
	/* lies in a tree's manifest (p2pd-hostile-manifest.sh) */
	{ "m-absolute", { .offer = m_absolute }, "an absolute path ($HOSTILE_OUTSIDE/evil-abs.txt)" },
	{ "m-dotdot", { .offer = m_dotdot }, "the path tree/../../evil-dotdot.txt" },
	{ "m-dotdot-top", { .offer = m_dotdot_top }, "the path ../evil-top.txt" },
	{ "m-control", { .offer = m_control }, "an escape sequence in a path" },
	{ "m-ctrl-one", { .offer = m_ctrl_one }, "the control byte 0x01 in a path" },
	{ "m-orphan", { .offer = m_orphan }, "a file whose parent directory was never offered" },
	{ "m-empty-comp", { .offer = m_empty_comp }, "an empty path component (tree//x)" },
	{ "m-link-through", { .offer = m_link_through },
	  "tree/sub a symlink to \".\", then tree/sub/b.bin through it" },
	{ "m-link-escape", { .offer = m_link_escape },
	  "tree/sub a symlink to \"../..\", then tree/sub/b.bin through it" },
	{ "m-link-abs", { .offer = m_link_abs },
	  "tree/sub a symlink to $HOSTILE_OUTSIDE, then tree/sub/b.bin through it" },
	{ "m-link-only", { .offer = m_link_only }, "a symlink whose target leaves the tree" },
	{ "m-dup-file", { .offer = m_dup_file }, "tree/a.txt twice" },
	{ "m-dup-dir", { .offer = m_dup_dir }, "tree/sub twice" },
	{ "m-sum", { .offer = m_sum }, "bytes one more than the sum of the sizes" },
	{ "m-count-less", { .offer = m_count_less }, "count one less than the entries" },
	{ "m-size-small", { .offer = m_size_small }, "tree/sub/b.bin offered 1000 bytes short" },
	/* lies in CALL frames (p2pd-call-hostile.sh) */
	{ "chat-bad-id", { .chat = chat_bad_id }, "a chat message id that is not 16 hex digits" },
	{ "chat-empty", { .chat = chat_empty }, "an empty chat message" },
	{ "chat-big", { .chat = chat_big }, "a chat message one byte over the limit" },
	{ "chat-bad-ts", { .chat = chat_no_ts }, "a chat message whose ts is a string" },
	{ "call-bad-id", { .call = call_bad_id }, "a call id that is not 16 hex digits" },
	{ "call-foreign", { .call = call_foreign },
	  "frames for the call $HOSTILE_CALL, someone else's" },
	{ "call-big-sdp", { .call = call_big_sdp }, "an sdp member one byte over the limit" },
	{ "m-size-big", { .offer = m_size_big }, "tree/sub/b.bin offered 1000 bytes long" },
	{ "m-size-huge", { .offer = m_size_huge }, "tree/sub/b.bin offered 2 MiB long" },
	{ "m-size-negative", { .offer = m_size_negative }, "tree/sub/b.bin offered at -100000 bytes" },
	{ "m-type", { .offer = m_type }, "an entry of type \"fifo\"" },
	{ "m-many", { .offer = m_many }, "20 more (empty) files than the sender has" },
	{ "m-data-more", { .data = data_tree_more }, "DATA past the end of tree/sub/b.bin" },
	{ "m-bad-index", { .data = data_bad_index }, "DATA for entry 1000, never offered" },
	{ "m-dir-index", { .data = data_dir_index }, "DATA for entry 0, a directory" },
	{ "m-wrong-hash", { .file_end = end_wrong_hash }, "a wrong SHA-256 in FILE_END of a tree's file" },
	/* p2pd-silent-peer.sh */
	{ "mute", { .ping = ping_never }, "list the ping cap, never send PING or PONG" },
};

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: hostile-peer MODE p2pd-options...\nmodes:\n");
		for (gsize i = 0; i < G_N_ELEMENTS(modes); i++)
			fprintf(stderr, "  %-13s %s\n", modes[i].mode, modes[i].what);
		return 2;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
		if (strcmp(argv[1], modes[i].mode) == 0) {
			p2p_test_hooks = &modes[i].hooks;
			fprintf(stderr, "hostile-peer: %s: %s\n", modes[i].mode, modes[i].what);
			argv[1] = argv[0];
			return p2p_daemon_main(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "hostile-peer: unknown mode \"%s\" (run it without arguments for the list)\n",
	        argv[1]);
	return 2;
}

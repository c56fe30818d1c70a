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

static JsonObject *
first_file(JsonObject *offer)
{
	return json_array_get_object_element(json_object_get_array_member(offer, "entries"), 0);
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

static void
offer_two_files(JsonObject *o)
{
	JsonObject *second = json_object_new();
	json_object_set_string_member(second, "path", "second.txt");
	json_object_set_int_member(second, "size", 1);
	json_array_add_object_element(json_object_get_array_member(o, "entries"), second);
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
end_wrong_hash(JsonObject *end)
{
	json_object_set_string_member(end, "sha256",
	                              "0000000000000000000000000000000000000000000000000000000000000000");
	return TRUE;
}

/* Silence after the last chunk: no FILE_END, the test kills this process. */
static gboolean
end_never(JsonObject *end)
{
	fprintf(stderr, "hostile-peer: stopped sending at byte %d, no FILE_END\n", TRUNCATE_AT);
	return FALSE;
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

/* p2pd-testhooks.h: a test seam on the sending side of a transfer, of a call, of chat
 * and of PING/PONG.
 *
 * tests/hostile-peer sets p2p_test_hooks before it runs the daemon, so that a real p2pd
 * (real ICE, TLS and framing) can tell the lies a broken or hostile peer would tell:
 * a bad file name, a wrong size, corrupt bytes, a wrong hash. p2pd itself never sets
 * it; with the pointer NULL (or a hook NULL) the sender behaves as usual. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	/* Just before the OFFER goes out: may rewrite anything in it (count, bytes, and the
	 * entries, which hold the whole manifest when it fits in one frame). */
	void (*offer)(JsonObject *offer);
	/* On each DATA chunk before it goes out. buf holds *len bytes read from the file at
	 * offset (of the whole transfer), and has room for P2P_DATA_CHUNK; the hook may
	 * change the bytes, shrink or grow *len within that room, and set *xfer and *file to
	 * another transfer id or entry index. The sender has already hashed and counted the
	 * bytes it read, whatever the hook does to them. FALSE: send nothing more of this
	 * file and go to its FILE_END now. */
	gboolean (*data)(guint64 offset, guint8 *buf, gsize *len, guint64 *xfer, guint32 *file);
	/* Just before FILE_END goes out: may rewrite the SHA-256 it carries. FALSE: do not
	 * send it, and go on as if it had been sent. */
	gboolean (*file_end)(guint8 sha256[32]);
	/* Before a PING or PONG goes out (type says which): FALSE drops it, a peer that
	 * lists the "ping" cap and then stays silent. */
	gboolean (*ping)(guint8 type);
	/* Just before a CALL frame goes out (p2pd-call.c): may rewrite anything in it. */
	void (*call)(JsonObject *frame);
	/* Just before a CHAT frame goes out (p2pd-chat.c): may rewrite anything in it. */
	void (*chat)(JsonObject *frame);
} P2pTestHooks;

extern const P2pTestHooks *p2p_test_hooks;

G_END_DECLS

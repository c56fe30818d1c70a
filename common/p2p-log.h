/* p2p-log.h: the programs' logger. Under systemd (stderr is the journal's stream,
 * $JOURNAL_STREAM) each message goes to the journal as one entry with its structured
 * fields (PEER, TRANSFER_ID, BYTES, PATH_TYPE); otherwise one line per message on stderr,
 * "prog: level: message". Either way filtered by a level (error, warning, info, debug)
 * that can change while the program runs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The level names, most severe first; the config key and log.set-level take these. */
#define P2P_LOG_LEVELS "error, warning, info or debug"

void p2p_log_init(const char *prog, const char *level);
/* FALSE (and nothing changes) when level is not one of P2P_LOG_LEVELS. */
gboolean p2p_log_set_level(const char *level);
gboolean p2p_log_level_valid(const char *level);
const char *p2p_log_get_level(void);
/* Whether messages go to the journal rather than to stderr. */
gboolean p2p_log_to_journal(void);

/* One message about a peer, a transfer or both, with the journal fields that let
 * "journalctl PEER=bob" find it. peer, transfer_id, path_type may be NULL and bytes
 * negative when they do not apply. */
void p2p_log_fields(GLogLevelFlags level, const char *peer, const char *transfer_id,
                    gint64 bytes, const char *path_type, const char *format, ...)
	G_GNUC_PRINTF(6, 7);

G_END_DECLS

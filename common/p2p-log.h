/* p2p-log.h: one line per message on stderr, "prog: level: message", filtered by a
 * level name (error, warning, info, debug). */
#pragma once

#include <glib.h>

void p2p_log_init(const char *prog, const char *level);

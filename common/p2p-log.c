/* p2p-log.c: see p2p-log.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "p2p-log.h"

static const char *log_prog = "p2p";
static GLogLevelFlags log_max = G_LOG_LEVEL_INFO;
static gboolean log_journal;

static const struct {
	const char *name;
	GLogLevelFlags max;
} levels[] = {
	{ "error", G_LOG_LEVEL_CRITICAL },
	{ "warning", G_LOG_LEVEL_WARNING },
	{ "info", G_LOG_LEVEL_INFO },
	{ "debug", G_LOG_LEVEL_DEBUG },
};

/* Messages quote what peers and clients sent (file names, reasons): a control
 * character in them must not reach a terminal or forge a log line, so C0, DEL and
 * C1 (as UTF-8) are written as \xHH / \u00HH. */
static void
append_safe(GString *out, const char *msg)
{
	for (const guchar *p = (const guchar *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			g_string_append_printf(out, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			g_string_append_printf(out, "\\u%04x", *++p);
		else
			g_string_append_c(out, (char)*p);
	}
}

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	const char *msg = NULL;
	const char *domain = NULL;
	GLogLevelFlags lvl = level & G_LOG_LEVEL_MASK;

	for (gsize i = 0; i < n; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
		else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
	}
	/* other libraries' debug chatter (libnice is loud) only at debug level */
	if (lvl > log_max)
		return G_LOG_WRITER_HANDLED;
	if (domain && lvl >= G_LOG_LEVEL_INFO && log_max < G_LOG_LEVEL_DEBUG &&
	    strcmp(domain, log_prog) != 0)
		return G_LOG_WRITER_HANDLED;
	/* the journal keeps every field as it came (journalctl escapes on display); if the
	 * journal socket is gone, the line still reaches stderr, which systemd reads */
	if (log_journal && n < 32) {
		/* SYSLOG_IDENTIFIER names the program in journalctl's output, as syslog did */
		GLogField all[33];
		memcpy(all, fields, n * sizeof(*fields));
		all[n] = (GLogField){ "SYSLOG_IDENTIFIER", log_prog, -1 };
		if (g_log_writer_journald(level, all, n + 1, NULL) == G_LOG_WRITER_HANDLED)
			return G_LOG_WRITER_HANDLED;
	}
	const char *name = lvl <= G_LOG_LEVEL_CRITICAL ? "error"
	                   : lvl == G_LOG_LEVEL_WARNING ? "warning"
	                   : lvl == G_LOG_LEVEL_DEBUG   ? "debug"
	                                                : "info";
	g_autoptr(GString) line = g_string_new(NULL);
	g_string_printf(line, "%s: %s: ", log_prog, name);
	append_safe(line, msg ? msg : "");
	fprintf(stderr, "%s\n", line->str);
	fflush(stderr);
	return G_LOG_WRITER_HANDLED;
}

gboolean
p2p_log_level_valid(const char *level)
{
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++)
		if (g_strcmp0(level, levels[i].name) == 0)
			return TRUE;
	return FALSE;
}

gboolean
p2p_log_set_level(const char *level)
{
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		if (g_strcmp0(level, levels[i].name) == 0) {
			log_max = levels[i].max;
			return TRUE;
		}
	}
	return FALSE;
}

const char *
p2p_log_get_level(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++)
		if (levels[i].max == log_max)
			return levels[i].name;
	return "info";
}

gboolean
p2p_log_to_journal(void)
{
	return log_journal;
}

void
p2p_log_init(const char *prog, const char *level)
{
	log_prog = prog;
	if (!p2p_log_set_level(level))
		p2p_log_set_level("info");
	/* $JOURNAL_STREAM names stderr only when systemd connected it to the journal: a
	 * program started by hand from a unit's shell inherits the variable but not the fd */
	log_journal = g_log_writer_is_journald(STDERR_FILENO);
	g_log_set_writer_func(writer, NULL, NULL);
}

/* syslog(3) priorities, as the journal's PRIORITY field wants them */
static const char *
priority(GLogLevelFlags level)
{
	switch (level & G_LOG_LEVEL_MASK) {
	case G_LOG_LEVEL_ERROR: return "3";
	case G_LOG_LEVEL_CRITICAL: return "4";
	case G_LOG_LEVEL_WARNING: return "4";
	case G_LOG_LEVEL_MESSAGE: return "5";
	case G_LOG_LEVEL_INFO: return "6";
	default: return "7";
	}
}

void
p2p_log_fields(GLogLevelFlags level, const char *peer, const char *transfer_id, gint64 bytes,
               const char *path_type, const char *format, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;
	g_autofree char *bytes_text = bytes >= 0 ? g_strdup_printf("%" G_GINT64_FORMAT, bytes)
	                                         : NULL;
	GLogField fields[7];
	gsize n = 0;

	va_start(ap, format);
	msg = g_strdup_vprintf(format, ap);
	va_end(ap);
	fields[n++] = (GLogField){ "MESSAGE", msg, -1 };
	fields[n++] = (GLogField){ "PRIORITY", priority(level), -1 };
	fields[n++] = (GLogField){ "GLIB_DOMAIN", log_prog, -1 };
	if (peer)
		fields[n++] = (GLogField){ "PEER", peer, -1 };
	if (transfer_id)
		fields[n++] = (GLogField){ "TRANSFER_ID", transfer_id, -1 };
	if (bytes_text)
		fields[n++] = (GLogField){ "BYTES", bytes_text, -1 };
	if (path_type)
		fields[n++] = (GLogField){ "PATH_TYPE", path_type, -1 };
	g_log_structured_array(level, fields, n);
}

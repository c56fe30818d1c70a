/* p2p-log.c: see p2p-log.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "p2p-log.h"

static const char *log_prog = "p2p";
static GLogLevelFlags log_max = G_LOG_LEVEL_INFO;

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

void
p2p_log_init(const char *prog, const char *level)
{
	log_prog = prog;
	if (g_strcmp0(level, "error") == 0)
		log_max = G_LOG_LEVEL_CRITICAL;
	else if (g_strcmp0(level, "warning") == 0)
		log_max = G_LOG_LEVEL_WARNING;
	else if (g_strcmp0(level, "debug") == 0)
		log_max = G_LOG_LEVEL_DEBUG;
	else
		log_max = G_LOG_LEVEL_INFO;
	g_log_set_writer_func(writer, NULL, NULL);
}

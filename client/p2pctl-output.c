/* p2pctl-output.c: human output: sizes, rates, durations, escaping of text that came
 * from the daemon or a peer, collision names, tables and the progress line. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "p2pctl.h"

static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

/* Scales to the largest unit that keeps the value, rounded to one decimal, below 1024
 * (so 1048575 bytes print as "1.0 MiB", not "1024.0 KiB"). */
static char *
format_scaled(double v, const char *suffix)
{
	guint u = 0;

	if (!isfinite(v) || v < 0)
		v = 0;
	if (v < 1024)
		return g_strdup_printf("%.0f %s%s", floor(v), units[0], suffix);
	while (u + 1 < G_N_ELEMENTS(units) && v >= 1023.95) {
		v /= 1024;
		u++;
	}
	return g_strdup_printf("%.1f %s%s", v, units[u], suffix);
}

char *
p2pctl_format_size(guint64 bytes)
{
	return format_scaled((double)bytes, "");
}

char *
p2pctl_format_rate(double bytes_per_second)
{
	return format_scaled(bytes_per_second, "/s");
}

/* A round trip in milliseconds: "0.42 ms", "12.3 ms", "250 ms". */
char *
p2pctl_format_rtt(double ms)
{
	if (!isfinite(ms) || ms < 0)
		return g_strdup("-");
	if (ms < 10)
		return g_strdup_printf("%.2f ms", ms);
	if (ms < 100)
		return g_strdup_printf("%.1f ms", ms);
	return g_strdup_printf("%.0f ms", ms);
}

char *
p2pctl_format_duration(double seconds)
{
	/* Unknown or absurd (more than 99 days): say so rather than print noise. */
	if (!isfinite(seconds) || seconds < 0 || seconds > 99.0 * 86400)
		return g_strdup("--:--");
	guint64 s = (guint64)llround(seconds);
	if (s >= 3600)
		return g_strdup_printf("%" G_GUINT64_FORMAT ":%02u:%02u", s / 3600,
		                       (guint)(s / 60 % 60), (guint)(s % 60));
	return g_strdup_printf("%u:%02u", (guint)(s / 60), (guint)(s % 60));
}

char *
p2pctl_format_time(double unix_seconds)
{
	if (!isfinite(unix_seconds) || unix_seconds <= 0)
		return g_strdup("-");
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local((gint64)unix_seconds);
	if (dt == NULL)
		return g_strdup("-");
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

/* Characters that could move the cursor, recolour the terminal, or reorder what the
 * user reads (bidi overrides: "txt.exe" shown as "exe.txt"). */
static gboolean
needs_escape(gunichar c)
{
	switch (g_unichar_type(c)) {
	case G_UNICODE_CONTROL:
	case G_UNICODE_FORMAT:
	case G_UNICODE_LINE_SEPARATOR:
	case G_UNICODE_PARAGRAPH_SEPARATOR:
	case G_UNICODE_UNASSIGNED:
	case G_UNICODE_SURROGATE:
		return TRUE;
	default:
		return FALSE;
	}
}

char *
p2pctl_escape(const char *text)
{
	if (text == NULL)
		return g_strdup("");

	GString *s = g_string_sized_new(strlen(text));
	const char *p = text;
	while (*p) {
		gunichar c = g_utf8_get_char_validated(p, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_printf(s, "\\x%02x", (guint8)*p);
			p++;
			continue;
		}
		const char *next = g_utf8_next_char(p);
		if (c == '\n')
			g_string_append(s, "\\n");
		else if (c == '\t')
			g_string_append(s, "\\t");
		else if (c == '\r')
			g_string_append(s, "\\r");
		else if (c < 0x80 && needs_escape(c))
			g_string_append_printf(s, "\\x%02x", c);
		else if (needs_escape(c))
			g_string_append_printf(s, "\\u{%04X}", c);
		else
			g_string_append_len(s, p, next - p);
		p = next;
	}
	return g_string_free(s, FALSE);
}

char *
p2pctl_collision_name(const char *name, guint n)
{
	const char *dot = strrchr(name, '.');

	/* No extension: no dot, a dotfile (".bashrc"), or a trailing dot ("notes."). */
	if (dot == NULL || dot == name || dot[1] == '\0')
		return g_strdup_printf("%s (%u)", name, n);
	/* Keep compound tar suffixes together: "x.tar.gz" -> "x (1).tar.gz". */
	gsize stem = dot - name;
	if (stem > 4 && strncmp(dot - 4, ".tar", 4) == 0 && dot - 4 != name)
		stem -= 4;
	return g_strdup_printf("%.*s (%u)%s", (int)stem, name, n, name + stem);
}

static guint
columns(const char *s)
{
	return (guint)g_utf8_strlen(s, -1);
}

/* Shortens to at most max columns, marking the cut with "...". */
static char *
truncate_columns(const char *s, guint max)
{
	if (columns(s) <= max)
		return g_strdup(s);
	if (max <= 3)
		return g_strndup("...", max);
	const char *end = g_utf8_offset_to_pointer(s, max - 3);
	return g_strdup_printf("%.*s...", (int)(end - s), s);
}

char *
p2pctl_format_progress(const char *name, guint64 bytes, guint64 size, double rate,
                       guint width)
{
	g_autofree char *ename = p2pctl_escape(name);
	g_autofree char *done = p2pctl_format_size(bytes);
	g_autofree char *total = p2pctl_format_size(size);
	g_autofree char *srate = p2pctl_format_rate(rate);
	g_autofree char *eta = NULL;
	g_autofree char *tail = NULL;
	double frac = size > 0 ? (double)MIN(bytes, size) / (double)size : (bytes > 0 ? 1 : 0);

	if (rate > 0 && size >= bytes)
		eta = p2pctl_format_duration((double)(size - bytes) / rate);
	else
		eta = p2pctl_format_duration(-1);
	tail = g_strdup_printf(" %3u%% %s / %s  %s  ETA %s", (guint)(frac * 100), done, total,
	                       srate, eta);

	guint tail_cols = columns(tail);
	guint name_max = width > tail_cols + 12 ? MIN(32u, width - tail_cols - 12) : 8;
	g_autofree char *short_name = truncate_columns(ename, name_max);
	guint used = columns(short_name) + tail_cols + 3; /* " [" + "]" */
	if (width < used + 5)
		return g_strdup_printf("%s%s", short_name, tail);
	guint bar = width - used - 1; /* keep the last column free: no auto-wrap */
	guint fill = (guint)(frac * bar);
	GString *s = g_string_new(short_name);
	g_string_append(s, " [");
	for (guint i = 0; i < bar; i++)
		g_string_append_c(s, i < fill ? '=' : (i == fill ? '>' : ' '));
	g_string_append_c(s, ']');
	g_string_append(s, tail);
	return g_string_free(s, FALSE);
}

/* ---- progress on a terminal ------------------------------------------------------ */

void
p2pctl_progress_init(P2pctlProgress *p, FILE *out)
{
	p->out = out;
	p->enabled = out != NULL && isatty(fileno(out));
	p->drawn = FALSE;
}

static guint
terminal_width(FILE *out)
{
	struct winsize ws;

	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

void
p2pctl_progress_update(P2pctlProgress *p, const P2pctlTransfer *t)
{
	if (!p->enabled)
		return;
	g_autofree char *line = p2pctl_format_transfer_progress(t, terminal_width(p->out));
	fprintf(p->out, "\r%s\033[K", line);
	fflush(p->out);
	p->drawn = TRUE;
}

void
p2pctl_progress_clear(P2pctlProgress *p)
{
	if (!p->enabled || !p->drawn)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
	p->drawn = FALSE;
}

/* ---- tables ---------------------------------------------------------------------- */

struct _P2pctlTable {
	guint ncols;
	GPtrArray *cells; /* ncols per row, escaped; row 0 = headers */
};

P2pctlTable *
p2pctl_table_new(guint ncols, ...)
{
	P2pctlTable *t = g_new0(P2pctlTable, 1);
	va_list ap;

	t->ncols = ncols;
	t->cells = g_ptr_array_new_with_free_func(g_free);
	va_start(ap, ncols);
	for (guint i = 0; i < ncols; i++)
		g_ptr_array_add(t->cells, g_strdup(va_arg(ap, const char *)));
	va_end(ap);
	return t;
}

void
p2pctl_table_add(P2pctlTable *t, ...)
{
	va_list ap;

	va_start(ap, t);
	for (guint i = 0; i < t->ncols; i++) {
		const char *cell = va_arg(ap, const char *);
		g_ptr_array_add(t->cells, cell ? p2pctl_escape(cell) : g_strdup("-"));
	}
	va_end(ap);
}

void
p2pctl_table_print(P2pctlTable *t, FILE *out)
{
	g_autofree guint *width = g_new0(guint, t->ncols);

	for (guint i = 0; i < t->cells->len; i++)
		width[i % t->ncols] = MAX(width[i % t->ncols], columns(t->cells->pdata[i]));
	for (guint i = 0; i < t->cells->len; i++) {
		guint col = i % t->ncols;
		const char *cell = t->cells->pdata[i];
		fputs(cell, out);
		if (col + 1 == t->ncols)
			fputc('\n', out);
		else
			fprintf(out, "%*s", (int)(width[col] - columns(cell) + 2), "");
	}
}

void
p2pctl_table_free(P2pctlTable *t)
{
	if (t == NULL)
		return;
	g_ptr_array_unref(t->cells);
	g_free(t);
}

/* p2pd-service.c: see p2pd-service.h. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "p2p-log.h"
#include "p2pd-service.h"
#include "p2pd-transfer.h"

struct _P2pService {
	P2pDaemon *d;
	char **argv;
	char *status;      /* the last STATUS= sent */
	guint64 watchdog;  /* WatchdogSec in microseconds, 0 = none */
	guint timer;
	guint sighup;
};

static char *
status_text(P2pDaemon *d)
{
	guint online = 0, active = 0;
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->peers);
	while (g_hash_table_iter_next(&it, NULL, &v))
		online += ((P2pPeer *)v)->online;
	g_hash_table_iter_init(&it, d->transfers);
	while (g_hash_table_iter_next(&it, NULL, &v))
		active += p2p_transfer_is_active(v);
	P2pSignalState st = p2p_signal_get_state(d->signal);
	const char *err = p2p_signal_last_error(d->signal);
	return g_strdup_printf("signaling %s (%s)%s%s; %u peer%s online; %u transfer%s active",
	                       p2p_signal_state_name(st), d->cfg->signal_server,
	                       st != P2P_SIGNAL_REGISTERED && err ? ": " : "",
	                       st != P2P_SIGNAL_REGISTERED && err ? err : "", online,
	                       online == 1 ? "" : "s", active, active == 1 ? "" : "s");
}

void
p2p_service_status(P2pService *svc)
{
	if (svc == NULL)
		return;
	g_autofree char *text = status_text(svc->d);
	if (g_strcmp0(text, svc->status) == 0)
		return;
	g_free(svc->status);
	svc->status = g_steal_pointer(&text);
	/* one line: a newline in an error message would end the assignment early */
	g_autofree char *line = g_strdup_printf("STATUS=%s", svc->status);
	g_strdelimit(line, "\n", ' ');
	sd_notify(0, line);
}

static gboolean
tick(gpointer data)
{
	P2pService *svc = data;
	if (svc->watchdog)
		sd_notify(0, "WATCHDOG=1");
	p2p_service_status(svc);
	return G_SOURCE_CONTINUE;
}

static char *
join_names(GPtrArray *names)
{
	g_ptr_array_add(names, NULL);
	char *s = g_strjoinv(", ", (char **)names->pdata);
	g_ptr_array_remove_index(names, names->len - 1);
	return s;
}

gboolean
p2p_service_reload(P2pService *svc, GError **error)
{
	P2pDaemon *d = svc->d;
	g_autoptr(GPtrArray) changed = g_ptr_array_new();
	g_autoptr(GPtrArray) restart = g_ptr_array_new();
	g_autoptr(GError) local = NULL;
	g_autofree char *mono = g_strdup_printf("MONOTONIC_USEC=%" G_GINT64_FORMAT,
	                                        g_get_monotonic_time());

	sd_notifyf(0, "RELOADING=1\n%s", mono);
	gboolean ok = p2p_config_reload(d->cfg, svc->argv, changed, restart, &local);
	if (ok) {
		/* also undoes a p2pctl log-level: the file says what the level is */
		p2p_log_set_level(d->cfg->log_level);
		g_autofree char *c = join_names(changed);
		g_autofree char *r = join_names(restart);
		if (changed->len)
			g_message("reload: %s applied", c);
		else
			g_message("reload: nothing changed that applies at runtime");
		if (restart->len)
			g_warning("reload: %s changed but only take effect when p2pd restarts", r);
	} else {
		g_warning("reload failed, the configuration in use stays: %s", local->message);
		g_propagate_error(error, g_steal_pointer(&local));
	}
	sd_notify(0, "READY=1");
	g_clear_pointer(&svc->status, g_free);
	p2p_service_status(svc);
	return ok;
}

static gboolean
on_sighup(gpointer data)
{
	g_autoptr(GError) error = NULL;
	p2p_service_reload(data, &error); /* logged there */
	return G_SOURCE_CONTINUE;
}

P2pService *
p2p_service_start(P2pDaemon *d, char **argv)
{
	P2pService *svc = g_new0(P2pService, 1);
	guint interval = P2P_SERVICE_STATUS_INTERVAL_MS;

	svc->d = d;
	svc->argv = g_strdupv(argv);
	if (sd_watchdog_enabled(0, &svc->watchdog) > 0) {
		/* half the period, as sd_watchdog_enabled(3) advises, and no slower than the
		 * status refresh */
		interval = MIN(interval, svc->watchdog / 2000);
		interval = MAX(interval, 1);
		sd_notify(0, "WATCHDOG=1");
	} else {
		svc->watchdog = 0;
	}
	svc->timer = g_timeout_add(interval, tick, svc);
	svc->sighup = g_unix_signal_add(SIGHUP, on_sighup, svc);
	p2p_service_status(svc);
	sd_notify(0, "READY=1");
	return svc;
}

void
p2p_service_stop(P2pService *svc)
{
	if (svc == NULL)
		return;
	sd_notify(0, "STOPPING=1");
	g_clear_handle_id(&svc->timer, g_source_remove);
	g_clear_handle_id(&svc->sighup, g_source_remove);
	g_strfreev(svc->argv);
	g_free(svc->status);
	g_free(svc);
}

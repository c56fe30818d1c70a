/* p2pd-run.c: see p2pd-run.h. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "p2pd-daemon.h"
#include "p2pd-run.h"
#include "p2pd-service.h"
#include "p2p-log.h"

static gboolean
quit_cb(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

int
p2p_daemon_main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	gboolean check_only, version_only;
	/* before parsing takes the options out: a reload (SIGHUP) parses them again */
	g_auto(GStrv) args = g_strdupv(argv);

	setlocale(LC_ALL, "");
	P2pConfig *cfg = p2p_config_load(&argc, &argv, &check_only, &version_only, &error);
	if (cfg == NULL) {
		fprintf(stderr, "p2pd: %s\n", error->message);
		return 1;
	}
	if (version_only) {
		printf("p2pd %s\n", PACKAGE_VERSION);
		p2p_config_free(cfg);
		return 0;
	}
	if (check_only) {
		printf("%s: configuration OK\n", cfg->config_path ? cfg->config_path : "p2pd");
		p2p_config_free(cfg);
		return 0;
	}
	p2p_log_init("p2pd", cfg->log_level);

	/* under systemd a failure to start is logged (to the journal) and told the service
	 * manager, which shows it in "systemctl status" */
	P2pDaemon *d = p2p_daemon_new(cfg, &error);
	if (d == NULL) {
		g_critical("%s", error->message);
		sd_notifyf(0, "STATUS=failed: %s", error->message);
		return 1;
	}
	if (!p2p_daemon_start(d, &error)) {
		g_critical("%s", error->message);
		sd_notifyf(0, "STATUS=failed: %s", error->message);
		p2p_daemon_free(d);
		return 1;
	}
	d->loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, quit_cb, d->loop);
	g_unix_signal_add(SIGINT, quit_cb, d->loop);
	g_message("p2pd %s: agent %s, key %s, control socket %s", PACKAGE_VERSION, d->cfg->agent,
	          d->identity->fingerprint, d->cfg->control_socket);
	d->service = p2p_service_start(d, args);
	g_main_loop_run(d->loop);
	g_message("p2pd: stopping");
	g_clear_pointer(&d->service, p2p_service_stop);
	g_main_loop_unref(d->loop);
	p2p_daemon_free(d);
	return 0;
}

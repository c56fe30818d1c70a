/* p2pd-run.c: see p2pd-run.h. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "p2pd-daemon.h"
#include "p2pd-run.h"
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

	P2pDaemon *d = p2p_daemon_new(cfg, &error);
	if (d == NULL) {
		fprintf(stderr, "p2pd: %s\n", error->message);
		return 1;
	}
	if (!p2p_daemon_start(d, &error)) {
		fprintf(stderr, "p2pd: %s\n", error->message);
		p2p_daemon_free(d);
		return 1;
	}
	d->loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, quit_cb, d->loop);
	g_unix_signal_add(SIGINT, quit_cb, d->loop);
	g_message("p2pd %s: agent %s, key %s, control socket %s", PACKAGE_VERSION, d->cfg->agent,
	          d->identity->fingerprint, d->cfg->control_socket);
	sd_notify(0, "READY=1");
	g_main_loop_run(d->loop);
	sd_notify(0, "STOPPING=1");
	g_message("p2pd: stopping");
	g_main_loop_unref(d->loop);
	p2p_daemon_free(d);
	return 0;
}

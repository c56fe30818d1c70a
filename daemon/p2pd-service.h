/* p2pd-service.h: p2pd as a systemd service. It tells the service manager when it is
 * ready (the control socket served, the configuration valid), what it is doing (STATUS=
 * with the signaling state), that its main loop still turns (WATCHDOG=1) and when it
 * reloads or stops; and it reloads its configuration on SIGHUP. Started by hand, the
 * notifications go nowhere and SIGHUP still reloads. */
#pragma once

#include "p2pd-daemon.h"

G_BEGIN_DECLS

/* STATUS= is refreshed this often too (transfers start and end between the events
 * that refresh it at once), and the watchdog pinged at half its WatchdogSec. */
#define P2P_SERVICE_STATUS_INTERVAL_MS 5000

typedef struct _P2pService P2pService;

/* After p2p_daemon_start(): READY=1, the first STATUS=, the watchdog timer and the
 * SIGHUP handler. argv is what the daemon was started with (copied): a reload reads
 * the configuration the same way. */
P2pService *p2p_service_start(P2pDaemon *d, char **argv);
/* Sends STATUS= if the text changed since the last one. NULL-safe. */
void p2p_service_status(P2pService *svc);
/* Reloads the configuration (what SIGHUP does). On an error the old one stays. */
gboolean p2p_service_reload(P2pService *svc, GError **error);
/* STOPPING=1 and the timers gone. */
void p2p_service_stop(P2pService *svc);

G_END_DECLS

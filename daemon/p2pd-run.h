/* p2pd-run.h: the whole of p2pd's main(): parse the command line, start the daemon,
 * run the loop until SIGTERM/SIGINT. In the library so that a test program can run
 * the real daemon after setting a test seam (p2pd-testhooks.h). */
#pragma once

int p2p_daemon_main(int argc, char **argv);

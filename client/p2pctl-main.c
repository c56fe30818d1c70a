/* p2pctl-main.c: the client's entry point; everything else lives in libp2pctl.la. */
#include "config.h"

#include <locale.h>
#include <signal.h>

#include "p2pctl.h"

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	/* A daemon that goes away mid-write must be an error message, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	return p2pctl_run(argc, argv, stdout, stderr);
}

/* p2pd-main.c: the daemon lives in libp2pd; see p2pd-run.c. */
#include "config.h"

#include "p2pd-run.h"

int
main(int argc, char **argv)
{
	return p2p_daemon_main(argc, argv);
}

/* p2pd-testhooks.c: see p2pd-testhooks.h. */
#include "config.h"

#include "p2pd-testhooks.h"

const P2pTestHooks *p2p_test_hooks = NULL;

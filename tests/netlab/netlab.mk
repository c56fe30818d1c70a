# tests/netlab/netlab.mk (included by tests/local.mk): the network lab. Each scenario
# builds its own namespaces (names carry its PID), needs root, ip netns, nft and
# coturn, and skips (77) without them.
NETLAB_TESTS = \
	tests/netlab/linkem.sh \
	tests/netlab/nat-lan.sh \
	tests/netlab/nat-public.sh \
	tests/netlab/nat-ei.sh \
	tests/netlab/nat-udp-blocked.sh \
	tests/netlab/nat-symmetric.sh \
	tests/netlab/nat-turn-tcp.sh \
	tests/netlab/nat-signald-restart.sh \
	tests/netlab/nat-flush.sh \
	tests/netlab/nat-relay-restart.sh \
	tests/netlab/nat-tcp-cut.sh
TESTS += $(NETLAB_TESTS)
EXTRA_DIST += $(NETLAB_TESTS) tests/netlab/lab.sh

# the user-space link emulator (delay, rate with a bounded queue, loss over TUN): built
# with the project, not installed; the lab and bench/ put it between two namespaces
noinst_PROGRAMS += tests/netlab/linkem
tests_netlab_linkem_SOURCES = tests/netlab/linkem.c

# p2p-signald's TURN credentials (coturn's shared-secret scheme)
check_PROGRAMS += tests/unit/test-signald-turn
tests_unit_test_signald_turn_SOURCES = tests/unit/test-signald-turn.c
tests_unit_test_signald_turn_CFLAGS = $(SIGNALD_UNIT_CFLAGS)
tests_unit_test_signald_turn_LDADD = $(SIGNALD_UNIT_LIBS)
TESTS += tests/unit/test-signald-turn

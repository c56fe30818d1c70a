# tests/netlab/netlab.mk (included by tests/local.mk): the network lab. Each scenario
# builds its own namespaces (names carry its PID), needs root, ip netns, nft and
# coturn, and skips (77) without them.
NETLAB_TESTS = \
	tests/netlab/nat-lan.sh \
	tests/netlab/nat-public.sh \
	tests/netlab/nat-ei.sh
TESTS += $(NETLAB_TESTS)
EXTRA_DIST += $(NETLAB_TESTS) tests/netlab/lab.sh

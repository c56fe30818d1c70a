# tests/: unit tests (GTest) and integration tests (shell, real programs).
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir;

UNIT_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) $(OPENSSL_CFLAGS)

check_PROGRAMS += tests/unit/test-jsonrpc
tests_unit_test_jsonrpc_SOURCES = tests/unit/test-jsonrpc.c
tests_unit_test_jsonrpc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jsonrpc_LDADD = libp2pcommon.la
TESTS += tests/unit/test-jsonrpc

EXTRA_DIST += tests/lib.sh

include $(srcdir)/tests/signald.mk
include $(srcdir)/tests/channel.mk
include $(srcdir)/tests/client.mk

# integration tests: real p2p-signald and p2pd on loopback, driven with p2pctl
P2PD_INTEGRATION_TESTS = \
	tests/integration/p2pd-transfer.sh \
	tests/integration/p2pd-refusals.sh \
	tests/integration/p2pd-keys.sh \
	tests/integration/p2pd-control.sh \
	tests/integration/p2pd-signald-restart.sh \
	tests/integration/p2pd-udp-accept.sh \
	tests/integration/p2pd-udp-stalled-reader.sh \
	tests/integration/p2pd-transport-mixed.sh \
	tests/integration/p2pd-caller-rights.sh \
	tests/integration/p2pd-hostile.sh \
	tests/integration/p2pd-diskfull.sh \
	tests/integration/p2pd-tree.sh \
	tests/integration/p2pd-transfer-edges.sh \
	tests/integration/p2pd-chat.sh \
	tests/integration/p2pd-call.sh \
	tests/integration/p2pd-call-hostile.sh \
	tests/integration/p2pd-chat-hostile.sh \
	tests/integration/p2pd-resume-receiver.sh \
	tests/integration/p2pd-resume-tree.sh \
	tests/integration/p2pd-resume-sender.sh \
	tests/integration/p2pd-manual.sh \
	tests/integration/p2pd-tree-diskfull.sh \
	tests/integration/p2pd-hostile-manifest.sh \
	tests/integration/p2pd-silent-peer.sh \
	tests/integration/p2pd-reload.sh \
	tests/integration/systemd-units.sh \
	tests/integration/completion.sh \
	tests/integration/debian-package.sh
TESTS += $(P2PD_INTEGRATION_TESTS)
EXTRA_DIST += $(P2PD_INTEGRATION_TESTS) tests/demo.sh

# the real p2pd with a broken or hostile sender's lies in it (daemon/p2pd-testhooks.h),
# for p2pd-hostile.sh
check_PROGRAMS += tests/hostile-peer
tests_hostile_peer_SOURCES = tests/hostile-peer.c
tests_hostile_peer_CFLAGS = $(P2PD_CFLAGS)
tests_hostile_peer_LDADD = $(P2PD_LIBS)

include $(srcdir)/tests/p2pd.mk
include $(srcdir)/tests/netlab/netlab.mk

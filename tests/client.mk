# tests/client.mk (included by tests/local.mk): p2pctl's unit tests link libp2pctl.la;
# the integration test runs the built ./p2pctl.
P2PCTL_TEST_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/client
P2PCTL_TEST_LIBS = libp2pctl.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) -lm

check_PROGRAMS += tests/unit/test-p2pctl-output tests/unit/test-p2pctl-cli \
	tests/unit/test-p2pctl-rpc
tests_unit_test_p2pctl_output_SOURCES = tests/unit/test-p2pctl-output.c
tests_unit_test_p2pctl_output_CFLAGS = $(P2PCTL_TEST_CFLAGS)
tests_unit_test_p2pctl_output_LDADD = $(P2PCTL_TEST_LIBS)
tests_unit_test_p2pctl_cli_SOURCES = tests/unit/test-p2pctl-cli.c
tests_unit_test_p2pctl_cli_CFLAGS = $(P2PCTL_TEST_CFLAGS)
tests_unit_test_p2pctl_cli_LDADD = $(P2PCTL_TEST_LIBS)
tests_unit_test_p2pctl_rpc_SOURCES = tests/unit/test-p2pctl-rpc.c
tests_unit_test_p2pctl_rpc_CFLAGS = $(P2PCTL_TEST_CFLAGS)
tests_unit_test_p2pctl_rpc_LDADD = $(P2PCTL_TEST_LIBS)
TESTS += tests/unit/test-p2pctl-output tests/unit/test-p2pctl-cli tests/unit/test-p2pctl-rpc

# chat: the line editor, key decoding, escaping of peer text, the screen frame
check_PROGRAMS += tests/unit/test-p2pctl-chat
tests_unit_test_p2pctl_chat_SOURCES = tests/unit/test-p2pctl-chat.c
tests_unit_test_p2pctl_chat_CFLAGS = $(P2PCTL_TEST_CFLAGS)
tests_unit_test_p2pctl_chat_LDADD = $(P2PCTL_TEST_LIBS)
TESTS += tests/unit/test-p2pctl-chat

TESTS += tests/integration/p2pctl-unreachable.sh
EXTRA_DIST += tests/integration/p2pctl-unreachable.sh
TESTS += tests/integration/p2pctl-docs.sh
EXTRA_DIST += tests/integration/p2pctl-docs.sh
# two daemons, two tmux terminals (skips without tmux)
TESTS += tests/integration/p2pctl-chat.sh
EXTRA_DIST += tests/integration/p2pctl-chat.sh

# tests/p2pd.mk (included by tests/local.mk): unit tests for the daemon's pure logic,
# linked against libp2pd.la like the daemon itself.
P2PD_UNIT_TESTS = \
	tests/unit/test-p2pd-config \
	tests/unit/test-p2pd-alias \
	tests/unit/test-p2pd-inbox \
	tests/unit/test-p2pd-manifest
check_PROGRAMS += $(P2PD_UNIT_TESTS)
TESTS += $(P2PD_UNIT_TESTS)

tests_unit_test_p2pd_config_SOURCES = tests/unit/test-p2pd-config.c
tests_unit_test_p2pd_config_CFLAGS = $(P2PD_CFLAGS)
tests_unit_test_p2pd_config_LDADD = $(P2PD_LIBS)

tests_unit_test_p2pd_alias_SOURCES = tests/unit/test-p2pd-alias.c
tests_unit_test_p2pd_alias_CFLAGS = $(P2PD_CFLAGS)
tests_unit_test_p2pd_alias_LDADD = $(P2PD_LIBS)

tests_unit_test_p2pd_inbox_SOURCES = tests/unit/test-p2pd-inbox.c
tests_unit_test_p2pd_inbox_CFLAGS = $(P2PD_CFLAGS)
tests_unit_test_p2pd_inbox_LDADD = $(P2PD_LIBS)

tests_unit_test_p2pd_manifest_SOURCES = tests/unit/test-p2pd-manifest.c
tests_unit_test_p2pd_manifest_CFLAGS = $(P2PD_CFLAGS)
tests_unit_test_p2pd_manifest_LDADD = $(P2PD_LIBS)

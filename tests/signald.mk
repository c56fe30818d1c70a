# tests/signald.mk (included by tests/local.mk): p2p-signald's unit and integration
# tests, and tls-line-client, the TLS test client they (and hostile-input tests) use.
check_PROGRAMS += tests/tls-line-client
tests_tls_line_client_SOURCES = tests/tls-line-client.c
tests_tls_line_client_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_tls_line_client_LDADD = $(OPENSSL_LIBS)

SIGNALD_UNIT_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS)
SIGNALD_UNIT_LIBS = libsignald.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) \
	$(OPENSSL_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += tests/unit/test-signald-keys
tests_unit_test_signald_keys_SOURCES = tests/unit/test-signald-keys.c
tests_unit_test_signald_keys_CFLAGS = $(SIGNALD_UNIT_CFLAGS)
tests_unit_test_signald_keys_LDADD = $(SIGNALD_UNIT_LIBS)
TESTS += tests/unit/test-signald-keys

check_PROGRAMS += tests/unit/test-signald-router
tests_unit_test_signald_router_SOURCES = tests/unit/test-signald-router.c
tests_unit_test_signald_router_CFLAGS = $(SIGNALD_UNIT_CFLAGS)
tests_unit_test_signald_router_LDADD = $(SIGNALD_UNIT_LIBS)
TESTS += tests/unit/test-signald-router

check_PROGRAMS += tests/unit/test-signald-config
tests_unit_test_signald_config_SOURCES = tests/unit/test-signald-config.c
tests_unit_test_signald_config_CFLAGS = $(SIGNALD_UNIT_CFLAGS)
tests_unit_test_signald_config_LDADD = $(SIGNALD_UNIT_LIBS)
TESTS += tests/unit/test-signald-config

TESTS += \
	tests/integration/signald-basic.sh \
	tests/integration/signald-visibility.sh \
	tests/integration/signald-replace.sh \
	tests/integration/signald-limits.sh \
	tests/integration/signald-admin.sh \
	tests/integration/signald-output.sh
EXTRA_DIST += tests/integration/signald-common.sh \
	tests/integration/signald-basic.sh \
	tests/integration/signald-visibility.sh \
	tests/integration/signald-replace.sh \
	tests/integration/signald-limits.sh \
	tests/integration/signald-admin.sh \
	tests/integration/signald-output.sh

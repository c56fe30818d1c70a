# tests/channel.mk (included by tests/local.mk)
check_PROGRAMS += tests/unit/test-frame
tests_unit_test_frame_SOURCES = tests/unit/test-frame.c
tests_unit_test_frame_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_frame_LDADD = libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS)
TESTS += tests/unit/test-frame

check_PROGRAMS += tests/unit/test-channel
tests_unit_test_channel_SOURCES = tests/unit/test-channel.c
tests_unit_test_channel_CFLAGS = $(P2PD_CFLAGS)
tests_unit_test_channel_LDADD = $(P2PD_LIBS)
TESTS += tests/unit/test-channel

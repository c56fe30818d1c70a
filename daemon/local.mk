# daemon/: p2pd. The logic lives in libp2pd.la, which p2pd, the unit tests and the
# fuzzers link; p2pd-main.c only parses the command line and runs the loop.
P2PD_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) $(NICE_CFLAGS) \
	$(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS) $(SQLITE_CFLAGS)
P2PD_LIBS = libp2pd.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) $(NICE_LIBS) \
	$(OPENSSL_LIBS) $(SYSTEMD_LIBS) $(SQLITE_LIBS)

noinst_LTLIBRARIES += libp2pd.la
libp2pd_la_SOURCES =
libp2pd_la_CFLAGS = $(P2PD_CFLAGS)

# identity, secure channel and transports
include $(srcdir)/daemon/channel.mk

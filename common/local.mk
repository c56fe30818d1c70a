# common/: code shared by the daemon, the client and the signaling server.
noinst_LTLIBRARIES += libp2pcommon.la
libp2pcommon_la_SOURCES = \
	common/p2p-protocol.h \
	common/p2p-jsonrpc.c common/p2p-jsonrpc.h \
	common/p2p-frame.c common/p2p-frame.h \
	common/p2p-log.c common/p2p-log.h
libp2pcommon_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) $(OPENSSL_CFLAGS)
libp2pcommon_la_LIBADD = $(GLIB_LIBS) $(JSONGLIB_LIBS) $(OPENSSL_LIBS)

# signald/: p2p-signald. The logic lives in libsignald.la, which p2p-signald and the
# unit tests link; signald-main.c only reads the command line and runs the loop.
SIGNALD_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) $(OPENSSL_CFLAGS) \
	$(LIBEVENT_CFLAGS)
SIGNALD_LIBS = libsignald.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) \
	$(OPENSSL_LIBS) $(LIBEVENT_LIBS)

noinst_LTLIBRARIES += libsignald.la
libsignald_la_SOURCES = \
	signald/signald-config.c signald/signald-config.h \
	signald/signald-keys.c signald/signald-keys.h \
	signald/signald-cert.c signald/signald-cert.h \
	signald/signald-router.c signald/signald-router.h \
	signald/signald-session.c signald/signald-session.h \
	signald/signald-server.c signald/signald-server.h \
	signald/signald-turn.c signald/signald-turn.h
libsignald_la_CFLAGS = $(SIGNALD_CFLAGS)

sbin_PROGRAMS += p2p-signald
p2p_signald_SOURCES = signald/signald-main.c
p2p_signald_CFLAGS = $(SIGNALD_CFLAGS)
p2p_signald_LDADD = $(SIGNALD_LIBS)

dist_man_MANS += man/p2p-signald.8
EXTRA_DIST += etc/signald.conf etc/keys.conf.example etc/turnserver.conf

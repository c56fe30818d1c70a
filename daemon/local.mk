# daemon/: p2pd. The logic lives in libp2pd.la, which p2pd, the unit tests and the
# fuzzers link; p2pd-main.c only calls p2p_daemon_main() (p2pd-run.c).
P2PD_CFLAGS = $(AM_CFLAGS) -DG_LOG_DOMAIN=\"p2pd\" $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) \
	$(NICE_CFLAGS) $(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS) $(SQLITE_CFLAGS) $(YAJL_CFLAGS) $(SOUP_CFLAGS)
P2PD_LIBS = libp2pd.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) $(NICE_LIBS) \
	$(OPENSSL_LIBS) $(SYSTEMD_LIBS) $(SQLITE_LIBS) $(YAJL_LIBS) $(SOUP_LIBS)

noinst_LTLIBRARIES += libp2pd.la
libp2pd_la_SOURCES = \
	daemon/p2pd-config.c daemon/p2pd-config.h \
	daemon/p2pd-control.c daemon/p2pd-control.h \
	daemon/p2pd-daemon.c daemon/p2pd-daemon.h \
	daemon/p2pd-inbox.c daemon/p2pd-inbox.h \
	daemon/p2pd-run.c daemon/p2pd-run.h \
	daemon/p2pd-service.c daemon/p2pd-service.h \
	daemon/p2pd-session.c daemon/p2pd-session.h \
	daemon/p2pd-signal.c daemon/p2pd-signal.h \
	daemon/p2pd-state.c daemon/p2pd-state.h \
	daemon/p2pd-testhooks.c daemon/p2pd-testhooks.h \
	daemon/p2pd-writer.c daemon/p2pd-writer.h \
	daemon/p2pd-transfer.c daemon/p2pd-transfer.h daemon/p2pd-transfer-internal.h \
	daemon/p2pd-receive.c \
	daemon/p2pd-manifest.c daemon/p2pd-manifest.h \
	daemon/p2pd-journal.c daemon/p2pd-journal.h \
	daemon/p2pd-chat.c daemon/p2pd-chat.h \
	daemon/p2pd-call.c daemon/p2pd-call.h
nodist_libp2pd_la_SOURCES = daemon/p2pd-call-resources.c
libp2pd_la_CFLAGS = $(P2PD_CFLAGS)

# the call page (HTML, JS, CSS) is compiled into p2pd: it fetches nothing from anywhere
CALL_PAGE_FILES = daemon/call-page/call.html daemon/call-page/call.js daemon/call-page/call.css
EXTRA_DIST += daemon/call-page/p2pd-call.gresource.xml $(CALL_PAGE_FILES)
BUILT_SOURCES = daemon/p2pd-call-resources.c
CLEANFILES += daemon/p2pd-call-resources.c
daemon/p2pd-call-resources.c: $(srcdir)/daemon/call-page/p2pd-call.gresource.xml $(CALL_PAGE_FILES:%=$(srcdir)/%)
	$(AM_V_GEN)$(MKDIR_P) daemon && $(GLIB_COMPILE_RESOURCES) --target=$@ --generate-source \
		--c-name p2p_call_page \
		--sourcedir=$(srcdir)/daemon/call-page $(srcdir)/daemon/call-page/p2pd-call.gresource.xml

sbin_PROGRAMS += p2pd
p2pd_SOURCES = daemon/p2pd-main.c
p2pd_CFLAGS = $(P2PD_CFLAGS)
p2pd_LDADD = $(P2PD_LIBS)

# identity, secure channel and transports
include $(srcdir)/daemon/channel.mk

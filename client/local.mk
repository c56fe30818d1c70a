# client/: p2pctl. The verbs, the RPC connection and the output helpers live in
# libp2pctl.la, which p2pctl and the unit tests link; p2pctl-main.c only calls p2pctl_run().
P2PCTL_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSONGLIB_CFLAGS) -I$(top_srcdir)/client
P2PCTL_LIBS = libp2pctl.la libp2pcommon.la $(GLIB_LIBS) $(JSONGLIB_LIBS) -lm

noinst_LTLIBRARIES += libp2pctl.la
libp2pctl_la_SOURCES = \
	client/p2pctl.h \
	client/p2pctl-cli.c \
	client/p2pctl-rpc.c \
	client/p2pctl-output.c \
	client/p2pctl-transfer.c \
	client/p2pctl-cmd-info.c \
	client/p2pctl-cmd-transfer.c \
	client/p2pctl-cmd-send.c \
	client/p2pctl-cmd-recv.c \
	client/p2pctl-cmd-watch.c \
	client/p2pctl-chat.h \
	client/p2pctl-edit.c \
	client/p2pctl-term.c \
	client/p2pctl-chat.c \
	client/p2pctl-cmd-chat.c \
	client/p2pctl-cmd-log.c \
	client/p2pctl-cmd-call.c
libp2pctl_la_CFLAGS = $(P2PCTL_CFLAGS)

bin_PROGRAMS += p2pctl
p2pctl_SOURCES = client/p2pctl-main.c
p2pctl_CFLAGS = $(P2PCTL_CFLAGS)
p2pctl_LDADD = $(P2PCTL_LIBS)

# daemon/channel.mk: identity, TLS channel, transports (included by daemon/local.mk)
libp2pd_la_SOURCES += \
	daemon/p2pd-identity.c daemon/p2pd-identity.h \
	daemon/p2pd-transport.h daemon/p2pd-transport-nice.c \
	daemon/p2pd-transport-dgram.c \
	daemon/p2pd-channel.c daemon/p2pd-channel.h

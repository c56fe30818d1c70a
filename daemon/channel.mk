# daemon/channel.mk: identity, TLS channel, transports (included by daemon/local.mk)

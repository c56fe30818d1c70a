# tests/channel.mk (included by tests/local.mk)

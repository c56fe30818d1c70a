# tests/client.mk (included by tests/local.mk)

# tests/signald.mk (included by tests/local.mk)

/* signald-cert.h: the server's TLS context, and a self-signed certificate for tests
 * and small deployments. */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

G_BEGIN_DECLS

#define SIGNALD_CERT_FILE   "signald.crt"
#define SIGNALD_KEY_FILE    "signald.key"
#define SIGNALD_CERT_DAYS   825
#define SIGNALD_CERT_SAN    "DNS:localhost,IP:127.0.0.1,IP:::1"

/* Writes DIR/signald.crt and DIR/signald.key (0600): an EC P-256 key and a self-signed
 * certificate for localhost, 127.0.0.1 and ::1. Refuses to overwrite either file. */
gboolean signald_cert_make(const char *dir, GError **error);

/* A TLS 1.2+ server context holding the certificate chain and key (checked to match). */
SSL_CTX *signald_tls_context_new(const char *cert_path, const char *key_path, GError **error);

/* The first queued OpenSSL error as text (empties the queue), for messages. */
char *signald_openssl_error(void);

G_END_DECLS

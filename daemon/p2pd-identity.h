/* p2pd-identity.h: the daemon's long-term identity, an Ed25519 key with a self-signed
 * certificate, and its fingerprint (SHA-256 of the DER SubjectPublicKeyInfo), which is
 * what peers pin and what the signaling server announces. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

#define P2P_IDENTITY_KEY_FILE  "identity.key"
#define P2P_IDENTITY_CERT_FILE "identity.crt"
#define P2P_IDENTITY_CERT_DAYS (10 * 365)

typedef struct {
	EVP_PKEY *key;
	X509 *cert;
	char fingerprint[65];
} P2pIdentity;

/* Loads state_dir/identity.{key,crt}, creating them (mode 0600) on first start. A
 * missing cert, or one that does not match the key or agent_id, is re-issued from the
 * key: the fingerprint only depends on the key. A key file readable by group or others
 * is refused. state_dir is created (0700) if missing. */
P2pIdentity *p2p_identity_load_or_create(const char *state_dir, const char *agent_id,
                                         GError **error);
void p2p_identity_free(P2pIdentity *id);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(P2pIdentity, p2p_identity_free)

/* Lowercase hex SHA-256 of i2d_PUBKEY(pkey): THE fingerprint everywhere. */
char *p2p_fingerprint_of_pkey(EVP_PKEY *pkey);
/* 64 lowercase hex characters. */
gboolean p2p_fingerprint_valid(const char *s);

G_END_DECLS

/* signald-cert.c: see signald-cert.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "signald-cert.h"
#include "signald-keys.h"

char *
signald_openssl_error(void)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (e == 0)
		return g_strdup("unknown OpenSSL error");
	ERR_error_string_n(e, buf, sizeof(buf));
	return g_strdup(buf);
}

static gboolean
set_openssl_error(GError **error, const char *what)
{
	g_autofree char *msg = signald_openssl_error();
	g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s: %s", what, msg);
	return FALSE;
}

static gboolean
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return FALSE;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1;
}

static char *
pem_of(int (*write)(BIO *, void *), void *obj)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	char *out = NULL;

	if (bio == NULL)
		return NULL;
	if (write(bio, obj) == 1) {
		long len = BIO_get_mem_data(bio, &data);
		out = g_strndup(data, len);
	}
	BIO_free(bio);
	return out;
}

static int
write_key(BIO *bio, void *key)
{
	return PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
}

static int
write_cert(BIO *bio, void *cert)
{
	return PEM_write_bio_X509(bio, cert);
}

gboolean
signald_cert_make(const char *dir, GError **error)
{
	g_autofree char *cert_path = g_build_filename(dir, SIGNALD_CERT_FILE, NULL);
	g_autofree char *key_path = g_build_filename(dir, SIGNALD_KEY_FILE, NULL);
	g_autofree char *cert_pem = NULL;
	g_autofree char *key_pem = NULL;
	g_autoptr(GError) local = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	ASN1_INTEGER *serial = NULL;
	guint8 rnd[16];
	gboolean ok = FALSE;

	if (g_file_test(cert_path, G_FILE_TEST_EXISTS) || g_file_test(key_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_EXISTS,
		            "%s or %s exists already: remove them first to make new ones",
		            cert_path, key_path);
		return FALSE;
	}
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "cannot create %s: %s",
		            dir, g_strerror(errno));
		return FALSE;
	}
	pkey = EVP_EC_gen("P-256");
	if (pkey == NULL) {
		set_openssl_error(error, "generating an EC P-256 key");
		goto cleanup;
	}
	cert = X509_new();
	if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1) {
		set_openssl_error(error, "creating a certificate");
		goto cleanup;
	}
	rnd[0] &= 0x7f; /* a positive serial */
	BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	X509_NAME *name = X509_get_subject_name(cert);
	if (serial == NULL || X509_set_serialNumber(cert, serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * SIGNALD_CERT_DAYS) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, pkey) != 1 ||
	    !add_ext(cert, NID_subject_alt_name, SIGNALD_CERT_SAN) ||
	    !add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(cert, NID_subject_key_identifier, "hash") ||
	    X509_sign(cert, pkey, EVP_sha256()) == 0) {
		set_openssl_error(error, "creating a certificate");
		goto cleanup;
	}
	key_pem = pem_of(write_key, pkey);
	cert_pem = pem_of(write_cert, cert);
	if (key_pem == NULL || cert_pem == NULL) {
		set_openssl_error(error, "encoding PEM");
		goto cleanup;
	}
	if (!g_file_set_contents_full(key_path, key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT,
	                              0600, &local) ||
	    !g_file_set_contents_full(cert_path, cert_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT,
	                              0644, &local)) {
		g_set_error(error, SIGNALD_ERROR, SIGNALD_ERROR_INVALID, "%s", local->message);
		goto cleanup;
	}
	ok = TRUE;
cleanup:
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	ASN1_INTEGER_free(serial);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return ok;
}

SSL_CTX *
signald_tls_context_new(const char *cert_path, const char *key_path, GError **error)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	g_autofree char *what = NULL;

	if (ctx == NULL) {
		set_openssl_error(error, "creating the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Renegotiation only helps a client make the server work; no compression (CRIME). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                         SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		what = g_strdup_printf("certificate %s", cert_path);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		what = g_strdup_printf("private key %s", key_path);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		what = g_strdup_printf("private key %s does not match certificate %s", key_path,
		                       cert_path);
		goto fail;
	}
	return ctx;
fail:
	set_openssl_error(error, what);
	SSL_CTX_free(ctx);
	return NULL;
}

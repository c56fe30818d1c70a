/* p2pd-identity.c: see p2pd-identity.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "p2pd-identity.h"

/* A key or certificate file larger than this is not ours. */
#define IDENTITY_MAX_FILE (64 * 1024)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)

static void
set_ssl_error(GError **error, const char *what, const char *path)
{
	char buf[256] = "unknown OpenSSL error";
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", what, path, buf);
}

char *
p2p_fingerprint_of_pkey(EVP_PKEY *pkey)
{
	unsigned char *der = NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;

	int len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		return NULL;
	gboolean ok = EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	if (!ok || mdlen != sizeof(md))
		return NULL;
	char *hex = g_malloc(65);
	for (guint i = 0; i < 32; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

gboolean
p2p_fingerprint_valid(const char *s)
{
	if (s == NULL)
		return FALSE;
	for (guint i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return FALSE;
	}
	return s[64] == '\0';
}

void
p2p_identity_free(P2pIdentity *id)
{
	if (id == NULL)
		return;
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	g_free(id);
}

/* Reads a whole PEM file through an fd we can fstat, so the mode check and the read
 * concern the same file. Returns NULL with *missing set when it does not exist. */
static GBytes *
read_private_file(const char *path, gboolean check_mode, gboolean *missing, GError **error)
{
	struct stat st;
	*missing = FALSE;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = TRUE;
			return NULL;
		}
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open %s: %s",
		            path, g_strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a regular file",
		            path);
		close(fd);
		return NULL;
	}
	if (check_mode && (st.st_mode & 077) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "private key %s is readable by group or others (mode %04o); "
		            "refusing to use it: run chmod 600 on it (or remove it to create a new "
		            "identity)", path, (guint)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	if (check_mode && st.st_uid != geteuid()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "private key %s is owned by uid %u, not by us (uid %u)", path,
		            (guint)st.st_uid, (guint)geteuid());
		close(fd);
		return NULL;
	}
	if (st.st_size > IDENTITY_MAX_FILE) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "%s is larger than %d bytes", path, IDENTITY_MAX_FILE);
		close(fd);
		return NULL;
	}
	guint8 *buf = g_malloc(st.st_size + 1);
	gsize got = 0;
	while (got < (gsize)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot read %s: %s", path,
			            n < 0 ? g_strerror(errno) : "file shrank while reading");
			g_free(buf);
			close(fd);
			return NULL;
		}
		got += n;
	}
	close(fd);
	return g_bytes_new_take(buf, got);
}

/* Writes data to a fresh temp file (0600) beside path, fsyncs it and moves it into place,
 * so a crash never leaves half a file under the final name. With exclusive, an existing
 * file at path is an error instead of being replaced. */
static gboolean
write_private_file(const char *path, const void *data, gsize len, gboolean exclusive,
                   GError **error)
{
	g_autofree char *tmp = g_strconcat(path, ".tmp-XXXXXX", NULL);
	int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create %s: %s", tmp, g_strerror(errno));
		return FALSE;
	}
	const guint8 *p = data;
	gsize done = 0;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			g_unlink(tmp);
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot write %s: %s",
			            tmp, g_strerror(e));
			return FALSE;
		}
		done += n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		g_unlink(tmp);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot write %s: %s", tmp,
		            g_strerror(e));
		return FALSE;
	}
	/* link() fails on an existing name: O_EXCL semantics for the final file */
	int r = exclusive ? link(tmp, path) : rename(tmp, path);
	int e = errno;
	if (exclusive || r < 0)
		g_unlink(tmp);
	if (r < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot create %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	/* make the new directory entry durable too */
	g_autofree char *dir = g_path_get_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return TRUE;
}

static X509 *
make_cert(EVP_PKEY *key, const char *agent_id, GError **error)
{
	g_autoptr(X509) cert = X509_new();
	unsigned char serial[16];
	g_autoptr(BIGNUM) bn = NULL;

	if (cert == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto fail;
	if (X509_set_version(cert, X509_VERSION_3) != 1)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), P2P_IDENTITY_CERT_DAYS, 0, NULL) == NULL)
		goto fail;
	X509_NAME *name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)agent_id,
	                               -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1)
		goto fail;
	/* Ed25519 signs without a separate digest */
	if (X509_sign(cert, key, NULL) <= 0)
		goto fail;
	return g_steal_pointer(&cert);
fail:
	set_ssl_error(error, "cannot create the certificate for", agent_id);
	return NULL;
}

static gboolean
cert_fits(X509 *cert, EVP_PKEY *key, const char *agent_id)
{
	char cn[256];
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
		return FALSE;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
	                                  sizeof(cn));
	return n >= 0 && g_strcmp0(cn, agent_id) == 0;
}

static gboolean
save_pem(const char *path, gboolean is_key, gpointer obj, gboolean exclusive, GError **error)
{
	g_autoptr(BIO) mem = BIO_new(BIO_s_mem());
	int ok = is_key ? PEM_write_bio_PrivateKey(mem, obj, NULL, NULL, 0, NULL, NULL)
	                : PEM_write_bio_X509(mem, obj);
	if (ok != 1) {
		set_ssl_error(error, "cannot encode", path);
		return FALSE;
	}
	char *data = NULL;
	long len = BIO_get_mem_data(mem, &data);
	gboolean r = write_private_file(path, data, len, exclusive, error);
	OPENSSL_cleanse(data, len);
	return r;
}

P2pIdentity *
p2p_identity_load_or_create(const char *state_dir, const char *agent_id, GError **error)
{
	g_autofree char *key_path = g_build_filename(state_dir, P2P_IDENTITY_KEY_FILE, NULL);
	g_autofree char *cert_path = g_build_filename(state_dir, P2P_IDENTITY_CERT_FILE, NULL);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(GBytes) data = NULL;
	gboolean missing = FALSE;

	if (agent_id == NULL || *agent_id == '\0') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "empty agent id");
		return NULL;
	}
	if (g_mkdir_with_parents(state_dir, 0700) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create state directory %s: %s", state_dir, g_strerror(errno));
		return NULL;
	}
	ERR_clear_error();

	data = read_private_file(key_path, TRUE, &missing, error);
	if (data == NULL && !missing)
		return NULL;
	if (data != NULL) {
		gsize len = 0;
		const void *p = g_bytes_get_data(data, &len);
		g_autoptr(BIO) mem = BIO_new_mem_buf(p, len);
		key = PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL);
		if (key == NULL) {
			set_ssl_error(error, "cannot parse private key", key_path);
			return NULL;
		}
		if (!EVP_PKEY_is_a(key, "ED25519")) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "private key %s is not an Ed25519 key", key_path);
			return NULL;
		}
	} else {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (key == NULL) {
			set_ssl_error(error, "cannot generate the key for", key_path);
			return NULL;
		}
		if (!save_pem(key_path, TRUE, key, TRUE, error))
			return NULL;
		/* an old cert belongs to an old key: never keep it */
		g_unlink(cert_path);
	}

	g_clear_pointer(&data, g_bytes_unref);
	data = read_private_file(cert_path, FALSE, &missing, error);
	if (data == NULL && !missing)
		return NULL;
	if (data != NULL) {
		gsize len = 0;
		const void *p = g_bytes_get_data(data, &len);
		g_autoptr(BIO) mem = BIO_new_mem_buf(p, len);
		cert = PEM_read_bio_X509(mem, NULL, NULL, NULL);
		ERR_clear_error();
		/* unreadable, for another key or another agent id: re-issue it from the key */
		if (cert != NULL && !cert_fits(cert, key, agent_id))
			g_clear_pointer(&cert, X509_free);
	}
	if (cert == NULL) {
		cert = make_cert(key, agent_id, error);
		if (cert == NULL)
			return NULL;
		if (!save_pem(cert_path, FALSE, cert, FALSE, error))
			return NULL;
	}

	g_autofree char *fp = p2p_fingerprint_of_pkey(key);
	if (fp == NULL) {
		set_ssl_error(error, "cannot compute the fingerprint of", key_path);
		return NULL;
	}
	P2pIdentity *id = g_new0(P2pIdentity, 1);
	id->key = g_steal_pointer(&key);
	id->cert = g_steal_pointer(&cert);
	memcpy(id->fingerprint, fp, 65);
	return id;
}

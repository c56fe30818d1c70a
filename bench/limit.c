/* bench/limit.c: the machine's ceiling for a p2pd transfer with no network (issue 10).
 *
 *   bench/limit [SIZE_MIB]        (default 1024; reads and writes /dev/shm)
 *
 * Does the CPU work of a transfer on both sides, with the OpenSSL calls and sizes p2pd
 * uses, on two threads as the two daemons would use the two cores: the sender reads the
 * file in 64 KiB chunks (pread, posix_fadvise sequential), hashes them with SHA-256 and
 * seals them in TLS-record-sized pieces (16 KiB, AES-256-GCM, TLS 1.3's first suite);
 * the receiver opens each record, hashes the plaintext and writes it (pwrite). A queue of
 * 256 records (4 MiB, about what the daemons keep in flight) joins them. Prints MB/s and
 * checks that both hashes agree. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define CHUNK   (64 * 1024)   /* P2P_DATA_CHUNK */
#define RECORD  (16 * 1024)   /* TLS record plaintext */
#define TAG     16
#define SLOTS   256

typedef struct {
	unsigned char data[RECORD + TAG];
	size_t len;               /* plaintext bytes; 0 ends the stream */
	unsigned char iv[12];
} Record;

static Record ring[SLOTS];
static unsigned head, tail;   /* head: next to fill, tail: next to take */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static unsigned char key[32];
static const char *src_path, *dst_path;
static unsigned char sum_out[32], sum_in[32];

static void
die(const char *what)
{
	fprintf(stderr, "limit: %s: %s\n", what, strerror(errno));
	exit(1);
}

static Record *
slot_to_fill(void)
{
	pthread_mutex_lock(&lock);
	while (head - tail == SLOTS)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	return &ring[head % SLOTS];
}

static void
filled(void)
{
	pthread_mutex_lock(&lock);
	head++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static Record *
slot_to_take(void)
{
	pthread_mutex_lock(&lock);
	while (head == tail)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	return &ring[tail % SLOTS];
}

static void
taken(void)
{
	pthread_mutex_lock(&lock);
	tail++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void *
sender(void *arg)
{
	int fd = open(src_path, O_RDONLY);
	unsigned char *buf = malloc(CHUNK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_CIPHER_CTX *aead = EVP_CIPHER_CTX_new();
	unsigned long long seq = 0;
	off_t off = 0;
	ssize_t n;

	if (fd < 0)
		die(src_path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_EncryptInit_ex(aead, EVP_aes_256_gcm(), NULL, key, NULL);
	while ((n = pread(fd, buf, CHUNK, off)) > 0) {
		off += n;
		EVP_DigestUpdate(md, buf, n);
		for (ssize_t done = 0; done < n; done += RECORD) {
			Record *r = slot_to_fill();
			int len = n - done < RECORD ? n - done : RECORD, out = 0;
			memset(r->iv, 0, sizeof(r->iv));
			memcpy(r->iv + 4, &seq, sizeof(seq));
			seq++;
			EVP_EncryptInit_ex(aead, NULL, NULL, NULL, r->iv);
			EVP_EncryptUpdate(aead, r->data, &out, buf + done, len);
			EVP_EncryptFinal_ex(aead, r->data + out, &out);
			EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_GCM_GET_TAG, TAG, r->data + len);
			r->len = len;
			filled();
		}
	}
	if (n < 0)
		die("read");
	Record *r = slot_to_fill();
	r->len = 0;
	filled();
	EVP_DigestFinal_ex(md, sum_out, NULL);
	close(fd);
	free(buf);
	EVP_MD_CTX_free(md);
	EVP_CIPHER_CTX_free(aead);
	return arg;
}

static void *
receiver(void *arg)
{
	int fd = open(dst_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	unsigned char *plain = malloc(RECORD);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_CIPHER_CTX *aead = EVP_CIPHER_CTX_new();
	off_t off = 0;

	if (fd < 0)
		die(dst_path);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DecryptInit_ex(aead, EVP_aes_256_gcm(), NULL, key, NULL);
	for (;;) {
		Record *r = slot_to_take();
		if (r->len == 0)
			break;
		int out = 0;
		EVP_DecryptInit_ex(aead, NULL, NULL, NULL, r->iv);
		EVP_DecryptUpdate(aead, plain, &out, r->data, r->len);
		EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_GCM_SET_TAG, TAG, r->data + r->len);
		if (EVP_DecryptFinal_ex(aead, plain + out, &out) != 1) {
			fprintf(stderr, "limit: a record failed to authenticate\n");
			exit(1);
		}
		size_t len = r->len;
		taken();
		EVP_DigestUpdate(md, plain, len);
		if (pwrite(fd, plain, len, off) != (ssize_t)len)
			die("write");
		off += len;
	}
	taken();
	EVP_DigestFinal_ex(md, sum_in, NULL);
	close(fd);
	free(plain);
	EVP_MD_CTX_free(md);
	EVP_CIPHER_CTX_free(aead);
	return arg;
}

int
main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 1024;
	char src[] = "/dev/shm/p2pd-limit-src.XXXXXX", dst[] = "/dev/shm/p2pd-limit-dst.XXXXXX";
	struct timespec t0, t1;
	pthread_t a, b;

	int sfd = mkstemp(src), dfd = mkstemp(dst);
	if (mib <= 0 || sfd < 0 || dfd < 0)
		die("/dev/shm");
	close(dfd);
	unsigned char *buf = malloc(CHUNK);
	for (long i = 0; i < mib * 16; i++) {
		RAND_bytes(buf, CHUNK);
		if (write(sfd, buf, CHUNK) != CHUNK)
			die("writing the source");
	}
	close(sfd);
	free(buf);
	RAND_bytes(key, sizeof(key));
	src_path = src;
	dst_path = dst;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&a, NULL, sender, NULL);
	pthread_create(&b, NULL, receiver, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unlink(src);
	unlink(dst);

	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (memcmp(sum_out, sum_in, sizeof(sum_out)) != 0) {
		fprintf(stderr, "limit: the hashes differ\n");
		return 1;
	}
	printf("%ld MiB: read, SHA-256, AES-256-GCM seal | open, SHA-256, write: %.3f s, %.1f MB/s\n",
	       mib, secs, mib * 1.048576 / secs);
	return 0;
}

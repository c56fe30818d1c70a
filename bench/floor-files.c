/* bench/floor-files.c: what the file system calls of a 10,000-file transfer cost by
 * themselves, the floor under bench/tree.sh (see RESULTS.md): the receiver's
 * openat(O_CREAT) + pwrite + futimens + close of each 4 KiB file, then the sender's
 * openat + fstat + pread + close of the same files.
 *   cc -O2 -o /tmp/floor bench/floor-files.c && mkdir /dev/shm/f && /tmp/floor /dev/shm/f */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILES 10000

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char buf[4097], path[64];
	struct stat st;

	if (argc != 2) {
		fprintf(stderr, "usage: %s EMPTY-DIR\n", argv[0]);
		return 2;
	}
	int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dir < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	for (int d = 0; d < FILES / 100; d++) {
		snprintf(path, sizeof(path), "d%03d", d);
		mkdirat(dir, path, 0700);
	}
	double t0 = now();
	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "d%03d/f%03d", i / 100, i % 100);
		int fd = openat(dir, path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
		if (fd < 0 || pwrite(fd, buf, 4096, 0) != 4096 || futimens(fd, ts) != 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	double t1 = now();
	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "d%03d/f%03d", i / 100, i % 100);
		int fd = openat(dir, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) != 0 || pread(fd, buf, sizeof(buf), 0) != 4096) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	double t2 = now();
	printf("receiver side (create, write, futimens, close): %.3f s\n", t1 - t0);
	printf("sender side (open, fstat, read, close):         %.3f s\n", t2 - t1);
	return 0;
}

/* randio.c — N preads or pwrites of BS bytes at random BS-aligned offsets of FILE.
 * Used by bench/semantics.sh (bench/helpers/randread.c is the read-only original).
 *
 * usage: randio read|write FILE N BS SEED
 * Offsets come from xorshift64* seeded with SEED (the same sequence on every
 * target, and as randread.c). read opens O_RDONLY, write opens O_RDWR; both keep
 * the file's size. Prints the wall time of the I/O loop in seconds
 * (CLOCK_MONOTONIC; open and fstat are outside it). Exits 1 on an error or a short
 * transfer. No fsync: writes land in the (backing) page cache.
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "write") != 0)) {
        fprintf(stderr, "usage: randio read|write FILE N BS SEED\n");
        return 2;
    }
    int writing = strcmp(argv[1], "write") == 0;
    const char *path = argv[2];
    long n = strtol(argv[3], NULL, 10);
    long bs = strtol(argv[4], NULL, 10);
    seed_rand(argv[5]);
    if (n <= 0 || bs <= 0) {
        fprintf(stderr, "randio: N and BS must be > 0\n");
        return 2;
    }
    int fd = open(path, (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "randio: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "randio: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t blocks = (uint64_t)st.st_size / (uint64_t)bs;
    if (blocks == 0) {
        fprintf(stderr, "randio: %s is smaller than one block\n", path);
        return 1;
    }
    char *buf = malloc((size_t)bs);
    if (!buf) return 1;
    for (long i = 0; i < bs; i++) buf[i] = (char)(i * 31 + 7);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        off_t off = (off_t)((next_rand() % blocks) * (uint64_t)bs);
        ssize_t r = writing ? pwrite(fd, buf, (size_t)bs, off) : pread(fd, buf, (size_t)bs, off);
        if (r != bs) {
            fprintf(stderr, "randio: %s %s at %lld: %s\n", writing ? "pwrite" : "pread", path,
                    (long long)off, r < 0 ? strerror(errno) : "short transfer");
            return 1;
        }
    }
    double t = now() - t0;
    close(fd);
    free(buf);
    printf("%.6f\n", t);
    return 0;
}

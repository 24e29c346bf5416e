/* randread.c — N preads of BS bytes at random BS-aligned offsets of FILE.
 *
 * usage: randread FILE N BS SEED
 * Offsets come from xorshift64* seeded with SEED, so every target reads the
 * same sequence. Prints the wall time of the read loop in seconds
 * (CLOCK_MONOTONIC; open and fstat are outside it). Exits 1 on an error or a
 * short read.
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: randread FILE N BS SEED\n");
        return 2;
    }
    const char *path = argv[1];
    long n = strtol(argv[2], NULL, 10);
    long bs = strtol(argv[3], NULL, 10);
    seed_rand(argv[4]);
    if (n <= 0 || bs <= 0) {
        fprintf(stderr, "randread: N and BS must be > 0\n");
        return 2;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "randread: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "randread: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t blocks = (uint64_t)st.st_size / (uint64_t)bs;
    if (blocks == 0) {
        fprintf(stderr, "randread: %s is smaller than one block\n", path);
        return 1;
    }
    char *buf = malloc((size_t)bs);
    if (!buf) return 1;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        off_t off = (off_t)((next_rand() % blocks) * (uint64_t)bs);
        ssize_t r = pread(fd, buf, (size_t)bs, off);
        if (r != bs) {
            fprintf(stderr, "randread: pread %s at %lld: %s\n", path, (long long)off,
                    r < 0 ? strerror(errno) : "short read");
            return 1;
        }
    }
    double t = now() - t0;
    close(fd);
    free(buf);
    printf("%.6f\n", t);
    return 0;
}

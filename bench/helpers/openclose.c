/* openclose.c — open(O_RDONLY) + close of one existing file, N times.
 *
 * usage: openclose FILE N
 * Prints the wall time of the loop in seconds (CLOCK_MONOTONIC). Exits 1 on
 * any error. Measures the per-open cost (FUSE: LOOKUP is cached, OPEN +
 * FLUSH + RELEASE reach the daemon each time).
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: openclose FILE N\n");
        return 2;
    }
    const char *path = argv[1];
    long n = strtol(argv[2], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "openclose: N must be > 0\n");
        return 2;
    }
    double t0 = now();
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "openclose: open %s (iteration %ld): %s\n", path, i, strerror(errno));
            return 1;
        }
        if (close(fd) != 0) {
            fprintf(stderr, "openclose: close %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    printf("%.6f\n", now() - t0);
    return 0;
}

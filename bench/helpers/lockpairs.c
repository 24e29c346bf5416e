/* lockpairs.c — N lock/unlock pairs of exclusive OFD locks on distinct ranges.
 * Used by bench/semantics.sh.
 *
 * usage: lockpairs FILE N
 * Opens FILE with O_RDWR|O_CREAT; pair i is F_OFD_SETLK F_WRLCK of the byte at
 * i*4096 then F_OFD_SETLK F_UNLCK of the same byte. Prints the wall time of the
 * loop in seconds (CLOCK_MONOTONIC). Exits 1 if any request fails.
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: lockpairs FILE N\n");
        return 2;
    }
    const char *path = argv[1];
    long n = strtol(argv[2], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "lockpairs: N must be > 0\n");
        return 2;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "lockpairs: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct flock fl;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        memset(&fl, 0, sizeof fl);
        fl.l_whence = SEEK_SET;
        fl.l_start = (off_t)i * 4096;
        fl.l_len = 1;
        fl.l_type = F_WRLCK;
        if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
            fprintf(stderr, "lockpairs: lock at %lld: %s\n", (long long)fl.l_start, strerror(errno));
            return 1;
        }
        fl.l_type = F_UNLCK;
        if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
            fprintf(stderr, "lockpairs: unlock at %lld: %s\n", (long long)fl.l_start, strerror(errno));
            return 1;
        }
    }
    printf("%.6f\n", now() - t0);
    close(fd);
    return 0;
}

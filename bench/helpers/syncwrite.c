/* syncwrite.c — sequential writes of BS bytes, with or without O_DSYNC.
 * Used by bench/semantics.sh.
 *
 * usage: syncwrite FILE N BS dsync|plain [WRAP [RATE]]
 * Opens FILE with O_WRONLY|O_CREAT|O_TRUNC (plus O_DSYNC for dsync) and writes
 * BS-byte blocks at increasing offsets.
 * N > 0: N writes; prints the wall time of the write loop in seconds
 * (CLOCK_MONOTONIC; open and close are outside it).
 * N = 0: background mode: writes until SIGTERM/SIGINT (or until the parent dies),
 * cycling over the first WRAP blocks (default 256) so the file stays small, then
 * prints "writes K SECONDS". RATE > 0 paces the writes to at most RATE per second
 * (absolute schedule, clock_nanosleep); 0 (default) = as fast as possible.
 * Exits 1 on an error or a short write.
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 5 || argc > 7 ||
        (strcmp(argv[4], "dsync") != 0 && strcmp(argv[4], "plain") != 0)) {
        fprintf(stderr, "usage: syncwrite FILE N BS dsync|plain [WRAP [RATE]]\n");
        return 2;
    }
    const char *path = argv[1];
    long n = strtol(argv[2], NULL, 10);
    long bs = strtol(argv[3], NULL, 10);
    int dsync = strcmp(argv[4], "dsync") == 0;
    long wrap = argc >= 6 ? strtol(argv[5], NULL, 10) : 256;
    long rate = argc == 7 ? strtol(argv[6], NULL, 10) : 0;
    if (n < 0 || bs <= 0 || wrap <= 0 || rate < 0) {
        fprintf(stderr, "syncwrite: N >= 0, BS > 0, WRAP > 0, RATE >= 0\n");
        return 2;
    }
    if (n == 0) {
        if (!stop_on_signals(0)) return 0; /* parent already gone */
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (dsync ? O_DSYNC : 0), 0644);
    if (fd < 0) {
        fprintf(stderr, "syncwrite: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = malloc((size_t)bs);
    if (!buf) return 1;
    for (long i = 0; i < bs; i++) buf[i] = (char)(i * 7 + 3);
    double t0 = now();
    long long done = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long long i = 0; n == 0 ? !stop : i < n; i++) {
        if (n == 0 && rate > 0) {
            next.tv_nsec += 1000000000L / rate;
            while (next.tv_nsec >= 1000000000L) {
                next.tv_nsec -= 1000000000L;
                next.tv_sec++;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
            if (stop) break;
        }
        off_t off = (off_t)((n == 0 ? i % wrap : i) * bs);
        ssize_t r = pwrite(fd, buf, (size_t)bs, off);
        if (r < 0 && errno == EINTR && stop) break;
        if (r != bs) {
            fprintf(stderr, "syncwrite: pwrite %s at %lld: %s\n", path, (long long)off,
                    r < 0 ? strerror(errno) : "short write");
            return 1;
        }
        done++;
    }
    double t = now() - t0;
    close(fd);
    free(buf);
    if (n == 0)
        printf("writes %lld %.6f\n", done, t);
    else
        printf("%.6f\n", t);
    return 0;
}

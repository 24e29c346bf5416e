/* readloop.c — read a whole file (e.g. MNT/.sharefs/locks) again and again.
 * Used by bench/semantics.sh.
 *
 * usage: readloop FILE COUNT
 * One read = open(O_RDONLY) + read(2) to end of file in 1 MiB requests + close.
 * COUNT > 0: do COUNT reads and print one line per read: "SECONDS BYTES LINES".
 * COUNT = 0: read until SIGTERM/SIGINT (or until the parent dies), then print
 * "reads K SECONDS" (reads completed, wall time). Exits 1 on an error.
 */
#include "common.h"

#define BUF (1 << 20)

/* Returns 0 on success (bytes/lines set), -1 on error, 1 if interrupted by stop. */
static int read_once(const char *path, char *buf, long long *bytes, long long *lines) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EINTR && stop) return 1;
        fprintf(stderr, "readloop: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    *bytes = 0;
    *lines = 0;
    for (;;) {
        ssize_t r = read(fd, buf, BUF);
        if (r < 0) {
            int e = errno;
            close(fd);
            if (e == EINTR && stop) return 1;
            fprintf(stderr, "readloop: read %s: %s\n", path, strerror(e));
            return -1;
        }
        if (r == 0) break;
        *bytes += r;
        for (ssize_t i = 0; i < r; i++) *lines += buf[i] == '\n';
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: readloop FILE COUNT\n");
        return 2;
    }
    const char *path = argv[1];
    long count = strtol(argv[2], NULL, 10);
    if (count < 0) {
        fprintf(stderr, "readloop: COUNT must be >= 0\n");
        return 2;
    }
    if (!stop_on_signals(0)) return 0; /* parent already gone */

    char *buf = malloc(BUF);
    if (!buf) return 1;
    long long bytes, lines;
    if (count > 0) {
        for (long i = 0; i < count; i++) {
            double t0 = now();
            if (read_once(path, buf, &bytes, &lines) != 0) return 1;
            printf("%.6f %lld %lld\n", now() - t0, bytes, lines);
        }
        return 0;
    }
    long long reads = 0;
    double t0 = now();
    while (!stop) {
        int rc = read_once(path, buf, &bytes, &lines);
        if (rc < 0) return 1;
        if (rc == 0) reads++;
    }
    printf("reads %lld %.6f\n", reads, now() - t0);
    return 0;
}

/* meta.c — metadata benchmark: create N empty files, stat them, unlink them.
 *
 * usage: meta DIR N
 * Prints one line per phase: "create SECONDS", "stat SECONDS", "unlink SECONDS"
 * (wall time of that phase only, CLOCK_MONOTONIC). Exits 1 on any error.
 * Names are DIR/m%07d; DIR must exist and should be empty.
 */
#include "common.h"

static void die(const char *what, const char *path) {
    fprintf(stderr, "meta: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: meta DIR N\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = strtol(argv[2], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "meta: N must be > 0\n");
        return 2;
    }
    char path[4096];
    struct stat st;

    double t0 = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", dir, i);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) die("create", path);
        if (close(fd) != 0) die("close", path);
    }
    double t1 = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", dir, i);
        if (stat(path, &st) != 0) die("stat", path);
        if (st.st_size != 0) {
            fprintf(stderr, "meta: %s: size %lld, want 0\n", path, (long long)st.st_size);
            return 1;
        }
    }
    double t2 = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", dir, i);
        if (unlink(path) != 0) die("unlink", path);
    }
    double t3 = now();
    printf("create %.6f\nstat %.6f\nunlink %.6f\n", t1 - t0, t2 - t1, t3 - t2);
    return 0;
}

/* seqio.c — sequential write then read of MIB MiB in BS-byte requests.
 * Used by bench/semantics.sh.
 *
 * usage: seqio FILE MIB BS
 * Opens FILE with O_RDWR|O_CREAT (no O_TRUNC: the file may already exist, empty,
 * held by another process), pwrites MIB MiB from offset 0, fsyncs, then preads
 * it back from offset 0. Prints "write SECONDS", "fsync SECONDS", "read SECONDS"
 * (CLOCK_MONOTONIC, each phase alone). Exits 1 on an error or a short transfer.
 */
#include "common.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: seqio FILE MIB BS\n");
        return 2;
    }
    const char *path = argv[1];
    long long mib = strtoll(argv[2], NULL, 10);
    long bs = strtol(argv[3], NULL, 10);
    if (mib <= 0 || bs <= 0 || (mib << 20) % bs != 0) {
        fprintf(stderr, "seqio: MIB and BS must be > 0 and BS must divide MIB MiB\n");
        return 2;
    }
    long long total = mib << 20, n = total / bs;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "seqio: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = malloc((size_t)bs);
    if (!buf) return 1;
    for (long i = 0; i < bs; i++) buf[i] = (char)(i * 13 + 1);
    double t0 = now();
    for (long long i = 0; i < n; i++) {
        ssize_t r = pwrite(fd, buf, (size_t)bs, (off_t)(i * bs));
        if (r != bs) {
            fprintf(stderr, "seqio: pwrite %s at %lld: %s\n", path, i * bs,
                    r < 0 ? strerror(errno) : "short write");
            return 1;
        }
    }
    double t1 = now();
    if (fsync(fd) != 0) {
        fprintf(stderr, "seqio: fsync %s: %s\n", path, strerror(errno));
        return 1;
    }
    double t2 = now();
    for (long long i = 0; i < n; i++) {
        ssize_t r = pread(fd, buf, (size_t)bs, (off_t)(i * bs));
        if (r != bs) {
            fprintf(stderr, "seqio: pread %s at %lld: %s\n", path, i * bs,
                    r < 0 ? strerror(errno) : "short read");
            return 1;
        }
    }
    double t3 = now();
    close(fd);
    free(buf);
    printf("write %.6f\nfsync %.6f\nread %.6f\n", t1 - t0, t2 - t1, t3 - t2);
    return 0;
}

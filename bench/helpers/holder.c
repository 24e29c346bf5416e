/* holder.c — keep handles or byte-range locks on one file until told to stop.
 * Used by bench/semantics.sh.
 *
 * usage: holder open FILE N             open FILE N times with O_RDONLY
 *        holder lock FILE N BASE STRIDE  open FILE once (O_RDWR|O_CREAT) and take N
 *                                        exclusive 1-byte OFD locks (F_OFD_SETLK,
 *                                        F_WRLCK) at BASE + k*STRIDE, k < N
 * Raises its RLIMIT_NOFILE soft limit to the hard limit first. Once everything is
 * held it prints "ready N SECONDS" (SECONDS = time to acquire) on stdout, flushed,
 * then sleeps until SIGTERM, SIGINT or SIGHUP, or until its parent dies
 * (PR_SET_PDEATHSIG), and exits 0; the kernel closes the handles. Exits 1 (after a
 * message on stderr) if any open or lock fails.
 */
#include "common.h"
#include <sys/resource.h>

int main(int argc, char **argv) {
    int lock_mode = argc == 6 && strcmp(argv[1], "lock") == 0;
    int open_mode = argc == 4 && strcmp(argv[1], "open") == 0;
    if (!lock_mode && !open_mode) {
        fprintf(stderr, "usage: holder open FILE N | holder lock FILE N BASE STRIDE\n");
        return 2;
    }
    const char *path = argv[2];
    long n = strtol(argv[3], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "holder: N must be > 0\n");
        return 2;
    }

    /* Signals first, so a stop request during acquisition is not lost. */
    if (!stop_on_signals(1)) return 0; /* parent already gone */

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (open_mode && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)n + 16 > rl.rlim_cur) {
        fprintf(stderr, "holder: RLIMIT_NOFILE %llu too low for %ld handles (raise the hard limit)\n",
                (unsigned long long)rl.rlim_cur, n);
        return 1;
    }

    double t0 = now();
    if (open_mode) {
        for (long i = 0; i < n && !stop; i++) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                fprintf(stderr, "holder: open %s (handle %ld): %s\n", path, i, strerror(errno));
                return 1;
            }
        }
    } else {
        long long base = strtoll(argv[4], NULL, 10);
        long long stride = strtoll(argv[5], NULL, 10);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "holder: open %s: %s\n", path, strerror(errno));
            return 1;
        }
        for (long i = 0; i < n && !stop; i++) {
            struct flock fl;
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_WRLCK;
            fl.l_whence = SEEK_SET;
            fl.l_start = (off_t)(base + (long long)i * stride);
            fl.l_len = 1;
            if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
                fprintf(stderr, "holder: F_OFD_SETLK %s at %lld: %s\n", path,
                        (long long)fl.l_start, strerror(errno));
                return 1;
            }
        }
    }
    printf("ready %ld %.6f\n", n, now() - t0);
    fflush(stdout);
    while (!stop) pause();
    return 0;
}

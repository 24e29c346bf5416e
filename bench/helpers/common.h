/* common.h — what every benchmark helper shares: the clock, the fixed-seed random
 * sequence, and stopping on a signal or when the parent (the bench script) dies.
 * Included by the helpers in this directory; bench/run.sh and bench/semantics.sh
 * compile each helper with `cc -O2 -Wall` (the include is found next to the .c file).
 */
#ifndef SHAREFS_BENCH_COMMON_H
#define SHAREFS_BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Seconds on CLOCK_MONOTONIC: helpers time their own loops, without process start-up. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: the same offsets on every target for one seed. */
static uint64_t rng_state;
static inline void seed_rand(const char *seed) {
    rng_state = strtoull(seed, NULL, 10) | 1; /* the state must be non-zero */
}
static inline uint64_t next_rand(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Set by SIGTERM/SIGINT (and SIGHUP when asked): background helpers stop cleanly. */
static volatile sig_atomic_t stop;
static void on_stop_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* Stops on SIGTERM, SIGINT (and SIGHUP if `hup`), and when the parent dies.
 * Returns 0 if the parent is already gone (the caller should exit). */
static inline int stop_on_signals(int hup) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (hup) sigaction(SIGHUP, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    return getppid() != 1;
}

#endif

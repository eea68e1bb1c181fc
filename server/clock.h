/* clock.h - the time readings the server's threads need, written once:
 * monotonic seconds for intervals, unix seconds for what clients compare
 * with their own clock, thread CPU seconds for the render budget, and an
 * absolute CLOCK_REALTIME deadline for pthread_cond_timedwait.
 */
#ifndef GANLIVE_CLOCK_H
#define GANLIVE_CLOCK_H

#include <time.h>

static inline double srv_clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static inline double srv_now_s(void) { return srv_clock_s(CLOCK_MONOTONIC); }
static inline double srv_unix_s(void) { return srv_clock_s(CLOCK_REALTIME); }
static inline double srv_thread_cpu_s(void) { return srv_clock_s(CLOCK_THREAD_CPUTIME_ID); }

/* Now plus ms on CLOCK_REALTIME (the default clock of a condition variable). */
static inline struct timespec srv_deadline_ms(double ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(ms * 1e6);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    return ts;
}

#endif

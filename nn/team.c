/* team.c - how the threads of a parallel region wait for each other.
 *
 * A training step runs about a hundred parallel regions. libgomp makes a
 * waiting thread spin GOMP_SPINCOUNT pauses (500, about 13 us: server/
 * main.c says why no more) and then sleep in a futex, and on this kind of
 * machine (a KVM guest whose idle vCPU halts) a sleeper is woken about
 * 50 us late. When the host takes a vCPU away for a moment, its partner
 * waits past the spin at the next region end and sleeps; woken late, it
 * starts the next region late, and the other one sleeps at that region's
 * end: region after region, each paying a wake-up. Measured at batch 16 on
 * two threads, eight alternating pairs of `ganlive bench`: 53-79% of the
 * ceiling (median 66%) as things were, 68-74% (median 72%) with spins that
 * never end (GOMP_SPINCOUNT=100000000), which nobody can ship: a spinning
 * thread holds its core while a program beside it waits for one.
 *
 * So the layers end every region, and meet inside one, with nn_team_sync:
 * a barrier whose waiters spin for as long as nothing else wants the CPUs
 * (NN_TEAM_SPIN_LONG_NS) and for about as long as libgomp's would otherwise
 * (NN_TEAM_SPIN_SHORT_NS), then sleep in a futex. Both threads leave it
 * together, so libgomp's own barrier at the region's end, right behind it,
 * does not have to sleep. Past libgomp's spin a waiter yields its CPU every
 * NN_TEAM_YIELD_NS: should the scheduler queue both threads on one CPU for
 * a few milliseconds (too short for the 100 ms windows below to notice), a
 * waiter that only spun would hold that CPU for up to 2 ms per meeting while
 * its partner waited behind it. With nothing else runnable the yield
 * returns at once: five paired bench rounds with and without it were level
 * (0.98x at batch 64, 1.03x at 16, 2 threads).
 *
 * "Something else wants the CPUs" is read off the team threads' own
 * scheduler statistics: every NN_TEAM_WINDOW_NS each one reads how long it
 * has been runnable but waiting for a CPU (/proc/thread-self/schedstat),
 * and more than NN_TEAM_CONTENDED_PCT of the window means another task is
 * competing for the cores (a compile, the server's render thread): waits
 * are short for the next NN_TEAM_CALM_NS. A busy loop beside training
 * makes each thread wait about a third of the time; kernel threads and
 * the sandbox's agent here, a few per cent at most. (Counting involuntary
 * context switches instead flagged about 50 times in a quiet 3-second
 * benchmark, each a housekeeping thread taking a CPU for a moment.) The
 * host taking a vCPU away does not show inside the guest, so that case
 * keeps the long spin, which is the case it is for. Without schedstat
 * waits stay short: libgomp's behaviour, as before. OMP_WAIT_POLICY=passive
 * from the user means no spinning here either.
 *
 * Synchronisation only: which thread computes what is unchanged, so results
 * stay bit-identical.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "nn.h"
#include "par.h"

/* Contention seen: waits are short until this CLOCK_MONOTONIC time (ns). */
static _Atomic long long calm_from_ns;
/* Counters for `ganlive bench` (relaxed: statistics, not synchronisation). */
static _Atomic long syncs_n, sleeps_n, contended_n;
/* Test hook: a spin limit for every wait (-1: the policy's). */
static _Atomic long long forced_spin_ns = -1;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* This thread's time spent runnable but waiting for a CPU (ns), from
 * /proc/thread-self/schedstat; -1 when the kernel does not say. */
static long long run_delay_ns(void) {
    char buf[96];
    const int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    unsigned long long on_cpu, waited;
    return sscanf(buf, "%llu %llu", &on_cpu, &waited) == 2 ? (long long)waited : -1;
}

/* Once per NN_TEAM_WINDOW_NS of a thread's syncs (now: this sync's
 * time): did it wait for a CPU for more than NN_TEAM_CONTENDED_PCT of it? */
static void watch_contention(long long now) {
    static _Thread_local long long win_from = -1, win_delay;
    if (win_from >= 0 && now - win_from < NN_TEAM_WINDOW_NS) return;
    const long long delay = run_delay_ns();
    if (delay < 0) {   /* no schedstat: always wait as libgomp would */
        atomic_store_explicit(&calm_from_ns, LLONG_MAX, memory_order_relaxed);
        return;
    }
    if (win_from >= 0 && (delay - win_delay) * 100 > (now - win_from) * NN_TEAM_CONTENDED_PCT) {
        atomic_store_explicit(&calm_from_ns, now + NN_TEAM_CALM_NS, memory_order_relaxed);
        atomic_fetch_add_explicit(&contended_n, 1, memory_order_relaxed);
    }
    win_from = now;
    win_delay = delay;
}

/* OMP_WAIT_POLICY=passive asks threads not to spin: the barrier obeys it
 * too (read once, as libgomp does). */
static int user_passive(void) {
    static _Atomic int passive = -1;
    int p = atomic_load_explicit(&passive, memory_order_relaxed);
    if (p < 0) {
        const char *w = getenv("OMP_WAIT_POLICY");
        p = w && strcasecmp(w, "passive") == 0;
        atomic_store_explicit(&passive, p, memory_order_relaxed);
    }
    return p;
}

static int contended_at(long long now) {
    return now < atomic_load_explicit(&calm_from_ns, memory_order_relaxed);
}

static long long spin_limit_at(long long now) {
    const long long forced = atomic_load_explicit(&forced_spin_ns, memory_order_relaxed);
    if (forced >= 0) return forced;
    if (user_passive()) return 0;
    return contended_at(now) ? NN_TEAM_SPIN_SHORT_NS : NN_TEAM_SPIN_LONG_NS;
}

int nn_team_contended(void) { return contended_at(now_ns()); }

long long nn_team_spin_limit_ns(void) { return spin_limit_at(now_ns()); }

void nn_team_sync(nn_team *t) {
#ifdef _OPENMP
    nn_team_sync_n(t, (unsigned)omp_get_num_threads());
#else
    (void)t;
#endif
}

void nn_team_sync_n(nn_team *t, unsigned T) {
    if (T < 2) return;
    const long long t0 = now_ns();   /* one clock read per sync serves all below */
    watch_contention(t0);
    const unsigned gen = atomic_load_explicit(&t->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == T - 1) {
        /* the last one in: reset for the next sync, then release the rest */
        atomic_fetch_add_explicit(&syncs_n, 1, memory_order_relaxed);
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&t->gen, gen + 1, memory_order_seq_cst);
        if (atomic_load_explicit(&t->sleepers, memory_order_seq_cst))
            syscall(SYS_futex, &t->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        return;
    }
    const long long limit = spin_limit_at(t0);
    long long next_yield = t0 + NN_TEAM_SPIN_SHORT_NS + NN_TEAM_YIELD_NS;
    for (unsigned i = 0; atomic_load_explicit(&t->gen, memory_order_acquire) == gen; i++) {
        if (i % 64) {
            cpu_relax();
            continue;
        }
        const long long now = now_ns();
        if (now >= next_yield) {
            /* the thread we wait for may be queued behind us on this CPU
             * (the scheduler put both here for a moment): let it run. With
             * nothing else runnable here this returns at once. */
            sched_yield();
            next_yield = now + NN_TEAM_YIELD_NS;
        }
        if (now - t0 >= limit) {
            /* spun long enough: sleep until the generation moves on. The
             * last one in stores gen before it reads sleepers, and this
             * thread counts itself before the kernel compares gen: one of
             * the two sees the other (both seq_cst), so no wake-up is lost. */
            atomic_fetch_add_explicit(&t->sleepers, 1, memory_order_seq_cst);
            atomic_fetch_add_explicit(&sleeps_n, 1, memory_order_relaxed);
            while (atomic_load_explicit(&t->gen, memory_order_seq_cst) == gen)
                syscall(SYS_futex, &t->gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
            atomic_fetch_sub_explicit(&t->sleepers, 1, memory_order_relaxed);
            break;
        }
    }
    atomic_thread_fence(memory_order_acquire);
}

void nn_team_stats(nn_team_counts *c) {
    c->syncs = atomic_load_explicit(&syncs_n, memory_order_relaxed);
    c->sleeps = atomic_load_explicit(&sleeps_n, memory_order_relaxed);
    c->contended = atomic_load_explicit(&contended_n, memory_order_relaxed);
}

void nn_team_force_spin(long long ns) {
    atomic_store_explicit(&forced_spin_ns, ns, memory_order_relaxed);
}

/* par.h - how the nn library shares work between threads (internal).
 *
 * Layers run their loops inside OpenMP parallel regions and split the work
 * themselves: convolutions by batch images (each thread owns a block of
 * GEMM columns and multiplies it alone, gemm.c), weight gradients by weight
 * columns, BatchNorm by channels, elementwise passes by ranges. Every output
 * value is computed by exactly one thread in a fixed order, so results are
 * bit-identical run to run for the same thread count. Without OpenMP the
 * same code runs on one thread. Every region of a training step ends with
 * nn_team_sync (and its threads meet inside one with it, not with `omp
 * barrier`): team.c's barrier spins for as long as no other task wants the
 * CPUs, so a thread the host held up for a moment does not send its
 * partner to sleep at every region that follows.
 */
#ifndef GANLIVE_NN_PAR_H
#define GANLIVE_NN_PAR_H

#ifdef _OPENMP
#include <omp.h>
#endif

/* Elementwise and per-channel passes over fewer floats than this run on the
 * calling thread alone (`#pragma omp parallel if (n >= NN_PAR_MIN)`). What a
 * region costs depends on whether the other thread is awake: about 1 us
 * when the previous region ended less than the OpenMP spin (13 us, see
 * server/main.c) ago, about 50 us when it has gone to sleep (a futex wake of
 * a halted vCPU on a KVM guest). So the passes of a training step share the
 * team down to a few thousand floats: a pass left to one thread would let
 * the other fall asleep, and the next layer would pay the wake-up. Traced at
 * batch 16 on 2 threads, 2^14 instead of 2^18 took the wake-ups per
 * iteration from about 14 to 2. Only where the split cannot change a
 * result: each value is computed the same way whichever thread computes it. */
#define NN_PAR_MIN ((size_t)1 << 14)

/* Meeting points of a parallel region's threads (team.c): declare one
 * before the region (`nn_team tm = NN_TEAM_INIT;`, shared by the team) and
 * call nn_team_sync(&tm) where every thread must have finished what came
 * before: inside the region instead of `#pragma omp barrier`, and as the
 * last statement of the region, so that the threads reach libgomp's own
 * barrier at its end together. A team of one returns at once. */
typedef struct {
    _Atomic unsigned arrived;   /* threads in the current sync */
    _Atomic unsigned gen;       /* syncs completed; futex word */
    _Atomic unsigned sleepers;  /* waiters in the futex */
} nn_team;
#define NN_TEAM_INIT {0, 0, 0}
void nn_team_sync(nn_team *t);
/* The same for a team of T threads of any kind (tests use pthreads). */
void nn_team_sync_n(nn_team *t, unsigned T);

/* How long a waiter spins before it sleeps: long while no other task has
 * wanted this process's CPUs for NN_TEAM_CALM_NS, short (about libgomp's
 * GOMP_SPINCOUNT=500) after one did (team.c says why). */
#define NN_TEAM_SPIN_LONG_NS  2000000LL     /* 2 ms */
#define NN_TEAM_SPIN_SHORT_NS 13000LL       /* 13 us */
#define NN_TEAM_CALM_NS       1000000000LL  /* 1 s */
/* A long wait yields its CPU this often (team.c). */
#define NN_TEAM_YIELD_NS      20000LL       /* 20 us */
/* "Wanted a CPU": a team thread spent more than this share of a window
 * runnable but waiting for a CPU (its schedstat run delay). */
#define NN_TEAM_WINDOW_NS     100000000LL   /* 100 ms */
#define NN_TEAM_CONTENDED_PCT 20

/* This thread's share [*lo, *hi) of [0, n) inside a parallel region. */
static inline void nn_share(long n, long *lo, long *hi) {
#ifdef _OPENMP
    const long t = omp_get_thread_num(), T = omp_get_num_threads();
#else
    const long t = 0, T = 1;
#endif
    *lo = n * t / T;
    *hi = n * (t + 1) / T;
}

#endif

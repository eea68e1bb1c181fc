/* par.h - how the nn library shares work between threads (internal).
 *
 * Layers run their loops inside OpenMP parallel regions and split the work
 * themselves: convolutions by batch images (each thread owns a block of
 * GEMM columns and multiplies it alone, gemm.c), weight gradients by weight
 * columns, BatchNorm by channels, elementwise passes by ranges. Every output
 * value is computed by exactly one thread in a fixed order, so results are
 * bit-identical run to run for the same thread count. Without OpenMP the
 * same code runs on one thread.
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

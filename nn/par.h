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
 * calling thread alone (`#pragma omp parallel if (n >= NN_PAR_MIN)`): a
 * second thread that is asleep takes about 60 us to wake on a KVM guest (a
 * futex wake of a halted vCPU), about what one core needs to stream 2^18
 * floats through such a pass. At the fast preset's batch of 16 most of them
 * are below it. Only where the split cannot change a result: each value is
 * computed the same way whichever thread computes it. */
#define NN_PAR_MIN ((size_t)1 << 18)

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

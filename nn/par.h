/* par.h - how the nn library shares work between threads (internal).
 *
 * Layers run their loops inside OpenMP parallel regions and split the work
 * themselves: convolutions by batch images (each thread owns a block of GEMM
 * columns and calls single-threaded BLAS on it), weight gradients by weight
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

/* blas.c - the BLAS behind ganlive's GEMMs, and how many threads it takes.
 *
 * The convolutions' GEMMs run BLIS's micro-kernel under ganlive's own loops
 * (gemm.c); the others, and skinny ones, go through the standard CBLAS
 * interface. The library is BLIS (Debian's libblis, OpenMP flavour),
 * chosen by measurement: on the first
 * development machine OpenBLAS 0.3.21 does not know the CPU and falls back
 * to its SSE3 ("Prescott") kernels, 27 GFLOP/s on one core against BLIS's
 * 80 with its AVX-512 kernels, at the model's own GEMM shapes too (README,
 * Speed). The layers split work between threads themselves (par.h), so BLAS
 * runs single-threaded inside them; only the benchmark's reference GEMM
 * lets it use several threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <blis.h>
#include "nn.h"

/* Debian's BLIS picks its kernels by CPU model, and a CPU it does not know
 * gets less than it can run:
 *  - a model it cannot place at all (an AMD EPYC of family 26, Zen 5, for
 *    BLIS 0.9) gets the "generic" configuration: portable C kernels at a
 *    third of the AVX2 rate;
 *  - behind a hypervisor it may not count an Intel CPU's AVX-512 FMA units
 *    and take it for a "haswell", with AVX2 kernels at half the width.
 * In both cases the context BLIS runs with gets the micro-kernels and block
 * sizes of the best sub-configuration the CPU's instruction set allows:
 * skx with AVX-512 (F, DQ, BW, VL: what its kernels use), else haswell with
 * AVX2 and FMA (bli_cntx_init_*, linked statically since the shared library
 * does not export them). Measured with one 2048x3136x256 sgemm on one core:
 * on the Xeon 1.5-1.9x for skx over haswell; on the Zen 5 generic 34,
 * haswell 101, skx 128-185 GFLOP/s. A BLIS that knows the CPU (zen3 on a
 * Zen 4, whose AVX-512 runs on 256-bit units and was measured to gain
 * nothing from skx) is left as it is.
 * The skx configuration has no "sup" kernels for skinny matrices, and the
 * generic one only portable ones, so haswell's serve those. BLIS takes the
 * sup path when one of m, n, k is below a threshold (201 for haswell). The
 * model's medium GEMMs have a side of 128 (D's second convolution: 2ndf =
 * 128 output channels, and its backward GEMMs with k = 128 or m = 128),
 * where the packed path is faster, so the threshold becomes SUP_BELOW;
 * really thin GEMMs keep the sup path. */
#define SUP_BELOW 100

void bli_cntx_init_skx(cntx_t *cntx);
void bli_cntx_init_haswell(cntx_t *cntx);
static const char *kernels_chosen;          /* NULL: BLIS's own choice */

static int cpu_has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static void tune_once(void) {
    cntx_t *cntx = (cntx_t *)bli_gks_query_cntx();
    const arch_t arch = bli_arch_query_id();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if ((arch == BLIS_ARCH_GENERIC && avx2) || (arch == BLIS_ARCH_HASWELL && cpu_has_avx512())) {
        static cntx_t haswell;              /* a few KB: not on the stack */
        bli_cntx_init_haswell(&haswell);
        if (cpu_has_avx512()) {
            bli_cntx_init_skx(cntx);
            kernels_chosen = "skx (AVX-512) kernels, haswell ones for skinny GEMMs";
        } else {
            *cntx = haswell;
            kernels_chosen = "haswell (AVX2) kernels";
        }
        memcpy(cntx->l3_sup_thresh, haswell.l3_sup_thresh, sizeof cntx->l3_sup_thresh);
        memcpy(cntx->l3_sup_handlers, haswell.l3_sup_handlers, sizeof cntx->l3_sup_handlers);
        memcpy(cntx->l3_sup_blkszs, haswell.l3_sup_blkszs, sizeof cntx->l3_sup_blkszs);
        memcpy(cntx->l3_sup_kers, haswell.l3_sup_kers, sizeof cntx->l3_sup_kers);
        memcpy(cntx->l3_sup_kers_prefs, haswell.l3_sup_kers_prefs, sizeof cntx->l3_sup_kers_prefs);
    }
    blksz_t *t = bli_cntx_l3_sup_thresh_buf(cntx);
    for (int i = BLIS_MT; i <= BLIS_KT; i++)
        if (bli_blksz_get_def(BLIS_FLOAT, &t[i]) > SUP_BELOW) bli_blksz_set_def(SUP_BELOW, BLIS_FLOAT, &t[i]);
}

/* Before main, while the process has one thread. */
__attribute__((constructor)) static void tune_at_start(void) { nn_blas_tune(); }

void nn_blas_tune(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tune_once);
}

void nn_blas_threads(int n) {
    nn_blas_tune();
    bli_thread_set_num_threads(n < 1 ? 1 : n);
}

const char *nn_blas_name(void) {
    static char name[160];
    if (name[0]) return name;
    const char *arch = bli_arch_string(bli_arch_query_id());
    if (kernels_chosen)
        snprintf(name, sizeof name, "BLIS %s, %s (BLIS took the CPU for %s)",
                 bli_info_get_version_str(), kernels_chosen, arch);
    else
        snprintf(name, sizeof name, "BLIS %s, %s", bli_info_get_version_str(), arch);
    return name;
}

/* blas.c - the BLAS behind ganlive's GEMMs, and how many threads it takes.
 *
 * Every GEMM goes through the standard CBLAS interface; the library linked
 * is BLIS (Debian's libblis, OpenMP flavour), chosen by measurement: on the
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

/* Debian's BLIS picks its kernels by CPU model, and on a CPU it does not
 * know (this one, behind a hypervisor) it cannot count the AVX-512 FMA
 * units and falls back to the AVX2 "haswell" kernels at half the width.
 * When the CPU has AVX-512 (F, DQ, BW, VL: what BLIS's skx kernels use),
 * the context BLIS runs with gets the skx sub-configuration's micro-kernels
 * and block sizes instead (bli_cntx_init_skx, linked statically since the
 * shared library does not export it): 1.5-1.9x the GEMM rate here. The
 * skx configuration has no "sup" kernels for skinny matrices, so haswell's
 * stay for those.
 * BLIS takes the sup path when one of m, n, k is below a threshold (201 for
 * haswell). The model's medium GEMMs have a side of 128 (D's second
 * convolution: 2ndf = 128 output channels, and its backward GEMMs with
 * k = 128 or m = 128), where the packed path is faster, so the threshold
 * becomes SUP_BELOW; really thin GEMMs keep the sup path. */
#define SUP_BELOW 100

void bli_cntx_init_skx(cntx_t *cntx);
static int with_skx;

static void tune_once(void) {
    cntx_t *cntx = (cntx_t *)bli_gks_query_cntx();
    if (bli_arch_query_id() == BLIS_ARCH_HASWELL && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        const cntx_t haswell = *cntx;
        bli_cntx_init_skx(cntx);
        memcpy(cntx->l3_sup_thresh, haswell.l3_sup_thresh, sizeof cntx->l3_sup_thresh);
        memcpy(cntx->l3_sup_handlers, haswell.l3_sup_handlers, sizeof cntx->l3_sup_handlers);
        memcpy(cntx->l3_sup_blkszs, haswell.l3_sup_blkszs, sizeof cntx->l3_sup_blkszs);
        memcpy(cntx->l3_sup_kers, haswell.l3_sup_kers, sizeof cntx->l3_sup_kers);
        memcpy(cntx->l3_sup_kers_prefs, haswell.l3_sup_kers_prefs, sizeof cntx->l3_sup_kers_prefs);
        with_skx = 1;
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
    static char name[96];
    if (!name[0])
        snprintf(name, sizeof name, "BLIS %s, %s", bli_info_get_version_str(),
                 with_skx ? "skx (AVX-512) kernels, haswell ones for skinny GEMMs"
                          : bli_arch_string(bli_arch_query_id()));
    return name;
}

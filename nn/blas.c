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
#include <blis.h>
#include "nn.h"

/* BLIS takes its "sup" path (no packing, for skinny matrices) whenever one
 * of m, n, k is below 201. The model's medium GEMMs have a side of 128
 * (D's second convolution: 2ndf = 128 output channels, and its backward
 * GEMMs with k = 128 or m = 128), where the packed path is 10-35% faster
 * here; really thin GEMMs keep the sup path. BLIS keeps the thresholds in
 * its global context, set once here for single precision. */
#define SUP_BELOW 100

static void tune_once(void) {
    cntx_t *cntx = (cntx_t *)bli_gks_query_cntx();
    blksz_t *t = bli_cntx_l3_sup_thresh_buf(cntx);
    for (int i = BLIS_MT; i <= BLIS_KT; i++)
        if (bli_blksz_get_def(BLIS_FLOAT, &t[i]) > SUP_BELOW) bli_blksz_set_def(SUP_BELOW, BLIS_FLOAT, &t[i]);
}

void nn_blas_tune(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tune_once);
}

void nn_blas_threads(int n) {
    nn_blas_tune();
    bli_thread_set_num_threads(n < 1 ? 1 : n);
}

/* OpenBLAS's name for the same thing, still called by server/trainer.c and
 * server/classifier_cmd.c; kept so they build unchanged against BLIS. */
void openblas_set_num_threads(int n) {
    nn_blas_threads(n);
}

const char *nn_blas_name(void) {
    static char name[96];
    if (!name[0])
        snprintf(name, sizeof name, "BLIS %s, %s kernels", bli_info_get_version_str(),
                 bli_arch_string(bli_arch_query_id()));
    return name;
}

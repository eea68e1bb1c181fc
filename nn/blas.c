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
#include <stdio.h>
#include <blis.h>
#include "nn.h"

void nn_blas_threads(int n) {
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

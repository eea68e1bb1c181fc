/* bench.c - `ganlive bench`.
 *
 * Trains the configured model on real data: a few warm-up iterations, then
 * `iters` iterations in five timed windows. Reports the median images/s of
 * the windows (robust to a noisy neighbour), milliseconds per iteration by
 * phase and by layer, the GEMM GFLOP/s achieved (gan_iteration_flops over
 * the windows' wall time) next to what one large cblas_sgemm reaches on
 * this machine with the same thread count, and the peak resident memory.
 * The share of the ceiling is a ratio inside one run: the reference GEMM is
 * timed right after each window, so a neighbour that slows the machine for
 * a while slows both sides of that window's ratio, and the median of the
 * five ratios is reported. The last line is a machine-readable summary for
 * bench/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "bench.h"
#include "trainer.h"

#define WINDOWS 5
#define WARMUP 5
#define GRID_REPS 15
#define REF_REPS 5      /* reference GEMMs, best of, to choose how to thread it */
#define REF_WINDOW 2    /* ... and right after each window */

/* The reference GEMM: the generator's largest (2048 x 3136 x 256). */
#define REF_M 2048
#define REF_N 3136
#define REF_K 256

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads), which a busy machine's
 * other programs do not inflate: the per-core view of the same run. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    float *a, *b, *c;   /* [M][K], [K][N], [M][N] */
} ref_gemm;

static int ref_gemm_init(ref_gemm *r) {
    r->a = malloc((size_t)REF_M * REF_K * sizeof(float));
    r->b = malloc((size_t)REF_K * REF_N * sizeof(float));
    r->c = calloc((size_t)REF_M * REF_N, sizeof(float));
    if (!r->a || !r->b || !r->c) return -1;
    for (size_t i = 0; i < (size_t)REF_M * REF_K; i++) r->a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)REF_K * REF_N; i++) r->b[i] = (float)(i % 5) * 0.1f;
    return 0;
}

static void ref_gemm_free(ref_gemm *r) {
    free(r->a); free(r->b); free(r->c);
}

/* GFLOP per CPU-second of the reference GEMM on this thread alone (BLAS
 * single-threaded), best of 5 after a warm-up. */
static double gemm_cpu_rate(const ref_gemm *r) {
    double best = 0.0;
    for (int rep = 0; rep < 6; rep++) {
        const double t0 = cpu_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, REF_M, REF_N, REF_K,
                    1.0f, r->a, REF_K, r->b, REF_N, 0.0f, r->c, REF_N);
        const double rate = 2.0 * REF_M * REF_N * REF_K / (cpu_s() - t0) / 1e9;
        if (rep > 0 && rate > best) best = rate;
    }
    return best;
}

/* GFLOP/s of the reference GEMM on `threads` threads, best of `reps` after
 * a warm-up, measured one of two ways: with the BLAS's own threading
 * (split 0) or split by columns the way the layers split their GEMMs, one
 * single-threaded BLAS call per OpenMP thread (split 1). */
static double gemm_rate(const ref_gemm *r, int threads, int split, int reps) {
    const int M = REF_M, N = REF_N, K = REF_K;
    double best = 0.0;
    if (!split) nn_blas_threads(threads);
    for (int rep = 0; rep <= reps; rep++) {
        const double t0 = now_s();
        if (split) {
            #pragma omp parallel num_threads(threads)
            {
#ifdef _OPENMP
                const int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
                const int t = 0, T = 1;
#endif
                const int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, n1 - n0, K,
                            1.0f, r->a, K, r->b + n0, N, 0.0f, r->c + n0, N);
            }
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
                        1.0f, r->a, K, r->b, N, 0.0f, r->c, N);
        }
        const double rate = 2.0 * M * N * K / (now_s() - t0) / 1e9;
        if (rep > 0 && rate > best) best = rate;   /* the first run warms up */
    }
    nn_blas_threads(1);                   /* back to what the layers expect */
    return best;
}

/* Where an iteration goes, layer by layer and direction: milliseconds per
 * iteration, the GEMM GFLOP/s of the layer's convolution, and the share of
 * the iteration's wall time. */
static void print_layers(const gan_model *m, double elapsed, long timed) {
    printf("  per layer       forward: ms  GFLOP/s  share   backward: ms  GFLOP/s  share\n");
    double total = 0.0;
    for (int l = 0; l < GAN_LAYER_COUNT; l++) {
        printf("    %-18s", gan_layer_name((gan_layer)l));
        for (int dir = 0; dir < 2; dir++) {
            const double sec = m->layer_s[l][dir], fl = m->layer_flop[l][dir];
            total += sec;
            if (sec <= 0.0) { printf("  %28s", "-"); continue; }
            char rate[16] = "";
            if (fl > 0.0) snprintf(rate, sizeof rate, "%7.1f", fl / sec / 1e9);
            printf("  %12.2f  %7s  %4.1f%%", sec / (double)timed * 1e3, rate, 100.0 * sec / elapsed);
        }
        printf("\n");
    }
    printf("    %-18s  %12.2f  (%.1f%% of the iteration)\n", "all layers", total / (double)timed * 1e3,
           100.0 * total / elapsed);
}

/* Milliseconds for a 64-digit grid from a sampler like the HTTP server's
 * (chunks of GAN_SAMPLER_CHUNK), with the current weights; median of
 * GRID_REPS after one warm-up. -1 when out of memory. */
static double grid_time(const gan_model *m, double *cpu_ms) {
    const int n = 64;
    const gan_config *mc = &m->cfg;
    gan_sampler *s = gan_sampler_new(mc, GAN_SAMPLER_CHUNK);
    float *z = malloc((size_t)n * mc->nz * sizeof(float));
    float *img = malloc((size_t)n * GAN_PIX * sizeof(float));
    double ms[GRID_REPS], cms[GRID_REPS], med = -1.0;
    *cpu_ms = -1.0;
    if (s && z && img) {
        nn_rng r;
        nn_rng_seed(&r, 7);
        nn_rng_fill_normal(&r, z, (size_t)n * mc->nz, 0.0f, 1.0f);
        for (int i = 0; i <= GRID_REPS; i++) {
            const double t0 = now_s(), c0 = cpu_s();
            gan_sampler_generate(s, m->g_mem, m->g_buf_mem, z, NULL, n, img);
            if (i > 0) { ms[i - 1] = (now_s() - t0) * 1e3; cms[i - 1] = (cpu_s() - c0) * 1e3; }
        }
        qsort(ms, GRID_REPS, sizeof ms[0], cmp_double);
        qsort(cms, GRID_REPS, sizeof cms[0], cmp_double);
        med = ms[GRID_REPS / 2];
        *cpu_ms = cms[GRID_REPS / 2];
    }
    gan_sampler_free(s);
    free(z);
    free(img);
    return med;
}

int srv_bench_run(const srv_config *cfg, long iters) {
    char err[512];
    srv_trainer t;
    if (iters < WINDOWS) iters = WINDOWS;
    if (srv_trainer_init(&t, cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ganlive: %s\n", err);
        return 2;
    }
    gan_model *m = t.model;
    const gan_config *mc = &m->cfg;
    const int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("ganlive bench: batch %d, d_steps %d, g_steps %d, %d thread(s), %ld iterations after %d warm-up\n",
           mc->batch, mc->d_steps, mc->g_steps, threads, iters, WARMUP);
    for (int i = 0; i < WARMUP; i++) srv_trainer_iteration(&t);
    m->profile = 1;
    memset(m->phase_s, 0, sizeof m->phase_s);
    memset(m->layer_s, 0, sizeof m->layer_s);
    memset(m->layer_flop, 0, sizeof m->layer_flop);
    const double per_image = gan_iteration_flops(mc) / mc->batch / 1e9;   /* GFLOP */
    ref_gemm ref;
    if (ref_gemm_init(&ref) < 0) {
        fprintf(stderr, "ganlive: out of memory for the reference GEMM\n");
        ref_gemm_free(&ref);
        srv_trainer_free(&t);
        return 1;
    }
    /* how the reference GEMM runs fastest at this thread count */
    const double peak_blas = gemm_rate(&ref, threads, 0, REF_REPS);
    const double peak_split = threads > 1 ? gemm_rate(&ref, threads, 1, REF_REPS) : peak_blas;
    const int split = peak_split > peak_blas;
    double rates[WINDOWS], shares[WINDOWS], peaks[WINDOWS], elapsed = 0.0, cpu_used = 0.0;
    const long per_window = iters / WINDOWS;
    for (int w = 0; w < WINDOWS; w++) {
        const double t0 = now_s(), c0 = cpu_s();
        for (long i = 0; i < per_window; i++) {
            if (srv_trainer_iteration(&t) < 0) {
                fprintf(stderr, "ganlive: training diverged during the benchmark\n");
                ref_gemm_free(&ref);
                srv_trainer_free(&t);
                return 1;
            }
        }
        const double took = now_s() - t0;
        elapsed += took;
        cpu_used += cpu_s() - c0;
        rates[w] = (double)per_window * mc->batch / took;
        peaks[w] = gemm_rate(&ref, threads, split, REF_WINDOW);   /* the same minute's ceiling */
        shares[w] = peaks[w] > 0.0 ? rates[w] * per_image / peaks[w] : 0.0;
    }
    const long timed = per_window * WINDOWS;
    qsort(rates, WINDOWS, sizeof rates[0], cmp_double);
    qsort(shares, WINDOWS, sizeof shares[0], cmp_double);
    qsort(peaks, WINDOWS, sizeof peaks[0], cmp_double);
    const double median = rates[WINDOWS / 2], share = shares[WINDOWS / 2], peak = peaks[WINDOWS / 2];
    const double flops = gan_iteration_flops(mc) * (double)timed / elapsed / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    static const char *names[GAN_PHASE_COUNT] = {"G forward", "D forward+backward",
                                                 "G backward", "optimiser"};
    double phased = 0.0;
    printf("  images/s       %8.1f  (median of %d windows; min %.1f, max %.1f)\n",
           median, WINDOWS, rates[0], rates[WINDOWS - 1]);
    printf("  ms/iteration   %8.2f\n", elapsed / (double)timed * 1e3);
    for (int p = 0; p < GAN_PHASE_COUNT; p++) {
        phased += m->phase_s[p];
        printf("    %-20s %7.2f ms\n", names[p], m->phase_s[p] / (double)timed * 1e3);
    }
    printf("    %-20s %7.2f ms\n", "data, noise, other", (elapsed - phased) / (double)timed * 1e3);
    print_layers(m, elapsed, timed);
    printf("  GEMM GFLOP/s   %8.1f  achieved (%.3f GFLOP per image)\n", flops,
           gan_iteration_flops(mc) / mc->batch / 1e9);
    printf("  sgemm GFLOP/s  %8.1f  one %dx%dx%d GEMM, %d thread(s), median of the windows (min %.1f,\n"
           "                           max %.1f): %.0f%% reached",
           peak, REF_M, REF_N, REF_K, threads, peaks[0], peaks[WINDOWS - 1], peak > 0 ? 100.0 * flops / peak : 0.0);
    if (threads > 1)
        printf(";\n                           %s (BLAS threading %.1f, split by columns %.1f, best of %d)",
               split ? "split by columns" : "BLAS's own threading", peak_blas, peak_split, REF_REPS);
    printf("\n");
    const double ceiling = peak / per_image;
    printf("  ceiling        %8.1f  images/s at the sgemm rate: %.0f%% reached (median of the windows'\n"
           "                           ratios, each to the GEMM timed right after it; min %.0f%%, max %.0f%%)\n",
           ceiling, 100.0 * share, 100.0 * shares[0], 100.0 * shares[WINDOWS - 1]);
    /* per core: images per CPU-second against the 1-thread GEMM rate per CPU-second */
    const double cpu_ips = (double)timed * mc->batch / cpu_used, cpu_gemm = gemm_cpu_rate(&ref);
    ref_gemm_free(&ref);
    printf("  per core       %8.1f  images per CPU-second (%.2f CPU-s per iteration); %.0f%% of the\n"
           "                           ceiling in CPU time (1-thread sgemm %.1f GFLOP per CPU-second)\n",
           cpu_ips, cpu_used / (double)timed, cpu_gemm > 0 ? 100.0 * cpu_ips * per_image / cpu_gemm : 0.0,
           cpu_gemm);
    double grid_cpu_ms;
    const double grid_ms = grid_time(m, &grid_cpu_ms);
    printf("  sampler        %8.1f  ms for a 64-digit grid (chunks of %d, %d thread(s), median of %d;\n"
           "                           %.1f ms of CPU time, so %.1f ms on %d idle core(s) at best)\n",
           grid_ms, GAN_SAMPLER_CHUNK, threads, GRID_REPS, grid_cpu_ms, grid_cpu_ms / threads, threads);
    printf("  BLAS           %s\n", nn_blas_name());
    {   /* how idle OpenMP threads wait (main.c sets GOMP_SPINCOUNT unless the user chose) */
        const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
        printf("  OpenMP waits   %s%s%s%s%s%s\n", spin ? "GOMP_SPINCOUNT=" : "", spin ? spin : "",
               spin && policy ? ", " : "", policy ? "OMP_WAIT_POLICY=" : "", policy ? policy : "",
               spin || policy ? "" : "libgomp's default");
    }
    {   /* how the layers' threads met (nn/team.c) */
        nn_team_counts tc;
        nn_team_stats(&tc);
        const long long spin = nn_team_spin_limit_ns();
        printf("  team waits     %ld meetings, %.1f%% ended asleep; another task wanted the cores in %ld "
               "window(s)%s; spin now %s%g us\n", tc.syncs, tc.syncs ? 100.0 * tc.sleeps / tc.syncs : 0.0,
               tc.contended, tc.contended ? " (each followed by a second of short spins)" : "",
               spin == 0 ? "none, " : "", spin / 1e3);
    }
    printf("  peak RSS       %8.1f MB\n", ru.ru_maxrss / 1024.0);
    printf("result ganlive threads=%d batch=%d images_per_s=%.1f gflops=%.1f sgemm_gflops=%.1f "
           "ceiling=%.1f share=%.3f grid_ms=%.1f grid_cpu_ms=%.1f cpu_images_per_s=%.1f cpu_ceiling=%.1f rss_mb=%.1f\n",
           threads, mc->batch, median, flops, peak, ceiling, share, grid_ms, grid_cpu_ms, cpu_ips,
           cpu_gemm / per_image, ru.ru_maxrss / 1024.0);
    srv_trainer_free(&t);
    return 0;
}

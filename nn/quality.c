/* quality.c - the sample scores and the nearest-neighbour search of quality.h.
 *
 * Frechet distance: a cyclic Jacobi eigen-solver (nn_sym_eigen) gives
 * S = sqrt(C1) = V^T diag(sqrt(e)) V, then M = S C2 S (two dgemm) is
 * symmetric PSD with the same eigenvalues as C1 C2, so tr (C1 C2)^{1/2} is
 * the sum of the square roots of M's eigenvalues. No complex arithmetic and
 * no general (non-symmetric) eigen-solver is needed.
 *
 * Nearest neighbours: for a query q and a reference r, with float q.r from
 * sgemm, the estimate a = |q|^2 + |r|^2 - 2 q.r of d2 = |q - r|^2 is off by
 * at most m = 2 (pix + 2) 2^-24 |q| |r| (float rounding of r/255 and of a
 * dot product of pix terms, in any summation order) plus a tiny double slack.
 * So the true nearest j always has a_j - m_j <= U = min_k (a_k + m_k). Each
 * query keeps U and the references with a - m <= U as candidates (pruned as
 * U falls); their distances are then recomputed exactly in double, and the
 * exact winner is the brute-force one. A full candidate list is resolved on
 * the spot (exact distances, keep the best), so its size is bounded.
 * Work split (nn/par.h): per chunk, threads convert shares of the chunk's
 * rows, then each thread runs one sgemm for its own queries against the
 * whole chunk and scans its own rows of the product; no two threads write
 * the same query's state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "quality.h"
#include "par.h"

/* ---- feature statistics ------------------------------------------------- */

int nn_feature_stats(const float *feats, int n, int d, double *mean, double *cov) {
    if (n < 2 || d < 1) return -1;
    for (int a = 0; a < d; a++) mean[a] = 0.0;
    for (int i = 0; i < n; i++) {
        const float *x = feats + (size_t)i * d;
        for (int a = 0; a < d; a++) mean[a] += x[a];
    }
    for (int a = 0; a < d; a++) mean[a] /= n;
    memset(cov, 0, (size_t)d * d * sizeof *cov);
    for (int i = 0; i < n; i++) {            /* upper triangle, centred in double */
        const float *x = feats + (size_t)i * d;
        for (int a = 0; a < d; a++) {
            const double xa = x[a] - mean[a];
            double *row = cov + (size_t)a * d;
            for (int b = a; b < d; b++) row[b] += xa * (x[b] - mean[b]);
        }
    }
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            const double v = cov[(size_t)a * d + b] / (n - 1);
            cov[(size_t)a * d + b] = v;
            cov[(size_t)b * d + a] = v;
        }
    return 0;
}

/* ---- symmetric eigen-decomposition (cyclic Jacobi) ----------------------- */

#define JACOBI_MAX_SWEEPS 100

/* Jacobi sweeps on w [d][d] (symmetric, destroyed: ends diagonal); vec
 * [d][d] (or NULL) accumulates the rotations as rows: starts as identity. */
static void jacobi(double *w, int d, double *vec) {
    for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
        double off = 0.0;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) off += fabs(w[(size_t)p * d + q]);
        if (off == 0.0) return;
        /* early sweeps rotate only the big entries (Numerical Recipes) */
        const double thresh = sweep < 3 ? 0.2 * off / ((double)d * d) : 0.0;
        for (int p = 0; p < d - 1; p++) {
            for (int q = p + 1; q < d; q++) {
                double *wp = w + (size_t)p * d, *wq = w + (size_t)q * d;
                const double apq = wp[q], g = 100.0 * fabs(apq);
                if (sweep > 3 && fabs(wp[p]) + g == fabs(wp[p]) && fabs(wq[q]) + g == fabs(wq[q])) {
                    wp[q] = wq[p] = 0.0;     /* negligible next to both diagonals */
                    continue;
                }
                if (fabs(apq) <= thresh || apq == 0.0) continue;
                /* rotation J (c, s) with (J^T W J)_pq = 0 (Golub & Van Loan 8.5.2) */
                const double tau = (wq[q] - wp[p]) / (2.0 * apq);
                double t;
                if (fabs(tau) > 1e150) t = 0.5 / tau;
                else t = (tau >= 0 ? 1.0 : -1.0) / (fabs(tau) + sqrt(1.0 + tau * tau));
                const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
                for (int k = 0; k < d; k++) {
                    if (k == p || k == q) continue;
                    const double akp = wp[k], akq = wq[k];
                    const double np_ = c * akp - s * akq, nq_ = s * akp + c * akq;
                    wp[k] = np_;
                    wq[k] = nq_;
                    w[(size_t)k * d + p] = np_;
                    w[(size_t)k * d + q] = nq_;
                }
                wp[p] -= t * apq;
                wq[q] += t * apq;
                wp[q] = wq[p] = 0.0;
                if (vec) {                    /* vec = J^T vec: rows p and q */
                    double *vp = vec + (size_t)p * d, *vq = vec + (size_t)q * d;
                    for (int k = 0; k < d; k++) {
                        const double x = vp[k], y = vq[k];
                        vp[k] = c * x - s * y;
                        vq[k] = s * x + c * y;
                    }
                }
            }
        }
    }
}

int nn_sym_eigen(const double *a, int d, double *eig, double *vec) {
    if (d < 1) return -1;
    double *w = malloc((size_t)d * d * sizeof *w);   /* [d][d] working copy */
    if (!w) return -1;
    memcpy(w, a, (size_t)d * d * sizeof *w);
    if (vec) {
        memset(vec, 0, (size_t)d * d * sizeof *vec);
        for (int k = 0; k < d; k++) vec[(size_t)k * d + k] = 1.0;
    }
    jacobi(w, d, vec);
    for (int k = 0; k < d; k++) eig[k] = w[(size_t)k * d + k];
    free(w);
    return 0;
}

/* ---- Frechet distance ------------------------------------------------------ */

double nn_frechet(const double *mu1, const double *cov1, const double *mu2, const double *cov2, int d) {
    if (d < 1 || d > NN_FRECHET_MAX_D) return -1.0;
    const size_t dd = (size_t)d * d;
    double *blk = malloc((4 * dd + (size_t)d) * sizeof *blk);
    if (!blk) return -1.0;
    double *vec = blk;            /* [d][d] eigenvectors of C1 (rows), later M */
    double *s = vec + dd;         /* [d][d] sqrt(C1) */
    double *t = s + dd;           /* [d][d] scaled eigenvectors, later S C2 */
    double *m = t + dd;           /* [d][d] S C2 S */
    double *eig = m + dd;         /* [d] */
    double result = -1.0;
    if (nn_sym_eigen(cov1, d, eig, vec) != 0) goto done;
    /* S = vec^T diag(sqrt(e)) vec: t[k][:] = sqrt(e_k) vec[k][:], S = vec^T t */
    for (int k = 0; k < d; k++) {
        const double r = eig[k] > 0.0 ? sqrt(eig[k]) : 0.0;
        for (int j = 0; j < d; j++) t[(size_t)k * d + j] = r * vec[(size_t)k * d + j];
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, vec, d, t, d, 0.0, s, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, s, d, cov2, d, 0.0, t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, s, d, 0.0, m, d);
    for (int i = 0; i < d; i++)               /* symmetric up to rounding: make it exact */
        for (int j = i + 1; j < d; j++) {
            const double v = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]);
            m[(size_t)i * d + j] = m[(size_t)j * d + i] = v;
        }
    if (nn_sym_eigen(m, d, eig, NULL) != 0) goto done;
    double tr_sqrt = 0.0, tr = 0.0, dmu = 0.0;
    for (int k = 0; k < d; k++) {
        if (eig[k] > 0.0) tr_sqrt += sqrt(eig[k]);
        tr += cov1[(size_t)k * d + k] + cov2[(size_t)k * d + k];
        const double x = mu1[k] - mu2[k];
        dmu += x * x;
    }
    result = dmu + tr - 2.0 * tr_sqrt;
    if (result < 0.0) result = 0.0;           /* rounding around a zero distance */
done:
    free(blk);
    return result;
}

/* ---- scores of softmax outputs --------------------------------------------- */

#define IS_EPS 1e-12

double nn_inception_score(const float *probs, int n, int k) {
    if (n < 1 || k < 1) return 0.0;
    double *py = calloc((size_t)k, sizeof *py);   /* [k] marginal p(y) */
    if (!py) return 0.0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) py[c] += probs[(size_t)i * k + c];
    for (int c = 0; c < k; c++) py[c] = log(py[c] / n + IS_EPS);   /* now log p(y) */
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        for (int c = 0; c < k; c++)
            if (p[c] > 0.0f) kl += p[c] * (log(p[c] + IS_EPS) - py[c]);
    }
    free(py);
    return exp(kl / n);
}

double nn_mean_confidence(const float *probs, int n, int k) {
    if (n < 1 || k < 1) return 0.0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        float m = p[0];
        for (int c = 1; c < k; c++) if (p[c] > m) m = p[c];
        sum += m;
    }
    return sum / n;
}

void nn_class_histogram(const float *probs, int n, int k, double *share) {
    for (int c = 0; c < k; c++) share[c] = 0.0;
    if (n < 1) return;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++) if (p[c] > p[best]) best = c;
        share[best] += 1.0;
    }
    for (int c = 0; c < k; c++) share[c] /= n;
}

/* ---- median ------------------------------------------------------------------ */

static float median3(float a, float b, float c) {
    if (a > b) { float x = a; a = b; b = x; }
    if (b > c) b = c;
    return a > b ? a : b;
}

/* Reorder v [n] so v[k] is the k-th smallest, v[0..k) <= v[k] <= v(k..n)
 * (Hoare partitions around a median-of-three pivot value). */
static void select_kth(float *v, int n, int k) {
    int lo = 0, hi = n - 1;
    while (hi > lo) {
        const float p = median3(v[lo], v[lo + (hi - lo) / 2], v[hi]);
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) {
                const float x = v[i]; v[i] = v[j]; v[j] = x;
                i++;
                j--;
            }
        }
        /* [lo, j] <= p, (j, i) == p, [i, hi] >= p */
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

float nn_median(float *v, int n) {
    if (n < 1) return 0.0f;
    const int k = n / 2;
    select_kth(v, n, k);
    if (n % 2) return v[k];
    float lower = v[0];                       /* largest of v[0..k) */
    for (int i = 1; i < k; i++) if (v[i] > lower) lower = v[i];
    return (float)(0.5 * ((double)lower + v[k]));
}

/* ---- nearest neighbours ------------------------------------------------------ */

#define NEAREST_CAP 8      /* candidates per query before resolving */

typedef struct {
    double u;              /* upper bound on the smallest squared distance */
    double best_d2;        /* exact squared distance of best (INFINITY: none) */
    int32_t best;          /* resolved winner so far, -1 when none */
    int count;             /* unresolved candidates */
    int32_t idx[NEAREST_CAP];
    double lo[NEAREST_CAP];   /* lower bound on each candidate's squared distance */
} nearest_state;

/* Exact squared distance, the definition of quality.h. */
static double exact_d2(const float *q, const uint8_t *r, int pix) {
    double s = 0.0;
    for (int p = 0; p < pix; p++) {
        const double t = (double)q[p] - r[p] / 255.0;
        s += t * t;
    }
    return s;
}

/* Exact distances of the candidates (in index order, all above best's
 * index): the best of them and the old best stays; the list empties. */
static void resolve(nearest_state *st, const float *q, const uint8_t *ref, int pix) {
    for (int c = 0; c < st->count; c++) {
        if (st->lo[c] > st->u) continue;      /* cannot be the nearest any more */
        const double d2 = exact_d2(q, ref + (size_t)st->idx[c] * pix, pix);
        if (d2 < st->best_d2) {               /* strict: ties keep the lower index */
            st->best_d2 = d2;
            st->best = st->idx[c];
            if (d2 < st->u) st->u = d2;
        }
    }
    st->count = 0;
}

static void add_candidate(nearest_state *st, int32_t j, double lo,
                          const float *q, const uint8_t *ref, int pix) {
    if (st->count == NEAREST_CAP) {           /* drop those U has overtaken */
        int w = 0;
        for (int c = 0; c < st->count; c++)
            if (st->lo[c] <= st->u) { st->idx[w] = st->idx[c]; st->lo[w] = st->lo[c]; w++; }
        st->count = w;
        if (w == NEAREST_CAP) resolve(st, q, ref, pix);
    }
    st->idx[st->count] = j;
    st->lo[st->count] = lo;
    st->count++;
}

int nn_nearest(const uint8_t *ref, int N, int pix, const float *q, int n, int32_t *idx, float *dist) {
    if (N < 1 || pix < 1 || n < 0) return -1;
    if (n == 0) return 0;
    const int CH = N < NN_NEAREST_CHUNK ? N : NN_NEAREST_CHUNK;
    float *r = malloc((size_t)CH * pix * sizeof *r);        /* [CH][pix] chunk as float */
    float *g = malloc((size_t)n * CH * sizeof *g);          /* [n][cn] q.r of the chunk */
    double *rn = malloc(2 * (size_t)CH * sizeof *rn);       /* [CH] |r|^2, then [CH] |r| */
    double *qn = malloc(2 * (size_t)n * sizeof *qn);        /* [n] |q|^2, then [n] |q| */
    nearest_state *st = malloc((size_t)n * sizeof *st);     /* [n] */
    if (!r || !g || !rn || !qn || !st) {
        free(r); free(g); free(rn); free(qn); free(st);
        return -1;
    }
    double *rs = rn + CH, *qs = qn + n;
    float lut[256];                                          /* byte -> [0, 1] float */
    for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f;
    /* |a - d2| <= kb |q||r| (float) + ks (|q|^2 + |r|^2) (double rounding of a and of
     * the exact sum), see the top of the file; both with a wide safety factor. */
    const double kb = 2.0 * (pix + 2) * 0x1p-24 * (1.0 + 1e-6);
    const double ks = (pix + 4) * 0x1p-50;

    #pragma omp parallel
    {
        long q0, q1;
        nn_share(n, &q0, &q1);
        for (long i = q0; i < q1; i++) {
            const float *x = q + (size_t)i * pix;
            double s = 0.0;
            for (int p = 0; p < pix; p++) s += (double)x[p] * x[p];
            qn[i] = s;
            qs[i] = sqrt(s);
            st[i].u = INFINITY;
            st[i].best_d2 = INFINITY;
            st[i].best = -1;
            st[i].count = 0;
        }
        for (int c0 = 0; c0 < N; c0 += CH) {
            const int cn = N - c0 < CH ? N - c0 : CH;
            long r0, r1;
            nn_share(cn, &r0, &r1);
            for (long j = r0; j < r1; j++) {
                const uint8_t *b = ref + (size_t)(c0 + j) * pix;
                float *f = r + (size_t)j * pix;
                uint64_t s = 0;
                for (int p = 0; p < pix; p++) {
                    f[p] = lut[b[p]];
                    s += (uint64_t)b[p] * b[p];
                }
                rn[j] = (double)s / (255.0 * 255.0);
                rs[j] = sqrt(rn[j]);
            }
            #pragma omp barrier
            if (q1 > q0) {
                /* g[q0:q1][cn] = q[q0:q1][pix] x r[cn][pix]^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(q1 - q0), cn, pix,
                            1.0f, q + (size_t)q0 * pix, pix, r, pix, 0.0f, g + (size_t)q0 * cn, cn);
                for (long i = q0; i < q1; i++) {
                    const float *gi = g + (size_t)i * cn;
                    const float *x = q + (size_t)i * pix;
                    nearest_state *s = &st[i];
                    const double qni = qn[i], qb = kb * qs[i];
                    for (int j = 0; j < cn; j++) {
                        const double a = qni + rn[j] - 2.0 * (double)gi[j];
                        const double m = qb * rs[j] + ks * (qni + rn[j]);
                        if (a - m > s->u) continue;
                        if (a + m < s->u) s->u = a + m;
                        add_candidate(s, c0 + j, a - m, x, ref, pix);
                    }
                }
            }
            #pragma omp barrier                 /* r and rn are rewritten next chunk */
        }
        for (long i = q0; i < q1; i++) {
            resolve(&st[i], q + (size_t)i * pix, ref, pix);
            idx[i] = st[i].best;
            dist[i] = (float)sqrt(st[i].best_d2);
        }
    }
    free(r); free(g); free(rn); free(qn); free(st);
    return 0;
}

/* quality.h - scores of generated samples and nearest-neighbour search.
 *
 * What the dashboard reports about a batch of generated digits, from the
 * classifier's outputs (classifier.h) and from the pixels themselves:
 *   - Frechet distance between the feature statistics of real and generated
 *     images (FID-style, with the classifier's CLS_FEAT features):
 *     nn_feature_stats, nn_frechet, with nn_sym_eigen underneath;
 *   - Inception-style score, mean confidence and class histogram of the
 *     softmax outputs: nn_inception_score, nn_mean_confidence,
 *     nn_class_histogram;
 *   - for each generated image, the closest training image in pixel space
 *     (is G copying its training set?): nn_nearest, and nn_median to
 *     summarise those distances.
 *
 * Statistics and the Frechet distance work in double. Layouts are row per
 * sample: feats [n][d], probs [n][k], images [n][pix].
 *
 * Threads: nn_nearest splits its work over OpenMP threads like the layers
 * (nn/par.h), each thread calling BLAS on its own block, so the caller
 * picks the thread count (omp_set_num_threads, OpenBLAS at 1 thread as the
 * trainer sets it). Everything else is single-threaded.
 */
#ifndef GANLIVE_QUALITY_H
#define GANLIVE_QUALITY_H

#include <stdint.h>

/* Largest dimension nn_frechet accepts. */
#define NN_FRECHET_MAX_D 256

/* Mean [d] and covariance [d][d] (unbiased, n-1) of features feats [n][d],
 * in double. 0, or -1 when n < 2 or d < 1 (outputs untouched). */
int nn_feature_stats(const float *feats, int n, int d, double *mean, double *cov);

/* Frechet distance ||mu1-mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^{1/2}) between two
 * Gaussians of dimension d (1 <= d <= NN_FRECHET_MAX_D): mu [d], cov [d][d]
 * symmetric PSD. Symmetric method: S = sqrt(C1) by a Jacobi
 * eigen-decomposition (negative eigenvalues clamped to 0), M = S C2 S
 * (symmetric PSD), tr (C1 C2)^{1/2} = sum sqrt(max(0, eig(M))). Allocates
 * its scratch itself (5 [d][d] doubles, freed before returning).
 * Returns the distance (tiny negatives from rounding clamped to 0), or -1 on
 * no memory / bad d. */
double nn_frechet(const double *mu1, const double *cov1, const double *mu2, const double *cov2, int d);

/* Eigenvalues of the symmetric a [d][d] (cyclic Jacobi on a copy; a is
 * untouched) -> eig [d], unsorted; vec [d][d] (may be NULL) gets the
 * eigenvectors as rows, vec[k] for eig[k], so a = vec^T diag(eig) vec.
 * 0, or -1 on no memory / d < 1. */
int nn_sym_eigen(const double *a, int d, double *eig, double *vec);

/* Scores of softmax outputs probs [n][k] (rows summing to 1); n < 1 gives 0
 * (histogram: all zeros); nn_inception_score also gives 0 on no memory
 * (it allocates k doubles).
 * Inception-style score exp(mean_i KL(p(y|x_i) || p(y))), p(y) = mean of
 * the rows, logs of p + 1e-12: between 1 (all rows alike) and k (confident
 * and every class equally often). */
double nn_inception_score(const float *probs, int n, int k);
/* Mean of each row's largest probability. */
double nn_mean_confidence(const float *probs, int n, int k);
/* share [k]: fraction of rows whose argmax (first on ties) is each class;
 * sums to 1. */
void nn_class_histogram(const float *probs, int n, int k, double *share);

/* Median of v [n] (n >= 1, no NaN); v is reordered (quickselect). For even
 * n it is the mean of the two middle values. */
float nn_median(float *v, int n);

/* Nearest neighbours in pixel space: for each query q[i] (q [n][pix]
 * floats, pixel scale [0, 1]) the index idx[i] into ref (ref [N][pix]
 * uint8, byte / 255 is the [0, 1] value) of the reference image with the
 * smallest L2 distance, and that distance dist[i] = sqrt(sum_p (q_p -
 * r_p/255)^2), the sum taken in double in pixel order; ties (equal double
 * sums) go to the lower index. The result equals that brute force.
 *
 * How: references are converted to float NN_NEAREST_CHUNK rows at a time
 * (never the whole set: 60000 x 784 floats would be 188 MB), one sgemm per
 * chunk over all queries gives q.r, and |q|^2 + |r|^2 - 2 q.r is an
 * estimate of each squared distance with a proven error bound. Every
 * reference whose estimate could still be the smallest is a candidate and
 * its distance is recomputed exactly, so near-equal references cannot fool
 * the float arithmetic. idx [n], dist [n]. Queries must be finite.
 * Scratch: NN_NEAREST_CHUNK x (pix + n) floats (7 MB for pix 784, n 1000).
 * Returns 0, or -1 on no memory or bad sizes (N < 1, pix < 1, n < 0). */
#define NN_NEAREST_CHUNK 1024
int nn_nearest(const uint8_t *ref, int N, int pix, const float *q, int n, int32_t *idx, float *dist);

#endif

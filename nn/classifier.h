/* classifier.h - a small MNIST digit classifier built from the nn library,
 * used to score generated digits (confidence, Inception-style score,
 * Frechet distance of its features).
 *
 * Network (strided convolutions, no pooling, no biases; activations are
 * channel-major [C][B][H][W] as everywhere in nn/):
 *   x [1][B][28][28]   images in [-1, 1] (CLS_IN_LO..CLS_IN_HI)
 *   -> Conv(1 -> 32, k4 s2 p1)    [32][B][14][14]  -> LeakyReLU(0.2)
 *   -> Conv(32 -> 64, k4 s2 p1)   [64][B][7][7]    -> BN -> LeakyReLU(0.2)
 *   -> Conv(64 -> 10, k7 s1 p0)   [10][B]          logits, channel-major
 * (run from the table cls_spec in classifier.c with net.h's passes, as D is)
 * The logits come out class-major [10][B]; they are transposed to row per
 * sample [B][10] for nn_softmax_ce_* and the gradient transposed back.
 * Features for a Frechet distance: the BN+LeakyReLU output averaged over
 * its 7x7 positions, CLS_FEAT = 64 values per image.
 *
 * Memory: one block per role (params, grads, Adam m, Adam v, BN running
 * statistics, activations, activation gradients, col scratch), with named
 * pointers into it, like gan.c. A model made with train = 0 has only the
 * params, running statistics, activations and scratch: enough to classify.
 * A cls_model belongs to one thread at a time.
 */
#ifndef GANLIVE_CLASSIFIER_H
#define GANLIVE_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>
#include "data.h"
#include "nn.h"
#include "net.h"

#define CLS_IMG 28
#define CLS_PIX (CLS_IMG * CLS_IMG)
#define CLS_C1 32              /* channels after conv 1 */
#define CLS_C2 64              /* channels after conv 2 */
#define CLS_K 10               /* classes */
#define CLS_FEAT CLS_C2        /* feature values per image */
#define CLS_IN_LO (-1.0f)      /* input pixel range */
#define CLS_IN_HI 1.0f
#define CLS_NTENSORS 5
#define CLS_SLOPE 0.2f
#define CLS_BN_EPS 1e-5f
#define CLS_BN_MOMENTUM 0.1f

/* Unions like gan.h's: the names, and t[] in the order of net.h's lists
 * (the layers' table is in classifier.c). */
typedef union {
    struct {
        float *w1;      /* [32][1][4][4] */
        float *w2;      /* [64][32][4][4] */
        float *bn2_g;   /* [64] */
        float *bn2_b;   /* [64] */
        float *w3;      /* [10][64][7][7] */
    };
    float *t[CLS_NTENSORS];
} cls_params;

typedef union {
    struct {
        float *x;                    /* [1][B][28][28] (not in the gradient twin) */
        float *col1;                 /* [16][B*196] (not in the gradient twin) */
        float *c1, *a1;              /* [32][B][14][14] */
        float *col2;                 /* [32*16][B*49] */
        float *c2;                   /* [64][B][7][7] */
        float *bn2_mean, *bn2_rstd;  /* [64] */
        float *a2;                   /* [64][B][7][7] */
        float *col3;                 /* [64*49][B] */
        float *logits;               /* [10][B] class-major, as the conv writes it */
        /* the classifier's own, after the network's slots: */
        float *logits_t;             /* [B][10] row per sample */
        float *probs;                /* [B][10] (not in the gradient twin) */
    };
    float *t[13];
} cls_acts;

typedef struct {
    net net;                     /* the network's shapes (classifier.c's table) */
    int batch;                   /* largest batch of every pass */
    int train;                   /* has gradient and Adam blocks */
    size_t count;                /* parameters */
    float *mem, *grad_mem, *m_mem, *v_mem, *buf_mem;
    cls_params p, grad, m, v;
    float *run_mean, *run_var;   /* [64] each, in buf_mem */
    float *act_mem, *dact_mem, *scratch;
    cls_acts a, da;
    int32_t *labels;             /* [batch] */
    long t;                      /* Adam steps taken */
    float lr, beta1, beta2, adam_eps;
} cls_model;

void cls_param_sizes(size_t sizes[CLS_NTENSORS]);
size_t cls_param_count(void);
#define CLS_BUF_COUNT (2 * CLS_C2)   /* running mean, running var */

/* Allocate every buffer once (batch 1..4096); NULL on bad batch or no
 * memory. Caller owns the result (cls_model_free). */
cls_model *cls_model_new(int batch, int train);
void cls_model_free(cls_model *m);
/* Kaiming-uniform-like init (uniform +-1/sqrt(fan_in), PyTorch's default
 * for Conv2d), BN gamma 1, beta 0, running mean 0 / var 1, Adam zeroed.
 * Adam defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
void cls_model_init(cls_model *m, nn_rng *rng);

/* Forward pass over B <= batch images x [B][784] in [-1, 1] (same bytes as
 * [1][B][28][28]). train: BN batch statistics (running stats updated);
 * else running statistics. Leaves logits [10][B], logits_t [B][10] and
 * probs [B][10] (softmax) in m->a. */
void cls_forward(cls_model *m, const float *x, int B, int train);
/* One training step on a batch: forward (train mode), softmax CE, backward,
 * Adam. Returns the mean loss and the number of correct predictions in
 * *correct (may be NULL); NaN without touching the weights when the loss or
 * a gradient is not finite. */
float cls_train_step(cls_model *m, const float *x, const int32_t *labels, int B, int *correct);
/* Eval mode over any n: probs [n][10] (may be NULL), feats [n][64] (may be
 * NULL), in chunks of the model's batch. */
void cls_classify(cls_model *m, const float *x, int n, float *probs, float *feats);
/* Argmax of a [n][10] probability (or logit) array into pred [n]. */
void cls_argmax(const float *probs, int n, int *pred);

/* Share of the first n images of d (n <= 0 or > d->n: all) classified
 * correctly in eval mode; -1 on no memory. */
double cls_accuracy(cls_model *m, const gan_dataset *d, int n);

/* Model file: little-endian
 *   "GLCL" u32 version(1) u32 img u32 c1 u32 c2 u32 k u32 nparams u32 nbuf
 *   f32 params[nparams] f32 buffers[nbuf] (running mean then var)
 *   f32 test_accuracy  u32 crc32 (zlib) of every byte before it
 * Saved crash-safe (binio.h: FILE.tmp, fsync, rename, fsync of the
 * directory; a failed save leaves the old file as it was). Both return 0,
 * or -1 with a message naming the file. Load refuses short, long, damaged
 * (CRC), foreign (magic), other-version or other-shape files, and
 * non-finite values; on failure the model is untouched. test_acc may be
 * NULL. */
int cls_save(const cls_model *m, const char *path, float test_acc, char *err, size_t errlen);
int cls_load(cls_model *m, const char *path, float *test_acc, char *err, size_t errlen);

#endif

/* net.h - a network described once, as a small table of layers, from which
 * every size, buffer layout, forward pass (train and eval) and backward
 * pass follows.
 *
 * A table row is one layer: a convolution or transposed convolution (no
 * bias), optionally BatchNorm, then an activation. Channel counts are a
 * multiple of the network's width (ngf, ndf, 32 for the classifier), and
 * the last layer's channels are the network's outputs. net_init fixes the
 * input (channels, side) and derives every layer's shapes with
 * nn_conv_out / nn_convt_out, so the shape numbers live only in the tables
 * (gan.c for G and D, classifier.c for the classifier).
 *
 * Tensors are passed as flat lists of pointers in a fixed order, so a
 * network's parameters, running statistics and activations are each one
 * block carved front to back (the named structs of gan.h and classifier.h
 * are unions over these lists):
 *   params  per layer: w, then gamma, beta with BN
 *             Conv2d w[OC][C][K][K], ConvTranspose2d w[C][OC][K][K]
 *   stats   per BN layer: running mean, running var          [OC] each
 *   acts    the input [C0][B][H0][W0], then per layer:
 *             col   conv layers only: im2col of the input, kept for
 *                   backward [C*K*K][B*OH*OW]; NULL for a direct layer
 *             c     the convolution's output [OC][B][OH][OW]
 *             mean, rstd   with BN: batch statistics [OC]
 *             a     with an activation: its output [OC][B][OH][OW]
 *           A layer's output is a, or c when it has no activation.
 * The gradient twin of the activations (NET_GRAD) has the same slots with
 * dL/d(slot) in them: no col or batch statistics, the input only with
 * NET_GRAD_INPUT, no a for the last layer (the caller's dout), and a
 * layer's c and a reuse the next layer's memory when they fit (the backward
 * pass runs top down, so each is dead by then).
 *
 * A class head (net_class_head; D of a projection discriminator) gives the
 * last layer, a direct one, a weight per class on top of its own: image b
 * of class y_b is scored with w + E[y_b], so its logit gains the projection
 * <E[y_b], features_b> of its class embedding onto the features. E
 * [classes][OC][C][H][W] is one more parameter tensor after the layers'
 * (size 0 when the head has no classes), and the passes take the labels.
 *
 * Activations are channel-major [C][B][H][W] as everywhere in nn/.
 */
#ifndef GANLIVE_NET_H
#define GANLIVE_NET_H

#include <stddef.h>
#include <stdint.h>
#include "nn.h"

#define NET_MAX_LAYERS 6
#define NET_MAX_PARAMS (3 * NET_MAX_LAYERS + 1)   /* + a class head */
#define NET_MAX_STATS (2 * NET_MAX_LAYERS)
#define NET_MAX_ACTS (1 + 5 * NET_MAX_LAYERS)

typedef enum { NET_CONV = 0, NET_CONVT = 1 } net_op;
/* NET_OUTPUT: the activation the network is built with (G: tanh or ReLU). */
typedef enum { NET_NONE = 0, NET_RELU, NET_LRELU, NET_TANH, NET_OUTPUT } net_act;

/* One row of a network's table. */
typedef struct {
    net_op op;
    int width;              /* output channels = width x the network's width;
                               0: the network's outputs */
    int k, stride, pad;
    int bn;                 /* BatchNorm before the activation */
    net_act act;
} net_layer;

typedef struct {
    int n;
    net_layer layer[NET_MAX_LAYERS];
} net_spec;

/* A layer with its shapes (square images: H == W). */
typedef struct {
    net_op op;
    net_act act;
    int bn;
    int direct;             /* a conv whose kernel covers the whole input with one
                               output channel: nn_conv_full_* (no im2col, no GEMM) */
    int C, H, W, OC, OH, OW, K, stride, pad;
    int w_at, gamma_at;     /* indices in the parameter list (gamma_at -1 without BN;
                               beta is gamma_at + 1) */
    int mean_at;            /* index of the running mean (var: + 1) in stats, or -1 */
    int col_at, c_at, bn_at, a_at;   /* slots in the activation list, -1 when absent
                                        (bn_at: mean, rstd at + 1) */
} net_lay;

typedef struct {
    int n;                  /* layers */
    net_lay L[NET_MAX_LAYERS];
    int in_ch, in_h, in_w;
    int nparams, nstats, nacts;   /* lengths of the three tensor lists */
    int head_at;            /* the class head's tensor in the parameter list, or -1 */
    int head_classes;       /* its classes (0: a tensor of size 0) */
    float slope;            /* LeakyReLU slope */
    float bn_eps, bn_momentum;
} net;

/* Derive every shape: input in_ch x side x side, channels from width and
 * outputs, NET_OUTPUT resolved to out_act; slope and BN constants as given.
 * Returns 0, or -1 when a shape comes out below 1 or the table is too long. */
int net_init(net *n, const net_spec *s, int in_ch, int side, int width, int outputs,
             net_act out_act, float slope, float bn_eps, float bn_momentum);

/* Give the network's last layer a class head of `classes` classes (0: the
 * tensor is there with size 0, so the list's layout does not depend on
 * it). The last layer must be direct. Returns 0 or -1. */
int net_class_head(net *n, int classes);

/* ---- sizes and blocks ---------------------------------------------------- */

/* Floats of parameter tensor i (in list order) and of the whole list. */
void net_param_sizes(const net *n, size_t *sizes);
size_t net_param_count(const net *n);
size_t net_stat_count(const net *n);     /* running mean and var of every BN layer */
/* Point t[nparams] / t[nstats] into a block of the right size. */
void net_params_point(const net *n, float **t, float *block);
void net_stats_point(const net *n, float **t, float *block);

/* Floats of the input, and of layer i's output, for B images. */
size_t net_in_floats(const net *n, int B);
size_t net_out_floats(const net *n, int i, int B);

#define NET_GRAD 1          /* the gradient twin */
#define NET_GRAD_INPUT 2    /* with it: a slot for dL/d(input) */
/* Lay out the activation list t[nacts] for B images from base (only count
 * when base is NULL; absent slots get NULL). Returns the floats used. */
size_t net_acts_layout(const net *n, float **t, float *base, int B, int flags);
/* An eval-mode activation list that runs in place: every layer's c and a
 * in one buffer, bufs[i % 2] for layer i (net_eval_floats each), the last
 * layer into out; no col (the scratch) and no batch statistics. */
void net_eval_acts(const net *n, float **t, float *in, float *const bufs[2], float *out);
size_t net_eval_floats(const net *n, int which, int B);
/* Largest im2col scratch of any layer (col of a transposed conv, dcol of a
 * conv, col of a conv run without its own), for B images. */
size_t net_scratch_floats(const net *n, int B);

/* ---- passes -------------------------------------------------------------- */

/* Per-layer timing: layer i books its convolution to slot base + 2i and
 * its BN/activation to base + 2i + 1 of s (seconds) and flop (GEMM FLOPs),
 * [.][0] forward, [.][1] backward. */
typedef struct {
    double (*s)[2], (*flop)[2];
    int base;
} net_prof;

/* GEMM FLOPs of one pass (forward, dW or dX) of layer l for B images. */
double net_layer_flop(const net_lay *l, int B);

/* Forward over B images: acts[0] holds the input; the output ends in the
 * last layer's a (or c). train: BN normalises with the batch statistics
 * (kept in the bn slots) and updates the running ones in stats; else it
 * uses stats. scratch: net_scratch_floats. labels [B]: the classes of the
 * class head (read only when it has classes; NULL: image b is class
 * b % classes). prof may be NULL. */
void net_forward(const net *n, float *const *acts, float *const *p, float *const *stats,
                 float *scratch, const uint8_t *labels, int B, int train, net_prof *prof);
/* Backward from dout = dL/d(output) (may be the last c slot of grads).
 * grads: the gradient twin (NET_GRAD); acts as left by a train forward.
 * dp NULL: no parameter gradients, else they accumulate (+=) into dp.
 * dinp NULL: no dL/d(input), else it accumulates into dinp. */
void net_backward(const net *n, float *const *grads, float *const *acts, float *const *p,
                  float *const *dp, float *dinp, const float *dout, float *scratch,
                  const uint8_t *labels, int B, net_prof *prof);

#endif

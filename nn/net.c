/* net.c - shapes, tensor lists, and the forward and backward passes of a
 * network described by a table of layers (net.h).
 *
 * The passes call the layer functions of nn.h in table order, each with the
 * shapes net_init derived; nothing here allocates.
 */
#include <time.h>
#include "net.h"

int net_init(net *n, const net_spec *s, int in_ch, int side, int width, int outputs,
             net_act out_act, float slope, float bn_eps, float bn_momentum) {
    if (s->n < 1 || s->n > NET_MAX_LAYERS || in_ch < 1 || side < 1) return -1;
    n->n = s->n;
    n->in_ch = in_ch; n->in_h = side; n->in_w = side;
    n->slope = slope; n->bn_eps = bn_eps; n->bn_momentum = bn_momentum;
    int C = in_ch, H = side, np = 0, ns = 0, na = 1;   /* acts slot 0: the input */
    for (int i = 0; i < s->n; i++) {
        const net_layer *r = &s->layer[i];
        net_lay *l = &n->L[i];
        l->op = r->op;
        l->act = r->act == NET_OUTPUT ? out_act : r->act;
        l->bn = r->bn != 0;
        l->C = C; l->H = H; l->W = H;
        l->OC = r->width ? r->width * width : outputs;
        l->K = r->k; l->stride = r->stride; l->pad = r->pad;
        l->OH = l->OW = r->op == NET_CONV ? nn_conv_out(H, r->k, r->stride, r->pad)
                                          : nn_convt_out(H, r->k, r->stride, r->pad);
        if (l->OC < 1 || l->OH < 1 || l->K < 1 || l->stride < 1 || l->act == NET_OUTPUT) return -1;
        /* fused BN + activation: ReLU or LeakyReLU only */
        if (l->bn && l->act != NET_RELU && l->act != NET_LRELU) return -1;
        l->direct = l->op == NET_CONV && l->K == H && l->pad == 0 && l->OH == 1 && l->OC == 1;
        l->w_at = np++;
        l->gamma_at = l->bn ? np : -1;
        np += l->bn ? 2 : 0;
        l->mean_at = l->bn ? ns : -1;
        ns += l->bn ? 2 : 0;
        l->col_at = l->op == NET_CONV ? na++ : -1;
        l->c_at = na++;
        l->bn_at = l->bn ? na : -1;
        na += l->bn ? 2 : 0;
        l->a_at = l->act != NET_NONE ? na++ : -1;
        C = l->OC;
        H = l->OH;
    }
    n->nparams = np; n->nstats = ns; n->nacts = na;
    n->head_at = -1;
    n->head_classes = 0;
    return 0;
}

int net_class_head(net *n, int classes) {
    if (classes < 0 || n->head_at >= 0 || !n->L[n->n - 1].direct) return -1;
    n->head_at = n->nparams++;
    n->head_classes = classes;
    return 0;
}

/* ---- sizes and blocks ---------------------------------------------------- */

void net_param_sizes(const net *n, size_t *sizes) {
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        sizes[l->w_at] = (size_t)l->C * l->OC * l->K * l->K;
        if (l->bn) sizes[l->gamma_at] = sizes[l->gamma_at + 1] = (size_t)l->OC;
    }
    if (n->head_at >= 0) sizes[n->head_at] = (size_t)n->head_classes * n->L[n->n - 1].C *
                                             n->L[n->n - 1].OC * n->L[n->n - 1].K * n->L[n->n - 1].K;
}

size_t net_param_count(const net *n) {
    size_t s[NET_MAX_PARAMS], t = 0;
    net_param_sizes(n, s);
    for (int i = 0; i < n->nparams; i++) t += s[i];
    return t;
}

size_t net_stat_count(const net *n) {
    size_t t = 0;
    for (int i = 0; i < n->n; i++) t += n->L[i].bn ? 2 * (size_t)n->L[i].OC : 0;
    return t;
}

void net_params_point(const net *n, float **t, float *block) {
    size_t s[NET_MAX_PARAMS];
    net_param_sizes(n, s);
    for (int i = 0; i < n->nparams; i++) { t[i] = block; block += s[i]; }
}

void net_stats_point(const net *n, float **t, float *block) {
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        if (!l->bn) continue;
        t[l->mean_at] = block; block += l->OC;
        t[l->mean_at + 1] = block; block += l->OC;
    }
}

size_t net_in_floats(const net *n, int B) {
    return (size_t)n->in_ch * B * n->in_h * n->in_w;
}

size_t net_out_floats(const net *n, int i, int B) {
    const net_lay *l = &n->L[i];
    return (size_t)l->OC * B * l->OH * l->OW;
}

size_t net_acts_layout(const net *n, float **t, float *base, int B, int flags) {
    const int grad = flags & NET_GRAD, last = n->n - 1;
    size_t size[NET_MAX_ACTS] = {0};
    int alias[NET_MAX_ACTS];   /* slot whose memory this one reuses, or -1 */
    for (int k = 0; k < n->nacts; k++) alias[k] = -1;
    size[0] = grad && !(flags & NET_GRAD_INPUT) ? 0 : net_in_floats(n, B);
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i], *nx = i < last ? &n->L[i + 1] : NULL;
        const size_t out = net_out_floats(n, i, B);
        if (l->col_at >= 0 && !grad && !l->direct)
            size[l->col_at] = (size_t)l->C * l->K * l->K * B * l->OH * l->OW;
        if (l->bn_at >= 0 && !grad) size[l->bn_at] = size[l->bn_at + 1] = (size_t)l->OC;
        size[l->c_at] = out;
        if (l->a_at >= 0 && !(grad && i == last)) size[l->a_at] = out;
        if (!grad || !nx) continue;
        /* gradients run top down: reuse the next layer's c and a when they
         * fit. dL/dc is written by the BN/activation backward, after the
         * next layer's dL/dc is spent; without them dL/dc is the layer's
         * output gradient, written while the next one's is still read. */
        if (out <= net_out_floats(n, i + 1, B) && (l->bn || l->act != NET_NONE)) {
            alias[l->c_at] = nx->c_at;
            if (l->a_at >= 0 && nx->a_at >= 0 && i + 1 < last) alias[l->a_at] = nx->a_at;
        }
    }
    float *tmp[NET_MAX_ACTS];
    if (!t) t = tmp;
    size_t off = 0;
    for (int k = 0; k < n->nacts; k++) {
        const size_t own = alias[k] >= 0 ? 0 : size[k];
        t[k] = (base && own) ? base + off : NULL;
        off += own;
    }
    for (int k = n->nacts - 1; k >= 0; k--)   /* top down: chains resolve */
        if (alias[k] >= 0) t[k] = t[alias[k]];
    return off;
}

void net_eval_acts(const net *n, float **t, float *in, float *const bufs[2], float *out) {
    for (int k = 0; k < n->nacts; k++) t[k] = NULL;
    t[0] = in;
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        float *h = i == n->n - 1 ? out : bufs[i % 2];
        t[l->c_at] = h;
        if (l->a_at >= 0) t[l->a_at] = h;
    }
}

size_t net_eval_floats(const net *n, int which, int B) {
    size_t m = 0;
    for (int i = which; i < n->n - 1; i += 2) {
        const size_t s = net_out_floats(n, i, B);
        if (s > m) m = s;
    }
    return m;
}

size_t net_scratch_floats(const net *n, int B) {
    size_t m = 0;
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        const size_t kk = (size_t)l->K * l->K * B, s =
            l->op == NET_CONVT ? l->OC * kk * l->H * l->W
            : l->direct ? 0 : l->C * kk * l->OH * l->OW;
        if (s > m) m = s;
    }
    return m;
}

/* ---- passes -------------------------------------------------------------- */

double net_layer_flop(const net_lay *l, int B) {
    /* 2 * out * in * K*K per pixel of the smaller grid, times the batch */
    const int pixels = l->op == NET_CONVT ? l->H * l->W : l->OH * l->OW;
    return 2.0 * B * pixels * (double)l->C * l->OC * l->K * l->K;
}

static double prof_now(const net_prof *pr) {
    if (!pr) return 0.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double prof_book(net_prof *pr, int slot, int dir, double flop, double t0) {
    if (!pr) return 0.0;
    const double now = prof_now(pr);
    pr->s[pr->base + slot][dir] += now - t0;
    pr->flop[pr->base + slot][dir] += flop;
    return now;
}

/* The layer's output slot: a, or c without an activation. */
static int out_at(const net_lay *l) { return l->a_at >= 0 ? l->a_at : l->c_at; }

static float act_slope(const net *n, const net_lay *l) {
    return l->act == NET_LRELU ? n->slope : 0.0f;
}

/* Class of image b among K: labels[b], or b % K without labels (as gan.c's
 * label planes). */
static int class_of(const uint8_t *labels, int b, int K) {
    return labels ? labels[b] % K : b % K;
}

/* The class head's part of the last layer (a direct one, inputs x [C][B][hw]):
 * c[o][b] += <E[y_b][o], x_b>. */
static void head_forward(float *c, const float *x, const float *E, const uint8_t *labels, int K,
                         int B, int C, int hw, int OC) {
    for (int o = 0; o < OC; o++)
        for (int b = 0; b < B; b++) {
            const float *e = E + ((size_t)class_of(labels, b, K) * OC + o) * C * hw;
            double s = 0.0;
            for (int ch = 0; ch < C; ch++) {
                const float *xr = x + ((size_t)ch * B + b) * hw, *er = e + (size_t)ch * hw;
                for (int j = 0; j < hw; j++) s += (double)er[j] * xr[j];
            }
            c[(size_t)o * B + b] += (float)s;
        }
}

/* Its backward: dE[y_b][o] += dc[o][b] * x_b (dE may be NULL), dx_b +=
 * dc[o][b] * E[y_b][o] (dx may be NULL). */
static void head_backward(float *dx, float *dE, const float *x, const float *E, const float *dc,
                          const uint8_t *labels, int K, int B, int C, int hw, int OC) {
    for (int o = 0; o < OC; o++)
        for (int b = 0; b < B; b++) {
            const size_t e0 = ((size_t)class_of(labels, b, K) * OC + o) * C * hw;
            const float g = dc[(size_t)o * B + b];
            for (int ch = 0; ch < C; ch++) {
                const size_t xo = ((size_t)ch * B + b) * hw, eo = e0 + (size_t)ch * hw;
                if (dE) for (int j = 0; j < hw; j++) dE[eo + j] += g * x[xo + j];
                if (dx) for (int j = 0; j < hw; j++) dx[xo + j] += g * E[eo + j];
            }
        }
}

void net_forward(const net *n, float *const *acts, float *const *p, float *const *stats,
                 float *scratch, const uint8_t *labels, int B, int train, net_prof *prof) {
    double t = prof_now(prof);
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        const float *in = i ? acts[out_at(&n->L[i - 1])] : acts[0];
        const float *w = p[l->w_at];
        float *c = acts[l->c_at];
        if (l->op == NET_CONVT)
            nn_convt2d_forward(c, scratch, in, w, B, l->C, l->H, l->W, l->OC, l->K, l->stride, l->pad);
        else if (l->direct)
            nn_conv_full_forward(c, in, w, B, l->C, l->H * l->W, l->OC);
        else
            nn_conv2d_forward(c, acts[l->col_at] ? acts[l->col_at] : scratch, in, w,
                              B, l->C, l->H, l->W, l->OC, l->K, l->stride, l->pad);
        if (i == n->n - 1 && n->head_classes)
            head_forward(c, in, p[n->head_at], labels, n->head_classes, B, l->C, l->H * l->W, l->OC);
        t = prof_book(prof, 2 * i, 0, net_layer_flop(l, B), t);
        const float slope = act_slope(n, l);
        float *a = l->a_at >= 0 ? acts[l->a_at] : NULL;
        const int N = B * l->OH * l->OW;
        if (l->bn) {
            const float *gamma = p[l->gamma_at], *beta = p[l->gamma_at + 1];
            float *rm = stats[l->mean_at], *rv = stats[l->mean_at + 1];
            if (train)
                nn_batchnorm_act_forward(a, acts[l->bn_at], acts[l->bn_at + 1], c, gamma, beta,
                                         rm, rv, n->bn_momentum, n->bn_eps, slope, l->OC, N);
            else
                nn_batchnorm_act_forward_eval(a, c, gamma, beta, rm, rv, n->bn_eps, slope, l->OC, N);
        } else if (l->act == NET_RELU) {
            nn_relu_forward(a, c, (size_t)l->OC * N);
        } else if (l->act == NET_LRELU) {
            nn_leaky_relu_forward(a, c, slope, (size_t)l->OC * N);
        } else if (l->act == NET_TANH) {
            nn_tanh_forward(a, c, (size_t)l->OC * N);
        }
        if (l->bn || a) t = prof_book(prof, 2 * i + 1, 0, 0.0, t);
    }
}

void net_backward(const net *n, float *const *grads, float *const *acts, float *const *p,
                  float *const *dp, float *dinp, const float *dout, float *scratch,
                  const uint8_t *labels, int B, net_prof *prof) {
    double t = prof_now(prof);
    const float *dy = dout;   /* dL/d(output of layer i) */
    for (int i = n->n - 1; i >= 0; i--) {
        const net_lay *l = &n->L[i];
        const size_t nout = net_out_floats(n, i, B);
        const float slope = act_slope(n, l);
        const float *dc = dy;   /* dL/dc */
        if (l->bn || l->act != NET_NONE) {
            float *g = grads[l->c_at];
            nn_zero(g, nout);
            const float *a = acts[l->a_at];
            if (l->bn)
                nn_batchnorm_act_backward(g, dp ? dp[l->gamma_at] : NULL,
                                          dp ? dp[l->gamma_at + 1] : NULL, dy, a, acts[l->c_at],
                                          acts[l->bn_at], acts[l->bn_at + 1], p[l->gamma_at],
                                          slope, l->OC, B * l->OH * l->OW);
            else if (l->act == NET_RELU) nn_relu_backward(g, a, dy, nout);
            else if (l->act == NET_LRELU) nn_leaky_relu_backward(g, a, dy, slope, nout);
            else nn_tanh_backward(g, a, dy, nout);
            dc = g;
            t = prof_book(prof, 2 * i + 1, 1, 0.0, t);
        }
        float *dx = dinp;
        const float *in = acts[0];
        if (i) {
            const int at = out_at(&n->L[i - 1]);
            dx = grads[at];
            in = acts[at];
            nn_zero(dx, net_out_floats(n, i - 1, B));
        }
        float *dw = dp ? dp[l->w_at] : NULL;
        const float *w = p[l->w_at];
        if (l->op == NET_CONVT)
            nn_convt2d_backward(dx, dw, scratch, in, w, dc, B, l->C, l->H, l->W, l->OC,
                                l->K, l->stride, l->pad);
        else if (l->direct)
            nn_conv_full_backward(dx, dw, in, w, dc, B, l->C, l->H * l->W, l->OC);
        else
            nn_conv2d_backward(dx, dw, scratch, acts[l->col_at], in, w, dc, B, l->C, l->H, l->W,
                               l->OC, l->K, l->stride, l->pad);
        if (i == n->n - 1 && n->head_classes)
            head_backward(dx, dp ? dp[n->head_at] : NULL, in, p[n->head_at], dc, labels,
                          n->head_classes, B, l->C, l->H * l->W, l->OC);
        t = prof_book(prof, 2 * i, 1, ((dx ? 1 : 0) + (dw ? 1 : 0)) * net_layer_flop(l, B), t);
        dy = dx;
    }
}

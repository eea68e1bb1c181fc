/* classifier.c - the MNIST classifier of classifier.h: blocks, forward and
 * backward passes, training step, eval-mode classification and features,
 * and the model file.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "binio.h"
#include "classifier.h"

#define CLS_MAGIC "GLCL"
#define CLS_VERSION 1u
#define CLS_HEADER_U32 7   /* version img c1 c2 k nparams nbuf */

/* The D-shaped stack, widths x CLS_C1, CLS_K outputs. */
static const net_spec cls_spec = {3, {
    /* op        width  k  s  p  BN  activation */
    {NET_CONV,   1,     4, 2, 1, 0,  NET_LRELU},    /* [32][B][14][14] */
    {NET_CONV,   2,     4, 2, 1, 1,  NET_LRELU},    /* [64][B][7][7] */
    {NET_CONV,   0,     7, 1, 0, 0,  NET_NONE},     /* [10][B] logits */
}};

/* The network; -1 if the table and classifier.h's constants disagree. */
static int cls_net(net *n) {
    if (net_init(n, &cls_spec, 1, CLS_IMG, CLS_C1, CLS_K, NET_NONE, CLS_SLOPE, CLS_BN_EPS,
                 CLS_BN_MOMENTUM) < 0)
        return -1;
    const net_lay *f = &n->L[n->n - 2];   /* the features: BN + LeakyReLU output */
    return n->nparams == CLS_NTENSORS && net_stat_count(n) == CLS_BUF_COUNT &&
           f->OC == CLS_FEAT && n->L[0].OC == CLS_C1 &&
           n->nacts == (int)(offsetof(cls_acts, logits_t) / sizeof(float *)) ? 0 : -1;
}

void cls_param_sizes(size_t s[CLS_NTENSORS]) {
    net n;
    if (cls_net(&n) == 0) net_param_sizes(&n, s);
    else for (int i = 0; i < CLS_NTENSORS; i++) s[i] = 0;
}

size_t cls_param_count(void) {
    net n;
    return cls_net(&n) == 0 ? net_param_count(&n) : 0;
}

/* Lay out the activations for batch B from base (or count them when base is
 * NULL): the network's (net.h), then logits_t and probs. The gradient twin
 * has no input, im2col buffers, batch statistics or probs. */
static size_t acts_layout(const net *n, cls_acts *a, float *base, int B, int grad) {
    size_t off = net_acts_layout(n, a->t, base, B, grad ? NET_GRAD : 0);
    const size_t k = (size_t)CLS_K * B;
    a->logits_t = base ? base + off : NULL;
    off += k;
    a->probs = base && !grad ? base + off : NULL;
    return off + (grad ? 0 : k);
}

cls_model *cls_model_new(int batch, int train) {
    if (batch < 1 || batch > 4096) return NULL;
    cls_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (cls_net(&m->net) < 0) { free(m); return NULL; }
    m->batch = batch;
    m->train = train != 0;
    m->count = net_param_count(&m->net);
    const size_t na = acts_layout(&m->net, &m->a, NULL, batch, 0);
    const size_t nda = acts_layout(&m->net, &m->da, NULL, batch, 1);
    float **blocks[] = {&m->mem, &m->buf_mem, &m->act_mem, &m->scratch,
                        &m->grad_mem, &m->m_mem, &m->v_mem, &m->dact_mem};
    const size_t counts[] = {m->count, CLS_BUF_COUNT, na, net_scratch_floats(&m->net, batch),
                             m->count, m->count, m->count, nda};
    const int nblocks = m->train ? 8 : 4;
    for (int i = 0; i < nblocks; i++) {
        *blocks[i] = calloc(counts[i], sizeof(float));
        if (!*blocks[i]) { cls_model_free(m); return NULL; }
    }
    m->labels = calloc((size_t)batch, sizeof *m->labels);
    if (!m->labels) { cls_model_free(m); return NULL; }
    net_params_point(&m->net, m->p.t, m->mem);
    float *st[NET_MAX_STATS];
    net_stats_point(&m->net, st, m->buf_mem);
    m->run_mean = st[0];
    m->run_var = st[1];
    acts_layout(&m->net, &m->a, m->act_mem, batch, 0);
    if (m->train) {
        net_params_point(&m->net, m->grad.t, m->grad_mem);
        net_params_point(&m->net, m->m.t, m->m_mem);
        net_params_point(&m->net, m->v.t, m->v_mem);
        acts_layout(&m->net, &m->da, m->dact_mem, batch, 1);
    }
    m->lr = 1e-3f; m->beta1 = 0.9f; m->beta2 = 0.999f; m->adam_eps = 1e-8f;
    return m;
}

void cls_model_free(cls_model *m) {
    if (!m) return;
    free(m->mem); free(m->buf_mem); free(m->act_mem); free(m->scratch);
    free(m->grad_mem); free(m->m_mem); free(m->v_mem); free(m->dact_mem);
    free(m->labels);
    free(m);
}

static void fill_uniform(nn_rng *rng, float *x, size_t n, float bound) {
    for (size_t i = 0; i < n; i++) x[i] = bound * (2.0f * nn_rng_uniform(rng) - 1.0f);
}

void cls_model_init(cls_model *m, nn_rng *rng) {
    size_t s[NET_MAX_PARAMS];
    float *st[NET_MAX_STATS];
    net_param_sizes(&m->net, s);
    net_stats_point(&m->net, st, m->buf_mem);
    for (int i = 0; i < m->net.n; i++) {
        const net_lay *l = &m->net.L[i];
        fill_uniform(rng, m->p.t[l->w_at], s[l->w_at], 1.0f / sqrtf((float)(l->C * l->K * l->K)));
        for (int c = 0; l->bn && c < l->OC; c++) {
            m->p.t[l->gamma_at][c] = 1.0f; m->p.t[l->gamma_at + 1][c] = 0.0f;
            st[l->mean_at][c] = 0.0f; st[l->mean_at + 1][c] = 1.0f;
        }
    }
    if (m->train) {
        memset(m->grad_mem, 0, m->count * sizeof(float));
        memset(m->m_mem, 0, m->count * sizeof(float));
        memset(m->v_mem, 0, m->count * sizeof(float));
    }
    m->t = 0;
}

/* ---- passes -------------------------------------------------------------- */

void cls_forward(cls_model *m, const float *x, int B, int train) {
    cls_acts *a = &m->a;
    float *st[NET_MAX_STATS];
    net_stats_point(&m->net, st, m->buf_mem);
    memcpy(a->x, x, (size_t)B * CLS_PIX * sizeof(float));
    net_forward(&m->net, a->t, m->p.t, st, m->scratch, NULL, B, train, NULL);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < CLS_K; k++)
            a->logits_t[(size_t)b * CLS_K + k] = a->logits[(size_t)k * B + b];
}

/* Backward from dL/dlogits_t in m->da.logits_t; parameter grads accumulate. */
static void cls_backward(cls_model *m, int B) {
    cls_acts *g = &m->da;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < CLS_K; k++)
            g->logits[(size_t)k * B + b] = g->logits_t[(size_t)b * CLS_K + k];
    net_backward(&m->net, g->t, m->a.t, m->p.t, m->grad.t, NULL, g->logits, m->scratch, NULL, B, NULL);
}

void cls_argmax(const float *probs, int n, int *pred) {
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * CLS_K;
        int best = 0;
        for (int k = 1; k < CLS_K; k++) if (p[k] > p[best]) best = k;
        pred[i] = best;
    }
}

float cls_train_step(cls_model *m, const float *x, const int32_t *labels, int B, int *correct) {
    cls_forward(m, x, B, 1);
    const float loss = nn_softmax_ce_forward(m->a.probs, m->a.logits_t, labels, B, CLS_K);
    if (correct) {
        int n = 0;
        for (int b = 0; b < B; b++) {
            int pred;
            cls_argmax(m->a.probs + (size_t)b * CLS_K, 1, &pred);
            n += pred == labels[b];
        }
        *correct = n;
    }
    nn_zero(m->grad_mem, m->count);
    memset(m->da.logits_t, 0, (size_t)B * CLS_K * sizeof(float));
    nn_softmax_ce_backward(m->da.logits_t, m->a.probs, labels, 1.0f, B, CLS_K);
    cls_backward(m, B);
    if (!isfinite(loss) || !nn_all_finite(m->grad_mem, m->count)) return NAN;
    m->t++;
    nn_adam_update(m->mem, m->grad_mem, m->m_mem, m->v_mem, m->count,
                   m->lr, m->beta1, m->beta2, m->adam_eps, m->t);
    return loss;
}

void cls_classify(cls_model *m, const float *x, int n, float *probs, float *feats) {
    for (int i0 = 0; i0 < n; i0 += m->batch) {
        const int B = n - i0 < m->batch ? n - i0 : m->batch;
        cls_forward(m, x + (size_t)i0 * CLS_PIX, B, 0);
        if (probs) {
            float *p = probs + (size_t)i0 * CLS_K;
            for (int b = 0; b < B; b++) {
                const float *z = m->a.logits_t + (size_t)b * CLS_K;
                float mx = z[0], s = 0.0f;
                for (int k = 1; k < CLS_K; k++) if (z[k] > mx) mx = z[k];
                for (int k = 0; k < CLS_K; k++) s += (p[(size_t)b * CLS_K + k] = expf(z[k] - mx));
                for (int k = 0; k < CLS_K; k++) p[(size_t)b * CLS_K + k] /= s;
            }
        }
        if (feats) {   /* the BN + LeakyReLU output averaged over its positions */
            const net_lay *f = &m->net.L[m->net.n - 2];
            const int hw = f->OH * f->OW;
            for (int c = 0; c < CLS_FEAT; c++)
                for (int b = 0; b < B; b++) {
                    const float *v = m->a.t[f->a_at] + ((size_t)c * B + b) * hw;
                    float s = 0.0f;
                    for (int j = 0; j < hw; j++) s += v[j];
                    feats[(size_t)(i0 + b) * CLS_FEAT + c] = s / (float)hw;
                }
        }
    }
}

double cls_accuracy(cls_model *m, const gan_dataset *d, int n) {
    if (n <= 0 || n > d->n) n = d->n;
    const int B = m->batch;
    float *x = malloc((size_t)B * CLS_PIX * sizeof *x);
    float *probs = malloc((size_t)B * CLS_K * sizeof *probs);
    int *pred = malloc((size_t)B * sizeof *pred);
    long right = 0;
    if (!x || !probs || !pred) { free(x); free(probs); free(pred); return -1.0; }
    const float scale = (CLS_IN_HI - CLS_IN_LO) / 255.0f;
    for (int i0 = 0; i0 < n; i0 += B) {
        const int nb = n - i0 < B ? n - i0 : B;
        const uint8_t *src = d->images + (size_t)i0 * CLS_PIX;
        for (size_t j = 0; j < (size_t)nb * CLS_PIX; j++) x[j] = CLS_IN_LO + scale * src[j];
        cls_classify(m, x, nb, probs, NULL);
        cls_argmax(probs, nb, pred);
        for (int b = 0; b < nb; b++) right += pred[b] == d->labels[i0 + b];
    }
    free(x); free(probs); free(pred);
    return (double)right / n;
}

/* ---- model file ---------------------------------------------------------- */

static size_t file_size_for(size_t nparams) {
    return 4 + 4 * CLS_HEADER_U32 + 4 * (nparams + CLS_BUF_COUNT) + 4 + 4;
}

int cls_save(const cls_model *m, const char *path, float test_acc, char *err, size_t errlen) {
    const size_t len = file_size_for(m->count);
    uint8_t *buf = malloc(len);
    if (!buf) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    uint8_t *p = buf;
    memcpy(p, CLS_MAGIC, 4); p += 4;
    const uint32_t hdr[CLS_HEADER_U32] = {CLS_VERSION, CLS_IMG, CLS_C1, CLS_C2, CLS_K,
                                          (uint32_t)m->count, CLS_BUF_COUNT};
    for (int i = 0; i < CLS_HEADER_U32; i++, p += 4) nn_put_u32(p, hdr[i]);
    nn_put_f32s(p, m->mem, m->count); p += 4 * m->count;
    nn_put_f32s(p, m->buf_mem, CLS_BUF_COUNT); p += 4 * CLS_BUF_COUNT;
    nn_put_f32(p, test_acc); p += 4;
    nn_put_u32(p, (uint32_t)crc32(0L, buf, (uInt)(p - buf)));
    const int rc = nn_file_write_bytes(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

int cls_load(cls_model *m, const char *path, float *test_acc, char *err, size_t errlen) {
    const size_t want = file_size_for(m->count);
    uint8_t *buf;
    size_t got;
    if (nn_file_read(path, want + 1, &buf, &got, err, errlen) < 0) return -1;
    int rc = -1;
    if (got < 4 || memcmp(buf, CLS_MAGIC, 4) != 0) {
        snprintf(err, errlen, "%s: not a ganlive classifier model (bad magic)", path);
        goto out;
    }
    if (got >= 8 && nn_get_u32(buf + 4) != CLS_VERSION) {
        snprintf(err, errlen, "%s: classifier model version %u, this ganlive reads version %u",
                 path, nn_get_u32(buf + 4), CLS_VERSION);
        goto out;
    }
    if (got != want) {
        snprintf(err, errlen, "%s: classifier model is %s (%zu bytes, expected %zu): damaged file",
                 path, got < want ? "truncated" : "too long", got, want);
        goto out;
    }
    const uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(want - 4));
    if (crc != nn_get_u32(buf + want - 4)) {
        snprintf(err, errlen, "%s: classifier model checksum mismatch: damaged file", path);
        goto out;
    }
    const uint32_t hdr[CLS_HEADER_U32] = {CLS_VERSION, CLS_IMG, CLS_C1, CLS_C2, CLS_K,
                                          (uint32_t)m->count, CLS_BUF_COUNT};
    for (int i = 1; i < CLS_HEADER_U32; i++)
        if (nn_get_u32(buf + 4 + 4 * i) != hdr[i]) {
            snprintf(err, errlen, "%s: classifier model has another architecture "
                     "(header field %d is %u, expected %u)", path, i, nn_get_u32(buf + 4 + 4 * i), hdr[i]);
            goto out;
        }
    const uint8_t *p = buf + 4 + 4 * CLS_HEADER_U32;
    const size_t nvals = m->count + CLS_BUF_COUNT + 1;
    for (size_t i = 0; i < nvals; i++) {
        const float v = nn_get_f32(p + 4 * i);
        const int is_var = i >= m->count + CLS_C2 && i < m->count + CLS_BUF_COUNT;
        if (!isfinite(v) || (is_var && !(v >= 0.0f))) {
            snprintf(err, errlen, "%s: classifier model holds an invalid value at %zu", path, i);
            goto out;
        }
    }
    nn_get_f32s(m->mem, p, m->count); p += 4 * m->count;
    nn_get_f32s(m->buf_mem, p, CLS_BUF_COUNT); p += 4 * CLS_BUF_COUNT;
    if (test_acc) *test_acc = nn_get_f32(p);
    rc = 0;
out:
    free(buf);
    return rc;
}

/* classifier.c - the MNIST classifier of classifier.h: blocks, forward and
 * backward passes, training step, eval-mode classification and features,
 * and the model file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "classifier.h"

#define CLS_MAGIC "GLCL"
#define CLS_VERSION 1u
#define CLS_HEADER_U32 7   /* version img c1 c2 k nparams nbuf */

void cls_param_sizes(size_t s[CLS_NTENSORS]) {
    s[0] = (size_t)CLS_C1 * 1 * 16;
    s[1] = (size_t)CLS_C2 * CLS_C1 * 16;
    s[2] = CLS_C2;
    s[3] = CLS_C2;
    s[4] = (size_t)CLS_K * CLS_C2 * 49;
}

size_t cls_param_count(void) {
    size_t s[CLS_NTENSORS], t = 0;
    cls_param_sizes(s);
    for (int i = 0; i < CLS_NTENSORS; i++) t += s[i];
    return t;
}

static void params_point(cls_params *p, float *block) {
    size_t s[CLS_NTENSORS];
    cls_param_sizes(s);
    float **ptrs[CLS_NTENSORS] = {&p->w1, &p->w2, &p->bn2_g, &p->bn2_b, &p->w3};
    for (int i = 0; i < CLS_NTENSORS; i++) { *ptrs[i] = block; block += s[i]; }
}

/* Lay out the activations for batch B from base (or count them when base is
 * NULL); the im2col buffers only when with_cols. Returns the float count. */
static size_t acts_layout(cls_acts *a, float *base, int B, int with_cols) {
    const size_t n1 = (size_t)CLS_C1 * B * 196, n2 = (size_t)CLS_C2 * B * 49;
    struct { float **p; size_t n; } t[] = {
        {&a->x, (size_t)B * CLS_PIX}, {&a->col1, with_cols ? 16 * (size_t)B * 196 : 0},
        {&a->c1, n1}, {&a->a1, n1},
        {&a->col2, with_cols ? (size_t)CLS_C1 * 16 * B * 49 : 0},
        {&a->c2, n2}, {&a->bn2_mean, CLS_C2}, {&a->bn2_rstd, CLS_C2}, {&a->a2, n2},
        {&a->col3, with_cols ? (size_t)CLS_C2 * 49 * B : 0},
        {&a->logits, (size_t)CLS_K * B}, {&a->logits_t, (size_t)CLS_K * B},
        {&a->probs, (size_t)CLS_K * B},
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].p = (base && t[i].n) ? base + off : NULL;
        off += t[i].n;
    }
    return off;
}

/* Largest dcol scratch of the backward passes at batch B. */
static size_t scratch_floats(int B) {
    size_t a = 16 * (size_t)B * 196, b = (size_t)CLS_C1 * 16 * B * 49, c = (size_t)CLS_C2 * 49 * B;
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

cls_model *cls_model_new(int batch, int train) {
    if (batch < 1 || batch > 4096) return NULL;
    cls_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->batch = batch;
    m->train = train != 0;
    m->count = cls_param_count();
    const size_t na = acts_layout(&m->a, NULL, batch, 1);
    const size_t nda = acts_layout(&m->da, NULL, batch, 0);
    float **blocks[] = {&m->mem, &m->buf_mem, &m->act_mem, &m->scratch,
                        &m->grad_mem, &m->m_mem, &m->v_mem, &m->dact_mem};
    const size_t counts[] = {m->count, CLS_BUF_COUNT, na, scratch_floats(batch),
                             m->count, m->count, m->count, nda};
    const int nblocks = m->train ? 8 : 4;
    for (int i = 0; i < nblocks; i++) {
        *blocks[i] = calloc(counts[i], sizeof(float));
        if (!*blocks[i]) { cls_model_free(m); return NULL; }
    }
    m->labels = calloc((size_t)batch, sizeof *m->labels);
    if (!m->labels) { cls_model_free(m); return NULL; }
    params_point(&m->p, m->mem);
    m->run_mean = m->buf_mem;
    m->run_var = m->buf_mem + CLS_C2;
    acts_layout(&m->a, m->act_mem, batch, 1);
    if (m->train) {
        params_point(&m->grad, m->grad_mem);
        params_point(&m->m, m->m_mem);
        params_point(&m->v, m->v_mem);
        acts_layout(&m->da, m->dact_mem, batch, 0);
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
    size_t s[CLS_NTENSORS];
    cls_param_sizes(s);
    fill_uniform(rng, m->p.w1, s[0], 1.0f / sqrtf(16.0f));
    fill_uniform(rng, m->p.w2, s[1], 1.0f / sqrtf((float)CLS_C1 * 16));
    for (int c = 0; c < CLS_C2; c++) {
        m->p.bn2_g[c] = 1.0f; m->p.bn2_b[c] = 0.0f;
        m->run_mean[c] = 0.0f; m->run_var[c] = 1.0f;
    }
    fill_uniform(rng, m->p.w3, s[4], 1.0f / sqrtf((float)CLS_C2 * 49));
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
    memcpy(a->x, x, (size_t)B * CLS_PIX * sizeof(float));
    nn_conv2d_forward(a->c1, a->col1, a->x, m->p.w1, B, 1, 28, 28, CLS_C1, 4, 2, 1);
    nn_leaky_relu_forward(a->a1, a->c1, CLS_SLOPE, (size_t)CLS_C1 * B * 196);
    nn_conv2d_forward(a->c2, a->col2, a->a1, m->p.w2, B, CLS_C1, 14, 14, CLS_C2, 4, 2, 1);
    if (train)
        nn_batchnorm_act_forward(a->a2, a->bn2_mean, a->bn2_rstd, a->c2, m->p.bn2_g, m->p.bn2_b,
                                 m->run_mean, m->run_var, CLS_BN_MOMENTUM, CLS_BN_EPS,
                                 CLS_SLOPE, CLS_C2, B * 49);
    else
        nn_batchnorm_act_forward_eval(a->a2, a->c2, m->p.bn2_g, m->p.bn2_b, m->run_mean,
                                      m->run_var, CLS_BN_EPS, CLS_SLOPE, CLS_C2, B * 49);
    nn_conv2d_forward(a->logits, a->col3, a->a2, m->p.w3, B, CLS_C2, 7, 7, CLS_K, 7, 1, 0);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < CLS_K; k++)
            a->logits_t[(size_t)b * CLS_K + k] = a->logits[(size_t)k * B + b];
}

/* Backward from dL/dlogits_t in m->da.logits_t; parameter grads accumulate. */
static void cls_backward(cls_model *m, int B) {
    const cls_acts *a = &m->a;
    cls_acts *g = &m->da;
    const size_t n1 = (size_t)CLS_C1 * B * 196, n2 = (size_t)CLS_C2 * B * 49;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < CLS_K; k++)
            g->logits[(size_t)k * B + b] = g->logits_t[(size_t)b * CLS_K + k];
    nn_zero(g->a2, n2);
    nn_conv2d_backward(g->a2, m->grad.w3, m->scratch, a->col3, m->p.w3, g->logits,
                       B, CLS_C2, 7, 7, CLS_K, 7, 1, 0);
    nn_zero(g->c2, n2);
    nn_batchnorm_act_backward(g->c2, m->grad.bn2_g, m->grad.bn2_b, g->a2, a->a2, a->c2,
                              a->bn2_mean, a->bn2_rstd, m->p.bn2_g, CLS_SLOPE, CLS_C2, B * 49);
    nn_zero(g->a1, n1);
    nn_conv2d_backward(g->a1, m->grad.w2, m->scratch, a->col2, m->p.w2, g->c2,
                       B, CLS_C1, 14, 14, CLS_C2, 4, 2, 1);
    nn_zero(g->c1, n1);
    nn_leaky_relu_backward(g->c1, a->a1, g->a1, CLS_SLOPE, n1);
    nn_conv2d_backward(NULL, m->grad.w1, m->scratch, a->col1, m->p.w1, g->c1,
                       B, 1, 28, 28, CLS_C1, 4, 2, 1);
}

void cls_argmax(const float *probs, int n, int *pred) {
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * CLS_K;
        int best = 0;
        for (int k = 1; k < CLS_K; k++) if (p[k] > p[best]) best = k;
        pred[i] = best;
    }
}

static int all_finite(const float *x, size_t n) {
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += x[i] * 0.0f;
    return acc == 0.0f;
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
    if (!isfinite(loss) || !all_finite(m->grad_mem, m->count)) return NAN;
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
        if (feats)
            for (int c = 0; c < CLS_C2; c++)
                for (int b = 0; b < B; b++) {
                    const float *v = m->a.a2 + ((size_t)c * B + b) * 49;
                    float s = 0.0f;
                    for (int j = 0; j < 49; j++) s += v[j];
                    feats[(size_t)(i0 + b) * CLS_FEAT + c] = s / 49.0f;
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

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}

static float get_f32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static size_t file_size_for(size_t nparams) {
    return 4 + 4 * CLS_HEADER_U32 + 4 * (nparams + CLS_BUF_COUNT) + 4 + 4;
}

int cls_save(const cls_model *m, const char *path, float test_acc, char *err, size_t errlen) {
    const size_t len = file_size_for(m->count);
    unsigned char *buf = malloc(len);
    if (!buf) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    unsigned char *p = buf;
    memcpy(p, CLS_MAGIC, 4); p += 4;
    const uint32_t hdr[CLS_HEADER_U32] = {CLS_VERSION, CLS_IMG, CLS_C1, CLS_C2, CLS_K,
                                          (uint32_t)m->count, CLS_BUF_COUNT};
    for (int i = 0; i < CLS_HEADER_U32; i++, p += 4) put_u32(p, hdr[i]);
    for (size_t i = 0; i < m->count; i++, p += 4) put_f32(p, m->mem[i]);
    for (size_t i = 0; i < CLS_BUF_COUNT; i++, p += 4) put_f32(p, m->buf_mem[i]);
    put_f32(p, test_acc); p += 4;
    put_u32(p, (uint32_t)crc32(0L, buf, (uInt)(p - buf)));
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        free(buf);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int cls_load(cls_model *m, const char *path, float *test_acc, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    const size_t want = file_size_for(m->count);
    unsigned char *buf = malloc(want + 1);
    if (!buf) { fclose(f); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    const size_t got = fread(buf, 1, want + 1, f);
    const int rd_err = ferror(f);
    fclose(f);
    int rc = -1;
    if (rd_err) { snprintf(err, errlen, "%s: read error", path); goto out; }
    if (got < 4 || memcmp(buf, CLS_MAGIC, 4) != 0) {
        snprintf(err, errlen, "%s: not a ganlive classifier model (bad magic)", path);
        goto out;
    }
    if (got >= 8 && get_u32(buf + 4) != CLS_VERSION) {
        snprintf(err, errlen, "%s: classifier model version %u, this ganlive reads version %u",
                 path, get_u32(buf + 4), CLS_VERSION);
        goto out;
    }
    if (got != want) {
        snprintf(err, errlen, "%s: classifier model is %s (%zu bytes, expected %zu): damaged file",
                 path, got < want ? "truncated" : "too long", got, want);
        goto out;
    }
    const uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(want - 4));
    if (crc != get_u32(buf + want - 4)) {
        snprintf(err, errlen, "%s: classifier model checksum mismatch: damaged file", path);
        goto out;
    }
    const uint32_t hdr[CLS_HEADER_U32] = {CLS_VERSION, CLS_IMG, CLS_C1, CLS_C2, CLS_K,
                                          (uint32_t)m->count, CLS_BUF_COUNT};
    for (int i = 1; i < CLS_HEADER_U32; i++)
        if (get_u32(buf + 4 + 4 * i) != hdr[i]) {
            snprintf(err, errlen, "%s: classifier model has another architecture "
                     "(header field %d is %u, expected %u)", path, i, get_u32(buf + 4 + 4 * i), hdr[i]);
            goto out;
        }
    const unsigned char *p = buf + 4 + 4 * CLS_HEADER_U32;
    const size_t nvals = m->count + CLS_BUF_COUNT + 1;
    for (size_t i = 0; i < nvals; i++) {
        const float v = get_f32(p + 4 * i);
        const int is_var = i >= m->count + CLS_C2 && i < m->count + CLS_BUF_COUNT;
        if (!isfinite(v) || (is_var && !(v >= 0.0f))) {
            snprintf(err, errlen, "%s: classifier model holds an invalid value at %zu", path, i);
            goto out;
        }
    }
    for (size_t i = 0; i < m->count; i++, p += 4) m->mem[i] = get_f32(p);
    for (size_t i = 0; i < CLS_BUF_COUNT; i++, p += 4) m->buf_mem[i] = get_f32(p);
    if (test_acc) *test_acc = get_f32(p);
    rc = 0;
out:
    free(buf);
    return rc;
}

/* ckpt_write.c - writing checkpoints (the format is described in
 * checkpoint.c): one writer with three sinks.
 *
 * The design is simple: the file is emitted front to back exactly once, so
 * it streams straight into the temporary file through a 64 KB buffer with
 * the CRC32 computed on the way; the 23 MB of the default model are never
 * copied into one block. Each section's length precedes its body and the
 * total length sits in the header, so the emitter runs twice over the same
 * code: first into a counting sink that only adds up bytes and notes each
 * section's length, then into the real sink (a file descriptor, or one
 * exact-size memory block for tests and tools). The second pass checks every
 * section against the first. Timeline snapshots are compressed once, before
 * either pass (their compressed bytes are the only copy held in memory).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "checkpoint.h"
#include "../nn/binio.h"

#define STAGE_BYTES ((size_t)64 << 10)    /* the file sink's buffer */
#define SECTIONS_MAX 16                    /* 13 in versions 1 and 2, 14 in 3 with a G EMA */
#define ERR_SIZES (-1)                     /* ckw.err: the passes disagree (a bug) */

typedef enum { SINK_COUNT, SINK_MEM, SINK_FD } sink_kind;

typedef struct {
    sink_kind kind;
    int fd;                          /* SINK_FD */
    uint8_t *buf;                    /* SINK_MEM: [total]; SINK_FD: [STAGE_BYTES] */
    size_t used;                     /* SINK_FD: bytes waiting in buf */
    uint64_t off;                    /* bytes emitted in this pass */
    uint64_t total;                  /* file length, known after the counting pass */
    uLong crc;                       /* CRC32 of the bytes emitted so far */
    uint64_t sec_len[SECTIONS_MAX];  /* body lengths noted by the counting pass */
    uint64_t sec_at;                 /* offset of the open section's body */
    int nsec;                        /* sections begun in this pass */
    int err;                         /* first failure: errno value, ERR_SIZES, or 0 */
} ckw;

/* Start a pass into `kind`: the lengths of the counting pass are kept. */
static void ckw_pass(ckw *w, sink_kind kind) {
    if (w->kind == SINK_COUNT) w->total = w->off;
    w->kind = kind;
    w->off = 0;
    w->used = 0;
    w->nsec = 0;
    w->crc = crc32_z(0L, Z_NULL, 0);
}

static void ckw_flush(ckw *w) {
    if (w->kind == SINK_FD && !w->err && w->used && nn_write_all(w->fd, w->buf, w->used) < 0) w->err = errno;
    w->used = 0;
}

/* The one way bytes leave the emitter. */
static void w_bytes(ckw *w, const void *src, size_t n) {
    const uint8_t *p = src;
    if (w->err) return;
    if (w->kind != SINK_COUNT) w->crc = crc32_z(w->crc, p, n);
    if (w->kind == SINK_MEM) {
        if (n > w->total - w->off) { w->err = ERR_SIZES; return; }
        memcpy(w->buf + w->off, p, n);
    }
    w->off += n;
    while (w->kind == SINK_FD && n > 0 && !w->err) {
        size_t k = STAGE_BYTES - w->used < n ? STAGE_BYTES - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
        if (w->used == STAGE_BYTES) ckw_flush(w);
    }
}

/* Values little-endian (binio.h). */
static void w_u32(ckw *w, uint32_t v) { uint8_t b[4]; nn_put_u32(b, v); w_bytes(w, b, 4); }
static void w_u64(ckw *w, uint64_t v) { uint8_t b[8]; nn_put_u64(b, v); w_bytes(w, b, 8); }
static void w_i32(ckw *w, int v) { w_u32(w, (uint32_t)v); }
static void w_i64(ckw *w, long v) { w_u64(w, (uint64_t)(int64_t)v); }
static void w_f32(ckw *w, float v) { uint8_t b[4]; nn_put_f32(b, v); w_bytes(w, b, 4); }
static void w_f64(ckw *w, double v) { uint8_t b[8]; nn_put_f64(b, v); w_bytes(w, b, 8); }

static void w_floats(ckw *w, const float *x, size_t n) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w_bytes(w, x, n * sizeof(float));
#else
    for (size_t i = 0; i < n; i++) w_f32(w, x[i]);
#endif
}

/* Section head: tag and the body length the counting pass found. */
static void sec_begin(ckw *w, uint32_t tag) {
    if (w->nsec >= SECTIONS_MAX) { w->err = ERR_SIZES; return; }
    w_u32(w, tag);
    w_u64(w, w->kind == SINK_COUNT ? 0 : w->sec_len[w->nsec]);
    w->sec_at = w->off;
}

static void sec_end(ckw *w) {
    if (w->err) return;
    uint64_t n = w->off - w->sec_at;
    if (w->kind == SINK_COUNT) w->sec_len[w->nsec] = n;
    else if (n != w->sec_len[w->nsec]) w->err = ERR_SIZES;
    w->nsec++;
}

static void w_block(ckw *w, uint32_t tag, const float *x, size_t n) {
    sec_begin(w, tag);
    w_floats(w, x, n);
    sec_end(w);
}

/* Timeline snapshots, deflated once for both passes. */
typedef struct {
    uint8_t **z;                     /* [n] compressed pixels */
    uLongf *len;                     /* [n] their sizes */
    int n;
} packed_tl;

static void packed_free(packed_tl *p) {
    for (int i = 0; p->z && i < p->n; i++) free(p->z[i]);
    free(p->z);
    free(p->len);
}

static int pack_timeline(const srv_ckpt_src *src, packed_tl *p) {
    int n = src->ntimeline > 0 ? src->ntimeline : 0;
    p->n = n;
    p->z = calloc((size_t)n + 1, sizeof *p->z);
    p->len = calloc((size_t)n + 1, sizeof *p->len);
    if (!p->z || !p->len) return -1;
    for (int i = 0; i < n; i++) {
        const srv_snapshot *s = &src->timeline[i];
        uLong raw = (uLong)s->width * (uLong)s->height;
        p->len[i] = compressBound(raw);
        if (!(p->z[i] = malloc(p->len[i])) ||
            compress2(p->z[i], &p->len[i], s->pixels, raw, Z_BEST_SPEED) != Z_OK)
            return -1;
    }
    return 0;
}

/* The whole file, once per pass. */
static void emit(ckw *w, const srv_ckpt_src *src, const packed_tl *tl, int version) {
    const srv_trainer *t = src->t;
    const gan_model *m = t->model;
    const gan_config *c = &m->cfg;

    w_bytes(w, SRV_CKPT_MAGIC, 8);
    w_u32(w, (uint32_t)version);
    w_u32(w, 0);
    w_u64(w, w->total);                          /* 0 while counting */

    sec_begin(w, SRV_CKPT_TAG('C', 'O', 'N', 'F'));
    w_i32(w, c->nz); w_i32(w, c->ngf); w_i32(w, c->ndf);
    w_i32(w, (int)c->g_output); w_i32(w, c->batch);
    w_f32(w, c->lr_d); w_f32(w, c->lr_g); w_f32(w, c->beta1); w_f32(w, c->beta2);
    w_f32(w, c->adam_eps);
    w_i32(w, c->d_steps); w_i32(w, c->g_steps);
    w_f32(w, c->bn_eps); w_f32(w, c->bn_momentum); w_f32(w, c->lrelu_slope);
    w_f32(w, c->init_std);
    w_u64(w, t->cfg.seed);
    char ds[16] = {0};
    snprintf(ds, sizeof ds, "%s", t->cfg.dataset);
    w_bytes(w, ds, sizeof ds);
    w_i32(w, t->cfg.timeline_every);
    if (version >= 2) w_i32(w, c->conditional);
    if (version >= 3) {
        w_f32(w, c->ema); w_i32(w, (int)c->loss); w_f32(w, c->real_label);
        w_i32(w, c->lr_warmup); w_i32(w, c->lr_half_life); w_i32(w, c->projection);
    }
    if (version >= 4) w_i32(w, c->spectral_norm);
    sec_end(w);

    sec_begin(w, SRV_CKPT_TAG('S', 'T', 'A', 'T'));
    w_i64(w, t->iteration); w_i64(w, m->g_t); w_i64(w, m->d_t);
    for (int i = 0; i < 4; i++) w_u32(w, t->rng.s[i]);
    w_i32(w, t->rng.has_spare);
    w_f32(w, t->rng.spare);
    w_i64(w, t->batcher.epoch);
    w_i32(w, t->data.n);
    w_i32(w, t->batcher.pos);
    w_i64(w, src->tl_mult > 0 ? src->tl_mult : 1);
    sec_end(w);

    sec_begin(w, SRV_CKPT_TAG('O', 'R', 'D', 'R'));
    for (int i = 0; i < t->data.n; i++) w_u32(w, t->batcher.order[i]);
    sec_end(w);
    w_block(w, SRV_CKPT_TAG('F', 'I', 'X', 'N'), t->fixed_noise,
            (size_t)srv_fixed_n(c) * (size_t)c->nz);
    w_block(w, SRV_CKPT_TAG('G', 'P', 'R', 'M'), m->g_mem, m->g_count);
    w_block(w, SRV_CKPT_TAG('G', 'B', 'U', 'F'), m->g_buf_mem, gan_gbuffer_count(c));
    w_block(w, SRV_CKPT_TAG('G', 'A', 'D', 'M'), m->g_m_mem, m->g_count);
    w_block(w, SRV_CKPT_TAG('G', 'A', 'D', 'V'), m->g_v_mem, m->g_count);
    w_block(w, SRV_CKPT_TAG('D', 'P', 'R', 'M'), m->d_mem, m->d_count);
    w_block(w, SRV_CKPT_TAG('D', 'B', 'U', 'F'), m->d_buf_mem, gan_dbuffer_count(c));
    w_block(w, SRV_CKPT_TAG('D', 'A', 'D', 'M'), m->d_m_mem, m->d_count);
    w_block(w, SRV_CKPT_TAG('D', 'A', 'D', 'V'), m->d_v_mem, m->d_count);
    if (version >= 3 && c->ema > 0.0f)
        w_block(w, SRV_CKPT_TAG('G', 'E', 'M', 'A'), m->g_ema_mem, m->g_count + gan_gbuffer_count(c));

    sec_begin(w, SRV_CKPT_TAG('H', 'I', 'S', 'T'));
    w_u32(w, (uint32_t)src->npoints);
    for (int i = 0; i < src->npoints; i++) {
        const srv_point *p = &src->points[i];
        w_i64(w, p->iteration); w_i64(w, p->count); w_f64(w, p->time_s);
        w_f32(w, p->m.d_loss); w_f32(w, p->m.g_loss); w_f32(w, p->m.d_acc_real);
        w_f32(w, p->m.d_acc_fake); w_f32(w, p->m.d_acc); w_f32(w, p->m.d_real);
        w_f32(w, p->m.d_fake);
    }
    sec_end(w);

    sec_begin(w, SRV_CKPT_TAG('T', 'M', 'L', 'N'));
    w_u32(w, (uint32_t)tl->n);
    for (int i = 0; i < tl->n; i++) {
        const srv_snapshot *s = &src->timeline[i];
        w_i64(w, s->iteration); w_u32(w, (uint32_t)s->width); w_u32(w, (uint32_t)s->height);
        w_u32(w, (uint32_t)tl->len[i]);
        w_bytes(w, tl->z[i], tl->len[i]);
    }
    sec_end(w);

    w_u32(w, (uint32_t)w->crc);                  /* of every byte before it */
}

/* Count, then emit into the sink `kind` (w->fd set for SINK_FD); the sink's
 * buffer is allocated here and left in w->buf. 0, or -1 with err. */
static int write_ckpt(const srv_ckpt_src *src, ckw *w, sink_kind kind, const char *name,
                      char *err, size_t errlen) {
    const gan_config *c = &src->t->model->cfg;
    int version = src->version ? src->version : SRV_CKPT_VERSION;
    const int classic = c->ema == 0.0f && c->loss == GAN_LOSS_BCE && c->real_label == 1.0f &&
                        c->lr_warmup == 0 && c->lr_half_life == 0 && !c->projection;
    if (version < SRV_CKPT_VERSION_MIN || version > SRV_CKPT_VERSION ||
        (version < 2 && c->conditional) || (version < 3 && !classic) ||
        (version < 4 && c->spectral_norm)) {
        snprintf(err, errlen, "cannot write a%s model%s as checkpoint format version %d",
                 c->conditional ? " conditional" : "n unconditional",
                 c->spectral_norm ? " with spectral normalisation"
                 : classic ? "" : " with a G EMA, hinge loss, label smoothing, lr schedule or projection",
                 version);
        return -1;
    }
    packed_tl tl = {0};
    int rc = -1;
    if (pack_timeline(src, &tl) < 0) {
        snprintf(err, errlen, "out of memory compressing the timeline");
        goto done;
    }
    w->kind = SINK_COUNT;
    emit(w, src, &tl, version);
    ckw_pass(w, kind);
    if (w->total > SRV_CKPT_MAX_BYTES) {
        snprintf(err, errlen, "checkpoint of %llu bytes is larger than 16 GiB",
                 (unsigned long long)w->total);
        goto done;
    }
    w->buf = malloc(kind == SINK_MEM ? (size_t)w->total : STAGE_BYTES);
    if (!w->buf) {
        snprintf(err, errlen, "out of memory serializing the checkpoint");
        goto done;
    }
    emit(w, src, &tl, version);
    ckw_flush(w);
    if (!w->err && w->off != w->total) w->err = ERR_SIZES;
    if (w->err == ERR_SIZES)
        snprintf(err, errlen, "internal error: checkpoint section %d changed size while "
                 "writing %s", w->nsec, name);
    else if (w->err)
        snprintf(err, errlen, "cannot write %s: %s", name, strerror(w->err));
    else
        rc = 0;
done:
    packed_free(&tl);
    return rc;
}

int srv_ckpt_write_fd(const srv_ckpt_src *src, int fd, const char *name, size_t *len,
                      char *err, size_t errlen) {
    ckw w = {.fd = fd};
    int rc = write_ckpt(src, &w, SINK_FD, name, err, errlen);
    free(w.buf);
    *len = rc == 0 ? (size_t)w.total : 0;
    return rc;
}

int srv_ckpt_serialize(const srv_ckpt_src *src, uint8_t **buf, size_t *len,
                       char *err, size_t errlen) {
    ckw w = {.fd = -1};
    int rc = write_ckpt(src, &w, SINK_MEM, "memory", err, errlen);
    if (rc < 0) free(w.buf);
    *buf = rc == 0 ? w.buf : NULL;
    *len = rc == 0 ? (size_t)w.total : 0;
    return rc;
}

int srv_ckpt_model_finite(const gan_model *m) {
    const size_t gb = gan_gbuffer_count(&m->cfg), db = gan_dbuffer_count(&m->cfg);
    const float *blocks[] = {m->g_mem, m->g_m_mem, m->g_v_mem, m->g_buf_mem,
                             m->d_mem, m->d_m_mem, m->d_v_mem, m->d_buf_mem, m->g_ema_mem};
    const size_t counts[] = {m->g_count, m->g_count, m->g_count, gb,
                             m->d_count, m->d_count, m->d_count, db,
                             m->cfg.ema > 0.0f ? m->g_count + gb : 0};
    for (size_t b = 0; b < 9; b++)
        for (size_t i = 0; i < counts[b]; i++)
            if (!isfinite(blocks[b][i])) return 0;
    return 1;
}

/* checkpoint.c - the checkpoint file format: parse, check, apply (the
 * writer is ckpt_write.c).
 *
 * The design is simple: a checkpoint is a header and a fixed sequence of
 * tagged sections, all little-endian, and a CRC32 (zlib) of every byte
 * before it at the very end:
 *
 *   header  "GANLCKPT", u32 version (4; 1 to 3 are still read), u32 0, u64 total
 *           file length
 *   CONF    architecture and recipe (every gan_config field), u64 seed,
 *           char dataset[16], i32 timeline_every; version 2 then i32
 *           conditional (absent in version 1: unconditional); version 3 then
 *           f32 ema, i32 loss, f32 real_label, i32 lr_warmup, i32
 *           lr_half_life, i32 projection (absent before: the classic recipe,
 *           label planes); version 4 then i32 spectral_norm (absent before:
 *           none; with it DBUF also holds the power iteration's vectors)
 *   STAT    i64 iteration, g_t, d_t; nn_rng (4 u32, i32 has_spare, f32
 *           spare); i64 batcher epoch; i32 dataset size, batcher position;
 *           i64 timeline thinning factor
 *   ORDR    the batcher's permutation (u32 per image)
 *   FIXN    fixed noise of the progress grids (srv_fixed_n * nz f32: 64
 *           rows, 80 when conditional)
 *   GPRM GBUF GADM GADV DPRM DBUF DADM DADV   the float blocks of gan_model
 *           (params, BN running stats, Adam m, Adam v of G then D)
 *   GEMA    version 3, only when ema > 0: the G EMA's params, then its BN
 *           running stats
 *   HIST    u32 n; n * (i64 iteration, i64 count, f64 time_s, 7 f32)
 *   TMLN    u32 n; n * (i64 iteration, u32 w, u32 h, u32 clen, zlib data)
 *   u32 CRC32 of everything above
 *
 * Each section is u32 tag + u64 byte length + body, so a reader never guesses
 * where one ends. Fields are written one by one (never a struct dump), so
 * padding, alignment and the host's struct layout never reach the file.
 *
 * Parsing trusts nothing: magic, version, length and CRC first, then every
 * section's tag and exact length, every number against the ranges the config
 * table allows, the float blocks' sizes against the architecture in CONF and
 * their values for NaN/Inf, the permutation for being one, the history for
 * increasing iterations, the timeline for sane sizes (bounded total, so no
 * decompression bomb). Only a fully valid file yields a srv_ckpt.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "checkpoint.h"
#include "../nn/binio.h"

#define TAG SRV_CKPT_TAG
#define HEADER_BYTES SRV_CKPT_HEADER_BYTES
#define POINT_BYTES SRV_CKPT_POINT_BYTES
#define TL_MAX 100000                  /* timeline snapshots */
#define TL_SIDE_MAX 4096
#define TL_PIXELS_MAX ((size_t)256 << 20)
#define HIST_MAX 10000000

/* ---- reading --------------------------------------------------------------- */

/* Values are little-endian, read through binio.h's bounded reader: a read
 * past the end gives 0 and sets r->bad, so a section is read whole and
 * checked once. */

/* Open the next section: it must carry `tag` and fit in r. */
static int sec_open(nn_reader *r, uint32_t tag, nn_reader *sub, char *err, size_t errlen) {
    uint32_t got = nn_read_u32(r);
    uint64_t n = nn_read_u64(r);
    char name[5] = {(char)tag, (char)(tag >> 8), (char)(tag >> 16), (char)(tag >> 24), 0};
    if (r->bad) { snprintf(err, errlen, "truncated before section %s", name); return -1; }
    if (got != tag) { snprintf(err, errlen, "section %s missing (found tag 0x%08x)", name, got); return -1; }
    if (n > r->len - r->pos) { snprintf(err, errlen, "section %s runs past the end", name); return -1; }
    *sub = (nn_reader){r->p + r->pos, (size_t)n, 0, 0};
    r->pos += (size_t)n;
    return 0;
}

static int sec_close(const nn_reader *sub, const char *name, char *err, size_t errlen) {
    if (sub->bad || sub->pos != sub->len) {
        snprintf(err, errlen, "section %s has the wrong length (%zu bytes)", name, sub->len);
        return -1;
    }
    return 0;
}

/* A float block of exactly n finite floats. */
static int r_block(nn_reader *r, uint32_t tag, const char *name, size_t n, const uint8_t **out,
                   char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, tag, &s, err, errlen) < 0) return -1;
    if (s.len / 4 != n || s.len % 4) {
        snprintf(err, errlen, "%s: %zu bytes, the architecture needs %zu floats", name, s.len, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(nn_get_f32(s.p + 4 * i))) {
            snprintf(err, errlen, "%s: value %zu is not finite", name, i);
            return -1;
        }
    *out = s.p;
    return 0;
}

static int in_f(float v, double lo, double hi) { return isfinite(v) && v >= (float)lo && v <= (float)hi; }
static int in_i(long v, long lo, long hi) { return v >= lo && v <= hi; }

static int parse_conf(nn_reader *r, uint32_t version, srv_ckpt *ck, char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, TAG('C', 'O', 'N', 'F'), &s, err, errlen) < 0) return -1;
    gan_config *c = &ck->model;
    gan_config_default(c);
    c->nz = nn_read_i32(&s); c->ngf = nn_read_i32(&s); c->ndf = nn_read_i32(&s);
    int out = nn_read_i32(&s);
    c->batch = nn_read_i32(&s);
    c->lr_d = nn_read_f32(&s); c->lr_g = nn_read_f32(&s); c->beta1 = nn_read_f32(&s); c->beta2 = nn_read_f32(&s);
    c->adam_eps = nn_read_f32(&s);
    c->d_steps = nn_read_i32(&s); c->g_steps = nn_read_i32(&s);
    c->bn_eps = nn_read_f32(&s); c->bn_momentum = nn_read_f32(&s); c->lrelu_slope = nn_read_f32(&s);
    c->init_std = nn_read_f32(&s);
    ck->seed = nn_read_u64(&s);
    const uint8_t *ds = nn_read_bytes(&s, sizeof ck->dataset);
    ck->timeline_every = nn_read_i32(&s);
    c->conditional = version >= 2 ? nn_read_i32(&s) : 0;
    int loss = 0;
    if (version >= 3) {
        c->ema = nn_read_f32(&s); loss = nn_read_i32(&s); c->real_label = nn_read_f32(&s);
        c->lr_warmup = nn_read_i32(&s); c->lr_half_life = nn_read_i32(&s);
        c->projection = nn_read_i32(&s);
    }
    if (version >= 4) c->spectral_norm = nn_read_i32(&s);
    if (sec_close(&s, "CONF", err, errlen) < 0) return -1;
    memcpy(ck->dataset, ds, sizeof ck->dataset);
    c->g_output = out == 1 ? GAN_OUT_RELU : GAN_OUT_TANH;
    /* the settings by the settings table's ranges (config.h), the recipe's
     * constants (not settings) by their own */
    srv_config as_set;
    srv_config_default(&as_set);
    as_set.model = *c;
    as_set.seed = ck->seed;
    as_set.timeline_every = ck->timeline_every;
    char why[200];
    if (!in_i(out, 0, 1) || !in_i(loss, 0, 1)) {
        snprintf(err, errlen, "CONF: a setting is out of range: %s", in_i(out, 0, 1) ? "train.loss"
                                                                              : "model.g_output");
        return -1;
    }
    c->loss = loss == 1 ? GAN_LOSS_HINGE : GAN_LOSS_BCE;
    if (srv_config_check(&as_set, why, sizeof why) < 0) {
        snprintf(err, errlen, "CONF: a setting is out of range: %s", why);
        return -1;
    }
    if (!in_f(c->bn_eps, 1e-12, 1) || !in_f(c->bn_momentum, 0, 1) || !in_f(c->lrelu_slope, 0, 1) ||
        !in_f(c->init_std, 0, 10) || memchr(ck->dataset, 0, sizeof ck->dataset) == NULL) {
        snprintf(err, errlen, "CONF: a setting is out of range");
        return -1;
    }
    return 0;
}

static int parse_stat(nn_reader *r, srv_ckpt *ck, char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, TAG('S', 'T', 'A', 'T'), &s, err, errlen) < 0) return -1;
    int64_t it = nn_read_i64(&s), gt = nn_read_i64(&s), dt = nn_read_i64(&s);
    for (int i = 0; i < 4; i++) ck->rng.s[i] = nn_read_u32(&s);
    ck->rng.has_spare = nn_read_i32(&s);
    ck->rng.spare = nn_read_f32(&s);
    int64_t epoch = nn_read_i64(&s);
    ck->data_n = nn_read_i32(&s);
    ck->data_pos = nn_read_i32(&s);
    int64_t mult = nn_read_i64(&s);
    if (sec_close(&s, "STAT", err, errlen) < 0) return -1;
    const int64_t big = (int64_t)1 << 50;
    if (it < 0 || it > big || gt < 0 || gt > big || dt < 0 || dt > big || epoch < 0 ||
        epoch > big || mult < 1 || mult > big || !in_i(ck->rng.has_spare, 0, 1) ||
        !isfinite(ck->rng.spare) || !(ck->rng.s[0] | ck->rng.s[1] | ck->rng.s[2] | ck->rng.s[3]) ||
        !in_i(ck->data_n, 1, 1 << 30) || !in_i(ck->data_pos, 0, ck->data_n)) {
        snprintf(err, errlen, "STAT: a counter is out of range");
        return -1;
    }
    ck->iteration = (long)it;
    ck->g_t = (long)gt;
    ck->d_t = (long)dt;
    ck->batch_epoch = (long)epoch;
    ck->tl_mult = (long)mult;
    return 0;
}

/* The permutation: every index below data_n exactly once. */
static int parse_order(nn_reader *r, srv_ckpt *ck, char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, TAG('O', 'R', 'D', 'R'), &s, err, errlen) < 0) return -1;
    const size_t n = (size_t)ck->data_n;
    if (s.len != 4 * n) {
        snprintf(err, errlen, "ORDR: %zu bytes for %zu images", s.len, n);
        return -1;
    }
    uint8_t *seen = calloc((n + 7) / 8, 1);
    if (!seen) { snprintf(err, errlen, "out of memory"); return -1; }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t v = nn_get_u32(s.p + 4 * i);
        if (v >= n || (seen[v / 8] & (1u << (v % 8)))) rc = -1;
        else seen[v / 8] |= (uint8_t)(1u << (v % 8));
    }
    free(seen);
    if (rc < 0) snprintf(err, errlen, "ORDR: not a permutation of the dataset");
    ck->order = s.p;
    return rc;
}

static int parse_history(nn_reader *r, srv_ckpt *ck, char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, TAG('H', 'I', 'S', 'T'), &s, err, errlen) < 0) return -1;
    uint32_t n = nn_read_u32(&s);
    if (s.bad || n > HIST_MAX || (s.len - s.pos) != (size_t)n * POINT_BYTES) {
        snprintf(err, errlen, "HIST: bad point count");
        return -1;
    }
    ck->points = malloc((size_t)(n ? n : 1) * sizeof *ck->points);
    if (!ck->points) { snprintf(err, errlen, "out of memory"); return -1; }
    for (uint32_t i = 0; i < n; i++) {
        srv_point *p = &ck->points[i];
        int64_t it = nn_read_i64(&s), count = nn_read_i64(&s);
        p->time_s = nn_read_f64(&s);
        p->m.d_loss = nn_read_f32(&s); p->m.g_loss = nn_read_f32(&s); p->m.d_acc_real = nn_read_f32(&s);
        p->m.d_acc_fake = nn_read_f32(&s); p->m.d_acc = nn_read_f32(&s); p->m.d_real = nn_read_f32(&s);
        p->m.d_fake = nn_read_f32(&s);
        if (it < 0 || it > ck->iteration || (i > 0 && it <= ck->points[i - 1].iteration) ||
            count < 1 || count > ((int64_t)1 << 50) || !isfinite(p->time_s)) {
            snprintf(err, errlen, "HIST: point %u is out of order or range", i);
            return -1;
        }
        p->iteration = (long)it;
        p->count = (long)count;
    }
    ck->npoints = (int)n;
    return sec_close(&s, "HIST", err, errlen);
}

static int parse_timeline(nn_reader *r, srv_ckpt *ck, char *err, size_t errlen) {
    nn_reader s;
    if (sec_open(r, TAG('T', 'M', 'L', 'N'), &s, err, errlen) < 0) return -1;
    uint32_t n = nn_read_u32(&s);
    if (s.bad || n > TL_MAX || n > (s.len - s.pos) / 20) {
        snprintf(err, errlen, "TMLN: bad snapshot count");
        return -1;
    }
    ck->timeline = calloc(n ? n : 1, sizeof *ck->timeline);
    if (!ck->timeline) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t it = nn_read_i64(&s);
        uint32_t w = nn_read_u32(&s), h = nn_read_u32(&s), clen = nn_read_u32(&s);
        const uint8_t *z = nn_read_bytes(&s, clen);
        if (!z || it < 0 || it > ck->iteration ||
            (i > 0 && it <= ck->timeline[i - 1].iteration) || w < 1 || w > TL_SIDE_MAX ||
            h < 1 || h > TL_SIDE_MAX || (total += (size_t)w * h) > TL_PIXELS_MAX) {
            snprintf(err, errlen, "TMLN: snapshot %u is out of order or range", i);
            return -1;
        }
        srv_snapshot *sn = &ck->timeline[i];
        *sn = (srv_snapshot){(long)it, (int)w, (int)h, malloc((size_t)w * h)};
        ck->ntimeline = (int)i + 1;                /* so srv_ckpt_free frees it */
        if (!sn->pixels) { snprintf(err, errlen, "out of memory"); return -1; }
        uLongf got = (uLongf)w * h;
        if (uncompress(sn->pixels, &got, z, clen) != Z_OK || got != (uLongf)w * h) {
            snprintf(err, errlen, "TMLN: snapshot %u does not inflate to %ux%u", i, w, h);
            return -1;
        }
    }
    return sec_close(&s, "TMLN", err, errlen);
}

void srv_ckpt_free(srv_ckpt *ck) {
    if (!ck) return;
    free(ck->points);
    srv_snapshots_free(ck->timeline, ck->ntimeline);
    free(ck->owned);
    memset(ck, 0, sizeof *ck);
}

srv_ckpt_result srv_ckpt_parse(const uint8_t *buf, size_t len, unsigned flags, srv_ckpt *ck,
                               char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    if (len < HEADER_BYTES + 4 || memcmp(buf, SRV_CKPT_MAGIC, 8) != 0) {
        snprintf(err, errlen, len < HEADER_BYTES + 4 ? "too short (%zu bytes)"
                                                      : "not a ganlive checkpoint (bad magic)", len);
        return SRV_CKPT_DAMAGED;
    }
    nn_reader r = {buf, len - 4, 8, 0};
    uint32_t version = nn_read_u32(&r);
    (void)nn_read_u32(&r);
    uint64_t total = nn_read_u64(&r);
    uint32_t crc = (uint32_t)crc32_z(0L, buf, len - 4);
    int crc_ok = (flags & SRV_CKPT_SKIP_CRC) || crc == nn_get_u32(buf + len - 4);
    if (version < SRV_CKPT_VERSION_MIN || version > SRV_CKPT_VERSION) {
        /* a whole file of another version (its checksum holds) is refused;
         * a flipped version field in a damaged file is just damage */
        snprintf(err, errlen, "checkpoint format version %u%s; this ganlive reads versions %d to %d",
                 version, crc_ok ? "" : " and a checksum mismatch", SRV_CKPT_VERSION_MIN,
                 SRV_CKPT_VERSION);
        return crc_ok ? SRV_CKPT_VERSION_MISMATCH : SRV_CKPT_DAMAGED;
    }
    if (total != len) {
        snprintf(err, errlen, "%s: the header says %llu bytes, the file has %zu",
                 total > len ? "truncated" : "trailing bytes", (unsigned long long)total, len);
        return SRV_CKPT_DAMAGED;
    }
    if (!crc_ok) {
        snprintf(err, errlen, "checksum mismatch (CRC32 %08x, stored %08x)", crc,
                 nn_get_u32(buf + len - 4));
        return SRV_CKPT_DAMAGED;
    }
    if (parse_conf(&r, version, ck, err, errlen) < 0 || parse_stat(&r, ck, err, errlen) < 0 ||
        parse_order(&r, ck, err, errlen) < 0)
        goto damaged;
    const gan_config *c = &ck->model;
    ck->g_count = gan_gparam_count(c);
    ck->d_count = gan_dparam_count(c);
    ck->gbuf_count = gan_gbuffer_count(c);
    ck->dbuf_count = gan_dbuffer_count(c);
    if (r_block(&r, TAG('F', 'I', 'X', 'N'), "FIXN", (size_t)srv_fixed_n(c) * (size_t)c->nz,
                &ck->fixed_noise, err, errlen) < 0 ||
        r_block(&r, TAG('G', 'P', 'R', 'M'), "GPRM", ck->g_count, &ck->g, err, errlen) < 0 ||
        r_block(&r, TAG('G', 'B', 'U', 'F'), "GBUF", ck->gbuf_count, &ck->g_buf, err, errlen) < 0 ||
        r_block(&r, TAG('G', 'A', 'D', 'M'), "GADM", ck->g_count, &ck->g_m, err, errlen) < 0 ||
        r_block(&r, TAG('G', 'A', 'D', 'V'), "GADV", ck->g_count, &ck->g_v, err, errlen) < 0 ||
        r_block(&r, TAG('D', 'P', 'R', 'M'), "DPRM", ck->d_count, &ck->d, err, errlen) < 0 ||
        r_block(&r, TAG('D', 'B', 'U', 'F'), "DBUF", ck->dbuf_count, &ck->d_buf, err, errlen) < 0 ||
        r_block(&r, TAG('D', 'A', 'D', 'M'), "DADM", ck->d_count, &ck->d_m, err, errlen) < 0 ||
        r_block(&r, TAG('D', 'A', 'D', 'V'), "DADV", ck->d_count, &ck->d_v, err, errlen) < 0 ||
        (c->ema > 0.0f && r_block(&r, TAG('G', 'E', 'M', 'A'), "GEMA", ck->g_count + ck->gbuf_count,
                                  &ck->g_ema, err, errlen) < 0) ||
        parse_history(&r, ck, err, errlen) < 0 || parse_timeline(&r, ck, err, errlen) < 0)
        goto damaged;
    if (r.pos != r.len) {
        snprintf(err, errlen, "%zu unknown bytes after the last section", r.len - r.pos);
        goto damaged;
    }
    if (ck->g_ema) ck->g_ema_buf = ck->g_ema + 4 * ck->g_count;
    return SRV_CKPT_OK;
damaged:
    srv_ckpt_free(ck);
    return SRV_CKPT_DAMAGED;
}

srv_ckpt_result srv_ckpt_load_fd(int fd, srv_ckpt *ck, char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        return SRV_CKPT_DAMAGED;
    }
    if ((uint64_t)sb.st_size > SRV_CKPT_MAX_BYTES) {
        snprintf(err, errlen, "larger than 16 GiB");
        return SRV_CKPT_DAMAGED;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory (%zu bytes)", size);
        return SRV_CKPT_NOMEM;
    }
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read: %s", n < 0 ? strerror(errno) : "short read");
            free(buf);
            return SRV_CKPT_DAMAGED;
        }
        got += (size_t)n;
    }
    srv_ckpt_result rc = srv_ckpt_parse(buf, size, 0, ck, err, errlen);
    if (rc != SRV_CKPT_OK) {
        free(buf);
        return rc;
    }
    ck->owned = buf;
    ck->owned_len = size;
    return rc;
}

srv_ckpt_result srv_ckpt_load_file(const char *path, srv_ckpt *ck, char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return SRV_CKPT_DAMAGED;
    }
    srv_ckpt_result rc = srv_ckpt_load_fd(fd, ck, err, errlen);
    close(fd);
    return rc;
}

/* ---- applying ----------------------------------------------------------------- */

/* Can a model of config a continue as one of config b? */
static int same_architecture(const gan_config *a, const gan_config *b) {
    return a->nz == b->nz && a->ngf == b->ngf && a->ndf == b->ndf && a->g_output == b->g_output &&
           !a->conditional == !b->conditional && a->batch == b->batch &&
           (!a->conditional || !a->projection == !b->projection) &&
           !a->spectral_norm == !b->spectral_norm;
}

/* How to start a run that resumes a checkpoint of architecture a, for a run
 * of architecture b: the preset that gives a, else the settings that differ. */
static void resume_hint(const gan_config *a, const gan_config *b, char *out, size_t len) {
    const char *name;
    for (int i = 0; (name = srv_config_preset_name(i)) != NULL; i++) {
        srv_config p;
        srv_config_default(&p);
        srv_config_preset(&p, name);
        if (same_architecture(a, &p.model)) {
            snprintf(out, len, "; to resume it, start with --preset %s", name);
            return;
        }
    }
    const struct { const char *name; int want, have; } f[] = {
        {"model.nz", a->nz, b->nz}, {"model.ngf", a->ngf, b->ngf}, {"model.ndf", a->ndf, b->ndf},
        {"train.batch", a->batch, b->batch}};
    size_t at = (size_t)snprintf(out, len, "; to resume it, add");
    for (size_t i = 0; i < sizeof f / sizeof f[0] && at < len; i++)
        if (f[i].want != f[i].have)
            at += (size_t)snprintf(out + at, len - at, " --set %s=%d", f[i].name, f[i].want);
    if (at < len && a->g_output != b->g_output)
        at += (size_t)snprintf(out + at, len - at, " --set model.g_output=%s",
                               a->g_output == GAN_OUT_RELU ? "relu" : "tanh");
    if (at < len && !a->conditional != !b->conditional)
        at += (size_t)snprintf(out + at, len - at, " --set model.conditional=%s",
                               a->conditional ? "true" : "false");
    if (at < len && a->conditional && !a->projection != !b->projection)
        at += (size_t)snprintf(out + at, len - at, " --set model.projection=%s",
                               a->projection ? "true" : "false");
    if (at < len && !a->spectral_norm != !b->spectral_norm)
        snprintf(out + at, len - at, " --set model.spectral_norm=%s", a->spectral_norm ? "true" : "false");
}

srv_ckpt_result srv_ckpt_check(const srv_ckpt *ck, const srv_config *cfg, int data_n,
                               char *err, size_t errlen) {
    const gan_config *a = &ck->model, *b = &cfg->model;
    static const char *outs[] = {"tanh", "relu"}, *conds[] = {"unconditional", "conditional"};
    if (!same_architecture(a, b)) {
        char hint[300];
        resume_hint(a, b, hint, sizeof hint);
        snprintf(err, errlen, "checkpoint is of another architecture: nz %d ngf %d ndf %d "
                 "g_output %s %s%s%s batch %d; this run has nz %d ngf %d ndf %d g_output %s %s%s%s "
                 "batch %d%s", a->nz, a->ngf, a->ndf, outs[a->g_output == GAN_OUT_RELU],
                 conds[a->conditional != 0], a->conditional && a->projection ? " projection" : "",
                 a->spectral_norm ? " spectral-norm" : "",
                 a->batch, b->nz, b->ngf, b->ndf, outs[b->g_output == GAN_OUT_RELU],
                 conds[b->conditional != 0], b->conditional && b->projection ? " projection" : "",
                 b->spectral_norm ? " spectral-norm" : "", b->batch, hint);
        return SRV_CKPT_ARCH_MISMATCH;
    }
    if (strcmp(ck->dataset, cfg->dataset) != 0 || ck->data_n != data_n) {
        snprintf(err, errlen, "checkpoint was trained on %s (%d images); this run has %s (%d images)",
                 ck->dataset, ck->data_n, cfg->dataset, data_n);
        return SRV_CKPT_ARCH_MISMATCH;
    }
    return SRV_CKPT_OK;
}

void srv_ckpt_apply_trainer(const srv_ckpt *ck, srv_trainer *t, int keep_live) {
    gan_model *m = t->model;
    nn_get_f32s(m->g_mem, ck->g, ck->g_count);
    nn_get_f32s(m->g_buf_mem, ck->g_buf, ck->gbuf_count);
    nn_get_f32s(m->g_m_mem, ck->g_m, ck->g_count);
    nn_get_f32s(m->g_v_mem, ck->g_v, ck->g_count);
    nn_get_f32s(m->d_mem, ck->d, ck->d_count);
    nn_get_f32s(m->d_buf_mem, ck->d_buf, ck->dbuf_count);
    nn_get_f32s(m->d_m_mem, ck->d_m, ck->d_count);
    nn_get_f32s(m->d_v_mem, ck->d_v, ck->d_count);
    if (ck->g_ema) {
        nn_get_f32s(m->g_ema_mem, ck->g_ema, ck->g_count + ck->gbuf_count);
    } else {        /* no average kept: it starts at G, as a fresh run's does */
        gan_ema_reset(m);
    }
    nn_get_f32s(t->fixed_noise, ck->fixed_noise, (size_t)srv_fixed_n(&ck->model) * (size_t)ck->model.nz);
    m->g_t = ck->g_t;
    m->d_t = ck->d_t;
    t->rng = ck->rng;
    for (int i = 0; i < ck->data_n; i++) t->batcher.order[i] = nn_get_u32(ck->order + 4 * (size_t)i);
    t->batcher.pos = ck->data_pos;
    t->batcher.epoch = ck->batch_epoch;
    t->iteration = ck->iteration;
    memset(&t->last, 0, sizeof t->last);
    if (ck->npoints > 0) t->last = ck->points[ck->npoints - 1].m;
    /* the run's recipe; live settings too unless the caller keeps its own */
    gan_config *c = &t->cfg.model;
    const gan_config *k = &ck->model;
    c->adam_eps = k->adam_eps;
    c->bn_eps = k->bn_eps;
    c->bn_momentum = k->bn_momentum;
    c->lrelu_slope = k->lrelu_slope;
    c->init_std = k->init_std;
    c->ema = k->ema;
    c->loss = k->loss;
    c->real_label = k->real_label;
    c->lr_warmup = k->lr_warmup;
    c->lr_half_life = k->lr_half_life;
    t->cfg.seed = ck->seed;
    if (!keep_live) {
        srv_config_copy_live_model(c, k);
        t->cfg.timeline_every = ck->timeline_every;
    }
    m->cfg = *c;
}

int srv_ckpt_apply_state(const srv_ckpt *ck, srv_state *st) {
    double epoch = (double)ck->batch_epoch + (double)ck->data_pos / (double)ck->data_n;
    return srv_state_restore(st, ck->iteration, epoch, ck->points, ck->npoints, ck->timeline,
                             ck->ntimeline, ck->tl_mult);
}

/* test_train.c - whole training runs on real MNIST (data/mnist, fetched by
 * `make test`): the same seed and thread count give bit-identical weights
 * and losses, another seed does not, and eval-mode samples (BatchNorm
 * running statistics, as served over HTTP) match train-mode ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "../server/trainer.h"

/* Build a trainer on data/mnist with c (one thread) and run iters iterations. */
static int run_config(srv_trainer *t, srv_config *c, int iters) {
    char err[512];
    snprintf(c->data_dir, sizeof c->data_dir, "data/mnist");
    c->threads = 1;
    if (srv_trainer_init(t, c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < iters; i++)
        if (srv_trainer_iteration(t) < 0) return -1;
    return 0;
}

static int small_run(srv_trainer *t, uint64_t seed, int iters) {
    srv_config c;
    srv_config_default(&c);
    c.model.batch = 16;
    c.seed = seed;
    return run_config(t, &c, iters);
}

TEST(train_same_seed_is_bit_identical) {
    srv_trainer a, b, c;
    CHECK(small_run(&a, 11, 4) == 0);
    CHECK(small_run(&b, 11, 4) == 0);
    CHECK(small_run(&c, 12, 4) == 0);
    if (!a.model || !b.model || !c.model) return;
    CHECK(memcmp(&a.last, &b.last, sizeof a.last) == 0);
    CHECK(memcmp(a.model->g_mem, b.model->g_mem, a.model->g_count * sizeof(float)) == 0);
    CHECK(memcmp(a.model->d_mem, b.model->d_mem, a.model->d_count * sizeof(float)) == 0);
    CHECK(memcmp(a.model->g_buf_mem, b.model->g_buf_mem, gan_gbuffer_count(&a.model->cfg) * sizeof(float)) == 0);
    CHECK(memcmp(a.model->g_mem, c.model->g_mem, a.model->g_count * sizeof(float)) != 0);
    CHECK(a.iteration == 4 && a.model->d_t == 4 && a.model->g_t == 4);
    srv_trainer_free(&a);
    srv_trainer_free(&b);
    srv_trainer_free(&c);
}

TEST(train_d_and_g_steps_count_updates) {
    srv_trainer t;
    CHECK(small_run(&t, 5, 0) == 0);
    if (!t.model) return;
    srv_config c = t.cfg;
    c.model.d_steps = 3;
    c.model.g_steps = 2;
    srv_trainer_apply_live(&t, &c);
    CHECK(srv_trainer_iteration(&t) == 0);
    CHECK(t.model->d_t == 3 && t.model->g_t == 2 && t.iteration == 1);
    CHECK(isfinite(t.last.d_loss) && isfinite(t.last.g_loss));
    srv_trainer_free(&t);
}

/* After a few dozen iterations the running statistics track the batch
 * statistics, so eval-mode images of a batch of noise should match the
 * train-mode images of the same noise closely. Bound: mean |difference|
 * under 0.05 on the [-1, 1] scale (seen: about 0.01). */
TEST(train_eval_mode_samples_match_train_mode) {
    srv_trainer t;
    CHECK(small_run(&t, 21, 40) == 0);
    if (!t.model) return;
    gan_model *m = t.model;
    const int B = m->cfg.batch, nz = m->cfg.nz;
    float *z = malloc((size_t)B * nz * sizeof(float));
    float *eval = malloc((size_t)B * GAN_PIX * sizeof(float));
    nn_rng r;
    nn_rng_seed(&r, 99);
    nn_rng_fill_normal(&r, z, (size_t)B * nz, 0.0f, 1.0f);
    gan_sampler *s = gan_sampler_new(&m->cfg, 8);     /* two chunks of 8 */
    gan_sampler_generate(s, m->g_mem, m->g_buf_mem, z, NULL, B, eval);
    /* train-mode pass on the same noise (updates running stats; fine here) */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < nz; i++) m->ga.z[(size_t)i * B + b] = z[(size_t)b * nz + i];
    gan_g_forward(m, B);
    double diff = 0.0, spread = 0.0;
    for (size_t i = 0; i < (size_t)B * GAN_PIX; i++) {
        diff += fabs(eval[i] - m->ga.out[i]);
        spread += fabs(m->ga.out[i]);
    }
    diff /= (double)B * GAN_PIX;
    spread /= (double)B * GAN_PIX;
    CHECKF(diff < 0.05, "mean |eval - train| = %g", diff);
    CHECKF(spread > 0.1, "images are not blank: mean |x| = %g", spread);
    gan_sampler_free(s);
    free(z);
    free(eval);
    srv_trainer_free(&t);
}

/* A small conditional model after a few real iterations. */
static int small_conditional_sn(srv_trainer *t, int iters, int spectral_norm) {
    srv_config c;
    srv_config_default(&c);
    srv_config_preset(&c, "fast");
    c.model.nz = 16; c.model.ngf = 16; c.model.ndf = 8;
    c.model.spectral_norm = spectral_norm;
    return run_config(t, &c, iters);
}

static int small_conditional(srv_trainer *t, int iters) { return small_conditional_sn(t, iters, 0); }

/* Balance freezes: the step measures, nothing of the frozen network moves. */
TEST(train_freeze_skips_updates) {
    srv_trainer t;
    CHECK(small_conditional(&t, 3) == 0);
    if (!t.model) return;
    gan_model *m = t.model;
    CHECK(m->cfg.conditional == 1 && m->cfg.batch == 16);
    size_t dn = m->d_count, gn = m->g_count;
    float *d0 = malloc(dn * sizeof(float)), *dm0 = malloc(dn * sizeof(float));
    float *g0 = malloc(gn * sizeof(float)), *gv0 = malloc(gn * sizeof(float));
    memcpy(d0, m->d_mem, dn * sizeof(float));
    memcpy(dm0, m->d_m_mem, dn * sizeof(float));
    memcpy(g0, m->g_mem, gn * sizeof(float));
    long dt = m->d_t, gt = m->g_t;
    m->freeze_d = 1;
    t.last.d_loss = NAN;
    CHECK(srv_trainer_iteration(&t) == 0);
    CHECK(isfinite(t.last.d_loss) && isfinite(t.last.d_acc));     /* still measured */
    CHECK(memcmp(d0, m->d_mem, dn * sizeof(float)) == 0 && memcmp(dm0, m->d_m_mem, dn * sizeof(float)) == 0);
    CHECK(m->d_t == dt && m->g_t == gt + 1);
    CHECK(memcmp(g0, m->g_mem, gn * sizeof(float)) != 0);         /* G trained */
    m->freeze_d = 0;
    m->freeze_g = 1;
    memcpy(g0, m->g_mem, gn * sizeof(float));
    memcpy(gv0, m->g_v_mem, gn * sizeof(float));
    CHECK(srv_trainer_iteration(&t) == 0);
    CHECK(memcmp(g0, m->g_mem, gn * sizeof(float)) == 0 && memcmp(gv0, m->g_v_mem, gn * sizeof(float)) == 0);
    CHECK(m->g_t == gt + 1 && m->d_t == dt + 1);
    free(d0); free(dm0); free(g0); free(gv0);
    srv_trainer_free(&t);
}

/* D's eval-mode verdicts (samples.json, annotate=1) equal the train-mode
 * pass when the running statistics are that batch's statistics: checks the
 * eval path, label planes included. Tolerance 1e-4 on the probabilities
 * (the running variance is set from the batch's 1/rstd^2 - eps in float). */
/* With spectral normalisation the verdicts use W / sigma by the u, v that
 * the train pass left in D's buffers (judging never moves them). */
static void judge_matches_train_mode(int spectral_norm) {
    srv_trainer t;
    CHECK(small_conditional_sn(&t, 3, spectral_norm) == 0);
    if (!t.model) return;
    gan_model *m = t.model;
    const int B = m->cfg.batch, d2 = 2 * m->cfg.ndf;
    uint8_t labels[16];
    for (int b = 0; b < B; b++) labels[b] = (uint8_t)((5 * b + 3) % GAN_CLASSES);
    gan_d_forward(m, t.real, labels, B);
    float want[16], got[16];
    for (int b = 0; b < B; b++) want[b] = 1.0f / (1.0f + expf(-m->da.logits[b]));
    for (int k = 0; k < d2; k++) {
        m->d_buf.bn2_mean[k] = m->da.bn2_mean[k];
        float rs = m->da.bn2_rstd[k];
        m->d_buf.bn2_var[k] = 1.0f / (rs * rs) - m->cfg.bn_eps;
    }
    gan_sampler *s = gan_sampler_new(&m->cfg, 5);     /* chunks of 5: 5 + 5 + 5 + 1 */
    CHECK(s != NULL);
    if (!s) { srv_trainer_free(&t); return; }
    const size_t nbuf = gan_dbuffer_count(&m->cfg);
    float *buf0 = malloc(nbuf * sizeof(float));
    if (buf0) memcpy(buf0, m->d_buf_mem, nbuf * sizeof(float));
    gan_sampler_judge(s, m->d_mem, m->d_buf_mem, t.real, labels, B, got);
    CHECK(buf0 && memcmp(buf0, m->d_buf_mem, nbuf * sizeof(float)) == 0);
    free(buf0);
    double worst = 0;
    for (int b = 0; b < B; b++) worst = fmax(worst, fabs(got[b] - want[b]));
    CHECKF(worst < 1e-4, "eval-mode verdicts differ from train mode by %g", worst);
    /* another label changes the verdict (the planes are seen) */
    labels[0] = (uint8_t)((labels[0] + 1) % GAN_CLASSES);
    gan_sampler_judge(s, m->d_mem, m->d_buf_mem, t.real, labels, B, got);
    CHECK(got[0] != want[0] && fabs(got[1] - want[1]) < 1e-4);
    gan_sampler_free(s);
    srv_trainer_free(&t);
}

TEST(train_sampler_judge_matches_train_mode) { judge_matches_train_mode(0); }
TEST(train_sampler_judge_matches_train_mode_spectral_norm) { judge_matches_train_mode(1); }

/* The G EMA: after each G step avg = d*avg + (1-d)*G over the parameters and
 * the BN statistics with d = min(ema, (1+t)/(10+t)), replayed here in double
 * from copies taken around each step (tolerance 1e-6: float rounding); a
 * frozen G leaves the average alone; samples come from the average. */
TEST(train_g_ema_follows_g) {
    srv_trainer t;
    CHECK(small_conditional(&t, 0) == 0);
    if (!t.model) return;
    gan_model *m = t.model;
    m->cfg.ema = t.cfg.model.ema = 0.5f;     /* a short memory, so 6 steps reach the cap */
    const size_t n = m->g_count + gan_gbuffer_count(&m->cfg);
    CHECK(gan_sample_gparams(m) == m->g_ema_mem && gan_sample_gbuffers(m) == m->g_ema_mem + m->g_count);
    double *want = malloc(n * sizeof(double));
    float *now = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) want[i] = m->g_ema_mem[i];
    double worst = 0.0;
    for (int it = 0; it < 6; it++) {
        CHECK(srv_trainer_iteration(&t) == 0);
        const double tt = (double)m->g_t, d = fmin(0.5, (1.0 + tt) / (10.0 + tt));
        memcpy(now, m->g_mem, m->g_count * sizeof(float));
        memcpy(now + m->g_count, m->g_buf_mem, (n - m->g_count) * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            want[i] = d * want[i] + (1.0 - d) * now[i];
            worst = fmax(worst, fabs(want[i] - m->g_ema_mem[i]) / (1e-3 + fabs(want[i])));
        }
    }
    CHECKF(worst < 1e-5, "G EMA off its formula by %g (relative)", worst);
    CHECK(memcmp(m->g_ema_mem, m->g_mem, m->g_count * sizeof(float)) != 0);
    memcpy(now, m->g_ema_mem, n * sizeof(float));
    m->freeze_g = 1;
    CHECK(srv_trainer_iteration(&t) == 0);
    CHECK(memcmp(now, m->g_ema_mem, n * sizeof(float)) == 0);
    m->cfg.ema = 0.0f;                        /* no average: samples come from G */
    CHECK(gan_sample_gparams(m) == m->g_mem && gan_sample_gbuffers(m) == m->g_buf_mem);
    free(want); free(now);
    srv_trainer_free(&t);
}

/* The learning-rate schedule: linear warm-up to step lr_warmup, then halving
 * every lr_half_life steps (applied from step 1). */
TEST(train_lr_schedule) {
    gan_config c;
    gan_config_default(&c);
    CHECK(gan_lr_factor(&c, 1) == 1.0f && gan_lr_factor(&c, 100000) == 1.0f);
    c.lr_warmup = 4;
    CHECK(gan_lr_factor(&c, 1) == 0.25f && gan_lr_factor(&c, 2) == 0.5f && gan_lr_factor(&c, 4) == 1.0f &&
          gan_lr_factor(&c, 9) == 1.0f);
    c.lr_half_life = 100;
    CHECK(fabsf(gan_lr_factor(&c, 100) - 0.5f) < 1e-6f && fabsf(gan_lr_factor(&c, 300) - 0.125f) < 1e-6f);
    CHECK(fabsf(gan_lr_factor(&c, 2) - 0.5f * exp2f(-0.02f)) < 1e-6f);
}

/* trainer.c - the training loop (see trainer.h).
 *
 * An iteration draws d_steps real batches, each with fresh noise, for D
 * updates, then g_steps G updates; the first G update reuses the last D
 * step's fakes (G has not changed since), later ones draw fresh noise. All
 * randomness of training comes from one nn_rng seeded by the config, so the
 * same seed and thread count give bit-identical runs. The fixed noise used
 * for progress grids has a stream of its own, so it does not shift when the
 * recipe changes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "png.h"
#include "trainer.h"

#define FIXED_NOISE_STREAM 0x5eed0f1eedULL

/* Threads of the calling thread's layer work (nn/par.h). BLAS itself stays
 * single-threaded: the layers give each thread its own block of columns. */
static void use_threads(const srv_config *cfg) {
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    nn_blas_threads(1);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
}

int srv_trainer_init(srv_trainer *t, const srv_config *cfg, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (strcmp(cfg->dataset, "mnist") != 0 && strcmp(cfg->dataset, "fashion") != 0) {
        snprintf(err, errlen, "dataset \"%s\": must be \"mnist\" or \"fashion\" (or give --data DIR)",
                 cfg->dataset);
        return -1;
    }
    srv_data_dir(cfg, t->data_dir, sizeof t->data_dir);
    if (gan_dataset_load(&t->data, t->data_dir, "train", err, errlen) < 0) return -1;
    use_threads(cfg);
    const gan_config *mc = &cfg->model;
    nn_rng_seed(&t->rng, cfg->seed);
    t->model = gan_model_new(mc);
    t->sampler = gan_sampler_new(mc, 8);   /* the progress grid, now and then: small buffers */
    t->real = malloc((size_t)mc->batch * GAN_PIX * sizeof(float));
    t->noise = malloc((size_t)mc->batch * mc->nz * sizeof(float));
    t->real_labels = calloc((size_t)mc->batch, 1);
    t->fake_labels = calloc((size_t)mc->batch, 1);
    t->fixed_noise = malloc((size_t)SRV_FIXED_MAX * mc->nz * sizeof(float));
    t->grid = malloc((size_t)SRV_FIXED_MAX * GAN_PIX * sizeof(float));
    if (!t->model || !t->sampler || !t->real || !t->noise || !t->fixed_noise || !t->grid ||
        !t->real_labels || !t->fake_labels ||
        gan_batcher_init(&t->batcher, &t->data, &t->rng) < 0) {
        snprintf(err, errlen, "out of memory building the model");
        srv_trainer_free(t);
        return -1;
    }
    gan_model_init(t->model, &t->rng);
    nn_rng fixed;
    nn_rng_seed(&fixed, cfg->seed ^ FIXED_NOISE_STREAM);
    nn_rng_fill_normal(&fixed, t->fixed_noise, (size_t)srv_fixed_n(mc) * mc->nz, 0.0f, 1.0f);
    return 0;
}

void srv_trainer_use_threads(const srv_trainer *t) { use_threads(&t->cfg); }

void srv_trainer_free(srv_trainer *t) {
    gan_batcher_free(&t->batcher);
    gan_dataset_free(&t->data);
    gan_model_free(t->model);
    gan_sampler_free(t->sampler);
    free(t->real); free(t->noise); free(t->fixed_noise); free(t->grid);
    free(t->real_labels); free(t->fake_labels);
    memset(t, 0, sizeof *t);
}

void srv_trainer_apply_live(srv_trainer *t, const srv_config *cfg) {
    srv_config_copy_live_model(&t->model->cfg, &cfg->model);
    t->cfg = *cfg;
}

/* Balance: the mean of d_acc over the last balance_window iterations
 * decides. Above balance_hi, D's updates are skipped until it falls back
 * under it; under balance_lo, G's are skipped until it rises over it. After
 * each decision the window starts empty, so decisions are at least a window
 * apart. Turning balance off resumes whatever was skipped. */
static void balance_decide(srv_trainer *t, srv_balance_action a, float acc) {
    t->skipping = a == SRV_BAL_SKIP_D ? 'd' : a == SRV_BAL_SKIP_G ? 'g' : 0;
    t->model->freeze_d = t->skipping == 'd';
    t->model->freeze_g = t->skipping == 'g';
    t->bal_event = (srv_balance_event){t->iteration, a, acc};
    t->bal_new = 1;
    t->bal_len = t->bal_pos = 0;
}

static void balance_update(srv_trainer *t) {
    const srv_config *c = &t->cfg;
    if (!c->balance) {
        if (t->skipping) balance_decide(t, SRV_BAL_RESUME, t->last.d_acc);
        t->bal_len = t->bal_pos = 0;
        return;
    }
    const int w = c->balance_window < SRV_BALANCE_WINDOW_MAX ? c->balance_window : SRV_BALANCE_WINDOW_MAX;
    if (t->bal_pos >= w || t->bal_len > w) t->bal_len = t->bal_pos = 0;   /* window changed live */
    t->bal_window[t->bal_pos] = t->last.d_acc;
    t->bal_pos = (t->bal_pos + 1) % w;
    if (t->bal_len < w) t->bal_len++;
    if (t->bal_len < w) return;
    double sum = 0.0;
    for (int i = 0; i < w; i++) sum += t->bal_window[i];
    const float acc = (float)(sum / w);
    if (t->skipping == 'd' && acc < c->balance_hi) balance_decide(t, SRV_BAL_RESUME, acc);
    else if (t->skipping == 'g' && acc > c->balance_lo) balance_decide(t, SRV_BAL_RESUME, acc);
    else if (!t->skipping && acc > c->balance_hi) balance_decide(t, SRV_BAL_SKIP_D, acc);
    else if (!t->skipping && acc < c->balance_lo) balance_decide(t, SRV_BAL_SKIP_G, acc);
}

/* Labels for the next fakes: uniform over the classes, drawn only by a
 * conditional model (an unconditional run's random stream stays as before). */
static void draw_labels(srv_trainer *t) {
    if (!t->model->cfg.conditional) return;
    for (int b = 0; b < t->model->cfg.batch; b++)
        t->fake_labels[b] = (uint8_t)nn_rng_below(&t->rng, GAN_CLASSES);
}

int srv_trainer_iteration(srv_trainer *t) {
    gan_model *m = t->model;
    const gan_config *c = &m->cfg;
    float lo, hi;
    srv_output_range(c, &lo, &hi);
    const size_t nnoise = (size_t)c->batch * c->nz;
    for (int s = 0; s < c->d_steps; s++) {
        gan_batcher_next(&t->batcher, &t->rng, c->batch, lo, hi, t->real, t->real_labels);
        nn_rng_fill_normal(&t->rng, t->noise, nnoise, 0.0f, 1.0f);
        draw_labels(t);
        if (gan_d_step(m, t->real, t->real_labels, t->noise, t->fake_labels, &t->last) < 0)
            return -1;
    }
    for (int s = 0; s < c->g_steps; s++) {
        if (s > 0) { nn_rng_fill_normal(&t->rng, t->noise, nnoise, 0.0f, 1.0f); draw_labels(t); }
        if (gan_g_step(m, s == 0 ? NULL : t->noise, t->fake_labels, &t->last) < 0) return -1;
    }
    t->iteration++;
    balance_update(t);
    return 0;
}

void srv_trainer_sample_grid(srv_trainer *t, int fresh) {
    const gan_config *c = &t->model->cfg;
    const float *z = t->fixed_noise;
    const int n = srv_fixed_n(c);
    float *tmp = NULL;
    if (fresh) {
        tmp = malloc((size_t)n * c->nz * sizeof(float));
        if (tmp) { nn_rng_fill_normal(&t->rng, tmp, (size_t)n * c->nz, 0.0f, 1.0f); z = tmp; }
    }
    /* labels NULL: i % 10, one column per class in a 10-column grid */
    gan_sampler_generate(t->sampler, gan_sample_gparams(t->model), gan_sample_gbuffers(t->model), z,
                         NULL, n, t->grid);
    free(tmp);
}

/* Render the fixed-noise grid and hand it to the timeline. */
void srv_trainer_publish_timeline(srv_trainer *t, srv_state *st) {
    float lo, hi;
    int w, h;
    srv_output_range(&t->model->cfg, &lo, &hi);
    srv_trainer_sample_grid(t, 0);
    const int n = srv_fixed_n(&t->model->cfg), cols = srv_fixed_cols(&t->model->cfg);
    srv_grid_size(n, cols, 1, &w, &h);
    uint8_t *pixels = malloc((size_t)w * h);
    if (!pixels) return;
    srv_grid_render(pixels, t->grid, n, cols, 1, lo, hi);
    srv_state_add_timeline(st, t->iteration, pixels, w, h);
    free(pixels);
}

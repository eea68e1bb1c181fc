/* score.c - `ganlive score`: how readable a checkpoint's digits are, with no
 * server and no training: the yardstick of the recipe sweep (bench/sweep.py)
 * and of anyone comparing two checkpoints.
 *
 * It draws n samples from the checkpoint's generator (the averaged one when
 * the run keeps a G EMA, as the dashboard does) from noise of the given seed,
 * asks a conditional model for each digit in turn (sample i is digit i % 10),
 * reads them with the digit classifier and prints one JSON object: the
 * Inception-style score, the mean confidence, the share read with
 * confidence > 0.9, the histogram of what was read and how many classes hold
 * at least half their fair share, and for a conditional model the share read
 * as the digit asked for, overall and per digit. The figures are the quality
 * pass's (nn/quality.c) over the same kind of samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <cJSON.h>
#include "checkpoint.h"
#include "run.h"
#include "score.h"
#include "../nn/quality.h"

#define SCORE_CHUNK 64

/* The figures of n classified samples; probs [n][10], asked [n] (NULL:
 * unconditional). */
static void print_figures(const srv_ckpt *ck, const char *file, const float *probs,
                          const uint8_t *asked, int n, uint64_t seed) {
    double share[GAN_CLASSES];
    nn_class_histogram(probs, n, GAN_CLASSES, share);
    int confident = 0, classes = 0, hit[GAN_CLASSES] = {0}, count[GAN_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        int top;
        cls_argmax(probs + (size_t)i * GAN_CLASSES, 1, &top);
        confident += probs[(size_t)i * GAN_CLASSES + top] > 0.9f;
        if (asked) {
            count[asked[i]]++;
            hit[asked[i]] += top == asked[i];
        }
    }
    for (int k = 0; k < GAN_CLASSES; k++) classes += share[k] >= 0.5 / GAN_CLASSES;
    cJSON *name = cJSON_CreateString(file);          /* the path, escaped as JSON */
    char *quoted = name ? cJSON_PrintUnformatted(name) : NULL;
    printf("{\"checkpoint\":%s,\"iteration\":%ld,\"ema\":%s,\"samples\":%d,\"seed\":%llu,"
           "\"inception_score\":%.4f,\"confidence\":%.4f,\"confident\":%.4f,\"classes\":%d,\"histogram\":[",
           quoted ? quoted : "null", ck->iteration, ck->g_ema ? "true" : "false", n, (unsigned long long)seed,
           nn_inception_score(probs, n, GAN_CLASSES), nn_mean_confidence(probs, n, GAN_CLASSES),
           (double)confident / n, classes);
    for (int k = 0; k < GAN_CLASSES; k++) printf("%s%.4f", k ? "," : "", share[k]);
    printf("]");
    if (asked) {
        int all = 0;
        for (int k = 0; k < GAN_CLASSES; k++) all += hit[k];
        printf(",\"as_asked\":%.4f,\"as_asked_by_digit\":[", (double)all / n);
        for (int k = 0; k < GAN_CLASSES; k++)
            printf("%s%.4f", k ? "," : "", count[k] ? (double)hit[k] / count[k] : 0.0);
        printf("]");
    } else {
        printf(",\"as_asked\":null,\"as_asked_by_digit\":null");
    }
    printf("}\n");
    cJSON_free(quoted);
    cJSON_Delete(name);
}

int srv_ckpt_score(const char *file, const srv_config *cfg, int n, uint64_t seed,
                   char *err, size_t errlen) {
    srv_ckpt ck;
    char why[400];
    if (srv_ckpt_load_file(file, &ck, why, sizeof why) != SRV_CKPT_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return 2;
    }
    const gan_config *c = &ck.model;
    int rc = 1;
    cls_model *cls = srv_classifier_load(cfg, SCORE_CHUNK, why, sizeof why);
    float *gp = malloc(ck.g_count * sizeof(float));
    float *gb = malloc((ck.gbuf_count + 1) * sizeof(float));
    float *z = malloc((size_t)n * (size_t)c->nz * sizeof(float));
    float *img = malloc((size_t)SCORE_CHUNK * GAN_PIX * sizeof(float));
    float *probs = malloc((size_t)n * GAN_CLASSES * sizeof(float));
    uint8_t *labels = malloc((size_t)n);
    gan_sampler *s = gan_sampler_new(c, SCORE_CHUNK);
    if (!cls) { snprintf(err, errlen, "%s", why); rc = 2; goto done; }
    if (!gp || !gb || !z || !img || !probs || !labels || !s) { snprintf(err, errlen, "out of memory"); goto done; }
    srv_ckpt_sample_weights(&ck, gp, gb);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_rng_fill_normal(&rng, z, (size_t)n * (size_t)c->nz, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)(i % GAN_CLASSES);
    for (int i = 0; i < n; i += SCORE_CHUNK) {
        const int k = n - i < SCORE_CHUNK ? n - i : SCORE_CHUNK;
        gan_sampler_generate(s, gp, gb, z + (size_t)i * (size_t)c->nz, labels + i, k, img);
        srv_images_to_classifier(c, img, (size_t)k * GAN_PIX);
        cls_classify(cls, img, k, probs + (size_t)i * GAN_CLASSES, NULL);
    }
    print_figures(&ck, file, probs, c->conditional ? labels : NULL, n, seed);
    rc = 0;
done:
    gan_sampler_free(s);
    cls_model_free(cls);
    free(gp); free(gb); free(z); free(img); free(probs); free(labels);
    srv_ckpt_free(&ck);
    return rc;
}

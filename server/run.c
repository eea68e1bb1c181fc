/* run.c - a run's shared facts: grid sizes, pixel ranges, data and
 * classifier locations (see run.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "run.h"

int srv_fixed_n(const gan_config *c) { return c->conditional ? SRV_FIXED_MAX : SRV_FIXED_N; }
int srv_fixed_cols(const gan_config *c) { return c->conditional ? GAN_CLASSES : 8; }

void srv_output_range(const gan_config *c, float *lo, float *hi) {
    *lo = c->g_output == GAN_OUT_TANH ? -1.0f : 0.0f;
    *hi = 1.0f;
}

void srv_images_to_unit(const gan_config *c, const float *images, float *out, size_t n) {
    float lo, hi;
    srv_output_range(c, &lo, &hi);
    for (size_t i = 0; i < n; i++) {
        const float v = (images[i] - lo) / (hi - lo);
        out[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

void srv_images_to_classifier(const gan_config *c, float *images, size_t n) {
    if (c->g_output == GAN_OUT_TANH) return;          /* already [-1, 1] */
    for (size_t i = 0; i < n; i++) images[i] = 2.0f * images[i] - 1.0f;
}

void srv_data_dir(const srv_config *cfg, char *out, size_t len) {
    if (cfg->data_dir[0]) snprintf(out, len, "%s", cfg->data_dir);
    else if (strcmp(cfg->dataset, "fashion") == 0) snprintf(out, len, "/usr/share/datasets/fashion-mnist");
    else snprintf(out, len, "data/mnist");
}

void srv_classifier_path(const srv_config *cfg, char *out, size_t len) {
    if (cfg->classifier[0]) snprintf(out, len, "%s", cfg->classifier);
    else if (cfg->data_dir[0]) snprintf(out, len, "%s/classifier.bin", cfg->data_dir);
    else if (strcmp(cfg->dataset, "fashion") == 0) snprintf(out, len, "data/fashion-mnist-classifier.bin");
    else snprintf(out, len, "data/mnist/classifier.bin");
}

cls_model *srv_classifier_load(const srv_config *cfg, int batch, char *err, size_t errlen) {
    char path[600];
    srv_classifier_path(cfg, path, sizeof path);
    if (access(path, F_OK) != 0) {
        snprintf(err, errlen, "no classifier at %s (make run trains one; or: ganlive classifier "
                 "--data DIR --out %s)", path, path);
        return NULL;
    }
    cls_model *m = cls_model_new(batch, 0);
    if (!m) {
        snprintf(err, errlen, "out of memory for the classifier");
        return NULL;
    }
    if (cls_load(m, path, NULL, err, errlen) < 0) {
        cls_model_free(m);
        return NULL;
    }
    return m;
}

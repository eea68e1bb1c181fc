/* run.h - what every part of a run agrees on, below all of them: where its
 * data and classifier live, the size of its progress grids, and the range
 * of the generator's pixels with the maps to the scales others use.
 *
 * The trainer, the checkpoint code, the quality passes and the HTTP side
 * all include this; it includes nothing of theirs (config.h and nn/ only),
 * so it sits under the server's other modules and closes no circle.
 */
#ifndef GANLIVE_RUN_H
#define GANLIVE_RUN_H

#include <stddef.h>
#include "config.h"
#include "../nn/classifier.h"
#include "../nn/gan.h"

/* Progress grids: 8x8 digits, or for a conditional model 8 rows of one
 * column per class (label = index % GAN_CLASSES). */
#define SRV_FIXED_N 64
#define SRV_FIXED_MAX (8 * GAN_CLASSES)
int srv_fixed_n(const gan_config *c);
int srv_fixed_cols(const gan_config *c);

/* Data range of the model's output: [-1, 1] (tanh) or [0, 1] (relu). */
void srv_output_range(const gan_config *c, float *lo, float *hi);
/* Generated images from the model's range to [0, 1] pixels (clamped) into
 * out (the nearest-neighbour search's scale), and in place to the
 * classifier's [-1, 1]. n values. */
void srv_images_to_unit(const gan_config *c, const float *images, float *out, size_t n);
void srv_images_to_classifier(const gan_config *c, float *images, size_t n);

/* Resolve the data directory of cfg (dataset name or explicit dir). */
void srv_data_dir(const srv_config *cfg, char *out, size_t len);
/* The classifier file of a run: quality.classifier, or next to the data
 * (<dir>/classifier.bin for --data DIR, data/mnist/classifier.bin,
 * data/fashion-mnist-classifier.bin). */
void srv_classifier_path(const srv_config *cfg, char *out, size_t len);
/* Load it into a new eval-only model of the given batch: the model, or NULL
 * with the reason in err (missing, damaged, no memory). */
cls_model *srv_classifier_load(const srv_config *cfg, int batch, char *err, size_t errlen);

#endif

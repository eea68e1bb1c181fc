/* data.h - MNIST-style datasets: the IDX file reader and the batcher.
 *
 * IDX files (raw or gzip) are read whole, checked (magic number, element
 * type, dimensions, exact length) and kept as uint8 in memory; a batch is
 * scaled to floats only when it is drawn. Each epoch is a fresh shuffle.
 */
#ifndef GANLIVE_DATA_H
#define GANLIVE_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "nn.h"

typedef struct {
    uint8_t *images;     /* [n][rows*cols] */
    uint8_t *labels;     /* [n] */
    int n, rows, cols;
} gan_dataset;

/* Read one IDX file of unsigned bytes with `ndims` dimensions (1 labels,
 * 3 images). On success returns 0, *data (malloc'd, caller frees) and the
 * dimensions in dims[0..ndims-1]. On failure returns -1 and a message that
 * names the file and the problem. Gzip is detected and handled. */
int gan_idx_read(const char *path, int ndims, uint8_t **data, int dims[3],
                 char *err, size_t errlen);
/* The same checks on an IDX file already in memory (not gzip); messages name
 * `name`. *data is a fresh malloc'd copy of the payload. */
int gan_idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims, uint8_t **data,
                  int dims[3], char *err, size_t errlen);

/* Load "<dir>/<prefix>-images-idx3-ubyte" and the matching labels (each also
 * tried with ".gz"); prefix is "train" or "t10k". Images must be 28x28 and
 * the two counts equal. 0, or -1 with a message. */
int gan_dataset_load(gan_dataset *d, const char *dir, const char *prefix,
                     char *err, size_t errlen);
void gan_dataset_free(gan_dataset *d);

/* Draws shuffled batches, epoch after epoch. */
typedef struct {
    const gan_dataset *data;
    uint32_t *order;     /* [n] permutation of the current epoch */
    int pos;             /* next index into order */
    long epoch;          /* completed epochs */
} gan_batcher;

int gan_batcher_init(gan_batcher *b, const gan_dataset *d, nn_rng *rng);
void gan_batcher_free(gan_batcher *b);
/* Fill out [B][784] with the next B images scaled to [lo, hi] (tanh data:
 * -1..1, relu data: 0..1) and labels[B] when labels != NULL. */
void gan_batcher_next(gan_batcher *b, nn_rng *rng, int B, float lo, float hi,
                      float *out, uint8_t *labels);
/* Fractional epochs drawn so far. */
double gan_batcher_epoch(const gan_batcher *b);

#endif

/* fuzz_classifier.c - libFuzzer harness of the classifier file loader
 * (nn/classifier.c cls_load, which server/classifier_cmd.c and the quality
 * thread use through srv_classifier_load).
 *
 * The input is a classifier file. It is written to a temporary file and
 * loaded twice: as is (a mutant must fail the magic, version, length or
 * CRC32 check and be refused with a message), and with its trailing CRC32
 * recomputed, so mutations reach the header and value checks behind the
 * checksum. A refused load must leave the model untouched; an accepted one
 * must classify: a batch of images gives finite probabilities summing to 1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "../nn/classifier.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIMG 4
static cls_model *model;
static char path[64];
static float *snapshot;
static float images[NIMG * CLS_PIX];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    model = cls_model_new(NIMG, 0);
    snapshot = malloc(model->count * sizeof(float));
    if (!model || !snapshot) abort();
    snprintf(path, sizeof path, "/tmp/fuzz-classifier-%d.bin", (int)getpid());
    for (int i = 0; i < NIMG * CLS_PIX; i++) images[i] = (float)((i * 37) % 200) / 100.0f - 1.0f;
    return 0;
}

static int load(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    char err[512] = "";
    float acc = -1;
    memcpy(snapshot, model->mem, model->count * sizeof(float));
    int rc = cls_load(model, path, &acc, err, sizeof err);
    if (rc != 0) {
        if (!err[0] || memcmp(snapshot, model->mem, model->count * sizeof(float)) != 0) abort();
        return rc;
    }
    if (!isfinite(acc)) abort();
    float probs[NIMG * CLS_K], feats[NIMG * CLS_FEAT];
    cls_classify(model, images, NIMG, probs, feats);
    /* finite but absurd weights may overflow the logits: then no promise */
    for (int i = 0; i < NIMG * CLS_K; i++)
        if (!isfinite(model->a.logits_t[i])) return 0;
    for (int i = 0; i < NIMG; i++) {
        double sum = 0;
        for (int k = 0; k < CLS_K; k++) {
            float p = probs[i * CLS_K + k];
            if (!(p >= 0.0f && p <= 1.0f)) abort();
            sum += p;
        }
        if (fabs(sum - 1.0) > 1e-3) abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    if (size >= 8) {                 /* the same bytes with a matching CRC32 */
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        load(copy, size);
        free(copy);
    }
    unlink(path);
    return 0;
}

/* fuzz_ckpt_apply.c - libFuzzer harness of the whole checkpoint pipeline a
 * resume runs: parse (server/checkpoint.c srv_ckpt_parse) -> check against
 * the running configuration (srv_ckpt_check) -> apply to a live trainer and
 * state (srv_ckpt_apply_trainer, srv_ckpt_apply_state) -> train on.
 *
 * The input is a checkpoint file in memory, parsed with SRV_CKPT_SKIP_CRC
 * so mutations reach the section parsers and everything after them. One
 * trainer is built once in the configuration the seeds in
 * fuzz/corpus/ckpt_apply were written with (tests/test_checkpoint.c's tiny
 * run: nz, ngf, ndf and batch 1 on an "mnist" of 8 digits, made in /tmp),
 * so seeds pass the check and their mutants get applied.
 * Whatever is applied must leave a trainer that trains: one iteration and
 * one publish follow, and its data order must stay a permutation (ASan
 * catches an index out of range, UBSan any arithmetic on hostile values).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../server/checkpoint.h"
#include "../server/trainer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_trainer trainer;
static srv_state *state;

/* An IDX file of n items of `per` bytes each (0 dims: labels). */
static void write_idx(const char *path, int ndims, int n, int per) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    uint8_t hdr[16] = {0, 0, 8, (uint8_t)ndims};
    int dims[3] = {n, 28, 28};
    for (int i = 0; i < ndims; i++)
        for (int k = 0; k < 4; k++) hdr[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    fwrite(hdr, 1, 4 + 4 * (size_t)ndims, f);
    for (int i = 0; i < n * per; i++) fputc((i * 7 + i / per) % 256, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    srv_config c;
    char err[512], dir[64], path[128];
    /* the seeds' run: nz 1, ngf 1, ndf 1, batch 1 on an "mnist" of 8 digits */
    snprintf(dir, sizeof dir, "/tmp/fuzz-ckpt-data-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 3, 8, 784);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, 1, 8, 1);
    srv_config_default(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
    c.model.nz = 1;
    c.model.ngf = 1;
    c.model.ndf = 1;
    c.model.batch = 1;
    c.seed = 1;
    c.threads = 1;
    c.timeline_every = 2;
    c.timeline_max = 4;
    if (srv_trainer_init(&trainer, &c, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_ckpt_apply: %s\n", err);
        abort();
    }
    state = srv_state_new(&trainer.cfg);
    if (!state) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    srv_ckpt ck;
    char err[512] = "";
    memset(&ck, 0, sizeof ck);
    if (srv_ckpt_parse(data, size, SRV_CKPT_SKIP_CRC, &ck, err, sizeof err) != SRV_CKPT_OK) {
        if (!err[0]) abort();
        return 0;
    }
    if (srv_ckpt_check(&ck, &trainer.cfg, trainer.data.n, err, sizeof err) != SRV_CKPT_OK) {
        if (!err[0]) abort();
        srv_ckpt_free(&ck);
        return 0;
    }
    srv_ckpt_apply_trainer(&ck, &trainer, (int)(size & 1));
    if (srv_ckpt_apply_state(&ck, state) < 0) abort();
    srv_ckpt_free(&ck);
    /* the applied order is a permutation of the dataset */
    static uint8_t seen[1 << 17];
    if ((size_t)trainer.data.n > sizeof seen) abort();
    memset(seen, 0, (size_t)trainer.data.n);
    for (int i = 0; i < trainer.data.n; i++) {
        uint32_t k = trainer.batcher.order[i];
        if (k >= (uint32_t)trainer.data.n || seen[k]) abort();
        seen[k] = 1;
    }
    /* and the trainer trains on from it (a non-finite step is refused, not a crash) */
    if (srv_trainer_iteration(&trainer) == 0)
        srv_state_publish(state, trainer.iteration, gan_batcher_epoch(&trainer.batcher), &trainer.last,
                          trainer.model->g_mem, trainer.model->g_buf_mem, trainer.model->d_mem,
                          trainer.model->d_buf_mem);
    srv_trainer_publish_timeline(&trainer, state);
    return 0;
}

/* classifier_cmd.c - `ganlive classifier --data DIR --out FILE [--epochs E]
 * [--seed S] [--threads T]`.
 *
 * Trains the classifier of nn/classifier.h on DIR's train-* files (batch 64,
 * Adam lr 1e-3 halved after every epoch, betas 0.9/0.999), prints the mean
 * loss, training accuracy and t10k test accuracy of every epoch, then the
 * final test accuracy, and saves the model with that accuracy to FILE.
 * Same seed and threads: the same model, bit for bit.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../nn/classifier.h"
#include "config.h"
#include "../nn/data.h"
#include "classifier_cmd.h"

#define CLS_BATCH 64
#define CLS_LR 1e-3f
#define CLS_LR_DECAY 0.5f   /* per epoch */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void cls_usage(FILE *f) {
    fprintf(f, "usage: ganlive classifier --data DIR --out FILE [--epochs E] [--seed S] [--threads T]\n"
               "  --data DIR     IDX files of MNIST (train-* and t10k-*; default data/mnist)\n"
               "  --out FILE     where to save the model (required)\n"
               "  --epochs E     passes over the training set (default 3, 1..100)\n"
               "  --seed S       random seed (default 1)\n"
               "  --threads T    threads (0 = all cores, the default)\n");
}

int srv_classifier_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"epochs", required_argument, 0, 'e'}, {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *dir = "data/mnist", *out = NULL;
    int epochs = 3, threads = 0;
    uint64_t seed = 1;
    optind = 1;
    int o, li = 0;
    while ((o = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        double v;
        switch (o) {
        case 'd': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'e':
            if (srv_parse_whole(optarg, 1, 100, &v) < 0) goto bad;
            epochs = (int)v;
            break;
        case 's':
            if (srv_parse_whole(optarg, 0, SRV_SEED_MAX, &v) < 0) goto bad;
            seed = (uint64_t)v;
            break;
        case 't':
            if (srv_parse_whole(optarg, 0, 256, &v) < 0) goto bad;
            threads = (int)v;
            break;
        case 'h': cls_usage(stdout); return 0;
        default: cls_usage(stderr); return 2;
        }
        continue;
    bad:
        fprintf(stderr, "ganlive classifier: bad value for --%s: \"%s\"\n", opts[li].name, optarg);
        return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "ganlive classifier: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "ganlive classifier: --out FILE is required\n");
        cls_usage(stderr);
        return 2;
    }
    {   /* find an unwritable --out now, not after minutes of training */
        char tmp[4096];
        FILE *f = NULL;
        if (snprintf(tmp, sizeof tmp, "%s.tmp", out) < (int)sizeof tmp) f = fopen(tmp, "wb");
        if (!f) {
            fprintf(stderr, "ganlive classifier: cannot write %s: %s\n", out, strerror(errno));
            return 2;
        }
        fclose(f);
        remove(tmp);
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    nn_blas_threads(1);   /* the layers split work themselves (nn/par.h) */
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif

    char err[1200];
    gan_dataset train, test;
    if (gan_dataset_load(&train, dir, "train", err, sizeof err) < 0) {
        fprintf(stderr, "ganlive classifier: %s\n", err);
        return 2;
    }
    if (gan_dataset_load(&test, dir, "t10k", err, sizeof err) < 0) {
        fprintf(stderr, "ganlive classifier: %s\n", err);
        gan_dataset_free(&train);
        return 2;
    }
    int rc = 1;
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    gan_batcher batcher;
    int have_batcher = 0;
    cls_model *m = cls_model_new(CLS_BATCH, 1);
    float *x = malloc((size_t)CLS_BATCH * CLS_PIX * sizeof *x);
    uint8_t lab8[CLS_BATCH];
    int32_t lab[CLS_BATCH];
    if (!m || !x || gan_batcher_init(&batcher, &train, &rng) < 0) {
        fprintf(stderr, "ganlive classifier: out of memory\n");
        goto done;
    }
    have_batcher = 1;
    cls_model_init(m, &rng);
    printf("classifier: %d training and %d test images from %s, %zu parameters, "
           "batch %d, %d epoch(s), %d thread(s), seed %llu\n",
           train.n, test.n, dir, m->count, CLS_BATCH, epochs, threads, (unsigned long long)seed);
    fflush(stdout);
    const double t0 = now_s();
    const int steps = train.n / CLS_BATCH;
    double acc = 0.0;
    for (int e = 0; e < epochs; e++) {
        m->lr = CLS_LR;
        for (int i = 0; i < e; i++) m->lr *= CLS_LR_DECAY;
        double loss_sum = 0.0;
        long right = 0, seen = 0;
        for (int s = 0; s < steps; s++) {
            gan_batcher_next(&batcher, &rng, CLS_BATCH, CLS_IN_LO, CLS_IN_HI, x, lab8);
            for (int b = 0; b < CLS_BATCH; b++) lab[b] = lab8[b];
            int correct;
            const float loss = cls_train_step(m, x, lab, CLS_BATCH, &correct);
            if (loss != loss) {
                fprintf(stderr, "ganlive classifier: loss or gradient not finite at epoch %d step %d\n",
                        e + 1, s + 1);
                goto done;
            }
            loss_sum += loss;
            right += correct;
            seen += CLS_BATCH;
        }
        acc = cls_accuracy(m, &test, 0);
        if (acc < 0) { fprintf(stderr, "ganlive classifier: out of memory\n"); goto done; }
        printf("epoch %d/%d  lr %.2g  loss %.4f  train accuracy %.2f%%  test accuracy %.2f%%  %.1f s\n",
               e + 1, epochs, (double)m->lr, loss_sum / steps, 100.0 * right / seen, 100.0 * acc,
               now_s() - t0);
        fflush(stdout);
    }
    if (cls_save(m, out, (float)acc, err, sizeof err) < 0) {
        fprintf(stderr, "ganlive classifier: %s\n", err);
        goto done;
    }
    printf("test accuracy %.2f%% on %d t10k images after %.1f s; model saved to %s\n",
           100.0 * acc, test.n, now_s() - t0, out);
    rc = 0;
done:
    if (have_batcher) gan_batcher_free(&batcher);
    free(x);
    cls_model_free(m);
    gan_dataset_free(&train);
    gan_dataset_free(&test);
    return rc;
}

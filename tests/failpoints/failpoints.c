/* failpoints.c - faults on purpose, for the tests only.
 *
 * Linked into ganlive-failpoints (and ganlive-address-failpoints), never
 * into ganlive: the Makefile links the same objects with this file and the
 * linker's --wrap for srv_trainer_iteration and gan_d_step, so calls from
 * the loop and the trainer come here first and the program that ships has
 * no test hook anywhere in its training loop.
 *
 *   GANLIVE_TEST_POISON_AT="N[,M,...]"  the real batch of iteration N gets
 *       a NaN (in a copy: the trainer's own batch is untouched), so its D
 *       loss is non-finite and the divergence guard must act; once it has,
 *       the next number is armed ("130,101": 130 first, then 101, so a run
 *       restored to 100 diverges again at once).
 *
 * Only the trainer's thread calls these, one at a time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../server/trainer.h"

int __real_srv_trainer_iteration(srv_trainer *t);
int __wrap_srv_trainer_iteration(srv_trainer *t);
int __real_gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
                      const uint8_t *fake_labels, gan_metrics *out);
int __wrap_gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
                      const uint8_t *fake_labels, gan_metrics *out);

static long running;             /* the iteration being run (t->iteration + 1) */
static long poison_at = -1;      /* -1: the list not read yet; 0: nothing armed */
static const char *poison_rest;  /* the numbers after it, or NULL */

static void arm_next(const char *list) {
    char *end = NULL;
    poison_at = list && *list ? strtol(list, &end, 10) : 0;
    poison_rest = end && *end == ',' ? end + 1 : NULL;
}

int __wrap_srv_trainer_iteration(srv_trainer *t) {
    running = t->iteration + 1;
    return __real_srv_trainer_iteration(t);
}

int __wrap_gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
                      const uint8_t *fake_labels, gan_metrics *out) {
    if (poison_at < 0) arm_next(getenv("GANLIVE_TEST_POISON_AT"));
    if (poison_at <= 0 || running != poison_at)
        return __real_gan_d_step(m, real, real_labels, z, fake_labels, out);
    const size_t n = (size_t)m->cfg.batch * GAN_PIX;
    float *poisoned = malloc(n * sizeof(float));   /* [B][784] */
    if (!poisoned) abort();                        /* a test harness: fail loudly */
    memcpy(poisoned, real, n * sizeof(float));
    poisoned[0] = NAN;
    arm_next(poison_rest);
    fprintf(stderr, "ganlive: failpoint GANLIVE_TEST_POISON_AT: NaN in the data of iteration %ld\n", running);
    int rc = __real_gan_d_step(m, poisoned, real_labels, z, fake_labels, out);
    free(poisoned);
    return rc;
}

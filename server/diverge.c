/* diverge.c - the divergence guard's rule (see diverge.h). */
#include <math.h>
#include <stdio.h>
#include "diverge.h"

int srv_loss_exploded(const gan_metrics *m) {
    /* written so that NaN counts as exploded too */
    return !(fabs((double)m->d_loss) <= SRV_LOSS_BOUND) ||
           !(fabs((double)m->g_loss) <= SRV_LOSS_BOUND);
}

void srv_diverge_reason(const gan_metrics *m, int rejected, long iteration, char *why,
                        size_t len) {
    const double d = m->d_loss, g = m->g_loss;
    if (rejected) {
        int loss = !isfinite(d) || !isfinite(g);
        snprintf(why, len, "non-finite %s in iteration %ld (d_loss %g, g_loss %g); "
                 "update not applied", loss ? "loss" : "gradient", iteration, d, g);
    } else {
        snprintf(why, len, "loss exploded in iteration %ld (d_loss %g, g_loss %g; "
                 "bound %g): lower the learning rate", iteration, d, g, SRV_LOSS_BOUND);
    }
}

/* diverge.h - the divergence guard's rule: when is a training iteration no
 * longer training?
 *
 * nn/ already refuses an update whose loss or gradients are not finite
 * (gan_d_step / gan_g_step return -1 and apply nothing). This adds the case
 * the numbers stay finite but the run is wrecked, as a learning rate of 0.3
 * does within a few iterations (d_loss in the thousands, g_loss 0): a loss
 * above SRV_LOSS_BOUND. Both losses are means of binary cross-entropies over
 * a batch, so a mean of 100 means D (or G) is wrong about nearly every image
 * by a logit margin of about 100; healthy runs of both presets and of the
 * test model stay under 10 (measured; see README, Divergence guard).
 */
#ifndef GANLIVE_DIVERGE_H
#define GANLIVE_DIVERGE_H

#include <stddef.h>
#include "../nn/gan.h"

#define SRV_LOSS_BOUND 100.0

/* Is this iteration's loss beyond the bound (or not a number)? 1 or 0. */
int srv_loss_exploded(const gan_metrics *m);

/* The diverged_reason for an iteration that failed: `rejected` when nn/
 * refused the update (non-finite loss or gradient), else the loss exploded.
 * iteration is the 1-based number of the failed iteration. */
void srv_diverge_reason(const gan_metrics *m, int rejected, long iteration, char *why,
                        size_t len);

#endif

/* score.h - `ganlive score`: the readability of a checkpoint's samples by
 * the digit classifier, as one JSON line (score.c). */
#ifndef GANLIVE_SCORE_H
#define GANLIVE_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* Score n samples of the checkpoint `file` drawn from noise of `seed` with the
 * classifier cfg names (run.h's srv_classifier_path). Prints one JSON object
 * on stdout. 0; 2 when the file or the classifier cannot be used, 1 on no
 * memory; err says why. */
int srv_ckpt_score(const char *file, const srv_config *cfg, int n, uint64_t seed,
                   char *err, size_t errlen);

#endif

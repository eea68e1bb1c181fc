/* ckpt_test.h - what the checkpoint test files share (defined in
 * test_checkpoint.c). */
#ifndef GANLIVE_CKPT_TEST_H
#define GANLIVE_CKPT_TEST_H

#include <stddef.h>
#include <stdint.h>
#include "../server/checkpoint.h"

/* Checkpoint bytes of a run in format `version` (0: current), built in
 * memory with its history and timeline; caller frees. NULL on failure. */
uint8_t *ckpt_test_serialize(const srv_trainer *t, srv_state *st, int version, size_t *len);

#endif

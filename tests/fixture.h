/* fixture.h - reader of the PyTorch reference files in tests/fixtures/ and
 * the C twin of their counter-based random generator.
 *
 * The files are written by tools/make_fixtures.py, whose header documents
 * the format: "GLFX", version, count, then named tensors (float32, int32 or
 * float64 with their dims), then "END!". fx_open reads a whole file and
 * checks its structure; fx_f32 / fx_i32 / fx_f64 look a tensor up by name
 * and check its element count. Every failure prints a clear message on
 * stderr and returns NULL (or -1), so a test can CHECK the result and stop.
 *
 * The directory is $GANLIVE_FIXTURES, else "tests/fixtures" (the tests run
 * from the repository root, as `make test` does).
 */
#ifndef GANLIVE_TESTS_FIXTURE_H
#define GANLIVE_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fx_file fx_file;

/* Open tests/fixtures/<name>; NULL (with a message) if missing or corrupt. */
fx_file *fx_open(const char *name);
void fx_close(fx_file *f);

/* The data of a tensor of exactly n elements (n == 0: any size, the size
 * goes to *got_n if not NULL). NULL with a message when the name is
 * missing, the dtype differs or the size differs. The memory belongs to f. */
const float *fx_f32(fx_file *f, const char *name, size_t n);
const int32_t *fx_i32(fx_file *f, const char *name, size_t n);
const double *fx_f64(fx_file *f, const char *name, size_t n);
size_t fx_size(fx_file *f, const char *name);   /* 0 when missing (no message) */

/* Scalars; on error print a message and return NAN / INT32_MIN. */
float fx_scalar_f32(fx_file *f, const char *name);
int32_t fx_scalar_i32(fx_file *f, const char *name);
double fx_scalar_f64(fx_file *f, const char *name);

/* ---- the counter-based generator of make_fixtures.py ------------------- */
/* 32-bit hash of (index, stream). */
uint32_t fx_hash(uint32_t index, uint32_t stream);
/* u in [-1, 1), exact in float32: (hash >> 8) * 2^-23 - 1. */
float fx_uniform(uint32_t index, uint32_t stream);
/* x[i] = offset + scale * fx_uniform(i, stream); scale must be a power of
 * two so the result is bit-identical to numpy's (see make_fixtures.py). */
void fx_fill_uniform(float *x, size_t n, uint32_t stream, float scale, float offset);

#endif

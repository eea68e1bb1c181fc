/* json_strict.h - two rules for the JSON this server reads and writes that
 * cJSON leaves to its callers:
 *
 *   - a seed is a 64-bit unsigned integer and must come back exactly as it
 *     was given, although a JSON number (an IEEE double in most readers)
 *     holds integers exactly only up to 2^53;
 *   - an object never names a key twice (cJSON keeps both and lookups see
 *     the first, other readers the last: a body would mean different things
 *     to different readers).
 */
#ifndef GANLIVE_JSON_STRICT_H
#define GANLIVE_JSON_STRICT_H

#include <stdint.h>
#include <cJSON.h>

/* The largest integer every JSON reader holds exactly: 2^53. */
#define SRV_JSON_EXACT_MAX 9007199254740992ULL

/* Add seed to obj under key: a JSON number when seed <= 2^53, else its
 * decimal digits as a string ("13653324973697583104"), so that it reads
 * back exactly either way. Returns 0, or -1 on no memory. */
int srv_json_seed(cJSON *obj, const char *key, uint64_t seed);

/* Read a seed written either way: a JSON number that is a whole number in
 * 0..2^53, or a string of decimal digits (no sign, no spaces) up to
 * 2^64 - 1. Returns 0 and *out, or -1. */
int srv_json_seed_get(const cJSON *v, uint64_t *out);

/* The first key (in document order of the objects) that appears twice in
 * one object anywhere in the tree, or NULL when none does. The pointer is
 * into the tree and lives as long as it. Objects of any size are checked
 * in O(n log n); nesting is bounded by cJSON's own limit. */
const char *srv_json_duplicate_key(const cJSON *item);

#endif

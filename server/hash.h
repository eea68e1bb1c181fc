/* hash.h - the two small hashes the server uses: splitmix64's finaliser
 * (seeds and ids from counters and clocks) and 64-bit FNV-1a (cache keys).
 */
#ifndef GANLIVE_HASH_H
#define GANLIVE_HASH_H

#include <stdint.h>

static inline uint64_t srv_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline uint64_t srv_fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

#endif

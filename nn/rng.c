/* rng.c - xoshiro128++ (Blackman & Vigna) seeded through splitmix64, with
 * Box-Muller normals. Small, fast, and its whole state fits in nn_rng, so a
 * checkpoint restores the exact random stream.
 */
#include <math.h>
#include "nn.h"

static uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nn_rng_seed(nn_rng *r, uint64_t seed) {
    uint64_t x = seed;
    uint64_t a = splitmix64(&x), b = splitmix64(&x);
    r->s[0] = (uint32_t)a; r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b; r->s[3] = (uint32_t)(b >> 32);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;  /* never all zero */
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint32_t nn_rng_u32(nn_rng *r) {
    uint32_t *s = r->s;
    const uint32_t result = rotl32(s[0] + s[3], 7) + s[0];
    const uint32_t t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl32(s[3], 11);
    return result;
}

float nn_rng_uniform(nn_rng *r) {
    return (float)(nn_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float nn_rng_normal(nn_rng *r) {
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    /* u1 in (0, 1] so the log is finite */
    const double u1 = ((nn_rng_u32(r) >> 8) + 1.0) * (1.0 / 16777216.0);
    const double u2 = (nn_rng_u32(r) >> 8) * (1.0 / 16777216.0);
    const double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = (float)(rad * sin(th));
    r->has_spare = 1;
    return (float)(rad * cos(th));
}

void nn_rng_fill_normal(nn_rng *r, float *x, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++) x[i] = mean + std * nn_rng_normal(r);
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased */
    uint64_t m = (uint64_t)nn_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        const uint32_t threshold = -n % n;
        while (low < threshold) { m = (uint64_t)nn_rng_u32(r) * n; low = (uint32_t)m; }
    }
    return (uint32_t)(m >> 32);
}

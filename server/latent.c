/* latent.c - spherical interpolation of noise vectors (see latent.h). */
#include <math.h>
#include "latent.h"

void srv_slerp(const float *a, const float *b, int n, double t, float *out) {
    if (t <= 0.0 || t >= 1.0) {               /* the ends, bit for bit */
        const float *src = t <= 0.0 ? a : b;
        for (int i = 0; i < n; i++) out[i] = src[i];
        return;
    }
    double dot = 0.0, na = 0.0, nb = 0.0;
    for (int i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    double wa = 1.0 - t, wb = t;               /* linear fallback */
    if (na > 0.0 && nb > 0.0) {
        double c = dot / sqrt(na * nb);
        if (c > 1.0) c = 1.0;
        if (c < -1.0) c = -1.0;
        double w = acos(c), s = sin(w);
        if (s > 1e-6) {
            wa = sin((1.0 - t) * w) / s;
            wb = sin(t * w) / s;
        }
    }
    for (int i = 0; i < n; i++) out[i] = (float)(wa * a[i] + wb * b[i]);
}

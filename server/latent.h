/* latent.h - walks in the generator's noise space (pure functions).
 */
#ifndef GANLIVE_LATENT_H
#define GANLIVE_LATENT_H

/* Spherical interpolation between a and b (n floats each) at t in [0, 1]:
 *   out = sin((1-t)w)/sin(w) a + sin(tw)/sin(w) b,  w = angle(a, b)
 * (Shoemake; White 2016 for GAN latents). t = 0 gives a and t = 1 gives b
 * exactly; for equal-norm a and b every point keeps that norm. When the
 * angle is near 0 or pi (or a vector is zero) it falls back to linear
 * interpolation. Sums in double. out may not alias a or b. */
void srv_slerp(const float *a, const float *b, int n, double t, float *out);

#endif

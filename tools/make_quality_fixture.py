#!/usr/bin/python3
"""make_quality_fixture.py - NumPy references for the sample scores of nn/quality.c
(tests/test_quality.c).

Usage:  /usr/bin/python3 tools/make_quality_fixture.py tests/fixtures
(needs only python3-numpy; deterministic). Writes tests/fixtures/quality_stats.bin.

Format: the GLFX tensor file of tools/make_fixtures.py (read by tests/fixture.c):
"GLFX", u32 version 1, u32 count, records (u32 name_len, name, u32 dtype
0=f32 1=i32 2=f64, u32 ndim, u32 dims[ndim], data), "END!"; little-endian.

Contents:
  Frechet part. Two feature sets x1, x2 [300][64] are NOT stored (they would be
  150 KB): they come from the counter-based hash of make_fixtures.py, which the
  C test rebuilds bit for bit with fx_hash (tests/fixture.c):
      z(i, t) = ((hash(i * 67 + t, stream) >> 20) - 2048) * 2^-11   (12-bit grid, [-1, 1))
      x[i][a] = scale[a] * (z(i, a) + w1 * z(i, a + 1) + w3 * z(i, a + 3)) + mu[a]
  set 1: stream 100, w1 = 0.5,  w3 = 0.25, scale 2 when a % 3 == 0 else 1, mu = (a % 5) / 8
  set 2: stream 101, w1 = -0.5, w3 = 0.5,  scale 0.5 when a % 4 == 0 else 1, mu = (a % 7) / 16 - 1/8
  Every value is a short dyadic fraction, exact in float32 whatever the
  arithmetic order, so C and NumPy start from identical features; the taps
  make neighbouring dimensions correlated (banded covariances, different per set).
    mean1, mean2 [64] f64, cov1, cov2 [64][64] f64 (np.cov, ddof 1)
    frechet12 f64: |mu1-mu2|^2 + tr(C1 + C2) - 2 tr sqrtm(C1 C2), where
      tr sqrtm(C1 C2) = scipy.linalg.sqrtm when SciPy exists, else the sum of
      sqrt(max(0, Re eig(C1 @ C2))) by numpy.linalg.eigvals (a general,
      non-symmetric eigen-solver: independent of the C code's Jacobi method).
  Score part. probs [50][10] f32: softmax of seeded normal logits (class 3
  favoured, a few very confident rows), then in float64 from those float32 values:
    is f64      exp(mean_i sum_c p_ic (log(p_ic + 1e-12) - log(pbar_c + 1e-12)))
    conf f64    mean of the row maxima
    hist [10] f64  share of argmax classes
"""
import os
import sys

import numpy as np

from glfx import Writer, hash_u32  # noqa: E402

N, D = 300, 64
TAPS = 3             # z(i, t) for t in [0, D + TAPS)


def features(stream, w1, w3, scale, mu):
    width = D + TAPS
    h = hash_u32(np.arange(N * width), stream).reshape(N, width)
    z = ((h >> np.uint64(20)).astype(np.float64) - 2048.0) * 2.0 ** -11
    x = scale * (z[:, :D] + w1 * z[:, 1:D + 1] + w3 * z[:, 3:D + 3]) + mu
    x32 = x.astype(np.float32)
    assert np.array_equal(x32.astype(np.float64), x), "features must be exact in float32"
    return x32


def tr_sqrt_product(c1, c2):
    try:
        import scipy.linalg
        s = scipy.linalg.sqrtm(c1 @ c2)
        return float(np.real(np.trace(s))), "scipy.linalg.sqrtm"
    except ImportError:
        ev = np.linalg.eigvals(c1 @ c2)
        return float(np.sum(np.sqrt(np.maximum(np.real(ev), 0.0)))), "numpy.linalg.eigvals"


def frechet(m1, c1, m2, c2):
    t, how = tr_sqrt_product(c1, c2)
    return float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * t), how


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_quality_fixture.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    a = np.arange(D, dtype=np.float64)
    x1 = features(100, 0.5, 0.25, np.where(a % 3 == 0, 2.0, 1.0), (a % 5) / 8.0)
    x2 = features(101, -0.5, 0.5, np.where(a % 4 == 0, 0.5, 1.0), (a % 7) / 16.0 - 0.125)
    f1, f2 = x1.astype(np.float64), x2.astype(np.float64)
    m1, m2 = f1.mean(axis=0), f2.mean(axis=0)
    c1, c2 = np.cov(f1, rowvar=False, ddof=1), np.cov(f2, rowvar=False, ddof=1)
    fd, how = frechet(m1, c1, m2, c2)
    # the symmetric method (what the C code does) must agree with the general one
    w, v = np.linalg.eigh(c1)
    s = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
    ts = np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh(s @ c2 @ s), 0.0)))
    fd_sym = float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * ts)
    print(f"frechet12 = {fd:.15g} ({how}); symmetric method {fd_sym:.15g}")
    assert abs(fd - fd_sym) <= 1e-9 * fd

    rng = np.random.default_rng(20240607)
    logits = rng.normal(0.0, 2.0, size=(50, 10))
    logits[:, 3] += 1.5
    logits[::7] *= 6.0                                  # a few very confident rows
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    p = probs.astype(np.float64)
    pbar = p.mean(axis=0)
    kl = np.sum(p * (np.log(p + 1e-12) - np.log(pbar + 1e-12)), axis=1)
    inception = float(np.exp(kl.mean()))
    conf = float(p.max(axis=1).mean())
    hist = np.bincount(p.argmax(axis=1), minlength=10).astype(np.float64) / len(p)
    print(f"is = {inception:.15g}, conf = {conf:.15g}, hist = {hist}")

    w = Writer()
    for name, arr in (("mean1", m1), ("cov1", c1), ("mean2", m2), ("cov2", c2),
                      ("frechet12", np.float64(fd)), ("probs", probs), ("is", np.float64(inception)),
                      ("conf", np.float64(conf)), ("hist", hist)):
        w.add(name, arr)
    w.write(os.path.join(out, "quality_stats.bin"))


if __name__ == "__main__":
    main()

"""classifier_np.py - the digit classifier of nn/classifier.c recomputed in
NumPy from its model file, for tests that check the server's quality
figures independently of the C code (its layers, its input range map).

    cls = Classifier("data/mnist/classifier.bin")
    probs = cls.probs(images)      # images [N, 28, 28] in [-1, 1]
    grid_cells(png, n)             # the N digits of a samples.png grid

Network (see nn/classifier.h): Conv 1->32 k4 s2 p1, LeakyReLU 0.2; Conv
32->64 k4 s2 p1, BatchNorm (running statistics), LeakyReLU 0.2; Conv
64->10 k7; softmax. No biases. File: "GLCL", 7 u32 (version, 28, 32, 64,
10, parameter count, buffer count), the parameters (w1, w2, bn gamma, bn
beta, w3), the running mean and variance, the test accuracy, CRC32.
"""
import struct
import zlib

import numpy as np


class Classifier:
    def __init__(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:4] != b"GLCL" or zlib.crc32(raw[:-4]) & 0xffffffff != struct.unpack("<I", raw[-4:])[0]:
            raise ValueError("%s: not a valid classifier file" % path)
        hdr = struct.unpack("<7I", raw[4:32])
        version, img, c1, c2, k, count, nbuf = hdr
        vals = np.frombuffer(raw[32:32 + 4 * (count + nbuf + 1)], dtype="<f4").astype(np.float64)
        sizes = [c1 * 16, c2 * c1 * 16, c2, c2, k * c2 * 49]
        at = 0
        parts = []
        for s in sizes:
            parts.append(vals[at:at + s])
            at += s
        self.w1 = parts[0].reshape(c1, 1, 4, 4)
        self.w2 = parts[1].reshape(c2, c1, 4, 4)
        self.g, self.b = parts[2], parts[3]
        self.w3 = parts[4].reshape(k, c2, 7, 7)
        self.mean, self.var = vals[count:count + c2], vals[count + c2:count + 2 * c2]
        self.test_acc = float(vals[count + nbuf])

    @staticmethod
    def _conv_s2(x, w):
        """k4 s2 p1 convolution, no bias: x [B, C, H, W] -> [B, O, H/2, W/2]."""
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
        return np.einsum("bchwij,ocij->bohw", win, w, optimize=True)

    def probs(self, images):
        x = np.asarray(images, dtype=np.float64).reshape(-1, 1, 28, 28)
        a1 = self._conv_s2(x, self.w1)
        a1 = np.where(a1 > 0, a1, 0.2 * a1)
        c2 = self._conv_s2(a1, self.w2)
        bn = (c2 - self.mean[None, :, None, None]) / np.sqrt(self.var[None, :, None, None] + 1e-5)
        bn = bn * self.g[None, :, None, None] + self.b[None, :, None, None]
        a2 = np.where(bn > 0, bn, 0.2 * bn)
        logits = np.einsum("bcij,kcij->bk", a2, self.w3)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def inception_score(probs):
    p = np.asarray(probs, dtype=np.float64)
    py = p.mean(axis=0)
    kl = (p * (np.log(np.maximum(p, 1e-12)) - np.log(np.maximum(py, 1e-12)))).sum(axis=1)
    return float(np.exp(kl.mean()))


def grid_cells(pixels, n, cols=None):
    """The n 28x28 cells of a grey samples.png grid (2-pixel gutters, scale
    1) as floats in [-1, 1]. pixels: a [H, W] uint8 array."""
    cols = cols or int(np.ceil(np.sqrt(n)))
    out = np.empty((n, 28, 28))
    for i in range(n):
        x0, y0 = (i % cols) * 30, (i // cols) * 30
        out[i] = pixels[y0:y0 + 28, x0:x0 + 28] / 255.0 * 2.0 - 1.0
    return out

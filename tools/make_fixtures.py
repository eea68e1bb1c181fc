#!/usr/bin/python3
"""make_fixtures.py - PyTorch reference tensors for the C tests (tests/test_torch.c).

Usage:  /usr/bin/python3 tools/make_fixtures.py tests/fixtures
(needs Debian's python3-torch and python3-numpy; runs on the CPU, one thread,
fixed seeds, so the output is the same on every run on the same machine).

It writes one file per topic: conv2d.bin, convt2d.bin, batchnorm.bin, act.bin,
bce.bin, adam.bin, gan_iter.bin (one whole DCGAN training iteration), its
variants gan_cond.bin, gan_hinge.bin, gan_smooth.bin, gan_proj.bin and
gan_sn.bin (RECIPES), and softmax.bin (softmax cross-entropy). Naming files after OUTDIR writes only those.

File format (all integers little-endian uint32, data little-endian):
    magic    4 bytes "GLFX"
    version  u32 = 1
    count    u32  number of tensors
    then `count` records:
        name_len u32, name (name_len ASCII bytes, no NUL)
        dtype    u32  0 = float32, 1 = int32, 2 = float64
        ndim     u32  (<= 8), dims u32[ndim]
        data     prod(dims) elements of dtype (prod of no dims = 1, a scalar)
    end      4 bytes "END!"  (a truncated file is detected)
The C reader is tests/fixture.c.

Layouts: activations are written channel-major [C][B][H][W] like the C code
(PyTorch's [B][C][H][W] permuted with permute(1,0,2,3)); weights keep PyTorch's
layouts ([OC][C][K][K] for Conv2d, [C][OC][K][K] for ConvTranspose2d).

The DCGAN fixture cannot store the ~1.9M initial parameters, so they, the real
batch and the noise come from a counter-based hash that tests/fixture.c
reproduces bit for bit (fx_uniform): for element i of stream s
    x = (i * 0x9E3779B9 + (s + 1) * 0x85EBCA6B) mod 2^32
    x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
    u = (x >> 8) * 2^-23 - 1                      (exact in float32, [-1, 1))
    value = offset + scale * u  in float32, with scale a power of two, so the
    product is exact and the only rounding is the final add (the same with or
    without FMA contraction).
Big result tensors are stored as a summary: <name>.sum and <name>.sumsq
(float64, over the whole tensor), <name>.idx (int32 flat indices, fixed
pseudo-random) and <name>.val (float32 values at those indices). Small
tensors (<= 4096 values) are stored in full under <name>.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

from glfx import DT_F32, DT_I32, DT_F64, M32, Writer, hash_u32, hash_uniform  # noqa: E402,F401



def cbhw(t):
    """[B][C][H][W] -> channel-major [C][B][H][W]."""
    return t.detach().permute(1, 0, 2, 3).contiguous()


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# ---- layers ------------------------------------------------------------------
CONV_GEOMS = [  # B, C, H, W, OC, K, stride, pad
    (2, 3, 8, 8, 4, 4, 2, 1),      # the DCGAN down-sampling block
    (2, 3, 7, 7, 2, 7, 1, 0),      # D's last layer: 7x7 -> 1x1
    (3, 2, 5, 6, 3, 3, 1, 1),      # non-square image
    (2, 2, 9, 7, 2, 3, 2, 0),      # odd sizes, stride leaves an edge unused
    (1, 1, 28, 28, 4, 4, 2, 1),    # D's first layer, one channel
]
CONVT_GEOMS = [  # B, C (in), H, W, OC, K, stride, pad
    (2, 3, 4, 4, 2, 4, 2, 1),      # the DCGAN up-sampling block
    (2, 5, 1, 1, 3, 7, 1, 0),      # G's first layer: 1x1 -> 7x7
    (3, 2, 3, 5, 3, 3, 2, 1),      # non-square, odd kernel
    (2, 4, 7, 7, 1, 4, 2, 1),      # G's last block shape, one output channel
    (2, 2, 4, 3, 2, 3, 1, 1),      # stride 1 with padding
]


def conv_fixture(path, transposed):
    torch.manual_seed(1 if not transposed else 2)
    w_ = Writer()
    geoms = CONVT_GEOMS if transposed else CONV_GEOMS
    w_.add("count", np.int32(len(geoms)))
    for gi, (B, C, H, W, OC, K, S, P) in enumerate(geoms):
        x = randn(B, C, H, W).requires_grad_(True)
        if transposed:
            w = (randn(C, OC, K, K) * 0.3).requires_grad_(True)
            out = F.conv_transpose2d(x, w, stride=S, padding=P)
        else:
            w = (randn(OC, C, K, K) * 0.3).requires_grad_(True)
            out = F.conv2d(x, w, stride=S, padding=P)
        r = randn(*out.shape)
        out.backward(r)
        p = f"g{gi}."
        w_.add(p + "geom", np.array([B, C, H, W, OC, K, S, P], dtype=np.int32))
        w_.add(p + "x", cbhw(x))
        w_.add(p + "w", w)
        w_.add(p + "out", cbhw(out))
        w_.add(p + "dout", cbhw(r))
        w_.add(p + "dx", cbhw(x.grad))
        w_.add(p + "dw", w.grad)
    w_.write(path)


def batchnorm_fixture(path):
    torch.manual_seed(3)
    w_ = Writer()
    cases = [(3, 4, 5, 5), (2, 8, 1, 1), (4, 2, 7, 7)]  # C, B, H, W
    w_.add("count", np.int32(len(cases)))
    for ci, (C, B, H, W) in enumerate(cases):
        x = (randn(B, C, H, W) * 2.0 + 0.5).requires_grad_(True)
        gamma = (1.0 + 0.2 * randn(C)).requires_grad_(True)
        beta = (0.1 * randn(C)).requires_grad_(True)
        rm0 = 0.3 * randn(C)
        rv0 = 0.5 + torch.rand(C)
        rm, rv = rm0.clone(), rv0.clone()
        out = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
        r = randn(*out.shape)
        out.backward(r)
        xd = x.detach().double()
        mean = xd.mean(dim=(0, 2, 3))
        var = xd.var(dim=(0, 2, 3), unbiased=False)
        rstd = 1.0 / torch.sqrt(var + 1e-5)
        with torch.no_grad():
            ev = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=1e-5)
        p = f"c{ci}."
        w_.add(p + "shape", np.array([C, B, H, W], dtype=np.int32))
        w_.add(p + "x", cbhw(x))
        w_.add(p + "gamma", gamma)
        w_.add(p + "beta", beta)
        w_.add(p + "run_mean0", rm0)
        w_.add(p + "run_var0", rv0)
        w_.add(p + "out", cbhw(out))
        w_.add(p + "mean", mean.float())
        w_.add(p + "rstd", rstd.float())
        w_.add(p + "run_mean1", rm)
        w_.add(p + "run_var1", rv)
        w_.add(p + "dout", cbhw(r))
        w_.add(p + "dx", cbhw(x.grad))
        w_.add(p + "dgamma", gamma.grad)
        w_.add(p + "dbeta", beta.grad)
        w_.add(p + "eval_out", cbhw(ev))
    w_.write(path)


def act_fixture(path):
    torch.manual_seed(4)
    w_ = Writer()
    x = randn(96)
    x = torch.sign(x) * (0.1 + x.abs())             # away from the kink at 0
    x[:4] = torch.tensor([8.0, -8.0, 25.0, -25.0])  # tanh saturation
    w_.add("x", x)
    for name, fn in [("relu", F.relu), ("leaky", lambda t: F.leaky_relu(t, 0.2)),
                     ("tanh", torch.tanh)]:
        xi = x.clone().requires_grad_(True)
        out = fn(xi)
        r = randn(*out.shape)
        out.backward(r)
        w_.add(name + ".out", out)
        w_.add(name + ".dout", r)
        w_.add(name + ".dx", xi.grad)
    w_.write(path)


def bce_fixture(path):
    torch.manual_seed(5)
    w_ = Writer()
    cases = [  # logits, target, scale
        (randn(8), 1.0, 1.0),
        (randn(8) * 3.0, 0.0, 1.0),
        (torch.tensor([30.0, -30.0, 100.0, -100.0, 0.0, 1e-3, -17.0, 17.0]), 1.0, 0.5),
        (torch.tensor([30.0, -30.0, 100.0, -100.0, 0.0, 1e-3, -17.0, 17.0]), 0.0, 2.0),
        (randn(64), 0.0, 1.0),
    ]
    w_.add("count", np.int32(len(cases)))
    for ci, (logits, t, s) in enumerate(cases):
        x = logits.clone().requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(x, torch.full_like(x, t))
        (loss * s).backward()
        p = f"c{ci}."
        w_.add(p + "logits", logits)
        w_.add(p + "target", np.float32(t))
        w_.add(p + "scale", np.float32(s))
        w_.add(p + "loss", loss.detach().reshape(()))
        w_.add(p + "dlogits", x.grad)
    w_.write(path)


def softmax_fixture(path):
    """Softmax cross-entropy (F.cross_entropy, mean) on logits [B][K], row per
    sample, with int32 labels; cases include huge and tied logits."""
    torch.manual_seed(8)
    w_ = Writer()
    big = torch.tensor([[1000.0, -1000.0, 0.0, 999.0],
                        [-500.0, -500.0, -500.0, -500.0],
                        [88.0, 89.0, 90.0, -90.0]])
    cases = [  # logits [B][K], labels [B], scale
        (randn(8, 10) * 2.0, torch.randint(0, 10, (8,)), 1.0),
        (randn(5, 3) * 10.0, torch.randint(0, 3, (5,)), 0.5),
        (big, torch.tensor([0, 2, 3]), 1.0),
        (randn(64, 10), torch.randint(0, 10, (64,)), 2.0),
    ]
    w_.add("count", np.int32(len(cases)))
    for ci, (logits, labels, s) in enumerate(cases):
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, labels)
        (loss * s).backward()
        p = f"c{ci}."
        w_.add(p + "B", np.int32(logits.shape[0]))
        w_.add(p + "K", np.int32(logits.shape[1]))
        w_.add(p + "logits", logits)
        w_.add(p + "labels", labels.numpy().astype(np.int32))
        w_.add(p + "scale", np.float32(s))
        w_.add(p + "loss", loss.detach().reshape(()))
        w_.add(p + "probs", F.softmax(logits, dim=1))
        w_.add(p + "dlogits", x.grad)
    w_.write(path)


def adam_fixture(path):
    torch.manual_seed(6)
    w_ = Writer()
    n, steps = 37, 6
    p = nn.Parameter(randn(n) * 0.05)
    w_.add("param0", p.detach().clone())
    opt = torch.optim.Adam([p], lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    grads, params = [], []
    for s in range(steps):
        g = randn(n) * (10.0 ** (s % 3 - 2))      # magnitudes 1e-2, 1e-1, 1
        g[0] = 0.0                                 # a parameter without gradient
        g[1] = 1e-9 if s % 2 == 0 else -3e-9       # gradients near eps
        g[2] = 50.0 * (-1) ** s                    # large, sign-flipping
        p.grad = g.clone()
        opt.step()
        grads.append(g)
        params.append(p.detach().clone())
    st = opt.state[p]
    w_.add("shape", np.array([n, steps], dtype=np.int32))
    w_.add("lr_b1_b2_eps", np.array([2e-4, 0.5, 0.999, 1e-8], dtype=np.float32))
    w_.add("grads", torch.stack(grads))
    w_.add("params", torch.stack(params))
    w_.add("m", st["exp_avg"])
    w_.add("v", st["exp_avg_sq"])
    w_.write(path)


# ---- one whole DCGAN iteration ----------------------------------------------
NZ, NGF, NDF, BATCH, NCLASSES = 100, 128, 64, 8, 10
# Streams of the hash generator (tests/fixture.h repeats these numbers).
G_STREAMS = [1, 2, 3, 4, 5, 6, 7]      # w1 bn1_g bn1_b w2 bn2_g bn2_b w3
D_STREAMS = [11, 12, 13, 14, 15]       # w1 w2 bn2_g bn2_b w3
S_EMBED = 16                           # the projection head's class embedding
S_REAL, S_Z, S_ZSAMPLE = 21, 22, 23
W_SCALE = 2.0 ** -5     # conv weights U(-1,1)/32 (std 0.018, DCGAN uses 0.02)
GAMMA_SCALE = 2.0 ** -4  # gammas 1 + U(-1,1)/16
BETA_SCALE = 2.0 ** -5   # betas U(-1,1)/32 (non-zero, so beta matters)
Z_SCALE = 2.0            # noise U(-2,2)
NSAMPLER = 4             # images generated in eval mode after the iteration


def make_gan(conditional=False, projection=False):
    """The default DCGAN. Conditional: G's input has 10 one-hot channels after
    the noise and D's input 10 label planes after the image (see label_input),
    or with projection no planes (the head is added by gan_fixture's Cond)."""
    k = NCLASSES if conditional else 0
    G = nn.Sequential(
        nn.ConvTranspose2d(NZ + k, 2 * NGF, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * NGF), nn.ReLU(True),
        nn.ConvTranspose2d(2 * NGF, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1 + (0 if projection else k), NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(NDF, 2 * NDF, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * NDF), nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * NDF, 1, 7, 1, 0, bias=False))
    return G, D


def init_params(net, streams):
    """Parameters in named_parameters order from the hash generator."""
    for (name, prm), s in zip(net.named_parameters(), streams):
        n = prm.numel()
        if prm.dim() == 4:
            v = hash_uniform(n, s, W_SCALE)
        elif name.endswith("weight"):
            v = hash_uniform(n, s, GAMMA_SCALE, 1.0)
        else:
            v = hash_uniform(n, s, BETA_SCALE)
        with torch.no_grad():
            prm.copy_(torch.from_numpy(v).reshape(prm.shape))


def with_labels(x, labels):
    """Stack one-hot label planes of x's size after x's channels: for G's
    1x1 noise image, that is the noise then the one-hot vector; for D's
    28x28 image, ten constant planes."""
    if labels is None:
        return x
    oh = F.one_hot(labels, NCLASSES).float()[:, :, None, None]
    return torch.cat([x, oh.expand(-1, -1, x.shape[2], x.shape[3])], 1)


# Recipes beyond the DCGAN's (the C test sets the same gan_config fields):
# "hinge": the hinge loss, a learning-rate warm-up over 4 steps and a half-life
# of 1000 steps (step 1: lr * 1/4 * 2^(-1/1000)), and a G EMA with decay 0.99
# (step 1: min(0.99, 2/11)); "smooth": cross-entropy with real label 0.9.
# "proj": a projection discriminator (D's last layer plus the class's embedding,
# no label planes).
# "sn": the projection discriminator with torch.nn.utils.spectral_norm on each
# of D's convolutions (one power iteration per forward pass in train mode).
RECIPES = {
    None: dict(loss="bce", real_label=1.0, warmup=0, half_life=0, ema=0.0, proj=False, sn=False),
    "hinge": dict(loss="hinge", real_label=1.0, warmup=4, half_life=1000, ema=0.99, proj=False, sn=False),
    "smooth": dict(loss="bce", real_label=0.9, warmup=0, half_life=0, ema=0.0, proj=False, sn=False),
    "proj": dict(loss="bce", real_label=1.0, warmup=0, half_life=0, ema=0.0, proj=True, sn=False),
    "sn": dict(loss="bce", real_label=1.0, warmup=0, half_life=0, ema=0.0, proj=True, sn=True),
}


def sn_vectors(D0):
    """u then v of each spectrally normalised conv of D, in layer order (the
    C model's D buffers after the BN statistics)."""
    convs = [m for m in D0 if isinstance(m, nn.Conv2d)]
    return torch.cat([t.detach().clone() for c in convs for t in (c.weight_u, c.weight_v)])


def lr_factor(r, t):
    f = min(1.0, t / r["warmup"]) if r["warmup"] else 1.0
    return f * (2.0 ** (-t / r["half_life"]) if r["half_life"] else 1.0)


def gan_fixture(path, conditional=False, recipe=None):
    r = RECIPES[recipe]
    torch.manual_seed(7)
    G0, D0 = make_gan(conditional, r["proj"])
    init_params(G0, G_STREAMS)
    init_params(D0, D_STREAMS)
    if r["sn"]:   # after the hashed weights; u, v from torch's generator, stored in full
        for i, mod in enumerate(D0):
            if isinstance(mod, nn.Conv2d):
                D0[i] = nn.utils.spectral_norm(mod)
        sn0 = sn_vectors(D0)
    real_labels = fake_labels = sample_labels = None
    if conditional:   # fixed label patterns (the C test repeats them)
        real_labels = torch.tensor([(3 * b + 1) % NCLASSES for b in range(BATCH)])
        fake_labels = torch.tensor([(7 * b + 2) % NCLASSES for b in range(BATCH)])
        sample_labels = torch.tensor([b % NCLASSES for b in range(NSAMPLER)])

    class Cond(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x, labels):
            return self.net(with_labels(x, labels))

    class Projection(nn.Module):
        """D(x, y) = conv3(h) + <embed(y), h>, h = D's features before conv3."""
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.embed = nn.Embedding(NCLASSES, 2 * NDF * 7 * 7)

        def forward(self, x, labels):
            h = self.net[:-1](x)
            proj = (self.embed(labels).view_as(h) * h).sum((1, 2, 3))
            return self.net[-1](h) + proj.view(-1, 1, 1, 1)
    G = Cond(G0)
    if r["proj"]:
        D = Projection(D0)
        with torch.no_grad():   # like a conv weight (the C test fills it the same way)
            D.embed.weight.copy_(torch.from_numpy(
                hash_uniform(D.embed.weight.numel(), S_EMBED, W_SCALE)).reshape(D.embed.weight.shape))
    else:
        D = Cond(D0)
    G.train(), D.train()
    g_init = [p.detach().clone() for p in G.parameters()]
    d_init = [p.detach().clone() for p in D.parameters()]
    real = torch.from_numpy(hash_uniform(BATCH * 28 * 28, S_REAL, 1.0)).reshape(BATCH, 1, 28, 28)
    z = torch.from_numpy(hash_uniform(BATCH * NZ, S_Z, Z_SCALE)).reshape(BATCH, NZ, 1, 1)
    lr = 2e-4 * lr_factor(r, 1)                   # both take their first step
    optD = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-8)
    optG = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-8)
    crit = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)
    hinge = r["loss"] == "hinge"

    # D step
    D.zero_grad()
    out_real = D(real, real_labels).view(-1)
    errD_real = torch.relu(1 - out_real).mean() if hinge else crit(out_real, ones * r["real_label"])
    errD_real.backward()
    fake = G(z, fake_labels)
    out_fake = D(fake.detach(), fake_labels).view(-1)
    errD_fake = torch.relu(1 + out_fake).mean() if hinge else crit(out_fake, zeros)
    errD_fake.backward()
    d_grads = [p.grad.detach().clone() for p in D.parameters()]
    d_bufs_dstep = [b.detach().clone() for n_, b in D.named_buffers() if "running" in n_]
    sn_dstep = sn_vectors(D0) if r["sn"] else None
    optD.step()
    # G step: the same fake, the updated D
    G.zero_grad()
    out_g = D(fake, fake_labels).view(-1)
    errG = -out_g.mean() if hinge else crit(out_g, ones)
    errG.backward()
    optG.step()
    # G EMA after G's first step: it starts at G's initial state
    ema = None
    if r["ema"]:
        d = min(r["ema"], 2.0 / 11.0)
        g_bufs0 = [torch.zeros_like(b) if "mean" in n_ else torch.ones_like(b)
                   for n_, b in G.named_buffers() if "running" in n_]
        now = list(G.parameters()) + [b for n_, b in G.named_buffers() if "running" in n_]
        ema = [d * a.double() + (1 - d) * b.detach().double()
               for a, b in zip(g_init + g_bufs0, now)]

    margin = min(out_real.abs().min().item(), out_fake.abs().min().item())
    assert margin > 1e-3, f"a logit is too close to 0 for a stable accuracy: {margin}"
    if hinge:   # and no logit on the hinge's kink, where the two sides' gradients differ
        kink = min((1 - out_real).abs().min().item(), (1 + out_fake).abs().min().item())
        assert kink > 1e-3, f"a logit is too close to the hinge's margin: {kink}"

    w_ = Writer()
    w_.add("config", np.array([NZ, NGF, NDF, BATCH, int(conditional)], dtype=np.int32))
    w_.add("recipe", np.array([int(hinge), r["warmup"], r["half_life"], int(r["proj"])], dtype=np.int32))
    w_.add("recipe_f", np.array([r["real_label"], r["ema"]], dtype=np.float32))
    if conditional:
        w_.add("real_labels", real_labels.to(torch.int32))
        w_.add("fake_labels", fake_labels.to(torch.int32))
    w_.add("streams", np.array(G_STREAMS + D_STREAMS + [S_REAL, S_Z, S_ZSAMPLE], dtype=np.int32))
    w_.add("scales", np.array([W_SCALE, GAMMA_SCALE, BETA_SCALE, Z_SCALE], dtype=np.float32))
    # Check of the generator itself: a few values of each initial tensor.
    for i, t in enumerate(g_init):
        w_.add_summary(f"g_init{i}", t, 10 + i)
    for i, t in enumerate(d_init):
        w_.add_summary(f"d_init{i}", t, 20 + i)
    # metrics
    real_logits = out_real.detach()
    fake_logits = out_fake.detach()
    met = np.array([
        (errD_real + errD_fake).item(), errG.item(),
        (real_logits > 0).float().mean().item(), (fake_logits < 0).float().mean().item(),
        torch.sigmoid(real_logits).mean().item(), torch.sigmoid(fake_logits).mean().item()],
        dtype=np.float32)
    w_.add("metrics", met)  # d_loss g_loss d_acc_real d_acc_fake d_real d_fake
    w_.add("real_logits", real_logits)
    w_.add("fake_logits", fake_logits)
    w_.add("gstep_logits", out_g.detach())
    w_.add_summary("fake", fake, 30)                    # [B][1][28][28] == [1][B][28][28]
    # Gradients and parameter changes (new - init, in float64) of the same
    # tensor share their sampled indices, so the C test can see whether a
    # sampled gradient is near zero, where Adam's first step (~ lr * sign(g))
    # is decided by rounding.
    for i, (t, p, p0) in enumerate(zip(d_grads, D.parameters(), d_init)):
        w_.add_summary(f"d_grad{i}", t, 40 + i)
        w_.add_summary(f"d_delta{i}", p.detach().double() - p0.double(), 40 + i)
    for i, (p, p0) in enumerate(zip(G.parameters(), g_init)):
        w_.add_summary(f"g_grad{i}", p.grad, 50 + i)
        w_.add_summary(f"g_delta{i}", p.detach().double() - p0.double(), 50 + i)
    gb = [b for n_, b in G.named_buffers() if "running" in n_]  # bn1 mean var, bn2 mean var
    db = [b for n_, b in D.named_buffers() if "running" in n_]
    w_.add("g_buf", torch.cat(gb))
    w_.add("d_buf_dstep", torch.cat(d_bufs_dstep))
    w_.add("d_buf", torch.cat(db))
    if ema is not None:   # the G EMA: parameters in order, then bn1 mean var, bn2 mean var
        w_.add_summary("g_ema", torch.cat([t.flatten() for t in ema]), 60)
    if r["sn"]:           # u1 v1 u2 v2 u3 v3: at the start, after the D step (2 power
        w_.add("d_sn0", sn0)                  # iterations) and after the G step (3)
        w_.add("d_sn_dstep", sn_dstep)
        w_.add("d_sn", sn_vectors(D0))

    # eval-mode sampling with the updated generator
    G.eval()
    zs = torch.from_numpy(hash_uniform(NSAMPLER * NZ, S_ZSAMPLE, Z_SCALE)).reshape(NSAMPLER, NZ, 1, 1)
    with torch.no_grad():
        imgs = G(zs, sample_labels)
    w_.add("sampler_n", np.int32(NSAMPLER))
    w_.add_summary("sampler_images", imgs, 100)
    w_.write(path)
    print(f"  d_loss {met[0]:.6f} g_loss {met[1]:.6f} acc_real {met[2]} acc_fake {met[3]} "
          f"logit margin {margin:.4g}")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_fixtures.py OUTDIR [FILE.bin ...]   (default: every file)")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    makers = {
        "conv2d.bin": lambda p: conv_fixture(p, transposed=False),
        "convt2d.bin": lambda p: conv_fixture(p, transposed=True),
        "batchnorm.bin": batchnorm_fixture,
        "act.bin": act_fixture,
        "bce.bin": bce_fixture,
        "adam.bin": adam_fixture,
        "gan_iter.bin": gan_fixture,
        "gan_cond.bin": lambda p: gan_fixture(p, conditional=True),
        "gan_hinge.bin": lambda p: gan_fixture(p, conditional=True, recipe="hinge"),
        "gan_smooth.bin": lambda p: gan_fixture(p, recipe="smooth"),
        "gan_proj.bin": lambda p: gan_fixture(p, conditional=True, recipe="proj"),
        "gan_sn.bin": lambda p: gan_fixture(p, conditional=True, recipe="sn"),
        "softmax.bin": softmax_fixture,
    }
    names = sys.argv[2:] or list(makers)
    for name in names:
        if name not in makers:
            sys.exit(f"make_fixtures.py: unknown fixture {name} (known: {' '.join(makers)})")
    for name in names:
        makers[name](os.path.join(out, name))


if __name__ == "__main__":
    main()

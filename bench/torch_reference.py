#!/usr/bin/python3
"""torch_reference.py - ganlive's default model and recipe in PyTorch, timed
the way `ganlive bench` times itself, for an honest speed comparison.

Same architecture (nz 100, ngf 128, ndf 64, no biases, BatchNorm, tanh),
same loop (D on a real batch, D on fresh fakes, one Adam step; G through the
updated D on the same fakes, one Adam step), batch 64 by default, real MNIST
from the IDX files. Prints the median images/s of five timed windows and a
machine-readable last line. Needs Debian's python3-torch.

usage: /usr/bin/python3 bench/torch_reference.py [--threads T] [--iters N]
                                                 [--batch B] [--data DIR]
"""
import argparse
import os
import statistics
import struct
import time

import torch
import torch.nn as nn


def load_images(data_dir):
    with open(os.path.join(data_dir, "train-images-idx3-ubyte"), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803 and rows == 28 and cols == 28
        raw = f.read()
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(n, 1, 28, 28)
    return x


def make_models(nz=100, ngf=128, ndf=64):
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, 2 * ngf, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(True),
        nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * ndf, 1, 7, 1, 0, bias=False))
    for mod in list(g.modules()) + list(d.modules()):
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(mod.weight, 0.0, 0.02)
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.normal_(mod.weight, 1.0, 0.02)
            nn.init.zeros_(mod.bias)
    return g, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--data", default="data/mnist")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images = load_images(args.data)
    g, d = make_models()
    crit = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    B = args.batch
    ones, zeros = torch.ones(B), torch.zeros(B)
    perm, pos = torch.randperm(images.shape[0]), 0

    def iteration():
        nonlocal perm, pos
        if pos + B > perm.numel():
            perm, pos = torch.randperm(images.shape[0]), 0
        real = images[perm[pos:pos + B]].float().div_(127.5).sub_(1.0)
        pos += B
        d.zero_grad()
        err_real = crit(d(real).view(-1), ones)
        err_real.backward()
        fake = g(torch.randn(B, 100, 1, 1))
        err_fake = crit(d(fake.detach()).view(-1), zeros)
        err_fake.backward()
        opt_d.step()
        g.zero_grad()
        err_g = crit(d(fake).view(-1), ones)
        err_g.backward()
        opt_g.step()

    for _ in range(5):
        iteration()
    windows, per = 5, max(1, args.iters // 5)
    rates = []
    cpu0 = time.process_time()   # all threads: the per-core view, as `ganlive bench` prints it
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(per):
            iteration()
        rates.append(per * B / (time.perf_counter() - t0))
    cpu_ips = windows * per * B / (time.process_time() - cpu0)
    med = statistics.median(rates)
    print(f"torch {torch.__version__} bench: batch {B}, {args.threads} thread(s): "
          f"{med:.1f} images/s (min {min(rates):.1f}, max {max(rates):.1f}), "
          f"{cpu_ips:.1f} images per CPU-second")
    print(f"result torch threads={args.threads} batch={B} images_per_s={med:.1f} cpu_images_per_s={cpu_ips:.1f}")


if __name__ == "__main__":
    main()

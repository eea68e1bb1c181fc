"""glfx.py - the GLFX tensor files of the C tests (read by tests/fixture.c) and
the counter-based generator shared with tests/fixture.c, for the fixture
scripts (make_fixtures.py, make_quality_fixture.py). NumPy only.

Format: "GLFX", u32 version 1, u32 count, records (u32 name_len, name, u32
dtype 0=f32 1=i32 2=f64, u32 ndim, u32 dims[ndim], data), "END!";
little-endian.
"""
import os
import struct

import numpy as np

DT_F32, DT_I32, DT_F64 = 0, 1, 2
SMALL = 4096        # tensors up to this many values are stored in full
NSAMPLE = 256       # sampled values per big tensor


class Writer:
    def __init__(self):
        self.items = []

    def add(self, name, arr, dtype=None):
        if hasattr(arr, "detach"):          # a torch tensor
            arr = arr.detach().cpu().numpy()
        arr = np.asarray(arr)
        if dtype is None:
            dtype = {np.dtype(np.float32): DT_F32, np.dtype(np.int32): DT_I32,
                     np.dtype(np.float64): DT_F64}.get(arr.dtype)
            if dtype is None:
                raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        npdt = {DT_F32: '<f4', DT_I32: '<i4', DT_F64: '<f8'}[dtype]
        assert all(it[0] != name for it in self.items), name
        self.items.append((name, dtype, arr.shape, np.ascontiguousarray(arr, dtype=npdt)))

    def add_summary(self, name, arr, stream):
        """Full tensor when small, else sum/sumsq/idx/val (see the header)."""
        if hasattr(arr, "detach"):          # a torch tensor
            arr = arr.detach().cpu().numpy()
        f64 = np.asarray(arr, dtype=np.float64).reshape(-1)
        flat = f64.astype(np.float32)
        if flat.size <= SMALL:
            self.add(name, flat)
            return
        self.add(name + ".sum", np.float64(f64.sum()))
        self.add(name + ".sumsq", np.float64((f64 * f64).sum()))
        idx = (hash_u32(np.arange(NSAMPLE), 1000 + stream) % flat.size).astype(np.int32)
        self.add(name + ".idx", idx)
        self.add(name + ".val", flat[idx])

    def write(self, path):
        with open(path, "wb") as f:
            f.write(b"GLFX")
            f.write(struct.pack("<II", 1, len(self.items)))
            for name, dtype, shape, data in self.items:
                nb = name.encode("ascii")
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<II", dtype, len(shape)))
                for d in shape:
                    f.write(struct.pack("<I", d))
                f.write(data.tobytes())
            f.write(b"END!")
        print(f"{path}: {len(self.items)} tensors, {os.path.getsize(path)} bytes")


# ---- the counter-based generator shared with tests/fixture.c ---------------
M32 = 0xFFFFFFFF


def hash_u32(idx, stream):
    x = (np.asarray(idx, dtype=np.uint64) * np.uint64(0x9E3779B9)
         + np.uint64(((stream + 1) * 0x85EBCA6B) & M32)) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7feb352d)) & np.uint64(M32)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846ca68b)) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    return x


def hash_uniform(n, stream, scale, offset=0.0):
    """offset + scale * u, u in [-1, 1); scale must be a power of two."""
    m, e = np.frexp(scale)
    assert m == 0.5, "scale must be a power of two"
    u = ((hash_u32(np.arange(n), stream) >> np.uint64(8)).astype(np.float64)
         * 2.0 ** -23 - 1.0).astype(np.float32)
    return (np.float32(offset) + u * np.float32(scale)).astype(np.float32)

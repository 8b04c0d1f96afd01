"""The PyTorch side of bench:radon (benchmarks/src/radon.ts): A x and Aᵀ y on the identical compressed tables
that bilevel's radon builds (written by radon.ts as raw int32 / float32 files), one thread, as
(1) torch's sparse CSR matrix times a dense [columns, b] matrix and (2) the same gather-mul-sum over the
table padded to its longest row as bilevel's tfjs route. Times `rounds` blocks of about 0.2 s of calls per case and
writes the median wall and CPU ms per call, plus the CSR results on the bench's inputs for the cross-check.

    python radon_torch.py <folder written by radon.ts>"""
import json
import os
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
folder = sys.argv[1]
meta = json.load(open(os.path.join(folder, "meta.json")))


def raw(name, dtype):
    return np.fromfile(os.path.join(folder, name), dtype=dtype)


def padded(start, index, weight, fill):
    rows = len(start) - 1
    lengths = np.diff(start)
    width = int(lengths.max())
    idx = np.full((rows, width), fill, dtype=np.int64)
    w = np.zeros((rows, width), dtype=np.float32)
    slot = np.arange(len(index)) - np.repeat(start[:-1], lengths)
    row = np.repeat(np.arange(rows), lengths)
    idx[row, slot] = index
    w[row, slot] = weight
    return torch.from_numpy(idx), torch.from_numpy(w)


def timed(fn, rounds):
    t0 = time.perf_counter()
    fn()
    reps = max(1, round(0.2 / max(time.perf_counter() - t0, 1e-6)))  # blocks of about 0.2 s
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        wall.append((time.perf_counter() - t0) * 1e3 / reps)
        cpu.append((time.process_time() - c0) * 1e3 / reps)
    return {"ms": float(np.median(wall)), "cpuMs": float(np.median(cpu))}


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cases": []}
for case in meta["cases"]:
    n, rays, pixels = case["n"], case["rays"], case["pixels"]
    tables = {}
    for name, rows, columns in (("forward", rays, pixels), ("backward", pixels, rays)):
        start = raw(f"{n}-{name}-start.bin", np.int32).astype(np.int64)
        index = raw(f"{n}-{name}-index.bin", np.int32).astype(np.int64)
        weight = raw(f"{n}-{name}-weight.bin", np.float32)
        csr = torch.sparse_csr_tensor(torch.from_numpy(start), torch.from_numpy(index), torch.from_numpy(weight), size=(rows, columns))
        tables[name] = (csr, *padded(start, index, weight, columns), columns)
    inputs = {"forward": raw(f"{n}-x.bin", np.float32).reshape(-1, pixels), "backward": raw(f"{n}-y.bin", np.float32).reshape(-1, rays)}
    for name, (csr, idx, w, columns) in tables.items():
        full = torch.from_numpy(inputs[name])
        # the cross-check: the CSR product on the bench's whole batch
        (csr @ full.T.contiguous()).T.contiguous().numpy().tofile(os.path.join(folder, f"{n}-{name}-torch.bin"))
        for b in case["batches"]:
            v = full[:b].contiguous()
            vt = v.T.contiguous()

            def sparse():
                return csr @ vt

            def gather():
                flat = torch.cat([v, torch.zeros(b, 1)], 1)
                return (flat[:, idx] * w).sum(-1)

            with torch.no_grad():
                out["cases"].append({"n": n, "b": b, "op": name, "csr": timed(sparse, meta["rounds"]), "gather": timed(gather, meta["rounds"])})
json.dump(out, open(os.path.join(folder, "torch.json"), "w"))

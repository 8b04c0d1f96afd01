"""Shared by the peers (foe_torch.py, foe_jax.py): the benchmark spec, timing with a
CPU-time check, and the identical-work loops (gradient descent, conjugate gradients, Adam)
written once over a small table of array operations, so every framework runs the same
algorithm step for step as bilevel's side (benchmarks/src/peer/)."""
import json
import os
import time

import numpy as np


def load(path):
    return json.load(open(path))


def array(spec):
    return np.asarray(spec["values"], dtype=np.float32).reshape(spec["shape"])


def timed(fn, repeats, sync):
    """Median wall ms of `repeats` calls after one warm-up, and cores used = CPU time / wall.
    On a shared machine wall time includes time preempted by other jobs; `cores` below 1 for
    a 1-thread run says how much (cpu_ms = cores x wall ms is the time actually computed)."""
    out = sync(fn())
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    cores = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    return out, 1000 * float(np.median(times)), cores


def flat(t):
    return np.asarray(t, dtype=np.float32).ravel().tolist()


def conjugate_gradients(matvec, b, iterations, ops):
    """Plain CG from q = 0 for exactly `iterations` steps (no early stop)."""
    q = ops["zeros_like"](b)
    r = b
    p = r
    rr = ops["dot"](r, r)
    for _ in range(iterations):
        hp = matvec(p)
        alpha = rr / ops["dot"](p, hp)
        q = q + alpha * p
        r = r - alpha * hp
        rr_new = ops["dot"](r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return q


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) on a dict of parameters."""

    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t, self.m, self.v = lr, b1, b2, eps, 0, {}, {}

    def step(self, theta, grad, sqrt):
        self.t += 1
        out = {}
        for k in theta:
            g = grad[k]
            self.m[k] = self.b1 * self.m.get(k, 0 * g) + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v.get(k, 0 * g) + (1 - self.b2) * g * g
            mh = self.m[k] / (1 - self.b1 ** self.t)
            vh = self.v[k] / (1 - self.b2 ** self.t)
            out[k] = theta[k] - self.lr * mh / (sqrt(vh) + self.eps)
        return out


def threads():
    return int(os.environ.get("PEER_THREADS", "1"))

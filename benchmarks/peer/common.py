"""Shared by the peers (foe_torch.py, foe_jax.py): the benchmark spec, the timing worker
(`serve`, wall and CPU time of every call), and the identical-work loops (gradient descent, conjugate gradients, Adam)
written once over a small table of array operations, so every framework runs the same
algorithm step for step as bilevel's side (benchmarks/src/peer/)."""
import json
import os
import sys
import time

import numpy as np


def load(path):
    return json.load(open(path))


def array(spec):
    return np.asarray(spec["values"], dtype=np.float32).reshape(spec["shape"])


def serve(info, jobs, sync):
    """The long-lived worker of bench:peer's interleaved rounds (benchmarks/src/peer/peers.ts).
    Writes one JSON line `info` + the job names, then answers each JSON line on stdin,
    {"job": name, "reps": N, "warmup": bool, "output": bool}, with one JSON line
    {"ms": [...], "cpuMs": [...]} (wall and process CPU ms of each of the N calls; a warm-up
    call first if asked, whose encoded result comes back as "output"), until {"quit": true}.
    CPU ms / wall ms is the cores a call used: 1.00 for one thread never preempted."""
    reply = os.fdopen(os.dup(1), "w")
    sys.stdout = sys.stderr  # stray prints must not break the protocol

    def send(obj):
        reply.write(json.dumps(obj) + "\n")
        reply.flush()

    send({**info, "jobs": list(jobs)})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        fn, encode = jobs[cmd["job"]]
        out = {}
        if cmd.get("warmup"):
            r = sync(fn())
            if cmd.get("output"):
                out["output"] = encode(r)
        ms, cpu = [], []
        for _ in range(cmd.get("reps", 0)):
            c0, t0 = time.process_time(), time.perf_counter()
            sync(fn())
            ms.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
        send({**out, "ms": ms, "cpuMs": cpu})


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

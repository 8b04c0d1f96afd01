"""Peer implementation for benchmarks/src/peer.ts: the smoothed Field-of-Experts energy

    Phi(x; theta) = 1/2 ||x - y||^2 + sum_k exp(alpha_k) sum_pixels log(1 + (c_k * x)^2)

in JAX (float32, jit-compiled), timing the same three autodiff primitives as the TypeScript
benchmark: the gradient in x, a Hessian-vector product (forward-over-reverse) and the mixed
product grad_theta <grad_x Phi, v>. Inputs come from the JSON file the TypeScript side writes,
so the two implementations see identical numbers; the outputs are written back for a
cross-check of the results (not only the timings).

    python foe_jax.py INPUT.json OUTPUT.json [repeats]
"""
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", False)


def energy(x, filters, alpha, y):
    # NHWC images, HWIO filters, 'SAME' zero padding: tf.conv2d's layout and convention
    # (cross-correlation, like lax.conv).
    z = jax.lax.conv_general_dilated(x, filters, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    penalty = jnp.sum(jnp.log1p(z * z), axis=(0, 1, 2))
    return 0.5 * jnp.sum((x - y) ** 2) + jnp.sum(jnp.exp(alpha) * penalty)


grad_x = jax.jit(jax.grad(energy, argnums=0))


@jax.jit
def hvp(x, filters, alpha, y, v):
    return jax.jvp(lambda z: jax.grad(energy, argnums=0)(z, filters, alpha, y), (x,), (v,))[1]


@jax.jit
def mixed(x, filters, alpha, y, v):
    inner = lambda f, a: jnp.vdot(jax.grad(energy, argnums=0)(x, f, a, y), v)
    return jax.grad(inner, argnums=(0, 1))(filters, alpha)


def timed(fn, repeats):
    out = jax.block_until_ready(fn())  # compile + warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    times.sort()
    return out, 1000 * float(np.median(times))


def main():
    src, dst = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    spec = json.load(open(src))
    results = []
    for case in spec["cases"]:
        arr = lambda k: jnp.asarray(np.asarray(case[k]["values"], dtype=np.float32).reshape(case[k]["shape"]))
        x, y, v, filters, alpha = arr("x"), arr("y"), arr("v"), arr("filters"), arr("alpha")
        g, g_ms = timed(lambda: grad_x(x, filters, alpha, y), repeats)
        h, h_ms = timed(lambda: hvp(x, filters, alpha, y, v), repeats)
        (mf, ma), m_ms = timed(lambda: mixed(x, filters, alpha, y, v), repeats)
        results.append({
            "batch": case["batch"],
            "ms": {"gradient": g_ms, "hvp": h_ms, "mixed": m_ms},
            "outputs": {
                "gradient": np.asarray(g).ravel().tolist(),
                "hvp": np.asarray(h).ravel().tolist(),
                "mixedFilters": np.asarray(mf).ravel().tolist(),
                "mixedAlpha": np.asarray(ma).ravel().tolist(),
            },
        })
    json.dump({"jax": jax.__version__, "devices": [str(d) for d in jax.devices()], "results": results}, open(dst, "w"))


if __name__ == "__main__":
    main()

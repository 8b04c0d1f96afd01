"""JAX peer of bench:peer (benchmarks/src/peer/): the same energies, primitives, identical-work
hypergradient and training run as foe_torch.py, jit-compiled (the GD and CG loops with
lax.fori_loop, so one hypergradient is one XLA program).

    python foe_jax.py INPUT.json OUTPUT.json
"""
import sys

import jax
import jax.numpy as jnp
import numpy as np

from common import Adam, array, flat, load, timed

jax.config.update("jax_enable_x64", False)


def foe_energy(x, th, y):
    z = jax.lax.conv_general_dilated(x, th["filters"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    nu2 = jnp.exp(2 * th["logNu"])
    penalty = jnp.sum(jnp.log1p(z * z / nu2), axis=(0, 1, 2))
    return 0.5 * jnp.sum((x - y) ** 2) + jnp.sum(jnp.exp(th["logAlpha"]) * penalty)


def tv_energy(x, th, y):
    dv = jnp.pad(x[:, 1:] - x[:, :-1], ((0, 0), (0, 1), (0, 0), (0, 0)))
    dh = jnp.pad(x[:, :, 1:] - x[:, :, :-1], ((0, 0), (0, 0), (0, 1), (0, 0)))
    return 0.5 * jnp.sum((x - y) ** 2) + jnp.exp(th["logAlpha"]) * jnp.sum(jnp.sqrt(dv * dv + dh * dh + jnp.exp(2 * th["logNu"])))


ENERGIES = {"foe": foe_energy, "tv": tv_energy}


def primitives(energy):
    grad_x = jax.jit(jax.grad(energy, argnums=0))

    @jax.jit
    def hvp(x, th, y, v):
        return jax.jvp(lambda z: jax.grad(energy, argnums=0)(z, th, y), (x,), (v,))[1]

    @jax.jit
    def mixed(x, th, y, v):
        return jax.grad(lambda p: jnp.vdot(jax.grad(energy, argnums=0)(x, p, y), v))(th)

    return grad_x, hvp, mixed


def hypergradient_fn(energy, gd_steps, cg_steps):
    grad_x, hvp, mixed = primitives(energy)

    @jax.jit
    def run(th, y, clean, step):
        n = y.shape[0]
        x = jax.lax.fori_loop(0, gd_steps, lambda _, x: x - step * jax.grad(energy, argnums=0)(x, th, y), y)
        b = (x - clean) / n
        matvec = lambda u: jax.jvp(lambda z: jax.grad(energy, argnums=0)(z, th, y), (x,), (u,))[1]

        def cg_step(_, s):
            q, r, p, rr = s
            hp = matvec(p)
            a = rr / jnp.vdot(p, hp)
            q, r = q + a * p, r - a * hp
            rr_new = jnp.vdot(r, r)
            return q, r, r + (rr_new / rr) * p, rr_new

        q, *_ = jax.lax.fori_loop(0, cg_steps, cg_step, (jnp.zeros_like(b), b, b, jnp.vdot(b, b)))
        g = jax.grad(lambda p: jnp.vdot(jax.grad(energy, argnums=0)(x, p, y), q))(th)
        return jax.tree_util.tree_map(lambda t: -t, g), 0.5 * jnp.sum((x - clean) ** 2) / n

    return run


def sync(out):
    return jax.block_until_ready(out)


def main():
    spec = load(sys.argv[1])
    repeats = spec["repeats"]
    j = lambda s: jnp.asarray(array(s))
    result = {"framework": "JAX", "version": jax.__version__, "threads": 1, "primitives": [], "training": []}
    grad_x, hvp, mixed = primitives(foe_energy)
    for case in spec["primitives"]:
        x, y, v = j(case["x"]), j(case["y"]), j(case["v"])
        th = {k: j(case["theta"][k]) for k in case["theta"]}
        g, g_ms, g_c = timed(lambda: grad_x(x, th, y), repeats, sync)
        h, h_ms, h_c = timed(lambda: hvp(x, th, y, v), repeats, sync)
        m, m_ms, m_c = timed(lambda: mixed(x, th, y, v), repeats, sync)
        result["primitives"].append({
            "batch": case["batch"], "ms": {"gradient": g_ms, "hvp": h_ms, "mixed": m_ms}, "cores": {"gradient": g_c, "hvp": h_c, "mixed": m_c},
            "outputs": {"gradient": flat(g), "hvp": flat(h), **{f"mixed.{k}": flat(m[k]) for k in m}},
        })
    hg = spec.get("hypergradient")
    if hg is not None:
        th = {k: j(hg["theta"][k]) for k in hg["theta"]}
        run = hypergradient_fn(foe_energy, hg["gdSteps"], hg["cgSteps"])
        (g, loss), ms, cores = timed(lambda: run(th, j(hg["y"]), j(hg["clean"]), hg["step"]), hg["repeats"], sync)
        result["hypergradient"] = {"ms": ms, "cores": cores, "loss": float(loss), "grad": {k: flat(g[k]) for k in g}}
    for spec_run in spec["training"]:
        run = hypergradient_fn(ENERGIES[spec_run["model"]], spec_run["gdSteps"], spec_run["cgSteps"])
        y, clean = j(spec_run["y"]), j(spec_run["clean"])

        def train():
            th = {k: j(spec_run["theta"][k]) for k in spec_run["theta"]}
            adam, losses = Adam(spec_run["lr"]), []
            for _ in range(spec_run["outer"]):
                step = spec_run["step"] if spec_run["model"] == "foe" else 1 / (1 + 8 * float(jnp.exp(th["logAlpha"])) / float(jnp.exp(th["logNu"])))
                g, loss = run(th, y, clean, step)
                losses.append(float(loss))
                th = adam.step(th, g, jnp.sqrt)
            return th, losses

        (th, losses), ms, cores = timed(train, spec_run["repeats"], sync)
        result["training"].append({"model": spec_run["model"], "ms": ms, "cores": cores, "losses": losses, "theta": {k: flat(th[k]) for k in th}})
    import json
    json.dump(result, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()

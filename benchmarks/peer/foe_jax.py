"""JAX peer of bench:peer (benchmarks/src/peer/): the same energies, primitives, identical-work
hypergradient and training run as foe_torch.py, jit-compiled (the GD and CG loops with
lax.fori_loop, so one hypergradient is one XLA program); a long-lived worker like foe_torch.py.

    python foe_jax.py INPUT.json        # then JSON commands on stdin, see common.serve
"""
import sys

import jax
import jax.numpy as jnp
import numpy as np

from common import Adam, array, flat, load, serve

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


def jobs(spec):
    """Every timed call of the spec, by name: (call, encode its result for the cross-check)."""
    j = lambda s: jnp.asarray(array(s))
    out = {}
    grad_x, hvp, mixed = primitives(foe_energy)

    def primitive(case):
        x, y, v = j(case["x"]), j(case["y"]), j(case["v"])
        th = {k: j(case["theta"][k]) for k in case["theta"]}
        b = case["batch"]
        out[f"b{b}.gradient"] = (lambda: grad_x(x, th, y), lambda g: {"gradient": flat(g)})
        out[f"b{b}.hvp"] = (lambda: hvp(x, th, y, v), lambda h: {"hvp": flat(h)})
        out[f"b{b}.mixed"] = (lambda: mixed(x, th, y, v), lambda m: {f"mixed.{k}": flat(m[k]) for k in m})

    for case in spec["primitives"]:
        primitive(case)
    hg = spec.get("hypergradient")
    if hg is not None:
        hth = {k: j(hg["theta"][k]) for k in hg["theta"]}
        hy, hclean = j(hg["y"]), j(hg["clean"])
        run_hg = hypergradient_fn(foe_energy, hg["gdSteps"], hg["cgSteps"])
        out["hypergradient"] = (
            lambda: run_hg(hth, hy, hclean, hg["step"]),
            lambda r: {"loss": float(r[1]), "grad": {k: flat(r[0][k]) for k in r[0]}},
        )

    def training(spec_run):
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

        out[f"train.{spec_run['model']}"] = (train, lambda r: {"losses": r[1], "theta": {k: flat(r[0][k]) for k in r[0]}})

    for spec_run in spec["training"]:
        training(spec_run)
    return out


def main():
    spec = load(sys.argv[1])
    serve({"framework": "JAX", "version": jax.__version__, "threads": 1}, jobs(spec), sync)


if __name__ == "__main__":
    main()

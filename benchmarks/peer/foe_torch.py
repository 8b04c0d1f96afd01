"""PyTorch peer of bench:peer (benchmarks/src/peer/): the Fields-of-Experts and TV energies of
bilevel's imaging package, their gradient / HVP / mixed product, one implicit hypergradient
at identical work (GD steps + CG steps + mixed product) and a short training run, on the
inputs bilevel's side wrote; a long-lived worker (common.serve) that times the calls it is
sent and returns their results for the cross-check.

    python foe_torch.py INPUT.json      # then JSON commands on stdin, see common.serve
"""
import sys

import numpy as np
import torch

from common import Adam, array, conjugate_gradients, flat, load, serve, threads

torch.set_num_threads(threads())
torch.set_grad_enabled(True)
OPS = {"zeros_like": torch.zeros_like, "dot": lambda a, b: torch.sum(a * b)}


def t(spec):
    return torch.from_numpy(array(spec))


def nchw(x):
    return x.permute(0, 3, 1, 2)


def foe_energy(x, th, y):
    # x NHWC [N,H,W,1]; filters HWIO [S,S,1,K] as bilevel stores them; 'same' zero padding, cross-correlation
    w = th["filters"].permute(3, 2, 0, 1)
    z = torch.nn.functional.conv2d(nchw(x), w, padding="same")
    nu2 = torch.exp(2 * th["logNu"]).view(1, -1, 1, 1)
    penalty = torch.sum(torch.log1p(z * z / nu2), dim=(0, 2, 3))
    return 0.5 * torch.sum((x - y) ** 2) + torch.sum(torch.exp(th["logAlpha"]) * penalty)


def tv_energy(x, th, y):
    # forward differences, Neumann boundary (0 on the last row / column), as gradient2d
    dv = torch.nn.functional.pad(x[:, 1:] - x[:, :-1], (0, 0, 0, 0, 0, 1))
    dh = torch.nn.functional.pad(x[:, :, 1:] - x[:, :, :-1], (0, 0, 0, 1))
    nu2 = torch.exp(2 * th["logNu"])
    return 0.5 * torch.sum((x - y) ** 2) + torch.exp(th["logAlpha"]) * torch.sum(torch.sqrt(dv * dv + dh * dh + nu2))


ENERGIES = {"foe": foe_energy, "tv": tv_energy}


def gradient(energy, x, th, y):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(energy(x, th, y), x)[0]


def hvp(energy, x, th, y, v):
    # reverse-over-reverse (double backward): measured faster in PyTorch than torch.func's
    # forward-over-reverse jvp(grad) for these convolutions
    x = x.detach().requires_grad_(True)
    g = torch.autograd.grad(energy(x, th, y), x, create_graph=True)[0]
    return torch.autograd.grad(g, x, grad_outputs=v)[0]


def mixed(energy, x, th, y, v):
    leaves = {k: p.detach().requires_grad_(True) for k, p in th.items()}
    xx = x.detach().requires_grad_(True)
    g = torch.autograd.grad(energy(xx, leaves, y), xx, create_graph=True)[0]
    grads = torch.autograd.grad(torch.sum(g * v), list(leaves.values()))
    return dict(zip(leaves.keys(), grads))


def hypergradient(energy, th, y, clean, step, gd_steps, cg_steps):
    """GD from y with a fixed step, CG on H q = ∇ₓℓ, then −mixed(x, q); ℓ = (1/n)·½‖x − clean‖²."""
    n = y.shape[0]
    with torch.no_grad():
        x = y.clone()
    for _ in range(gd_steps):
        x = x - step * gradient(energy, x, th, y)
    x = x.detach()
    b = (x - clean) / n
    q = conjugate_gradients(lambda u: hvp(energy, x, th, y, u).detach(), b, cg_steps, OPS)
    g = mixed(energy, x, th, y, q)
    loss = float(0.5 * torch.sum((x - clean) ** 2) / n)
    return {k: -v.detach() for k, v in g.items()}, loss


def sync(out):
    return out


def jobs(spec):
    """Every timed call of the spec, by name: (call, encode its result for the cross-check)."""
    out = {}

    def primitive(case):
        x, y, v = t(case["x"]), t(case["y"]), t(case["v"])
        th = {k: t(case["theta"][k]) for k in case["theta"]}
        b = case["batch"]
        out[f"b{b}.gradient"] = (lambda: gradient(foe_energy, x, th, y), lambda g: {"gradient": flat(g)})
        out[f"b{b}.hvp"] = (lambda: hvp(foe_energy, x, th, y, v), lambda h: {"hvp": flat(h.detach())})
        out[f"b{b}.mixed"] = (lambda: mixed(foe_energy, x, th, y, v), lambda m: {f"mixed.{k}": flat(m[k]) for k in m})

    for case in spec["primitives"]:
        primitive(case)
    hg = spec.get("hypergradient")
    if hg is not None:
        hth = {k: t(hg["theta"][k]) for k in hg["theta"]}
        hy, hclean = t(hg["y"]), t(hg["clean"])
        out["hypergradient"] = (
            lambda: hypergradient(foe_energy, hth, hy, hclean, hg["step"], hg["gdSteps"], hg["cgSteps"]),
            lambda r: {"loss": r[1], "grad": {k: flat(r[0][k]) for k in r[0]}},
        )

    def training(run):
        energy = ENERGIES[run["model"]]
        y, clean = t(run["y"]), t(run["clean"])

        def train():
            th = {k: t(run["theta"][k]) for k in run["theta"]}
            adam, losses = Adam(run["lr"]), []
            for _ in range(run["outer"]):
                step = run["step"] if run["model"] == "foe" else 1 / (1 + 8 * float(torch.exp(th["logAlpha"])) / float(torch.exp(th["logNu"])))
                g, loss = hypergradient(energy, th, y, clean, step, run["gdSteps"], run["cgSteps"])
                losses.append(loss)
                th = adam.step(th, g, torch.sqrt)
            return th, losses

        out[f"train.{run['model']}"] = (train, lambda r: {"losses": r[1], "theta": {k: flat(r[0][k]) for k in r[0]}})

    for run in spec["training"]:
        training(run)
    return out


def main():
    spec = load(sys.argv[1])
    serve({"framework": "PyTorch", "version": torch.__version__, "threads": torch.get_num_threads()}, jobs(spec), sync)


if __name__ == "__main__":
    main()

/**
 * The FoE's upper level at its start: the hypergradient h = ∇_V F at θ₀ split into the filters' means
 * (h_m: per filter, the mean of its taps on every tap) and the zero-mean rest (h_0), and the curvature of the
 * training loss F along each, κ_d = 2(F(θ₀ − t d) − F(θ₀) + t⟨h, d⟩)/t² for unit d = h_m/‖h_m‖, h_0/‖h_0‖
 * (the largest step plain gradient descent can take is ≈ 2/κ of the stiffest direction). Every solve to PDHG
 * residual `--tol`; F = ½‖x̂ − x†‖²/B on the training phantoms.
 *
 *   cd examples/ct-sparse-view && npx tsx --conditions=@bilevel/source scripts/foe-conditioning.ts [--mu foe=0.001] [--epsilon foe=1e-4] [--netInitAlpha 4.26e-3] [--steps 1e-3,1e-2]
 *
 * `--mu` / `--epsilon` are main.ts's per-row flags (src/smoothing.ts; a misspelt or repeated row, a bare number or a
 * value ≤ 0 is an error naming it); this script reads the `foe` row: the FoE's μ_g and the Huber ε of its 'tv' start.
 */
import { tf, initBackend, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { parseFlags } from '@bilevel/cli';
import { ctContext, disposeContext } from '../src/context.js';
import { CONVEX_NETWORK_FLAGS, networkSetup, type NetworkData } from '../src/network-saddle.js';
import { meanScaled } from '../src/filter-mean.js';
import { SMOOTHING_FLAGS, smoothingRows } from '../src/smoothing.js';

const flags = parseFlags({
  size: 32, angles: 20, noise: 0.02, count: 3, test: 2, seed: 0, tol: 1e-5, maxIter: 20000,
  steps: '1e-3,1e-2', ...SMOOTHING_FLAGS, ...CONVEX_NETWORK_FLAGS, netInitAlpha: '4.26e-3', netMeanScale: 1, tvPrecondition: 'diagonal',
});
// a bad --mu / --epsilon stops the script here, before the backend starts
const smoothing = smoothingRows(flags).foe;

await initBackend({ log: false });
const ctx = ctContext(flags as never);
const setup = networkSetup(ctx, 1, smoothing);
const { saddle, steps } = setup;
const count = ctx.train.t.shape[0]!;
const loss = (u: tf.Tensor, _th: Params, d: NetworkData) => tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
const tol = Number(flags.tol);
const value = (V: tf.Tensor): { value: number; iterations: number } => {
  const s = piggyback({ warmStart: false, ...steps });
  const r = s.value!({ problem: saddle.problem as never, theta: { V }, data: setup.train as never, loss: loss as never, tol, maxIter: Number(flags.maxIter) });
  const out = { value: r.value, iterations: r.work.innerIterations };
  r.dispose();
  s.dispose();
  return out;
};
const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight: setup.start.mu, certificate: 'estimated', ...steps });
const h = hypergradient({ problem: saddle.problem, theta: setup.theta0, data: setup.train, loss, strategy, tol, linearTol: tol, maxIter: Number(flags.maxIter), linearMaxIter: Number(flags.maxIter) });
const F0 = h.value;
const hm = tf.sub(h.grad.V, meanScaled(h.grad.V, 0));
const h0 = meanScaled(h.grad.V, 0);
const norm = (t: tf.Tensor) => tf.norm(t).dataSync()[0];
console.log(`F(θ₀) = ${F0.toFixed(5)}, ‖h‖ = ${norm(h.grad.V).toExponential(3)} (means ${norm(hm).toExponential(3)}, zero-mean part ${norm(h0).toExponential(3)}), bound ${h.bound?.toExponential(2)}, work ${h.work.innerIterations} + ${h.work.linearIterations}`);
const perFilter = tf.tidy(() => tf.sqrt(tf.sum(tf.square(h.grad.V), [0, 1, 2])).arraySync() as number[]);
console.log(`‖h_k‖ per filter: ${perFilter.map((v) => v.toFixed(2)).join(', ')}`);
for (const [name, part] of [['means', hm], ['zero-mean', h0]] as const) {
  const g = norm(part);
  const d = tf.div(part, g);
  for (const t of String(flags.steps).split(',').map(Number)) {
    const V = tf.tidy(() => tf.sub(setup.theta0.V, tf.mul(d, t)));
    const r = value(V);
    V.dispose();
    const kappa = (2 * (r.value - F0 + t * g)) / (t * t);
    console.log(`${name}: t = ${t}: F = ${r.value.toFixed(5)} (linear ${(F0 - t * g).toFixed(5)}), κ ≈ ${kappa.toExponential(2)}, 2/κ = ${(2 / kappa).toExponential(2)} (${r.iterations} PDHG)`);
  }
  d.dispose();
}
tf.dispose([hm, h0]);
h.dispose();
strategy.dispose();
setup.dispose();
disposeContext(ctx);

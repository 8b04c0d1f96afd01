/**
 * PDHG step rules on this example's saddles (TV (Huber), FoE (35), ICNN (33)), measured: PDHG + adjoint
 * iterations of one certified piggyback hypergradient at tol = linearTol, for constant steps (σ/τ = 1),
 * piggyback's `adaptiveSteps: 'balance'` / `'search'`, and `precondition: 'diagonal'` (Pock & Chambolle
 * 2011, α = 1; alone and with 'balance'), with each hypergradient's relative difference to a reference
 * (`--reference`, default `precondition: 'diagonal'`, at `--refTol`). Owned by piggyback's measurements (issue 13); it only reads
 * the example's context and problems, adding the diagonal-step declarations to the TV problem here.
 *
 *   cd examples/ct-sparse-view && npx tsx --conditions=@bilevel/source scripts/pdhg-steps.ts [--size 32] [--tol 1e-4] [--models tv,foe,icnn] [--step 0]
 *
 * `--mu` / `--epsilon` are main.ts's per-row flags (src/smoothing.ts; a misspelt or repeated row, a bare number or a
 * value ≤ 0 is an error naming it): μ_g and the Huber ε (TV's dual, the networks' 'tv' start) of each model, TV
 * taking the `tv-maid` row, the FoE `foe`, the ICNN `icnn`.
 * `--step h` moves θ one normalised gradient step of length h first (the networks' filters grow after training starts).
 */
import { tf, initBackend, hypergradient, disposeParams } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import type { PiggybackOptions } from '@bilevel/piggyback';
import { parseFlags } from '@bilevel/cli';
import { ctContext, disposeContext, type CtSet } from '../src/context.js';
import { tvProblem } from '../src/tv-problem.js';
import { CONVEX_NETWORK_FLAGS, networkSetup } from '../src/network-saddle.js';
import { SMOOTHING_FLAGS, smoothingRows, modelRow } from '../src/smoothing.js';

// the networks as the FoE / ICNN rows build them (network-saddle.ts: Â = scaledOperator(A, 1/‖A‖), --netAnchor, --netInit)
const flags = parseFlags({ size: 32, angles: 20, noise: 0.02, count: 3, test: 1, seed: 0, ...SMOOTHING_FLAGS, alpha: 0.02, tol: 1e-4, refTol: 1e-6, maxIter: 30000, models: 'tv,foe,icnn', step: 0, variants: 'diagonal,constant,balance,diagonal+balance,search', reference: 'diagonal', ...CONVEX_NETWORK_FLAGS });

// each model's μ and ε (its row's); a bad --mu / --epsilon or --models stops the script here, before the backend
const rows = smoothingRows(flags);
const models = String(flags.models).split(',').map((model) => ({ model, smoothing: rows[modelRow('pdhg-steps.ts', model)] }));

const VARIANTS: Record<string, PiggybackOptions> = {
  constant: {}, balance: { adaptiveSteps: 'balance' }, search: { adaptiveSteps: 'search' },
  diagonal: { precondition: 'diagonal' }, 'diagonal+balance': { precondition: 'diagonal', adaptiveSteps: 'balance' },
};

async function main() {
  await initBackend();
  const ctx = ctContext(flags as never);
  const count = ctx.train.t.shape[0]!;
  const tol = Number(flags.tol);
  const maxIter = Number(flags.maxIter);
  console.log(`CT ${flags.size}², ${flags.angles} angles, ${count} phantoms; tol = linearTol = ${tol}; backend ${tf.getBackend()}`);
  for (const { model, smoothing } of models) {
    const { mu, epsilon } = smoothing;
    let problem: SaddleProblem<never>;
    let theta: Params;
    let data: never;
    let loss: (u: tf.Tensor, th: Params, d: never) => tf.Tensor;
    let lossWeight: number;
    let free = () => {};
    if (model === 'tv') {
      problem = tvProblem(ctx, mu, epsilon) as never;
      theta = { logAlpha: tf.scalar(Math.log(Number(flags.alpha))) };
      data = ctx.train as never;
      loss = (x, _th, d: CtSet) => tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(x, d.t)))));
      lossWeight = mu;
    } else {
      const setup = networkSetup(ctx, model === 'foe' ? 1 : 2, smoothing);
      const saddle = setup.saddle;
      problem = saddle.problem as never;
      theta = setup.theta0;
      data = setup.train as never;
      loss = (u, _th, dd: { t: tf.Tensor }) => tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(saddle.image(u), dd.t)))));
      lossWeight = mu;
      free = () => tf.dispose([setup.train.y, setup.test.y]);
    }
    const run = (opts: PiggybackOptions, t: number, th: Params) => {
      const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight, warmStart: false, maxIter, linearMaxIter: maxIter, ...opts });
      const t0 = performance.now();
      const r = hypergradient({ problem, theta: th, data, loss, strategy, tol: t, linearTol: t });
      const ms = performance.now() - t0;
      const grad = Object.keys(r.grad).sort().flatMap((k) => Array.from(r.grad[k].dataSync()));
      const out = { grad, pdhg: r.work.innerIterations, adjoint: r.work.linearIterations, ms, status: r.status, bound: r.bound, message: r.message };
      r.dispose();
      strategy.dispose();
      return out;
    };
    if (Number(flags.step) > 0) {
      // one normalised gradient step on θ (filters grow once training starts; the best ratio moves)
      const g = run({ adaptiveSteps: 'balance' }, 1e-4, theta);
      const norm = Math.hypot(...g.grad);
      let at = 0;
      const moved: Params = {};
      for (const k of Object.keys(theta).sort()) {
        const size = theta[k].size;
        const step = tf.tensor(g.grad.slice(at, at + size), theta[k].shape);
        moved[k] = tf.sub(theta[k], tf.mul(step, Number(flags.step) / norm));
        step.dispose();
        at += size;
      }
      disposeParams(theta);
      theta = moved;
    }
    // the variants first (their iteration counts print as they finish), then the reference for the differences
    const results: Array<{ name: string; grad: number[] }> = [];
    for (const name of String(flags.variants).split(',')) {
      const r = run(VARIANTS[name], tol, theta);
      results.push({ name, grad: r.grad });
      const ratio = /σ\/τ [0-9.e+-]+ → ([0-9.e+-]+)/.exec(r.message)?.[1];
      console.log(`| ${model} | ${name} | ${r.pdhg} + ${r.adjoint} | ${(r.ms / 1000).toFixed(1)} s | ${r.bound?.toExponential(1) ?? '-'} | ${r.status}${ratio != null ? `, σ/τ → ${ratio}` : ''} |`);
    }
    const ref = run(VARIANTS[String(flags.reference)], Number(flags.refTol), theta);
    console.log(`${model}: reference (${flags.reference}, tol ${flags.refTol}) ${ref.pdhg} + ${ref.adjoint} iterations, ${(ref.ms / 1000).toFixed(1)} s, ${ref.status}`);
    const refNorm = Math.hypot(...ref.grad);
    for (const { name, grad } of results) console.log(`${model} ${name}: relative hypergradient difference to the reference ${(Math.hypot(...grad.map((v, i) => v - ref.grad[i])) / refNorm).toExponential(1)}`);
    disposeParams(theta);
    free();
  }
  disposeContext(ctx);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

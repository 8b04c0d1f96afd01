/**
 * PDHG step rules on the §4.1 dual-side learned-TV saddle (dual.ts), measured: PDHG + adjoint iterations of
 * one certified piggyback hypergradient at tol = linearTol for constant steps (σ/τ = 1), `adaptiveSteps:
 * 'balance'` / `'search'` and `precondition: 'diagonal'` (Pock & Chambolle 2011, α = 1; alone and with
 * 'search'), with each hypergradient's relative difference to a reference (`'search'` at tol 1e-5).
 * Owned by piggyback's measurements (issue 13); it only reads dual.ts (whose saddle declares the diagonal steps).
 *
 *   cd examples/tv-discretisation && npx tsx --conditions=@bilevel/source scripts/pdhg-steps.ts [--crop 16] [--count 2] [--tol 1e-3]
 */
import { tf, initBackend, hypergradient, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import type { PiggybackOptions } from '@bilevel/piggyback';
import { parseFlags } from '@bilevel/cli';
import { dualLearnedTV, dualIdentityStencils, imageOf } from '../src/dual.js';
import { halfCrops } from '../src/crops.js';
import type { DenoisingPair } from '../src/discretisation.js';

const flags = parseFlags({ crop: 16, count: 2, sigma: 0.1, images: 'camera,coins,astronaut', stencil: 3, filters: 4, epsilonQ: 0.003, epsilonY: 0.003, lambda: 0.04, tol: 1e-3, refTol: 1e-5, maxIter: 30000, variants: 'constant,balance,search,diagonal,diagonal+search' });

const VARIANTS: Record<string, PiggybackOptions> = {
  constant: {}, balance: { adaptiveSteps: 'balance' }, search: { adaptiveSteps: 'search' },
  diagonal: { precondition: 'diagonal' }, 'diagonal+search': { precondition: 'diagonal', adaptiveSteps: 'search' },
};

async function main() {
  await initBackend();
  const count = Number(flags.count);
  const data = halfCrops({ images: String(flags.images), crop: Number(flags.crop), sigma: Number(flags.sigma) }, 'left', count, 1);
  const n = Number(flags.filters);
  const problem = dualLearnedTV({ filters: n, epsilonQ: Number(flags.epsilonQ), epsilonY: Number(flags.epsilonY) });
  const theta: Params = { stencils: dualIdentityStencils(Number(flags.stencil), n), logLambda: tf.scalar(Math.log(Number(flags.lambda))) };
  const loss = (u: tf.Tensor, _th: Params, d: DenoisingPair) => tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(u), d.clean)))), u.shape[0]!));
  const maxIter = Number(flags.maxIter);
  const run = (opts: PiggybackOptions, tol: number) => {
    const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight: 1, warmStart: false, maxIter, linearMaxIter: maxIter, ...opts });
    const t0 = performance.now();
    const r = hypergradient({ problem, theta, data, loss, strategy, tol, linearTol: tol });
    const ms = performance.now() - t0;
    const grad = Object.keys(r.grad).sort().flatMap((k) => Array.from(r.grad[k].dataSync()));
    const out = { grad, pdhg: r.work.innerIterations, adjoint: r.work.linearIterations, ms, status: r.status, bound: r.bound, message: r.message };
    r.dispose();
    strategy.dispose();
    return out;
  };
  console.log(`§4.1 dual-side learned TV: ${count} crops ${flags.crop}², ${n} filters ${flags.stencil}×${flags.stencil}, λ = ${flags.lambda}, ε_q = ε_y = ${flags.epsilonQ}; tol = linearTol = ${flags.tol}; backend ${tf.getBackend()}`);
  const ref = run({ adaptiveSteps: 'search' }, Number(flags.refTol));
  console.log(`reference (search, tol ${flags.refTol}) ${ref.pdhg} + ${ref.adjoint} iterations, ${(ref.ms / 1000).toFixed(1)} s, ${ref.status}`);
  const refNorm = Math.hypot(...ref.grad);
  for (const name of String(flags.variants).split(',')) {
    const r = run(VARIANTS[name], Number(flags.tol));
    const diff = Math.hypot(...r.grad.map((v, i) => v - ref.grad[i])) / refNorm;
    const ratio = /σ\/τ [0-9.e+-]+ → ([0-9.e+-]+)/.exec(r.message)?.[1];
    console.log(`| learned TV §4.1 | ${name} | ${r.pdhg} + ${r.adjoint} | ${(r.ms / 1000).toFixed(1)} s | ${diff.toExponential(1)} | ${r.bound?.toExponential(1) ?? '-'} | ${r.status}${ratio != null ? `, σ/τ → ${ratio}` : ''} |`);
  }
  disposeParams(theta);
  tf.dispose([data.y, data.clean]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

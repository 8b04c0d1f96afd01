/**
 * Whether the untrained FoE / ICNN of `--netInit tv` / `--icnnInit tv` is TV-MAID's model: held-out PSNR / SSIM
 * and training loss ½‖x̂ − x†‖²/B of TV-MAID's Huber-TV (isotropic, α, ε, anchored at FBP, μ) against the
 * FoE with the 8-direction filters of `tv-filters.ts` at the same α, ε, anchor and μ, and the ICNN built on
 * that FoE — every solve to the same PDHG residual `--tol`.
 *
 *   cd examples/ct-sparse-view && npx tsx --conditions=@bilevel/source scripts/tv-start.ts [--alpha 4.26e-3] [--tol 1e-5] [--models tv,foe,icnn] [--mu tv-maid=0.01,foe=0.01,icnn=0.01] [--epsilon tv-maid=2e-4,foe=2e-4,icnn=2e-4]
 *
 * `--mu` / `--epsilon` are main.ts's per-row flags (src/smoothing.ts: row=value pairs over the rows' defaults; a
 * misspelt or repeated row, a bare number or a value ≤ 0 is an error naming it): TV takes the `tv-maid` row, the FoE
 * `foe`, the ICNN `icnn`. For the start against TV-MAID's model at the same μ and ε, give all three the same values.
 */
import { tf, initBackend } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { parseFlags } from '@bilevel/cli';
import { ctContext, disposeContext, type CtSet } from '../src/context.js';
import { tvProblem } from '../src/tv-problem.js';
import { CONVEX_NETWORK_FLAGS, networkSetup } from '../src/network-saddle.js';
import { SMOOTHING_FLAGS, smoothingRows, modelRow } from '../src/smoothing.js';

const flags = parseFlags({
  size: 32, angles: 20, noise: 0.02, count: 3, test: 2, seed: 0, ...SMOOTHING_FLAGS, alpha: 4.26e-3, tol: 1e-5, maxIter: 20000,
  models: 'tv,foe,icnn', ...CONVEX_NETWORK_FLAGS, netInitAlpha: '', tvPrecondition: 'diagonal',
});
// each model's μ and ε (its row's); a bad --mu / --epsilon or --models stops the script here, before the backend
const rows = smoothingRows(flags);
const models = String(flags.models).split(',').map((model) => ({ model, smoothing: rows[modelRow('tv-start.ts', model)] }));

await initBackend({ log: false });
const ctx = ctContext(flags as never);
ctx.flags.netInitAlpha = String(flags.alpha);
const solve = (problem: SaddleProblem<never>, theta: Params, data: unknown, options: object) => {
  const s = piggyback({ warmStart: false, ...options });
  const r = s.solve({ problem, theta, data: data as never, tol: Number(flags.tol), maxIter: Number(flags.maxIter) });
  s.dispose();
  return r;
};
const score = (name: string, x: (set: 'train' | 'test') => { x: tf.Tensor; iterations: number }) => {
  const tr = x('train');
  const te = x('test');
  const count = ctx.train.t.shape[0]!;
  const loss = tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(tr.x, ctx.train.t)))).dataSync()[0]);
  const s = ctx.scores(te.x, ctx.test.t);
  console.log(`| ${name} | ${s.psnr.toFixed(3)} | ${s.ssim.toFixed(4)} | ${loss.toFixed(4)} | ${tr.iterations} + ${te.iterations} |`);
  tf.dispose([tr.x, te.x]);
};
console.log(`α = ${flags.alpha}, ${models.map(({ model, smoothing }) => `${model} μ = ${smoothing.mu}, ε = ${smoothing.epsilon}`).join('; ')}, anchor ${flags.netAnchor}, PDHG to residual ${flags.tol}`);
console.log('| model | held-out PSNR | SSIM | training loss | PDHG iterations (train + test) |');
for (const { model, smoothing } of models) {
  if (model === 'tv') {
    const problem = tvProblem(ctx, smoothing.mu, smoothing.epsilon, 'fbp') as SaddleProblem<never>;
    const theta = { logAlpha: tf.scalar(Math.log(Number(flags.alpha))) };
    score('TV-MAID\'s Huber-TV (isotropic)', (set) => {
      const r = solve(problem, theta, set === 'train' ? ctx.train : ctx.test as CtSet, { precondition: 'diagonal' });
      return { x: r.x, iterations: r.work.innerIterations };
    });
    theta.logAlpha.dispose();
  } else {
    const setup = networkSetup(ctx, model === 'foe' ? 1 : 2, smoothing);
    score(`${model} 'tv' start (γ = ${setup.start.gamma.toExponential(3)})`, (set) => {
      const r = solve(setup.saddle.problem as never, setup.theta0, set === 'train' ? setup.train : setup.test, setup.steps);
      const x = setup.saddle.image(r.x);
      r.x.dispose();
      return { x, iterations: r.work.innerIterations };
    });
    setup.dispose();
  }
}
disposeContext(ctx);

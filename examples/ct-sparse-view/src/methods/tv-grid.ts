/**
 * Plain TV (μ = ε = 0), α by a grid on the training MSE (the paper's TV α was hand-tuned), then
 * reconstructed held out. `--grid` lists the α values.
 */
import { tf } from '@bilevel/core';
import type { CtMethod } from '../context.js';
import { tvProblem, reconstruct } from '../tv-problem.js';
import { rowConvergence } from '../held-out.js';

export const tvGridMethod: CtMethod = {
  name: 'tv-grid',
  async run(ctx) {
    const t0 = performance.now();
    const problem = tvProblem(ctx, 0, 0);
    let work = 0;
    const tol = Number(ctx.flags.evalTol);
    const held = rowConvergence('ct-sparse-view tv-grid (the grid on the training set, then held out)', 'piggyback', `--evalMaxIter ${ctx.flags.evalMaxIter}`);
    const grid = String(ctx.flags.grid).split(',').map(Number).map((alpha) => {
      const r = reconstruct(ctx, problem, Math.log(alpha), ctx.train);
      held.check(r, tol);
      const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(tf.clipByValue(r.x, 0, 1), ctx.train.t))).dataSync()[0]);
      r.x.dispose();
      work += r.iterations;
      console.log(`TV grid α = ${alpha}: training MSE ${mse.toExponential(3)} (${r.iterations} PDHG iterations)`);
      return { alpha, mse, iterations: r.iterations, converged: r.converged };
    });
    const best = grid.reduce((a, b) => (b.mse < a.mse ? b : a));
    const rec = reconstruct(ctx, problem, Math.log(best.alpha), ctx.test);
    held.check(rec, tol);
    const s = ctx.scores(rec.x, ctx.test.t);
    rec.x.dispose();
    console.log(`TV (α = ${best.alpha}) held out: PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(3)} (${rec.iterations} PDHG iterations); grid and held out ${held.text()}`);
    const warning = held.warning();
    if (warning != null) console.warn(warning);
    return {
      rows: [{
        method: `TV, α = ${best.alpha} (best of the grid {${grid.map((g) => g.alpha).join(', ')}} on training MSE)`, PSNR: s.psnr.toFixed(2), SSIM: s.ssim.toFixed(3),
        'paper PSNR / SSIM': '28.68 / 0.74 (hand-tuned α)', parameters: '1', work: `${work} PDHG`, seconds: ((performance.now() - t0) / 1000).toFixed(1), converged: held.text(),
      }],
      summary: { grid },
    };
  },
};

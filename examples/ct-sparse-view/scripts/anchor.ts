/**
 * How much the strong-convexity term (μ/2)‖x‖² that the certified bounds need costs the TV
 * reconstruction here, and whether anchoring it at the FBP image, (μ/2)‖x − x_FBP‖² (same μ,
 * same bound constants), removes the bias: held-out PSNR of TV at a few α, at μ = 0 and at TV-MAID's μ,
 * toward 0 (`--zero 1`, ε = 0) and toward FBP with ε = 0 and with TV-MAID's Huber ε.
 *
 *   cd examples/ct-sparse-view && npx tsx --conditions=@bilevel/source scripts/anchor.ts [--alphas 0.003,0.01,0.03] [--mu tv-maid=0.01] [--epsilon tv-maid=2e-4] [--zero 0]
 *
 * `--mu` / `--epsilon` are main.ts's per-row flags (src/smoothing.ts: row=value pairs over the defaults, a
 * misspelt row or a value ≤ 0 is an error naming it); this script reads the `tv-maid` row, the one TV lower level.
 * A sweep over μ or ε is one run per value.
 */
import { initBackend } from '@bilevel/core';
import type { SaddleProblem } from '@bilevel/core';
import { fbp } from '@bilevel/imaging';
import { parseFlags } from '@bilevel/cli';
import { ctContext, type CtSet } from '../src/context.js';
import { tvProblem, reconstruct } from '../src/tv-problem.js';
import { SMOOTHING_FLAGS, smoothingRows } from '../src/smoothing.js';
import { rowConvergence } from '../src/held-out.js';

const flags = parseFlags({ size: 32, angles: 20, noise: 0.02, count: 3, test: 2, seed: 0, ...SMOOTHING_FLAGS, zero: 1, alphas: '0.003,0.01,0.03', evalTol: 1e-3, evalMaxIter: 3000, tvPrecondition: 'diagonal' });
// a misspelt row or a bad value stops the script here, before the backend starts
const { mu, epsilon: eps } = smoothingRows(flags)['tv-maid'];

await initBackend({ log: false });
const ctx = ctContext(flags as never);
const f = fbp(ctx.A, ctx.test.u);
console.log(`FBP held out: ${ctx.scores(f, ctx.test.t).psnr.toFixed(2)} dB`);
f.dispose();
const variants: Array<[string, SaddleProblem<CtSet>]> = [['μ = 0', tvProblem(ctx, 0, 0)]];
if (Number(flags.zero) !== 0) variants.push([`μ = ${mu}, toward 0`, tvProblem(ctx, mu, 0)]);
variants.push([`μ = ${mu}, toward FBP`, tvProblem(ctx, mu, 0, 'fbp')]);
variants.push([`μ = ${mu}, toward FBP, ε = ${eps}`, tvProblem(ctx, mu, eps, 'fbp')]);
for (const alpha of String(flags.alphas).split(',').map(Number)) {
  const held = rowConvergence(`anchor.ts α = ${alpha}`, 'piggyback', `--evalMaxIter ${flags.evalMaxIter}`);
  const row = variants.map(([name, problem]) => {
    const r = reconstruct(ctx, problem, Math.log(alpha), ctx.test);
    held.check(r, Number(flags.evalTol));
    const s = ctx.scores(r.x, ctx.test.t);
    r.x.dispose();
    return `${name}: ${s.psnr.toFixed(2)} dB / ${s.ssim.toFixed(3)} (${r.iterations} it${r.converged ? '' : ', not converged'})`;
  });
  console.log(`α = ${alpha}: ${row.join(' | ')}; ${held.text()}`);
  const warning = held.warning();
  if (warning != null) console.warn(warning);
}

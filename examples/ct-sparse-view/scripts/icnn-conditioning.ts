/**
 * The ICNN saddle (33) at its TV start, measured: for each setting (ε_z = zWeight, ε₂ = dualSmoothing, gain),
 * PDHG + adjoint iterations, their observed contraction ρ̂ and the seconds of ONE estimated-bound piggyback
 * hypergradient at tol = linearTol = `--tol` (MAID's ε₀ = 1e-3), with the ICNN row's steps (diagonal + balance),
 * and optionally (`--score`) the start's held-out PSNR / SSIM, i.e. what the setting costs the model.
 *
 *   cd examples/ct-sparse-view && npx tsx --conditions=@bilevel/source scripts/icnn-conditioning.ts \
 *     --size 16 --angles 12 --settings 1e-4/0.01/10,1e-3/1/10 [--tol 1e-3] [--score]
 *
 * `--mu` / `--epsilon` are main.ts's per-row flags (src/smoothing.ts; a misspelt or repeated row, a bare number or a value ≤ 0 is an error naming it): the `icnn` row's (the `foe` row's with `--layers 1`) μ_g and Huber ε of the 'tv' start, for every setting. `--preconditionAlpha` is Pock & Chambolle's α of the diagonal steps (1). `--layers 1` measures the FoE (35) instead (ε_z, ε₂, gain unused). A setting is `zWeight/dualSmoothing/gain` (any other flag of the ICNN row, e.g. --netPrecondition, applies to all).
 */
import { tf, initBackend, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { parseFlags } from '@bilevel/cli';
import { ctContext, disposeContext } from '../src/context.js';
import { CONVEX_NETWORK_FLAGS, networkSetup } from '../src/network-saddle.js';
import { SMOOTHING_FLAGS, smoothingRows } from '../src/smoothing.js';

const flags = parseFlags({
  size: 16, angles: 12, noise: 0.02, count: 3, test: 2, seed: 0, ...SMOOTHING_FLAGS, tol: 1e-3, maxIter: 5000,
  settings: '1e-4/0.01/10', score: false, layers: 2, preconditionAlpha: 1, ...CONVEX_NETWORK_FLAGS,
});
// the ICNN's μ and ε (the FoE's with --layers 1); a bad --mu / --epsilon stops the script here, before the backend
const smoothing = smoothingRows(flags)[Number(flags.layers) === 1 ? 'foe' : 'icnn'];

const rate = (message: string, which: 'PDHG' | 'adjoint') => new RegExp(`${which} ρ̂ = ([0-9.e+-]+)`).exec(message)?.[1] ?? '-';

async function main() {
  await initBackend();
  const base = ctContext(flags as never);
  const count = base.train.t.shape[0]!;
  const tol = Number(flags.tol);
  const maxIter = Number(flags.maxIter);
  console.log(`ICNN at its TV start, ${flags.size}², ${flags.angles} angles, ${count} phantoms; tol = linearTol = ${tol}, caps ${maxIter}; backend ${tf.getBackend()}`);
  console.log('| ε_z | ε₂ | gain | PDHG + adjoint | PDHG ρ̂ | adjoint ρ̂ | ‖h‖ | bound | s | start held out |');
  for (const setting of String(flags.settings).split(',')) {
    const [zWeight, dualSmoothing, gain] = setting.split('/').map(Number);
    const ctx = { ...base, flags: { ...base.flags, zWeight, dualSmoothing, icnnGain: gain } };
    const setup = networkSetup(ctx as never, Number(flags.layers) === 1 ? 1 : 2, smoothing);
    const { saddle } = setup;
    const loss = (u: tf.Tensor, _th: Params, d: { t: tf.Tensor }) => tf.tidy(() => tf.mul(0.5 / count, tf.sum(tf.square(tf.sub(saddle.image(u), d.t)))));
    const strategy = piggyback({ lossLipschitz: 1 / count, lossWeight: smoothing.mu, certificate: 'estimated', maxIter, linearMaxIter: maxIter, ...setup.steps, preconditionAlpha: Number(flags.preconditionAlpha) });
    const t0 = performance.now();
    const r = hypergradient({ problem: saddle.problem, theta: setup.theta0, data: setup.train, loss, strategy, tol, linearTol: tol });
    const seconds = (performance.now() - t0) / 1000;
    const h = Math.hypot(...Object.values(r.grad).flatMap((g) => Array.from(g.dataSync())));
    let scored = '-';
    if (flags.score === true) {
      const s = piggyback({ warmStart: false, ...setup.steps });
      const e = s.solve({ problem: saddle.problem, theta: setup.theta0, data: setup.test, tol: Number(flags.netEvalTol), maxIter: Number(flags.netEvalMaxIter) });
      const x = saddle.image(e.x);
      const sc = base.scores(x, base.test.t);
      scored = `${sc.psnr.toFixed(2)} / ${sc.ssim.toFixed(3)} (${e.work.innerIterations} it)`;
      tf.dispose([x, e.x]);
      s.dispose();
    }
    console.log(`| ${zWeight} | ${dualSmoothing} | ${gain} | ${r.work.innerIterations} + ${r.work.linearIterations} | ${rate(r.message, 'PDHG')} | ${rate(r.message, 'adjoint')} | ${h.toExponential(2)} | ${r.bound?.toExponential(2) ?? '-'} | ${seconds.toFixed(1)} | ${scored} |`);
    r.dispose();
    strategy.dispose();
    setup.dispose();
  }
  disposeContext(base);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

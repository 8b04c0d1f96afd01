/**
 * The §4.1 comparison of Bogensperger, Ehrhardt, Pock, Salehi & Wong (2024), scaled down: the
 * learned TV discretisation with the interpolation on the dual side (eqs. (27)–(29), `dual.ts`),
 * trained with the same initial (ε₀, δ₀, α₀) by
 *   - standard TV: stencils fixed at the identity, only log λ learned (MAID);
 *   - non-adaptive inexact piggyback: gradient descent with ε, δ and the step α kept fixed
 *     (`hoag` with constant schedules), for several α;
 *   - adaptive MAID (Algorithm 3 on certified inexact piggyback, Algorithm 2);
 * each to the same total lower-level work (PDHG + adjoint iterations); loss versus work as SVG
 * and held-out PSNR at that matched work.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-discretisation compare
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-discretisation compare -- --count 32 --filters 8 --stencil 5 --work 100000
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tf, initBackend, disposeParams, checkOptions, opt, paramsFromArrays, paramsToArrays } from '@bilevel/core';
import type { Params, Loss, SaddleProblem } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, hoag, train } from '@bilevel/outer';
import type { Method, ParamsArrays } from '@bilevel/outer';
import { psnr, ssim } from '@bilevel/imaging';
import { parseFlags, outputFolder, writeJson, plotLossVersusWork, markdownTable } from '@bilevel/cli';
import type { DenoisingPair } from './discretisation.js';
import { halfCrops } from './crops.js';
import { dualLearnedTV, dualIdentityStencils, imageOf } from './dual.js';

const flags = parseFlags({
  crop: 32,
  count: 8, // training crops (paper: 32 images of 128²)
  test: 8, // held-out crops
  sigma: 0.1, // 25.5/255, as the paper
  images: 'camera,coins,astronaut',
  stencil: 3, // paper: 5
  filters: 4, // paper: 8
  epsilonQ: 0.003, // smoothing of (29), see dual.ts
  epsilonY: 0.003,
  lambda: 0.04, // initial λ (standard TV's learned α is ≈ 0.08 in main.ts, primal variant)
  tol0: 1e-2, // ε₀ = δ₀ (absolute residual tolerances over the batch)
  step0: 1e-2, // α₀
  alphas: '0.01,0.1', // the fixed steps of the non-adaptive runs
  work: 6000, // total PDHG + adjoint iterations per run
  evalTol: 1e-3,
  certificate: 'estimated', // MAID's bound: 'estimated' (extrapolated, not certified) or 'certified' (Theorem 2); 'both' runs MAID with each, 'none' skips MAID
  tv: true, // run standard TV (--no-tv skips it: with --alphas '' and --certificate none, one process per method, then --merge)
  merge: '', // comma list of --out folders of earlier runs: merge their rows and histories into one table and plot (no training)
  adaptiveSteps: 'search', // piggyback's σ/τ adaptation in every run: 'search' (measured best here, README), 'balance' or 'false'
  precondition: 'diagonal', // piggyback's diagonal steps (Pock & Chambolle 2011): 'diagonal' (measured best here with 'search', README), 'primal', 'dual' or 'false'

  seed: 0,
  out: 'out/tv-discretisation-compare',
});

// --adaptiveSteps, --precondition through core's option mechanism: a misspelled value is an error naming the option and its values.
type StepFlags = { adaptiveSteps: false | 'balance' | 'search'; precondition: false | 'diagonal' | 'primal' | 'dual' };
function stepFlags(): StepFlags {
  const off = (v: string) => (v === 'false' ? false : v);
  try {
    return checkOptions<StepFlags>('tv-discretisation compare', { adaptiveSteps: off(flags.adaptiveSteps), precondition: off(flags.precondition) } as StepFlags, {
      adaptiveSteps: opt.oneOf([false, 'balance', 'search'], 'pass --adaptiveSteps search, balance or false'),
      precondition: opt.oneOf([false, 'diagonal', 'primal', 'dual'], 'pass --precondition false, diagonal, primal or dual'),
    });
  } catch (e) {
    console.error((e as Error).message); // one line and exit 2, like parseFlags' usage errors
    process.exit(2);
  }
}
const { adaptiveSteps, precondition } = stepFlags();

await initBackend();
const started = performance.now();
const cpuStarted = process.cpuUsage();
/** CPU seconds (user + system) of this process since `c0`: the wall time is the machine's load as much as ours. */
const cpuSince = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };
const out = outputFolder(flags.out);
const trainSet = halfCrops(flags, 'left', flags.count, 2 * flags.seed + 1);
const testSet = halfCrops(flags, 'right', flags.test, 2 * flags.seed + 2);
// ½‖x̂ − x†‖² / B on the image channel: L₁ = 1/B.
const loss: Loss<DenoisingPair> = (u, _theta, data) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(u), data.clean)))), u.shape[0]!);

const common = { filters: flags.filters, epsilonQ: flags.epsilonQ, epsilonY: flags.epsilonY };
const identity = dualIdentityStencils(flags.stencil, flags.filters);
const tvStencils = dualIdentityStencils(flags.stencil, 1);
const tvProblem = dualLearnedTV({ ...common, filters: 1, fixedStencils: tvStencils });
const learnedProblem = dualLearnedTV(common);

/** A run; `matched` is θ after the last iteration whose cumulative work was still ≤ --work (θ₀ if the first one overshot): one MAID iteration near stationarity can cost several budgets. */
interface Run { label: string; history: Array<{ work: number; loss: number; eps: number; step: number }>; theta: Params; matched: { theta: ParamsArrays; work: number; iterations: number }; seconds: number; cpuSeconds: number; work: { innerIterations: number; linearIterations: number }; status: string }
async function run(label: string, problem: SaddleProblem<DenoisingPair>, theta0: Params, method: Method<never>, certificate: 'certified' | 'estimated' = 'certified'): Promise<Run> {
  const strategy = piggyback({ lossLipschitz: 1 / flags.count, lossWeight: 1, certificate, adaptiveSteps, precondition });
  const history: Run['history'] = [];
  let matched: Run['matched'] = { theta: paramsToArrays(theta0) as ParamsArrays, work: 0, iterations: 0 };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const result = await train({
    method, problem, strategy, data: trainSet, loss, theta0,
    budget: { work: flags.work, iterations: 100000 },
    onProgress: (e, theta) => {
      history.push({ work: e.work, loss: e.loss, eps: e.eps, step: e.step });
      if (e.work <= flags.work) matched = { theta: structuredClone(theta), work: e.work, iterations: history.length };
      if (history.length % 5 === 1) console.log(`${label} ${e.iteration}: loss ${e.loss.toExponential(4)}, ε ${e.eps.toExponential(2)}, step ${e.step.toExponential(2)}, work ${e.work}`);
    },
  });
  strategy.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuSince(c0);
  console.log(`${label}: ${history.length} iterations, loss ${history[0]?.loss.toExponential(4)} → ${history[history.length - 1]?.loss.toExponential(4)}, work ${result.work.innerIterations} + ${result.work.linearIterations}, ${seconds.toFixed(0)} s wall, ${cpuSeconds.toFixed(0)} s CPU, ${result.status}`);
  return { label, history, theta: result.theta, matched, seconds, cpuSeconds, work: result.work, status: result.status };
}
const learnedTheta0 = () => ({ stencils: identity.clone(), logLambda: tf.scalar(Math.log(flags.lambda)) });
const runs: Run[] = [];
const certificates = (flags.certificate === 'both' ? ['estimated', 'certified'] : flags.certificate === 'none' ? [] : [flags.certificate]) as Array<'certified' | 'estimated'>;
if (flags.merge === '') {
  if (flags.tv) {
    const tvTheta0 = { logLambda: tf.scalar(Math.log(flags.lambda)) };
    runs.push(await run('standard TV (MAID, λ only)', tvProblem, tvTheta0, maid({ tol0: flags.tol0, step0: flags.step0 }) as never, certificates[0] ?? 'estimated'));
    tvTheta0.logLambda.dispose();
  }
  for (const a of flags.alphas.split(',').filter((v) => v !== '').map(Number)) {
    const t0 = learnedTheta0();
    runs.push(await run(`non-adaptive piggyback α = ${a}`, learnedProblem, t0, hoag({ schedule: flags.tol0, linearSchedule: flags.tol0, step: a }) as never));
    disposeParams(t0);
  }
  for (const certificate of certificates) {
    const t0 = learnedTheta0();
    runs.push(await run(`adaptive MAID (${certificate} bound)`, learnedProblem, t0, maid({ tol0: flags.tol0, step0: flags.step0 }) as never, certificate));
    disposeParams(t0);
  }
}

function heldOut(theta: Params) {
  const problem = theta.stencils == null ? tvProblem : learnedProblem;
  const strategy = piggyback({ warmStart: false, adaptiveSteps, precondition });
  const s = strategy.solve({ problem, theta, data: testSet, tol: flags.evalTol, maxIter: 20000 });
  strategy.dispose();
  const x = tf.tidy(() => tf.clipByValue(imageOf(s.x), 0, 1));
  s.x.dispose();
  const p = psnr(x, testSet.clean).mean;
  const q = ssim(x, testSet.clean).mean;
  x.dispose();
  return { psnr: p, ssim: q, evalIterations: s.work.innerIterations };
}
const noisyPsnr = tf.tidy(() => psnr(tf.clipByValue(testSet.y, 0, 1), testSet.clean).mean);
const paper: Record<string, string> = {
  'standard TV (MAID, λ only)': '25.82 (standard TV)',
  'adaptive MAID (estimated bound)': '26.88–26.90',
  'adaptive MAID (certified bound)': '26.88–26.90',
};
type Row = Record<string, string | number>;
const paperOf = (label: string) => paper[label] ?? '26.44–26.70 (non-adaptive, α = 1e-2, ε = δ = 1e-2, two points of the oscillation)';
let rows: Row[] = runs.map((r) => {
  const matchedTheta = paramsFromArrays(r.matched.theta);
  const m = heldOut(matchedTheta);
  disposeParams(matchedTheta);
  const f = r.matched.iterations === r.history.length ? m : heldOut(r.theta);
  return {
    method: r.label, 'held-out PSNR dB at matched work': m.psnr.toFixed(2), SSIM: m.ssim.toFixed(3), 'matched work (iterations)': `${r.matched.work} (${r.matched.iterations})`,
    'final train loss': r.history[r.history.length - 1]?.loss.toExponential(4) ?? '-', iterations: r.history.length,
    'total work (PDHG + adjoint)': `${r.work.innerIterations} + ${r.work.linearIterations}`, 'held-out PSNR dB at the end': f.psnr.toFixed(2),
    'ε at the end': r.history[r.history.length - 1]?.eps.toExponential(1) ?? '-', 'train s (wall / CPU)': `${r.seconds.toFixed(0)} / ${r.cpuSeconds.toFixed(0)}`, paper: paperOf(r.label),
  };
});
let histories = runs.map((r) => ({ label: r.label, history: r.history, seconds: r.seconds, cpuSeconds: r.cpuSeconds, work: r.work, status: r.status }));
if (flags.merge !== '') {
  const parts = flags.merge.split(',').map((dir) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { rows: Row[]; runs: typeof histories; cpuSeconds: number });
  rows = parts.flatMap((p) => p.rows);
  histories = parts.flatMap((p) => p.runs);
  console.log(`merged ${flags.merge}: ${parts.reduce((a, p) => a + p.cpuSeconds, 0).toFixed(0)} s CPU in all`);
}
console.log(`\nnoisy input: ${noisyPsnr.toFixed(2)} dB\n` + markdownTable(rows));
await plotLossVersusWork(join(out, 'loss-vs-work.svg'), histories.flatMap((r) => r.history.map((e) => ({ series: r.label, work: e.work, loss: e.loss }))), 'Dual-side learned TV: training loss versus lower-level work');
writeJson(join(out, 'summary.json'), { settings: flags, backend: tf.getBackend(), noisyPsnr, rows, runs: histories, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSince(cpuStarted) });
console.log(`wrote ${out}/{summary.json, loss-vs-work.svg} in ${((performance.now() - started) / 1000).toFixed(0)} s wall, ${cpuSince(cpuStarted).toFixed(0)} s CPU`);
for (const r of runs) disposeParams(r.theta);
tf.dispose([identity, tvStencils, trainSet.y, trainSet.clean, testSet.y, testSet.clean]);

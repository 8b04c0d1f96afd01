/**
 * Derivative-free bilevel learning compared like for like with Ehrhardt & Roberts, "Inexact
 * derivative-free optimization for bilevel learning" (JMIV 2021): the dynamic-accuracy DFO
 * method (`dfo()`, inner solves to the tolerance the trust region asks for) against the same
 * method with a FIXED NUMBER of lower-level iterations per evaluation (FISTA 200 / 2,000,
 * GD 1,000 / 10,000), on the paper's problems at sizes that run here. Reports the objective,
 * the total lower-level iterations, the wall time and their ratios; plots objective versus
 * total inner iterations.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-dfo-like-for-like start
 *   npx --yes pnpm@9 --filter @bilevel/example-dfo-like-for-like start -- --problems denoise1d-1 --gd
 */
import { join } from 'node:path';
import { tf, initBackend, accelerated, gradientDescent, cg, disposeParams } from '@bilevel/core';
import type { InnerSolver, Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { dfo, train, oracleFromStrategy } from '@bilevel/outer';
import type { Method, MethodStateBase, ProgressEvent } from '@bilevel/outer';
import { parseFlags, outputFolder, writeJson, plotLossVersusWork, markdownTable, handleProcessErrors } from '@bilevel/cli';
import { denoise1d, denoise2d, mri1d, readTheta, type TestProblem } from './problems.js';

const flags = parseFlags({
  problems: 'denoise1d-1,denoise1d-3,denoise2d-3,mri1d', // comma-separated
  steps: 30, // DFO steps (rejected ones included) per run, the same for every run of a problem
  gd: false, // also run gradient descent (dynamic, fixed 1,000 and 10,000 iterations)
  dynamicOnly: false, // only the dynamic-accuracy runs
  accuracyLimit: 'stop', // dfo's accuracyLimit: 'stop' at the float32 floor or 'continue' uncertified
  fixedFista: '200,2000',
  fixedGd: '1000,10000',
  length: 64, // 1-D signal length (denoising)
  mriLength: 16, // 1-D MRI signal length = number of sampling parameters
  count: 8, // training signals / images
  size: 16, // 2-D image side
  seed: 0,
  out: 'out/dfo-like-for-like',
}, process.argv.slice(2), 'dfo-like-for-like');

await initBackend();

handleProcessErrors('dfo-like-for-like'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
const started = performance.now();
const out = outputFolder(flags.out);

const makers: Record<string, () => TestProblem> = {
  'denoise1d-1': () => denoise1d(1, { count: flags.count, length: flags.length, sigma: 0.1, seed: flags.seed + 1 }),
  'denoise1d-3': () => denoise1d(3, { count: flags.count, length: flags.length, sigma: 0.1, seed: flags.seed + 1 }),
  'denoise2d-3': () => denoise2d({ count: Math.min(flags.count, 4), size: flags.size, sigma: 0.1, seed: flags.seed + 2 }),
  mri1d: () => mri1d({ count: flags.count, length: flags.mriLength, sigma: 0.05, seed: flags.seed + 3, beta: 1e-3, alpha: 0.05, nu: 0.01, xi: 1e-2 }),
};
// Results stored with the public code of the paper (github.com/lindonroberts/inexact_dfo_bilevel_learning), FISTA.
const PAPER: Record<string, string> = {
  'denoise1d-1': 'dynamic 1.3716 in 15 s vs fixed-2,000 1.3715 in 59 s (3.9× time)',
  mri1d: 'dynamic 0.47828 in 1,635 s vs fixed-2,000 0.47831 in 7,497 s (4.6× time)',
  'denoise1d-3': 'talk: "at least 10× speed-up" (objective vs inner iterations)',
  'denoise2d-3': 'talk: "still 10× faster"',
};

interface Run { solver: string; accuracy: string; inner: InnerSolver; dynamic: boolean }
function runsFor(): Run[] {
  const runs: Run[] = [];
  // Dynamic: the trust region sets the absolute tolerance on ‖∇ₓΦ‖; a generous cap.
  runs.push({ solver: 'FISTA', accuracy: 'dynamic', inner: accelerated({ maxIter: 100000 }), dynamic: true });
  for (const k of flags.dynamicOnly ? [] : flags.fixedFista.split(',').map(Number)) {
    runs.push({ solver: 'FISTA', accuracy: `fixed ${k}`, inner: accelerated({ maxIter: k, tol: 1e-30, stallIterations: 0 }), dynamic: false });
  }
  if (flags.gd) {
    runs.push({ solver: 'GD', accuracy: 'dynamic', inner: gradientDescent({ maxIter: 200000 }), dynamic: true });
    for (const k of flags.dynamicOnly ? [] : flags.fixedGd.split(',').map(Number)) {
      runs.push({ solver: 'GD', accuracy: `fixed ${k}`, inner: gradientDescent({ maxIter: k, tol: 1e-30, stallIterations: 0 }), dynamic: false });
    }
  }
  return runs;
}

/** F(θ) to high accuracy (FISTA to ‖∇ₓΦ‖ ≤ 1e-6 or its float32 floor), the same for every run. */
function exactF(p: TestProblem, theta: Params): number {
  const r = accelerated({ maxIter: 200000, tol: 1e-6, tolMode: 'absolute' }).solve(p.problem, theta, p.data);
  const v = tf.tidy(() => p.loss(r.x, theta, p.data).dataSync()[0]);
  r.x.dispose();
  return v;
}

const rows: Array<Record<string, string | number>> = [];
const summary: Record<string, unknown[]> = {};
for (const name of flags.problems.split(',')) {
  const make = makers[name];
  if (make == null) throw new Error(`dfo-like-for-like: unknown problem '${name}' in --problems; use ${Object.keys(makers).join(', ')}.`);
  const curves: Array<{ series: string; work: number; loss: number }> = [];
  const results: Array<Record<string, unknown>> = [];
  let reference: { work: number; seconds: number } | undefined;
  {
    // Warm-up, untimed: the first solve of a process pays for kernel set-up and JIT.
    const p = make();
    exactF(p, p.theta0);
    p.dispose();
  }
  for (const run of runsFor()) {
    const p = make();
    const strategy = implicit({ inner: run.inner, linear: cg() });
    const oracle = oracleFromStrategy({
      problem: p.problem, data: p.data, loss: p.loss, strategy,
      constants: { lossLipschitz: p.lossLipschitz, mixedNorm: Infinity },
    });
    const method = dfo({ radius0: p.radius0, tol0: run.dynamic ? 1e-1 : 1e-30, dynamicAccuracy: run.dynamic, bounds: p.bounds, accuracyLimit: flags.accuracyLimit as 'stop' | 'continue' });
    const history: ProgressEvent[] = [];
    const t0 = performance.now();
    const result = await train({
      method: method as unknown as Method<MethodStateBase>,
      oracle,
      theta0: p.theta0,
      budget: { iterations: flags.steps },
      onProgress: (e) => {
        history.push(e);
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const innerIterations = result.work.innerIterations;
    const evaluations = history.reduce((a, e) => a + e.evaluations, 0);
    const reported = history.filter((e) => Number.isFinite(e.loss)).at(-1)?.loss ?? NaN;
    const f = exactF(p, result.theta);
    if (run.solver === 'FISTA' && run.dynamic) reference = { work: innerIterations, seconds };
    const label = `${run.solver} ${run.accuracy}${run.dynamic && flags.accuracyLimit === 'continue' ? ' (continue at floor)' : ''}`;
    for (const e of history) if (Number.isFinite(e.loss)) curves.push({ series: label, work: e.work, loss: e.loss });
    const row = {
      problem: name,
      method: label,
      'F̃ reported': reported,
      'F(θ) tight': f,
      'inner iterations': innerIterations,
      evaluations,
      'wall s': seconds,
      'iterations / FISTA dynamic': reference ? innerIterations / reference.work : NaN,
      'time / FISTA dynamic': reference ? seconds / reference.seconds : NaN,
      status: result.status,
    };
    rows.push(row);
    results.push({ ...row, theta: readTheta(result.theta), message: result.message, history: history.map((e) => ({ work: e.work, loss: e.loss, eps: e.eps, timeMs: e.timeMs })) });
    console.log(`${name} · ${label}: F̃ ${reported.toPrecision(6)}, F ${f.toPrecision(6)}, ${innerIterations} inner iterations, ${evaluations} evaluations, ${seconds.toFixed(1)} s (${result.message})`);
    disposeParams(result.theta);
    strategy.dispose?.();
    p.dispose();
  }
  summary[name] = results;
  await plotLossVersusWork(join(out, `${name}-objective-vs-iterations.svg`), curves, `${name}: objective vs total lower-level iterations (DFO)`);
}

console.log('\n' + markdownTable(rows));
console.log('\npaper (public code / talk):');
for (const name of flags.problems.split(',')) console.log(`  ${name}: ${PAPER[name] ?? '-'}`);
writeJson(join(out, 'summary.json'), { settings: flags, backend: tf.getBackend(), paper: PAPER, problems: summary, seconds: (performance.now() - started) / 1000 });
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${out}/{summary.json, *-objective-vs-iterations.svg}`);


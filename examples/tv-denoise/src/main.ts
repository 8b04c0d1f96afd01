/**
 * Learn smoothed-TV denoising, Φ(x; θ, y) = ½‖x − y‖² + α Σ √(|∇x|² + ν²) with
 * θ = (log α, log ν), from training crops of the bundled images at σ = 0.1, by MAID on
 * implicit hypergradients with certified error bounds (or by the dynamic-accuracy
 * derivative-free trust-region method `dfo` on value-only calls); compare on held-out crops
 * with the best α of a grid search (ν fixed) and with the noisy input.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-denoise start
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-denoise start -- --crop 96 --count 8 --iterations 60
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-denoise start -- --method dfo
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-denoise start -- --compare   # MAID, DFO, DFO at fixed ε in one run
 */
import { join } from 'node:path';
import { tf, initBackend, lbfgs, cg, disposeParams, workUnits } from '@bilevel/core';
import type { Params, Loss } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { maid, dfo, train } from '@bilevel/outer';
import { fileCheckpoint } from '@bilevel/outer/node';
import type { Method, MethodStateBase, ProgressEvent, TrainResult } from '@bilevel/outer';
import { tvDenoisingProblem, randomCrops, addNoise, psnr, ssim } from '@bilevel/imaging';
import { sampleImages, loadImage, saveImage } from '@bilevel/imaging/node';
import type { ReconstructionData } from '@bilevel/imaging';
import { parseFlags, outputFolder, writeJson, progressReporter, plotLossVersusWork, markdownTable, handleProcessErrors } from '@bilevel/cli';
import { tvBoundConstants } from './constants.js';

const flags = parseFlags({
  crop: 64, // side of the square crops
  count: 4, // training crops
  test: 4, // held-out crops
  sigma: 0.1,
  iterations: 30, // MAID iterations
  method: 'maid', // 'maid' or 'dfo'
  compare: false, // run MAID, DFO and DFO at fixed accuracy in one run and print their ratios
  dfoIterations: 40, // DFO iterations (trust-region steps, rejected ones included)
  radius: 0.5, // DFO's initial trust-region radius Δ₀ in (log α, log ν)
  fixedTol: 1e-4, // the inner tolerance of DFO at fixed accuracy (--compare)
  grid: 9, // grid-search points over α
  seed: 0,
  out: 'out/tv-denoise',
  checkpoint: '', // path of a checkpoint file: written every 5 iterations, resumed if present
}, process.argv.slice(2), 'tv-denoise');

if (flags.method !== 'maid' && flags.method !== 'dfo') throw new Error(`tv-denoise: flag --method must be 'maid' or 'dfo', got '${flags.method}'.`);

await initBackend();

handleProcessErrors('tv-denoise'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
const started = performance.now();
const out = outputFolder(flags.out);

// Data: training crops from two photographs, held-out crops from a third one (no shared
// pixels, same kind of image), seeded noise.
const images = sampleImages();
function crops(names: string[], count: number, seed: number): { y: tf.Tensor4D; clean: tf.Tensor4D } {
  const per = Math.ceil(count / names.length);
  const clean = tf.tidy(() => {
    const parts = names.map((name, k) => {
      const img = loadImage(images[name]);
      return randomCrops(img, flags.crop, per, seed * 101 + k);
    });
    return tf.slice(tf.concat(parts, 0), [0, 0, 0, 0], [count, -1, -1, -1]) as tf.Tensor4D;
  });
  return { y: addNoise(clean, flags.sigma, seed) as tf.Tensor4D, clean };
}
const train_ = crops(['camera', 'coins'], flags.count, 2 * flags.seed + 1);
const test_ = crops(['astronaut'], flags.test, 2 * flags.seed + 2);
const dataset = { dispose: () => tf.dispose([train_.y, train_.clean, test_.y, test_.clean]) };
type Data = ReconstructionData & { clean: tf.Tensor };

// Lower level; the upper-level loss is the mean squared error per image, ½‖x̂ − x†‖² / n.
const tv = tvDenoisingProblem({ alpha: 0.05, nu: 0.05, learnNu: true });
const problem = tv.problem as unknown as import('@bilevel/core').Problem<Data>;
const n = flags.count;
const loss: Loss<Data> = (x, _theta, data) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.clean)))), x.shape[0]!);

// L-BFGS reaches the lowest float32 floor here (‖∇Φ‖ ≈ 2e-5 vs 4e-5 for FISTA on 4 crops 64×64).
const inner = lbfgs({ maxIter: 3000 });
const linear = cg({ maxIter: 500 });

/** Denoises `data.y` at θ tightly and returns x̂ (for evaluation). */
function reconstruct(theta: Params, data: Data): tf.Tensor {
  const r = inner.solve(problem, theta, data, { tol: 1e-3 });
  return r.x;
}

function evaluate(theta: Params, data: Data): { psnr: number; ssim: number } {
  const x = reconstruct(theta, data);
  const res = { psnr: psnr(tf.clipByValue(x, 0, 1), data.clean).mean, ssim: ssim(tf.clipByValue(x, 0, 1), data.clean).mean };
  x.dispose();
  return res;
}

// Baseline: grid search over α on the training set, ν fixed at its initial value.
console.log(`grid search over α (${flags.grid} values, ν = 0.05) on ${n} training crops ${flags.crop}×${flags.crop}`);
let best = { alpha: NaN, loss: Infinity };
let gridWork = 0;
for (let i = 0; i < flags.grid; i++) {
  const alpha = 10 ** (-3 + (2.5 * i) / Math.max(1, flags.grid - 1)); // 1e-3 … 10^-0.5
  const theta = { logAlpha: tf.scalar(Math.log(alpha)), logNu: tf.scalar(Math.log(0.05)) };
  const r = inner.solve(problem, theta, train_, { tol: 1e-3 });
  gridWork += r.iterations;
  const l = tf.tidy(() => loss(r.x, theta, train_).dataSync()[0]);
  console.log(`  α = ${alpha.toExponential(2)}  training loss ${l.toFixed(4)}  (${r.iterations} inner iterations)`);
  if (l < best.loss) best = { alpha, loss: l };
  r.x.dispose();
  disposeParams(theta);
}

// θ = (log α, log ν): log-parameterised in the energy itself, so α, ν > 0 without constraints.
// Every run trains from the same θ₀ on the same oracle (implicit strategy, same solvers and
// bound constants). The strategy keeps the last x̂ as a warm start and `train` builds a fresh
// oracle, so each run gets a fresh strategy: no run starts from another's solution.
const constants = (theta: Params, _data: Data, x: tf.Tensor) => tvBoundConstants(theta, x, n);

// DFO's box: α from the grid's lower end to 1, ν from 1e-3 (below it the inner problem gets
// too ill-conditioned for float32 L-BFGS) to 0.5 (≈ the image range: TV is then quadratic).
const dfoBounds = {
  logAlpha: { lower: Math.log(1e-3), upper: 0 },
  logNu: { lower: Math.log(1e-3), upper: Math.log(0.5) },
};

interface Run {
  /** Short name, used in file names and the summary. */
  tag: 'maid' | 'dfo' | 'dfo-fixed';
  label: string;
  method: Method<MethodStateBase>;
  iterations: number;
}
const runs: Run[] = [];
const maidRun: Run = { tag: 'maid', label: 'MAID', method: maid({ tol0: 1e-1, step0: 1 }), iterations: flags.iterations };
const dfoRun: Run = {
  tag: 'dfo',
  label: 'DFO',
  method: dfo({ radius0: flags.radius, tol0: 1e-1, bounds: dfoBounds }),
  iterations: flags.dfoIterations,
};
const dfoFixedRun: Run = {
  tag: 'dfo-fixed',
  label: `DFO, fixed ε = ${flags.fixedTol.toExponential(0)}`,
  method: dfo({ radius0: flags.radius, tol0: flags.fixedTol, dynamicAccuracy: false, bounds: dfoBounds }),
  iterations: flags.dfoIterations,
};
if (flags.compare) runs.push(maidRun, dfoRun, dfoFixedRun);
else runs.push(flags.method === 'dfo' ? dfoRun : maidRun);

interface Trained {
  run: Run;
  result: TrainResult<MethodStateBase>;
  history: ProgressEvent[];
  seconds: number;
  evaluations: number;
}

async function learn(run: Run): Promise<Trained> {
  const history: ProgressEvent[] = [];
  const reporter = progressReporter(run.iterations, run.label);
  // One checkpoint file per method, so --compare --checkpoint resumes each run separately.
  const checkpointPath = run.tag === 'maid' ? flags.checkpoint : flags.checkpoint.replace(/(\.json)?$/, `-${run.tag}$1`);
  const strategy = implicit({ inner, linear });
  const trainStart = performance.now();
  const result = await train({
    method: run.method,
    problem,
    strategy,
    data: train_,
    loss,
    theta0: { logAlpha: tf.scalar(Math.log(0.05)), logNu: tf.scalar(Math.log(0.05)) },
    constants,
    budget: { iterations: run.iterations },
    onProgress: (e) => {
      history.push(e);
      reporter.onProgress(e);
    },
    ...(flags.checkpoint ? { checkpoint: fileCheckpoint(checkpointPath, 5), resume: true } : {}),
  });
  reporter.stop();
  const seconds = (performance.now() - trainStart) / 1000;
  strategy.dispose();
  return { run, result, history, seconds, evaluations: history.reduce((a, e) => a + e.evaluations, 0) };
}

const trained: Trained[] = [];
for (const run of runs) trained.push(await learn(run));

const gridTheta = { logAlpha: tf.scalar(Math.log(best.alpha)), logNu: tf.scalar(Math.log(0.05)) };

// Held-out evaluation.
const noisyScore = {
  psnr: psnr(test_.y, test_.clean).mean,
  ssim: ssim(tf.clipByValue(test_.y, 0, 1), test_.clean).mean,
};
const gridScore = evaluate(gridTheta, test_);
const learnedRows = trained.map((t) => {
  const theta = t.result.theta;
  const [alpha, nu] = [Math.exp(theta.logAlpha.dataSync()[0]), Math.exp(theta.logNu.dataSync()[0])];
  return { ...t, alpha, nu, score: evaluate(theta, test_) };
});
const single = !flags.compare;
const rows = [
  { model: 'noisy input', alpha: '-', nu: '-', 'held-out PSNR dB': noisyScore.psnr, SSIM: noisyScore.ssim, work: 0 },
  { model: 'grid search over α', alpha: best.alpha, nu: 0.05, 'held-out PSNR dB': gridScore.psnr, SSIM: gridScore.ssim, work: gridWork },
  ...learnedRows.map((r) => ({ model: `learned (α, ν), ${r.run.label}`, alpha: r.alpha, nu: r.nu, 'held-out PSNR dB': r.score.psnr, SSIM: r.score.ssim, work: workUnits(r.result.work) })),
];
// --compare adds what the methods spent: iterations, oracle calls, final ε, wall time.
const table = single
  ? rows
  : rows.map((row, i) => {
      const r = learnedRows[i - 2];
      return {
        ...row,
        iterations: r ? r.result.history.length : '-',
        'oracle calls': r ? r.evaluations : '-',
        'final ε': r ? r.history[r.history.length - 1].eps.toExponential(1) : '-',
        'training s': r ? r.seconds : '-',
      };
    });
console.log('\n' + markdownTable(table));
for (const r of learnedRows) {
  console.log(`\n${r.run.label}: ${r.result.history.length} iterations, status ${r.result.status} (${r.result.message}); training ${r.seconds.toFixed(1)} s`);
  console.log(`gain over noisy: ${(r.score.psnr - noisyScore.psnr).toFixed(2)} dB; over grid search: ${(r.score.psnr - gridScore.psnr).toFixed(2)} dB`);
}
const ratios: Record<string, { work: number; seconds: number }> = {};
if (flags.compare) {
  const [m, d, f] = learnedRows;
  const ratio = (a: typeof m, b: typeof m) => ({ work: workUnits(a.result.work) / workUnits(b.result.work), seconds: a.seconds / b.seconds });
  ratios['DFO / MAID'] = ratio(d, m);
  ratios['DFO fixed ε / DFO'] = ratio(f, d);
  ratios['DFO fixed ε / MAID'] = ratio(f, m);
  console.log('\nratios measured in this run (work = inner + linear iterations; wall time is noisy on a shared machine):');
  for (const [name, q] of Object.entries(ratios)) console.log(`  ${name}: work ${q.work.toFixed(2)}×, wall time ${q.seconds.toFixed(2)}×`);
  // Total work depends on when each run stops (MAID and dynamic DFO stop at the float32
  // accuracy floor, fixed-ε DFO runs out its budget); the work until the training loss first
  // reaches a common level does not.
  console.log('\nwork (and wall time) until the training loss F̃ first reaches a level (- : never):');
  const levels = [m, d].map((r) => ({ name: `${r.run.label}'s final F̃ = ${r.history[r.history.length - 1].loss.toFixed(4)}`, value: r.history[r.history.length - 1].loss }));
  // MAID's event k reports F̃(θ_k), the point it takes the gradient at, which it found (and
  // evaluated) in iteration k − 1; DFO's reports F̃ at the iterate after the step.
  const reach = (r: typeof m, level: number): { work: number; timeMs: number } | undefined => {
    const i = r.history.findIndex((e) => e.loss <= level);
    if (i < 0) return undefined;
    if (r.run.tag !== 'maid') return r.history[i];
    return i === 0 ? { work: 0, timeMs: 0 } : r.history[i - 1];
  };
  console.log(
    markdownTable(
      levels.map((level) => ({
        level: level.name,
        ...Object.fromEntries(learnedRows.map((r) => {
          const e = reach(r, level.value);
          return [r.run.label, e ? `${e.work} (${(e.timeMs / 1000).toFixed(1)} s)` : '-'];
        })),
      })),
    ),
  );
  const [toLevelFixed, toLevelDynamic] = [reach(f, levels[1].value), reach(d, levels[1].value)];
  if (toLevelFixed && toLevelDynamic) {
    ratios['DFO fixed ε / DFO, to DFO\'s final F̃'] = { work: toLevelFixed.work / toLevelDynamic.work, seconds: toLevelFixed.timeMs / toLevelDynamic.timeMs };
    console.log(`  DFO fixed ε / DFO to DFO's final F̃: work ${(toLevelFixed.work / toLevelDynamic.work).toFixed(2)}×, wall time ${(toLevelFixed.timeMs / toLevelDynamic.timeMs).toFixed(2)}×`);
  }
}

// Outputs: images, plot, summary. The first run's reconstructions are test*-learned.png.
learnedRows.forEach((r, k) => {
  const x = reconstruct(r.result.theta, test_);
  const suffix = k === 0 ? '' : `-${r.run.tag}`;
  for (let i = 0; i < Math.min(flags.test, 4); i++) {
    const pick = (t: tf.Tensor) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]);
    tf.tidy(() => {
      if (k === 0) {
        saveImage(join(out, `test${i}-clean.png`), pick(test_.clean));
        saveImage(join(out, `test${i}-noisy.png`), pick(test_.y));
      }
      saveImage(join(out, `test${i}-learned${suffix}.png`), pick(x));
    });
  }
  x.dispose();
});
await plotLossVersusWork(
  join(out, 'loss-vs-work.svg'),
  learnedRows.flatMap((r) => r.history.map((e) => ({ series: `${r.run.label} (learned α, ν)`, work: e.work, loss: e.loss }))),
  'Smoothed-TV denoising: training loss versus work',
);
const runSummary = (r: (typeof learnedRows)[number]) => ({
  iterations: r.result.history.length,
  oracleCalls: r.evaluations,
  status: r.result.status,
  message: r.result.message,
  work: r.result.work,
  seconds: r.seconds,
});
writeJson(join(out, 'summary.json'), {
  settings: flags,
  backend: tf.getBackend(),
  ...(single
    ? {
        learned: { alpha: learnedRows[0].alpha, nu: learnedRows[0].nu },
        gridSearch: { alpha: best.alpha, nu: 0.05, trainingLoss: best.loss, work: gridWork },
        heldOut: { noisy: noisyScore, gridSearch: gridScore, learned: learnedRows[0].score },
        [learnedRows[0].run.tag]: runSummary(learnedRows[0]),
        history: learnedRows[0].history,
      }
    : {
        gridSearch: { alpha: best.alpha, nu: 0.05, trainingLoss: best.loss, work: gridWork, heldOut: gridScore },
        heldOut: { noisy: noisyScore },
        runs: learnedRows.map((r) => ({ tag: r.run.tag, label: r.run.label, learned: { alpha: r.alpha, nu: r.nu }, heldOut: r.score, ...runSummary(r), history: r.history })),
        ratios,
      }),
  seconds: (performance.now() - started) / 1000,
});
console.log(`wrote ${out}/{summary.json, loss-vs-work.svg, test*-{clean,noisy,learned${learnedRows.length > 1 ? ',learned-*' : ''}}.png}`);
for (const r of learnedRows) disposeParams(r.result.theta);
disposeParams(gridTheta);
dataset.dispose();
tv.dispose();

/**
 * Learn the two weights of smoothed TGV² denoising,
 *   ẑ(θ) = argmin_{z = (u, w)} ½‖u − y‖² + α Σ √(|∇u − w|² + ν²) + αβ Σ √(|E w|² + ν²),
 * θ = (log α, log β), on generated piecewise-affine images, and compare on held-out images
 * with learned smoothed TV (θ = log α, same ν) and the noisy input. Both are learned the same
 * way: Adam on full-batch implicit hypergradients (L-BFGS inner solves, CG adjoint solves).
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-tgv-denoise start
 *   npx --yes pnpm@9 --filter @bilevel/example-tgv-denoise start -- --size 64 --count 8 --iterations 60
 */
import { join } from 'node:path';
import { tf, initBackend, lbfgs, cg, disposeParams, workUnits } from '@bilevel/core';
import type { Params, Problem, Loss } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { adam, train } from '@bilevel/outer';
import type { Method, MethodStateBase, ProgressEvent } from '@bilevel/outer';
import { tgvProblem, tgvImage, tvDenoisingProblem, addNoise, psnr, ssim } from '@bilevel/imaging';
import type { ReconstructionData } from '@bilevel/imaging';
import { saveImage } from '@bilevel/imaging/node';
import { parseFlags, outputFolder, writeJson, progressReporter, plotLossVersusWork, markdownTable, handleProcessErrors } from '@bilevel/cli';
import { piecewiseAffineImages } from './images.js';

const flags = parseFlags({
  size: 32, // side of the generated images
  count: 4, // training images
  test: 4, // held-out images
  cells: 5, // Voronoi regions per image
  slope: 1.2, // largest intensity change of a ramp across the image
  sigma: 0.1, // noise level
  nu: 0.005, // smoothing of both TGV norms and of TV
  iterations: 30, // Adam iterations per model
  step: 0.15, // Adam step in (log α, log β)
  tol: 1e-3, // inner tolerance of every hypergradient
  seed: 0,
  out: 'out/tgv-denoise',
}, process.argv.slice(2), 'tgv-denoise');

await initBackend();

handleProcessErrors('tgv-denoise'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
const started = performance.now();
const out = outputFolder(flags.out);
type Data = ReconstructionData & { clean: tf.Tensor };

function dataset(count: number, seed: number): Data {
  const clean = piecewiseAffineImages(count, flags.size, flags.cells, seed, flags.slope);
  return { clean, y: addNoise(clean, flags.sigma, seed + 1000) };
}
const trainSet = dataset(flags.count, 2 * flags.seed + 1);
const testSet = dataset(flags.test, 2 * flags.seed + 2);

// Upper level: ½‖x̂ − x†‖²/n on the image (TGV's is channel 0 of the stacked field).
const imageOf = (model: 'tv' | 'tgv', x: tf.Tensor) => (model === 'tgv' ? tgvImage(x) : x.clone());
const lossOf = (model: 'tv' | 'tgv'): Loss<Data> => (x, _theta, data) =>
  tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(imageOf(model, x), data.clean)))), x.shape[0]!));

const tgv = tgvProblem({ nu: flags.nu, alpha: 0.05, beta: 2 });
const tv = tvDenoisingProblem({ nu: flags.nu, alpha: 0.05 });
const models = [
  { model: 'tv' as const, label: 'TV', problem: tv.problem as unknown as Problem<Data>, theta0: { logAlpha: tf.scalar(Math.log(0.05)) } as Params },
  { model: 'tgv' as const, label: 'TGV²', problem: tgv.problem as unknown as Problem<Data>, theta0: { logAlpha: tf.scalar(Math.log(0.05)), logBeta: tf.scalar(Math.log(2)) } as Params },
];
const inner = lbfgs({ maxIter: 3000 });

function reconstruct(model: 'tv' | 'tgv', problem: Problem<Data>, theta: Params, data: Data): tf.Tensor {
  const r = inner.solve(problem, theta, data, { tol: 1e-4 });
  const u = imageOf(model, r.x);
  r.x.dispose();
  return u;
}
function score(x: tf.Tensor, data: Data): { psnr: number; ssim: number } {
  return tf.tidy(() => {
    const c = tf.clipByValue(x, 0, 1);
    return { psnr: psnr(c, data.clean).mean, ssim: ssim(c, data.clean).mean };
  });
}

const rows: Array<Record<string, string | number>> = [];
const noisyScore = score(testSet.y, testSet);
rows.push({ model: 'noisy input', α: '-', β: '-', 'held-out PSNR dB': noisyScore.psnr, SSIM: noisyScore.ssim, 'training loss': '-', 'work (inner + linear)': 0, 'training s': 0 });
const curves: Array<{ series: string; work: number; loss: number }> = [];
const summary: Record<string, unknown> = {};
for (const m of models) {
  const strategy = implicit({ inner, linear: cg({ maxIter: 1000 }) });
  const progress = progressReporter(flags.iterations, m.label.padEnd(5), 10);
  const history: ProgressEvent[] = [];
  const t0 = performance.now();
  const result = await train({
    method: adam({ step: flags.step, size: flags.count, batchSize: flags.count, tol: flags.tol, seed: flags.seed }) as unknown as Method<MethodStateBase>,
    problem: m.problem,
    strategy,
    data: trainSet,
    batchData: () => trainSet,
    loss: lossOf(m.model),
    theta0: m.theta0,
    budget: { iterations: flags.iterations },
    onProgress: (e) => {
      history.push(e);
      progress.onProgress(e);
    },
  });
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  strategy.dispose?.();
  const alpha = Math.exp(result.theta.logAlpha.dataSync()[0]);
  const beta = result.theta.logBeta != null ? Math.exp(result.theta.logBeta.dataSync()[0]) : undefined;
  const x = reconstruct(m.model, m.problem, result.theta, testSet);
  const s = score(x, testSet);
  for (let i = 0; i < Math.min(2, flags.test); i++) {
    tf.tidy(() => {
      const pick = (t: tf.Tensor) => tf.clipByValue(tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]), 0, 1);
      if (m.model === 'tv') {
        saveImage(join(out, `test${i}-clean.png`), pick(testSet.clean));
        saveImage(join(out, `test${i}-noisy.png`), pick(testSet.y));
      }
      saveImage(join(out, `test${i}-${m.model}.png`), pick(x));
    });
  }
  x.dispose();
  const finalLoss = history[history.length - 1]?.loss ?? NaN;
  rows.push({
    model: `learned ${m.label}`,
    α: alpha,
    β: beta ?? '-',
    'held-out PSNR dB': s.psnr,
    SSIM: s.ssim,
    'training loss': finalLoss,
    'work (inner + linear)': workUnits(result.work),
    'training s': seconds,
  });
  for (const e of history) curves.push({ series: m.label, work: e.work, loss: e.loss });
  summary[m.model] = { alpha, beta, heldOut: s, trainingLoss: finalLoss, work: result.work, seconds, status: result.status, message: result.message, history };
  console.log(`${m.label}: ${result.message} (${history.length} iterations, work ${workUnits(result.work)}, ${seconds.toFixed(1)} s)`);
  disposeParams(result.theta);
  disposeParams(m.theta0);
}

console.log('\n' + markdownTable(rows));
await plotLossVersusWork(join(out, 'loss-vs-work.svg'), curves, 'TGV² vs TV denoising (piecewise-affine): training loss versus work');
writeJson(join(out, 'summary.json'), { settings: flags, backend: tf.getBackend(), noisy: noisyScore, ...summary, seconds: (performance.now() - started) / 1000 });
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${out}/{summary.json, loss-vs-work.svg, test*-{clean,noisy,tv,tgv}.png}`);
tf.dispose([trainSet.clean, trainSet.y, testSet.clean, testSet.y]);
tgv.dispose();
tv.dispose();

/**
 * Strategy compare: learn the same smoothed-TV denoiser θ = (log α, log ν) with four
 * hypergradient strategies — implicit (L-BFGS + CG), unrolled (T gradient steps, √T
 * checkpoints), equilibrium (Anderson + implicit backward) and Jacobian-free — under ONE
 * work budget (inner + linear iterations) and the same upper-level method (Adam over
 * single-crop minibatches), then compare held-out PSNR.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-strategy-compare start [-- --work 6000 --crop 48]
 */
import { join } from 'node:path';
import { tf, initBackend, lbfgs, cg, disposeParams, workUnits } from '@bilevel/core';
import type { Params, Problem, Strategy } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium } from '@bilevel/equilibrium';
import { jacobianFree } from '@bilevel/jfb';
import { adam, train } from '@bilevel/outer';
import { tvDenoisingProblem, psnr, ssim } from '@bilevel/imaging';
import { denoisingDataset, sampleImages, saveImage } from '@bilevel/imaging/node';
import { parseFlags, outputFolder, writeJson, progressReporter, plotLossVersusWork, markdownTable, handleProcessErrors, describeError } from '@bilevel/cli';
import type { CurvePoint } from '@bilevel/cli';

const flags = parseFlags({
  crop: 40,
  count: 8,
  testCount: 4,
  sigma: 0.1,
  work: 4000,
  maxIterations: 1000,
  step: 0.05,
  tol: 1e-3,
  unrollSteps: 30,
  alpha: 0.05,
  nu: 0.05,
  seed: 0,
  out: 'out/strategy-compare',
}, process.argv.slice(2), 'strategy-compare');
const where = 'strategy-compare';
for (const k of ['crop', 'count', 'testCount', 'work', 'maxIterations', 'unrollSteps'] as const) {
  if (!Number.isInteger(flags[k]) || flags[k] <= 0) throw new Error(`${where}: --${k} must be a positive integer, got ${flags[k]}.`);
}

type DenoisingData = { y: tf.Tensor; clean: tf.Tensor };

/** ℓ = (1/n) Σ_i ½‖x_i − x_i^clean‖² over the crops of the (mini)batch. */
const loss = (x: tf.Tensor, _theta: Params, d: DenoisingData) => tf.tidy(() => tf.mul(0.5 / x.shape[0]!, tf.sum(tf.square(tf.sub(x, d.clean)))));

/** Tight lower-level solve for evaluation (not counted in the training work). */
function solve(problem: Problem<DenoisingData>, theta: Params, data: DenoisingData): tf.Tensor {
  return lbfgs().solve(problem, theta, data, { tol: 1e-3, tolMode: 'absolute', maxIter: 3000 }).x;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  handleProcessErrors('strategy-compare'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
  const out = outputFolder(flags.out);
  const start = performance.now();
  const names = Object.keys(sampleImages());
  const dataset = denoisingDataset({ images: Object.values(sampleImages()), cropSize: flags.crop, count: flags.count, testCount: flags.testCount, sigma: flags.sigma, seed: flags.seed });
  const trainData: DenoisingData = { y: dataset.train.noisy, clean: dataset.train.clean };
  const testData: DenoisingData = { y: dataset.test.noisy, clean: dataset.test.clean };
  // One minibatch per crop; the oracle disposes these slices when its call ends.
  const batchData = (batch: number[]): DenoisingData => {
    if (batch.length !== 1) throw new Error(`${where}: expected single-crop minibatches, got ${batch.length}.`);
    return {
      y: tf.slice(trainData.y, [batch[0], 0, 0, 0], [1, -1, -1, -1]),
      clean: tf.slice(trainData.clean, [batch[0], 0, 0, 0], [1, -1, -1, -1]),
    };
  };
  console.log(`${where}: backend ${backend}; learned TV (α, ν); ${flags.count} training crops ${flags.crop}×${flags.crop} from [${dataset.trainImages.map((i) => names[i]).join(', ')}], ${flags.testCount} held-out crops from [${dataset.testImages.map((i) => names[i]).join(', ')}], σ = ${flags.sigma}; budget ${flags.work} work units (inner + linear iterations); Adam step ${flags.step}, tol ${flags.tol}`);

  const tol = flags.tol;
  const strategies: Array<[string, () => Strategy]> = [
    ['implicit (L-BFGS + CG)', () => implicit({ inner: lbfgs(), linear: cg(), tol, linearTol: tol, maxIter: 1000, linearMaxIter: 500 })],
    [`unrolled (T = ${flags.unrollSteps}, √T checkpoints)`, () => unrolled({ steps: flags.unrollSteps, memory: { checkpoint: 'sqrt' } })],
    ['equilibrium (Anderson + implicit backward)', () => equilibrium({ tol, linearTol: tol, maxIter: 1000, linearMaxIter: 500 })],
    ['Jacobian-free (L-BFGS, k = 1)', () => jacobianFree({ inner: lbfgs(), steps: 1, tol, maxIter: 1000 })],
  ];

  const noisyTest = { psnr: psnr(testData.y, testData.clean).mean, ssim: ssim(testData.y, testData.clean).mean };
  const rows: Array<Record<string, string | number>> = [
    { strategy: 'noisy input (no learning)', 'test PSNR (dB)': Number(noisyTest.psnr.toFixed(2)), 'test SSIM': Number(noisyTest.ssim.toFixed(4)), 'final train loss': NaN, α: NaN, ν: NaN, iterations: 0, work: 0, 'wall (s)': 0 },
  ];
  const points: CurvePoint[] = [];
  const runs: unknown[] = [];
  for (const [label, make] of strategies) {
    const tv = tvDenoisingProblem({ alpha: flags.alpha, nu: flags.nu, learnNu: true });
    const problem = tv.problem as unknown as Problem<DenoisingData>;
    const strategy = make();
    // the work budget stops the run; the iteration count only sizes the progress bar
    const progress = progressReporter(flags.maxIterations, label.slice(0, 14).padEnd(14), 25);
    const t0 = performance.now();
    const result = await train({
      method: adam({ step: flags.step, size: flags.count, batchSize: 1, tol, seed: flags.seed }),
      problem,
      strategy,
      data: trainData,
      batchData,
      loss,
      theta0: tv.theta,
      budget: { work: flags.work, iterations: flags.maxIterations },
      onProgress: progress.onProgress,
    });
    progress.stop();
    const seconds = (performance.now() - t0) / 1000;
    (strategy as { dispose?: () => void }).dispose?.();

    // Epoch means of the minibatch losses (one point per pass over the crops).
    for (let e = flags.count; e <= result.history.length; e += flags.count) {
      const epoch = result.history.slice(e - flags.count, e);
      points.push({ series: label, work: epoch[epoch.length - 1].work, loss: epoch.reduce((s, ev) => s + ev.loss, 0) / epoch.length });
    }
    // Final training loss and held-out quality at a tight lower-level solve.
    const xTrain = solve(problem, result.theta, trainData);
    const trainLoss = tf.tidy(() => loss(xTrain, result.theta, trainData)).dataSync()[0];
    const trainPsnr = psnr(xTrain, trainData.clean).mean;
    xTrain.dispose();
    const xTest = solve(problem, result.theta, testData);
    const test = { psnr: psnr(xTest, testData.clean), ssim: ssim(xTest, testData.clean) };
    const slug = label.split(' ')[0].toLowerCase();
    saveImage(join(out, `test0-${slug}.png`), tf.tidy(() => tf.slice(xTest, [0, 0, 0, 0], [1, -1, -1, -1])));
    xTest.dispose();
    const alpha = Math.exp(result.theta.logAlpha.dataSync()[0]);
    const nu = Math.exp(result.theta.logNu.dataSync()[0]);
    const work = workUnits(result.work);
    rows.push({
      strategy: label,
      'test PSNR (dB)': Number(test.psnr.mean.toFixed(2)),
      'test SSIM': Number(test.ssim.mean.toFixed(4)),
      'final train loss': Number(trainLoss.toFixed(4)),
      α: Number(alpha.toFixed(4)),
      ν: Number(nu.toFixed(4)),
      iterations: result.history.length,
      work,
      'wall (s)': Number(seconds.toFixed(1)),
    });
    runs.push({
      strategy: label,
      status: result.status,
      message: result.message,
      iterations: result.history.length,
      work,
      innerIterations: result.work.innerIterations,
      linearIterations: result.work.linearIterations,
      trainSeconds: seconds,
      theta: { alpha, nu },
      finalTrainingLoss: trainLoss,
      trainPsnr,
      test: { psnr: test.psnr.mean, ssim: test.ssim.mean, psnrPerImage: test.psnr.perImage, ssimPerImage: test.ssim.perImage },
    });
    console.log(`${label}: ${result.message} α = ${alpha.toFixed(4)}, ν = ${nu.toFixed(4)}, held-out PSNR ${test.psnr.mean.toFixed(2)} dB (${seconds.toFixed(1)} s)`);
    disposeParams(result.theta);
    tv.dispose();
  }
  saveImage(join(out, 'test0-clean.png'), tf.tidy(() => tf.slice(testData.clean, [0, 0, 0, 0], [1, -1, -1, -1])));
  saveImage(join(out, 'test0-noisy.png'), tf.tidy(() => tf.slice(testData.y, [0, 0, 0, 0], [1, -1, -1, -1])));
  await plotLossVersusWork(join(out, 'loss-vs-work.svg'), points, `Learned TV, Adam: epoch-mean training loss vs work (σ = ${flags.sigma})`);

  const table = markdownTable(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && Number.isNaN(v) ? '–' : v]))));
  console.log(`\nheld-out crops (${flags.testCount}×${flags.crop}²); final train loss = (1/n)·½‖x̂ − x‖² at a tight solve; work = inner + linear iterations\n${table}\n`);
  const wallSeconds = (performance.now() - start) / 1000;
  writeJson(join(out, 'summary.json'), {
    example: where,
    backend,
    settings: { ...flags, method: `adam(step ${flags.step}, batch 1 crop)`, model: 'smoothed TV, θ = (log α, log ν)', trainImages: dataset.trainImages.map((i) => names[i]), testImages: dataset.testImages.map((i) => names[i]) },
    noisy: noisyTest,
    runs,
    table: rows,
    wallSeconds,
  });
  console.log(`${where}: wrote ${out}/{summary.json, loss-vs-work.svg, test0-*.png} in ${wallSeconds.toFixed(1)} s`);
  dataset.dispose();
}

main().catch((e) => {
  // One line (BILEVEL_DEBUG=1 for the stack), exit 1 (2 for a usage error).
  const { code, message } = describeError(e);
  console.error(`strategy-compare: ${message}`);
  process.exit(code);
});

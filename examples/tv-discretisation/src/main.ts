/**
 * Learn a TV discretisation (Bogensperger et al. 2024, "An adaptively inexact method for bilevel learning using
 * primal-dual style differentiation", §4.1): denoising by
 * `min_x ½‖x − y‖² + α‖K_θ x‖_{2,1}`, solved as the saddle point
 * `min_x max_z ⟨K_θ x, z⟩ + ½‖x − y‖² − δ_{‖z‖_{2,∞} ≤ α}(z)` by PDHG, with K_θ = I_W ∘ D a
 * learned interpolation of the forward-difference gradient and α = exp(logAlpha). The
 * hypergradients come from the piggyback adjoint; Adam trains on noisy crops (σ = 0.1).
 *
 * Two runs of the same loop: standard TV (stencils fixed, α learned), then the learned
 * discretisation (stencils + α), started from standard TV at its learned α. Held-out crops
 * come from the right halves of the images, training crops from the left halves.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-discretisation start
 *   npx --yes pnpm@9 --filter @bilevel/example-tv-discretisation start -- --crop 48 --count 16 --iterations 120
 */
import { join } from 'node:path';
import { tf, initBackend, disposeParams, workUnits } from '@bilevel/core';
import type { Params, Loss, SaddleProblem } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { adam, train } from '@bilevel/outer';
import type { ProgressEvent, TrainResult } from '@bilevel/outer';
import { psnr, ssim } from '@bilevel/imaging';
import { saveImage } from '@bilevel/imaging/node';
import { parseFlags, outputFolder, writeJson, progressReporter, plotLossVersusWork, markdownTable, handleProcessErrors } from '@bilevel/cli';
import { learnedTV, identityStencils, type DenoisingPair } from './discretisation.js';
import { halfCrops } from './crops.js';

const flags = parseFlags({
  crop: 32, // side of the square crops
  count: 24, // training crops (left halves of the images)
  test: 12, // held-out crops (right halves)
  sigma: 0.1,
  images: 'camera,coins,astronaut',
  stencil: 3, // side s of the interpolation stencils
  filters: 4, // output channels n of K_θ (2 = a gradient; extra channels start near zero)
  alpha: 0.08, // initial α of standard TV
  tvIterations: 30, // Adam iterations of standard TV (α only)
  iterations: 60, // Adam iterations of the learned discretisation
  step: 0.01, // Adam step on the stencils (logAlpha moves 5× faster)
  tol: 1e-2, // PDHG tolerance on ‖(r_p, r_d)‖ (absolute, whole batch)
  linearTol: 1e-3, // piggyback adjoint tolerance on ‖λ_{k+1} − λ_k‖
  evalTol: 1e-3, // PDHG tolerance of the held-out reconstructions
  seed: 0,
  out: 'out/tv-discretisation',
}, process.argv.slice(2), 'tv-discretisation');

await initBackend();

handleProcessErrors('tv-discretisation'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
const started = performance.now();
const out = outputFolder(flags.out);

// Data: each image split into a left half (training) and a right half (held out), so no
// held-out pixel is ever seen in training; seeded crops and noise.
const trainSet = halfCrops(flags, 'left', flags.count, 2 * flags.seed + 1);
const testSet = halfCrops(flags, 'right', flags.test, 2 * flags.seed + 2);

// Upper level: mean squared error per crop, ½‖x̂ − x†‖² / B.
const loss: Loss<DenoisingPair> = (x, _theta, data) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.clean)))), x.shape[0]!);
// Adam draws minibatches; with batchSize = count it is the whole set, in a fixed order so that
// piggyback's warm start (x, z, λ of the previous call) matches the crops it is used on.
const batchData = (batch: number[]): DenoisingPair => {
  if (batch.length === flags.count) return trainSet;
  const index = tf.tensor1d([...batch].sort((a, b) => a - b), 'int32');
  const pair = { y: tf.gather(trainSet.y, index), clean: tf.gather(trainSet.clean, index) };
  index.dispose();
  return pair;
};

const plainStencils = identityStencils(flags.stencil, 2);
const tvProblem = learnedTV({ fixedStencils: plainStencils });
const learnedProblem = learnedTV();

async function run(label: string, problem: SaddleProblem<DenoisingPair>, theta0: Params, iterations: number, stepScale: Record<string, number>) {
  const strategy = piggyback({ tol: flags.tol, linearTol: flags.linearTol });
  const history: ProgressEvent[] = [];
  const reporter = progressReporter(iterations, label);
  const t0 = performance.now();
  const result: TrainResult = await train({
    method: adam({ step: flags.step, size: flags.count, batchSize: flags.count, tol: flags.tol, linearTol: flags.linearTol, stepScale }),
    problem,
    strategy,
    data: trainSet,
    batchData,
    loss,
    theta0,
    budget: { iterations },
    onProgress: (e) => {
      history.push(e);
      reporter.onProgress(e);
    },
  });
  reporter.stop();
  strategy.dispose();
  return { result, history, seconds: (performance.now() - t0) / 1000 };
}

// 1. Standard TV: stencils fixed at the forward differences, only α learned.
const tvTheta0 = { logAlpha: tf.scalar(Math.log(flags.alpha)) };
const tv = await run('standard TV (α)', tvProblem, tvTheta0, flags.tvIterations, { logAlpha: 5 });
const tvAlpha = Math.exp(tv.result.theta.logAlpha.dataSync()[0]);

// 2. Learned discretisation, from θ₀ = standard TV at its learned α.
const learnedTheta0 = {
  stencils: identityStencils(flags.stencil, flags.filters),
  logAlpha: tf.scalar(Math.log(tvAlpha)),
};
const learned = await run('learned K_θ + α', learnedProblem, learnedTheta0, flags.iterations, { logAlpha: 5 });
const learnedAlpha = Math.exp(learned.result.theta.logAlpha.dataSync()[0]);

// Held-out evaluation: PDHG to evalTol from y. Piggyback has no forward-only solve, so one
// capped adjoint iteration rides along (its gradient is discarded).
function reconstruct(problem: SaddleProblem<DenoisingPair>, theta: Params, data: DenoisingPair): { x: tf.Tensor; iterations: number } {
  const strategy = piggyback({ tol: flags.evalTol, maxIter: 20000, linearMaxIter: 1, warmStart: false });
  const r = strategy.compute({ problem: problem as never, theta, data, loss });
  const x = tf.clipByValue(r.x, 0, 1);
  const iterations = r.work.innerIterations;
  r.dispose();
  return { x, iterations };
}
function scores(x: tf.Tensor, data: DenoisingPair) {
  const p = psnr(x, data.clean);
  const s = ssim(x, data.clean);
  return { psnr: p.mean, ssim: s.mean, psnrPerCrop: p.perImage, ssimPerCrop: s.perImage };
}
const noisy = tf.clipByValue(testSet.y, 0, 1);
const tvRecon = reconstruct(tvProblem, tv.result.theta, testSet);
const learnedRecon = reconstruct(learnedProblem, learned.result.theta, testSet);
const heldOut = { noisy: scores(noisy, testSet), tv: scores(tvRecon.x, testSet), learned: scores(learnedRecon.x, testSet) };
const wins = heldOut.learned.psnrPerCrop.filter((v, i) => v > heldOut.tv.psnrPerCrop[i]).length;

const tvWork = workUnits(tv.result.work);
const learnedWork = workUnits(learned.result.work);
const rows = [
  { model: 'noisy input', α: '-', 'held-out PSNR dB': heldOut.noisy.psnr, SSIM: heldOut.noisy.ssim, 'train s': 0, 'work (PDHG + adjoint)': 0 },
  { model: 'standard TV, learned α', α: tvAlpha, 'held-out PSNR dB': heldOut.tv.psnr, SSIM: heldOut.tv.ssim, 'train s': tv.seconds, 'work (PDHG + adjoint)': `${tv.result.work.innerIterations} + ${tv.result.work.linearIterations}` },
  { model: 'learned K_θ + α', α: learnedAlpha, 'held-out PSNR dB': heldOut.learned.psnr, SSIM: heldOut.learned.ssim, 'train s': learned.seconds, 'work (PDHG + adjoint)': `${learned.result.work.innerIterations} + ${learned.result.work.linearIterations}` },
];
console.log('\n' + markdownTable(rows));
const last = (h: ProgressEvent[]) => h[h.length - 1]?.loss ?? NaN;
console.log(`\ntraining loss: TV ${tv.history[0]?.loss.toExponential(4)} → ${last(tv.history).toExponential(4)}; learned ${learned.history[0]?.loss.toExponential(4)} → ${last(learned.history).toExponential(4)}`);
console.log(`held out, learned − TV: ${(heldOut.learned.psnr - heldOut.tv.psnr).toFixed(3)} dB PSNR, ${(heldOut.learned.ssim - heldOut.tv.ssim).toFixed(4)} SSIM; learned better on ${wins}/${flags.test} crops`);

// Outputs.
for (let i = 0; i < Math.min(flags.test, 4); i++) {
  const pick = (t: tf.Tensor) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]);
  tf.tidy(() => {
    saveImage(join(out, `test${i}-clean.png`), pick(testSet.clean));
    saveImage(join(out, `test${i}-noisy.png`), pick(noisy));
    saveImage(join(out, `test${i}-tv.png`), pick(tvRecon.x));
    saveImage(join(out, `test${i}-learned.png`), pick(learnedRecon.x));
  });
}
await plotLossVersusWork(
  join(out, 'loss-vs-work.svg'),
  [
    ...tv.history.map((e) => ({ series: 'standard TV (α)', work: e.work, loss: e.loss })),
    // The learned run starts where standard TV ended, so its work is counted on top.
    ...learned.history.map((e) => ({ series: 'learned K_θ + α (from TV)', work: tvWork + e.work, loss: e.loss })),
  ],
  'Learned TV discretisation (piggyback + Adam): training loss versus work',
);
writeJson(join(out, 'summary.json'), {
  settings: flags,
  backend: tf.getBackend(),
  tv: { alpha: tvAlpha, work: tv.result.work, workUnits: tvWork, seconds: tv.seconds, status: tv.result.status, history: tv.history },
  learned: {
    alpha: learnedAlpha,
    stencils: learned.result.theta.stencils.arraySync(),
    work: learned.result.work,
    workUnits: learnedWork,
    seconds: learned.seconds,
    status: learned.result.status,
    history: learned.history,
  },
  heldOut: { ...heldOut, learnedWinsOnCrops: wins, evalIterations: { tv: tvRecon.iterations, learned: learnedRecon.iterations } },
  seconds: (performance.now() - started) / 1000,
});
console.log(`wrote ${out}/{summary.json, loss-vs-work.svg, test*-{clean,noisy,tv,learned}.png} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

tf.dispose([noisy, tvRecon.x, learnedRecon.x, plainStencils, trainSet.y, trainSet.clean, testSet.y, testSet.clean]);
disposeParams(tv.result.theta);
disposeParams(learned.result.theta);
disposeParams(tvTheta0);
disposeParams(learnedTheta0);

/**
 * Field-of-Experts denoising: learn a filter regulariser by bilevel learning (implicit
 * hypergradients, Adam by default) on noisy training crops (σ = 0.1), learn smoothed TV (α, ν)
 * on the same crops with the same loss, and compare both with the noisy input on held-out crops
 * (per-crop FoE − TV differences in the console and summary).
 *
 * Default model (`--model foe`): Roth & Black's Student-t Fields of Experts,
 *
 *   Φ(x; θ, y) = ½‖x − y‖² + Σ_k e^{α_k} Σ_pixels log(1 + (c_k ∗ x)²/ν_k²),  θ = (c_k, α_k, ν_k),
 *
 * 24 zero-mean 5×5 filters (DCT init, kept zero-mean by projection), ν_k ≥ --nuMin (0.03),
 * mirror (symmetric) boundary padding, trained on 32 crops. `--expert charbonnier` gives the
 * convex smoothed-ℓ1 experts √(z² + ν²) − ν of the papers' FoE experiments; `--model ex` the
 * (Ex) model of Crockett & Fessler, "Bilevel methods for image reconstruction" (2022).
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-foe-denoise start [-- --count 16 --iterations 80]
 */
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { tf, initBackend, lbfgs, cg, disposeParams, workUnits, paramsToArrays, paramsFromArrays } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { maid, adam, train, box, projection, composeProximal, estimateBoundConstants } from '@bilevel/outer';
import type { ProgressEvent, Method, MethodStateBase, Proximal } from '@bilevel/outer';
import { reconstructionProblem, fieldsOfExperts, tvDenoisingProblem, psnr, ssim, randomFilters, lowFrequencyDctFilters, differenceFilters } from '@bilevel/imaging';
import { denoisingDataset, sampleImages, saveImage } from '@bilevel/imaging/node';
import { parseFlags, outputFolder, writeJson, progressReporter, plotLossVersusWork, markdownTable, handleProcessErrors, describeError, filterMosaic } from '@bilevel/cli';
import type { CurvePoint } from '@bilevel/cli';
import { tileDataset } from './data.js';
import { exPenalty } from './models.js';

/** Lower-level data of the example: noisy `y` and the clean target. */
type DenoisingData = { y: tf.Tensor; clean: tf.Tensor };

const flags = parseFlags({
  images: 'astronaut,camera',
  split: 'tiles',
  crop: 40,
  count: 32,
  testCount: 16,
  model: 'foe',
  nu: 0.1,
  nuMin: 0.03,
  learnEpsilon: false,
  filterStep: 0.1,
  filters: 24,
  size: 5,
  init: 'dct',
  expert: 'student-t',
  differences: 4,
  dctAlpha: 0,
  zeroMean: true,
  padding: 'symmetric',
  epsilon: 0.01,
  beta0: 'auto',
  sigma: 0.1,
  loss: 'mse',
  iterations: 150,
  tvIterations: 200,
  method: 'adam',
  tvMethod: 'adam',
  tvAdamStep: 0.05,
  tol0: 0.1,
  step0: 1,
  adamStep: 0.02,
  adamTol: 1e-3,
  safety: 2,
  seed: 0,
  out: 'out/foe-denoise',
  tvCache: '',
}, process.argv.slice(2), 'foe-denoise');

const where = 'foe-denoise';
for (const k of ['crop', 'count', 'testCount', 'filters', 'size', 'iterations'] as const) {
  if (!Number.isInteger(flags[k]) || flags[k] <= 0) throw new Error(`${where}: --${k} must be a positive integer, got ${flags[k]}.`);
}
if (flags.tvMethod !== 'maid' && flags.tvMethod !== 'adam') throw new Error(`${where}: --tvMethod must be 'maid' or 'adam', got '${flags.tvMethod}'.`);
if (flags.method !== 'maid' && flags.method !== 'adam') throw new Error(`${where}: --method must be 'maid' or 'adam', got '${flags.method}'.`);
if (flags.split !== 'tiles' && flags.split !== 'images') throw new Error(`${where}: --split must be 'tiles' or 'images', got '${flags.split}'.`);
if (flags.model !== 'ex' && flags.model !== 'foe') throw new Error(`${where}: --model must be 'ex' or 'foe', got '${flags.model}'.`);
if (flags.loss !== 'mse' && flags.loss !== 'psnr') throw new Error(`${where}: --loss must be 'mse' or 'psnr', got '${flags.loss}'.`);
if (flags.loss === 'psnr' && (flags.method === 'maid' || flags.tvMethod === 'maid')) {
  throw new Error(`${where}: --loss psnr is not quadratic, so MAID's constants (L_∇ℓ = 1/n) do not hold; use --loss mse with --method/--tvMethod maid.`);
}
if (!(flags.nuMin >= 0)) throw new Error(`${where}: --nuMin must be ≥ 0, got ${flags.nuMin}.`);
if (!(flags.filterStep > 0)) throw new Error(`${where}: --filterStep must be positive, got ${flags.filterStep}.`);
if (flags.init !== 'dct' && flags.init !== 'random' && flags.init !== 'diff+dct') throw new Error(`${where}: --init must be 'dct', 'diff+dct' or 'random', got '${flags.init}'.`);
if (flags.expert !== 'student-t' && flags.expert !== 'charbonnier') throw new Error(`${where}: --expert must be 'student-t' or 'charbonnier', got '${flags.expert}'.`);
if (flags.padding !== 'valid' && flags.padding !== 'symmetric' && flags.padding !== 'same') throw new Error(`${where}: --padding must be 'valid', 'same' or 'symmetric', got '${flags.padding}'.`);
if (flags.differences !== 2 && flags.differences !== 4) throw new Error(`${where}: --differences must be 2 or 4, got ${flags.differences}.`);
/** Number of finite-difference filters at the front of the initial filters (`--init diff+dct`). */
const nDiff = flags.init === 'diff+dct' ? Math.min(flags.differences, flags.filters) : 0;
if (flags.init !== 'random' && flags.filters - nDiff > flags.size * flags.size - 1) {
  throw new Error(`${where}: --init ${flags.init} gives at most ${flags.size * flags.size - 1 + nDiff} filters of size ${flags.size}; lower --filters or use --init random.`);
}

/**
 * Upper-level loss, the same for TV and the filter model.
 * `--loss mse`: ℓ = (1/n) Σ_i ½‖x_i − x_i^clean‖² (∇ₓℓ is (1/n)-Lipschitz; MAID's constants assume it).
 * `--loss psnr`: ℓ = (1/n) Σ_i ½ ln MSE_i = −(ln 10 / 20) · (mean PSNR over crops), i.e. the
 * reported metric (mean per-crop PSNR, peak 1) up to a factor; it weighs every crop equally
 * instead of by its squared error, so flat crops are not drowned by textured ones.
 */
const loss = flags.loss === 'psnr'
  ? (x: tf.Tensor, _theta: Params, d: DenoisingData) => tf.tidy(() => tf.mul(0.5, tf.mean(tf.log(tf.mean(tf.square(tf.sub(x, d.clean)), [1, 2, 3])))))
  : (x: tf.Tensor, _theta: Params, d: DenoisingData) => tf.tidy(() => tf.mul(0.5 / x.shape[0]!, tf.sum(tf.square(tf.sub(x, d.clean)))));

/** Initial filters: the lowest-frequency DCT atoms (ordered by p + q), or zero-mean random ones. */
function initialFilters(): tf.Tensor4D {
  if (flags.init === 'random') return randomFilters({ size: flags.size, count: flags.filters, seed: flags.seed });
  if (nDiff > 0) {
    const diffs = differenceFilters(flags.size, flags.differences as 2 | 4);
    const rest = flags.filters > nDiff ? dctAtoms(flags.filters - nDiff) : null;
    const both = tf.tidy(() => (rest == null ? tf.slice(diffs, [0, 0, 0, 0], [-1, -1, -1, nDiff]) : tf.concat([diffs, rest], 3))) as tf.Tensor4D;
    tf.dispose([diffs, ...(rest != null ? [rest] : [])]);
    return both;
  }
  return dctAtoms(flags.filters);
}

/** The `count` lowest-frequency non-constant DCT atoms of side --size. */
function dctAtoms(count: number): tf.Tensor4D {
  return lowFrequencyDctFilters(flags.size, count);
}

/** Lower-level solution to a tight tolerance (evaluation only). */
function solve(problem: Problem<DenoisingData>, theta: Params, data: DenoisingData, tol = 1e-3): { x: tf.Tensor; iterations: number } {
  const r = lbfgs().solve(problem, theta, data, { tol, tolMode: 'absolute', maxIter: 3000 });
  return { x: r.x, iterations: r.iterations };
}

/**
 * The learned filter model: (Ex) (`--model ex`) or Fields of Experts (`--model foe`, Student-t or
 * Charbonnier experts), weight `w` = β₀ or log α. With `--init diff+dct` the DCT atoms start at
 * log α = w + --dctAlpha (the difference filters at w).
 */
function filterModel(filters: tf.Tensor, w: number) {
  const R = flags.model === 'foe'
    ? fieldsOfExperts({ filters, alpha: Math.exp(w), nu: flags.nu, expert: flags.expert as 'student-t' | 'charbonnier', padding: flags.padding as 'valid' })
    : exPenalty({ filters, epsilon: flags.epsilon, beta0: w, learnEpsilon: flags.learnEpsilon, padding: flags.padding as 'valid' });
  if (flags.model !== 'foe' || nDiff === 0 || flags.dctAlpha === 0) return reconstructionProblem(R);
  return reconstructionProblem({
    ...R,
    init() {
      const theta = R.init();
      const k = theta.logAlpha.shape[0]!;
      const offset = tf.tensor1d(Array.from({ length: k }, (_, i) => (i < nDiff ? 0 : flags.dctAlpha)));
      const shifted = tf.add(theta.logAlpha, offset);
      tf.dispose([theta.logAlpha, offset]);
      return { ...theta, logAlpha: shifted };
    },
  });
}

/** Projection of the filters onto zero mean (`--zeroMean`): they then annihilate constant images, like derivatives. */
function zeroMeanFilters(theta: Params): Params {
  // a projection returns fresh tensors (its input may be disposed after it)
  const out: Params = {};
  for (const [k, t] of Object.entries(theta)) out[k] = k === 'filters' ? tf.tidy(() => tf.sub(t, tf.mean(t, [0, 1, 2], true))) : t.clone();
  return out;
}

/**
 * Initial overall weight β₀ of the filter model: the best of a coarse grid on the training
 * loss (one lower-level solve per value). Only the starting point; MAID learns β₀ afterwards.
 */
function chooseBeta0(filters: tf.Tensor, data: DenoisingData): number {
  let best = { beta0: NaN, loss: Infinity };
  const [lo, hi] = flags.model === 'foe' ? (flags.expert === 'charbonnier' ? [-7, -1] : [-10, -3]) : [-6, -1];
  for (let beta0 = lo; beta0 <= hi; beta0 += 0.5) {
    const model = filterModel(filters, beta0);
    const { x } = solve(model.problem as unknown as Problem<DenoisingData>, model.theta, data, 1e-2);
    const value = tf.tidy(() => loss(x, model.theta, data)).dataSync()[0];
    x.dispose();
    model.dispose();
    if (value < best.loss) best = { beta0, loss: value };
  }
  console.log(`learned FoE: initial ${flags.model === 'foe' ? 'log α' : 'β₀'} = ${best.beta0} (best of a grid over [${lo}, ${hi}] on the training loss, ${best.loss.toFixed(4)})`);
  return best.beta0;
}

interface Trained {
  label: string;
  theta: Params;
  history: ProgressEvent[];
  status: string;
  work: number;
  innerIterations: number;
  linearIterations: number;
  seconds: number;
  constants: Record<string, number>;
}

async function learn(label: string, problem: Problem<DenoisingData>, theta0: Params, data: DenoisingData, iterations: number, method: string, adamStep: number, project?: Proximal): Promise<Trained> {
  // μ = 1 from the data term ½‖x − y‖² (the Student-t experts are not convex: a heuristic there
  // too), L_∇ℓ = 1/n for the mean of n squared errors; the other three measured at θ₀.
  const constants = estimateBoundConstants(problem, theta0, data, { mu: 1, lossLipschitz: 1 / data.y.shape[0]!, safety: flags.safety, seed: flags.seed });
  console.log(`${label}: heuristic bound constants ${JSON.stringify(Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, Number(v.toPrecision(3))])))}`);
  const strategy = implicit({ inner: lbfgs(), linear: cg(), maxIter: 2000, linearMaxIter: 500 });
  const progress = progressReporter(iterations, label.padEnd(12), 10);
  const t0 = performance.now();
  // Adam runs on the full training set: every "minibatch" is all crops (the loss is a mean,
  // so their order does not matter and the same batch tensors serve every call).
  const n = data.y.shape[0]!;
  const result = await train({
    method: (method === 'maid'
      ? maid({ tol0: flags.tol0, step0: flags.step0 })
      : adam({ step: adamStep, size: n, batchSize: n, tol: flags.adamTol, seed: flags.seed, ...(theta0.filters != null ? { stepScale: { filters: flags.filterStep } } : {}) })) as Method<MethodStateBase>,
    problem,
    strategy,
    data,
    batchData: () => data,
    loss,
    constants,
    theta0,
    ...(project != null ? { project } : {}),
    budget: { iterations },
    onProgress: progress.onProgress,
  });
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  strategy.dispose?.();
  console.log(`${label}: ${result.message} (${result.history.length} iterations, work ${workUnits(result.work)}, ${seconds.toFixed(1)} s)`);
  return {
    label,
    theta: result.theta,
    history: result.history,
    status: result.status,
    work: workUnits(result.work),
    innerIterations: result.work.innerIterations,
    linearIterations: result.work.linearIterations,
    seconds,
    constants,
  };
}

/**
 * `--tvCache FILE`: reuse a learned TV from an earlier run with the same data and TV settings
 * (saves its ~80 s when only the filter model changes); written after training otherwise.
 */
async function cachedTv(run: () => Promise<Trained>): Promise<Trained> {
  if (flags.tvCache === '') return run();
  const key = JSON.stringify([flags.images, flags.split, flags.crop, flags.count, flags.testCount, flags.sigma, flags.seed, flags.loss, flags.tvIterations > 0 ? flags.tvIterations : flags.iterations, flags.tvMethod, flags.tvAdamStep]);
  if (existsSync(flags.tvCache)) {
    const c = JSON.parse(readFileSync(flags.tvCache, 'utf8')) as { key: string; trained: Omit<Trained, 'theta'>; theta: Record<string, { shape: number[]; values: number[] }> };
    if (c.key === key) {
      console.log(`learned TV: loaded from ${flags.tvCache} (--tvCache; same data and TV settings)`);
      return { ...c.trained, theta: paramsFromArrays(c.theta) };
    }
  }
  const t = await run();
  writeJson(flags.tvCache, { key, trained: { ...t, theta: undefined }, theta: paramsToArrays(t.theta) });
  return t;
}

function metrics(x: tf.Tensor, clean: tf.Tensor) {
  const p = psnr(x, clean);
  const s = ssim(x, clean);
  return { psnr: p.mean, ssim: s.mean, psnrPerImage: p.perImage, ssimPerImage: s.perImage };
}

const round = (v: number, d = 4) => Number(v.toFixed(d));

async function main(): Promise<void> {
  const backend = await initBackend();
  handleProcessErrors('foe-denoise'); // one line, not tfjs-wasm's 40 KB dump, for an error after this
  const out = outputFolder(flags.out);
  const start = performance.now();
  const all = sampleImages() as Record<string, string>;
  const chosen = flags.images === 'all' ? Object.keys(all) : String(flags.images).split(',').map((s) => s.trim());
  for (const c of chosen) if (all[c] == null) throw new Error(`${where}: --images: unknown image '${c}' (have ${Object.keys(all).join(', ')}, or 'all').`);
  let trainNames: string[];
  let testNames: string[];
  let dataset: { train: { clean: tf.Tensor4D; noisy: tf.Tensor4D }; test: { clean: tf.Tensor4D; noisy: tf.Tensor4D }; dispose(): void };
  if (flags.split === 'tiles') {
    dataset = tileDataset(chosen.map((c) => all[c]), flags.crop, flags.count, flags.testCount, flags.sigma, flags.seed);
    trainNames = testNames = chosen;
  } else {
    const d = denoisingDataset({ images: chosen.map((c) => all[c]), cropSize: flags.crop, count: flags.count, testCount: flags.testCount, sigma: flags.sigma, seed: flags.seed });
    dataset = d;
    trainNames = d.trainImages.map((i) => chosen[i]);
    testNames = d.testImages.map((i) => chosen[i]);
  }
  const trainData: DenoisingData = { y: dataset.train.noisy, clean: dataset.train.clean };
  const testData: DenoisingData = { y: dataset.test.noisy, clean: dataset.test.clean };
  const splitText = flags.split === 'tiles' ? 'disjoint checkerboard tiles of the same images' : 'held-out images';
  console.log(`${where}: backend ${backend}; ${flags.count} training crops ${flags.crop}×${flags.crop} from [${trainNames.join(', ')}], ${flags.testCount} held-out crops from [${testNames.join(', ')}] (${splitText}), σ = ${flags.sigma}`);

  // Learned TV: θ = (log α, log ν), the baseline the (Ex) model must beat.
  const tv = tvDenoisingProblem({ alpha: 0.05, nu: 0.05, learnNu: true });
  const tvProblem = tv.problem as unknown as Problem<DenoisingData>;
  const tvTrained = await cachedTv(() => learn('learned TV', tvProblem, tv.theta, trainData, flags.tvIterations > 0 ? flags.tvIterations : flags.iterations, flags.tvMethod, flags.tvAdamStep));

  // (Ex) filter model.
  const filters = initialFilters();
  const beta0 = flags.beta0 === 'auto' ? chooseBeta0(filters, trainData) : Number(flags.beta0);
  if (!Number.isFinite(beta0)) throw new Error(`${where}: --beta0 must be a number or 'auto', got '${flags.beta0}'.`);
  const foe = filterModel(filters, beta0);
  filters.dispose();
  const foeProblem = foe.problem as unknown as Problem<DenoisingData>;
  // Student-t FoE: ν_k ≥ --nuMin by projection (clipping log ν_k) after every step.
  const nuBound = flags.model === 'foe' && flags.nuMin > 0 ? box({ logNu: { lower: Math.log(flags.nuMin) } }) : undefined;
  const project = composeProximal(...(nuBound != null ? [nuBound] : []), ...(flags.zeroMean ? [projection(zeroMeanFilters, 'zero-mean filters')] : []));
  const foeTrained = await learn('learned FoE', foeProblem, foe.theta, trainData, flags.iterations, flags.method, flags.adamStep, project);

  // Held-out evaluation at tight lower-level accuracy.
  const noisyTrain = metrics(trainData.y, trainData.clean);
  const noisyTest = metrics(testData.y, testData.clean);
  const evaluate = (problem: Problem<DenoisingData>, theta: Params) => {
    const tr = solve(problem, theta, trainData);
    const te = solve(problem, theta, testData);
    const result = { train: metrics(tr.x, trainData.clean), test: metrics(te.x, testData.clean), x: te.x };
    tr.x.dispose();
    return result;
  };
  const tvEval = evaluate(tvProblem, tvTrained.theta);
  const foeEval = evaluate(foeProblem, foeTrained.theta);

  // Images: clean / noisy / TV / FoE per held-out crop, and one mosaic row per crop.
  const n = flags.testCount;
  for (let i = 0; i < n; i++) {
    const pick = (t: tf.Tensor) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]);
    const parts = [testData.clean, testData.y, tvEval.x, foeEval.x].map(pick);
    saveImage(join(out, `test${i}-clean.png`), parts[0]);
    saveImage(join(out, `test${i}-noisy.png`), parts[1]);
    saveImage(join(out, `test${i}-tv.png`), parts[2]);
    saveImage(join(out, `test${i}-foe.png`), parts[3]);
    tf.dispose(parts);
  }
  const mosaic = tf.tidy(() => {
    const rows = [];
    for (let i = 0; i < n; i++) {
      rows.push(tf.concat([testData.clean, testData.y, tvEval.x, foeEval.x].map((t) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1])), 2));
    }
    return tf.concat(rows, 1);
  });
  saveImage(join(out, 'mosaic-clean-noisy-tv-foe.png'), mosaic);
  mosaic.dispose();
  // The learned filters, each scaled to [0, 1], side by side.
  const filterImage = filterMosaic(foeTrained.theta.filters);
  saveImage(join(out, 'learned-filters.png'), filterImage);
  filterImage.dispose();

  // Loss-versus-work curves.
  const points: CurvePoint[] = [];
  for (const t of [tvTrained, foeTrained]) for (const e of t.history) if (e.accepted) points.push({ series: t.label, work: e.work, loss: e.loss });
  await plotLossVersusWork(join(out, 'loss-vs-work.svg'), points, `${flags.method}, σ = ${flags.sigma}: training loss ${flags.loss === 'psnr' ? '(1/n)·Σ ½ ln MSE_i' : '(1/n)·½‖x̂ − x‖²'} vs work`);

  const rows = [
    { model: 'noisy input', 'PSNR (dB)': round(noisyTest.psnr, 2), SSIM: round(noisyTest.ssim, 4), 'train PSNR': round(noisyTrain.psnr, 2), iterations: 0, work: 0, 'train time (s)': 0 },
    ...[
      [tvTrained, tvEval],
      [foeTrained, foeEval],
    ].map(([t, e]) => {
      const tr = t as Trained;
      const ev = e as typeof tvEval;
      return { model: tr.label, 'PSNR (dB)': round(ev.test.psnr, 2), SSIM: round(ev.test.ssim, 4), 'train PSNR': round(ev.train.psnr, 2), iterations: tr.history.length, work: tr.work, 'train time (s)': round(tr.seconds, 1) };
    }),
  ];
  const table = markdownTable(rows);
  console.log(`\nheld-out crops (${n}×${flags.crop}², σ = ${flags.sigma}); PSNR/SSIM are means over crops\n${table}\n`);
  // Per-crop FoE − TV held-out PSNR differences: mean, standard error, wins.
  const diffs = foeEval.test.psnrPerImage.map((p, i) => p - tvEval.test.psnrPerImage[i]);
  const meanDiff = diffs.reduce((a, b) => a + b, 0) / n;
  const sdDiff = Math.sqrt(diffs.reduce((a, d) => a + (d - meanDiff) ** 2, 0) / Math.max(n - 1, 1));
  const pooled = (p: number[]) => -10 * Math.log10(p.reduce((a, q) => a + 10 ** (-q / 10), 0) / p.length);
  const comparison = { pooledPsnrTv: pooled(tvEval.test.psnrPerImage), pooledPsnrFoe: pooled(foeEval.test.psnrPerImage), meanDiff, standardError: sdDiff / Math.sqrt(n), foeWins: diffs.filter((d) => d > 0).length, crops: n, perCrop: diffs.map((d) => round(d, 3)) };
  console.log(`FoE − TV held-out PSNR per crop: [${comparison.perCrop.join(', ')}]; mean ${meanDiff.toFixed(3)} ± ${comparison.standardError.toFixed(3)} dB (standard error); FoE wins ${comparison.foeWins}/${n} crops; PSNR of the pooled MSE: TV ${comparison.pooledPsnrTv.toFixed(2)}, FoE ${comparison.pooledPsnrFoe.toFixed(2)} dB`);
  console.log(`final training losses (--loss ${flags.loss}): TV ${tvTrained.history.at(-1)?.loss.toFixed(4)}, FoE ${foeTrained.history.at(-1)?.loss.toFixed(4)}`);

  const thetaSummary = (t: Params) => {
    const a = paramsToArrays(t);
    const s: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) {
      if (v.values.length <= 32) s[k] = v.values.map((x) => round(x, 5));
      else s[k] = { shape: v.shape, norm: round(Math.hypot(...v.values), 5), min: round(Math.min(...v.values), 5), max: round(Math.max(...v.values), 5) };
    }
    return s;
  };
  const wallSeconds = (performance.now() - start) / 1000;
  writeJson(join(out, 'summary.json'), {
    example: where,
    backend,
    settings: { ...flags, trainImages: trainNames, testImages: testNames, split: splitText, method: flags.method, strategy: 'implicit(lbfgs, cg)' },
    noisy: { train: { psnr: noisyTrain.psnr, ssim: noisyTrain.ssim }, test: noisyTest },
    models: [
      [tvTrained, tvEval],
      [foeTrained, foeEval],
    ].map(([t, e]) => {
      const tr = t as Trained;
      const ev = e as typeof tvEval;
      return {
        model: tr.label,
        status: tr.status,
        iterations: tr.history.length,
        work: tr.work,
        innerIterations: tr.innerIterations,
        linearIterations: tr.linearIterations,
        trainSeconds: tr.seconds,
        heuristicConstants: tr.constants,
        finalTrainingLoss: tr.history.at(-1)?.loss,
        theta: {
          ...thetaSummary(tr.theta),
          ...(tr.theta.logAlpha != null ? { alpha: Math.exp(tr.theta.logAlpha.dataSync()[0]) } : {}),
          ...(tr.theta.logNu != null && tr.theta.logNu.size === 1 ? { nu: Math.exp(tr.theta.logNu.dataSync()[0]) } : {}),
          ...(tr.theta.logEpsilon != null ? { epsilon: Math.exp(tr.theta.logEpsilon.dataSync()[0]) } : {}),
        },
        train: { psnr: ev.train.psnr, ssim: ev.train.ssim },
        test: ev.test,
      };
    }),
    table: rows,
    foeMinusTvHeldOutPsnr: comparison,
    wallSeconds,
  });
  console.log(`${where}: wrote ${out}/{summary.json, loss-vs-work.svg, mosaic-clean-noisy-tv-foe.png, learned-filters.png, test*-{clean,noisy,tv,foe}.png} in ${wallSeconds.toFixed(1)} s`);

  tf.dispose([tvEval.x, foeEval.x]);
  disposeParams(tvTrained.theta);
  disposeParams(foeTrained.theta);
  tv.dispose();
  foe.dispose();
  dataset.dispose();
}

main().catch((e) => {
  // One line (BILEVEL_DEBUG=1 for the stack), exit 1 (2 for a usage error).
  const { code, message } = describeError(e);
  console.error(`foe-denoise: ${message}`);
  process.exit(code);
});

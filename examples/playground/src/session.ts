/**
 * What a playground run is made of — data, model, strategy, upper-level method — built from a
 * plain, JSON-serialisable {@link PlaygroundConfig}. Free of DOM and Node APIs: the Web Worker
 * runs it in the browser and the browser test runs the very same code in Node, so the two
 * can be compared number for number.
 */
import { tf, lbfgs, cg, type Params, type Problem, type Strategy, type Loss } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium } from '@bilevel/equilibrium';
import { jacobianFree } from '@bilevel/jfb';
import { maid, adam, estimateBoundConstants, type Method, type MethodStateBase, type OracleConstants } from '@bilevel/outer';
import { tvDenoisingProblem, reconstructionProblem, fieldsOfExperts, lowFrequencyDctFilters, differenceFilters, centerCrop, addNoise } from '@bilevel/imaging';
import { tvBoundConstants } from '@bilevel/example-tv-denoise/src/constants.js';
import { MODELS, STRATEGIES, METHODS, PLAYGROUND_DEFAULTS, type PlaygroundConfig, type GrayImage } from './choices.js';

export { MODELS, STRATEGIES, METHODS, PLAYGROUND_DEFAULTS, type PlaygroundConfig, type GrayImage };

/** Lower-level data: noisy `y`, and the clean target of the upper-level loss. */
export type DenoisingData = { y: tf.Tensor; clean: tf.Tensor };

/** Checks a config from the page (or a test) and fills defaults; errors name the field and the fix. */
export function checkConfig(config: Partial<PlaygroundConfig>): PlaygroundConfig {
  const c = { ...PLAYGROUND_DEFAULTS, ...config };
  const where = 'playground';
  const oneOf = (key: 'model' | 'strategy' | 'method', table: object) => {
    if (!(c[key] in table)) throw new Error(`${where}: config '${key}' must be one of ${Object.keys(table).join(', ')}, got '${String(c[key])}'.`);
  };
  oneOf('model', MODELS);
  oneOf('strategy', STRATEGIES);
  oneOf('method', METHODS);
  if (!(c.sigma > 0 && c.sigma <= 0.5)) throw new Error(`${where}: config 'sigma' must be in (0, 0.5], got ${c.sigma}.`);
  if (!Number.isInteger(c.crop) || c.crop < 16 || c.crop > 128) throw new Error(`${where}: config 'crop' must be an integer in [16, 128] (small crops keep a run to seconds), got ${c.crop}.`);
  if (!Number.isInteger(c.iterations) || c.iterations < 1) throw new Error(`${where}: config 'iterations' must be a positive integer, got ${c.iterations}.`);
  return c;
}

/**
 * Training pair from an image: average-pooled by the largest integer factor that keeps the
 * short side ≥ 2·crop (so the crop shows structure, not a few flat pixels of a large photo),
 * then the centre crop, plus seeded Gaussian noise. Pooling and noise are deterministic, so
 * Node and the browser build the same pair from the same pixels.
 */
export function makeData(image: GrayImage, crop: number, sigma: number, seed: number): DenoisingData {
  const where = 'playground makeData';
  if (image.values.length !== image.width * image.height) throw new Error(`${where}: image has ${image.values.length} values for ${image.width}×${image.height}.`);
  if (Math.min(image.width, image.height) < crop) throw new Error(`${where}: image ${image.width}×${image.height} is smaller than the crop ${crop}; choose a smaller crop.`);
  const factor = Math.max(1, Math.floor(Math.min(image.width, image.height) / (2 * crop)));
  const clean = tf.tidy(() => {
    const full = tf.tensor4d(image.values, [1, image.height, image.width, 1]);
    const pooled = factor > 1 ? tf.avgPool(full, factor, factor, 'valid') : full;
    return centerCrop(pooled, crop);
  });
  return { y: addNoise(clean, sigma, seed), clean };
}

/** ℓ(x) = ½‖x − x_clean‖² / n: MAID's constants take L_{∇ℓ} = 1/n. */
export const loss: Loss<DenoisingData> = (x, _theta, data) => tf.tidy(() => tf.mul(0.5 / x.shape[0]!, tf.sum(tf.square(tf.sub(x, data.clean)))));

/** The model's problem, initial θ and MAID's bound constants. The caller disposes `theta0`. */
export interface Model {
  problem: Problem<DenoisingData>;
  theta0: Params;
  constants: OracleConstants<DenoisingData>;
  dispose(): void;
}

/** Builds the lower-level model of `config` for `data`. */
// θ₀ is deliberately under-regularised (TV: α = 0.01, x̂(θ₀) ≈ +1.6 dB over noisy on camera;
// learned ≈ +5 dB), so that the curves show learning rather than a good guess.
export function buildModel(config: PlaygroundConfig, data: DenoisingData): Model {
  const n = data.y.shape[0]!;
  if (config.model === 'tv') {
    const tv = tvDenoisingProblem({ alpha: 0.01, nu: 0.05, learnNu: true });
    return {
      problem: tv.problem as unknown as Problem<DenoisingData>,
      theta0: tv.theta,
      constants: (theta, _d, x) => tvBoundConstants(theta, x, n),
      dispose: () => tv.dispose(),
    };
  }
  // 8 filters 5×5: the 4 difference filters (so θ₀ starts near anisotropic TV; with DCT atoms
  // alone 10 Adam steps gained 1.8 dB instead of 4.5) and the 4 lowest-frequency DCT atoms.
  const filters = tf.tidy(() => tf.concat([differenceFilters(5, 4), lowFrequencyDctFilters(5, 4)], 3));
  const foe = reconstructionProblem(fieldsOfExperts({ filters, alpha: 0.01, nu: 0.05, expert: 'charbonnier' }));
  filters.dispose();
  const problem = foe.problem as unknown as Problem<DenoisingData>;
  // Heuristic (measured at θ₀, safety factor 2), as in examples/foe-denoise: μ = 1 from the
  // data term, L_∇ℓ = 1/n for the mean of n squared errors.
  const constants = estimateBoundConstants(problem, foe.theta, data, { mu: 1, lossLipschitz: 1 / data.y.shape[0]!, safety: 2, seed: config.seed });
  return { problem, theta0: foe.theta, constants, dispose: () => foe.dispose() };
}

/** The strategy of `config`, with caps that keep a browser run to seconds. */
export function buildStrategy(name: PlaygroundConfig['strategy']): Strategy & { dispose?(): void } {
  switch (name) {
    case 'implicit': return implicit({ inner: lbfgs(), linear: cg(), maxIter: 1000, linearMaxIter: 300 });
    case 'unrolled': return unrolled({ steps: 30, memory: { checkpoint: 'sqrt' } });
    case 'equilibrium': return equilibrium({ maxIter: 1000, linearMaxIter: 300 });
    case 'jfb': return jacobianFree({ inner: lbfgs(), steps: 1, maxIter: 1000 });
  }
}

/** The upper-level method of `config` (one training pair, so Adam's minibatch is the whole set). */
export function buildMethod(config: PlaygroundConfig): Method<MethodStateBase> {
  if (config.method === 'maid') return maid({ tol0: 1e-1, step0: 1 }) as unknown as Method<MethodStateBase>;
  const step = config.model === 'tv' ? 0.2 : 0.1;
  return adam({ step, size: 1, batchSize: 1, tol: 1e-3, seed: config.seed, ...(config.model === 'foe' ? { stepScale: { filters: 0.1 } } : {}) }) as unknown as Method<MethodStateBase>;
}

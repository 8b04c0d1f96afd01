/**
 * The workloads of bench:peer, built once on bilevel's side and written to JSON for the peers,
 * so every implementation differentiates the same numbers:
 *
 * - primitives: gradient, HVP and mixed product of the Fields-of-Experts energy of
 *   @bilevel/imaging (`foeProblem`, Student-t experts, 'same' padding, ν = 1: exactly
 *   `½‖x − y‖² + Σ_k e^{α_k} Σ log(1 + (c_k ∗ x)²)`), 96×96, 30 filters 7×7, batch 1 and 8;
 * - one implicit hypergradient at identical work: 100 gradient-descent steps from y with a
 *   fixed step, 30 conjugate-gradient steps on `H q = ∇ₓℓ`, one mixed product, ℓ = (1/n)·½‖x − x_clean‖²;
 * - a short training run: Adam on θ with that hypergradient, for smoothed TV (θ = log α, log ν)
 *   and for the FoE, from the same θ₀ on the same crops, so every side reaches the same losses.
 */
import { tf, powerIteration } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { foeProblem, tvDenoisingProblem, randomCrops, addNoise } from '@bilevel/imaging';
import { loadImage, sampleImages } from '@bilevel/imaging/node';

export const SIZE = Number(process.env.BENCH_SIZE ?? 96);
export const FILTERS = Number(process.env.BENCH_FILTERS ?? 30);
export const KERNEL = Number(process.env.BENCH_KERNEL ?? 7);
export const BATCHES = (process.env.BENCH_BATCHES ?? '1,8').split(',').map(Number);
/** Interleaved rounds per primitive, and calls per side in each round's block (rounds.ts). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
export const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
export const GD_STEPS = 100;
export const CG_STEPS = 30;

/** The benchmark FoE as a bilevel problem; `derivatives: false` is autodiff only. */
export function foe(derivatives: boolean) {
  const filters = tf.zeros([KERNEL, KERNEL, 1, FILTERS]);
  const built = foeProblem({ filters, padding: 'same', nu: 1, alpha: Math.exp(-2), derivatives });
  filters.dispose();
  return built;
}

/** Smoothed TV with learned (α, ν). */
export function tv(derivatives: boolean) {
  return tvDenoisingProblem({ nu: 0.05, alpha: 0.05, learnNu: true, derivatives });
}

/** Seeded FoE inputs: clean image, noisy y, a direction v, θ (filters 0.1·N(0, 1), log α = −2, log ν = 0). */
export function foeInputs(batch: number, size: number) {
  return {
    clean: tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2),
    y: tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1),
    v: tf.randomNormal([batch, size, size, 1], 0, 1, 'float32', 3),
    theta: {
      filters: tf.tidy(() => tf.mul(tf.randomNormal([KERNEL, KERNEL, 1, FILTERS], 0, 1, 'float32', 4), 0.1)),
      logAlpha: tf.fill([FILTERS], -2),
      logNu: tf.zeros([FILTERS]),
    } as Params,
  };
}

/** Noisy (σ = 0.1) and clean crops of the bundled 'camera' image. */
export function crops(count: number, size: number, seed: number) {
  const image = loadImage(sampleImages().camera);
  const clean = randomCrops(image, size, count, seed);
  const y = addNoise(clean, 0.1, seed + 1);
  image.dispose();
  return { clean, y };
}

/**
 * A gradient-descent step that is stable for the FoE at every x: its Hessian is largest where
 * every response is 0 (ρ'' ≤ 2/ν² there), so 1/λ_max(∇²Φ(0)) (power iteration, +5%).
 */
export function foeStep(theta: Params, shape: number[]): number {
  const { problem, dispose } = foe(true);
  const zero = tf.zeros(shape);
  const data = { y: zero };
  const { max } = powerIteration((v) => problem.hvp(zero, theta, data, v), zero, { maxIter: 100 });
  tf.dispose(zero);
  dispose();
  return 1 / (1.05 * max);
}

/** Step 1/L for smoothed TV, L = 1 + 8α/ν (the same formula on every side). */
export function tvStep(theta: Params): number {
  const [a, n] = tf.tidy(() => [tf.exp(theta.logAlpha).dataSync()[0], tf.exp(theta.logNu).dataSync()[0]]);
  return 1 / (1 + (8 * a) / n);
}

/** `{ shape, values }` for the JSON the peers read. */
export const arrays = (t: tf.Tensor) => ({ shape: t.shape, values: Array.from(t.dataSync()) });
export const treeArrays = (p: Params) => Object.fromEntries(Object.entries(p).map(([k, t]) => [k, arrays(t)]));

/**
 * Inexact stochastic methods over minibatches of training pairs (inexact SGD of Salehi, Mukherjee, Roberts & Ehrhardt, "Bilevel learning with inexact stochastic
 * gradients", SSVM 2025): θ_{k+1} = θ_k − α_k z_{w_k}(θ_k), where z_w is an inexact
 * hypergradient of the minibatch objective F_w, computed to a fixed or decaying accuracy.
 *
 * Minibatches come from shuffled epochs drawn with a seeded mulberry32 generator whose
 * state is part of the method state, so a resumed run draws the same batches.
 *
 * @packageDocumentation
 */
import { tf, normParams, disposeParams, keysOf, type Params } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, ParamsArrays, StepContext, StepInfo } from './types.js';
import { toArrays, fromArrays, withParams, gradientStep, requireGrad, checkRange, checkInt, checkKeys } from './internal/util.js';
import { mulberry32, permutation } from './internal/rng.js';
import { toSchedule, type Schedule } from './schedules.js';

/** Options shared by {@link sgd} and {@link adam}. */
export interface StochasticOptions {
  /** Step α (constant) or step schedule k ↦ α_k. */
  step: number | Schedule;
  /** Number of training pairs N (batch indices are drawn from 0..N−1). */
  size: number;
  /** Minibatch size B ≤ N. */
  batchSize: number;
  /** Inner tolerance (constant) or schedule k ↦ ε_k. */
  tol: number | Schedule;
  /** Adjoint tolerance (constant) or schedule; default: `tol`. */
  linearTol?: number | Schedule;
  /** Seed of the minibatch shuffling (uint32). Default 0. */
  seed?: number;
  /**
   * Per-leaf step multipliers: leaf `key` moves by `α_k · stepScale[key]` (default 1), e.g.
   * `{ filters: 0.1 }` when filters need a 10× smaller step than weights. Adam's step is
   * invariant to the gradient's scale, so this is its only way to give groups their own step.
   */
  stepScale?: Record<string, number>;
}

/** Adam's extra options (Kingma & Ba 2015). */
export interface AdamOptions extends StochasticOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Defaults of {@link sgd} (seed 0) and {@link adam} (Kingma & Ba's β₁, β₂, ϵ). */
export const SGD_DEFAULTS = Object.freeze({ seed: 0 });
export const ADAM_DEFAULTS = Object.freeze({ seed: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });

/** State of {@link sgd}: θ, the epoch's permutation and cursor, and the PRNG state. */
export interface SgdState extends MethodStateBase {
  rng: number;
  epoch: number;
  order: number[];
  cursor: number;
}

/** State of {@link adam}: {@link SgdState} plus the moment estimates. */
export interface AdamState extends SgdState {
  m: ParamsArrays;
  v: ParamsArrays;
}

interface Common {
  step: Schedule;
  tol: Schedule;
  linearTol: Schedule;
  size: number;
  batchSize: number;
  seed: number;
  stepScale: Record<string, number>;
}

function validateCommon(where: string, options: StochasticOptions, extra: readonly string[]): Common {
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object, e.g. ${where}({ step: 0.1, size: N, batchSize: 4, tol: 1e-2 }).`);
  checkKeys(where, options, ['step', 'size', 'batchSize', 'tol', 'linearTol', 'seed', 'stepScale', ...extra]);
  const stepScale = options.stepScale ?? {};
  if (stepScale == null || typeof stepScale !== 'object') throw new Error(`${where}: option 'stepScale' must be an object { leaf: multiplier }, got ${String(stepScale)}.`);
  for (const [k, m] of Object.entries(stepScale)) {
    if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw new Error(`${where}: stepScale.${k} must be a positive number, got ${String(m)}.`);
  }
  checkInt(where, 'size', options.size, 1, 'give the number of training pairs');
  checkInt(where, 'batchSize', options.batchSize, 1, 'give a minibatch size ≥ 1');
  if (options.batchSize > options.size) throw new Error(`${where}: option 'batchSize' (${options.batchSize}) exceeds 'size' (${options.size}); use batchSize ≤ size.`);
  const seed = options.seed ?? SGD_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`${where}: option 'seed' must be an integer in [0, 2³²), got ${String(seed)}.`);
  const tol = toSchedule(where, 'tol', options.tol);
  return { step: toSchedule(where, 'step', options.step), tol, linearTol: toSchedule(where, 'linearTol', options.linearTol, tol), size: options.size, batchSize: options.batchSize, seed, stepScale: { ...stepScale } };
}

/**
 * The step `α_k · direction` with every leaf named in `stepScale` multiplied by its factor,
 * applied through {@link gradientStep} (and the proximal map); the caller keeps `direction`.
 */
function scaledStep(where: string, c: Common, theta: Params, direction: Params, alpha: number, proximal: StepContext['proximal']): ParamsArrays {
  const keys = Object.keys(c.stepScale);
  if (keys.length === 0) return gradientStep(theta, direction, alpha, proximal).next;
  for (const k of keys) if (!(k in direction)) throw new Error(`${where}: stepScale names '${k}', which is not a parameter (θ has ${keysOf(direction).join(', ')}).`);
  const scaled: Params = {};
  for (const k of keysOf(direction)) scaled[k] = k in c.stepScale ? tf.mul(direction[k], c.stepScale[k]) : direction[k];
  try {
    return gradientStep(theta, scaled, alpha, proximal).next;
  } finally {
    for (const k of keys) scaled[k].dispose();
  }
}

function initSampler(c: Common): Pick<SgdState, 'rng' | 'epoch' | 'order' | 'cursor'> {
  const rng = mulberry32(c.seed);
  const order = permutation(c.size, rng);
  return { rng: rng.state, epoch: 0, order, cursor: 0 };
}

/** Next minibatch and the sampler state after it (reshuffles at the end of an epoch). */
function nextBatch(c: Common, s: SgdState): { batch: number[]; sampler: Pick<SgdState, 'rng' | 'epoch' | 'order' | 'cursor'> } {
  const batch = s.order.slice(s.cursor, s.cursor + c.batchSize);
  let cursor = s.cursor + c.batchSize;
  let { rng, epoch, order } = s;
  if (cursor >= c.size) {
    const g = mulberry32(rng);
    order = permutation(c.size, g);
    rng = g.state;
    epoch++;
    cursor = 0;
  }
  return { batch, sampler: { rng, epoch, order, cursor } };
}

/**
 * One step of a minibatch method: draw the batch, call the oracle at the step's accuracy, turn
 * its hypergradient into a direction (`update`: the gradient for SGD, Adam's moment ratio), take
 * the (scaled, proximal) step, and return the next state with `update`'s extra state merged in.
 * `owned` says the direction's tensors are the update's to dispose (not the oracle's).
 */
function minibatchStep<S extends SgdState>(
  where: string,
  c: Common,
  state: S,
  oracle: Oracle,
  context: StepContext,
  update: (theta: Params, grad: Params) => { direction: Params; state: Partial<S>; owned?: boolean },
): { state: S; info: StepInfo } {
  const k = state.iteration;
  const { batch, sampler } = nextBatch(c, state);
  const tol = c.tol(k);
  const linearTol = c.linearTol(k);
  const alpha = c.step(k);
  return withParams(state.theta, (theta) => {
    const r = oracle(theta, { tol, linearTol }, { batch });
    try {
      const grad = requireGrad(`${where}.step`, r);
      const gradNorm = normParams(grad);
      const penalty = context.proximal != null ? context.proximal.value(theta) : 0;
      if (!Number.isFinite(gradNorm) || !Number.isFinite(r.value)) {
        const info: StepInfo = { iteration: k, value: r.value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, work: r.work, evaluations: 1, stop: 'oracle-failed', message: `${where}: non-finite value or gradient at iteration ${k}; lower the step.` };
        return { state, info };
      }
      const u = update(theta, grad);
      const next = scaledStep(where, c, theta, u.direction, alpha, context.proximal);
      if (u.owned) disposeParams(u.direction);
      const info: StepInfo = { iteration: k, value: r.value + penalty, gradNorm, bound: r.bound, tol, linearTol, step: alpha, accepted: true, work: r.work, evaluations: 1 };
      return { state: { ...state, ...u.state, theta: next, iteration: k + 1, ...sampler }, info };
    } finally {
      r.dispose();
    }
  });
}

/**
 * Inexact minibatch SGD: θ_{k+1} = prox(θ_k − α_k h_{B_k}(θ_k)), with h_B the oracle's
 * hypergradient of the minibatch loss (1/|B|)Σ_{i∈B} ℓ(x̂_i(θ)) at accuracy (ε_k, δ_k).
 *
 * @param options - {@link StochasticOptions}.
 * @returns a {@link Method} with state {@link SgdState}.
 * @example
 * ```ts
 * const method = sgd({ step: 0.05, size: 16, batchSize: 4, tol: 1e-3, seed: 7 });
 * ```
 */
export function sgd(options: StochasticOptions): Method<SgdState> {
  const where = 'sgd';
  const c = validateCommon(where, options, []);
  return {
    name: 'sgd',
    options: Object.freeze({ ...options }),
    init: (theta: Params): SgdState => ({ theta: toArrays(theta), iteration: 0, ...initSampler(c) }),
    step: (state: SgdState, oracle: Oracle, context: StepContext = {}) =>
      minibatchStep(where, c, state, oracle, context, (theta, grad) => ({ direction: grad, state: {} })),
  };
}

/**
 * Inexact minibatch Adam (Kingma & Ba 2015) on the oracle's minibatch hypergradients:
 * m ← β₁m + (1−β₁)h, v ← β₂v + (1−β₂)h², θ ← prox(θ − α_k m̂/(√v̂ + ϵ)) with
 * m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), t = k + 1.
 *
 * @param options - {@link AdamOptions}; β₁, β₂, ϵ default to {@link ADAM_DEFAULTS}.
 * @returns a {@link Method} with state {@link AdamState}.
 * @example
 * ```ts
 * const method = adam({ step: 0.05, size: 16, batchSize: 4, tol: 1e-3 });
 * ```
 */
export function adam(options: AdamOptions): Method<AdamState> {
  const where = 'adam';
  const c = validateCommon(where, options, ['beta1', 'beta2', 'epsilon']);
  const beta1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
  const beta2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
  const epsilon = options.epsilon ?? ADAM_DEFAULTS.epsilon;
  checkRange(where, 'beta1', beta1, 0, 1, false, true, 'use e.g. 0.9');
  checkRange(where, 'beta2', beta2, 0, 1, false, true, 'use e.g. 0.999');
  checkRange(where, 'epsilon', epsilon, 0, Infinity, true, true, 'use e.g. 1e-8');
  const zeros = (theta: Params): ParamsArrays => {
    const out: ParamsArrays = {};
    for (const k of keysOf(theta)) out[k] = { shape: theta[k].shape.slice(), values: new Array(theta[k].size).fill(0) };
    return out;
  };
  return {
    name: 'adam',
    options: Object.freeze({ ...options, beta1, beta2, epsilon }),
    init: (theta: Params): AdamState => ({ theta: toArrays(theta), iteration: 0, ...initSampler(c), m: zeros(theta), v: zeros(theta) }),
    step: (state: AdamState, oracle: Oracle, context: StepContext = {}) =>
      minibatchStep(where, c, state, oracle, context, (theta, grad) => {
        const m0 = fromArrays(state.m);
        const v0 = fromArrays(state.v);
        const t = state.iteration + 1;
        const { m, v, direction } = tf.tidy(() => {
          const m: Params = {};
          const v: Params = {};
          const direction: Params = {};
          for (const key of keysOf(theta)) {
            m[key] = tf.add(tf.mul(m0[key], beta1), tf.mul(grad[key], 1 - beta1));
            v[key] = tf.add(tf.mul(v0[key], beta2), tf.mul(tf.square(grad[key]), 1 - beta2));
            const mHat = tf.div(m[key], 1 - Math.pow(beta1, t));
            const vHat = tf.div(v[key], 1 - Math.pow(beta2, t));
            direction[key] = tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon));
          }
          return { m, v, direction };
        });
        disposeParams(m0);
        disposeParams(v0);
        const moments = { m: toArrays(m), v: toArrays(v) };
        disposeParams(m);
        disposeParams(v);
        return { direction, state: moments, owned: true };
      }),
  };
}

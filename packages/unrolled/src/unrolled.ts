import { defineStrategy, defineOptions, opt, recordExplicit } from '@bilevel/core';
import type { Data, Params, Problem, FixedPointProblem, DrivenStrategy, Work } from '@bilevel/core';
import type { tf } from '@bilevel/core';
import type { StepSize, Method } from './internal/steps.js';
import type { UnrolledConfig, UnrolledMemory } from './internal/config.js';
import { unrolledForward } from './forward.js';
import { sweepRule } from './rules/rule.js';
import { reverseSweep } from './rules/reverse.js';
import { forwardModeSweep } from './rules/forward-mode.js';

export type { StepSize, Method } from './internal/steps.js';
export type { UnrolledMemory } from './internal/config.js';

/** Options of {@link unrolled}. */
export interface UnrolledOptions {
  /** Number T of solver steps unrolled. */
  steps?: number;
  /**
   * Step size s of the gradient step `x ← x − s∇ₓΦ(x; θ)`: a number, or a differentiable
   * function of θ returning a scalar tensor (its θ-dependence is differentiated too).
   * Default: `1 / L` with L from the problem's `smoothness`. Ignored for fixed-point problems.
   */
  stepSize?: StepSize;
  /** `'gd'`, `'heavy-ball'` (Polyak) or `'nesterov'`. Fixed-point problems always iterate `x ← T(x)`. */
  method?: Method;
  /** Momentum β of heavy-ball and Nesterov, in [0, 1). */
  momentum?: number;
  /** `'reverse'` (backpropagation) or `'forward'` (one tangent per scalar parameter). */
  mode?: 'reverse' | 'forward';
  /**
   * `'full'`: one tape over all differentiated steps (memory O(T) states).
   * `{ checkpoint: 'sqrt' }`: keep every ⌈√K⌉-th state and recompute each segment in the
   * backward sweep (memory O(√K), one extra forward sweep). `{ checkpointEvery: k }`: every k-th.
   */
  memory?: UnrolledMemory;
  /** Differentiate only through the last K steps; x_{T−K} is treated as a constant. Default: all T. */
  truncate?: number;
  /** Start each call from the previous call's x_T (when `request.x0` is not given). */
  warmStart?: boolean;
}

/** Defaults of {@link unrolled}. */
export const DEFAULT_UNROLLED_OPTIONS = {
  steps: 100,
  method: 'gd' as Method,
  momentum: 0.9,
  mode: 'reverse' as 'reverse' | 'forward',
  memory: 'full' as UnrolledMemory,
  warmStart: false,
} as const;

/** An unrolled-differentiation strategy. */
export interface UnrolledStrategy extends DrivenStrategy<UnrolledOptions> {
  /** The forward solve alone: T steps from `x0` (or the problem's initial point). The caller owns `x`. */
  solve<D = Data>(request: { problem: Problem<D> | FixedPointProblem<D>; theta: Params; data: D; x0?: tf.Tensor; tol?: number; maxIter?: number }): {
    x: tf.Tensor; residual: number; converged: boolean; message: string; work: Work;
  };
  /**
   * VJP `(∂x_T/∂θ)ᵀ v` of the unrolled map from the problem's initial point (the start
   * {@link UnrolledStrategy.solve} uses without `x0`); `x` only fixes the shape.
   */
  vjpSolution<D = Data>(request: { problem: Problem<D> | FixedPointProblem<D>; theta: Params; data: D; x: tf.Tensor; cotangent: tf.Tensor }): {
    grad: Params; converged: boolean; message: string; work: Work;
  };
}

const WHERE = 'unrolled';
const METHODS: readonly Method[] = ['gd', 'heavy-ball', 'nesterov'];
const isMemory = (m: unknown) =>
  m === 'full' || (m != null && typeof m === 'object' && (((m as { checkpoint?: unknown }).checkpoint === 'sqrt') || (Number.isInteger((m as { checkpointEvery?: unknown }).checkpointEvery) && ((m as { checkpointEvery: number }).checkpointEvery > 0))));

const UNROLLED_OPTIONS = defineOptions<UnrolledOptions>(WHERE, {
  steps: opt.integer({ min: 1 }),
  stepSize: opt.union([opt.number({ gt: 0 }), opt.func()]),
  method: opt.custom(`one of ${METHODS.map((m) => `'${m}'`).join(', ')}`, (v) => METHODS.includes(v as Method)),
  momentum: opt.custom('< 1 and ≥ 0 for the iteration to converge', (v) => typeof v === 'number' && v >= 0 && v < 1),
  mode: opt.oneOf(['reverse', 'forward']),
  memory: opt.custom("'full', { checkpoint: 'sqrt' } or { checkpointEvery: k } with k a positive integer", isMemory),
  truncate: opt.integer({ min: 1 }),
  warmStart: opt.boolean(),
}, unrolled);

function validate(options: UnrolledOptions): UnrolledOptions {
  if (options == null || typeof options !== 'object') throw new Error(`${WHERE}: options must be an object such as { steps: 100 }.`);
  const given = UNROLLED_OPTIONS.check(options);
  const steps = given.steps ?? DEFAULT_UNROLLED_OPTIONS.steps;
  if (given.truncate != null && given.truncate > steps) {
    throw new Error(`${WHERE}: option 'truncate' (${given.truncate}) exceeds 'steps' (${steps}); use truncate ≤ steps or omit it.`);
  }
  return given;
}

/**
 * Unrolled differentiation: run T steps of a solver and differentiate the resulting
 * x_T(θ) exactly (the gradient of the *unrolled map*, not of the exact argmin).
 *
 * Energy problems take `x_{t+1} = x_t − s(θ)∇ₓΦ(x_t; θ)` (or heavy-ball / Nesterov);
 * fixed-point problems take `x_{t+1} = T(x_t; θ)`. The result is
 * `∇_θ ℓ(x_T(θ), θ)` with x_0 (and, under `truncate: K`, x_{T−K}) held constant. For
 * quadratic Φ started from any x_0 reverse mode equals implicit differentiation with the
 * adjoint system solved by T Richardson steps of size s from q_0 = 0 (Ehrhardt & Roberts 2024).
 *
 * A strategy on core's driver: the forward solve is T untaped steps (`forward.ts`), the rule
 * one sweep mode (`rules/reverse.ts`: full tape or checkpointed; `rules/forward-mode.ts`),
 * truncation a constant prefix. Without `tol` the result's status is `'fixed-steps'` ("exact
 * gradient of T steps, not of the solution map"); a diverging or non-finite unroll is flagged
 * not converged whatever `tol` is.
 *
 * Cost: reverse mode, T step evaluations forward and K step-VJPs (each one HVP plus one mixed
 * product) backward; checkpointing adds one more forward sweep and cuts memory from O(K) to
 * O(√K) states. Forward mode costs (#parameters) × K JVPs (≈ 2 VJPs each) and memory
 * O(#parameters) states: use it for a handful of parameters only.
 *
 * @param options - see {@link UnrolledOptions}; defaults in {@link DEFAULT_UNROLLED_OPTIONS}.
 * @returns an {@link UnrolledStrategy}.
 * @example
 * ```ts
 * const strategy = unrolled({ steps: 200, stepSize: 0.1, memory: { checkpoint: 'sqrt' } });
 * const result = strategy.compute({ problem, theta, data, loss, tol: 1e-4 });
 * console.log(result.value, result.status, result.grad);
 * result.dispose();
 * ```
 */
export function unrolled(options: UnrolledOptions = {}): UnrolledStrategy {
  const given = validate(options);
  const steps = options.steps ?? DEFAULT_UNROLLED_OPTIONS.steps;
  const config: UnrolledConfig = {
    steps,
    K: options.truncate ?? steps,
    method: options.method ?? DEFAULT_UNROLLED_OPTIONS.method,
    momentum: options.momentum ?? DEFAULT_UNROLLED_OPTIONS.momentum,
    memory: options.memory ?? DEFAULT_UNROLLED_OPTIONS.memory,
    stepSize: options.stepSize,
  };
  const mode = options.mode ?? DEFAULT_UNROLLED_OPTIONS.mode;
  const rule = mode === 'forward' ? sweepRule(config, 'unrolled(forward mode)', forwardModeSweep, reverseSweep(config.memory)) : sweepRule(config, 'unrolled(reverse)', reverseSweep(config.memory));
  const strategy = defineStrategy({
    name: 'unrolled',
    forward: unrolledForward(config),
    rule,
    options: Object.freeze({ ...given }),
    warmStart: options.warmStart ?? DEFAULT_UNROLLED_OPTIONS.warmStart,
    kindHint: 'Saddle points need piggyback() from @bilevel/piggyback.',
  });
  return recordExplicit(strategy, given) as UnrolledStrategy;
}

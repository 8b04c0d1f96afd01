/**
 * The one iteration driver every inner solver shares (Optimistix style: a solver is
 * `init / step`, this loop does the rest), plus the option checks inner and linear solvers
 * have in common.
 *
 * The driver owns everything a solver should not have to repeat: option validation,
 * the starting point and its checks, the stopping rule, NaN detection, tensor lifetimes
 * (every tensor of the previous state that the new state does not reuse is disposed), the
 * work counters, the status message and the distance bound.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Problem, Data } from '../problem.js';
import { emptyWork, type Work } from '../work.js';
import { statusMessage, type StatusFacts } from '../status.js';
import { checkFinite, checkNonNegative, checkPositiveInt, checkShape } from '../validate.js';
import type { InnerResult, InnerSolveOptions, InnerStatus } from './types.js';

/** Options every inner solver accepts (factory defaults, overridable per call). */
export interface InnerBaseOptions {
  /** Stopping tolerance on ‖∇ₓΦ‖ (see `tolMode`). */
  tol?: number;
  /** `'absolute'`: stop when ‖∇ₓΦ‖ ≤ tol; `'relative'`: when ‖∇ₓΦ‖ ≤ tol·‖∇ₓΦ(x0)‖. */
  tolMode?: 'absolute' | 'relative';
  /** Iteration cap. */
  maxIter?: number;
  /**
   * Stop with status `'stalled'` when the best ‖∇ₓΦ‖ so far has not dropped by 1% in this
   * many iterations (0 disables): in float32 a tolerance below the round-off floor is
   * otherwise chased until maxIter (measured: 3,000 L-BFGS iterations, 88 s, stuck at
   * ‖∇Φ‖ = 2e-5 on 4 TV-denoising crops of 64×64).
   */
  stallIterations?: number;
}

/**
 * Defaults shared by the inner solvers.
 *
 * `tol = 1e-4` relative: float32 carries about 7 significant digits and a gradient summed
 * over thousands of pixels loses one or two more, so a relative decrease of ‖∇Φ‖ much
 * below 1e-5 is round-off, not progress.
 */
export const INNER_DEFAULTS = { tol: 1e-4, tolMode: 'relative', maxIter: 1000, stallIterations: 200 } as const satisfies Required<InnerBaseOptions>;

/** The factory's stopping defaults: the given options over {@link INNER_DEFAULTS}. */
export function resolveStopping(options: InnerBaseOptions): Required<InnerBaseOptions> {
  return {
    tol: options.tol ?? INNER_DEFAULTS.tol,
    tolMode: options.tolMode ?? INNER_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? INNER_DEFAULTS.maxIter,
    stallIterations: options.stallIterations ?? INNER_DEFAULTS.stallIterations,
  };
}

/** Throws unless every key of `options` is one of `known` (catches misspelt options). */
export function checkOptionKeys(where: string, options: object | undefined, known: readonly string[]): void {
  if (options == null) return;
  if (typeof options !== 'object') throw new Error(`${where}: options must be an object, got ${typeof options}.`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${where}: unknown option '${key}'; the options are ${known.join(', ')}.`);
    }
  }
}

/** Validates the `{ tol, tolMode, maxIter }` triple every solver takes; `undefined` is allowed. */
export function checkStoppingOptions(where: string, options: { tol?: unknown; tolMode?: unknown; maxIter?: unknown; stallIterations?: unknown }): void {
  if (options.stallIterations !== undefined && options.stallIterations !== 0) checkPositiveInt(where, 'stallIterations', options.stallIterations);
  if (options.tol !== undefined) checkNonNegative(where, 'tol', options.tol);
  if (options.tolMode !== undefined && options.tolMode !== 'absolute' && options.tolMode !== 'relative') {
    throw new Error(`${where}: option 'tolMode' must be 'absolute' or 'relative', got ${String(options.tolMode)}.`);
  }
  if (options.maxIter !== undefined && options.maxIter !== 0) checkPositiveInt(where, 'maxIter', options.maxIter);
}

/** Reads several scalar tensors in one device round trip and disposes them. */
export function readScalars(...ts: tf.Tensor[]): number[] {
  const packed = tf.tidy(() => tf.stack(ts.map((t) => tf.reshape(t, []))));
  const out = Array.from(packed.dataSync());
  packed.dispose();
  tf.dispose(ts);
  return out;
}

/** `⟨a, b⟩` over all entries, as a scalar tensor. */
export function dot(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.mul(a, b)));
}

/** A point together with its energy and gradient: what the driver tracks. */
export interface Evaluated {
  /** The point. */
  x: tf.Tensor;
  /** ∇ₓΦ(x). */
  grad: tf.Tensor;
  /** Φ(x). */
  value: number;
  /** ‖∇ₓΦ(x)‖. */
  gradNorm: number;
}

/** What a solver step sees: the problem at fixed (θ, data) and counted evaluations. */
export interface InnerContext {
  /** Solver name, for messages. */
  readonly where: string;
  /** μ if the problem knows it. */
  readonly mu: number | undefined;
  /** L if the problem knows it. */
  readonly lipschitz: number | undefined;
  /** Work counters; evaluations below update them. */
  readonly work: Work;
  /** Energy and gradient at x (one gradient evaluation); x is not consumed. */
  evaluate(x: tf.Tensor): Evaluated;
  /** Energy only (one energy evaluation). */
  energy(x: tf.Tensor): number;
}

/** The state a solver carries: at least the current evaluated point. Tensor fields (and arrays of tensors) are owned by the driver. */
export interface InnerState {
  /** The point returned if the solve stopped now, with its energy and gradient. */
  current: Evaluated;
}

/** One step of a solver: a new state, or a line-search failure that keeps the old one. */
export type StepOutcome<S> = { state: S } | { lineSearchFailed: string };

/** A solver as the driver sees it: build the state from the evaluated start point, then step. */
export interface InnerMethod<S extends InnerState> {
  init(ctx: InnerContext, start: Evaluated): S;
  step(ctx: InnerContext, state: S, iteration: number): StepOutcome<S>;
}

/** Every tensor reachable from a state (fields, arrays, one level of nested objects). */
function tensorsOf(value: unknown, out: Set<tf.Tensor> = new Set(), depth = 0): Set<tf.Tensor> {
  if (value instanceof tf.Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) tensorsOf(v, out, depth + 1);
  else if (value != null && typeof value === 'object' && depth < 3) for (const v of Object.values(value)) tensorsOf(v, out, depth + 1);
  return out;
}

/** Disposes the tensors of `old` that `next` does not hold. */
function disposeReplaced(old: unknown, next: unknown): void {
  const keep = tensorsOf(next);
  for (const t of tensorsOf(old)) if (!keep.has(t)) t.dispose();
}

function makeContext<D>(where: string, problem: Problem<D>, theta: Params, data: D, work: Work): InnerContext {
  const mu = problem.mu(theta, data);
  const lipschitz = problem.lipschitz(theta, data);
  return {
    where,
    mu: mu != null && mu > 0 ? mu : undefined,
    lipschitz: lipschitz != null && lipschitz > 0 ? lipschitz : undefined,
    work,
    evaluate(x) {
      work.gradEvals += 1;
      const { value, grad } = problem.valueAndGradient(x, theta, data);
      const [v, n] = readScalars(value, tf.tidy(() => tf.norm(grad)));
      return { x, grad, value: v, gradNorm: n };
    },
    energy(x) {
      work.energyEvals += 1;
      const e = tf.tidy(() => {
        const y = problem.energy(x, theta, data);
        if (y.rank !== 0) throw new Error(`${where}: the energy must return a scalar, got shape [${y.shape}]; sum it over the batch.`);
        return y;
      });
      return readScalars(e)[0];
    },
  };
}

/**
 * Throws, naming the argument, when θ or the data hold a non-tensor leaf where a tensor is
 * expected or contain NaN/Inf: a NaN in the data otherwise surfaces many iterations later
 * as a NaN energy with no hint of where it came from. One small device read per tensor.
 */
export function checkInputs(where: string, theta: Params, data: unknown): void {
  if (theta == null || typeof theta !== 'object') throw new Error(`${where}: 'theta' must be a parameter tree (Record<string, tf.Tensor>), got ${String(theta)}.`);
  for (const [k, v] of Object.entries(theta)) checkFinite(where, `theta.${k}`, v);
  if (data instanceof tf.Tensor) checkFinite(where, 'data', data);
  else if (data != null && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) {
      if (v instanceof tf.Tensor) checkFinite(where, `data.${k}`, v);
      else if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${where}: 'data.${k}' is ${v}; it must be finite.`);
    }
  }
}

/**
 * Runs an inner solver: resolves and validates the per-call options, builds the start
 * point, iterates `method.step` until ‖∇ₓΦ‖ meets the tolerance, the iteration cap, a
 * NaN, or a line-search failure, and assembles the {@link InnerResult}.
 *
 * @param where - solver name for messages (e.g. `'gradientDescent'`).
 * @param defaults - the factory's resolved `{ tol, tolMode, maxIter }`.
 * @param method - the solver's `init` and `step`.
 * @returns the result; the caller owns `result.x`.
 */
export function runInner<D, S extends InnerState>(
  where: string,
  defaults: Required<InnerBaseOptions>,
  method: InnerMethod<S>,
  problem: Problem<D>,
  theta: Params,
  data: D,
  options: InnerSolveOptions = {},
): InnerResult {
  return withCleanup(() => solveInner(where, defaults, method, problem, theta, data, options));
}

function solveInner<D, S extends InnerState>(
  where: string,
  defaults: Required<InnerBaseOptions>,
  method: InnerMethod<S>,
  problem: Problem<D>,
  theta: Params,
  data: D,
  options: InnerSolveOptions,
): InnerResult {
  const t0 = performance.now();
  if (problem == null || problem.kind !== 'energy') {
    throw new Error(`${where}: 'problem' must come from defineProblem (an energy problem), got ${problem == null ? String(problem) : `kind '${(problem as { kind?: string }).kind}'`}.`);
  }
  checkOptionKeys(`${where}.solve`, options, ['x0', 'tol', 'tolMode', 'maxIter', 'stallIterations']);
  checkStoppingOptions(`${where}.solve`, options);
  const tol = options.tol ?? defaults.tol;
  const tolMode = options.tolMode ?? defaults.tolMode;
  const maxIter = options.maxIter ?? defaults.maxIter;
  const stallIterations = options.stallIterations ?? defaults.stallIterations;
  if (options.x0 != null) {
    checkFinite(`${where}.solve`, 'x0', options.x0);
    if (problem.init != null) {
      const shape = tf.tidy(() => problem.init!(theta, data).shape);
      checkShape(`${where}.solve`, 'x0', options.x0.shape, shape);
    }
  }
  checkInputs(`${where}.solve`, theta, data);
  const work = emptyWork();
  const ctx = makeContext(where, problem, theta, data, work);
  const x0 = problem.initialPoint(theta, data, options.x0);
  let start: Evaluated;
  try {
    start = ctx.evaluate(x0);
  } catch (e) {
    x0.dispose();
    throw e;
  }
  const threshold = tolMode === 'absolute' ? tol : tol * start.gradNorm;
  const facts = (iterations: number, gradNorm: number): StatusFacts => ({
    where, iterations, residual: gradNorm, residualName: '‖∇Φ‖', threshold, tol, tolMode, relativeTo: '‖∇Φ(x0)‖', maxIter,
  });

  let state = method.init(ctx, start);
  let iterations = 0;
  let status: InnerStatus = 'max-iterations';
  let message = '';
  const finite = (e: Evaluated) => Number.isFinite(e.value) && Number.isFinite(e.gradNorm);

  if (!finite(start)) {
    status = 'nan';
    message = statusMessage('nan', { where, iterations: 0, detail: 'the energy at the starting point', fix: 'check data/θ and x0' });
  } else {
    let best = state.current.gradNorm;
    let bestAt = 0;
    while (true) {
      if (state.current.gradNorm <= threshold) {
        status = 'converged';
        break;
      }
      if (iterations >= maxIter) break;
      if (state.current.gradNorm < 0.99 * best) {
        best = state.current.gradNorm;
        bestAt = iterations;
      } else if (stallIterations > 0 && iterations - bestAt >= stallIterations) {
        status = 'stalled';
        message = statusMessage('stalled', { ...facts(iterations, state.current.gradNorm), best, stallIterations });
        break;
      }
      const outcome = method.step(ctx, state, iterations);
      if ('lineSearchFailed' in outcome) {
        status = 'line-search-failed';
        message = statusMessage('line-search-failed', { ...facts(iterations, state.current.gradNorm), detail: outcome.lineSearchFailed });
        break;
      }
      iterations += 1;
      if (!finite(outcome.state.current)) {
        disposeReplaced(outcome.state, state);
        status = 'nan';
        message = statusMessage('nan', {
          where, iterations, detail: 'in the energy or its gradient',
          fix: 'check data/θ, or use a smaller step / backtracking; returning the last finite iterate',
        });
        break;
      }
      disposeReplaced(state, outcome.state);
      state = outcome.state;
    }
  }

  const { x, gradNorm } = state.current;
  // Hand x to the caller; everything else the state holds is released.
  const result = tf.clone(x);
  disposeReplaced(state, null);
  const mu = ctx.mu;
  const distanceBound = mu != null ? gradNorm / mu : undefined;
  if (status === 'converged') {
    message = statusMessage('converged', facts(iterations, gradNorm));
  } else if (status === 'max-iterations') {
    message = statusMessage('max-iterations', {
      ...facts(iterations, gradNorm),
      fix: `increase maxIter (now ${maxIter}), loosen tol (now ${tol}), or use a faster solver (accelerated, lbfgs)`,
    });
  }
  work.innerIterations = iterations;
  work.timeMs = performance.now() - t0;
  return { x: result, iterations, gradNorm, distanceBound, converged: status === 'converged', status, message, work };
}

/**
 * Backtracking acceptance test shared by the line searches.
 *
 * Accepts a trial point when the Armijo condition `Φ(x⁺) ≤ Φ(x) + c·α·φ'(0)` holds, or,
 * when a float32 noise level `noise` is given, the approximate Armijo condition of
 * Hager & Zhang: `φ'(α) ≤ (2c − 1)·φ'(0)` with `Φ(x⁺) ≤ Φ(x) + noise`. Near the solution
 * the energy difference is pure round-off (Φ of a 128×128 image is ~10² with an error of
 * ~10⁻³, while the decrease is ~10⁻⁶), but directional derivatives are still accurate, and
 * on a quadratic the two conditions are identical. Callers pass `noise` only when the
 * decrease the first trial predicts is itself below it ({@link lineSearchNoise}): a
 * gradient that disagrees with the energy then still fails the line search, instead of
 * creeping along in steps too small to measure.
 *
 * @param value - Φ(x).
 * @param trialValue - Φ(x + α d).
 * @param slope - φ'(0) = ⟨∇Φ(x), d⟩ (negative).
 * @param trialSlope - φ'(α) = ⟨∇Φ(x + α d), d⟩, or undefined when not computed.
 * @param alpha - step length.
 * @param c - sufficient-decrease constant.
 * @param noise - round-off level of Φ when the round-off regime applies, else null.
 */
export function acceptStep(
  value: number, trialValue: number, slope: number, trialSlope: number | undefined, alpha: number, c: number, noise: number | null,
): boolean {
  if (!Number.isFinite(trialValue)) return false;
  if (trialValue <= value + c * alpha * slope) return true;
  if (noise == null || trialValue > value + noise) return false;
  if (trialSlope === undefined) return true;
  return trialSlope <= (2 * c - 1) * slope;
}

/** Unit round-off of float32. */
export const EPS32 = 1.1920929e-7;

/**
 * The round-off level of an energy Φ summed over `size` terms, `max(1e-6, ε₃₂√size)·|Φ|`
 * (a sum of n float32 terms has a random-walk error of about ε₃₂√n relative), if the
 * decrease `predictedDecrease = α|φ'(0)|` the first trial predicts is below it; else null,
 * and the line search uses the plain Armijo test.
 */
export function lineSearchNoise(value: number, predictedDecrease: number, size: number): number | null {
  const noise = Math.max(1e-6, EPS32 * Math.sqrt(size)) * Math.max(Math.abs(value), 1e-30);
  return predictedDecrease <= noise ? noise : null;
}

/**
 * Runs a solve so that an exception (a throwing energy or matvec, a shape error) does not
 * leak the solver's live tensors: everything created inside is released except `x`.
 */
export function withCleanup<T extends { x: tf.Tensor }>(fn: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = fn();
    return out.x;
  });
  return out;
}

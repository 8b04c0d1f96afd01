/**
 * How every inner solver runs (GD, accelerated, L-BFGS): the solver is `init / step` on an
 * evaluated point, {@link runInner} validates the call, builds the start point and hands
 * the iteration to the shared loop ({@link iterate}), which owns stopping, float32-stall
 * and NaN detection, tensor lifetimes, the work counter and the status message.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Problem } from '../problem.js';
import { emptyWork, type Work } from '../work.js';
import { statusMessage } from '../status.js';
import { checkFinite, checkShape } from '../validate.js';
import { checkData, checkTheta } from '../inputs.js';
import { iterate, disposeReplaced } from '../iterate/loop.js';
import type { Step } from '../iterate/types.js';
import { readScalars, withCleanup } from '../internal/solver-utils.js';
import { heapSquaredNorm, squaredNormNumber } from '../internal/fused-ops.js';
import type { InnerResult, InnerSolveOptions, InnerStatus } from './types.js';
import { checkOptions, opt } from '../options.js';
import { INNER_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** The per-call options of every inner solver's `solve`. */
const INNER_SOLVE_SCHEMA = { x0: opt.nullable(opt.tensor()), ...INNER_STOPPING_SCHEMA };

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

/** A point together with its energy and gradient: what the driver tracks. */
export interface Evaluated {
  /** The point. */
  x: tf.Tensor;
  /** ∇ₓΦ(x). */
  grad: tf.Tensor;
  /** Φ(x); NaN when the solver does not use the energy ({@link InnerMethod.usesEnergy} false), which then is not computed. */
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
  /** Whether {@link evaluate} computes Φ(x) (else `value` is NaN: a fixed-step solver needs only ∇Φ). */
  readonly values: boolean;
  /** Energy (when {@link values}) and gradient at x (one gradient evaluation); x is not consumed. */
  evaluate(x: tf.Tensor): Evaluated;
  /** Energy only (one energy evaluation). */
  energy(x: tf.Tensor): number;
}

/** The state a solver carries: at least the current evaluated point. Tensor fields (and arrays of tensors) are owned by the driver. */
export interface InnerState {
  /** The point returned if the solve stopped now, with its energy and gradient. */
  current: Evaluated;
}

/**
 * An inner solver as {@link runInner} sees it: build the state from the evaluated start
 * point, then step (a new state, or `{ stop: { status: 'line-search-failed', detail } }`
 * to end at the old one). The shared loop ({@link iterate}) does the rest.
 */
export interface InnerMethod<S extends InnerState> {
  /**
   * Whether the steps read Φ(x) (line searches, function restarts); default true. A fixed-step
   * solver says false and its evaluations compute only ∇Φ: measured on the FoE energy of
   * bench:peer, the energy (log1p, reductions) was 20% of a 100-step gradient-descent solve.
   */
  usesEnergy?(ctx: { mu: number | undefined; lipschitz: number | undefined }): boolean;
  init(ctx: InnerContext, start: Evaluated): S;
  step(ctx: InnerContext, state: S, iteration: number): Step<S>;
}

function makeContext<D, S extends InnerState>(where: string, problem: Problem<D>, theta: Params, data: D, work: Work, method: InnerMethod<S>): InnerContext {
  const m = problem.mu(theta, data);
  const l = problem.lipschitz(theta, data);
  const mu = m != null && m > 0 ? m : undefined;
  const lipschitz = l != null && l > 0 ? l : undefined;
  const values = method.usesEnergy?.({ mu, lipschitz }) ?? true;
  // ‖g‖ as √(Σ g²): off the backend's memory where it can (internal/fused-ops.ts), else read in one round trip with Φ
  const squaredNorm = (g: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(g)));
  return {
    where,
    mu,
    lipschitz,
    work,
    values,
    evaluate(x) {
      work.gradEvals += 1;
      if (!values) {
        const grad = problem.gradient(x, theta, data);
        return { x, grad, value: Number.NaN, gradNorm: Math.sqrt(squaredNormNumber(grad)) };
      }
      const { value, grad } = problem.valueAndGradient(x, theta, data);
      const fused = heapSquaredNorm(grad);
      const [v, n2] = fused == null ? readScalars(value, squaredNorm(grad)) : [readScalars(value)[0], fused];
      return { x, grad, value: v, gradNorm: Math.sqrt(n2) };
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
  // Core's one input check (inputs.ts); an inner solve may run with no parameters ({}).
  const noParams = theta != null && typeof theta === 'object' && Object.getPrototypeOf(theta) === Object.prototype && Object.keys(theta).length === 0;
  if (!noParams) checkTheta(where, theta);
  checkData(where, data);
}

/**
 * Runs an inner solver: resolves and validates the per-call options, builds the start
 * point, and iterates `method.step` on the shared loop until ‖∇ₓΦ‖ meets the tolerance,
 * the cap, a stall, a NaN, or a line-search failure; assembles the {@link InnerResult}.
 *
 * @param where - solver name for messages (e.g. `'gradientDescent'`).
 * @param defaults - the factory's resolved `{ tol, tolMode, maxIter, stallIterations }`.
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
  checkOptions(`${where}.solve`, options, INNER_SOLVE_SCHEMA);
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
  const ctx = makeContext(where, problem, theta, data, work, method);
  const outcome = iterate<S>({
    init: () => method.init(ctx, ctx.evaluate(problem.initialPoint(theta, data, options.x0))),
    step: (state, { iteration }) => method.step(ctx, state, iteration),
    // A non-finite energy counts as a non-finite residual: the loop stops at the last finite iterate
    // (without the energy, a NaN/Inf in x or ∇Φ still shows in ‖∇Φ‖).
    residual: ({ current }) => (!ctx.values || Number.isFinite(current.value) ? current.gradNorm : NaN),
  }, {
    threshold: tolMode === 'absolute' ? tol : (r0) => tol * (r0 ?? NaN),
    maxIter,
    stallIterations,
  });
  const { state, iterations, status, threshold } = outcome;
  const { x, gradNorm } = state.current;
  // Hand x to the caller; everything else the state holds is released.
  const result = tf.clone(x);
  disposeReplaced(state, null);
  const facts = {
    where, iterations, residual: gradNorm, residualName: '‖∇Φ‖', threshold, tol, tolMode, relativeTo: '‖∇Φ(x0)‖', maxIter,
    best: outcome.best, stallIterations, detail: outcome.detail,
  };
  const message = statusMessage(status, {
    ...facts,
    fix: status === 'max-iterations' ? `increase maxIter (now ${maxIter}), loosen tol (now ${tol}), or use a faster solver (accelerated, lbfgs)`
      : status === 'nan' ? (iterations === 0 ? 'check data/θ and x0' : 'check data/θ, or use a smaller step / backtracking') : undefined,
  });
  const mu = ctx.mu;
  const distanceBound = mu != null ? gradNorm / mu : undefined;
  work.innerIterations = iterations;
  work.timeMs = performance.now() - t0;
  return { x: result, iterations, gradNorm, distanceBound, converged: status === 'converged', status: status as InnerStatus, message, work };
}

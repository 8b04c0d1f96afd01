import { tf } from './tf.js';
import type { Params } from './params.js';
import { keysOf, disposeParams } from './params.js';
import type { Data, Problem, FixedPointProblem, SaddleProblem } from './problem.js';
import type { Strategy } from './strategy.js';
import { defineOptions, opt } from './options.js';
import type { ConvergencePolicy } from './driver/policy.js';
import { callSite, resolvePolicy, tightenedTol, TIGHTEN_DEFAULTS } from './driver/policy.js';
import { checkData, checkTheta, requireBackend } from './inputs.js';
import { checkSaddleOperator } from './internal/saddle-check.js';

/** Options of {@link argmin}. */
export interface ArgminOptions {
  /** Forward tolerance; default: the strategy's. */
  tol?: number;
  /** Forward iteration cap; default: the strategy's. */
  maxIter?: number;
  /** Backward (adjoint) tolerance; default: the strategy's. */
  linearTol?: number;
  /** Backward iteration cap; default: the strategy's. */
  linearMaxIter?: number;
  /**
   * What to do when a forward or backward solve misses its tolerance: `'warn'` (default: first
   * occurrence per call site printed, the rest counted), `'error'`, `'tighten'` (retry with
   * larger iteration caps and tighter tolerances, then warn) or a `convergencePolicy(...)` object shared with other calls.
   */
  onNotConverged?: 'warn' | 'error' | 'tighten' | ConvergencePolicy;
  /**
   * Also differentiate with respect to `data` when it is a single tensor (default false):
   * needed when the data comes out of other trainable computations.
   */
  differentiateData?: boolean;
}

/** Exported defaults of {@link argmin}. */
export const DEFAULT_ARGMIN_OPTIONS = Object.freeze({ onNotConverged: 'warn' as const, differentiateData: false });

const ARGMIN_OPTIONS = defineOptions<ArgminOptions>('argmin', {
  tol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearTol: opt.number({ gt: 0 }),
  linearMaxIter: opt.integer({ min: 1 }),
  onNotConverged: opt.any(),
  differentiateData: opt.boolean(),
}, argmin);

/** The differentiable solution map returned by {@link argmin}. */
export type ArgminFunction<D = Data> = (theta: Params, data: D) => tf.Tensor;

/**
 * Runs `fn` with the gradient tape paused: nothing it does is recorded on an enclosing
 * `tf.grad`/`variableGrads` tape (it may still take gradients of its own). The forward solve
 * of `argmin` runs like this, so an outer gradient never stores (or differentiates through)
 * the solver's iterations.
 */
export function withoutTape<T>(fn: () => T): T {
  const state = tf.engine().state as unknown as { activeTape: unknown; gradientDepth: number };
  const tape = state.activeTape;
  const depth = state.gradientDepth;
  state.activeTape = null;
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.activeTape = tape;
    state.gradientDepth = depth;
  }
}

/**
 * The solution map `θ ↦ x̂(θ; data)` of a lower-level problem as a function tfjs can
 * differentiate: `tf.grad`, `tf.valueAndGrad`, `tf.variableGrads`, `optimizer.minimize`,
 * and `tf.layers` (see `ArgminLayer`).
 *
 * Built with `tf.customGrad`: the forward pass is the strategy's solve (`strategy.solve`, with
 * its warm starts), the backward pass maps the cotangent `v = ∂L/∂x̂` to
 * `(∂x̂/∂θ)ᵀ v` by `strategy.vjpSolution` — for the implicit strategy
 * `−(∇²_{xθ}Φ)ᵀ [∇²ₓₓΦ]⁻¹ v` (one adjoint solve), for Jacobian-free backprop the VJP of k map
 * steps. The iterations of the solve are never taped.
 *
 * @param problemIn - the lower-level problem (an energy, a fixed point, or a saddle point for strategies that support it, e.g. piggyback).
 * @param strategy - a strategy with `solve` and `vjpSolution` (implicit, jacobianFree, ...).
 * @param options - accuracies and the convergence policy.
 * @returns `(theta, data) => x̂`; the caller owns the returned tensor.
 * @example
 * ```ts
 * const solve = argmin(problem, implicit({ inner: lbfgs(), linear: cg() }));
 * const g = tf.grad((logAlpha) => tf.sum(tf.square(tf.sub(solve({ logAlpha }, data), clean))))(tf.scalar(0));
 * ```
 */
export function argmin<D = Data>(
  problemIn: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>,
  strategy: Strategy,
  options: ArgminOptions = {},
): ArgminFunction<D> {
  const where = 'argmin';
  const kind = (problemIn as { kind?: string } | null)?.kind;
  if (problemIn == null || (kind !== 'energy' && kind !== 'fixed-point' && kind !== 'saddle')) {
    throw new Error(`${where}: 'problem' must come from defineProblem(...), defineFixedPoint(...) or defineSaddle(...).`);
  }
  // Saddle problems pass through to strategies that accept them (piggyback checks the kind).
  const problem = problemIn as Problem<D> | FixedPointProblem<D>;
  if (strategy == null || typeof strategy.solve !== 'function' || typeof strategy.vjpSolution !== 'function') {
    throw new Error(
      `${where}: strategy '${strategy?.name ?? String(strategy)}' has no solve()/vjpSolution(); use implicit(...) from @bilevel/implicit or jacobianFree() from @bilevel/jfb, or implement both methods.`,
    );
  }
  const opts = ARGMIN_OPTIONS.withDefaults(options, DEFAULT_ARGMIN_OPTIONS);
  const option = opts.onNotConverged as unknown;
  if (option != null && typeof option === 'object' && 'fallback' in option) {
    throw new Error(`${where}: option 'onNotConverged' cannot be { fallback } here (the forward and backward halves must come from one strategy); use 'warn', 'error' or 'tighten'.`);
  }
  // Resolve once so that an invalid value fails here; the per-site policy is looked up per call.
  const fixedPolicy = resolvePolicy(where, option, () => 'argmin-definition');
  const policyAt = (site: () => string): ConvergencePolicy => (option === 'warn' || option === 'tighten' || option == null ? resolvePolicy(where, option, site) : fixedPolicy);
  const tighten = fixedPolicy.mode === 'tighten';
  // The tolerances the strategy will use, for messages.
  const own = (strategy as { accuracy?: { tol?: number; linearTol?: number } }).accuracy ?? (strategy as { options?: { tol?: number; linearTol?: number } }).options;
  const tol = opts.tol ?? own?.tol;
  const linearTol = opts.linearTol ?? own?.linearTol;
  const solveForward = strategy.solve.bind(strategy);
  const vjpSolution = strategy.vjpSolution.bind(strategy);

  return (theta: Params, data: D): tf.Tensor => {
    requireBackend(where);
    checkTheta(where, theta);
    checkData(where, data);
    if (kind === 'saddle') checkSaddleOperator(where, problemIn as SaddleProblem<D>, theta, data);
    const keys = keysOf(theta);
    const site = callSite();
    const policy = policyAt(() => site);
    const withData = opts.differentiateData && data instanceof tf.Tensor;
    let fwd = withoutTape(() => solveForward({ problem, theta, data, tol: opts.tol, maxIter: opts.maxIter }));
    // 'tighten': continue from the unconverged point with a larger cap (a NaN/diverged solve is not retried).
    for (let k = 1; tighten && k <= TIGHTEN_DEFAULTS.retries && !fwd.converged && Number.isFinite(fwd.residual); k++) {
      const previous = fwd;
      const cap = Math.ceil(Math.max(1, opts.maxIter ?? previous.work.innerIterations) * TIGHTEN_DEFAULTS.factor ** k);
      fwd = withoutTape(() => solveForward({ problem, theta, data, tol: tightenedTol(tol, k), maxIter: cap, x0: previous.x }));
      previous.x.dispose();
    }
    policy.settleSolve(where, 'forward', fwd, strategy.name, tol, () => fwd.x.dispose());
    const solution = fwd.x;
    const inputs = keys.map((k) => theta[k]);
    if (withData) inputs.push(data as unknown as tf.Tensor);
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const leaves = args.slice(0, args.length - 1) as tf.Tensor[];
      const value = solution.clone();
      save([value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const th: Params = {};
          keys.forEach((k, i) => (th[k] = leaves[i]));
          const d = withData ? (leaves[keys.length] as unknown as D) : data;
          const request = {
            problem, theta: th, data: d, x: saved[0], cotangent: dy,
            linearTol: opts.linearTol, linearMaxIter: opts.linearMaxIter, wrtData: withData,
          };
          let r = vjpSolution(request);
          for (let k = 1; tighten && k <= TIGHTEN_DEFAULTS.retries && !r.converged && r.residual != null && Number.isFinite(r.residual); k++) {
            const cap = Math.ceil(Math.max(1, opts.linearMaxIter ?? r.work.linearIterations) * TIGHTEN_DEFAULTS.factor ** k);
            disposeParams(r.grad);
            r.dataGrad?.dispose();
            r = vjpSolution({ ...request, linearMaxIter: cap, linearTol: tightenedTol(linearTol, k) });
          }
          const failed = r;
          policy.settleSolve(where, 'backward', r, strategy.name, linearTol, () => {
            disposeParams(failed.grad);
            failed.dataGrad?.dispose();
          });
          const grads = keys.map((k) => r.grad[k]);
          if (withData) {
            if (r.dataGrad == null) throw new Error(`${where}: strategy '${strategy.name}' returned no data gradient though wrtData was asked.`);
            grads.push(r.dataGrad);
          }
          return grads;
        },
      };
    });
    try {
      return f(...inputs);
    } finally {
      solution.dispose();
    }
  };
}

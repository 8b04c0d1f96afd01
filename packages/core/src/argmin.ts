import { tf } from './tf.js';
import type { Params } from './params.js';
import { keysOf, disposeParams } from './params.js';
import type { Data, Problem, FixedPointProblem, SaddleProblem } from './problem.js';
import type { Strategy } from './strategy.js';
import { checkNonNegative, checkPositiveInt } from './validate.js';
import { callSite } from './gate.js';

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
  /** What to do when a forward or backward solve misses its tolerance (default `'warn'`, once per call site). */
  onNotConverged?: 'warn' | 'error';
  /**
   * Also differentiate with respect to `data` when it is a single tensor (default false):
   * needed when the data comes out of other trainable computations.
   */
  differentiateData?: boolean;
}

/** Exported defaults of {@link argmin}. */
export const DEFAULT_ARGMIN_OPTIONS = Object.freeze({ onNotConverged: 'warn' as const, differentiateData: false });

/** The differentiable solution map returned by {@link argmin}. */
export type ArgminFunction<D = Data> = (theta: Params, data: D) => tf.Tensor;

const warned = new Set<string>();

function report(policy: 'warn' | 'error', message: string, site: string): void {
  if (policy === 'error') throw new Error(message);
  if (!warned.has(site)) {
    warned.add(site);
    console.warn(`${message} (warned once for ${site})`);
  }
}

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
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as ArgminOptions;
  const opts = { ...DEFAULT_ARGMIN_OPTIONS, ...given };
  if (opts.tol != null) checkNonNegative(where, 'tol', opts.tol, true);
  if (opts.linearTol != null) checkNonNegative(where, 'linearTol', opts.linearTol, true);
  if (opts.maxIter != null) checkPositiveInt(where, 'maxIter', opts.maxIter);
  if (opts.linearMaxIter != null) checkPositiveInt(where, 'linearMaxIter', opts.linearMaxIter);
  if (opts.onNotConverged !== 'warn' && opts.onNotConverged !== 'error') {
    throw new Error(`${where}: option 'onNotConverged' must be 'warn' or 'error', got ${String(opts.onNotConverged)}.`);
  }
  // The tolerances the strategy will use, for messages.
  const own = (strategy as { options?: { tol?: number; linearTol?: number } }).options;
  const tolText = opts.tol ?? own?.tol ?? "(the strategy's default)";
  const linearTolText = opts.linearTol ?? own?.linearTol ?? "(the strategy's default)";
  const solveForward = strategy.solve.bind(strategy);
  const vjpSolution = strategy.vjpSolution.bind(strategy);

  return (theta: Params, data: D): tf.Tensor => {
    if (theta == null || typeof theta !== 'object' || theta instanceof tf.Tensor) {
      throw new Error(`${where}: the first argument must be a tree of tensors such as { logAlpha }, got ${theta instanceof tf.Tensor ? 'a bare tensor' : String(theta)}.`);
    }
    const keys = keysOf(theta);
    const site = callSite();
    const withData = opts.differentiateData && data instanceof tf.Tensor;
    const fwd = withoutTape(() => solveForward({ problem, theta, data, tol: opts.tol, maxIter: opts.maxIter }));
    if (!fwd.converged || !Number.isFinite(fwd.residual)) {
      const message =
        `${where}: the forward solve of '${strategy.name}' did not converge: residual ${fwd.residual.toExponential(2)} vs tolerance ${tolText}; ` +
        `x̂ and its gradient may be wrong. Fix: increase 'maxIter', loosen 'tol', or use a faster inner solver. (${fwd.message})`;
      try {
        report(opts.onNotConverged, message, site);
      } catch (e) {
        fwd.x.dispose();
        throw e;
      }
    }
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
          const r = vjpSolution({
            problem, theta: th, data: d, x: saved[0], cotangent: dy,
            linearTol: opts.linearTol, linearMaxIter: opts.linearMaxIter, wrtData: withData,
          });
          if (!r.converged || (r.residual != null && !Number.isFinite(r.residual))) {
            const message =
              `${where}: the backward solve of '${strategy.name}' did not converge: residual ${r.residual?.toExponential(2)} vs tolerance ${linearTolText}; ` +
              `the gradient may be wrong. Fix: increase 'linearMaxIter' or loosen 'linearTol'. (${r.message})`;
            try {
              report(opts.onNotConverged, message, `${site}#backward`);
            } catch (e) {
              disposeParams(r.grad);
              r.dataGrad?.dispose();
              throw e;
            }
          }
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

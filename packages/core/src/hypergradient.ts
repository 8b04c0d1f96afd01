import { tf } from './tf.js';
import type { Params } from './params.js';
import type { Data, Problem, FixedPointProblem, SaddleProblem } from './problem.js';
import type { HypergradientRequest, HypergradientResult, Loss, Strategy } from './strategy.js';
import { requireBackend } from './inputs.js';
import { defineOptions, opt } from './options.js';
import type { OnNotConverged, ConvergencePolicy } from './driver/policy.js';
import { callSite, resolvePolicy } from './driver/policy.js';
import { hypergradientWithPolicy } from './driver/run.js';

/** What {@link hypergradient} takes. */
export interface HypergradientOptions<D = Data> {
  /**
   * The lower-level problem (an energy from `defineProblem`, a map from `defineFixedPoint`, or a
   * saddle point from `defineSaddle`, which only saddle-point strategies such as piggyback accept).
   */
  problem: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  /** Upper-level parameters θ: a tree of finite tensors. */
  theta: Params;
  /** Lower-level data (noisy images, operators, ...). */
  data: D;
  /** Upper-level loss ℓ(x, θ; data), a scalar. */
  loss: Loss<D>;
  /** How the solution map is differentiated (`implicit(...)`, `jacobianFree(...)`, ...). */
  strategy: Strategy;
  /** Inner (forward) tolerance ε on ‖∇ₓΦ‖; default: the strategy's. */
  tol?: number;
  /** Adjoint (backward) tolerance δ; default: the strategy's. */
  linearTol?: number;
  /** Inner iteration cap; default: the strategy's. */
  maxIter?: number;
  /** Adjoint iteration cap; default: the strategy's. */
  linearMaxIter?: number;
  /** Warm start of the forward solve (not consumed). */
  x0?: tf.Tensor;
  /** Convergence policy ({@link OnNotConverged}); default `'warn'` (first occurrence per call site printed, the rest counted). */
  onNotConverged?: OnNotConverged;
}

/** Exported defaults of {@link hypergradient}. */
export const DEFAULT_HYPERGRADIENT_OPTIONS = Object.freeze({ onNotConverged: 'warn' as OnNotConverged });

// The request's keys and value kinds; the tree checks (finite float32 θ) follow in validate.
const HYPERGRADIENT_OPTIONS = defineOptions<HypergradientOptions<unknown>>('hypergradient', {
  problem: opt.any(),
  theta: opt.any(),
  data: opt.any(),
  loss: opt.func('pass (x, theta, data) => scalar tensor'),
  strategy: opt.any(),
  tol: opt.number({ gt: 0 }),
  linearTol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearMaxIter: opt.integer({ min: 1 }),
  x0: opt.tensor(),
  onNotConverged: opt.any(),
}, hypergradient);

function validate<D>(o: HypergradientOptions<D>): ConvergencePolicy {
  const where = 'hypergradient';
  requireBackend(where);
  if (o == null || typeof o !== 'object') throw new Error(`${where}: pass one options object { problem, theta, data, loss, strategy }.`);
  HYPERGRADIENT_OPTIONS.check(o as HypergradientOptions<unknown>);
  const p = o.problem as { kind?: string } | undefined;
  if (p == null || (p.kind !== 'energy' && p.kind !== 'fixed-point' && p.kind !== 'saddle')) {
    throw new Error(`${where}: option 'problem' must come from defineProblem(...), defineFixedPoint(...) or defineSaddle(...).`);
  }
  if (typeof o.loss !== 'function') throw new Error(`${where}: option 'loss' must be a function (x, theta, data) => scalar tensor.`);
  const s = o.strategy as Strategy | undefined;
  if (s == null || typeof s !== 'object' || typeof s.compute !== 'function') {
    throw new Error(`${where}: option 'strategy' must be a strategy object such as implicit({ inner, linear }) or jacobianFree(); got ${String(s)}.`);
  }
  // θ, data, x0 and a saddle operator are checked at the door of hypergradientWithPolicy
  // (core's one input check, shared with outer's oracle).
  return resolvePolicy(where, o.onNotConverged, callSite);
}

/**
 * The hypergradient `∇F(θ)` of `F(θ) = ℓ(x̂(θ), θ)` with `x̂(θ)` the lower-level solution,
 * computed by the given strategy, behind a convergence gate.
 *
 * The strategy decides the maths (implicit: `∇_θℓ − (∇²_{xθ}Φ)ᵀ[∇²ₓₓΦ]⁻¹∇ₓℓ`; Jacobian-free:
 * one differentiable step of the map; ...). This function validates the inputs, runs the
 * strategy, and makes sure that an unconverged forward or backward solve is never returned
 * silently: the result carries `converged`, `status` and `residuals`, and `onNotConverged`
 * picks between a warning (first occurrence per call site, the rest counted), an error, retries
 * with larger iteration caps (`'tighten'`), or a fallback strategy.
 *
 * @param options - problem, θ, data, loss, strategy, accuracies and the gate policy.
 * @returns the strategy's {@link HypergradientResult}; the caller owns it (`dispose()`).
 * @example
 * ```ts
 * const r = hypergradient({ problem, theta, data, loss, strategy: implicit({ inner: lbfgs(), linear: cg() }), tol: 1e-5 });
 * console.log(r.value, r.status, r.residuals);
 * r.dispose();
 * ```
 */
export function hypergradient<D = Data>(options: HypergradientOptions<D>): HypergradientResult {
  const policy = validate(options);
  const request: HypergradientRequest<D> = {
    // Saddle problems travel in the same request; strategies check `kind` at run time and
    // only saddle-point strategies (piggyback) accept them, so the request type stays narrow.
    problem: options.problem as Problem<D> | FixedPointProblem<D>,
    theta: options.theta,
    data: options.data,
    loss: options.loss,
    tol: options.tol,
    linearTol: options.linearTol,
    maxIter: options.maxIter,
    linearMaxIter: options.linearMaxIter,
    x0: options.x0,
  };
  return hypergradientWithPolicy('hypergradient', options.strategy, request, policy);
}

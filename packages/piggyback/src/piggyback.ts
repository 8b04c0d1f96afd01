import { tf, addWork, disposeParams, checkNonNegative, checkPositiveInt, withIsolatedTape } from '@bilevel/core';
import type {
  Data,
  Params,
  SaddleProblem,
  Strategy,
  HypergradientRequest,
  HypergradientResult,
  HypergradientStatus,
  SolveRequest,
  SolveResult,
  SolutionVjpRequest,
  SolutionVjpResult,
} from '@bilevel/core';
import { pdhg, estimateOperatorNorm } from './internal/pdhg.js';
import { piggybackAdjoint } from './internal/adjoint.js';

/** Options of {@link piggyback}. */
export interface PiggybackOptions {
  /** Forward tolerance on the primal–dual residual ‖(r_p, r_d)‖ (absolute). */
  tol?: number;
  /** Forward (PDHG) iteration cap. */
  maxIter?: number;
  /** Adjoint tolerance on ‖λ_{k+1} − λ_k‖ (absolute). */
  linearTol?: number;
  /** Adjoint (piggyback) iteration cap. */
  linearMaxIter?: number;
  /** Ratio σ/τ of the PDHG steps (τ = s/(‖K‖√r), σ = s√r/‖K‖). */
  stepRatio?: number;
  /** s in the step sizes above; τσ‖K‖² = s² must stay < 1. */
  stepScale?: number;
  /**
   * Accelerated forward PDHG (Chambolle–Pock Algorithm 2, τ_k → 0, σ_k → ∞): true, false (default),
   * or 'auto' (when μ_g > 0 is known). Off by default: in float32 the residual (x − x⁺)/τ_k then
   * carries round-off ε‖x‖/τ_k that grows with k (measured: stalls near 7e-3 on 8×8 TV), and with
   * μ_{f*} > 0 too, constant steps already converge linearly.
   */
  accelerate?: boolean | 'auto';
  /** Power iterations for ‖K‖ when the problem gives no `operatorNorm`. */
  normIterations?: number;
  /** Factor applied to the power-iteration estimate (which approaches ‖K‖ from below). */
  normMargin?: number;
  /** Reuse the last (x, z) and adjoint state as starting points when shapes match. */
  warmStart?: boolean;
}

/** Exported defaults of {@link piggyback}. */
export const DEFAULT_PIGGYBACK_OPTIONS = Object.freeze({
  tol: 1e-4,
  maxIter: 5000,
  linearTol: 1e-5,
  linearMaxIter: 5000,
  stepRatio: 1,
  stepScale: 0.95,
  accelerate: false as boolean | 'auto',
  normIterations: 50,
  normMargin: 1.05,
  warmStart: true,
});

/** The piggyback strategy: a {@link Strategy} with warm-start state. */
export interface PiggybackStrategy extends Strategy {
  readonly options: Readonly<Required<PiggybackOptions>>;
  /** Forgets the warm start. */
  reset(): void;
  /** Releases every tensor the strategy holds. */
  dispose(): void;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(2) : String(v);
}

/**
 * Piggyback differentiation of a saddle-point lower level (Griewank–Faure; Bogensperger,
 * Chambolle & Pock; seed 001, Algorithm 1).
 *
 * For `min_x max_z ⟨K(θ)x, z⟩ + g(x; θ) − f*(z; θ)` from `defineSaddle`, it runs PDHG to an
 * approximate saddle point `u = (x, z)` (optionally accelerated, given μ_g), then the adjoint of
 * one PDHG step `T` at u, `λ ← (∂_u T)ᵀλ + (∇ₓℓ, 0)`, which is PDHG on the adjoint saddle-point
 * problem, and returns `∇F(θ) = ∇_θℓ + (∂_θ T)ᵀλ`. θ may sit in K (a learned discretisation),
 * in g or in f*; the prox Jacobians come from tfjs autodiff. Work: PDHG iterations are inner
 * iterations, adjoint iterations are linear iterations.
 *
 * `bound` is left undefined: seed 001's Theorem 2 needs μ_g, μ_{f*}, smoothness of g and f* and
 * Lipschitz constants of their Hessians, which a prox-only problem cannot supply or check.
 * When μ_g and μ_{f*} are both known, the message reports the certified forward distance
 * `‖(x, z) − (x̂, ẑ)‖ ≤ ‖(r_p, r_d)‖ / min(μ_g, μ_{f*})`.
 *
 * @param options - tolerances, iteration caps, step sizes, acceleration, warm starts.
 * @returns a {@link PiggybackStrategy}.
 * @example
 * ```ts
 * import { hypergradient, defineSaddle } from '@bilevel/core';
 * import { piggyback } from '@bilevel/piggyback';
 * const r = hypergradient({ problem: saddle, theta, data, loss, strategy: piggyback({ tol: 1e-4, linearTol: 1e-5 }) });
 * console.log(r.grad, r.work.innerIterations, r.work.linearIterations, r.message);
 * r.dispose();
 * ```
 */
export function piggyback(options: PiggybackOptions = {}): PiggybackStrategy {
  const where = 'piggyback';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: pass one options object (or nothing).`);
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) given[k] = v;
  const known = Object.keys(DEFAULT_PIGGYBACK_OPTIONS);
  for (const k of Object.keys(given)) {
    if (!known.includes(k)) throw new Error(`${where}: unknown option '${k}'; the options are ${known.join(', ')}.`);
  }
  const opts = { ...DEFAULT_PIGGYBACK_OPTIONS, ...given } as Required<PiggybackOptions>;
  checkNonNegative(where, 'tol', opts.tol, true);
  checkNonNegative(where, 'linearTol', opts.linearTol, true);
  checkPositiveInt(where, 'maxIter', opts.maxIter);
  checkPositiveInt(where, 'linearMaxIter', opts.linearMaxIter);
  checkNonNegative(where, 'stepRatio', opts.stepRatio, true);
  checkPositiveInt(where, 'normIterations', opts.normIterations);
  if (!(typeof opts.stepScale === 'number' && opts.stepScale > 0 && opts.stepScale < 1)) {
    throw new Error(`${where}: option 'stepScale' must be in (0, 1) so that τσ‖K‖² < 1, got ${String(opts.stepScale)}.`);
  }
  if (!(typeof opts.normMargin === 'number' && opts.normMargin >= 1 && Number.isFinite(opts.normMargin))) {
    throw new Error(`${where}: option 'normMargin' must be a finite number ≥ 1 (power iteration underestimates ‖K‖), got ${String(opts.normMargin)}.`);
  }
  if (opts.accelerate !== 'auto' && typeof opts.accelerate !== 'boolean') {
    throw new Error(`${where}: option 'accelerate' must be 'auto', true or false, got ${String(opts.accelerate)}.`);
  }
  const name = 'piggyback';
  // Warm start: the last saddle point (x, z) and, after an adjoint solve, its λ = (a, b).
  let warm: { x: tf.Tensor; z: tf.Tensor; a: tf.Tensor | null; b: tf.Tensor | null } | null = null;

  const reset = () => {
    if (warm != null) tf.dispose([warm.x, warm.z, ...(warm.a != null ? [warm.a] : []), ...(warm.b != null ? [warm.b] : [])]);
    warm = null;
  };

  /** Replaces the warm start (takes ownership of z, a, b; x is copied). */
  const remember = (x: tf.Tensor, z: tf.Tensor, a: tf.Tensor | null, b: tf.Tensor | null) => {
    const keep = { x: tf.keep(x.clone()), z, a, b };
    reset();
    warm = keep;
  };

  /** The adjoint λ₀ from the warm start when its shapes fit, else undefined. */
  const adjointStart = (z: tf.Tensor) =>
    warm != null && warm.a != null && warm.b != null && tf.util.arraysEqual(warm.b.shape, z.shape) ? { a: warm.a, b: warm.b } : undefined;

  function asSaddle<D>(problem: unknown): SaddleProblem<D> {
    const kind = (problem as { kind?: string } | null)?.kind;
    if (kind !== 'saddle') {
      throw new Error(`${where}: 'problem' must come from defineSaddle(...) (got ${kind == null ? String(problem) : `a '${kind}' problem`}); for energies and fixed points use implicit(...), equilibrium(...) or jacobianFree(...).`);
    }
    return problem as SaddleProblem<D>;
  }

  /**
   * PDHG from `x0` (or the warm start, or init(θ, data)) to `tol`: the forward half shared by
   * {@link PiggybackStrategy.compute}, `solve` and `vjpSolution`. The caller owns `fwd.x`, `fwd.z`.
   */
  function forward<D>(problem: SaddleProblem<D>, theta: Params, data: D, x0Given: tf.Tensor | undefined, tol: number, maxIter: number, dualFromWarm = false) {
    const init = tf.tidy(() => problem.initialPoint(theta, data));
    if (!(init instanceof tf.Tensor)) throw new Error(`${problem.name}: 'init' must return a tf.Tensor, got ${typeof init}.`);
    const xShape = init.shape;
    if (x0Given != null && !tf.util.arraysEqual(x0Given.shape, xShape)) {
      init.dispose();
      throw new Error(`${where}: 'x0' has shape [${x0Given.shape}], expected the shape of init(θ, data) [${xShape}].`);
    }
    const useWarm = x0Given == null && opts.warmStart && warm != null && tf.util.arraysEqual(warm.x.shape, xShape);
    const x0 = x0Given != null ? x0Given.clone() : useWarm ? warm!.x.clone() : init.clone();
    init.dispose();
    // the warm dual also serves a given x0 when asked (vjpSolution re-solving from argmin's x)
    const warmDual = (useWarm || dualFromWarm) && warm != null && tf.util.arraysEqual(warm.x.shape, xShape);
    const z0 = warmDual ? warm!.z.clone() : tf.tidy(() => problem.initialDual(theta, data, x0));
    const kx = tf.tidy(() => problem.apply(x0, theta, data));
    const badShape = !tf.util.arraysEqual(kx.shape, z0.shape) ? `initial dual z₀ has shape [${z0.shape}] but K x has shape [${kx.shape}]` : null;
    const finite = tf.tidy(() => tf.all(tf.isFinite(kx)));
    const kxFinite = finite.dataSync()[0] === 1;
    finite.dispose();
    kx.dispose();
    if (badShape != null || !kxFinite) {
      tf.dispose([x0, z0]);
      throw new Error(badShape != null
        ? `${problem.name}: ${badShape}; initDual must return a tensor shaped like apply(x).`
        : `${problem.name}: K x₀ contains NaN or Inf; check 'init' and 'apply' (and θ).`);
    }

    let work = addWork();
    let norm = problem.knownOperatorNorm(theta, data);
    if (norm == null) {
      const est = estimateOperatorNorm(problem, theta, data, xShape, opts.normIterations, opts.normMargin);
      norm = est.norm;
      work = addWork(work, est.work);
      if (!(norm > 0) || !Number.isFinite(norm)) {
        tf.dispose([x0, z0]);
        throw new Error(`${problem.name}: the power-iteration estimate of ‖K‖ is ${norm}; check 'apply'/'adjoint' (is K zero or non-finite?) or pass 'operatorNorm'.`);
      }
    }
    const tau = opts.stepScale / (norm * Math.sqrt(opts.stepRatio));
    const sigma = (opts.stepScale * Math.sqrt(opts.stepRatio)) / norm;
    const mu = problem.mu(theta, data);
    const muDual = problem.muDual(theta, data);
    const accelerate = opts.accelerate === 'auto' ? mu != null && mu > 0 : opts.accelerate;
    // Acceleration needs μ_g; checked here because μ may depend on θ.
    if (accelerate && !(mu != null && mu > 0)) {
      tf.dispose([x0, z0]);
      throw new Error(`${where}: option 'accelerate' is true but '${problem.name}' has no strongConvexity μ_g > 0; give defineSaddle a 'strongConvexity' or set accelerate: false.`);
    }

    const fwd = pdhg(problem, theta, data, x0, z0, { tau, sigma, mu: accelerate ? mu! : 0 }, tol, maxIter);
    tf.dispose([x0, z0]);
    return { fwd, tau, sigma, mu, muDual, accelerate, useWarm, work: addWork(work, fwd.work) };
  }

  const strategy: PiggybackStrategy = {
    name,
    options: opts,
    reset,
    dispose: reset,

    compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
      const t0 = performance.now();
      const problem = asSaddle<D>(request.problem);
      const { theta, data, loss } = request;
      const tol = request.tol ?? opts.tol;
      const linearTol = request.linearTol ?? opts.linearTol;
      const maxIter = request.maxIter ?? opts.maxIter;
      const linearMaxIter = request.linearMaxIter ?? opts.linearMaxIter;

      const { fwd, tau, sigma, mu, muDual, accelerate, useWarm, work: forwardWork } = forward(problem, theta, data, request.x0, tol, maxIter);
      let work = forwardWork;
      const start = useWarm ? adjointStart(fwd.z) : undefined;
      const adj = piggybackAdjoint(problem, theta, data, loss, fwd.x, fwd.z, tau, sigma, start?.a, start?.b, linearTol, linearMaxIter);
      if (opts.warmStart) remember(fwd.x, fwd.z, adj.a, adj.b);
      else tf.dispose([fwd.z, adj.a, adj.b]);

      work = addWork(work, adj.work);
      work.timeMs = performance.now() - t0;
      const status: HypergradientStatus = !fwd.converged ? 'forward-not-converged' : !adj.converged ? 'backward-not-converged' : 'converged';
      const forwardMessage = fwd.diverged
        ? `PDHG diverged (residual ${fmt(fwd.residual)} after ${fwd.iterations} iterations); check 'operatorNorm' (an underestimate breaks τσ‖K‖² < 1), that proxG/proxFStar are prox maps, or lower stepScale`
        : fwd.converged
          ? `PDHG${accelerate ? ' (accelerated)' : ''} converged: ‖(r_p, r_d)‖ = ${fmt(fwd.residual)} ≤ tol ${fmt(tol)} in ${fwd.iterations} iterations`
          : `PDHG stopped: ‖(r_p, r_d)‖ = ${fmt(fwd.residual)} > tol ${fmt(tol)} after ${fwd.iterations} iterations; increase maxIter, loosen tol${accelerate ? '' : ', or give defineSaddle a strongConvexity for acceleration'}`;
      const distance = mu != null && mu > 0 && muDual != null && muDual > 0 && Number.isFinite(fwd.residual)
        ? ` (certified ‖(x, z) − (x̂, ẑ)‖ ≤ ${fmt(fwd.residual / Math.min(mu, muDual))})`
        : '';
      const adjointMessage = adj.diverged
        ? `piggyback adjoint diverged after ${adj.iterations} iterations; the linearised PDHG step is not contractive at this point (is the forward solution accurate? is the saddle point unique?)`
        : adj.converged
          ? `piggyback adjoint converged: ‖λ_{k+1} − λ_k‖ = ${fmt(adj.residual)} ≤ linearTol ${fmt(linearTol)} in ${adj.iterations} iterations`
          : `piggyback adjoint stopped: ‖λ_{k+1} − λ_k‖ = ${fmt(adj.residual)} > linearTol ${fmt(linearTol)} after ${adj.iterations} iterations; increase linearMaxIter or loosen linearTol`;
      const x = fwd.x;
      const grad: Params = adj.grad;
      return {
        value: adj.value,
        grad,
        x,
        work,
        status,
        converged: status === 'converged',
        residuals: { forward: fwd.residual, backward: adj.residual },
        message: `${forwardMessage}${distance}; ${adjointMessage}. No hypergradient bound: seed 001's Theorem 2 needs smoothness and Hessian-Lipschitz constants of g and f* that a prox-only problem does not give.`,
        strategy: name,
        dispose() {
          disposeParams(grad);
          if (!x.isDisposed) x.dispose();
        },
      };
    },

    /** Forward half of `argmin(saddle, piggyback())`: PDHG to `tol`; (x, z) is kept for the VJP. */
    solve<D = Data>(request: SolveRequest<D>): SolveResult {
      const t0 = performance.now();
      const problem = asSaddle<D>(request.problem);
      const tol = request.tol ?? opts.tol;
      const { fwd, work } = forward(problem, request.theta, request.data, request.x0, tol, request.maxIter ?? opts.maxIter);
      // keep the adjoint warm start, replace the saddle point
      const a = warm?.a ?? null;
      const b = warm?.b ?? null;
      if (warm != null) warm = { ...warm, a: null, b: null };
      remember(fwd.x, fwd.z, a, b);
      work.timeMs = performance.now() - t0;
      return {
        x: fwd.x,
        residual: fwd.residual,
        converged: fwd.converged,
        message: fwd.converged
          ? `PDHG converged: ‖(r_p, r_d)‖ = ${fmt(fwd.residual)} ≤ tol ${fmt(tol)} in ${fwd.iterations} iterations`
          : `PDHG stopped: ‖(r_p, r_d)‖ = ${fmt(fwd.residual)} > tol ${fmt(tol)} after ${fwd.iterations} iterations; increase maxIter or loosen tol`,
        work,
      };
    },

    /**
     * Backward half of `argmin`: `(∂x̂/∂θ)ᵀ v` by the piggyback adjoint with the linear loss
     * `⟨v, x⟩`. The dual z of the solution comes from the last `solve` (PDHG is restarted from
     * (x, z) to `tol`, which takes ~1 iteration when x is that solution).
     */
    vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult {
      return withIsolatedTape(() => {
        const t0 = performance.now();
        const problem = asSaddle<D>(request.problem);
        if (request.wrtData) {
          throw new Error(`${where}: argmin's 'differentiateData' is not supported for saddle-point problems; differentiate with respect to θ (put the input in θ if you need its gradient).`);
        }
        const { theta, data, cotangent } = request;
        const linearTol = request.linearTol ?? opts.linearTol;
        const { fwd, tau, sigma, work: forwardWork } = forward(problem, theta, data, request.x, opts.tol, opts.maxIter, true);
        const linear = (u: tf.Tensor) => tf.sum(tf.mul(u, cotangent));
        const start = adjointStart(fwd.z);
        const adj = piggybackAdjoint(problem, theta, data, linear, fwd.x, fwd.z, tau, sigma, start?.a, start?.b, linearTol, request.linearMaxIter ?? opts.linearMaxIter);
        remember(fwd.x, fwd.z, adj.a, adj.b);
        fwd.x.dispose();
        const work = addWork(forwardWork, adj.work);
        work.timeMs = performance.now() - t0;
        const converged = fwd.converged && adj.converged;
        return {
          grad: adj.grad,
          residual: adj.residual,
          converged,
          message: converged
            ? `piggyback adjoint converged: ‖λ_{k+1} − λ_k‖ = ${fmt(adj.residual)} ≤ linearTol ${fmt(linearTol)} in ${adj.iterations} iterations (PDHG re-check: ${fwd.iterations} iterations)`
            : !fwd.converged
              ? `the saddle point could not be re-established from x: ‖(r_p, r_d)‖ = ${fmt(fwd.residual)} after ${fwd.iterations} iterations; increase maxIter`
              : `piggyback adjoint stopped: ‖λ_{k+1} − λ_k‖ = ${fmt(adj.residual)} > linearTol ${fmt(linearTol)} after ${adj.iterations} iterations; increase linearMaxIter or loosen linearTol`,
          work,
        };
      });
    },
  };
  return strategy;
}

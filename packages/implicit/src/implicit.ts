import {
  tf,
  addWork,

  keysOf,
  valueAndGradParams,
  subParams,
  scaleParams,
  disposeParams,
  checkNonNegative,
  checkPositiveInt,
} from '@bilevel/core';
import type {
  Data,
  Params,
  Problem,
  FixedPointProblem,
  InnerSolver,
  LinearSolver,
  Strategy,
  HypergradientRequest,
  HypergradientResult,
  HypergradientStatus,
  SolveRequest,
  SolveResult,
  SolutionVjpRequest,
  SolutionVjpResult,
  Work,
} from '@bilevel/core';
import type { BoundConstants } from './bound.js';
import { implicitErrorBound } from './bound.js';

/** Options of {@link implicit}. */
export interface ImplicitOptions {
  /** Lower-level solver (e.g. `lbfgs()`, `accelerated()`, `gradientDescent()`). */
  inner: InnerSolver;
  /** Adjoint solver for `∇²ₓₓΦ q = ∇ₓℓ` (e.g. `cg()`, `gmres()`, `richardson({ step })`, `neumann({ step, terms })`). */
  linear: LinearSolver;
  /** Forward tolerance ε on ‖∇ₓΦ‖ (absolute). */
  tol?: number;
  /** Adjoint tolerance δ on ‖Hq − ∇ₓℓ‖ (absolute). */
  linearTol?: number;
  /** Inner iteration cap; default: the inner solver's. */
  maxIter?: number;
  /** Adjoint iteration cap; default: the linear solver's (for `neumann`, its number of terms). */
  linearMaxIter?: number;
  /** Reuse the last x̂ and q as starting points when shapes match (default true). */
  warmStart?: boolean;
  /** Constants of the a-posteriori bound ({@link implicitErrorBound}); the bound is undefined without them. */
  constants?: BoundConstants;
}

/** Exported defaults of {@link implicit} (float32: ‖∇Φ‖ below ~1e-6·scale is at rounding level). */
export const DEFAULT_IMPLICIT_OPTIONS = Object.freeze({
  tol: 1e-5,
  linearTol: 1e-5,
  warmStart: true,
});

/** The implicit strategy: a {@link Strategy} with warm-start state. */
export interface ImplicitStrategy extends Strategy {
  readonly options: Readonly<ImplicitOptions & typeof DEFAULT_IMPLICIT_OPTIONS>;
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
  /** Forgets the warm starts (disposes the kept x̂ and q). */
  reset(): void;
  /** Same as {@link ImplicitStrategy.reset}: releases every tensor the strategy holds. */
  dispose(): void;
  /** Whether a warm start is held (for tests and diagnostics). */
  readonly warm: { x: boolean; adjoint: boolean; cotangentAdjoint: boolean };
}

const X_KEY = '\u0000x';

function asEnergy<D>(problem: Problem<D> | FixedPointProblem<D>, where: string): Problem<D> {
  if (problem == null || (problem as { kind?: string }).kind !== 'energy') {
    if ((problem as { kind?: string } | null)?.kind === 'fixed-point') {
      throw new Error(
        `${where}: the implicit strategy differentiates argmins of energies (defineProblem); for a fixed-point problem (defineFixedPoint) use equilibrium(...) from @bilevel/equilibrium, or jacobianFree() from @bilevel/jfb.`,
      );
    }
    throw new Error(`${where}: 'problem' must come from defineProblem(...).`);
  }
  return problem as Problem<D>;
}

/** A kept tensor slot: disposed when replaced, reused only when the shape matches. */
class WarmSlot {
  private t: tf.Tensor | null = null;
  get held(): boolean {
    return this.t != null;
  }
  get(shape: number[]): tf.Tensor | undefined {
    if (this.t == null || this.t.isDisposed || !tf.util.arraysEqual(this.t.shape, shape)) return undefined;
    return this.t;
  }
  set(value: tf.Tensor): void {
    const next = tf.keep(value.clone());
    this.clear();
    this.t = next;
  }
  clear(): void {
    if (this.t != null && !this.t.isDisposed) this.t.dispose();
    this.t = null;
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(2) : String(v);
}

/**
 * Implicit-function-theorem hypergradient strategy (IFT; Crockett & Fessler §4.2).
 *
 * With `x̂(θ) = argmin_x Φ(x; θ)` and `∇ₓΦ(x̂; θ) = 0`, the implicit function theorem gives
 * `∂x̂/∂θ = −[∇²ₓₓΦ]⁻¹ ∇²_{xθ}Φ`, so for `F(θ) = ℓ(x̂(θ), θ)`
 *
 * `∇F(θ) = ∇_θℓ(x̂, θ) − (∇²_{xθ}Φ(x̂))ᵀ q,   ∇²ₓₓΦ(x̂) q = ∇ₓℓ(x̂, θ)`.
 *
 * The forward solve is any {@link InnerSolver}, the adjoint solve any matrix-free
 * {@link LinearSolver} with Hessian–vector products as the matvec. Both are warm-started
 * from the previous call's x̂ and q (shape-checked), which is what makes an upper-level
 * loop cheap when θ moves little. When `problem.mu` is known, the result carries the
 * a-posteriori bound of {@link implicitErrorBound} (constants permitting) with
 * ε = ‖∇ₓΦ(x)‖/μ and δ = the adjoint residual.
 *
 * @param options - inner and linear solvers, accuracies, warm start, bound constants.
 * @returns an {@link ImplicitStrategy}.
 * @example
 * ```ts
 * import { hypergradient, lbfgs, cg } from '@bilevel/core';
 * import { implicit } from '@bilevel/implicit';
 * const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
 * const r = hypergradient({ problem, theta, data, loss, strategy });
 * r.dispose(); strategy.dispose();
 * ```
 */
export function implicit(options: ImplicitOptions): ImplicitStrategy {
  const where = 'implicit';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: pass one options object { inner, linear }.`);
  if (options.inner == null || typeof options.inner.solve !== 'function') {
    throw new Error(`${where}: option 'inner' must be an inner solver such as lbfgs() or gradientDescent() from @bilevel/core.`);
  }
  if (options.linear == null || typeof options.linear.solve !== 'function') {
    throw new Error(`${where}: option 'linear' must be a linear solver such as cg() or gmres() from @bilevel/core.`);
  }
  const opts = { ...DEFAULT_IMPLICIT_OPTIONS, ...stripUndefined(options) } as ImplicitStrategy['options'];
  checkNonNegative(where, 'tol', opts.tol, true);
  checkNonNegative(where, 'linearTol', opts.linearTol, true);
  if (opts.maxIter != null) checkPositiveInt(where, 'maxIter', opts.maxIter);
  if (opts.linearMaxIter != null) checkPositiveInt(where, 'linearMaxIter', opts.linearMaxIter);
  if (typeof opts.warmStart !== 'boolean') throw new Error(`${where}: option 'warmStart' must be true or false.`);
  if (opts.constants != null && typeof opts.constants !== 'object') {
    throw new Error(`${where}: option 'constants' must be an object { lossLipschitz, hessianLipschitz, mixedLipschitz, mixedNorm }.`);
  }
  const name = `implicit(${opts.inner.name}, ${opts.linear.name})`;
  const warmX = new WarmSlot();
  const warmQ = new WarmSlot();
  const warmCotangentQ = new WarmSlot();

  function startPoint<D>(problem: Problem<D>, theta: Params, data: D, x0?: tf.Tensor): tf.Tensor | undefined {
    if (x0 != null) return x0;
    if (!opts.warmStart || !warmX.held) return undefined;
    if (problem.init == null) return warmX.get(warmXShape());
    const init = problem.initialPoint(theta, data);
    const shape = init.shape;
    init.dispose();
    return warmX.get(shape);
  }
  function warmXShape(): number[] {
    return (warmX as unknown as { t: tf.Tensor }).t.shape;
  }

  function forward<D>(problem: Problem<D>, theta: Params, data: D, x0: tf.Tensor | undefined, tol: number, maxIter: number | undefined) {
    const start = startPoint(problem, theta, data, x0);
    const result = opts.inner.solve(problem, theta, data, { x0: start, tol, maxIter, tolMode: 'absolute' });
    tf.keep(result.x);
    if (opts.warmStart) warmX.set(result.x);
    return result;
  }

  function adjoint<D>(problem: Problem<D>, theta: Params, data: D, x: tf.Tensor, rhs: tf.Tensor, slot: WarmSlot, tol: number, maxIter: number | undefined) {
    let hvps = 0;
    const matvec = (v: tf.Tensor): tf.Tensor => {
      hvps += 1;
      return problem.hvp(x, theta, data, v);
    };
    const q0 = opts.warmStart ? slot.get(rhs.shape) : undefined;
    const result = opts.linear.solve(matvec, rhs, { x0: q0, tol, maxIter, tolMode: 'absolute' });
    tf.keep(result.x);
    if (opts.warmStart) slot.set(result.x);
    return { result, hvps };
  }

  const strategy: ImplicitStrategy = {
    name,
    options: opts,
    get warm() {
      return { x: warmX.held, adjoint: warmQ.held, cotangentAdjoint: warmCotangentQ.held };
    },
    reset() {
      warmX.clear();
      warmQ.clear();
      warmCotangentQ.clear();
    },
    dispose() {
      strategy.reset();
    },

    compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
      const t0 = performance.now();
      const problem = asEnergy(request.problem, name);
      const { theta, data, loss } = request;
      if (X_KEY in theta) throw new Error(`${name}: parameter name '${X_KEY}' is reserved.`);
      const tol = request.tol ?? opts.tol;
      const linearTol = request.linearTol ?? opts.linearTol;
      const inner = forward(problem, theta, data, request.x0, tol, request.maxIter ?? opts.maxIter);
      const x = inner.x;

      // ∇ₓℓ and ∇_θℓ in one backward pass.
      const { value: lossValue, grad: lossGrad } = valueAndGradParams((p) => {
        const th: Params = {};
        for (const k of keysOf(theta)) th[k] = p[k];
        return loss(p[X_KEY], th, data);
      }, { ...theta, [X_KEY]: x });
      const value = lossValue.dataSync()[0];
      lossValue.dispose();
      const gx = lossGrad[X_KEY];
      const gTheta: Params = {};
      for (const k of keysOf(theta)) gTheta[k] = lossGrad[k];

      const { result: lin, hvps } = adjoint(problem, theta, data, x, gx, warmQ, linearTol, request.linearMaxIter ?? opts.linearMaxIter);
      const q = lin.x;
      const mixed = problem.mixed(x, theta, data, q);
      const grad = tf.tidy(() => keepAll(subParams(gTheta, mixed)));
      disposeParams(mixed);
      disposeParams(gTheta);

      const [qNorm, gxNorm] = tf.tidy(() => [tf.norm(q), tf.norm(gx)]).map((t) => {
        const v = t.dataSync()[0];
        t.dispose();
        return v;
      });
      gx.dispose();
      q.dispose();

      const mu = problem.mu(theta, data);
      let bound: number | undefined;
      let valueBound: number | undefined;
      let boundNote = '';
      if (mu != null && mu > 0) {
        const b = implicitErrorBound({
          epsilon: inner.gradNorm / mu,
          delta: lin.residualNorm,
          mu,
          adjointNorm: qNorm,
          lossGradNorm: gxNorm,
          constants: opts.constants ?? {},
        });
        bound = b.bound;
        valueBound = b.valueBound;
        if (b.missing.length > 0) boundNote = ` No bound: missing constant(s) ${b.missing.join(', ')} (option 'constants' of implicit).`;
      } else {
        boundNote = " No bound: the problem's strongConvexity (μ) is unknown.";
      }

      const status: HypergradientStatus = !inner.converged
        ? 'forward-not-converged'
        : !lin.converged
          ? 'backward-not-converged'
          : 'converged';
      const message =
        status === 'converged'
          ? `converged: ‖∇ₓΦ‖ = ${fmt(inner.gradNorm)} ≤ ${fmt(tol)} in ${inner.iterations} inner iterations; adjoint residual ${fmt(lin.residualNorm)} ≤ ${fmt(linearTol)} in ${lin.iterations} ${opts.linear.name} iterations.${boundNote}`
          : status === 'forward-not-converged'
            ? `forward solve not converged: ‖∇ₓΦ‖ = ${fmt(inner.gradNorm)} > tol ${fmt(tol)} after ${inner.iterations} iterations (${inner.message}).${boundNote}`
            : `adjoint solve not converged: ‖Hq − ∇ₓℓ‖ = ${fmt(lin.residualNorm)} > linearTol ${fmt(linearTol)} after ${lin.iterations} iterations (${lin.message}).${boundNote}`;
      const work: Work = addWork(inner.work, { ...lin.work, hvps: 0 }, { hvps, vjps: 2 });
      work.timeMs = performance.now() - t0;
      return {
        value,
        grad,
        x,
        bound,
        valueBound,
        work,
        status,
        converged: status === 'converged',
        residuals: { forward: inner.gradNorm, backward: lin.residualNorm },
        message,
        strategy: name,
        dispose() {
          disposeParams(grad);
          if (!x.isDisposed) x.dispose();
        },
      };
    },

    solve<D = Data>(request: SolveRequest<D>): SolveResult {
      const t0 = performance.now();
      const problem = asEnergy(request.problem, name);
      const inner = forward(problem, request.theta, request.data, request.x0, request.tol ?? opts.tol, request.maxIter ?? opts.maxIter);
      const work = addWork(inner.work);
      work.timeMs = performance.now() - t0;
      return { x: inner.x, residual: inner.gradNorm, converged: inner.converged, message: inner.message, work };
    },

    vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult {
      const t0 = performance.now();
      const problem = asEnergy(request.problem, name);
      const linearTol = request.linearTol ?? opts.linearTol;
      const { result: lin, hvps } = adjoint(
        problem, request.theta, request.data, request.x, request.cotangent, warmCotangentQ,
        linearTol, request.linearMaxIter ?? opts.linearMaxIter,
      );
      const mixed = problem.mixed(request.x, request.theta, request.data, lin.x);
      const grad = tf.tidy(() => scaleParams(mixed, -1));
      disposeParams(mixed);
      let dataGrad: tf.Tensor | undefined;
      if (request.wrtData) {
        if (!(request.data instanceof tf.Tensor)) {
          throw new Error(`${name}: vjpSolution with wrtData needs 'data' to be a single tensor.`);
        }
        // −∇_y ⟨∇ₓΦ(x; θ, y), q⟩: the mixed product with the data in the role of θ.
        const q = lin.x;
        const x = request.x;
        const { value, grad: g } = valueAndGradParams(
          (p) => tf.sum(tf.mul(problem.gradient(x, request.theta, p[X_KEY] as unknown as D), q)),
          { [X_KEY]: request.data },
        );
        value.dispose();
        dataGrad = tf.tidy(() => tf.neg(g[X_KEY]));
        g[X_KEY].dispose();
      }
      lin.x.dispose();
      const work = addWork({ ...lin.work, hvps: 0 }, { hvps, vjps: request.wrtData ? 2 : 1 });
      work.timeMs = performance.now() - t0;
      return {
        grad,
        dataGrad,
        residual: lin.residualNorm,
        converged: lin.converged,
        message: lin.converged
          ? `adjoint converged: residual ${fmt(lin.residualNorm)} in ${lin.iterations} iterations`
          : `adjoint solve not converged: ‖Hq − v‖ = ${fmt(lin.residualNorm)} > linearTol ${fmt(linearTol)} after ${lin.iterations} iterations (${lin.message})`,
        work,
      };
    },
  };
  return strategy;
}

function keepAll(p: Params): Params {
  for (const k of Object.keys(p)) tf.keep(p[k]);
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}


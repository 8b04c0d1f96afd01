import {
  tf,
  addWork,
  keysOf,
  valueAndGradParams,
  disposeParams,
  checkNonNegative,
  checkPositiveInt,
  picard,
  statusMessage,
} from '@bilevel/core';
import type {
  Data,
  Params,
  Problem,
  FixedPointProblem,
  InnerSolver,
  Strategy,
  HypergradientRequest,
  HypergradientResult,
  SolveRequest,
  SolveResult,
  SolutionVjpRequest,
  SolutionVjpResult,
  Work,
} from '@bilevel/core';

/** Options of {@link jacobianFree}. */
export interface JacobianFreeOptions {
  /**
   * Forward solver for energies (any {@link InnerSolver}); default: Picard iterations of
   * `T(x) = x − s∇ₓΦ(x)` (gradient descent). Fixed-point problems always use Picard iterations of their map.
   */
  inner?: InnerSolver;
  /** Differentiable steps `k` of T from the fixed point (default 1). */
  steps?: number;
  /** Step `s` of `T(x) = x − s∇ₓΦ` for energies; default `1/L` from the problem's `smoothness`. */
  stepSize?: number;
  /** Forward tolerance on ‖∇ₓΦ‖ (energies) or ‖T(x) − x‖ (fixed points), absolute. */
  tol?: number;
  /** Forward iteration cap. */
  maxIter?: number;
  /** Reuse the last fixed point as the next starting point when shapes match (default true). */
  warmStart?: boolean;
}

/** Exported defaults of {@link jacobianFree}. */
export const DEFAULT_JFB_OPTIONS = Object.freeze({ steps: 1, tol: 1e-5, maxIter: 1000, warmStart: true });

/** The Jacobian-free strategy: a {@link Strategy} with warm-start state. */
export interface JacobianFreeStrategy extends Strategy {
  readonly options: Readonly<JacobianFreeOptions & typeof DEFAULT_JFB_OPTIONS>;
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
  /** Forgets the warm start. */
  reset(): void;
  /** Releases every tensor the strategy holds. */
  dispose(): void;
}

const X_KEY = '\u0000x';
const DATA_KEY = '\u0000data';

/**
 * Jacobian-free backpropagation (Fung et al. 2022; Crockett & Fessler §7.2).
 *
 * For a fixed point `x̂ = T(x̂; θ)` the exact hypergradient needs `(I − ∂ₓT)⁻ᵀ`. JFB replaces
 * that inverse by the identity (a truncated Neumann series): it treats `x̂` as a constant and
 * differentiates `k` steps of the map from it,
 *
 * `g = ∇_θ [ ℓ(T^k(sg(x̂); θ), θ) ]`,
 *
 * which is a descent direction when T is a contraction in x with a well-conditioned Jacobian
 * (it is the exact hypergradient preconditioned by `(I − ∂ₓT)ᵀ`). For an energy Φ the map is
 * the gradient step `T(x) = x − s∇ₓΦ(x; θ)`. Cost: a forward solve plus `k` VJPs; no linear
 * solve, so no backward residual and no bound.
 *
 * @param options - forward solver, number of differentiable steps, step size, accuracies.
 * @returns a {@link JacobianFreeStrategy}.
 * @example
 * ```ts
 * import { hypergradient } from '@bilevel/core';
 * import { jacobianFree } from '@bilevel/jfb';
 * const r = hypergradient({ problem, theta, data, loss, strategy: jacobianFree({ steps: 1 }) });
 * ```
 */
export function jacobianFree(options: JacobianFreeOptions = {}): JacobianFreeStrategy {
  const where = 'jacobianFree';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: pass one options object (or nothing).`);
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) given[k] = v;
  const opts = { ...DEFAULT_JFB_OPTIONS, ...given } as JacobianFreeStrategy['options'];
  if (opts.inner != null && typeof opts.inner.solve !== 'function') {
    throw new Error(`${where}: option 'inner' must be an inner solver such as lbfgs() from @bilevel/core (or omit it for Picard iterations).`);
  }
  checkPositiveInt(where, 'steps', opts.steps);
  if (opts.stepSize != null) checkNonNegative(where, 'stepSize', opts.stepSize, true);
  checkNonNegative(where, 'tol', opts.tol, true);
  checkPositiveInt(where, 'maxIter', opts.maxIter);
  const name = `jacobianFree(k=${opts.steps}${opts.inner ? `, ${opts.inner.name}` : ''})`;
  let warm: tf.Tensor | null = null;

  function mapOf<D>(problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D): { step: (x: tf.Tensor, th: Params, d?: D) => tf.Tensor; scale: number } {
    if (problem.kind === 'fixed-point') return { step: (x, th, d) => problem.map(x, th, d ?? data), scale: 1 };
    if (problem.kind !== 'energy') throw new Error(`${name}: 'problem' must come from defineProblem(...) or defineFixedPoint(...).`);
    const s = opts.stepSize ?? (() => {
      const L = problem.lipschitz(theta, data);
      if (L == null || !(L > 0)) {
        throw new Error(`${where}: option 'stepSize' is needed for energy '${problem.name}', whose smoothness L is unknown; pass jacobianFree({ stepSize: 1/L }) or give defineProblem a 'smoothness'.`);
      }
      return 1 / L;
    })();
    return { step: (x, th, d) => tf.sub(x, tf.mul(problem.gradient(x, th, d ?? data), s)), scale: s };
  }

  function setWarm(x: tf.Tensor): void {
    const next = tf.keep(x.clone());
    if (warm != null && !warm.isDisposed) warm.dispose();
    warm = next;
  }

  function forward<D>(problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D, x0: tf.Tensor | undefined, tol: number, maxIter: number) {
    const t0 = performance.now();
    let start: tf.Tensor | undefined = x0;
    if (start == null && opts.warmStart && warm != null) {
      const init = problem.init ? problem.initialPoint(theta, data) : null;
      if (init == null || tf.util.arraysEqual(init.shape, warm.shape)) start = warm;
      init?.dispose();
    }
    let out: { x: tf.Tensor; residual: number; converged: boolean; message: string; work: Work };
    if (problem.kind === 'energy' && opts.inner != null) {
      const r = opts.inner.solve(problem, theta, data, { x0: start, tol, maxIter, tolMode: 'absolute' });
      out = { x: tf.keep(r.x), residual: r.gradNorm, converged: r.converged, message: r.message, work: r.work };
    } else {
      const { step, scale } = mapOf(problem, theta, data);
      const what = problem.kind === 'energy' ? '‖∇ₓΦ‖' : '‖T(x) − x‖';
      const x0 = problem.initialPoint(theta, data, start);
      // Core's Picard stops on ‖T(x) − x‖ ≤ tol·scale, i.e. on the scaled residual ‖T(x) − x‖/scale ≤ tol.
      const r = picard().solve((x) => step(x, theta), x0, { tol: tol * scale, maxIter });
      x0.dispose();
      const residual = r.residualNorm / scale;
      const evals = r.work.energyEvals;
      out = {
        x: tf.keep(r.x),
        residual,
        converged: r.converged,
        message: statusMessage(r.status, {
          where: 'jacobianFree (Picard forward)', iterations: r.iterations, residual, residualName: what, tol, tolMode: 'absolute', maxIter,
          fix: r.status === 'converged' ? undefined
            : `increase maxIter (now ${maxIter})${problem.kind === 'energy' ? ', check stepSize ≤ 1/L, or pass an inner solver' : ' or check that T is a contraction'}`,
        }),
        work: addWork(problem.kind === 'energy' ? { gradEvals: evals } : { energyEvals: evals }, { innerIterations: r.iterations }),
      };
    }
    if (opts.warmStart) setWarm(out.x);
    out.work = addWork(out.work);
    out.work.timeMs = performance.now() - t0;
    return out;
  }

  /** `∇_θ f(T^k(x; θ), θ)` (and `∇_data` when asked), with x held constant. */
  function throughSteps<D>(
    problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D, x: tf.Tensor,
    f: (z: tf.Tensor, th: Params) => tf.Tensor, wrtData = false,
  ): { value: number; grad: Params; dataGrad?: tf.Tensor } {
    const { step } = mapOf(problem, theta, data);
    if (wrtData && !(data instanceof tf.Tensor)) {
      throw new Error(`${name}: vjpSolution with wrtData needs 'data' to be a single tensor.`);
    }
    const tree: Params = wrtData ? { ...theta, [DATA_KEY]: data as unknown as tf.Tensor } : theta;
    const { value, grad: all } = valueAndGradParams((p) => {
      const th: Params = {};
      for (const k of keysOf(theta)) th[k] = p[k];
      const d = wrtData ? (p[DATA_KEY] as unknown as D) : data;
      let z = x;
      for (let i = 0; i < opts.steps; i++) z = step(z, th, d);
      return f(z, th);
    }, tree);
    const v = value.dataSync()[0];
    value.dispose();
    const grad: Params = {};
    for (const k of keysOf(theta)) grad[k] = all[k];
    return { value: v, grad, dataGrad: wrtData ? all[DATA_KEY] : undefined };
  }

  const strategy: JacobianFreeStrategy = {
    name,
    options: opts,
    reset() {
      if (warm != null && !warm.isDisposed) warm.dispose();
      warm = null;
    },
    dispose() {
      strategy.reset();
    },

    compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
      const t0 = performance.now();
      const { problem, theta, data, loss } = request;
      if (X_KEY in theta) throw new Error(`${name}: parameter name '${X_KEY}' is reserved.`);
      const tol = request.tol ?? opts.tol;
      const fwd = forward(problem, theta, data, request.x0, tol, request.maxIter ?? opts.maxIter);
      const x = fwd.x;
      const valueTensor = tf.tidy(() => loss(x, theta, data));
      const value = valueTensor.dataSync()[0];
      valueTensor.dispose();
      const { grad } = throughSteps(problem, theta, data, x, (z, th) => loss(z, th, data));
      for (const k of keysOf(grad)) tf.keep(grad[k]);
      const work = addWork(fwd.work, problem.kind === 'energy' ? { hvps: opts.steps, vjps: 1 } : { vjps: opts.steps + 1 });
      work.timeMs = performance.now() - t0;
      return {
        value,
        grad,
        x,
        work,
        status: fwd.converged ? 'converged' : 'forward-not-converged',
        converged: fwd.converged,
        residuals: { forward: fwd.residual },
        message: `${fwd.message}. JFB has no backward solve and no error bound (it is a descent direction, not the exact hypergradient).`,
        strategy: name,
        dispose() {
          disposeParams(grad);
          if (!x.isDisposed) x.dispose();
        },
      };
    },

    solve<D = Data>(request: SolveRequest<D>): SolveResult {
      const fwd = forward(request.problem, request.theta, request.data, request.x0, request.tol ?? opts.tol, request.maxIter ?? opts.maxIter);
      return { x: fwd.x, residual: fwd.residual, converged: fwd.converged, message: fwd.message, work: fwd.work };
    },

    vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult {
      const t0 = performance.now();
      const { grad, dataGrad } = throughSteps(request.problem, request.theta, request.data, request.x,
        (z) => tf.sum(tf.mul(z, request.cotangent)), request.wrtData === true);
      const work = addWork({ vjps: opts.steps });
      work.timeMs = performance.now() - t0;
      return { grad, dataGrad, converged: true, message: 'Jacobian-free VJP (no backward solve)', work };
    },
  };
  return strategy;
}

import { tf, addWork, keysOf, valueAndGradParams, disposeParams, addParams, checkNonNegative, checkPositiveInt, gmres, richardson, anderson } from '@bilevel/core';
import type {
  Data,
  Params,
  Problem,
  FixedPointProblem,
  Strategy,
  HypergradientRequest,
  HypergradientResult,
  HypergradientStatus,
  LinearSolver,
  FixedPointSolver as ForwardSolver,
  Work,
} from '@bilevel/core';
import { checkKeys } from './internal/check-keys.js';
import { fixedPointMap } from './internal/map.js';
import type { FixedPointMap, FixedPointRule, FixedPointRuleResult } from './backward/types.js';
import { linearSolveRule } from './backward/linear-solve.js';
import { phantomRule } from './backward/phantom.js';

/**
 * How the backward pass is computed.
 * - a {@link FixedPointRule} object, e.g. `neumannSeries({ terms: 20 })`.
 * - `'implicit'`: solve `(I − ∂ₓT)ᵀ w = ∇ₓℓ` with GMRES (core's `gmres`).
 * - `{ implicit: solver }`: the same with any core {@link LinearSolver} (CG is valid for energies, where `(I − ∂ₓT)ᵀ = s∇²ₓₓΦ` is SPD).
 * - `'fixed-point'`: iterate `w ← (∂ₓT)ᵀ w + ∇ₓℓ` from w = 0 (Richardson with step 1; converges when T is a contraction).
 * - `{ phantom: k, damping: λ }`: phantom gradient (Geng et al. 2021): backpropagate through k
 *   steps of `x ← (1 − λ)x + λT(x)` started at the fixed point.
 */
export type EquilibriumBackward = FixedPointRule | 'implicit' | { implicit: LinearSolver } | 'fixed-point' | { phantom: number; damping?: number };

/** Options of {@link equilibrium}. */
export interface EquilibriumOptions {
  /** Forward fixed-point solver: `picard()`, `anderson()` (default) or `broyden()`. */
  forward?: ForwardSolver;
  /** Backward rule, see {@link EquilibriumBackward}. Default `'implicit'`. */
  backward?: EquilibriumBackward;
  /** Forward tolerance (absolute, on ‖∇ₓΦ‖ for energies, ‖T(x) − x‖ for maps); `request.tol` overrides. */
  tol?: number;
  /** Forward iteration cap; `request.maxIter` overrides. */
  maxIter?: number;
  /** Backward tolerance (absolute residual of the adjoint system); `request.linearTol` overrides. */
  backwardTol?: number;
  /** Backward iteration cap; `request.linearMaxIter` overrides. */
  backwardMaxIter?: number;
  /** Energies only: step s of `T(x) = x − s∇ₓΦ(x)`. Default `1/L` from the problem's `smoothness`. */
  stepSize?: number;
}

/** Defaults of {@link equilibrium}. */
export const DEFAULT_EQUILIBRIUM_OPTIONS = {
  backward: 'implicit' as EquilibriumBackward,
  tol: 1e-5,
  maxIter: 500,
  backwardTol: 1e-5,
  backwardMaxIter: 500,
  phantomDamping: 0.5,
} as const;

const WHERE = 'equilibrium';

type AnyProblem<D> = Problem<D> | FixedPointProblem<D>;

/** Value and gradients of the loss w.r.t. x and θ (keys of θ may be anything, including 'x'). */
function lossGradients<D>(loss: (x: tf.Tensor, theta: Params, data: D) => tf.Tensor, x: tf.Tensor, theta: Params, data: D): { value: number; gx: tf.Tensor; gTheta: Params } {
  const keys = keysOf(theta);
  const tree: Params = { '\u0000x': x };
  keys.forEach((k, i) => (tree[`\u0000θ${i}`] = theta[k]));
  const { value, grad } = valueAndGradParams((p) => {
    const th: Params = {};
    keys.forEach((k, i) => (th[k] = p[`\u0000θ${i}`]));
    return loss(p['\u0000x'], th, data);
  }, tree);
  const v = value.dataSync()[0];
  value.dispose();
  const gTheta: Params = {};
  keys.forEach((k, i) => (gTheta[k] = grad[`\u0000θ${i}`]));
  return { value: v, gx: grad['\u0000x'], gTheta };
}

const isRule = (b: unknown): b is FixedPointRule => typeof (b as FixedPointRule | null)?.vjp === 'function';

/** The backward option as a rule object. */
function ruleOf(backward: EquilibriumBackward): FixedPointRule {
  if (isRule(backward)) return backward;
  const fix = "equilibrium backward: increase backwardMaxIter / request.linearMaxIter, or use 'implicit' (GMRES) when T is not a contraction";
  if (backward === 'implicit') return linearSolveRule(gmres(), fix);
  if (backward === 'fixed-point') return linearSolveRule(richardson({ step: 1 }), fix);
  if ('implicit' in backward) return linearSolveRule(backward.implicit, fix);
  return phantomRule(backward.phantom, backward.damping ?? DEFAULT_EQUILIBRIUM_OPTIONS.phantomDamping);
}

/** An equilibrium (deep-equilibrium style) strategy. */
export interface EquilibriumStrategy extends Strategy {
  readonly options: Readonly<EquilibriumOptions>;
  /** The forward solve alone. The caller owns `x`. */
  solve<D = Data>(request: { problem: AnyProblem<D>; theta: Params; data: D; x0?: tf.Tensor; tol?: number; maxIter?: number }): {
    x: tf.Tensor;
    residual: number;
    converged: boolean;
    message: string;
    work: Work;
  };
  /** `(∂x̂/∂θ)ᵀ v` at a fixed point x by the configured backward rule. The caller owns `grad`. */
  vjpSolution<D = Data>(request: {
    problem: AnyProblem<D>;
    theta: Params;
    data: D;
    x: tf.Tensor;
    cotangent: tf.Tensor;
    linearTol?: number;
    linearMaxIter?: number;
  }): { grad: Params; residual?: number; converged: boolean; message: string; work: Work };
}

function validate(options: EquilibriumOptions): void {
  checkKeys(WHERE, options, ['forward', 'backward', 'tol', 'maxIter', 'backwardTol', 'backwardMaxIter', 'stepSize']);
  if (options.forward != null && typeof (options.forward as ForwardSolver).solve !== 'function') {
    throw new Error(`${WHERE}: option 'forward' must be a forward solver such as picard(), anderson() or broyden().`);
  }
  const b = options.backward;
  if (b != null && b !== 'implicit' && b !== 'fixed-point' && !isRule(b)) {
    const ok =
      typeof b === 'object' &&
      (('implicit' in b && typeof (b.implicit as LinearSolver)?.solve === 'function') || ('phantom' in b && Number.isInteger(b.phantom) && b.phantom > 0));
    if (!ok) {
      throw new Error(`${WHERE}: option 'backward' must be 'implicit', { implicit: gmres() }, 'fixed-point', { phantom: k, damping: λ } with k a positive integer, or a rule such as neumannSeries({ terms }), got ${JSON.stringify(b)}.`);
    }
    if ('phantom' in b && b.damping != null) {
      checkNonNegative(WHERE, 'backward.damping', b.damping, true);
      if (b.damping > 1) throw new Error(`${WHERE}: option 'backward.damping' must be in (0, 1], got ${b.damping}.`);
    }
  }
  if (options.tol != null) checkNonNegative(WHERE, 'tol', options.tol);
  if (options.backwardTol != null) checkNonNegative(WHERE, 'backwardTol', options.backwardTol);
  if (options.maxIter != null) checkPositiveInt(WHERE, 'maxIter', options.maxIter);
  if (options.backwardMaxIter != null) checkPositiveInt(WHERE, 'backwardMaxIter', options.backwardMaxIter);
  if (options.stepSize != null) checkNonNegative(WHERE, 'stepSize', options.stepSize, true);
}

/**
 * Equilibrium differentiation: find `x̂ = T(x̂; θ)` with a fixed-point solver, then
 * differentiate the fixed point implicitly.
 *
 * By the implicit function theorem `∂x̂/∂θ = (I − ∂ₓT)⁻¹ ∂_θT`, so
 * `∇F = ∇_θℓ + (∂_θT)ᵀ w` with `(I − ∂ₓT)ᵀ w = ∇ₓℓ(x̂)`. The adjoint system is solved
 * matrix-free with VJPs of T (GMRES by default, or the fixed-point iteration
 * `w ← (∂ₓT)ᵀw + ∇ₓℓ`), or replaced by a phantom gradient (k damped unrolled steps).
 *
 * Energies `Φ(x; θ)` are handled through `T(x) = x − s∇ₓΦ(x; θ)` with `s = 1/L` (problem
 * `smoothness`) or `options.stepSize`. Then `(I − ∂ₓT)ᵀ = s∇²ₓₓΦ` and `∂_θT = −s∇²_{xθ}Φ`,
 * so the result equals the implicit (IFT) hypergradient for any s; the forward tolerance
 * is on ‖∇ₓΦ‖ (the solver stops when ‖T(x) − x‖ ≤ s·tol).
 *
 * Cost: forward, one map evaluation per iteration; backward, one VJP of T per linear
 * iteration (for energies one HVP each) plus one VJP in θ.
 *
 * @param options - see {@link EquilibriumOptions}; defaults in {@link DEFAULT_EQUILIBRIUM_OPTIONS}.
 * @returns a {@link Strategy}.
 * @example
 * ```ts
 * const strategy = equilibrium({ forward: anderson({ memory: 5 }), backward: 'implicit', tol: 1e-6 });
 * const { grad, x, converged } = strategy.compute({ problem, theta, data, loss });
 * ```
 */
export function equilibrium(options: EquilibriumOptions = {}): EquilibriumStrategy {
  validate(options);
  const forward = options.forward ?? anderson();
  const rule = ruleOf(options.backward ?? DEFAULT_EQUILIBRIUM_OPTIONS.backward);

  function checkProblem(problem: unknown): void {
    const kind = (problem as { kind?: string } | null)?.kind;
    if (kind !== 'energy' && kind !== 'fixed-point') {
      throw new Error(`${WHERE}: request.problem must come from defineProblem or defineFixedPoint.`);
    }
  }

  function forwardSolve<D>(problem: AnyProblem<D>, theta: Params, data: D, x0In: tf.Tensor | undefined, tolIn: number | undefined, maxIterIn: number | undefined) {
    const { map, scale, energy } = fixedPointMap(WHERE, problem, theta, data, options.stepSize);
    const tol = tolIn ?? options.tol ?? DEFAULT_EQUILIBRIUM_OPTIONS.tol;
    const maxIter = maxIterIn ?? options.maxIter ?? DEFAULT_EQUILIBRIUM_OPTIONS.maxIter;
    const x0 = problem.initialPoint(theta, data, x0In);
    let result;
    try {
      result = forward.solve((x) => tf.tidy(() => map(x, theta)), x0, { tol: tol * scale, maxIter });
    } finally {
      x0.dispose();
    }
    const residual = result.residualNorm / scale;
    const work = { ...result.work };
    if (energy) {
      work.gradEvals = work.energyEvals;
      work.energyEvals = 0;
    }
    const measure = energy ? '‖∇ₓΦ‖' : '‖T(x) − x‖';
    const message = result.converged
      ? `${forward.name}: ${result.iterations} iterations, ${measure} = ${residual.toExponential(3)} ≤ tol ${tol}.`
      : `${result.message}${energy ? ` (for the energy, ${measure} = ${residual.toExponential(3)}, tol ${tol})` : ''}`;
    return { x: result.x, residual, converged: result.converged, message, work, map, energy };
  }

  /** `(∂x̂/∂θ)ᵀ v` at x by the configured rule, with the backward accuracy in force. */
  function backwardPass(map: FixedPointMap, energy: boolean, x: tf.Tensor, theta: Params, v: tf.Tensor, tolIn: number | undefined, maxIterIn: number | undefined): FixedPointRuleResult {
    const tol = tolIn ?? options.backwardTol ?? DEFAULT_EQUILIBRIUM_OPTIONS.backwardTol;
    const maxIter = maxIterIn ?? options.backwardMaxIter ?? DEFAULT_EQUILIBRIUM_OPTIONS.backwardMaxIter;
    return rule.vjp({ map, energy, x, theta, cotangent: v, tol, maxIter });
  }

  return {
    name: 'equilibrium',
    options: Object.freeze({ ...options }),

    compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
      const started = performance.now();
      checkProblem(request?.problem);
      const { problem, theta, data, loss } = request;
      if (typeof loss !== 'function') throw new Error(`${WHERE}: request.loss must be a function (x, theta, data) => scalar.`);
      const fwd = forwardSolve(problem, theta, data, request.x0, request.tol, request.maxIter);
      const lg = lossGradients(loss, fwd.x, theta, data);
      let back: FixedPointRuleResult;
      try {
        back = backwardPass(fwd.map, fwd.energy, fwd.x, theta, lg.gx, request.linearTol, request.linearMaxIter);
      } finally {
        lg.gx.dispose();
      }
      const grad = addParams(lg.gTheta, back.grad);
      disposeParams(lg.gTheta);
      disposeParams(back.grad);
      const work = addWork(fwd.work, back.work, { vjps: 1 });
      work.timeMs = performance.now() - started;
      const status: HypergradientStatus = !fwd.converged ? 'forward-not-converged' : !back.converged ? 'backward-not-converged' : 'converged';
      const x = fwd.x;
      return {
        value: lg.value,
        grad,
        x,
        work,
        status,
        converged: status === 'converged',
        residuals: { forward: fwd.residual, backward: back.residual },
        message: `${fwd.message} ${back.message}`,
        strategy: 'equilibrium',
        dispose() {
          disposeParams(grad);
          x.dispose();
        },
      };
    },

    solve(request) {
      const started = performance.now();
      checkProblem(request?.problem);
      const fwd = forwardSolve(request.problem, request.theta, request.data, request.x0, request.tol, request.maxIter);
      fwd.work.timeMs = performance.now() - started;
      return { x: fwd.x, residual: fwd.residual, converged: fwd.converged, message: fwd.message, work: fwd.work };
    },

    vjpSolution(request) {
      const started = performance.now();
      checkProblem(request?.problem);
      const { problem, theta, data, x, cotangent } = request;
      if (!tf.util.arraysEqual(x.shape, cotangent.shape)) {
        throw new Error(`${WHERE}.vjpSolution: cotangent has shape [${cotangent.shape}], expected the shape of x [${x.shape}].`);
      }
      const { map, energy } = fixedPointMap(WHERE, problem, theta, data, options.stepSize);
      const back = backwardPass(map, energy, x, theta, cotangent, request.linearTol, request.linearMaxIter);
      back.work.timeMs = performance.now() - started;
      return back;
    },
  };
}

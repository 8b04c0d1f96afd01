import { tf, addWork, scaleParams, disposeParams, valueAndGradParams, WarmSlot, slotsWarmState, loadSlotsWarmState, explicitStopping, formatNumber as fmt, checkOptions, opt, checkStrongConvexity, normNumber } from '@bilevel/core';
import type { Data, Problem, LinearSolver, DifferentiationRule, RuleVjpRequest, RuleVjpOutcome, RuleValueRequest, RuleValueOutcome } from '@bilevel/core';
import type { BoundConstants } from './bound.js';
import { implicitErrorBound, CONSTANTS_SCHEMA } from './bound.js';

/** Options of {@link implicitAdjoint}. */
export interface ImplicitAdjointOptions {
  /** Reuse the previous q as the starting point of the next adjoint solve (default true). */
  warmStart?: boolean;
  /** Constants of the a-posteriori bound; without them the bound is undefined. */
  constants?: BoundConstants;
}

/** The implicit adjoint rule, with its warm-start state visible for diagnostics. */
export interface ImplicitAdjointRule extends DifferentiationRule {
  /** Whether a q is held for hypergradients (`adjoint`) and for argmin cotangents (`cotangentAdjoint`). */
  readonly warm: { adjoint: boolean; cotangentAdjoint: boolean };
}

/**
 * The implicit-function-theorem differentiation rule (Crockett & Fessler §4.2): with
 * `∇ₓΦ(x̂; θ) = 0`, `(∂x̂/∂θ)ᵀ v = −(∇²_{xθ}Φ)ᵀ q` where `∇²ₓₓΦ(x̂) q = v`, solved matrix-free
 * by any {@link LinearSolver} with Hessian–vector products as the matvec. For a hypergradient
 * (v = ∇ₓℓ) it also returns the a-posteriori bound of {@link implicitErrorBound} when μ and
 * the constants are known (ε = ‖∇ₓΦ(x)‖/μ, δ = the adjoint residual).
 *
 * @param linear - the adjoint solver (`cg()`, `gmres()`, `richardson(...)`, `neumann(...)`).
 * @param options - warm start and bound constants.
 * @returns the rule.
 * @example
 * ```ts
 * const strategy = defineStrategy({ name: 'ift', forward: innerForward(lbfgs()), rule: implicitAdjoint(cg()), options: {} });
 * ```
 */
export function implicitAdjoint(linear: LinearSolver, options: ImplicitAdjointOptions = {}): ImplicitAdjointRule {
  checkOptions('implicitAdjoint', options, { warmStart: opt.boolean(), constants: opt.object(CONSTANTS_SCHEMA) });
  const warmStart = options.warmStart ?? true;
  const slots = { hypergradient: new WarmSlot(), argmin: new WarmSlot() };

  function vjp<D = Data>(request: RuleVjpRequest<D>): RuleVjpOutcome {
    const problem = request.problem as Problem<D>;
    const { theta, data, cotangent: v, forward } = request;
    const x = forward.x;
    const slot = slots[request.purpose];
    let hvps = 0;
    // the Hessian at x̂, prepared once for the whole solve (an analytic one caches its per-x parts)
    const hessian = problem.hessianAt(x, theta, data);
    const matvec = (u: tf.Tensor): tf.Tensor => {
      hvps += 1;
      return hessian.apply(u);
    };
    const q0 = warmStart ? slot.get(v.shape) : undefined;
    let lin: ReturnType<LinearSolver['solve']>;
    try {
      lin = linear.solve(matvec, v, { x0: q0, tol: request.linearTol, maxIter: request.linearMaxIter, tolMode: request.linearTol != null ? 'absolute' : undefined });
    } finally {
      hessian.dispose();
    }
    const q = lin.x;
    try {
      const curvature = lin.converged ? curvatureAlong(q, (u) => problem.hvp(x, theta, data, u)) : undefined;
      // Certificates before any result is made: a wrong μ throws here, leaking nothing.
      const certificate = request.purpose === 'hypergradient' ? bound(problem, request, lin.residualNorm, q) : undefined;
      const mixed = problem.mixed(x, theta, data, q);
      const grad = tf.tidy(() => scaleParams(mixed, -1));
      disposeParams(mixed);
      let dataGrad: tf.Tensor | undefined;
      if (request.wrtData) {
        if (!(data instanceof tf.Tensor)) throw new Error(`implicit: argmin's differentiateData needs 'data' to be a single tensor.`);
        // −∇_y ⟨∇ₓΦ(x; θ, y), q⟩: the mixed product with the data in the role of θ.
        const { value, grad: g } = valueAndGradParams((p) => tf.sum(tf.mul(problem.gradient(x, theta, p.data as unknown as D), q)), { data: data as unknown as tf.Tensor });
        value.dispose();
        dataGrad = tf.tidy(() => tf.neg(g.data));
        g.data.dispose();
      }
      const work = addWork({ ...lin.work, hvps: 0 }, { hvps, vjps: request.wrtData ? 2 : 1 });
      const message = lin.converged
        ? `adjoint residual ${fmt(lin.residualNorm)} in ${lin.iterations} ${linear.name} iterations`
        : `adjoint solve not converged: ‖Hq − v‖ = ${fmt(lin.residualNorm)}${request.linearTol != null ? ` > linearTol ${fmt(request.linearTol)}` : ''} after ${lin.iterations} iterations (${lin.message})`;
      work.hvps += (curvature?.hvps ?? 0) + (certificate?.hvps ?? 0);
      // The warm start is kept once nothing can throw any more (a refused μ leaves it as it was).
      if (warmStart && Number.isFinite(lin.residualNorm)) slot.set(q);
      const out: RuleVjpOutcome = { grad, dataGrad, residual: lin.residualNorm, converged: lin.converged, status: lin.status, message, iterations: lin.iterations, work, tol: request.linearTol };
      if (curvature != null && !(curvature.value > 0)) {
        // qᵀ∇²Φq ≤ 0: x̂ is a stationary point that is not a minimum (a maximum or a saddle).
        out.notASolution = true;
        out.converged = false;
        out.status = 'non-positive-curvature';
        out.bound = undefined;
        out.message = `x̂ is not a minimum: along the adjoint q, qᵀ∇²ₓₓΦ(x̂)q/‖q‖² = ${fmt(curvature.value)} ≤ 0 (a maximum or a saddle point of Φ; ` +
          `${linear.name} solved the indefinite system without noticing): the implicit hypergradient assumes ∇²Φ(x̂) ≻ 0. ` +
          `Start the inner solve elsewhere (x0 or the problem's init), or check the sign of the energy. (${message})`;
        return out;
      }
      if (certificate != null) {
        out.bound = certificate.bound;
        out.valueBound = certificate.valueBound;
        out.message += certificate.note;
      }
      return out;
    } finally {
      q.dispose();
    }
  }

  /**
   * `qᵀHq/‖q‖²` by one HVP. Skipped after a converged CG: its iterate lies in the span of
   * H-conjugate directions with pᵀHp > 0 (else CG stops with non-positive curvature), so
   * qᵀHq > 0 already. Other solvers (GMRES, Richardson, Neumann) solve indefinite systems silently.
   */
  function curvatureAlong(q: tf.Tensor, hessianTimes: (u: tf.Tensor) => tf.Tensor): { value: number; hvps: number } | undefined {
    if (linear.name === 'cg') return undefined;
    const [qHq, qq] = tf.tidy(() => {
      const hq = hessianTimes(q);
      return [tf.sum(tf.mul(q, hq)), tf.sum(tf.square(q))];
    }).map((t) => {
      const value = t.dataSync()[0];
      t.dispose();
      return value;
    });
    return qq > 0 ? { value: qHq / qq, hvps: 1 } : undefined;
  }

  function bound<D>(problem: Problem<D>, request: RuleVjpRequest<D>, delta: number, q: tf.Tensor): { bound?: number; valueBound?: number; note: string; hvps: number } {
    const mu = problem.mu(request.theta, request.data);
    if (!(mu != null && mu > 0)) return { note: ". No bound: the problem's strongConvexity (μ) is unknown", hvps: 0 };
    const [adjointNorm, lossGradNorm] = [normNumber(q), normNumber(request.cotangent)];
    const b = implicitErrorBound({ epsilon: request.forward.residual / mu, delta, mu, adjointNorm, lossGradNorm, constants: options.constants ?? {} });
    const note = b.missing.length > 0 ? `. No bound: missing constant(s) ${b.missing.join(', ')} (option 'constants' of implicit)` : '';
    // A bound is reported: cross-check the declared μ on the Hessian at x̂ (throws when it is too large).
    const hvps = b.bound != null ? checkStrongConvexity('implicit', problem, request.forward.x, request.theta, request.data, mu).hvps : 0;
    return { bound: b.bound, valueBound: b.valueBound, note, hvps };
  }

  // A value-only request: the value bound ‖∇ₓℓ‖ε + Lε²/2 that `bound` reports, ε = ‖∇ₓΦ(x̃)‖/μ,
  // with the same cross-check of μ (it certifies ε), and no adjoint solve.
  function valueBound<D>(request: RuleValueRequest<D>): RuleValueOutcome {
    const problem = request.problem as Problem<D>;
    const mu = problem.mu(request.theta, request.data);
    if (!(mu != null && mu > 0)) return { note: "No value bound: the problem's strongConvexity (μ) is unknown" };
    if (options.constants?.lossLipschitz == null) return {};
    const lossGradNorm = normNumber(request.cotangent);
    const b = implicitErrorBound({ epsilon: request.forward.residual / mu, delta: 0, mu, adjointNorm: 0, lossGradNorm, constants: options.constants });
    if (b.valueBound == null) return {};
    const hvps = checkStrongConvexity('implicit', problem, request.forward.x, request.theta, request.data, mu).hvps;
    return { valueBound: b.valueBound, work: { hvps } };
  }

  const rule: ImplicitAdjointRule = {
    name: `implicitAdjoint(${linear.name})`,
    // neumann's iteration cap is its number of terms.
    explicit: explicitStopping(linear, linear.name === 'neumann' ? 'terms' : 'maxIter'),
    get warm() {
      return { adjoint: slots.hypergradient.held, cotangentAdjoint: slots.argmin.held };
    },
    vjp,
    valueBound,
    reset() {
      slots.hypergradient.clear();
      slots.argmin.clear();
    },
    warmState: () => slotsWarmState(slots),
    loadWarmState: (state) => loadSlotsWarmState('implicitAdjoint.loadWarmState', slots, state),
  };
  return rule;
}

/**
 * Dynamic-accuracy derivative-free trust-region method (Ehrhardt & Roberts, "Inexact
 * derivative-free optimization for bilevel learning", J. Math. Imaging Vision 63 (2021),
 * Algorithm 1). The pieces live in `internal/dfo/`: the interpolation model (`model.ts`),
 * the geometry of the set (`geometry.ts`), accuracy control (`accuracy.ts`), the
 * trust-region step and radius update (`trust-region.ts`) and one iteration (`iteration.ts`).
 *
 * @packageDocumentation
 */
import type { Params } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, StepContext, StepInfo, StopReason } from './types.js';
import { toArrays } from './internal/util.js';
import { resolveDfoOptions, type DfoOptions } from './dfo-options.js';
import { layoutOf, flatten, unflatten, boxOf, clip, pointsFor, WHERE } from './internal/dfo/layout.js';
import { sampler, Stop, type WorkingSet } from './internal/dfo/accuracy.js';
import { iterate } from './internal/dfo/iteration.js';

export { DFO_DEFAULTS } from './dfo-options.js';
export type { DfoOptions } from './dfo-options.js';

/** The state of {@link dfo}: θ (the best point), the interpolation set and the quadratic model's Hessian. */
export interface DfoState extends MethodStateBase {
  /** Trust-region radius Δ_k. */
  radius: number;
  /** Current inner tolerance ε_k. */
  tol: number;
  /** Interpolation points (θ flattened, float32 values); empty before the first step. */
  points: number[][];
  /** F̃ at the points, the tolerance each was computed with, and its valueBound (null: none/∞). */
  values: number[];
  tols: number[];
  valueBounds: Array<number | null>;
  /** Index of θ_k in `points`. */
  base: number;
  /** Hessian of the last model (minimum-change updates, Powell's NEWUOA). */
  hessian: number[][];
}

/**
 * Creates the dynamic-accuracy derivative-free trust-region method. F is sampled by
 * value-only oracle calls (`{ valueOnly: true, skipAdjoint: true }`: no adjoint solve, 0
 * linear iterations). One `step` is one iteration k of Algorithm 1 of Ehrhardt & Roberts (2021):
 *
 * 1. Model m(θ_k + s) = F̃(θ_k) + gᵀs + ½sᵀHs interpolating F̃ on the set Y (2n + 1 points by
 *    default), H changed as little as possible from the last model (min ‖H − H_old‖_F, Powell).
 *    The first step samples θ₀ ± Δ₀eᵢ.
 * 2. s = argmin m over ‖s‖∞ ≤ Δ_k within the box (projected gradient); pred = m(0) − m(s).
 * 3. Accuracy phase (dynamic accuracy): while valueBound(θ_k) > η₁'·pred, tighten ε and
 *    re-evaluate θ_k (and recompute s); then evaluate θ_k + s, tightening ε until its
 *    valueBound ≤ η₁'·pred. Then |F̃ − F| ≤ η₁'·pred at both points, so the ratio
 *    ρ = (F̃(θ_k) − F̃(θ_k + s))/pred differs from the exact ratio by at most 2η₁', and
 *    shrinking Δ is never caused by evaluation noise. Since pred ∝ Δ‖g‖ (or Δ² near a
 *    stationary point), ε falls with Δ, as the paper's ε_k = O(Δ_k²).
 * 4. ρ ≥ η₁: θ_{k+1} = θ_k + s; Δ grows (ρ ≥ η₂) or becomes max(γ_dec Δ, ‖s‖∞). ρ < η₁: if a
 *    point lies farther than geometryFactor·Δ, it is replaced by a point maximising its
 *    Lagrange function (geometry step, Δ kept); otherwise Δ ← γ_dec Δ. The trial point joins Y
 *    either way, replacing the point with the largest distance-weighted Lagrange value.
 * 5. After an accepted step ε ← min(ε₀, ν̄ε): accuracy is relaxed again when it is not needed.
 *
 * Stops: 'radius-limit' (Δ < minRadius), 'accuracy-limit' (the oracle cannot reach ε, or
 * ε < minTol, or maxAccuracyReductions spent), 'oracle-failed' (non-finite value).
 *
 * @param options - {@link DfoOptions}; missing ones default to {@link DFO_DEFAULTS}.
 * @returns a {@link Method} with state {@link DfoState}.
 * @example
 * ```ts
 * const result = await train({ method: dfo({ radius0: 0.5, tol0: 1e-1, bounds: { lower: -5, upper: 5 } }),
 *   oracle, theta0: { logAlpha: tf.scalar(-3), logNu: tf.scalar(-2) }, budget: { iterations: 50 } });
 * ```
 */
export function dfo(options: Partial<DfoOptions> = {}): Method<DfoState> & { readonly options: Readonly<DfoOptions> } {
  const opts = resolveDfoOptions(options);

  function init(theta: Params): DfoState {
    const arrays = toArrays(theta);
    const layout = layoutOf(arrays);
    if (layout.n === 0) throw new Error(`${WHERE}.init: θ has no entries; give at least one parameter.`);
    pointsFor(layout, opts);
    const x0 = clip(flatten(arrays, layout), boxOf(layout, opts));
    const zero = Array.from({ length: layout.n }, () => new Array(layout.n).fill(0) as number[]);
    return { theta: unflatten(x0, layout), iteration: 0, radius: opts.radius0, tol: opts.tol0, points: [], values: [], tols: [], valueBounds: [], base: 0, hessian: zero };
  }

  function step(state: DfoState, oracle: Oracle, context: StepContext = {}): { state: DfoState; info: StepInfo } {
    if (typeof oracle !== 'function') throw new Error(`${WHERE}.step: 'oracle' must be a function (theta, { tol, linearTol }, options?) => OracleResult.`);
    if (context.proximal != null) {
      throw new Error(`${WHERE}.step: train's 'project'/'regularizer' (proximal '${context.proximal.name}') cannot act on a derivative-free model step; give box constraints as dfo({ bounds: { lower, upper } }) and smooth regularisers through the oracle.`);
    }
    const layout = layoutOf(state.theta);
    const npt = pointsFor(layout, opts);
    const box = boxOf(layout, opts);
    const w: WorkingSet = {
      points: state.points.map((p) => p.slice()),
      values: state.values.slice(),
      tols: state.tols.slice(),
      valueBounds: state.valueBounds.slice(),
      base: state.base,
      radius: state.radius,
      tol: state.tol,
      hessian: state.hessian.map((r) => r.slice()),
      gradNorm: NaN,
    };
    const sample = sampler(opts, oracle, layout, w);

    const finish = (accepted: boolean, stepLength: number, stop?: StopReason, message?: string): { state: DfoState; info: StepInfo } => {
      if (stop == null && w.radius < opts.minRadius) {
        stop = 'radius-limit';
        message = `${WHERE}: the trust-region radius Δ = ${w.radius} fell below minRadius = ${opts.minRadius}: no model step decreases F̃ any more (θ is stationary to this resolution; lower minRadius to continue).`;
      }
      const { tol, gradNorm } = w;
      const info = (value: number, taken: boolean, length: number): StepInfo => ({
        iteration: state.iteration, value, gradNorm, bound: NaN, tol, linearTol: tol, step: taken ? length : 0, accepted: taken,
        work: sample.work, evaluations: sample.evaluations, ...(stop != null ? { stop, message } : {}),
      });
      // Stopped while (re)sampling the set: keep the previous one.
      if (w.points.length !== npt) return { state: { ...state, tol }, info: info(NaN, false, 0) };
      const { points, values, tols, valueBounds, base, radius, hessian } = w;
      const next: DfoState = { theta: unflatten(points[base], layout), iteration: state.iteration + (accepted ? 1 : 0), radius, tol, points, values, tols, valueBounds, base, hessian };
      return { state: next, info: info(values.length > 0 ? values[base] : NaN, accepted, stepLength) };
    };

    try {
      const { accepted, stepLength } = iterate(opts, w, npt, box, flatten(state.theta, layout), sample);
      return finish(accepted, stepLength);
    } catch (e) {
      if (e instanceof Stop) return finish(false, 0, e.reason, e.message);
      throw e;
    }
  }

  return { name: 'dfo', options: opts, init, step };
}

/**
 * Dynamic-accuracy derivative-free trust-region method (Ehrhardt & Roberts, "Inexact
 * derivative-free optimization for bilevel learning", JMIV 2021; seed 004, Algorithm 1).
 *
 * @packageDocumentation
 */
import { addWork, emptyWork, type Params, type Work } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, ParamsArrays, StepContext, StepInfo, StopReason } from './types.js';
import type { BoxBounds } from './transforms.js';
import { withParams, checkRange, checkInt, checkKeys, toArrays } from './internal/util.js';
import { luFactor, dot, normInf, matvec, quadraticChange } from './internal/linalg.js';

/** Options of {@link dfo}. */
export interface DfoOptions {
  /** Initial trust-region radius Δ₀ (∞-norm, in θ's units). */
  radius0: number;
  /** Largest radius Δ_max. */
  maxRadius: number;
  /** Stop with 'radius-limit' once Δ < minRadius (float32 θ cannot resolve much below 1e-6·|θ|). */
  minRadius: number;
  /** Interpolation points; default 2n + 1 (n = number of parameters), range [n + 1, (n + 1)(n + 2)/2]. */
  points?: number;
  /** Ratio ρ ≥ η₁ accepts the step. */
  acceptRatio: number;
  /** Ratio ρ ≥ η₂ enlarges the radius. */
  expandRatio: number;
  /** γ_dec ∈ (0, 1): radius reduction after a failed step. */
  radiusShrink: number;
  /** γ_inc > 1: radius increase after a very successful step. */
  radiusGrow: number;
  /** Initial (and, with `dynamicAccuracy: false`, fixed) inner tolerance ε₀ of the oracle. */
  tol0: number;
  /** Tie the lower-level accuracy to the predicted decrease (default true); false: every call at `tol0`. */
  dynamicAccuracy: boolean;
  /** η₁' : the value errors must satisfy valueBound ≤ η₁'·(m(0) − m(s)); the paper requires η₁' < min(η₁, 1 − η₂)/2. */
  accuracyRatio: number;
  /**
   * Every other interpolation value must satisfy valueBound ≤ modelAccuracy·pred (else it is
   * re-evaluated): value errors e perturb the model gradient by about e/Δ, while pred ≈ ‖g‖Δ.
   */
  modelAccuracy: number;
  /** Largest factor of one accuracy tightening (the factor is predicted from valueBound ∝ ε, capped by this). */
  accuracyShrink: number;
  /** Relaxation ε ← min(ε₀, ν̄ε) after an accepted step, so accuracy is only as high as needed. */
  accuracyGrow: number;
  /** Accuracy tightenings allowed within one iteration before stopping with 'accuracy-limit'. */
  maxAccuracyReductions: number;
  /** Floor on the inner tolerance; a tightening below it stops with 'accuracy-limit'. */
  minTol: number;
  /** Points farther than geometryFactor·Δ from the iterate are replaced before the radius shrinks. */
  geometryFactor: number;
  /** Box l ≤ θ ≤ u (one pair for all leaves or per leaf), honoured by every evaluated point. */
  bounds?: BoxBounds;
}

/**
 * Defaults: η₁ = 0.1, η₂ = 0.7, γ_dec = 0.5, γ_inc = 2 are DFO-LS's; η₁' = 0.04 satisfies the
 * paper's η₁' < min(η₁, 1 − η₂)/2 = 0.05. modelAccuracy = 1 and ν̄ = 1.5 had the least work
 * on the quadratic test problems among {0.1, 0.3, 1} × {1, 1.5, 2} (see the README). Δ₀ and ε₀
 * are problem-dependent: give them.
 */
export const DFO_DEFAULTS: Readonly<Omit<DfoOptions, 'points' | 'bounds'>> = Object.freeze({
  radius0: 0.1,
  maxRadius: 1e3,
  minRadius: 1e-6,
  acceptRatio: 0.1,
  expandRatio: 0.7,
  radiusShrink: 0.5,
  radiusGrow: 2,
  tol0: 1e-1,
  dynamicAccuracy: true,
  accuracyRatio: 0.04,
  modelAccuracy: 1,
  accuracyShrink: 0.5,
  accuracyGrow: 1.5,
  maxAccuracyReductions: 30,
  minTol: 0,
  geometryFactor: 2,
});

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

const KEYS = ['radius0', 'maxRadius', 'minRadius', 'points', 'acceptRatio', 'expandRatio', 'radiusShrink', 'radiusGrow', 'tol0', 'dynamicAccuracy', 'accuracyRatio', 'modelAccuracy', 'accuracyShrink', 'accuracyGrow', 'maxAccuracyReductions', 'minTol', 'geometryFactor', 'bounds'] as const;

/** Steps shorter than this fraction of Δ are not evaluated (safety step). */
const SHORT_STEP = 0.5;

class Stop extends Error {
  constructor(readonly reason: StopReason, message: string) {
    super(message);
  }
}

interface Layout {
  keys: string[];
  shapes: number[][];
  sizes: number[];
  n: number;
}

interface Model {
  g: number[];
  h: number[][];
  /** Solves with the KKT matrix: Lagrange functions ℓ_j(u) = (K⁻¹ w(u))_j. */
  solve(b: number[]): number[];
  /** Scaled displacements u_j = (y_j − θ_k)/Δ. */
  u: number[][];
}

/**
 * Creates the dynamic-accuracy derivative-free trust-region method. F is sampled by
 * value-only oracle calls (`{ valueOnly: true, skipAdjoint: true }`: no adjoint solve, 0
 * linear iterations). One `step` is one iteration k:
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
  const where = 'dfo';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object, e.g. dfo({ radius0: 0.1, tol0: 1e-1 }).`);
  checkKeys(where, options, KEYS);
  const o: DfoOptions = { ...DFO_DEFAULTS, ...options };
  checkRange(where, 'radius0', o.radius0, 0, Infinity, true, true, 'give the initial trust-region radius, e.g. 0.1 of the parameters\' scale');
  checkRange(where, 'maxRadius', o.maxRadius, o.radius0, Infinity, false, true, 'give Δ_max ≥ radius0');
  checkRange(where, 'minRadius', o.minRadius, 0, o.radius0, true, false, 'give a positive minRadius ≤ radius0, e.g. 1e-6');
  checkRange(where, 'acceptRatio', o.acceptRatio, 0, 1, true, true, 'use e.g. 0.1');
  checkRange(where, 'expandRatio', o.expandRatio, o.acceptRatio, 1, false, true, 'use e.g. 0.7 (≥ acceptRatio)');
  checkRange(where, 'radiusShrink', o.radiusShrink, 0, 1, true, true, 'use e.g. 0.5');
  checkRange(where, 'radiusGrow', o.radiusGrow, 1, Infinity, true, true, 'use e.g. 2');
  checkRange(where, 'tol0', o.tol0, 0, Infinity, true, true, 'give the initial inner tolerance, e.g. 1e-1');
  if (typeof o.dynamicAccuracy !== 'boolean') throw new Error(`${where}: option 'dynamicAccuracy' must be true or false, got ${String(o.dynamicAccuracy)}.`);
  const ratioCap = Math.min(o.acceptRatio, 1 - o.expandRatio) / 2;
  checkRange(where, 'accuracyRatio', o.accuracyRatio, 0, ratioCap, true, true, `the ratio test needs accuracyRatio < min(acceptRatio, 1 − expandRatio)/2 = ${ratioCap}; use e.g. ${ratioCap * 0.8}`);
  checkRange(where, 'modelAccuracy', o.modelAccuracy, 0, Infinity, true, true, 'use e.g. 1');
  checkRange(where, 'accuracyShrink', o.accuracyShrink, 0, 1, true, true, 'use e.g. 0.5');
  checkRange(where, 'accuracyGrow', o.accuracyGrow, 1, Infinity, false, true, 'use e.g. 1.5 (1 never relaxes)');
  checkInt(where, 'maxAccuracyReductions', o.maxAccuracyReductions, 0, 'use e.g. 30');
  checkRange(where, 'minTol', o.minTol, 0, o.tol0, false, false, 'use 0 for no floor (and at most tol0)');
  checkRange(where, 'geometryFactor', o.geometryFactor, 1, Infinity, false, true, 'use e.g. 2');
  if (o.points != null) checkInt(where, 'points', o.points, 2, 'use n + 1 (linear models) up to (n + 1)(n + 2)/2 (full quadratic); default 2n + 1');
  if (o.bounds != null && typeof o.bounds !== 'object') throw new Error(`${where}: option 'bounds' must be { lower?, upper? } or { leaf: { lower?, upper? } }.`);
  const opts = Object.freeze(o);

  function layoutOf(theta: ParamsArrays): Layout {
    const keys = Object.keys(theta);
    const shapes = keys.map((k) => theta[k].shape.slice());
    const sizes = keys.map((k) => theta[k].values.length);
    return { keys, shapes, sizes, n: sizes.reduce((a, b) => a + b, 0) };
  }
  const flatten = (theta: ParamsArrays, layout: Layout): number[] => layout.keys.flatMap((k) => theta[k].values);
  function unflatten(x: number[], layout: Layout): ParamsArrays {
    const out: ParamsArrays = {};
    let offset = 0;
    layout.keys.forEach((k, i) => {
      out[k] = { shape: layout.shapes[i].slice(), values: x.slice(offset, offset + layout.sizes[i]) };
      offset += layout.sizes[i];
    });
    return out;
  }

  /** Per-coordinate box from `bounds` (±∞ where unbounded). */
  function boxOf(layout: Layout): { lower: number[]; upper: number[] } {
    const lower: number[] = [];
    const upper: number[] = [];
    const b = opts.bounds;
    const global = b == null || 'lower' in b || 'upper' in b || Object.keys(b).length === 0;
    if (!global) {
      for (const k of Object.keys(b)) if (!layout.keys.includes(k)) throw new Error(`${where}: option 'bounds' names '${k}', which is not a parameter (they are ${layout.keys.join(', ')}).`);
    }
    layout.keys.forEach((k, i) => {
      const pair = (global ? b : (b as Record<string, { lower?: number; upper?: number }>)[k]) as { lower?: number; upper?: number } | undefined;
      const lo = pair?.lower ?? -Infinity;
      const hi = pair?.upper ?? Infinity;
      if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi) || !(hi - lo >= 2 * opts.radius0)) {
        throw new Error(`${where}: bounds of '${k}' must be numbers with upper − lower ≥ 2·radius0 = ${2 * opts.radius0} (room for the initial samples), got lower=${String(pair?.lower)}, upper=${String(pair?.upper)}; widen the box or lower radius0.`);
      }
      for (let j = 0; j < layout.sizes[i]; j++) {
        lower.push(lo);
        upper.push(hi);
      }
    });
    return { lower, upper };
  }

  // Float32 is what the oracle sees; points are stored exactly as evaluated.
  const clip = (x: number[], lower: number[], upper: number[]) => x.map((v, i) => Math.fround(Math.min(upper[i], Math.max(lower[i], v))));

  function pointsFor(layout: Layout): number {
    const n = layout.n;
    const npt = opts.points ?? 2 * n + 1;
    const max = ((n + 1) * (n + 2)) / 2;
    if (npt < n + 1 || npt > max) throw new Error(`${where}: option 'points' must be in [n + 1, (n + 1)(n + 2)/2] = [${n + 1}, ${max}] for n = ${n} parameters, got ${npt}.`);
    return npt;
  }

  function init(theta: Params): DfoState {
    const arrays = toArrays(theta);
    const layout = layoutOf(arrays);
    if (layout.n === 0) throw new Error(`${where}.init: θ has no entries; give at least one parameter.`);
    pointsFor(layout);
    const { lower, upper } = boxOf(layout);
    const x0 = clip(flatten(arrays, layout), lower, upper);
    const zero = Array.from({ length: layout.n }, () => new Array(layout.n).fill(0) as number[]);
    return { theta: unflatten(x0, layout), iteration: 0, radius: opts.radius0, tol: opts.tol0, points: [], values: [], tols: [], valueBounds: [], base: 0, hessian: zero };
  }

  /** θ₀ ± Δeᵢ (one-sided near the box), then θ₀ + Δ(σᵢeᵢ + σⱼeⱼ) pairs (BOBYQA's initial set). */
  function initialPoints(x0: number[], radius: number, npt: number, lower: number[], upper: number[]): number[][] {
    const n = x0.length;
    const first: number[] = [];
    const second: number[] = [];
    for (let i = 0; i < n; i++) {
      if (x0[i] + radius <= upper[i]) {
        first.push(radius);
        second.push(x0[i] - radius >= lower[i] ? -radius : Math.min(2 * radius, upper[i] - x0[i]));
      } else {
        first.push(-radius);
        second.push(-Math.min(2 * radius, x0[i] - lower[i]));
      }
    }
    const pts: number[][] = [x0.slice()];
    const along = (i: number, d: number) => x0.map((v, j) => (j === i ? v + d : v));
    for (let i = 0; i < n && pts.length < npt; i++) pts.push(along(i, first[i]));
    for (let i = 0; i < n && pts.length < npt; i++) pts.push(along(i, second[i]));
    for (let i = 0; i < n && pts.length < npt; i++) {
      for (let j = i + 1; j < n && pts.length < npt; j++) pts.push(x0.map((v, k) => (k === i ? v + first[i] : k === j ? v + first[j] : v)));
    }
    return pts.map((p) => clip(p, lower, upper));
  }

  /**
   * Minimum-change quadratic interpolation (Powell): min ‖H − H_old‖_F subject to
   * m(y_j) = F̃(y_j), via the KKT system [A X; Xᵀ 0] in scaled coordinates u = (y − θ_k)/Δ,
   * A_ij = (u_iᵀu_j)²/2, X_j = (1, u_jᵀ). Undefined when the set is degenerate.
   */
  function buildModel(points: number[][], values: number[], base: number, radius: number, hOld: number[][]): Model | undefined {
    const npt = points.length;
    const n = points[0].length;
    const x0 = points[base];
    const u = points.map((p) => p.map((v, i) => (v - x0[i]) / radius));
    const size = npt + n + 1;
    const k: number[][] = Array.from({ length: size }, () => new Array(size).fill(0) as number[]);
    for (let i = 0; i < npt; i++) {
      for (let j = 0; j < npt; j++) k[i][j] = 0.5 * dot(u[i], u[j]) ** 2;
      k[i][npt] = k[npt][i] = 1;
      for (let d = 0; d < n; d++) k[i][npt + 1 + d] = k[npt + 1 + d][i] = u[i][d];
    }
    const lu = luFactor(k);
    if (lu == null) return undefined;
    const rhs = new Array(size).fill(0) as number[];
    for (let j = 0; j < npt; j++) {
      const s = points[j].map((v, i) => v - x0[i]);
      rhs[j] = values[j] - values[base] - 0.5 * dot(s, matvec(hOld, s));
    }
    const sol = lu.solve(rhs);
    if (!sol.every(Number.isFinite)) return undefined;
    const g = sol.slice(npt + 1).map((v) => v / radius);
    const h = hOld.map((row, a) => row.map((v, b) => v + u.reduce((acc, uj, j) => acc + sol[j] * uj[a] * uj[b], 0) / (radius * radius)));
    return { g, h, solve: lu.solve, u };
  }

  /** Values of all Lagrange functions at θ_k + s. */
  function lagrange(model: Model, s: number[], radius: number): number[] {
    const npt = model.u.length;
    const u = s.map((v) => v / radius);
    const w = [...model.u.map((uj) => 0.5 * dot(uj, u) ** 2), 1, ...u];
    return model.solve(w).slice(0, npt);
  }

  /** argmin gᵀs + ½sᵀHs over lo ≤ s ≤ hi by projected gradient with Armijo backtracking. */
  function trustRegionStep(g: number[], h: number[][], lo: number[], hi: number[], radius: number): number[] {
    const n = g.length;
    const hNorm = Math.sqrt(h.reduce((acc, row) => acc + dot(row, row), 0));
    const gInf = normInf(g);
    // 1/‖H‖_F ≤ 1/L is a safe step; a linear model goes straight to a corner of the box.
    const step0 = hNorm > 0 ? 1 / hNorm : gInf > 0 ? (4 * radius) / gInf : 0;
    let s = new Array(n).fill(0) as number[];
    let m = 0;
    for (let it = 0; it < 1000 * n; it++) {
      const grad = g.map((v, i) => v + dot(h[i], s));
      let t = step0;
      let accepted: number[] | undefined;
      for (let b = 0; b < 60; b++) {
        const trial = s.map((v, i) => Math.min(hi[i], Math.max(lo[i], v - t * grad[i])));
        const change = trial.map((v, i) => v - s[i]);
        if (normInf(change) <= 1e-12 * radius) break;
        if (quadraticChange(g, h, trial) <= m + 1e-4 * dot(grad, change)) {
          accepted = trial;
          break;
        }
        t /= 2;
      }
      if (accepted == null) break;
      const moved = normInf(accepted.map((v, i) => v - s[i]));
      s = accepted;
      m = quadraticChange(g, h, s);
      if (moved <= 1e-10 * radius) break;
    }
    return s;
  }

  function step(state: DfoState, oracle: Oracle, context: StepContext = {}): { state: DfoState; info: StepInfo } {
    if (typeof oracle !== 'function') throw new Error(`${where}.step: 'oracle' must be a function (theta, { tol, linearTol }, options?) => OracleResult.`);
    if (context.proximal != null) {
      throw new Error(`${where}.step: train's 'project'/'regularizer' (proximal '${context.proximal.name}') cannot act on a derivative-free model step; give box constraints as dfo({ bounds: { lower, upper } }) and smooth regularisers through the oracle.`);
    }
    const layout = layoutOf(state.theta);
    const npt = pointsFor(layout);
    const { lower, upper } = boxOf(layout);
    const dynamic = opts.dynamicAccuracy;
    const points = state.points.map((p) => p.slice());
    const values = state.values.slice();
    const tols = state.tols.slice();
    const valueBounds = state.valueBounds.slice();
    let base = state.base;
    let radius = state.radius;
    let tol = state.tol;
    let hessian = state.hessian.map((r) => r.slice());
    let work: Work = emptyWork();
    let evaluations = 0;
    let reductions = 0;
    let refreshes = 0;
    let gradNorm = NaN;

    const evaluate = (x: number[], at: number): { value: number; bound: number } => {
      const r = withParams(unflatten(x, layout), (theta) => oracle(theta, { tol: at, linearTol: at }, { valueOnly: true, skipAdjoint: true }));
      evaluations++;
      work = addWork(work, r.work);
      const { value, valueBound, converged } = r;
      r.dispose();
      if (!Number.isFinite(value)) throw new Stop('oracle-failed', `${where}: the oracle returned a non-finite value ${value} at θ = [${x.join(', ')}]; check the problem (NaN in the energy?), the bounds, or lower radius0.`);
      if (dynamic && Number.isNaN(valueBound)) {
        throw new Error(`${where}.step: the oracle returned no valueBound (NaN); dynamic accuracy needs |F̃ − F| ≤ valueBound: give oracleFromStrategy 'constants' (with lossLipschitz), or use dfo({ dynamicAccuracy: false }).`);
      }
      if (dynamic && converged === false) {
        throw new Stop('accuracy-limit', `${where}: the oracle could not reach tol = ${at} (raise the solvers' maxIter, or accept this θ).`);
      }
      return { value, bound: valueBound };
    };
    const store = (j: number, x: number[], at: number) => {
      const e = evaluate(x, at);
      points[j] = x;
      values[j] = e.value;
      tols[j] = at;
      valueBounds[j] = Number.isFinite(e.bound) ? e.bound : null;
    };
    /** Next tolerance for a point whose valueBound misses `target`; valueBound ∝ ε predicts the factor. */
    const tighten = (from: number, bound: number, target: number): number => {
      if (reductions >= opts.maxAccuracyReductions) {
        throw new Stop('accuracy-limit', `${where}: ${reductions} accuracy tightenings in one iteration did not bring valueBound = ${bound} below η₁'·pred = ${target} (raise maxAccuracyReductions, or the bound constants are too pessimistic).`);
      }
      const next = from * Math.min(opts.accuracyShrink, Math.max(1e-3, (0.5 * target) / bound));
      if (next < opts.minTol) {
        throw new Stop('accuracy-limit', `${where}: the value error bound ${bound} exceeds η₁'·pred = ${target} and the next tolerance ${next} would fall below minTol = ${opts.minTol}: θ is stationary to the attainable accuracy (lower minTol to continue).`);
      }
      reductions++;
      return next;
    };
    const boundOf = (j: number) => valueBounds[j] ?? Infinity;
    const far = (centre: number[]) => points.map((p) => normInf(p.map((v, i) => v - centre[i])));

    const finish = (accepted: boolean, stepLength: number, stop?: StopReason, message?: string) => {
      if (stop == null && radius < opts.minRadius) {
        stop = 'radius-limit';
        message = `${where}: the trust-region radius Δ = ${radius} fell below minRadius = ${opts.minRadius}: no model step decreases F̃ any more (θ is stationary to this resolution; lower minRadius to continue).`;
      }
      if (points.length !== npt) {
        // Stopped while (re)sampling the set: keep the previous one.
        return { state: { ...state, tol }, info: { iteration: state.iteration, value: NaN, gradNorm, bound: NaN, tol, linearTol: tol, step: 0, accepted: false, work, evaluations, ...(stop != null ? { stop, message } : {}) } };
      }
      const next: DfoState = {
        theta: unflatten(points[base], layout),
        iteration: state.iteration + (accepted ? 1 : 0),
        radius,
        tol,
        points,
        values,
        tols,
        valueBounds,
        base,
        hessian,
      };
      const info: StepInfo = {
        iteration: state.iteration,
        value: values.length > 0 ? values[base] : NaN,
        gradNorm,
        bound: NaN,
        tol,
        linearTol: tol,
        step: accepted ? stepLength : 0,
        accepted,
        work,
        evaluations,
        ...(stop != null ? { stop, message } : {}),
      };
      return { state: next, info };
    };

    const geometryBad = () => Math.max(...far(points[base])) > opts.geometryFactor * radius;
    const fixGeometry = () => {
      const m = buildModel(points, values, base, radius, hessian);
      if (m == null) return;
      const d = far(points[base]);
      let j = -1;
      for (let i = 0; i < d.length; i++) if (i !== base && (j < 0 || d[i] > d[j])) j = i;
      if (j < 0) return;
      // Candidates: corners along ±sign(∇ℓ_j) and ±Δeᵢ; keep the largest |ℓ_j|.
      const unit = new Array(points.length).fill(0) as number[];
      unit[j] = 1;
      const coef = m.solve([...unit, ...new Array(layout.n + 1).fill(0)]);
      const gl = coef.slice(points.length + 1);
      const cands: number[][] = [gl.map((v) => (v >= 0 ? radius : -radius)), gl.map((v) => (v >= 0 ? -radius : radius))];
      for (let i = 0; i < layout.n; i++) for (const sign of [1, -1]) cands.push(points[base].map((_, k) => (k === i ? sign * radius : 0)));
      let best: number[] | undefined;
      let bestValue = -1;
      for (const c of cands) {
        const y = clip(points[base].map((v, i) => v + c[i]), lower, upper);
        const step = y.map((v, i) => v - points[base][i]);
        if (normInf(step) === 0) continue;
        const l = Math.abs(lagrange(m, step, radius)[j]);
        if (l > bestValue) {
          bestValue = l;
          best = y;
        }
      }
      if (best != null) store(j, best, tol);
    };
    try {
      if (points.length === 0) {
        const initial = initialPoints(flatten(state.theta, layout), radius, npt, lower, upper);
        initial.forEach((x, j) => store(j, x, tol));
        base = 0;
      }
      let restarted = false;
      for (;;) {
        let model = buildModel(points, values, base, radius, hessian);
        if (model == null) {
          // Degenerate set (rounding, repeated rejections): resample around θ_k once.
          if (restarted) throw new Stop('radius-limit', `${where}: the interpolation set stays degenerate at Δ = ${radius}; θ cannot be resolved further in float32 (raise minRadius).`);
          restarted = true;
          const fresh = initialPoints(points[base], radius, npt, lower, upper);
          const keep = { x: points[base], v: values[base], t: tols[base], b: valueBounds[base] };
          points.length = values.length = tols.length = valueBounds.length = 0;
          points.push(keep.x);
          values.push(keep.v);
          tols.push(keep.t);
          valueBounds.push(keep.b);
          for (let j = 1; j < fresh.length; j++) store(j, fresh[j], tol);
          base = 0;
          hessian = hessian.map((r) => r.map(() => 0));
          continue;
        }
        const x0 = points[base];
        const lo = x0.map((v, i) => Math.max(-radius, lower[i] - v));
        const hi = x0.map((v, i) => Math.min(radius, upper[i] - v));
        let s = trustRegionStep(model.g, model.h, lo, hi, radius);
        // The step lands exactly on a float32 θ; the prediction is for that point.
        const trialPoint = clip(x0.map((v, i) => v + s[i]), lower, upper);
        s = trialPoint.map((v, i) => v - x0[i]);
        const pred = -quadraticChange(model.g, model.h, s);
        gradNorm = Math.sqrt(dot(model.g, model.g));
        const target = opts.accuracyRatio * pred;
        if (!(pred > 0) || !Number.isFinite(pred) || normInf(s) < SHORT_STEP * radius) {
          hessian = model.h;
          // Safety step (Powell's BOBYQA, DFO-LS): the model predicts no decrease, or its
          // minimiser lies deep inside the region, where pred (and the accuracy it would demand)
          // is tiny while the model error is not: improve the set or resolve a smaller region.
          if (geometryBad()) fixGeometry();
          else radius *= opts.radiusShrink;
          return finish(false, 0);
        }
        if (dynamic && boundOf(base) > target) {
          // Accuracy phase: F̃(θ_k) is too inexact for this predicted decrease.
          const next = tighten(Math.min(tol, tols[base]), boundOf(base), target);
          tol = next;
          store(base, x0, tol);
          continue;
        }
        if (dynamic && pred > 0) {
          // Model accuracy: an interpolation value whose error may exceed modelAccuracy·pred
          // would make the model gradient wrong by a fraction of ‖g‖ or more (points evaluated
          // early, at loose ε, when Δ was large); re-evaluate those, then rebuild the model.
          const modelTarget = opts.modelAccuracy * pred;
          let refreshed = false;
          let tightest = tol;
          for (let j = 0; j < points.length; j++) {
            if (j === base || boundOf(j) <= modelTarget) continue;
            const next = tols[j] * Math.min(opts.accuracyShrink, Math.max(1e-3, (0.5 * modelTarget) / boundOf(j)));
            if (next < opts.minTol) throw new Stop('accuracy-limit', `${where}: an interpolation value's error bound ${boundOf(j)} exceeds modelAccuracy·pred = ${modelTarget} and the next tolerance ${next} would fall below minTol = ${opts.minTol}: θ is stationary to the attainable accuracy (lower minTol to continue).`);
            tightest = Math.min(tightest, next);
            store(j, points[j], next);
            refreshed = true;
          }
          tol = tightest;
          if (refreshed) {
            if (++refreshes > opts.maxAccuracyReductions) throw new Stop('accuracy-limit', `${where}: ${refreshes - 1} model re-evaluations in one iteration did not make the interpolation values accurate enough (raise maxAccuracyReductions, or the bound constants are too pessimistic).`);
            continue;
          }
        }
        hessian = model.h;
        // Trial evaluation, as accurate as the ratio test needs.
        let trial = evaluate(trialPoint, tol);
        let trialTol = tol;
        while (dynamic && !(trial.bound <= target)) {
          tol = tighten(trialTol, trial.bound, target);
          trialTol = tol;
          trial = evaluate(trialPoint, tol);
        }
        const rho = (values[base] - trial.value) / pred;
        const accepted = rho >= opts.acceptRatio;
        const stepLength = normInf(s);
        // The trial point replaces the point with the largest distance-weighted Lagrange value.
        const centre = accepted ? trialPoint : points[base];
        const lag = lagrange(model, s, radius);
        const dist = far(centre);
        let drop = -1;
        let weight = -1;
        for (let j = 0; j < points.length; j++) {
          if (j === base) continue;
          const w = Math.abs(lag[j]) * Math.max(1, (dist[j] / radius) ** 4);
          if (w > weight) {
            weight = w;
            drop = j;
          }
        }
        points[drop] = trialPoint;
        values[drop] = trial.value;
        tols[drop] = trialTol;
        valueBounds[drop] = Number.isFinite(trial.bound) ? trial.bound : null;
        if (accepted) {
          base = drop;
          radius = rho >= opts.expandRatio ? Math.min(opts.maxRadius, Math.max(radius, opts.radiusGrow * stepLength)) : Math.max(opts.radiusShrink * radius, stepLength);
          if (dynamic) tol = Math.min(opts.tol0, tol * opts.accuracyGrow);
        } else if (geometryBad()) {
          fixGeometry();
        } else {
          radius *= opts.radiusShrink;
        }
        return finish(accepted, stepLength);
      }
    } catch (e) {
      if (e instanceof Stop) return finish(false, 0, e.reason, e.message);
      throw e;
    }
  }

  return { name: 'dfo', options: opts, init, step };
}

/**
 * Options of the dynamic-accuracy derivative-free trust-region method {@link dfo} and their
 * validation. The names map to Ehrhardt & Roberts, "Inexact derivative-free optimization for
 * bilevel learning", J. Math. Imaging Vision 63 (2021), Algorithm 1: Δ₀, Δ_max, η₁, η₂,
 * γ_dec, γ_inc and η₁' of its parameter list.
 *
 * @packageDocumentation
 */
import type { BoxBounds } from './transforms.js';
import { checkRange, checkInt, checkKeys } from './internal/util.js';

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
  /**
   * ε of Algorithm 1's criticality phase (lines 5–7): when the model gradient ‖g̃‖ ≤ criticalityTol,
   * Δ is replaced by γ_dec^i·Δ and the set resampled around θ_k (so the model is fully linear
   * there) until Δ ≤ ‖g̃‖. 0 turns the phase off.
   */
  criticalityTol: number;
  /**
   * Algorithm 1's acceptance rule (33): a step with η₁ ≤ ρ < η₂ is taken only when the model is
   * fully linear (else the geometry is improved first). Default false: DFO-LS's rule (take every
   * ρ ≥ η₁), which needed less work on the test problems (see the README).
   */
  fullyLinearAcceptance: boolean;
  /**
   * What a dynamic-accuracy run does when a solve stops short of ε (converged: false) with a
   * valueBound above what the step needs — in float32 the inner solver's round-off floor:
   * `'stop'` (default) ends with 'accuracy-limit'; `'continue'` keeps the value, stops
   * tightening for this iteration and goes on uncertified (fixed accuracy at the floor).
   */
  accuracyLimit: 'stop' | 'continue';
  /** Box l ≤ θ ≤ u (one pair for all leaves or per leaf), honoured by every evaluated point. */
  bounds?: BoxBounds;
}

/**
 * Defaults: η₁ = 0.1, η₂ = 0.7, γ_dec = 0.5, γ_inc = 2 are DFO-LS's; η₁' = 0.04 satisfies the
 * paper's η₁' < min(η₁, 1 − η₂)/2 = 0.05. modelAccuracy = 1 and ν̄ = 1.5 had the least work
 * on the quadratic test problems among {0.1, 0.3, 1} × {1, 1.5, 2} (see the README). Δ₀ and ε₀
 * are problem-dependent: give them.
 *
 * @example
 * ```ts
 * const method = dfo({ ...DFO_DEFAULTS, radius0: 0.5 });
 * ```
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
  criticalityTol: 1e-8,
  fullyLinearAcceptance: false,
  accuracyLimit: 'stop',
});

const KEYS = ['radius0', 'maxRadius', 'minRadius', 'points', 'acceptRatio', 'expandRatio', 'radiusShrink', 'radiusGrow', 'tol0', 'dynamicAccuracy', 'accuracyRatio', 'modelAccuracy', 'accuracyShrink', 'accuracyGrow', 'maxAccuracyReductions', 'minTol', 'geometryFactor', 'criticalityTol', 'fullyLinearAcceptance', 'accuracyLimit', 'bounds'] as const;

/** Merges `options` over {@link DFO_DEFAULTS} and checks every range (errors name dfo, the option and the fix). */
export function resolveDfoOptions(options: Partial<DfoOptions>): Readonly<DfoOptions> {
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
  if (o.accuracyLimit !== 'stop' && o.accuracyLimit !== 'continue') throw new Error(`${where}: option 'accuracyLimit' must be 'stop' or 'continue', got ${String(o.accuracyLimit)}.`);
  if (typeof o.fullyLinearAcceptance !== 'boolean') throw new Error(`${where}: option 'fullyLinearAcceptance' must be true or false, got ${String(o.fullyLinearAcceptance)}.`);
  if (typeof o.dynamicAccuracy !== 'boolean') throw new Error(`${where}: option 'dynamicAccuracy' must be true or false, got ${String(o.dynamicAccuracy)}.`);
  const ratioCap = Math.min(o.acceptRatio, 1 - o.expandRatio) / 2;
  checkRange(where, 'accuracyRatio', o.accuracyRatio, 0, ratioCap, true, true, `the ratio test needs accuracyRatio < min(acceptRatio, 1 − expandRatio)/2 = ${ratioCap}; use e.g. ${ratioCap * 0.8}`);
  checkRange(where, 'modelAccuracy', o.modelAccuracy, 0, Infinity, true, true, 'use e.g. 1');
  checkRange(where, 'accuracyShrink', o.accuracyShrink, 0, 1, true, true, 'use e.g. 0.5');
  checkRange(where, 'accuracyGrow', o.accuracyGrow, 1, Infinity, false, true, 'use e.g. 1.5 (1 never relaxes)');
  checkInt(where, 'maxAccuracyReductions', o.maxAccuracyReductions, 0, 'use e.g. 30');
  checkRange(where, 'minTol', o.minTol, 0, o.tol0, false, false, 'use 0 for no floor (and at most tol0)');
  checkRange(where, 'geometryFactor', o.geometryFactor, 1, Infinity, false, true, 'use e.g. 2');
  checkRange(where, 'criticalityTol', o.criticalityTol, 0, Infinity, false, true, 'use e.g. 1e-8 (0 turns the criticality phase off)');
  if (o.points != null) checkInt(where, 'points', o.points, 2, 'use n + 1 (linear models) up to (n + 1)(n + 2)/2 (full quadratic); default 2n + 1');
  if (o.bounds != null && typeof o.bounds !== 'object') throw new Error(`${where}: option 'bounds' must be { lower?, upper? } or { leaf: { lower?, upper? } }.`);
  return Object.freeze(o);
}

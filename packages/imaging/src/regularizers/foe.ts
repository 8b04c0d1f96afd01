import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { checkPositive } from '../internal/checks.js';
import { param, read, filterL1Norms, checkFilters, checkPadding, filterResponses, paddingNormFactor, type FilterPadding } from '../internal/params.js';
import { dctFilters } from './filters.js';
import { checkOptions } from '@bilevel/core';
import { FOE_SCHEMA } from '../internal/options.js';
import { filterModel } from '../internal/filter-derivatives.js';

/** Options of {@link fieldsOfExperts}. */
export interface FieldsOfExpertsOptions {
  /** Initial filters `[S, S, 1, K]` (copied). Default: the DCT basis of side `size`. */
  filters?: tf.Tensor;
  /** Filter side of the default DCT filters. */
  size?: number;
  /** Initial expert weight α_k (stored as `logAlpha`), the same for every filter. */
  alpha?: number;
  /** Initial smoothing ν_k (stored as `logNu`), the same for every filter. */
  nu?: number;
  /**
   * Convolution boundary: 'symmetric' (default: mirror padding, every pixel seen by every tap),
   * 'valid' (only windows inside the image) or 'same' (zero padding).
   */
  padding?: FilterPadding;
  /**
   * The expert ρ(z; ν): `'student-t'` (Roth & Black, `log(1 + z²/ν²)`, non-convex) or
   * `'charbonnier'` (the smoothed ℓ1 norm of the papers' FoE experiments, `√(z² + ν²) − ν`,
   * convex, `0 < ρ'' ≤ 1/ν`).
   */
  expert?: 'student-t' | 'charbonnier';
}

/**
 * Defaults of {@link fieldsOfExperts}: 3×3 DCT filters (8), α = 0.01, ν = 0.1, symmetric padding,
 * Student-t experts. With 'symmetric' padding the constants carry a factor 4 (`‖C_k P‖ ≤ 2‖c_k‖₁`).
 * Symmetric is the default because learning with 'valid' padding was measured to lose
 * 1–1.5 dB held-out (examples/foe-denoise).
 */
export const FIELDS_OF_EXPERTS_DEFAULTS = { size: 3, alpha: 0.01, nu: 0.1, padding: 'symmetric', expert: 'student-t' } as const;

/**
 * Fields of Experts (Roth & Black), by default with Student-t experts:
 * `R(x; θ) = Σ_k e^{α_k} 1ᵀ ρ.(c_k ∗ x; ν_k)`, `ρ(z; ν) = log(1 + z²/ν²)`, with learnable
 * filters `c_k`, weights `α_k` and smoothings `ν_k = e^{θ.logNu_k}`.
 *
 * **Non-convex**: `ρ''(z) = 2(ν² − z²)/(ν² + z²)² ∈ [−1/(4ν²), 2/ν²]`, so R is only weakly
 * convex, `∇²R ⪰ −Σ_k e^{α_k}‖c_k‖₁²/(4ν_k²) I =: μ I` (μ < 0), and `∇R` is Lipschitz with
 * `L = Σ_k e^{α_k}‖c_k‖₁² · 2/ν_k²`. Pair it with a strongly convex term whose modulus
 * exceeds |μ| (the data term `½‖x − y‖²` for denoising, or {@link tikhonov} ξ) to get a
 * strongly convex lower-level problem; {@link foeProblem} declares μ accordingly.
 *
 * With `expert: 'charbonnier'`, `ρ(z; ν) = √(z² + ν²) − ν` (a smoothed ℓ1 norm with learnable
 * smoothing per filter, as in the FoE experiments of the source papers): R is **convex**
 * (μ = 0) and `∇R` is Lipschitz with `L = Σ_k e^{α_k}‖c_k‖₁²/ν_k`.
 *
 * @param options - see {@link FIELDS_OF_EXPERTS_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `{ filters: [S, S, 1, K], logAlpha: [K], logNu: [K] }`.
 * @example
 * ```ts
 * const R = fieldsOfExperts({ size: 5 });   // 24 DCT filters
 * const theta = R.init();
 * ```
 */
export function fieldsOfExperts(options: FieldsOfExpertsOptions = {}): Regularizer {
  checkOptions('fieldsOfExperts', options, FOE_SCHEMA);
  const o = { ...FIELDS_OF_EXPERTS_DEFAULTS, ...options };
  checkPositive('fieldsOfExperts', 'alpha', o.alpha);
  checkPositive('fieldsOfExperts', 'nu', o.nu);
  checkPadding('fieldsOfExperts', o.padding);
  if (options.filters != null) checkFilters('fieldsOfExperts', options.filters);
  if (o.expert !== 'student-t' && o.expert !== 'charbonnier') {
    throw new Error(`fieldsOfExperts: option 'expert' must be 'student-t' or 'charbonnier', got ${String(o.expert)}.`);
  }
  const where = 'fieldsOfExperts';
  const charbonnier = o.expert === 'charbonnier';
  // e^{α_k}‖c_k‖₁²/ν_k² (Student-t) or e^{α_k}‖c_k‖₁²/ν_k (Charbonnier), per filter
  const constants = (theta: Params) => {
    const alpha = read(() => tf.exp(param(theta, 'logAlpha', where)));
    const nu = read(() => tf.exp(param(theta, 'logNu', where)));
    const l1 = filterL1Norms(param(theta, 'filters', where));
    const factor = paddingNormFactor(o.padding);
    return Array.from(alpha, (a, k) => (factor * a * l1[k] * l1[k]) / (charbonnier ? nu[k] : nu[k] * nu[k]));
  };
  const total = (theta: Params) => constants(theta).reduce((s, c) => s + c, 0);
  // ρ, ρ', ρ'' from shared intermediates (one pass over the responses); per-filter constants as factors
  const derivatives = filterModel({
    filters: 'filters',
    where,
    weightKeys: { perFilter: 'logAlpha' },
    // scale families in p = log ν: Student-t ρ = φ(z/ν) (∂_p ρ' = −ρ' − zρ''), Charbonnier ρ = ν φ(z/ν) (∂_p ρ' = −zρ'')
    shape: { key: 'logNu', ratio: charbonnier ? 0 : -1, scale: 1 },
    weights: (theta) => tf.exp(param(theta, 'logAlpha', where)),
    // Student-t: ρ receives t = z/ν (1/ν_k folded into the filters), so no kernel broadcasts ν_k over the responses
    scale: charbonnier ? undefined : (theta) => tf.exp(tf.neg(param(theta, 'logNu', where))),
    // the Student-t factors of rho below (2/ν, 2/ν²), for the mixed product's one-pass SIMD route
    studentT: charbonnier ? undefined : (theta) => {
      const inverse = tf.exp(tf.neg(param(theta, 'logNu', where)));
      return { first: tf.mul(2, inverse), second: tf.mul(2, tf.square(inverse)) };
    },
    rho(z, theta, want) {
      const logNu = param(theta, 'logNu', where);
      if (!charbonnier) {
        // z = t = z/ν here, d = 1 + t²: ρ = log(1 + t²), ρ' = (2/ν) · t/d, ρ'' = (2/ν²) · (1 − t²)/d²
        const t2 = tf.square(z);
        const d = want.first || want.second ? tf.add(t2, 1) : undefined;
        const inverse = want.first || want.second ? tf.exp(tf.neg(logNu)) : undefined;
        return {
          value: want.value ? tf.log1p(t2) : undefined,
          first: want.first ? { tensor: tf.div(z, d!), factor: tf.mul(2, inverse!) } : undefined,
          second: want.second ? { tensor: tf.div(tf.sub(1, t2), tf.square(d!)), factor: tf.mul(2, tf.square(inverse!)) } : undefined,
        };
      }
      // Charbonnier: ρ = √(z² + ν²) − ν = z²/(s + ν), ρ' = z/s, ρ'' = ν²/s³ with s = √(z² + ν²)
      const nu2 = tf.exp(tf.mul(2, logNu));
      const z2 = tf.square(z);
      const d = want.first || want.second ? tf.add(z2, nu2) : undefined;
      const s = want.value || want.first || want.second ? tf.sqrt(d ?? tf.add(z2, nu2)) : undefined;
      return {
        value: want.value ? tf.div(z2, tf.add(s!, tf.exp(logNu))) : undefined,
        first: want.first ? { tensor: tf.div(z, s!), factor: 1 } : undefined,
        second: want.second ? { tensor: tf.div(1, tf.mul(s!, d!)), factor: nu2 } : undefined,
      };
    },
  }, o.padding);
  return {
    name: charbonnier ? 'Fields of Experts (Charbonnier)' : 'Fields of Experts',
    convex: charbonnier,
    value: (x, theta) =>
      tf.tidy(() => {
        const z = filterResponses(x, param(theta, 'filters', where), o.padding);
        const logNu = param(theta, 'logNu', where);
        const nu2 = tf.exp(tf.mul(2, logNu));
        const z2 = tf.square(z);
        // √(z² + ν²) − ν written as z²/(√(z² + ν²) + ν): no cancellation in float32, exactly 0 at z = 0
        const rho = charbonnier ? tf.div(z2, tf.add(tf.sqrt(tf.add(z2, nu2)), tf.exp(logNu))) : tf.log1p(tf.div(z2, nu2));
        const perFilter = tf.sum(rho, [0, 1, 2]);
        return tf.sum(tf.mul(tf.exp(param(theta, 'logAlpha', where)), perFilter));
      }),
    gradient: derivatives.gradient,
    valueAndGradient: derivatives.valueAndGradient,
    hessian: derivatives.hessian,
    hvp: derivatives.hvp,
    mixed: derivatives.mixed,
    mu: (theta) => (charbonnier ? 0 : -total(theta) / 4),
    lipschitz: (theta) => (charbonnier ? total(theta) : 2 * total(theta)),
    init() {
      const filters = options.filters != null ? options.filters.clone() : dctFilters(o.size);
      const count = filters.shape[3] as number;
      return { filters, logAlpha: tf.fill([count], Math.log(o.alpha)), logNu: tf.fill([count], Math.log(o.nu)) };
    },
  };
}

import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { checkPositive } from '../internal/checks.js';
import { param, read, filterL1Norms, checkFilters, checkPadding, filterResponses, paddingNormFactor, type FilterPadding } from '../internal/params.js';
import { randomFilters } from './filters.js';
import { checkOptions } from '@bilevel/core';
import { FILTER_PENALTY_SCHEMA } from '../internal/options.js';
import { filterModel } from '../internal/filter-derivatives.js';

/** Options of {@link filterPenalty}. */
export interface FilterPenaltyOptions {
  /** Corner rounding ε > 0 of φ(z) = √(z² + ε²). */
  epsilon?: number;
  /** Initial filters `[S, S, 1, K]` (copied). Default: {@link randomFilters} with `size`, `count`, `seed`. */
  filters?: tf.Tensor;
  /** Filter side when `filters` is not given. */
  size?: number;
  /** Number of filters when `filters` is not given. */
  count?: number;
  /** Seed of the default random filters. */
  seed?: number;
  /** Initial β₀ (overall weight e^{β₀}). */
  beta0?: number;
  /** Initial β_k, the same for every filter. */
  beta?: number;
  /** Convolution boundary: 'symmetric' (default: mirror padding; L gets a factor 4), 'valid' (only windows inside the image) or 'same' (zero padding). */
  padding?: FilterPadding;
}

/** Defaults of {@link filterPenalty}: ε = 0.01, 8 random 5×5 filters, β₀ = log 0.01, β_k = 0, symmetric padding. */
export const FILTER_PENALTY_DEFAULTS = { epsilon: 0.01, size: 5, count: 8, seed: 0, beta0: Math.log(0.01), beta: 0, padding: 'symmetric' } as const;

/**
 * The regularizer of the review's running example (Ex), filter learning:
 * `R(x; γ) = e^{β₀} Σ_k e^{β_k} 1ᵀ φ.(c_k ∗ x)`, `φ(z) = √(z² + ε²)` (the corner-rounded
 * 1-norm: `φ' ∈ (−1, 1)`, `0 < φ'' ≤ 1/ε`).
 *
 * Convex for all γ. `∇R` is Lipschitz with `L = e^{β₀} Σ_k e^{β_k} ‖c_k‖₁² / ε`
 * (`‖C_k‖ ≤ ‖c_k‖₁`), times 4 with the default symmetric padding. With `½‖Ax − y‖²` this is (Ex): see {@link filterModelProblem}.
 *
 * @param options - see {@link FILTER_PENALTY_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `{ filters: [S, S, 1, K], beta0: scalar, beta: [K] }`.
 * @example
 * ```ts
 * const R = filterPenalty({ size: 7, count: 16, epsilon: 1e-2 });
 * const theta = R.init();
 * const r = R.value(x, theta);
 * ```
 */
export function filterPenalty(options: FilterPenaltyOptions = {}): Regularizer {
  checkOptions('filterPenalty', options, FILTER_PENALTY_SCHEMA);
  const o = { ...FILTER_PENALTY_DEFAULTS, ...options };
  checkPositive('filterPenalty', 'epsilon', o.epsilon);
  checkPadding('filterPenalty', o.padding);
  if (options.filters != null) checkFilters('filterPenalty', options.filters);
  const eps2 = o.epsilon * o.epsilon;
  const where = 'filterPenalty';
  const weights = (theta: Params) => tf.exp(tf.add(param(theta, 'beta0', where), param(theta, 'beta', where)));
  // φ = s = √(z² + ε²), φ' = z/s, φ'' = ε²/s³
  const derivatives = filterModel({
    filters: 'filters',
    where,
    weightKeys: { perFilter: 'beta', overall: 'beta0' },
    weights,
    rho(z, _theta, want) {
      const z2e = tf.add(tf.square(z), eps2);
      const s = tf.sqrt(z2e);
      return {
        value: want.value ? s : undefined,
        first: want.first ? { tensor: tf.div(z, s), factor: 1 } : undefined,
        second: want.second ? { tensor: tf.div(1, tf.mul(s, z2e)), factor: eps2 } : undefined,
      };
    },
  }, o.padding);
  return {
    name: `filter penalty (Ex), ε = ${o.epsilon}`,
    convex: true,
    value: (x, theta) =>
      tf.tidy(() => {
        const z = filterResponses(x, param(theta, 'filters', where), o.padding);
        const perFilter = tf.sum(tf.sqrt(tf.add(tf.square(z), eps2)), [0, 1, 2]);
        return tf.sum(tf.mul(weights(theta), perFilter));
      }),
    gradient: derivatives.gradient,
    valueAndGradient: derivatives.valueAndGradient,
    hessian: derivatives.hessian,
    mixed: derivatives.mixed,
    mu: () => 0,
    lipschitz(theta) {
      const w = read(() => weights(theta));
      const l1 = filterL1Norms(param(theta, 'filters', where));
      return (paddingNormFactor(o.padding) * w.reduce((s, wk, k) => s + wk * l1[k] * l1[k], 0)) / o.epsilon;
    },
    init() {
      const filters = options.filters != null ? options.filters.clone() : randomFilters({ size: o.size, count: o.count, seed: o.seed });
      const count = filters.shape[3] as number;
      return { filters, beta0: tf.scalar(o.beta0), beta: tf.fill([count], o.beta) };
    },
  };
}

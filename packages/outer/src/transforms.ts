/**
 * Upper-level parameter transforms: reparameterisations (log-parameterised positive
 * weights), constraints by projection, and regularisers J(θ) — smooth ones (‖θ‖²) added to
 * the oracle's value and gradient, non-smooth ones (‖θ‖₁) applied as a proximal step.
 *
 * @packageDocumentation
 */
import { tf, keysOf, disposeParams, mapParams, checkOptions, opt, type Params } from '@bilevel/core';
import type { Oracle, OracleResult, Proximal } from './types.js';
import { checkRange } from './internal/util.js';

/**
 * A change of variables θ = T(φ): the method updates φ, the oracle sees θ.
 * Gradients pull back as ∇_φ = J_T(φ)ᵀ ∇_θ, and a bound ω on ‖h_θ − ∇_θF‖ becomes
 * ‖J_T(φ)‖ ω on ‖h_φ − ∇_φF‖.
 */
export interface Reparameterisation {
  readonly name: string;
  /** θ = T(φ) (new tensors). */
  forward(phi: Params): Params;
  /** φ = T⁻¹(θ) (new tensors). */
  inverse(theta: Params): Params;
  /** J_T(φ)ᵀ g (new tensors). */
  pullback(phi: Params, gradTheta: Params): Params;
  /** ‖J_T(φ)‖ (operator 2-norm). */
  jacobianNorm(phi: Params): number;
}

/**
 * Log-parameterised positive weights: θ_k = exp(φ_k) for the listed leaves (all leaves when
 * `keys` is omitted), identity elsewhere. Positive weights (regularisation strengths,
 * smoothing parameters) then need no constraint, as in the smoothed-TV example of
 * Salehi et al. 2025 (weights e^{θ[1]}, e^{θ[2]}).
 *
 * ∇_φF = e^φ ⊙ ∇_θF, and ‖J_T‖ = max(e^φ) (or max(1, e^φ) when some leaves are identity).
 *
 * @param keys - leaves to log-parameterise (default: all).
 * @returns a {@link Reparameterisation}.
 * @example
 * ```ts
 * const t = expParameterisation(['alpha']);
 * const phi = t.inverse({ alpha: tf.tensor1d([0.1]) }); // log 0.1
 * ```
 */
export function expParameterisation(keys?: string[]): Reparameterisation {
  if (keys != null && (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string'))) {
    throw new Error("expParameterisation: option 'keys' must be an array of parameter names, e.g. ['alpha'].");
  }
  const applies = (k: string) => keys == null || keys.includes(k);
  return {
    name: `exp(${keys == null ? '*' : keys.join(',')})`,
    forward: (phi) => mapParams(phi, (t, k) => (applies(k) ? tf.exp(t) : tf.clone(t))),
    inverse(theta) {
      for (const k of keysOf(theta)) {
        if (!applies(k)) continue;
        const min = tf.tidy(() => tf.min(theta[k]));
        const v = min.dataSync()[0];
        min.dispose();
        if (!(v > 0)) throw new Error(`expParameterisation: parameter '${k}' must be > 0 to be log-parameterised (min is ${v}); start from positive weights.`);
      }
      return mapParams(theta, (t, k) => (applies(k) ? tf.log(t) : tf.clone(t)));
    },
    pullback: (phi, g) => mapParams(phi, (t, k) => (applies(k) ? tf.tidy(() => tf.mul(g[k], tf.exp(t))) : tf.clone(g[k]))),
    jacobianNorm(phi) {
      let norm = 0;
      for (const k of keysOf(phi)) {
        if (!applies(k)) {
          norm = Math.max(norm, 1);
          continue;
        }
        const m = tf.tidy(() => tf.max(tf.exp(phi[k])));
        norm = Math.max(norm, m.dataSync()[0]);
        m.dispose();
      }
      return norm;
    },
  };
}

/**
 * The oracle in the new variables: F̃(T(φ)), J_T(φ)ᵀ h(T(φ)), bound ‖J_T(φ)‖ ω.
 *
 * @param oracle - oracle in θ.
 * @param transform - the {@link Reparameterisation}.
 * @returns an oracle in φ (warm-start state passes through).
 * @example
 * ```ts
 * const oraclePhi = reparameterise(oracle, expParameterisation());
 * ```
 */
export function reparameterise(oracle: Oracle, transform: Reparameterisation): Oracle {
  const wrapped: Oracle = Object.assign(
    (phi: Params, accuracy: Parameters<Oracle>[1], options?: Parameters<Oracle>[2]): OracleResult => {
      const theta = transform.forward(phi);
      let r: OracleResult;
      try {
        r = oracle(theta, accuracy, options);
      } finally {
        disposeParams(theta);
      }
      if (r.grad == null) return r;
      const grad = transform.pullback(phi, r.grad);
      const scale = transform.jacobianNorm(phi);
      const inner = r;
      return {
        value: r.value,
        grad,
        bound: r.bound * scale,
        valueBound: r.valueBound,
        work: r.work,
        converged: r.converged,
        dispose() {
          disposeParams(grad);
          inner.dispose();
        },
      };
    },
    { saveState: oracle.saveState?.bind(oracle), loadState: oracle.loadState?.bind(oracle) },
  );
  return wrapped;
}

/** A regulariser J(θ): smooth (added to value and gradient) or proximal (a step after each update). */
export interface Regularizer {
  readonly name: string;
  readonly kind: 'smooth' | 'proximal';
  /** J(θ). */
  value(theta: Params): number;
  /** ∇J(θ) (smooth regularisers). */
  grad?(theta: Params): Params;
  /** prox_{step·J}(θ) (proximal regularisers). */
  prox?(theta: Params, step: number): Params;
}

function sumOver(theta: Params, fn: (t: tf.Tensor) => tf.Tensor): number {
  const s = tf.tidy(() => keysOf(theta).reduce<tf.Tensor>((acc, k) => tf.add(acc, tf.sum(fn(theta[k]))), tf.scalar(0)));
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

/**
 * Squared-norm (Tikhonov / weight-decay) regulariser J(θ) = (λ/2)‖θ‖², ∇J = λθ; smooth, so it
 * is added to the oracle's value and gradient (exactly: the bounds do not change).
 *
 * @param weight - λ ≥ 0.
 * @returns a smooth {@link Regularizer}.
 * @example
 * ```ts
 * train({ ..., regularizer: l2(1e-3) });
 * ```
 */
export function l2(weight: number): Regularizer {
  checkRange('l2', 'weight', weight, 0, Infinity, false, true, 'give a non-negative weight');
  return {
    name: `l2(${weight})`,
    kind: 'smooth',
    value: (theta) => 0.5 * weight * sumOver(theta, (t) => tf.square(t)),
    grad: (theta) => mapParams(theta, (t) => tf.mul(t, weight)),
  };
}

/**
 * Sparsity regulariser J(θ) = λ‖θ‖₁, applied by its proximal map (soft thresholding)
 * prox_{αJ}(θ) = sign(θ) max(|θ| − αλ, 0) after each gradient step.
 *
 * @param weight - λ ≥ 0.
 * @returns a proximal {@link Regularizer}.
 * @example
 * ```ts
 * train({ ..., regularizer: l1(1e-2) });
 * ```
 */
export function l1(weight: number): Regularizer {
  checkRange('l1', 'weight', weight, 0, Infinity, false, true, 'give a non-negative weight');
  return {
    name: `l1(${weight})`,
    kind: 'proximal',
    value: (theta) => weight * sumOver(theta, (t) => tf.abs(t)),
    prox: (theta, step) => mapParams(theta, (t) => tf.tidy(() => tf.mul(tf.sign(t), tf.relu(tf.sub(tf.abs(t), step * weight))))),
  };
}

/** Bounds of {@link box}: one pair for all leaves, or per leaf. */
export type BoxBounds = { lower?: number; upper?: number } | Record<string, { lower?: number; upper?: number }>;

/**
 * Box constraint l ≤ θ ≤ u by Euclidean projection (clipping), applied after each step.
 * Combined with {@link l1} (soft-thresholding then clipping) this is the exact proximal map
 * of λ‖θ‖₁ + ι_box, since both are separable and one-dimensional.
 *
 * @param bounds - `{ lower, upper }` for every leaf, or `{ leaf: { lower, upper } }`.
 * @returns a {@link Proximal} whose value is 0.
 * @example
 * ```ts
 * train({ ..., project: box({ lower: 0 }) });
 * ```
 */
export function box(bounds: BoxBounds): Proximal {
  if (bounds == null || typeof bounds !== 'object') throw new Error("box: 'bounds' must be { lower?, upper? } or { leaf: { lower?, upper? } }.");
  const global = 'lower' in bounds || 'upper' in bounds || Object.keys(bounds).length === 0;
  const get = (k: string): { lower: number; upper: number } => {
    const b = (global ? bounds : (bounds as Record<string, { lower?: number; upper?: number }>)[k]) as { lower?: number; upper?: number } | undefined;
    return { lower: b?.lower ?? -Infinity, upper: b?.upper ?? Infinity };
  };
  const check = (name: string, b: { lower?: number; upper?: number }) => {
    const lo = b.lower ?? -Infinity;
    const hi = b.upper ?? Infinity;
    if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
      throw new Error(`box: bounds${name} must satisfy lower ≤ upper (numbers), got lower=${String(b.lower)}, upper=${String(b.upper)}.`);
    }
  };
  const BOUNDS = { lower: opt.number({ finite: false }), upper: opt.number({ finite: false }) };
  if (global) {
    checkOptions('box', bounds, BOUNDS);
    check('', bounds as { lower?: number; upper?: number });
  } else {
    for (const [k, b] of Object.entries(bounds)) {
      // a number here is a misspelt 'lower'/'upper' (box({ lowr: 0 })), not a leaf's bounds
      if (b === null || typeof b !== 'object') checkOptions('box', bounds, BOUNDS);
      checkOptions('box', b, BOUNDS, `${k}.`);
      check(`.${k}`, b as { lower?: number; upper?: number });
    }
  }
  return {
    name: 'box',
    value: () => 0,
    apply: (theta) =>
      mapParams(theta, (t, k) => {
        const { lower, upper } = get(k);
        return tf.tidy(() => tf.minimum(tf.maximum(t, lower), upper));
      }),
  };
}

/** Wraps a bare projection function `θ ↦ P(θ)` as a {@link Proximal}. */
export function projection(project: (theta: Params) => Params, name = 'projection'): Proximal {
  if (typeof project !== 'function') throw new Error("projection: 'project' must be a function (theta) => Params.");
  return { name, value: () => 0, apply: (theta) => project(theta) };
}

/**
 * Composes proximal regularisers and projections: applied in order, values summed.
 *
 * @param parts - proximal maps (e.g. the prox of `l1` then a `box` projection).
 * @returns one {@link Proximal}, or undefined when `parts` is empty.
 * @example
 * ```ts
 * const p = composeProximal(proximalOf(l1(0.01)), box({ lower: 0 }));
 * ```
 */
export function composeProximal(...parts: Proximal[]): Proximal | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return {
    name: parts.map((p) => p.name).join('∘'),
    value: (theta) => parts.reduce((acc, p) => acc + p.value(theta), 0),
    apply(theta, step) {
      let cur = theta;
      for (const p of parts) {
        const next = p.apply(cur, step);
        if (cur !== theta) disposeParams(cur);
        cur = next;
      }
      return cur;
    },
  };
}

/** The proximal map of a proximal {@link Regularizer}. */
export function proximalOf(reg: Regularizer): Proximal {
  if (reg.kind !== 'proximal' || reg.prox == null) throw new Error(`proximalOf: regulariser '${reg.name}' is smooth; add it to the oracle with withRegularizer instead.`);
  return { name: reg.name, value: (t) => reg.value(t), apply: (t, s) => reg.prox!(t, s) };
}

/**
 * Adds a smooth regulariser to an oracle: value + J(θ), grad + ∇J(θ); bounds unchanged
 * (J is evaluated exactly).
 *
 * @param oracle - the oracle of the data term.
 * @param reg - a smooth {@link Regularizer}.
 * @returns the oracle of F + J.
 * @example
 * ```ts
 * const regularised = withRegularizer(oracle, l2(1e-3));
 * ```
 */
export function withRegularizer(oracle: Oracle, reg: Regularizer): Oracle {
  if (reg.kind !== 'smooth' || reg.grad == null) throw new Error(`withRegularizer: regulariser '${reg.name}' is not smooth; pass it to train's 'regularizer' to apply its proximal map.`);
  return Object.assign(
    (theta: Params, accuracy: Parameters<Oracle>[1], options?: Parameters<Oracle>[2]): OracleResult => {
      const r = oracle(theta, accuracy, options);
      const value = r.value + reg.value(theta);
      if (r.grad == null) return { ...r, value, dispose: () => r.dispose() };
      const g = reg.grad!(theta);
      const base = r.grad;
      const grad = mapParams(base, (t, k) => tf.add(t, g[k]));
      disposeParams(g);
      return {
        value,
        grad,
        bound: r.bound,
        valueBound: r.valueBound,
        work: r.work,
        converged: r.converged,
        dispose() {
          disposeParams(grad);
          r.dispose();
        },
      };
    },
    { saveState: oracle.saveState?.bind(oracle), loadState: oracle.loadState?.bind(oracle) },
  );
}

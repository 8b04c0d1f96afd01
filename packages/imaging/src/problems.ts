import { tf, defineProblem, dotFloat32 } from '@bilevel/core';
import type { Params, Problem, Derivatives, VerifyOptions } from '@bilevel/core';
import type { LinearOperator } from './operators/types.js';
import type { Regularizer } from './regularizers/types.js';
import { smoothedTV, huberTV, TV_DEFAULTS } from './regularizers/tv.js';
import { filterPenalty } from './regularizers/filter-model.js';
import type { FilterPenaltyOptions } from './regularizers/filter-model.js';
import { fieldsOfExperts } from './regularizers/foe.js';
import type { FieldsOfExpertsOptions } from './regularizers/foe.js';
import { icnn } from './regularizers/icnn.js';
import type { IcnnOptions } from './regularizers/icnn.js';
import { checkOptions } from '@bilevel/core';
import { reconstructionParts, reconstructionBundle } from './internal/reconstruction-parts.js';
import { denoisingOf, fuseDenoising } from './internal/fused-denoising.js';
import { RECONSTRUCTION_SCHEMA, TV_PROBLEM_SCHEMA, FILTER_PENALTY_SCHEMA, FOE_SCHEMA, ICNN_SCHEMA, pick } from './internal/options.js';

/** Lower-level data of a reconstruction problem: the measurements `y` (shaped like `A x`). */
export type ReconstructionData = { y: tf.Tensor };

/** What every problem builder returns. */
export interface ReconstructionProblem {
  /** The lower-level problem `Φ(x; θ, {y}) = ½‖Ax − y‖² + R(x; θ) + (ξ/2)‖x‖²`. */
  problem: Problem<ReconstructionData>;
  /** Initial parameters (fresh tensors; dispose them, or hand them to an optimiser). */
  theta: Params;
  /** The regularizer R. */
  regularizer: Regularizer;
  /** The forward operator A. */
  operator: LinearOperator;
  /** Frees `theta` (if still alive) and the operator when the problem created it. */
  dispose(): void;
}

/** Options common to every problem builder. */
export interface ReconstructionOptions {
  /** Forward operator A; default the identity (denoising). The caller keeps ownership. */
  operator?: LinearOperator;
  /** Weight ξ ≥ 0 of an extra `(ξ/2)‖x‖²`. */
  xi?: number;
  /** A name for messages. */
  name?: string;
  /**
   * Use the regularizer's analytic derivatives (gradient, Hessian at x, mixed product) where
   * it has them (default `true`); `false` differentiates the energy by autodiff only.
   */
  derivatives?: boolean;
  /** Check the analytic derivatives against autodiff once (see `defineProblem`'s `verify`). */
  verify?: boolean | VerifyOptions;
}

/**
 * Builds `Φ(x; θ, {y}) = ½‖Ax − y‖² + R(x; θ) + (ξ/2)‖x‖²` as a bilevel {@link Problem}.
 *
 * Declared constants: strong convexity `μ = μ_D + ξ + μ_R(θ)` (μ_D = 1 for A = I, else 0;
 * μ_R ≤ 0 for weakly convex R) when it is positive for the initial θ, re-evaluated at each
 * θ and clipped at 0; smoothness `L = ‖A‖² + ξ + L_R(θ)` when both terms are bounded.
 * Starting point: `Aᵀy` (`y` itself for denoising; zero-filled reconstruction for MRI).
 *
 * Derivatives: when R supplies them (TV, Huber TV, (Ex), Fields of Experts), the problem's
 * gradient is `Aᵀ(Ax − y) + ∇R + ξx`, its Hessian at x `AᵀA + ξI + ∇²R` (with R's per-x
 * parts cached across a linear solve) and its mixed product R's; autodiff fills the rest.
 *
 * @param regularizer - R, e.g. {@link smoothedTV}.
 * @param options - operator (default identity), ξ, name.
 * @returns the problem, the regularizer's initial θ, and a `dispose`.
 * @example
 * ```ts
 * const { problem, theta } = reconstructionProblem(smoothedTV({ nu: 0.01 }), { operator: blur() });
 * const g = problem.gradient(x, theta, { y });
 * ```
 */
export function reconstructionProblem(regularizer: Regularizer, options: ReconstructionOptions = {}): ReconstructionProblem {
  checkOptions('reconstructionProblem', options, RECONSTRUCTION_SCHEMA);
  if (regularizer == null || typeof regularizer.value !== 'function') {
    throw new Error('reconstructionProblem: \'regularizer\' must be a Regularizer (smoothedTV(), filterPenalty(), fieldsOfExperts(), icnn()).');
  }
  const parts = reconstructionParts('reconstructionProblem', options);
  const { xi, operator, data } = parts;
  const theta = regularizer.init();
  // μ_R: declared by R, else 0 for a convex R, else unknown (then no μ can be claimed)
  const muOfRegularizer = regularizer.mu != null ? regularizer.mu : regularizer.convex ? () => 0 : undefined;
  const muOf = muOfRegularizer != null ? (th: Params) => data.mu + xi + muOfRegularizer(th) : undefined;
  const strongConvexity = muOf != null && muOf(theta) > 0 ? (th: Params) => Math.max(0, muOf(th)) : undefined;
  const smoothness = data.lipschitz != null && regularizer.lipschitz != null
    ? (th: Params) => data.lipschitz! + xi + regularizer.lipschitz!(th)
    : undefined;
  const problem = defineProblem<ReconstructionData>({
    derivatives: options.derivatives === false ? undefined : composeDerivatives(regularizer, operator, xi),
    verify: options.verify,
    name: options.name ?? `${regularizer.name}, A = ${operator.name}`,
    energy: (x, th, d) =>
      tf.tidy(() => {
        const terms = [data.value(x, d.y), regularizer.value(x, th)];
        if (xi > 0) terms.push(tf.mul(xi / 2, tf.sum(tf.square(x))));
        return tf.addN(terms);
      }),
    init: (_th, d) => (operator.isIdentity ? d.y.clone() : operator.adjoint(d.y)),
    strongConvexity,
    smoothness,
  });
  return reconstructionBundle(problem, theta, regularizer, parts);
}

const taping = () => (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();

/** `Aᵀ(Ax − y) + ∇R + ξx` etc. from R's analytic derivatives; undefined when R has none. */
function composeDerivatives(R: Regularizer, A: LinearOperator, xi: number): Derivatives<ReconstructionData> | undefined {
  if (R.gradient == null && R.valueAndGradient == null && R.mixed == null) return undefined;
  const residual = (x: tf.Tensor, y: tf.Tensor) => (A.isIdentity ? tf.sub(x, y) : A.adjoint(tf.sub(A.apply(x), y)));
  const normal = (v: tf.Tensor) => (A.isIdentity ? v : A.adjoint(A.apply(v)));
  const withData = (x: tf.Tensor, y: tf.Tensor, gR: tf.Tensor) => tf.tidy(() => {
    const terms = [residual(x, y), gR];
    if (xi > 0) terms.push(tf.mul(xi, x));
    return tf.addN(terms);
  });
  const out: Derivatives<ReconstructionData> = {};
  if (R.gradient != null) {
    out.gradient = (x, th, d) => {
      const gR = R.gradient!(x, th);
      try {
        return withData(x, d.y, gR);
      } finally {
        gR.dispose();
      }
    };
  }
  if (R.valueAndGradient != null) {
    out.valueAndGradient = (x, th, d) => {
      const r = R.valueAndGradient!(x, th);
      try {
        if (A.isIdentity && xi === 0 && tf.getBackend() === 'wasm' && !taping()) {
          // denoising on wasm: the op form's float32 operations below on one residual, ½Σ(x − y)² by a loop off
          // the heap in the Sum's order (dotFloat32), x − y + ∇R as one Add: 2 kernels instead of 8 per evaluation
          return tf.tidy(() => {
            const res = tf.sub(x, d.y);
            const data = Math.fround(0.5 * dotFloat32(res, res));
            return { value: tf.scalar(Math.fround(data + r.value.dataSync()[0])), grad: tf.add(res, r.grad) };
          });
        }
        const value = tf.tidy(() => {
          const terms = [tf.mul(0.5, tf.sum(tf.square(tf.sub(A.apply(x), d.y)))), r.value];
          if (xi > 0) terms.push(tf.mul(xi / 2, tf.sum(tf.square(x))));
          return tf.addN(terms) as tf.Scalar;
        });
        return { value, grad: withData(x, d.y, r.grad) };
      } finally {
        tf.dispose([r.value, r.grad]);
      }
    };
  }
  if (R.hessian != null) {
    out.hessian = (x, th) => {
      const h = R.hessian!(x, th);
      return {
        apply: (v) => tf.tidy(() => {
          const terms = [normal(v), h.apply(v)];
          if (xi > 0) terms.push(tf.mul(xi, v));
          return tf.addN(terms);
        }),
        dispose: () => h.dispose(),
      };
    };
  }
  if (R.hvp != null) {
    out.hvp = (x, th, _d, v) => {
      const hR = R.hvp!(x, th, v);
      try {
        return tf.tidy(() => {
          const terms = [normal(v), hR];
          if (xi > 0) terms.push(tf.mul(xi, v));
          return tf.addN(terms);
        });
      } finally {
        hR.dispose();
      }
    };
  }
  if (R.mixed != null) out.mixed = (x, th, _d, v) => R.mixed!(x, th, v);
  // denoising: R's one-kernel derivatives of the whole energy where it has them (TV)
  const fused = A.isIdentity ? denoisingOf(R) : undefined;
  if (fused != null) fuseDenoising(out, fused, xi);
  return out;
}

/** Options of {@link tvDenoisingProblem}. */
export interface TVProblemOptions extends ReconstructionOptions {
  /** Smoothing ν. */
  nu?: number;
  /** Initial α (θ.logAlpha = log α). */
  alpha?: number;
  /** 'smoothed' √(|∇x|² + ν²) (default) or 'huber'. */
  kind?: 'smoothed' | 'huber';
  /** Learn ν too (`theta.logNu`); smoothed TV only. */
  learnNu?: boolean;
}

/** Defaults of {@link tvDenoisingProblem}. */
export const TV_PROBLEM_DEFAULTS = { ...TV_DEFAULTS, kind: 'smoothed', xi: 0 } as const;

/**
 * TV reconstruction `½‖Ax − y‖² + e^{θ.logAlpha} Σ √(|∇x|² + ν²)` (or Huber TV), denoising by
 * default; pass `operator` for deblurring, MRI or inpainting.
 *
 * μ = 1 for denoising (ξ otherwise); `L = ‖A‖² + ξ + 8α/ν`.
 *
 * @param options - see {@link TV_PROBLEM_DEFAULTS}.
 * @returns a {@link ReconstructionProblem} with `theta = { logAlpha }`.
 * @example
 * ```ts
 * const { problem, theta, dispose } = tvDenoisingProblem({ nu: 0.01, alpha: 0.05 });
 * const g = problem.gradient(noisy, theta, { y: noisy });
 * dispose();
 * ```
 */
export function tvDenoisingProblem(options: TVProblemOptions = {}): ReconstructionProblem {
  checkOptions('tvDenoisingProblem', options, TV_PROBLEM_SCHEMA);
  const o = { ...TV_PROBLEM_DEFAULTS, ...options };
  if (o.kind !== 'smoothed' && o.kind !== 'huber') throw new Error(`tvDenoisingProblem: option 'kind' must be 'smoothed' or 'huber', got ${String(o.kind)}.`);
  if (o.kind === 'huber' && options.learnNu) throw new Error("tvDenoisingProblem: option 'learnNu' needs kind 'smoothed' (Huber TV's threshold is not differentiable).");
  const R = o.kind === 'huber' ? huberTV({ nu: o.nu, alpha: o.alpha }) : smoothedTV({ nu: o.nu, alpha: o.alpha, learnNu: options.learnNu });
  return reconstructionProblem(R, pick(options, RECONSTRUCTION_SCHEMA));
}

/**
 * The review's running example (Ex): `½‖Ax − y‖² + e^{β₀} Σ_k e^{β_k} Σ √((c_k ∗ x)² + ε²)`.
 *
 * μ = 1 for denoising (ξ otherwise); `L = ‖A‖² + ξ + e^{β₀}Σ_k e^{β_k}‖c_k‖₁²/ε`.
 *
 * @param options - regularizer options (see {@link filterPenalty}) plus operator and ξ.
 * @returns a {@link ReconstructionProblem} with `theta = { filters, beta0, beta }`.
 * @example
 * ```ts
 * const { problem, theta } = filterModelProblem({ size: 5, count: 8, epsilon: 1e-2 });
 * ```
 */
export function filterModelProblem(options: FilterPenaltyOptions & ReconstructionOptions = {}): ReconstructionProblem {
  checkOptions('filterModelProblem', options, { ...FILTER_PENALTY_SCHEMA, ...RECONSTRUCTION_SCHEMA });
  return reconstructionProblem(filterPenalty(pick(options, FILTER_PENALTY_SCHEMA)), pick(options, RECONSTRUCTION_SCHEMA));
}

/**
 * Fields-of-Experts reconstruction `½‖Ax − y‖² + Σ_k e^{α_k} Σ ρ(c_k ∗ x; ν_k) + (ξ/2)‖x‖²`,
 * `ρ(z; ν) = log(1 + z²/ν²)` (default) or `√(z² + ν²) − ν` (`expert: 'charbonnier'`, convex).
 *
 * Student-t experts are non-convex: μ = 1 (denoising) or ξ, minus the FoE's negative curvature
 * bound; declared only while it stays positive (choose ξ or α accordingly).
 *
 * @param options - regularizer options (see {@link fieldsOfExperts}) plus operator and ξ.
 * @returns a {@link ReconstructionProblem} with `theta = { filters, logAlpha, logNu }`.
 * @example
 * ```ts
 * const { problem, theta } = foeProblem({ size: 3, alpha: 1e-3 });
 * ```
 */
export function foeProblem(options: FieldsOfExpertsOptions & ReconstructionOptions = {}): ReconstructionProblem {
  checkOptions('foeProblem', options, { ...FOE_SCHEMA, ...RECONSTRUCTION_SCHEMA });
  return reconstructionProblem(fieldsOfExperts(pick(options, FOE_SCHEMA)), pick(options, RECONSTRUCTION_SCHEMA));
}

/** Defaults of {@link icnnProblem}: ξ = 0.01 so that the energy is strongly convex for any A. */
export const ICNN_PROBLEM_DEFAULTS = { xi: 0.01 } as const;

/**
 * ICNN reconstruction `½‖Ax − y‖² + R_ICNN(x; θ) + (ξ/2)‖x‖²`: convex for every θ,
 * μ = 1 + ξ (denoising) or ξ; no smoothness constant is declared.
 *
 * @param options - regularizer options (see {@link icnn}) plus operator and ξ (default 0.01).
 * @returns a {@link ReconstructionProblem} with the ICNN's θ.
 * @example
 * ```ts
 * const { problem, theta } = icnnProblem({ layers: 2, channels: 8, xi: 0.01 });
 * ```
 */
export function icnnProblem(options: IcnnOptions & ReconstructionOptions = {}): ReconstructionProblem {
  checkOptions('icnnProblem', options, { ...ICNN_SCHEMA, ...RECONSTRUCTION_SCHEMA });
  return reconstructionProblem(icnn(pick(options, ICNN_SCHEMA)), { ...ICNN_PROBLEM_DEFAULTS, ...pick(options, RECONSTRUCTION_SCHEMA) });
}

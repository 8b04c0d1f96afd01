import { tf, defineProblem, disposeParams, checkNonNegative, checkOptions, opt, grad, hvp } from '@bilevel/core';
import type { Params, Problem, Derivatives } from '@bilevel/core';
import type { LinearOperator } from './operators/types.js';
import type { Regularizer } from './regularizers/types.js';
import { subsampledFourier } from './operators/fourier.js';
import type { FourierTransform } from './operators/fft.js';
import { smoothedTV } from './regularizers/tv.js';
import { param } from './internal/params.js';

/** Lower-level data of {@link samplingProblem}: fully sampled (noisy) k-space `[b, h, w, 2]`. */
export type SamplingData = { y: tf.Tensor };

/** Options of {@link samplingProblem}. */
export interface SamplingProblemOptions {
  /** Image height (k-space rows = phase-encoding lines). */
  height: number;
  /** Image width (readout length). */
  width: number;
  /** `'free'`: one weight per k-space point, `[h, w]`; `'cartesian'`: one per line (row), `[h]`. */
  layout?: 'free' | 'cartesian';
  /**
   * How `theta.sampling = p ∈ [0, 1]^m` gives the weights: `'box'`, `s = p` (keep p in the box
   * with outer's `box`), or `'ratio'`, `s = √(p/(1 − p))` (Chen et al. 2014, as in Ehrhardt &
   * Roberts 2021), keep `p ∈ [0, 1 − δ]`.
   */
  parametrisation?: 'box' | 'ratio';
  /** Initial value of every entry of p. */
  init?: number;
  /** Regularizer R of the image; default `smoothedTV({ nu: 0.01, alpha: 1e-3 })`. */
  regularizer?: Regularizer;
  /** Learn R's parameters with the sampling (Sherry et al. 2020) or keep them at R's `init()` (Ehrhardt & Roberts 2021). */
  learnRegularizer?: boolean;
  /** Weight ξ ≥ 0 of `(ξ/2)‖x‖²` (strong convexity where s vanishes). */
  xi?: number;
  /**
   * Analytic gradient `Re Fᴴ(s² ⊙ (Fx − y)) + ∇R + ξx` and Hessian `Re Fᴴ(s² ⊙ F v) + ∇²R v + ξv`
   * (default true; R's own analytic derivatives where it has them, else autodiff of R alone);
   * false: autodiff of the whole energy.
   */
  derivatives?: boolean;
  /** How `F` is computed: `'auto'` (default: radix-2 FFT for power-of-two sides on wasm and cpu), `'fft'` or `'dft'` (see {@link subsampledFourier}). */
  transform?: FourierTransform;
}

/** Defaults of {@link samplingProblem}. */
export const SAMPLING_PROBLEM_DEFAULTS = { layout: 'free', parametrisation: 'box', init: 0.5, learnRegularizer: false, xi: 0, derivatives: true, transform: 'auto' } as const;

const SCHEMA = {
  height: opt.integer(), width: opt.integer(), layout: opt.oneOf(['free', 'cartesian']), parametrisation: opt.oneOf(['box', 'ratio']), init: opt.number(),
  regularizer: opt.custom('a Regularizer (smoothedTV(), tgv() is not one: it acts on [b, h, w, 3])', (v) => v != null && typeof (v as Regularizer).value === 'function'),
  learnRegularizer: opt.boolean(), xi: opt.number(), derivatives: opt.boolean(), transform: opt.oneOf(['auto', 'fft', 'dft']),
};

/** What {@link samplingProblem} returns. */
export interface SamplingProblem {
  /** `Φ(x; θ, {y}) = ½‖S(s)(Fx − y)‖² + R(x; θ_R) + (ξ/2)‖x‖²`. */
  problem: Problem<SamplingData>;
  /** Initial parameters: `{ sampling }` (plus R's when learned). */
  theta: Params;
  /** The squared weights `s(θ)²` broadcast to `[h, w]`: what multiplies `|Fx − y|²` per k-space point. */
  weightsSquared(theta: Params): tf.Tensor2D;
  /** `A(θ) = S(s(θ)) F` as a {@link LinearOperator} (dispose it), e.g. for adjoint tests or zero-filling. */
  operatorAt(theta: Params): LinearOperator;
  /** Fully sampled k-space `F x` of `[b, h, w, 1]` images (`[b, h, w, 2]`), with the problem's DFT matrices. */
  kspace(x: tf.Tensor): tf.Tensor4D;
  /** Frees θ (if alive), R's fixed θ and the DFT matrices. */
  dispose(): void;
}

/**
 * MRI reconstruction with learnable sampling weights (Sherry et al., "Learning the sampling
 * pattern for MRI", IEEE TMI 2020; Ehrhardt & Roberts, JMIV 2021, §MRI sampling):
 *
 * `Φ(x; θ, {y}) = ½ Σ_k s_k(θ)² |(F x − y)_k|² + R(x; θ_R) + (ξ/2)‖x‖²`,
 *
 * `F` the unitary 2-D DFT (real image → complex pairs, see {@link fft2}), `y` the fully sampled
 * noisy k-space, `S(s) = diag(s)`. `'free'` gives every k-space point its own `s_k` (`[h, w]`),
 * `'cartesian'` one per phase-encoding line (row, `[h]`, broadcast along the readout).
 * `s = p` (`'box'`) or `s² = p/(1 − p)` (`'ratio'`), `p = theta.sampling`; the energy uses only `s²`,
 * which is smooth in p, so gradients, HVPs and mixed products are exact at p = 0 too.
 *
 * Constants: `μ = min_k s_k² + ξ` (F is unitary, so the data term's Hessian `Fᴴ S² F` has
 * eigenvalues `s_k²`; R convex), `L = max_k s_k² + ξ + L_R`. Starting point
 * `Re Fᴴ(min(s², 1) ⊙ y)`, the weighted zero-filled image.
 *
 * @param options - see {@link SamplingProblemOptions} and {@link SAMPLING_PROBLEM_DEFAULTS}.
 * @returns a {@link SamplingProblem}.
 * @example
 * ```ts
 * const mri = samplingProblem({ height: 64, width: 64, layout: 'cartesian' });
 * const y = mri.kspace(clean);                        // add noise as needed
 * const loss = (x, theta, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean)))), samplingPenalty(theta, { beta1: 1e-3, beta2: 1e-3 }));
 * const r = hypergradient({ problem: mri.problem, theta: mri.theta, data: { y, clean }, loss, strategy });
 * mri.dispose();
 * ```
 */
export function samplingProblem(options: SamplingProblemOptions): SamplingProblem {
  checkOptions('samplingProblem', options, SCHEMA);
  const o = { ...SAMPLING_PROBLEM_DEFAULTS, ...options };
  for (const k of ['height', 'width'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`samplingProblem: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  if (!(o.init >= 0 && o.init < (o.parametrisation === 'ratio' ? 1 : Infinity) && (o.parametrisation === 'ratio' || o.init <= 1))) {
    throw new Error(`samplingProblem: option 'init' must be in [0, 1]${o.parametrisation === 'ratio' ? ' and below 1 for the ratio parametrisation' : ''}, got ${String(o.init)}.`);
  }
  checkNonNegative('samplingProblem', 'xi', o.xi);
  const { height: h, width: w, xi } = o;
  const R = o.regularizer ?? smoothedTV({ nu: 0.01, alpha: 1e-3 });
  const thetaR = R.init();
  const learnR = o.learnRegularizer;
  if (learnR && 'sampling' in thetaR) throw new Error("samplingProblem: the regularizer has a parameter named 'sampling'; rename it.");
  const shape = o.layout === 'free' ? [h, w] : [h];
  const theta: Params = { sampling: tf.fill(shape, o.init), ...(learnR ? thetaR : {}) };
  const fixedR = learnR ? {} : thetaR;
  const ones = tf.ones([h, w]);
  const F = subsampledFourier(ones, { transform: o.transform });
  ones.dispose();

  const squared = (th: Params): tf.Tensor => {
    const p = param(th, 'sampling', 'samplingProblem');
    if (!tf.util.arraysEqual(p.shape, shape)) {
      throw new Error(`samplingProblem: theta.sampling has shape [${p.shape}], expected [${shape}] for the '${o.layout}' layout of ${h}×${w}.`);
    }
    const s2 = o.parametrisation === 'box' ? tf.square(p) : tf.div(p, tf.sub(1, p));
    return o.layout === 'free' ? s2 : tf.reshape(s2, [h, 1]);
  };
  const weightsSquared = (th: Params) => tf.tidy(() => tf.mul(squared(th), tf.ones([h, w])) as tf.Tensor2D);
  const extremes = (th: Params) => {
    const t = tf.tidy(() => tf.stack([tf.min(squared(th)), tf.max(squared(th))]));
    const [lo, hi] = t.dataSync();
    t.dispose();
    return [lo, hi];
  };
  const thetaOfR = (th: Params): Params => (learnR ? th : fixedR);

  const weightsOf = (th: Params) => squared(th).reshape(o.layout === 'free' ? [1, h, w, 1] : [1, h, 1, 1]);
  // ∇ₓ and ∇²ₓₓ of the data term cost one F and one Fᴴ each (autodiff through the matmul DFT,
  // its transposes and slices costs several times more); the mixed product in p is autodiff
  // through this gradient.
  const gradientR = (x: tf.Tensor, th: Params) => (R.gradient != null ? R.gradient(x, thetaOfR(th)) : grad((z) => R.value(z, thetaOfR(th)), x));
  const derivatives: Derivatives<SamplingData> = {
    gradient: (x, th, d) =>
      tf.tidy(() => {
        const terms = [F.adjoint(tf.mul(weightsOf(th), tf.sub(F.apply(x), d.y))), gradientR(x, th)];
        if (xi > 0) terms.push(tf.mul(xi, x));
        return tf.addN(terms);
      }),
    hessian: (x, th) => {
      const weights = tf.keep(tf.tidy(() => weightsOf(th)));
      const hR = R.hessian != null ? R.hessian(x, thetaOfR(th)) : { apply: (v: tf.Tensor) => hvp((z) => R.value(z, thetaOfR(th)), x, v), dispose: () => {} };
      return {
        apply: (v) =>
          tf.tidy(() => {
            const terms = [F.adjoint(tf.mul(weights, F.apply(v))), hR.apply(v)];
            if (xi > 0) terms.push(tf.mul(xi, v));
            return tf.addN(terms);
          }),
        dispose: () => {
          weights.dispose();
          hR.dispose();
        },
      };
    },
  };
  const problem = defineProblem<SamplingData>({
    ...(o.derivatives ? { derivatives } : {}),
    name: `MRI sampling (${o.layout}, ${o.parametrisation}) with ${R.name}`,
    energy: (x, th, d) =>
      tf.tidy(() => {
        const residual = tf.sub(F.apply(x), d.y);
        const weighted = tf.mul(tf.sum(tf.square(residual), 3), squared(th).reshape(o.layout === 'free' ? [1, h, w] : [1, h, 1]));
        const terms = [tf.mul(0.5, tf.sum(weighted)), R.value(x, thetaOfR(th))];
        if (xi > 0) terms.push(tf.mul(xi / 2, tf.sum(tf.square(x))));
        return tf.addN(terms);
      }),
    init: (th, d) => tf.tidy(() => F.adjoint(tf.mul(d.y, tf.minimum(weightsSquared(th), 1).reshape([1, h, w, 1])))),
    strongConvexity: (th) => Math.max(0, extremes(th)[0]) + xi,
    ...(R.lipschitz != null ? { smoothness: (th: Params) => extremes(th)[1] + xi + R.lipschitz!(thetaOfR(th)) } : {}),
  });
  let disposed = false;
  return {
    problem,
    theta,
    weightsSquared,
    operatorAt(th) {
      const s = tf.tidy(() => tf.sqrt(weightsSquared(th)));
      const ones_ = tf.ones([h, w]);
      try {
        return subsampledFourier(ones_, { weights: s, transform: o.transform });
      } finally {
        tf.dispose([s, ones_]);
      }
    },
    kspace: (x) => F.apply(x) as tf.Tensor4D,
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeParams(Object.fromEntries(Object.entries(theta).filter(([, t]) => !t.isDisposed)));
      disposeParams(Object.fromEntries(Object.entries(fixedR).filter(([, t]) => !t.isDisposed)));
      F.dispose();
    },
  };
}

/** Options of {@link samplingPenalty}. */
export interface SamplingPenaltyOptions {
  /** Weight β₁ ≥ 0 of `‖p‖₁` (fewer samples). */
  beta1?: number;
  /** Weight β₂ ≥ 0 of `‖p(1 − p)‖₁` (pushes each entry to 0 or 1). */
  beta2?: number;
}

/**
 * Sparsity penalty of the sampling parameters, `J(p) = β₁‖p‖₁ + β₂‖p ⊙ (1 − p)‖₁`, `p = theta.sampling`
 * (Sherry et al. 2020 with the box parametrisation, where p = s; with the ratio one and β₂ = 0
 * it is Ehrhardt & Roberts' `‖θ‖₁`). On the box `[0, 1]^m` both norms are sums of smooth
 * terms, `J = (β₁ + β₂) Σ p − β₂ Σ p²`, so it can go into the upper-level loss directly; it is
 * written with `|·|` so it stays a penalty if p leaves the box.
 *
 * @param theta - parameters with `sampling`.
 * @param options - `{ beta1, beta2 }` (both default 0).
 * @returns a scalar tensor.
 * @example
 * ```ts
 * const loss = (x, theta, d) => tf.add(mse(x, d.clean), samplingPenalty(theta, { beta1: 1e-3, beta2: 1e-3 }));
 * ```
 */
export function samplingPenalty(theta: Params, options: SamplingPenaltyOptions = {}): tf.Scalar {
  checkOptions('samplingPenalty', options, { beta1: opt.number(), beta2: opt.number() });
  const b1 = options.beta1 ?? 0;
  const b2 = options.beta2 ?? 0;
  checkNonNegative('samplingPenalty', 'beta1', b1);
  checkNonNegative('samplingPenalty', 'beta2', b2);
  const p = param(theta, 'sampling', 'samplingPenalty');
  return tf.tidy(() => tf.add(tf.mul(b1, tf.sum(tf.abs(p))), tf.mul(b2, tf.sum(tf.abs(tf.mul(p, tf.sub(1, p))))))) as tf.Scalar;
}

/**
 * Structured derivatives of an energy: an analytic gradient, a Hessian prepared at one x, a
 * mixed product, supplied by the problem (or its regularizer) instead of autodiff. Autodiff
 * stays the fallback for whatever is not supplied and the oracle `verify` checks against.
 *
 * Why: on the Field-of-Experts energy a double-backprop HVP re-runs the forward pass and
 * the first backward pass for every CG iteration; the analytic `Hv = v + Σ_k α_k C_kᵀ(ψ''(C_k x) ⊙ C_k v)`
 * with ψ''(C_k x) computed once per linear solve was measured 7.3–7.9× faster.
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import type { Params } from './params.js';
import { keysOf } from './params.js';
import { valueAndGrad, grad, hvp, mixedProduct, valueAndGradParams, withIsolatedTape } from './autodiff.js';
import { seededNormal } from './random.js';
import { opt } from './options.js';

/**
 * The Hessian `∇²ₓₓΦ(x; θ)` prepared at one point: {@link Derivatives.hessian} computes what
 * does not change across a linear solve (for FoE, `α_k ψ''(C_k x)`) once, `apply` is one
 * Hessian-vector product, `dispose` frees what was cached.
 */
export interface HessianAt {
  /** `∇²ₓₓΦ(x; θ) v` (a new tensor the caller owns). */
  apply(v: tf.Tensor): tf.Tensor;
  /** Frees the cached tensors; `apply` must not be called afterwards. */
  dispose(): void;
}

/**
 * Analytic derivatives of `Φ(x; θ, data)`; every field is optional. What is missing comes
 * from autodiff: from the supplied `gradient` when there is one (one backward pass through
 * it for HVPs and mixed products, instead of two through the energy), else from the energy.
 * Each must be written in differentiable tfjs ops (strategies such as unrolled differentiate
 * through `gradient`), and must not dispose its arguments.
 */
export interface Derivatives<D> {
  /** `∇ₓΦ(x; θ, data)`. */
  gradient?(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** `{ value: Φ, grad: ∇ₓΦ }` in one pass (when they share work, e.g. the filter responses). */
  valueAndGradient?(x: tf.Tensor, theta: Params, data: D): { value: tf.Scalar; grad: tf.Tensor };
  /** The Hessian prepared at x (see {@link HessianAt}). */
  hessian?(x: tf.Tensor, theta: Params, data: D): HessianAt;
  /**
   * One Hessian-vector product `∇²ₓₓΦ(x; θ) v` at a new x, for when a single product shares work that a
   * prepared Hessian cannot (for FoE on wasm: `C x` and `C v` in one pass, no `ψ''(C x)` written out).
   * `problem.hvp` uses it; linear solves keep {@link Derivatives.hessian}. Default: `hessian(x).apply(v)`.
   */
  hvp?(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): tf.Tensor;
  /** The mixed product `∇_θ⟨∇ₓΦ(x; θ), v⟩`, a tree shaped like θ. */
  mixed?(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): Params;
}

/** The `verify` option of `defineProblem`: check each supplied derivative against autodiff once. */
export interface VerifyOptions {
  /**
   * Largest accepted relative difference `‖supplied − autodiff‖ / ‖autodiff‖` (default 1e-3:
   * two float32 evaluations of the same derivative in different op orders differ by
   * ~1e-6–1e-5 relative on smooth energies; a wrong formula differs by O(1)).
   */
  tol?: number;
  /** Seed of the random point and direction (default 0). */
  seed?: number;
}

/** Defaults of {@link VerifyOptions}. */
export const VERIFY_DEFAULTS = { tol: 1e-3, seed: 0 } as const;

/** The option schemas of `derivatives` and `verify` (used by defineProblem). */
export const DERIVATIVES_SCHEMA = {
  derivatives: opt.nullable(opt.object({
    gradient: opt.nullable(opt.func('pass (x, theta, data) => ∇ₓΦ')),
    valueAndGradient: opt.nullable(opt.func('pass (x, theta, data) => ({ value, grad })')),
    hessian: opt.nullable(opt.func('pass (x, theta, data) => ({ apply(v), dispose() })')),
    hvp: opt.nullable(opt.func('pass (x, theta, data, v) => ∇²ₓₓΦ v')),
    mixed: opt.nullable(opt.func('pass (x, theta, data, v) => ∇_θ⟨∇ₓΦ, v⟩ as a tree like theta')),
  })),
  verify: opt.nullable(opt.union([opt.boolean(), opt.object({ tol: opt.number({ gt: 0 }), seed: opt.integer() })])),
};

/** Which derivatives a problem supplies (the rest are autodiff). */
export interface SuppliedDerivatives {
  readonly gradient: boolean;
  readonly hessian: boolean;
  readonly mixed: boolean;
}

/** The derivative methods of a Problem, built from the energy and what the spec supplies. */
export interface BuiltDerivatives<D> {
  valueAndGradient(x: tf.Tensor, theta: Params, data: D): { value: tf.Scalar; grad: tf.Tensor };
  gradient(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  hessianAt(x: tf.Tensor, theta: Params, data: D): HessianAt;
  hvp(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): tf.Tensor;
  mixed(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): Params;
  supplied: SuppliedDerivatives;
}

type Energy<D> = (x: tf.Tensor, theta: Params, data: D) => tf.Tensor;

/** Autodiff of the energy: the fallback and the oracle. */
function autodiffOf<D>(energy: Energy<D>) {
  return {
    gradient: (x: tf.Tensor, theta: Params, data: D) => grad((z) => energy(z, theta, data), x),
    hvp: (x: tf.Tensor, theta: Params, data: D, v: tf.Tensor) => hvp((z) => energy(z, theta, data), x, v),
    mixed: (x: tf.Tensor, theta: Params, data: D, v: tf.Tensor) => mixedProduct((z, th) => energy(z, th, data), x, theta, v),
  };
}

/**
 * Builds a problem's derivative methods: the supplied ones, autodiff through a supplied
 * gradient, or autodiff of the energy, in that order; with `verify`, each supplied one is
 * compared with autodiff of the energy at a random point near the first x it sees.
 *
 * @param name - the problem's name, for errors.
 * @param energy - Φ.
 * @param supplied - the spec's `derivatives` (may be undefined).
 * @param verify - the spec's `verify`.
 * @returns the methods and which of them are supplied.
 */
export function buildDerivatives<D>(
  name: string, energy: Energy<D>, supplied: Derivatives<D> | null | undefined, verify: boolean | VerifyOptions | null | undefined,
): BuiltDerivatives<D> {
  const auto = autodiffOf(energy);
  const s = supplied ?? {};
  const suppliedGradient = s.gradient != null || s.valueAndGradient != null;
  const gradientOf = (x: tf.Tensor, theta: Params, data: D): tf.Tensor => {
    if (s.gradient != null) return s.gradient(x, theta, data);
    if (s.valueAndGradient != null) {
      const { value, grad: g } = s.valueAndGradient(x, theta, data);
      value.dispose();
      return g;
    }
    return auto.gradient(x, theta, data);
  };
  const checks = verify ? verifier(name, { ...VERIFY_DEFAULTS, ...(typeof verify === 'object' ? verify : {}) }) : null;
  const checked = { gradient: false, hessian: false, hvp: false, mixed: false };
  const check = (kind: keyof typeof checked, x: tf.Tensor, run: (xr: tf.Tensor, v: tf.Tensor) => [tf.Tensor[], tf.Tensor[]]) => {
    if (checks == null || checked[kind]) return;
    checked[kind] = true;
    checks(kind, x, run);
  };

  const built: BuiltDerivatives<D> = {
    supplied: { gradient: suppliedGradient, hessian: s.hessian != null, mixed: s.mixed != null },
    valueAndGradient(x, theta, data) {
      if (suppliedGradient) check('gradient', x, (xr) => [[gradientOf(xr, theta, data)], [auto.gradient(xr, theta, data)]]);
      if (s.valueAndGradient != null) return s.valueAndGradient(x, theta, data);
      if (s.gradient != null) {
        // the value alone needs no tape
        const value = tf.tidy(() => energy(x, theta, data)) as tf.Scalar;
        return { value, grad: s.gradient(x, theta, data) };
      }
      return valueAndGrad((z) => energy(z, theta, data), x);
    },
    gradient(x, theta, data) {
      if (suppliedGradient) check('gradient', x, (xr) => [[gradientOf(xr, theta, data)], [auto.gradient(xr, theta, data)]]);
      return gradientOf(x, theta, data);
    },
    hessianAt(x, theta, data) {
      if (s.hessian != null) {
        check('hessian', x, (xr, v) => {
          const h = s.hessian!(xr, theta, data);
          try {
            return [[h.apply(v)], [auto.hvp(xr, theta, data, v)]];
          } finally {
            h.dispose();
          }
        });
        return s.hessian(x, theta, data);
      }
      if (suppliedGradient) {
        // H v = J_{∇Φ}(x)ᵀ v (H is symmetric): one backward pass through the supplied gradient
        return { apply: (v) => withIsolatedTape(() => tf.grad((z: tf.Tensor) => tf.sum(tf.mul(gradientOf(z, theta, data), v)))(x)), dispose: () => {} };
      }
      return { apply: (v) => auto.hvp(x, theta, data, v), dispose: () => {} };
    },
    hvp(x, theta, data, v) {
      if (s.hvp != null) {
        check('hvp', x, (xr, w) => [[s.hvp!(xr, theta, data, w)], [auto.hvp(xr, theta, data, w)]]);
        return s.hvp(x, theta, data, v);
      }
      const h = built.hessianAt(x, theta, data);
      try {
        return h.apply(v);
      } finally {
        h.dispose();
      }
    },
    mixed(x, theta, data, v) {
      if (s.mixed != null) {
        check('mixed', x, (xr, w) => {
          const ours = s.mixed!(xr, theta, data, w);
          const theirs = auto.mixed(xr, theta, data, w);
          const keys = keysOf(theirs);
          return [keys.map((k) => ours[k] ?? tf.zerosLike(theirs[k])), keys.map((k) => theirs[k])];
        });
        return s.mixed(x, theta, data, v);
      }
      if (suppliedGradient) {
        const { value, grad: g } = valueAndGradParams((th) => tf.sum(tf.mul(gradientOf(x, th, data), v)), theta);
        value.dispose();
        return g;
      }
      return auto.mixed(x, theta, data, v);
    },
  };
  return built;
}

/** The check `verify` runs once per supplied derivative. */
function verifier(name: string, o: { tol: number; seed: number }) {
  return (kind: string, x: tf.Tensor, run: (xr: tf.Tensor, v: tf.Tensor) => [tf.Tensor[], tf.Tensor[]]): void => {
    const relative = tf.tidy(() => {
      // a random point near x (1% of its RMS), so that special points (x = y, zero responses) do not hide an error
      const rms = Math.sqrt(tf.mean(tf.square(x)).dataSync()[0]) || 1;
      const xr = tf.add(x, tf.mul(seededNormal(x.shape, o.seed), 0.01 * rms));
      const v = seededNormal(x.shape, o.seed + 1);
      const [ours, theirs] = run(xr, v);
      let diff = 0;
      let size = 0;
      ours.forEach((t, i) => {
        diff += tf.sum(tf.square(tf.sub(t, theirs[i]))).dataSync()[0];
        size += tf.sum(tf.square(theirs[i])).dataSync()[0];
      });
      return Math.sqrt(diff) / Math.max(Math.sqrt(size), 1e-30);
    });
    if (!(relative <= o.tol)) {
      throw new Error(`${name}: the supplied derivatives.${kind} disagrees with autodiff of the energy at a random point: relative difference ${relative.toExponential(2)} > verify tol ${o.tol}. Fix the formula (or remove it to fall back to autodiff).`);
    }
  };
}

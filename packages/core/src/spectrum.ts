/**
 * Estimates of the extreme eigenvalues of a symmetric operator given only `v ↦ Av`:
 * power iteration and Lanczos, and from them heuristic estimates of a problem's L and μ.
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import { seededNormal } from './random.js';
import type { Params } from './params.js';
import type { Problem, Data } from './problem.js';
import type { MatVec } from './linear/types.js';
import { checkFinite } from './validate.js';
import { readScalars } from './internal/solver-utils.js';
import { checkOptions, defineOptions, opt, registerOptions } from './options.js';
import { iterate } from './iterate/loop.js';
import { tridiagonalEigenvalue } from './internal/tridiagonal.js';
import type { StatusCode } from './status.js';

/** The Lanczos state: the orthonormal basis v₁ … v_j (α and β live in the closure, as plain numbers). */
interface LanczosState { V: tf.Tensor[] }

/** Eigenvalue estimates of a symmetric operator. */
export interface SpectrumEstimate {
  /** Estimate of λ_max (power iteration: the eigenvalue of largest magnitude). */
  max: number;
  /** Estimate of λ_min (`NaN` when not requested from {@link powerIteration}). */
  min: number;
  /** Iterations (per eigenvalue for power iteration; Lanczos steps for Lanczos). */
  iterations: number;
  /** Matrix–vector products used. */
  matvecs: number;
  /**
   * How the iteration ended (from the shared loop): power iteration `'converged'` (the
   * Rayleigh quotient met `tol`) or `'max-iterations'`; Lanczos `'fixed-steps'` (m steps) or
   * `'converged'` (an invariant subspace: the Ritz values are exact eigenvalues).
   */
  status: StatusCode;
}

/** Options of {@link powerIteration}. */
export interface PowerIterationOptions {
  /** Iteration cap (default 100); the iteration stops earlier when `tol` is met. */
  maxIter?: number;
  /** @deprecated The old name of `maxIter` (a cap, since the iteration stops at `tol`); accepted with a warning for one release. */
  iterations?: number;
  /** Stop when the Rayleigh quotient changes by less than tol relatively (default 1e-5: float32 leaves ~1e-6 noise). */
  tol?: number;
  /** Seed of the random start vector (default 0). */
  seed?: number;
  /** Also estimate λ_min by power iteration on `λ_max I − A` (default false: doubles the cost). */
  min?: boolean;
}

/** Defaults of {@link powerIteration}. */
export const POWER_ITERATION_DEFAULTS = { maxIter: 100, tol: 1e-5, seed: 0, min: false } as const;

/** Options of {@link lanczos}. */
export interface LanczosOptions {
  /** Lanczos steps m (default 30, capped by the dimension). Extreme eigenvalues converge first. */
  iterations?: number;
  /** Seed of the random start vector (default 0). */
  seed?: number;
}

/** Defaults of {@link lanczos}. */
export const LANCZOS_DEFAULTS = { iterations: 30, seed: 0 } as const;

const LANCZOS_SCHEMA = { iterations: opt.integer({ min: 1 }), seed: opt.integer() };
const POWER_ITERATION_OPTIONS = defineOptions<PowerIterationOptions>('powerIteration', {
  maxIter: opt.integer({ min: 1 }), seed: opt.integer(), tol: opt.number({ min: 0 }), min: opt.boolean(),
  iterations: opt.renamed('maxIter'),
}, powerIteration);
const LANCZOS_OPTIONS = defineOptions<LanczosOptions>('lanczos', LANCZOS_SCHEMA, lanczos);
const CURVATURE_SCHEMA = { ...LANCZOS_SCHEMA, safety: opt.number({ min: 1 }, 'pass a safety factor ≥ 1 (1 is the raw Ritz value)') };
registerOptions(estimateLipschitz, defineOptions('estimateLipschitz', CURVATURE_SCHEMA));
registerOptions(estimateStrongConvexity, defineOptions('estimateStrongConvexity', CURVATURE_SCHEMA));

function checkLike(where: string, matvec: MatVec, like: tf.Tensor): void {
  if (typeof matvec !== 'function') throw new Error(`${where}: 'matvec' must be a function v => A v, got ${typeof matvec}.`);
  if (!(like instanceof tf.Tensor)) throw new Error(`${where}: 'like' must be a tf.Tensor giving the shape of v, got ${typeof like}.`);
}

function startVector(like: tf.Tensor, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const v = seededNormal(like.shape, seed);
    return tf.div(v, tf.norm(v));
  });
}

function applyChecked(where: string, matvec: MatVec, v: tf.Tensor): tf.Tensor {
  const out = matvec(v);
  if (!(out instanceof tf.Tensor) || !tf.util.arraysEqual(out.shape, v.shape)) {
    if (out instanceof tf.Tensor) out.dispose();
    throw new Error(`${where}: matvec must return a tensor shaped like its input [${v.shape}].`);
  }
  return out;
}

/** The power-iteration state: the unit vector v and the Rayleigh quotient with its relative change. */
interface PowerState { v: tf.Tensor; value: number; change: number | undefined }

/**
 * Power iteration on `op` on the shared loop ({@link iterate}): the residual is the relative
 * change of the Rayleigh quotient, so `tol` stops it and `maxIter` caps it like any solver.
 */
function dominant(where: string, op: MatVec, like: tf.Tensor, o: { maxIter: number; tol: number; seed: number }): { value: number; iterations: number; status: StatusCode } {
  const out = iterate<PowerState>({
    init: () => ({ v: startVector(like, o.seed), value: NaN, change: undefined }),
    residual: ({ change }) => change,
    step: ({ v, value: previous }) => {
      const av = applyChecked(where, op, v);
      const [rayleigh, norm] = readScalars(tf.tidy(() => tf.sum(tf.mul(v, av))), tf.tidy(() => tf.norm(av)));
      if (!Number.isFinite(norm)) throw new Error(`${where}: the operator produced NaN/Inf; check the matvec (e.g. the HVP at x).`);
      // Av = 0: v is an eigenvector of eigenvalue 0, exactly.
      if (norm === 0) return { state: { v, value: rayleigh, change: 0 }, stop: { status: 'converged', detail: 'Av = 0' } };
      const change = Number.isNaN(previous) ? undefined : Math.abs(rayleigh - previous) / Math.max(Math.abs(rayleigh), 1e-300);
      return { state: { v: tf.div(av, norm), value: rayleigh, change } };
    },
  }, { threshold: o.tol, maxIter: o.maxIter, facts: { where, residualName: 'relative change of vᵀAv', tol: o.tol } });
  out.state.v.dispose();
  return { value: out.state.value, iterations: out.iterations, status: out.status };
}

/**
 * Power iteration for the eigenvalue of largest magnitude of a symmetric operator.
 *
 * `v ← Av/‖Av‖`, estimate `λ ≈ vᵀAv`; converges like `(|λ₂|/|λ₁|)^k`. With `min: true` it
 * runs again on `λ_max I − A` (PSD for PSD A) to get `λ_min = λ_max − λ_max(λ_max I − A)`,
 * which converges slowly when λ_min is small relative to λ_max; prefer {@link lanczos}.
 *
 * @param matvec - `v ↦ Av`, A symmetric.
 * @param like - a tensor with the shape of v.
 * @param options - `maxIter`, `tol`, `seed`, `min`.
 * @returns `{ max, min, iterations, matvecs }` (`min` is NaN unless requested).
 * @example
 * ```ts
 * const { max } = powerIteration((v) => problem.hvp(x, theta, data, v), x, { maxIter: 50 });
 * ```
 */
export function powerIteration(matvec: MatVec, like: tf.Tensor, options: PowerIterationOptions = {}): SpectrumEstimate {
  // User matvecs may allocate intermediates: release them with everything else.
  return tf.tidy(() => powerIterationImpl(matvec, like, options) as unknown as tf.TensorContainer) as unknown as SpectrumEstimate;
}

function powerIterationImpl(matvec: MatVec, like: tf.Tensor, options: PowerIterationOptions): SpectrumEstimate {
  const where = 'powerIteration';
  checkLike(where, matvec, like);
  const o = POWER_ITERATION_OPTIONS.withDefaults(options, POWER_ITERATION_DEFAULTS);
  let matvecs = 0;
  const counted: MatVec = (v) => {
    matvecs += 1;
    return matvec(v);
  };
  const top = dominant(where, counted, like, o);
  let min = NaN;
  let iterations = top.iterations;
  let status = top.status;
  if (o.min) {
    const shift = top.value;
    const bottom = dominant(where, (v) => {
      const av = counted(v);
      const out = tf.tidy(() => tf.sub(tf.mul(v, shift), av));
      av.dispose();
      return out;
    }, like, { ...o, seed: o.seed + 1 });
    min = shift - bottom.value;
    iterations = Math.max(iterations, bottom.iterations);
    if (status === 'converged') status = bottom.status;
  }
  return { max: top.value, min, iterations, matvecs, status };
}

/**
 * Lanczos estimates of the extreme eigenvalues of a symmetric operator.
 *
 * Builds `AV_m = V_m T_m + β_m v_{m+1} e_mᵀ` with T tridiagonal and returns the extreme
 * eigenvalues of T (Ritz values), which converge to λ_min and λ_max much faster than
 * power iteration (like Chebyshev polynomials: `~exp(−2m/√κ)`). The basis is fully
 * reorthogonalised: in float32 plain Lanczos loses orthogonality within a few steps and
 * produces ghost copies of eigenvalues. Ritz values lie inside [λ_min, λ_max], so both
 * estimates err on the inside.
 *
 * @param matvec - `v ↦ Av`, A symmetric.
 * @param like - a tensor with the shape of v.
 * @param options - `iterations` (m), `seed`.
 * @returns `{ max, min, iterations, matvecs }`.
 * @example
 * ```ts
 * const { min, max } = lanczos((v) => problem.hvp(x, theta, data, v), x, { iterations: 20 });
 * const condition = max / min;
 * ```
 */
export function lanczos(matvec: MatVec, like: tf.Tensor, options: LanczosOptions = {}): SpectrumEstimate {
  // User matvecs may allocate intermediates: release them with everything else.
  return tf.tidy(() => lanczosImpl(matvec, like, options) as unknown as tf.TensorContainer) as unknown as SpectrumEstimate;
}

function lanczosImpl(matvec: MatVec, like: tf.Tensor, options: LanczosOptions): SpectrumEstimate {
  const where = 'lanczos';
  checkLike(where, matvec, like);
  const o = LANCZOS_OPTIONS.withDefaults(options, LANCZOS_DEFAULTS);
  const m = Math.min(o.iterations, like.size);
  const alpha: number[] = [];
  const beta: number[] = [];
  // A fixed-steps method on the shared loop (no residual: only the cap stops it): m − 1 steps
  // extend the basis, one matvec each; the m-th matvec only completes α_m, after the loop.
  const out = iterate<LanczosState>({
    init: () => ({ V: [startVector(like, o.seed)] }),
    residual: () => undefined,
    step: ({ V }) => {
      const j = V.length - 1;
      const av = applyChecked(where, matvec, V[j]);
      alpha.push(finiteScalar(where, tf.sum(tf.mul(V[j], av))));
      let w = tf.sub(av, tf.mul(V[j], alpha[j]));
      if (j > 0) w = tf.sub(w, tf.mul(V[j - 1], beta[j - 1]));
      // Full reorthogonalisation (twice is enough, Kahan–Parlett), kept on the device.
      for (let pass = 0; pass < 2; pass++) for (const v of V) w = tf.sub(w, tf.mul(v, tf.sum(tf.mul(w, v))));
      const [b] = readScalars(tf.norm(w));
      // Invariant subspace found: T's eigenvalues are exact eigenvalues of A.
      if (!(b > 1e-6 * Math.max(...alpha.map(Math.abs), 1e-30))) return { state: { V }, stop: { status: 'converged', detail: 'invariant subspace' } };
      beta.push(b);
      return { state: { V: [...V, tf.div(w, b)] } };
    },
  }, { threshold: 0, maxIter: m - 1, facts: { where } });
  const { V } = out.state;
  try {
    if (out.status !== 'converged') {
      const last = V[V.length - 1];
      tf.tidy(() => {
        alpha.push(finiteScalar(where, tf.sum(tf.mul(last, applyChecked(where, matvec, last)))));
      });
    }
  } finally {
    tf.dispose(V);
  }
  const n = alpha.length;
  return {
    max: tridiagonalEigenvalue(alpha, beta.slice(0, n - 1), n - 1),
    min: tridiagonalEigenvalue(alpha, beta.slice(0, n - 1), 0),
    iterations: n,
    matvecs: n,
    status: out.status === 'converged' && n < m ? 'converged' : 'fixed-steps',
  };
}

/** Reads a scalar tensor, throwing when the operator made it NaN/Inf. */
function finiteScalar(where: string, t: tf.Tensor): number {
  const [a] = readScalars(t);
  if (!Number.isFinite(a)) throw new Error(`${where}: the operator produced NaN/Inf; check the matvec (e.g. the HVP at x).`);
  return a;
}

/** Options of {@link estimateLipschitz} and {@link estimateStrongConvexity}. */
export interface CurvatureEstimateOptions extends LanczosOptions {
  /** Multiply (L) or divide (μ) the estimate by this safety factor ≥ 1 (default 1: the raw Ritz value). */
  safety?: number;
}

function hessianSpectrum<D>(where: string, problem: Problem<D>, x: tf.Tensor, theta: Params, data: D, options: CurvatureEstimateOptions) {
  if (problem == null || problem.kind !== 'energy') throw new Error(`${where}: 'problem' must come from defineProblem.`);
  checkFinite(where, 'x', x);
  const { safety = 1, ...rest } = checkOptions(where, options, CURVATURE_SCHEMA);
  return { spectrum: lanczos((v) => problem.hvp(x, theta, data, v), x, rest), safety };
}

/**
 * Heuristic estimate of the smoothness constant L of `∇ₓΦ` near x: the largest Ritz value
 * of the Hessian `∇²ₓₓΦ(x)` from {@link lanczos} on HVPs, times `safety`.
 *
 * Not a certified bound: L is a supremum over all x, and the Ritz value underestimates
 * λ_max(∇²Φ(x)) itself. Use a safety factor (e.g. 1.1–2) before taking steps 1/L.
 *
 * @param problem - the energy problem.
 * @param x - point (e.g. the current inner iterate).
 * @param theta - parameters.
 * @param data - lower-level data.
 * @param options - `iterations`, `seed`, `safety`.
 * @returns the estimate.
 * @example
 * ```ts
 * const L = estimateLipschitz(problem, x, theta, data, { iterations: 20, safety: 1.2 });
 * const solver = richardson({ step: 1 / L });
 * ```
 */
export function estimateLipschitz<D = Data>(problem: Problem<D>, x: tf.Tensor, theta: Params, data: D, options: CurvatureEstimateOptions = {}): number {
  const { spectrum, safety } = hessianSpectrum('estimateLipschitz', problem, x, theta, data, options);
  return spectrum.max * safety;
}

/**
 * Heuristic estimate of the strong-convexity modulus μ near x: the smallest Ritz value of
 * `∇²ₓₓΦ(x)` from {@link lanczos}, divided by `safety`.
 *
 * Not certified: μ is an infimum over all x, and the smallest Ritz value overestimates
 * λ_min(∇²Φ(x)) until Lanczos has converged, so a distance bound ‖∇Φ‖/μ built from it is
 * a heuristic, not a guarantee.
 *
 * @returns the estimate (may be ≤ 0: then Φ is not strongly convex at x).
 * @example
 * ```ts
 * const mu = estimateStrongConvexity(problem, xHat, theta, data, { iterations: 40 });
 * ```
 */
export function estimateStrongConvexity<D = Data>(problem: Problem<D>, x: tf.Tensor, theta: Params, data: D, options: CurvatureEstimateOptions = {}): number {
  const { spectrum, safety } = hessianSpectrum('estimateStrongConvexity', problem, x, theta, data, options);
  return spectrum.min / safety;
}

/**
 * Gradient checks against finite differences, for users' energies, losses and custom
 * gradients.
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import { seededNormal } from './random.js';
import { valueAndGrad, valueAndGradParams } from './autodiff.js';
import { keysOf, disposeParams, type Params } from './params.js';
import { checkFinite } from './validate.js';
import { readScalars } from './internal/solver-utils.js';
import { checkOptions, defineOptions, opt, registerOptions } from './options.js';

/** Options of {@link checkGradient} and {@link checkParamsGradient}. */
export interface GradCheckOptions {
  /** Number of random directions (default 3). */
  directions?: number;
  /**
   * Finite-difference step h along a unit direction. Default `1e-2·max(1, ‖x‖/√n)·√n`:
   * about 1e-2 per entry at the scale of x, where the five-point stencil's truncation
   * error (O(h⁴)) and float32 round-off (O(ε|f|/h)) are both small.
   */
  step?: number;
  /** Seed of the random directions (default 0). */
  seed?: number;
  /** Largest relative error accepted (default 1e-2, see {@link GRADCHECK_DEFAULTS}). */
  tol?: number;
}

/**
 * Defaults of the gradient checks.
 *
 * `tol = 1e-2`: in float32, f(x ± h d) carries a round-off of about ε₃₂|f| ≈ 1e-7|f| (more
 * when f sums many terms), which the stencil divides by h, so the numerical derivative is
 * only good to ~1e-4–1e-3 relative on well-scaled problems; a wrong gradient (a missing
 * term, a sign, a factor 2) is off by 1e-1 or more, so 1e-2 separates the two reliably.
 */
export const GRADCHECK_DEFAULTS = { directions: 3, step: undefined, seed: 0, tol: 1e-2 } as const;

/** One direction's comparison. */
export interface GradCheckEntry {
  /** `⟨∇f(x), d⟩` from autodiff. */
  analytic: number;
  /** Five-point central difference of f along d. */
  numeric: number;
  /** `|analytic − numeric| / max(|analytic|, |numeric|, 1e-3·‖∇f‖, tiny)`. */
  relError: number;
}

/** What the gradient checks return. */
export interface GradCheckResult {
  /** Largest relative error over the directions. */
  maxRelError: number;
  /** `maxRelError ≤ tol` (and everything finite). */
  ok: boolean;
  /** One entry per direction. */
  errors: GradCheckEntry[];
}

const GRADCHECK_SCHEMA = { directions: opt.integer({ min: 1 }), step: opt.number({ gt: 0 }), seed: opt.integer(), tol: opt.number({ min: 0 }) };
registerOptions(checkGradient, defineOptions('checkGradient', GRADCHECK_SCHEMA));
registerOptions(checkParamsGradient, defineOptions('checkParamsGradient', GRADCHECK_SCHEMA));

function resolve(where: string, options: GradCheckOptions) {
  return { ...GRADCHECK_DEFAULTS, ...checkOptions(where, options, GRADCHECK_SCHEMA) };
}

/** Five-point central difference `(−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h` of `t ↦ f(t)`. */
function fivePoint(along: (t: number) => number, h: number): number {
  return (-along(2 * h) + 8 * along(h) - 8 * along(-h) + along(-2 * h)) / (12 * h);
}

function compare(analytic: number, numeric: number, gradNorm: number): GradCheckEntry {
  // A random direction can be nearly orthogonal to ∇f; measuring against 1e-3·‖∇f‖ too
  // keeps a tiny directional derivative from turning round-off into a false alarm.
  const scale = Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3 * gradNorm, 1e-30);
  const relError = Number.isFinite(analytic) && Number.isFinite(numeric) ? Math.abs(analytic - numeric) / scale : Infinity;
  return { analytic, numeric, relError };
}

function summarise(errors: GradCheckEntry[], tol: number): GradCheckResult {
  const maxRelError = Math.max(...errors.map((e) => e.relError));
  return { maxRelError, ok: maxRelError <= tol, errors };
}

function scalarOf(where: string, y: tf.Tensor): number {
  if (y.rank !== 0) {
    y.dispose();
    throw new Error(`${where}: the function must return a scalar, got shape [${y.shape}]; sum it.`);
  }
  return readScalars(y)[0];
}

/**
 * Compares the autodiff gradient of a scalar function with finite differences along
 * random unit directions d: `⟨∇f(x), d⟩` vs
 * `(−f(x+2hd) + 8f(x+hd) − 8f(x−hd) + f(x−2hd)) / 12h` (truncation error O(h⁴)).
 *
 * @param f - scalar function of one tensor.
 * @param x - point (not consumed).
 * @param options - `directions`, `step`, `seed`, `tol`.
 * @returns `{ maxRelError, ok, errors }`.
 * @example
 * ```ts
 * const { ok, maxRelError } = checkGradient((x) => problem.energy(x, theta, data), x0);
 * if (!ok) throw new Error(`gradient off by ${maxRelError}`);
 * ```
 */
export function checkGradient(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, options: GradCheckOptions = {}): GradCheckResult {
  const where = 'checkGradient';
  if (typeof f !== 'function') throw new Error(`${where}: 'f' must be a function x => scalar tensor, got ${typeof f}.`);
  checkFinite(where, 'x', x);
  const o = resolve(where, options);
  const { value, grad } = valueAndGrad(f, x);
  value.dispose();
  const [gradNorm, xNorm] = readScalars(tf.tidy(() => tf.norm(grad)), tf.tidy(() => tf.norm(x)));
  const sqrtN = Math.sqrt(x.size);
  const h = o.step ?? 1e-2 * Math.max(1, xNorm / sqrtN) * sqrtN;
  const errors: GradCheckEntry[] = [];
  try {
    for (let i = 0; i < o.directions; i++) {
      const d = tf.tidy(() => {
        const r = seededNormal(x.shape, o.seed + 7919 * i);
        return tf.div(r, tf.norm(r));
      });
      try {
        const [analytic] = readScalars(tf.tidy(() => tf.sum(tf.mul(grad, d))));
        const numeric = fivePoint((t) => scalarOf(where, tf.tidy(() => f(tf.add(x, tf.mul(d, t))))), h);
        errors.push(compare(analytic, numeric, gradNorm));
      } finally {
        d.dispose();
      }
    }
  } finally {
    grad.dispose();
  }
  return summarise(errors, o.tol);
}

/**
 * {@link checkGradient} for a scalar function of a parameter tree: random unit directions
 * over all leaves together (keys sorted), so every leaf's gradient is exercised.
 *
 * @param f - scalar function of the tree.
 * @param params - point (not consumed).
 * @param options - `directions`, `step`, `seed`, `tol`.
 * @returns `{ maxRelError, ok, errors }`.
 * @example
 * ```ts
 * const { ok } = checkParamsGradient((th) => upperLoss(th), theta, { directions: 5 });
 * ```
 */
export function checkParamsGradient(f: (p: Params) => tf.Tensor, params: Params, options: GradCheckOptions = {}): GradCheckResult {
  const where = 'checkParamsGradient';
  if (typeof f !== 'function') throw new Error(`${where}: 'f' must be a function params => scalar tensor, got ${typeof f}.`);
  const keys = keysOf(params);
  if (keys.length === 0) throw new Error(`${where}: 'params' has no leaves.`);
  for (const k of keys) checkFinite(where, `params.${k}`, params[k]);
  const o = resolve(where, options);
  const { value, grad } = valueAndGradParams(f, params);
  value.dispose();
  const n = keys.reduce((s, k) => s + params[k].size, 0);
  const [gradNorm, xNorm] = readScalars(
    tf.tidy(() => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grad[k])))))),
    tf.tidy(() => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(params[k])))))),
  );
  const h = o.step ?? 1e-2 * Math.max(1, xNorm / Math.sqrt(n)) * Math.sqrt(n);
  const errors: GradCheckEntry[] = [];
  try {
    for (let i = 0; i < o.directions; i++) {
      const d: Params = tf.tidy(() => {
        const raw = keys.map((k, j) => seededNormal(params[k].shape, o.seed + 7919 * i + 104729 * j));
        const norm = tf.sqrt(tf.addN(raw.map((r) => tf.sum(tf.square(r)))));
        const out: Params = {};
        keys.forEach((k, j) => (out[k] = tf.div(raw[j], norm)));
        return out;
      });
      try {
        const [analytic] = readScalars(tf.tidy(() => tf.addN(keys.map((k) => tf.sum(tf.mul(grad[k], d[k]))))));
        const numeric = fivePoint((t) => scalarOf(where, tf.tidy(() => {
          const moved: Params = {};
          for (const k of keys) moved[k] = tf.add(params[k], tf.mul(d[k], t));
          return f(moved);
        })), h);
        errors.push(compare(analytic, numeric, gradNorm));
      } finally {
        disposeParams(d);
      }
    }
  } finally {
    disposeParams(grad);
  }
  return summarise(errors, o.tol);
}

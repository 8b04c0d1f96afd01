import { tf } from '../tf.js';
import { iterate, disposeReplaced } from '../iterate/loop.js';
import { FIXED_POINT_DEFAULTS, type FixedPointSolver, type FixedPointSolveOptions } from './types.js';
import { fixedPointSolver } from './common.js';
import { solveSmall } from '../internal/dense.js';
import { defineOptions, opt } from '../options.js';
import { FIXED_POINT_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link anderson}. */
export interface AndersonOptions extends FixedPointSolveOptions {
  /** Number m of past iterates mixed (1 ≤ m ≤ 5 keeps the least-squares tiny and well posed). */
  memory?: number;
  /** Mixing β ∈ (0, 1]: `x⁺ = β Σαᵢ T(xᵢ) + (1 − β) Σαᵢ xᵢ`. */
  beta?: number;
  /** Tikhonov term of the least squares, relative to the largest ‖gᵢ‖². */
  regularization?: number;
}

/** Defaults of {@link anderson}. */
export const ANDERSON_DEFAULTS = { ...FIXED_POINT_DEFAULTS, memory: 5, beta: 1, regularization: 1e-8 } as const;

/** The last m iterates, their images and residuals gᵢ = T(xᵢ) − xᵢ (flattened), and the Gram matrix GGᵀ. */
interface AndersonState {
  xs: tf.Tensor[];
  fs: tf.Tensor[];
  gs: tf.Tensor[];
  gram: number[];
  r: number;
}

/**
 * The mixing weights: `min_α ‖Σ αᵢ gᵢ‖² + λ‖α‖²  s.t. Σ αᵢ = 1`, by the normal equations
 * `(GGᵀ + λ'I) α ∝ 1` in float64 JS numbers; a singular Gram matrix (repeated residuals)
 * falls back to a plain step from the newest iterate.
 */
function mixingWeights(gram: number[], m: number, regularization: number): number[] {
  if (m === 1) return [1];
  let scale = 0;
  for (let i = 0; i < m; i++) scale = Math.max(scale, gram[i * m + i]);
  const A = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => gram[i * m + j] + (i === j ? regularization * scale : 0)));
  const sol = solveSmall(A, new Array<number>(m).fill(1));
  const total = sol?.reduce((s, v) => s + v, 0) ?? 0;
  return sol != null && Math.abs(total) > 0 ? sol.map((v) => v / total) : Array.from({ length: m }, (_, i) => (i === m - 1 ? 1 : 0));
}

const ANDERSON_OPTIONS = defineOptions<AndersonOptions>('anderson', {
  memory: opt.integer({ min: 1, max: 5 }, 'the float32 least squares degrades beyond memory 5'),
  beta: opt.number({ gt: 0, max: 1 }),
  regularization: opt.number({ min: 0 }),
  ...FIXED_POINT_STOPPING_SCHEMA,
}, anderson);

/**
 * Anderson acceleration (type II, Walker & Ni 2011) of `x = T(x)`.
 *
 * With residuals `gᵢ = T(xᵢ) − xᵢ` of the last m iterates it solves the small constrained
 * least squares `min_α ‖Σ αᵢ gᵢ‖² + λ‖α‖²  s.t. Σ αᵢ = 1` (normal equations
 * `(GGᵀ + λ'I) α ∝ 1` in JS numbers, λ' = λ·max‖gᵢ‖², one m×m Gram read per iteration) and sets
 * `x⁺ = β Σ αᵢ T(xᵢ) + (1 − β) Σ αᵢ xᵢ`. With m = 1 this is damped Picard. One map
 * evaluation per iteration; memory m + 1 pairs of iterates. Runs on the shared loop ({@link iterate}).
 *
 * @param options - `memory` (m), `beta`, `regularization`, default `tol`, `maxIter` ({@link ANDERSON_DEFAULTS}).
 * @returns a {@link FixedPointSolver}.
 * @example
 * ```ts
 * const { x, iterations, converged } = anderson({ memory: 5 }).solve(map, x0, { tol: 1e-6 });
 * ```
 */
export function anderson(options: AndersonOptions = {}): FixedPointSolver {
  const where = 'anderson';
  ANDERSON_OPTIONS.check(options);
  const memory = options.memory ?? ANDERSON_DEFAULTS.memory;
  const beta = options.beta ?? ANDERSON_DEFAULTS.beta;
  const regularization = options.regularization ?? ANDERSON_DEFAULTS.regularization;
  return fixedPointSolver(where, options, (map, x0, { tol, maxIter }) => {
    // Appends x (evaluating T once) to the window, drops the oldest beyond m, reads the Gram matrix.
    const push = (prev: Pick<AndersonState, 'xs' | 'fs' | 'gs'>, x: tf.Tensor): AndersonState => {
      const fx = map(x);
      const drop = prev.xs.length + 1 > memory ? 1 : 0;
      const xs = [...prev.xs, x].slice(drop);
      const fs = [...prev.fs, fx].slice(drop);
      const gs = [...prev.gs, tf.tidy(() => tf.reshape(tf.sub(fx, x), [-1]))].slice(drop);
      const gramTensor = tf.tidy(() => {
        const G = tf.stack(gs) as tf.Tensor2D;
        return tf.matMul(G, G, false, true);
      });
      const gram = Array.from(gramTensor.dataSync());
      gramTensor.dispose();
      return { xs, fs, gs, gram, r: Math.sqrt(Math.max(gram[gs.length * gs.length - 1], 0)) };
    };
    const outcome = iterate<AndersonState>({
      init: () => push({ xs: [], fs: [], gs: [] }, x0.clone()),
      residual: ({ r }) => r,
      step: (state) => {
        const { xs, fs, gs, gram } = state;
        const m = gs.length;
        const alpha = mixingWeights(gram, m, regularization);
        const mixed = tf.tidy(() => {
          let acc: tf.Tensor = tf.zerosLike(xs[m - 1]);
          for (let i = 0; i < m; i++) {
            const term = beta === 1 ? fs[i] : tf.add(tf.mul(beta, fs[i]), tf.mul(1 - beta, xs[i]));
            acc = tf.add(acc, tf.mul(alpha[i], term));
          }
          return acc;
        });
        return { state: push(state, mixed) };
      },
    }, { threshold: tol, maxIter });
    const { xs } = outcome.state;
    const x = xs[xs.length - 1];
    disposeReplaced(outcome.state, x);
    return { x, outcome };
  });
}

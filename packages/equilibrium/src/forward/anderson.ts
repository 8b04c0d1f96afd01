import { tf, checkNonNegative, checkPositiveInt } from '@bilevel/core';
import type { ForwardSolver, ForwardSolveOptions } from './types.js';
import { FORWARD_DEFAULTS } from './types.js';
import { checkKeys, stopping, finish } from '../internal/loop.js';
import { solveSmall } from '../internal/dense.js';

/** Options of {@link anderson}. */
export interface AndersonOptions extends ForwardSolveOptions {
  /** Number m of past iterates mixed (1 ≤ m ≤ 5 keeps the least-squares tiny and well posed). */
  memory?: number;
  /** Mixing β ∈ (0, 1]: `x⁺ = β Σαᵢ T(xᵢ) + (1 − β) Σαᵢ xᵢ`. */
  beta?: number;
  /** Tikhonov term of the least squares, relative to the largest ‖gᵢ‖². */
  regularization?: number;
}

/** Defaults of {@link anderson}. */
export const ANDERSON_DEFAULTS = { ...FORWARD_DEFAULTS, memory: 5, beta: 1, regularization: 1e-8 } as const;

/**
 * Anderson acceleration (type II, Walker & Ni 2011) of `x = T(x)`.
 *
 * With residuals `gᵢ = T(xᵢ) − xᵢ` of the last m iterates it solves the small constrained
 * least squares `min_α ‖Σ αᵢ gᵢ‖² + λ‖α‖²  s.t. Σ αᵢ = 1` (normal equations
 * `(GGᵀ + λ'I) α ∝ 1` in JS numbers, λ' = λ·max‖gᵢ‖², one m×m Gram read per iteration) and sets
 * `x⁺ = β Σ αᵢ T(xᵢ) + (1 − β) Σ αᵢ xᵢ`. With m = 1 this is damped Picard. One map
 * evaluation per iteration; memory m + 1 pairs of iterates.
 *
 * @param options - `memory` (m), `beta`, `regularization`, default `tol`, `maxIter` ({@link ANDERSON_DEFAULTS}).
 * @returns a {@link ForwardSolver}.
 * @example
 * ```ts
 * const { x, iterations, converged } = anderson({ memory: 5 }).solve(map, x0, { tol: 1e-6 });
 * ```
 */
export function anderson(options: AndersonOptions = {}): ForwardSolver {
  const where = 'anderson';
  checkKeys(where, options, ['memory', 'beta', 'regularization', 'tol', 'maxIter']);
  const memory = options.memory ?? ANDERSON_DEFAULTS.memory;
  const beta = options.beta ?? ANDERSON_DEFAULTS.beta;
  const regularization = options.regularization ?? ANDERSON_DEFAULTS.regularization;
  checkPositiveInt(where, 'memory', memory);
  if (memory > 5) throw new Error(`${where}: option 'memory' must be ≤ 5 (the float32 least squares degrades beyond), got ${memory}.`);
  checkNonNegative(where, 'beta', beta, true);
  if (beta > 1) throw new Error(`${where}: option 'beta' must be in (0, 1], got ${beta}.`);
  checkNonNegative(where, 'regularization', regularization);
  stopping(where, options);
  return {
    name: where,
    solve(map, x0, call) {
      const started = performance.now();
      const { tol, maxIter } = stopping(where, options, call);
      const xs: tf.Tensor[] = [];
      const fs: tf.Tensor[] = [];
      const gs: tf.Tensor[] = [];
      let x = x0.clone();
      let k = 0;
      let evals = 0;
      const drop = () => {
        xs.shift()?.dispose();
        fs.shift()?.dispose();
        gs.shift()?.dispose();
      };
      try {
        for (;;) {
          const fx = map(x);
          evals++;
          xs.push(x);
          fs.push(fx);
          gs.push(tf.tidy(() => tf.reshape(tf.sub(fx, x), [-1])));
          if (xs.length > memory) drop();
          const gram = tf.tidy(() => {
            const G = tf.stack(gs) as tf.Tensor2D;
            return tf.matMul(G, G, false, true);
          });
          const values = gram.dataSync();
          gram.dispose();
          const m = gs.length;
          const r = Math.sqrt(Math.max(values[m * m - 1], 0));
          if (r <= tol || !Number.isFinite(r) || k >= maxIter) {
            const out = x.clone();
            return finish(where, out, k, r, tol, maxIter, evals, started);
          }
          let alpha: number[];
          if (m === 1) {
            alpha = [1];
          } else {
            let scale = 0;
            for (let i = 0; i < m; i++) scale = Math.max(scale, values[i * m + i]);
            const A = Array.from({ length: m }, (_, i) =>
              Array.from({ length: m }, (_, j) => values[i * m + j] + (i === j ? regularization * scale : 0)),
            );
            const sol = solveSmall(A, new Array<number>(m).fill(1));
            const total = sol?.reduce((s, v) => s + v, 0) ?? 0;
            // A singular Gram matrix (repeated residuals) falls back to a plain step from the newest iterate.
            alpha = sol != null && Math.abs(total) > 0 ? sol.map((v) => v / total) : gs.map((_, i) => (i === m - 1 ? 1 : 0));
          }
          x = tf.tidy(() => {
            let mixed: tf.Tensor = tf.zerosLike(x);
            for (let i = 0; i < m; i++) {
              const term = beta === 1 ? fs[i] : tf.add(tf.mul(beta, fs[i]), tf.mul(1 - beta, xs[i]));
              mixed = tf.add(mixed, tf.mul(alpha[i], term));
            }
            return mixed;
          });
          k++;
        }
      } finally {
        while (xs.length > 0) drop();
        // x (the next iterate) is never pushed when the loop returns, except as xs' last entry.
      }
    },
  };
}

import { tf, checkNonNegative } from '@bilevel/core';
import type { ForwardSolver, ForwardSolveOptions } from './types.js';
import { FORWARD_DEFAULTS } from './types.js';
import { checkKeys, stopping, readNorm, finish } from '../internal/loop.js';

/** Options of {@link picard}. */
export interface PicardOptions extends ForwardSolveOptions {
  /** Damping d ∈ (0, 1]: `x ← (1 − d)x + d T(x)`. */
  damping?: number;
}

/** Defaults of {@link picard}. */
export const PICARD_DEFAULTS = { ...FORWARD_DEFAULTS, damping: 1 } as const;

/**
 * (Damped) Picard / Krasnosel'skii–Mann iteration `x_{k+1} = (1 − d)x_k + d T(x_k)`.
 *
 * Converges linearly with rate ≤ `1 − d(1 − ρ)` when T is a ρ-contraction; with d < 1 it
 * also converges for merely nonexpansive T (Krasnosel'skii–Mann). One map evaluation per
 * iteration; the residual ‖T(x_k) − x_k‖ comes with it.
 *
 * @param options - `damping` and default `tol`, `maxIter` ({@link PICARD_DEFAULTS}).
 * @returns a {@link ForwardSolver}.
 * @example
 * ```ts
 * const { x, iterations } = picard({ damping: 0.8 }).solve((x) => tf.add(tf.mul(0.5, x), 1), tf.zeros([3]));
 * ```
 */
export function picard(options: PicardOptions = {}): ForwardSolver {
  const where = 'picard';
  checkKeys(where, options, ['damping', 'tol', 'maxIter']);
  const damping = options.damping ?? PICARD_DEFAULTS.damping;
  checkNonNegative(where, 'damping', damping, true);
  if (damping > 1) throw new Error(`${where}: option 'damping' must be in (0, 1], got ${damping}; use damping ≤ 1 (1 = plain Picard).`);
  stopping(where, options);
  return {
    name: where,
    solve(map, x0, call) {
      const started = performance.now();
      const { tol, maxIter } = stopping(where, options, call);
      let x = x0.clone();
      let k = 0;
      let evals = 0;
      for (;;) {
        const tx = map(x);
        evals++;
        const r = readNorm(tf.tidy(() => tf.sub(tx, x)));
        if (r <= tol || !Number.isFinite(r) || k >= maxIter) {
          tx.dispose();
          return finish(where, x, k, r, tol, maxIter, evals, started);
        }
        const next = damping === 1 ? tx : tf.tidy(() => tf.add(tf.mul(1 - damping, x), tf.mul(damping, tx)));
        if (next !== tx) tx.dispose();
        x.dispose();
        x = next;
        k++;
      }
    },
  };
}

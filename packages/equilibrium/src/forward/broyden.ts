import { tf, checkPositiveInt } from '@bilevel/core';
import type { ForwardSolver, ForwardSolveOptions } from './types.js';
import { FORWARD_DEFAULTS } from './types.js';
import { checkKeys, stopping, finish } from '../internal/loop.js';

/** Options of {@link broyden}. */
export interface BroydenOptions extends ForwardSolveOptions {
  /** Number of rank-one updates kept; when full the approximation restarts from −I. */
  memory?: number;
}

/** Defaults of {@link broyden}. */
export const BROYDEN_DEFAULTS = { ...FORWARD_DEFAULTS, memory: 20 } as const;

/**
 * Limited-memory "good" Broyden method for the root `g(x) = T(x) − x = 0`.
 *
 * Keeps `B ≈ (∂g)⁻¹ = −I + Σ uᵢvᵢᵀ` and steps `x⁺ = x − B g(x)` (the first step, B = −I,
 * is a Picard step). After each step with `s = Δx`, `y = Δg` it applies the Sherman–Morrison
 * form of Broyden's update, `u = (s − By)/(sᵀBy)`, `v = Bᵀs`. One map evaluation per
 * iteration; memory 2·`memory` vectors. No line search: on strongly nonlinear maps prefer
 * {@link anderson}.
 *
 * @param options - `memory`, default `tol`, `maxIter` ({@link BROYDEN_DEFAULTS}).
 * @returns a {@link ForwardSolver}.
 * @example
 * ```ts
 * const { x, converged } = broyden({ memory: 10 }).solve(map, x0, { tol: 1e-6 });
 * ```
 */
export function broyden(options: BroydenOptions = {}): ForwardSolver {
  const where = 'broyden';
  checkKeys(where, options, ['memory', 'tol', 'maxIter']);
  const memory = options.memory ?? BROYDEN_DEFAULTS.memory;
  checkPositiveInt(where, 'memory', memory);
  stopping(where, options);
  return {
    name: where,
    solve(map, x0, call) {
      const started = performance.now();
      const { tol, maxIter } = stopping(where, options, call);
      const us: tf.Tensor[] = [];
      const vs: tf.Tensor[] = [];
      // B w = −w + Σ uᵢ ⟨vᵢ, w⟩ and Bᵀ w = −w + Σ vᵢ ⟨uᵢ, w⟩.
      const apply = (w: tf.Tensor, transpose: boolean): tf.Tensor =>
        tf.tidy(() => {
          let out = tf.neg(w);
          for (let i = 0; i < us.length; i++) {
            const [a, b] = transpose ? [vs[i], us[i]] : [us[i], vs[i]];
            out = tf.add(out, tf.mul(a, tf.sum(tf.mul(b, w))));
          }
          return out;
        });
      let x = x0.clone();
      let g = tf.tidy(() => tf.sub(map(x), x));
      let evals = 1;
      let k = 0;
      const norm = (t: tf.Tensor) => {
        const n = tf.tidy(() => tf.norm(t));
        const v = n.dataSync()[0];
        n.dispose();
        return v;
      };
      let r = norm(g);
      try {
        while (!(r <= tol) && Number.isFinite(r) && k < maxIter) {
          const step = tf.tidy(() => tf.neg(apply(g, false)));
          const xNew = tf.add(x, step);
          const gNew = tf.tidy(() => tf.sub(map(xNew), xNew));
          evals++;
          k++;
          const y = tf.sub(gNew, g);
          if (us.length >= memory) {
            us.splice(0).forEach((t) => t.dispose());
            vs.splice(0).forEach((t) => t.dispose());
          }
          const by = apply(y, false);
          const denominator = tf.tidy(() => tf.sum(tf.mul(step, by)));
          const d = denominator.dataSync()[0];
          denominator.dispose();
          if (Math.abs(d) > 1e-30 && Number.isFinite(d)) {
            const v = apply(step, true);
            us.push(tf.tidy(() => tf.div(tf.sub(step, by), d)));
            vs.push(v);
          }
          by.dispose();
          y.dispose();
          step.dispose();
          x.dispose();
          g.dispose();
          x = xNew;
          g = gNew;
          r = norm(g);
        }
        return finish(where, x, k, r, tol, maxIter, evals, started);
      } finally {
        g.dispose();
        us.forEach((t) => t.dispose());
        vs.forEach((t) => t.dispose());
      }
    },
  };
}

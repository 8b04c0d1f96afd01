import { tf } from '../tf.js';
import { iterate } from '../iterate/loop.js';
import { FIXED_POINT_DEFAULTS, type FixedPointSolver, type FixedPointSolveOptions } from './types.js';
import { readNorm, fixedPointSolver } from './common.js';
import { defineOptions, opt } from '../options.js';
import { FIXED_POINT_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link picard}. */
export interface PicardOptions extends FixedPointSolveOptions {
  /** Damping d ∈ (0, 1]: `x ← (1 − d)x + d T(x)`. */
  damping?: number;
}

/** Defaults of {@link picard}. */
export const PICARD_DEFAULTS = { ...FIXED_POINT_DEFAULTS, damping: 1 } as const;

/** Picard's state: the iterate, its image T(x) and ‖T(x) − x‖ (one map evaluation per state). */
interface PicardState {
  x: tf.Tensor;
  tx: tf.Tensor;
  r: number;
}

const PICARD_OPTIONS = defineOptions<PicardOptions>('picard', {
  damping: opt.number({ gt: 0, max: 1 }, 'use damping ≤ 1 (1 = plain Picard)'),
  ...FIXED_POINT_STOPPING_SCHEMA,
}, picard);

/**
 * (Damped) Picard / Krasnosel'skii–Mann iteration `x_{k+1} = (1 − d)x_k + d T(x_k)`.
 *
 * Converges linearly with rate ≤ `1 − d(1 − ρ)` when T is a ρ-contraction; with d < 1 it
 * also converges for merely nonexpansive T (Krasnosel'skii–Mann). One map evaluation per
 * iteration; the residual ‖T(x_k) − x_k‖ comes with it. Runs on the shared loop
 * ({@link iterate}).
 *
 * @param options - `damping` and default `tol`, `maxIter` ({@link PICARD_DEFAULTS}).
 * @returns a {@link FixedPointSolver}.
 * @example
 * ```ts
 * const { x, iterations } = picard({ damping: 0.8 }).solve((x) => tf.add(tf.mul(0.5, x), 1), tf.zeros([3]));
 * ```
 */
export function picard(options: PicardOptions = {}): FixedPointSolver {
  const where = 'picard';
  PICARD_OPTIONS.check(options);
  const damping = options.damping ?? PICARD_DEFAULTS.damping;
  return fixedPointSolver(where, options, (map, x0, { tol, maxIter }) => {
    const evaluated = (x: tf.Tensor): PicardState => {
      const tx = map(x);
      return { x, tx, r: readNorm(tf.sub(tx, x)) };
    };
    const outcome = iterate<PicardState>({
      init: () => evaluated(x0.clone()),
      residual: ({ r }) => r,
      step: ({ x, tx }) => ({ state: evaluated(damping === 1 ? tx : tf.add(tf.mul(1 - damping, x), tf.mul(damping, tx))) }),
    }, { threshold: tol, maxIter });
    outcome.state.tx.dispose();
    return { x: outcome.state.x, outcome };
  });
}

import { tf } from '../tf.js';
import { iterate } from '../iterate/loop.js';
import { FIXED_POINT_DEFAULTS, type FixedPointSolver, type FixedPointSolveOptions } from './types.js';
import { readNorm, fixedPointSolver } from './common.js';
import { defineOptions, opt } from '../options.js';
import { FIXED_POINT_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link broyden}. */
export interface BroydenOptions extends FixedPointSolveOptions {
  /** Number of rank-one updates kept; when full the approximation restarts from −I. */
  memory?: number;
}

/** Defaults of {@link broyden}. */
export const BROYDEN_DEFAULTS = { ...FIXED_POINT_DEFAULTS, memory: 20 } as const;

/** Broyden's state: x, g(x) = T(x) − x, ‖g‖ and the rank-one factors of B = −I + Σ uᵢvᵢᵀ. */
interface BroydenState {
  x: tf.Tensor;
  g: tf.Tensor;
  r: number;
  us: tf.Tensor[];
  vs: tf.Tensor[];
}

/** `B w = −w + Σ uᵢ ⟨vᵢ, w⟩` (or `Bᵀ w` with the roles of u and v swapped). */
function applyB(us: tf.Tensor[], vs: tf.Tensor[], w: tf.Tensor, transpose: boolean): tf.Tensor {
  return tf.tidy(() => {
    let out = tf.neg(w);
    for (let i = 0; i < us.length; i++) {
      const [a, b] = transpose ? [vs[i], us[i]] : [us[i], vs[i]];
      out = tf.add(out, tf.mul(a, tf.sum(tf.mul(b, w))));
    }
    return out;
  });
}

const BROYDEN_OPTIONS = defineOptions<BroydenOptions>('broyden', {
  memory: opt.integer({ min: 1 }),
  ...FIXED_POINT_STOPPING_SCHEMA,
}, broyden);

/**
 * Limited-memory "good" Broyden method for the root `g(x) = T(x) − x = 0`.
 *
 * Keeps `B ≈ (∂g)⁻¹ = −I + Σ uᵢvᵢᵀ` and steps `x⁺ = x − B g(x)` (the first step, B = −I,
 * is a Picard step). After each step with `s = Δx`, `y = Δg` it applies the Sherman–Morrison
 * form of Broyden's update, `u = (s − By)/(sᵀBy)`, `v = Bᵀs`. One map evaluation per
 * iteration; memory 2·`memory` vectors. No line search: on strongly nonlinear maps prefer
 * {@link anderson}. Runs on the shared loop ({@link iterate}).
 *
 * @param options - `memory`, default `tol`, `maxIter` ({@link BROYDEN_DEFAULTS}).
 * @returns a {@link FixedPointSolver}.
 * @example
 * ```ts
 * const { x, converged } = broyden({ memory: 10 }).solve(map, x0, { tol: 1e-6 });
 * ```
 */
export function broyden(options: BroydenOptions = {}): FixedPointSolver {
  const where = 'broyden';
  BROYDEN_OPTIONS.check(options);
  const memory = options.memory ?? BROYDEN_DEFAULTS.memory;
  return fixedPointSolver(where, options, (map, x0, { tol, maxIter }) => {
    const outcome = iterate<BroydenState>({
      init: () => {
        const x = x0.clone();
        const g = tf.tidy(() => tf.sub(map(x), x));
        return { x, g, r: readNorm(g), us: [], vs: [] };
      },
      residual: ({ r }) => r,
      step: ({ x, g, us, vs }) => {
        const step = tf.neg(applyB(us, vs, g, false));
        const xNew = tf.add(x, step);
        const gNew = tf.tidy(() => tf.sub(map(xNew), xNew));
        const y = tf.sub(gNew, g);
        // A full memory restarts B from −I before the update.
        const [u, v]: [tf.Tensor[], tf.Tensor[]] = us.length >= memory ? [[], []] : [[...us], [...vs]];
        const by = applyB(u, v, y, false);
        const d = tf.tidy(() => tf.sum(tf.mul(step, by))).dataSync()[0];
        if (Math.abs(d) > 1e-30 && Number.isFinite(d)) {
          v.push(applyB(u, v, step, true));
          u.push(tf.div(tf.sub(step, by), d));
        }
        return { state: { x: xNew, g: gNew, r: readNorm(gNew), us: u, vs: v } };
      },
    }, { threshold: tol, maxIter });
    const { x, g, us, vs } = outcome.state;
    tf.dispose([g, ...us, ...vs]);
    return { x, outcome };
  });
}

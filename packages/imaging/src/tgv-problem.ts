import { tf, defineProblem, checkOptions } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { tgv, tgvImage } from './regularizers/tgv.js';
import type { TGVOptions } from './regularizers/tgv.js';
import type { ReconstructionData, ReconstructionOptions, ReconstructionProblem } from './problems.js';
import { RECONSTRUCTION_SCHEMA, TGV_SCHEMA, pick } from './internal/options.js';
import { reconstructionParts, reconstructionBundle } from './internal/reconstruction-parts.js';

/** Options of {@link tgvProblem}: the regularizer's ({@link TGVOptions}) and the operator, ξ, name. */
export type TGVProblemOptions = TGVOptions & ReconstructionOptions;

/**
 * TGV² reconstruction over the stacked field `z = (u, w)`, `[b, h, w, 3]`:
 *
 * `Φ(z; θ, {y}) = ½‖A u − y‖² + α Σ √(|∇u − w|² + ν²) + αβ Σ √(|E w|² + ν²) + (ξ/2)‖z‖²`
 *
 * (see {@link tgv}), denoising by default. The minimiser's image is `tgvImage(ẑ)`; the
 * upper-level loss reads it the same way. Starting point `z₀ = (Aᵀy, 0)`.
 *
 * Constants: `L = ‖A‖² + ξ + α(9 + 8β)/ν`. Without ξ the energy is strictly but not uniformly
 * convex in w (its curvature there is `ν²/(|∇u − w|² + ν²)^{3/2}`), so μ = ξ is declared only
 * for ξ > 0.
 *
 * @param options - see {@link TGVProblemOptions} and {@link TGV_DEFAULTS}.
 * @returns a {@link ReconstructionProblem} with `theta = { logAlpha, logBeta }` whose
 *   problem's variable is `[b, h, w, 3]` (the `regularizer` acts on it too).
 * @example
 * ```ts
 * const { problem, theta, dispose } = tgvProblem({ nu: 0.01, alpha: 0.05, beta: 2 });
 * const r = lbfgs().solve(problem, theta, { y: noisy });
 * const denoised = tgvImage(r.x);
 * dispose();
 * ```
 */
export function tgvProblem(options: TGVProblemOptions = {}): ReconstructionProblem {
  checkOptions('tgvProblem', options, { ...TGV_SCHEMA, ...RECONSTRUCTION_SCHEMA });
  const regularizer = tgv(pick(options, TGV_SCHEMA));
  const parts = reconstructionParts('tgvProblem', options);
  const { xi, operator, data } = parts;
  const theta = regularizer.init();
  const smoothness = data.lipschitz != null ? (th: Params) => data.lipschitz! + xi + regularizer.lipschitz!(th) : undefined;
  const problem = defineProblem<ReconstructionData>({
    name: options.name ?? `${regularizer.name}, A = ${operator.name}`,
    energy: (z, th, d) =>
      tf.tidy(() => {
        const terms = [data.value(tgvImage(z), d.y), regularizer.value(z, th)];
        if (xi > 0) terms.push(tf.mul(xi / 2, tf.sum(tf.square(z))));
        return tf.addN(terms);
      }),
    init: (_th, d) =>
      tf.tidy(() => {
        const u = operator.isIdentity ? d.y : operator.adjoint(d.y);
        return tf.concat([u, tf.zeros([u.shape[0]!, u.shape[1]!, u.shape[2]!, 2])], 3);
      }),
    strongConvexity: xi > 0 ? xi : undefined,
    smoothness,
  });
  return reconstructionBundle(problem, theta, regularizer, parts);
}

import { tf, emptyWork, vjp, defineOptions, opt, statusMessage } from '@bilevel/core';
import type { FixedPointRule } from './types.js';
import { countMapVjps, thetaVjp } from './types.js';

/** Options of {@link neumannSeries}. */
export interface NeumannSeriesOptions {
  /** Number of terms K of the series (K VJPs of T in x, one in θ). */
  terms?: number;
}

/** Defaults of {@link neumannSeries}. */
export const DEFAULT_NEUMANN_SERIES_OPTIONS = Object.freeze({ terms: 20 });

const NEUMANN_SERIES_OPTIONS = defineOptions<NeumannSeriesOptions>('neumannSeries', { terms: opt.integer({ min: 1 }) }, neumannSeries);

/**
 * Truncated Neumann-series differentiation rule (Lorraine, Vicol & Duvenaud, "Optimizing
 * Millions of Hyperparameters by Implicit Differentiation", AISTATS 2020, eq. (9) and
 * Algorithm 3).
 *
 * The implicit adjoint `w = (I − ∂ₓT)⁻ᵀ v` is replaced by its first K Neumann terms,
 *
 * `w_K = Σ_{k<K} ((∂ₓT)ᵀ)^k v`,   `(∂x̂/∂θ)ᵀ v ≈ (∂_θT)ᵀ w_K`,
 *
 * at a fixed budget and with no tolerance. For an energy, `T(x) = x − s∇ₓΦ` gives
 * `∂ₓT = I − s∇²ₓₓΦ` and `∂_θT = −s∇²_{xθ}Φ`, so `s·w_K = s Σ_{k<K} (I − s∇²Φ)^k v` is
 * eq. (9)'s approximation of `[∇²ₓₓΦ]⁻¹v` with the inner step s as learning rate. The
 * truncation error is `(∂_θT)ᵀ (I − ∂ₓT)⁻ᵀ ((∂ₓT)ᵀ)^K v`, which decays like ρ^K for a
 * contraction with factor ρ (`1 − sμ` for an energy): the reported residual is
 * `‖(I − ∂ₓT)ᵀ w_K − v‖ = ‖((∂ₓT)ᵀ)^K v‖`, computed by the K-th VJP. K = 1 is the
 * Jacobian-free rule (`w = v`).
 *
 * @param options - the number of terms K.
 * @returns a {@link FixedPointRule}, for `equilibrium({ backward })`.
 * @example
 * ```ts
 * import { equilibrium, neumannSeries } from '@bilevel/equilibrium';
 * const strategy = equilibrium({ backward: neumannSeries({ terms: 20 }) });
 * const r = hypergradient({ problem, theta, data, loss, strategy });
 * ```
 */
export function neumannSeries(options: NeumannSeriesOptions = {}): FixedPointRule {
  const where = 'neumannSeries';
  const { terms } = NEUMANN_SERIES_OPTIONS.withDefaults(options, DEFAULT_NEUMANN_SERIES_OPTIONS);
  return {
    name: `neumannSeries(K=${terms})`,
    vjp({ map, energy, x, theta, cotangent }) {
      const work = emptyWork();
      const step = (u: tf.Tensor) => tf.tidy(() => vjp((z) => map(z, theta), x, u));
      let term = tf.clone(cotangent);
      let sum = tf.clone(cotangent);
      for (let k = 1; k <= terms; k++) {
        const next = step(term);
        term.dispose();
        term = next;
        if (k === terms) break; // the K-th power only measures the residual
        const s = tf.add(sum, term);
        sum.dispose();
        sum = s;
      }
      countMapVjps(work, energy, terms);
      const residualTensor = tf.tidy(() => tf.norm(term));
      const residual = residualTensor.dataSync()[0];
      tf.dispose([term, residualTensor]);
      const grad = thetaVjp(map, x, theta, sum);
      sum.dispose();
      countMapVjps(work, energy, 1);
      work.linearIterations = terms;
      const converged = Number.isFinite(residual);
      return {
        grad,
        residual,
        converged,
        status: converged ? 'fixed-steps' : 'nan',
        iterations: terms,
        message: statusMessage(converged ? 'fixed-steps' : 'nan', {
          where, iterations: terms, residual, residualName: 'truncation residual ‖((∂ₓT)ᵀ)^K v‖',
          fix: converged
            ? "it is a truncated series of (I − ∂ₓT)⁻ᵀ: raise 'terms' (the residual decays like ρ^K), or use backward: 'implicit' for the solved adjoint"
            : 'T is not a contraction at x (for an energy, lower stepSize below 2/L)',
        }),
        work,
      };
    },
  };
}

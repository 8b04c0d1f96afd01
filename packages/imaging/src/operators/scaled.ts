import { tf, checkOptions, opt } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import type { AbsoluteSums } from './absolute-sums.js';
import { checkAlpha } from './absolute-sums.js';

/** Options of {@link scaledOperator}. */
export interface ScaledOperatorOptions {
  /** An upper bound on ‖sA‖; default |s|·`operator.normBound` where the operator declares one. */
  normBound?: number;
  /** A name for messages; default `s·<operator's name>`. */
  name?: string;
}

const SCHEMA = { normBound: opt.number({ gt: 0 }), name: opt.string() };

/**
 * The operator `x ↦ s·A x` (adjoint `s·Aᵀ`), e.g. the normalised `Â = A/‖A‖` that keeps the PDHG
 * steps of a reconstruction saddle problem on the scale of its other blocks. Its
 * {@link AbsoluteSums} are exact where A's are: the matrix of sA has entries s·A_ij, so
 * `rows = |s|^α Σ_j |A_ij|^α` and `columns = |s|^{2−α} Σ_i |A_ij|^{2−α}` (the diagonal steps of
 * Pock & Chambolle 2011, Lemma 2, through piggyback's `precondition: 'diagonal'`). `dispose()` does
 * not dispose A (the caller owns it).
 *
 * @param operator - A (any {@link LinearOperator}).
 * @param factor - s ≠ 0, finite.
 * @param options - `normBound` (e.g. 1.01 when s = 1/‖A‖ from a power iteration), `name`.
 * @returns the scaled operator.
 * @example
 * ```ts
 * const A = radon(32, { angles: 20 });
 * const Ahat = scaledOperator(A, 1 / 40.2, { normBound: 1 });
 * const y = Ahat.apply(x);   // A x / 40.2
 * ```
 */
export function scaledOperator(operator: LinearOperator, factor: number, options: ScaledOperatorOptions = {}): LinearOperator {
  const where = 'scaledOperator';
  if (operator == null || typeof operator.apply !== 'function' || typeof operator.adjoint !== 'function') {
    throw new Error(`${where}: 'operator' must be a LinearOperator (apply and adjoint), got ${operator == null ? String(operator) : typeof operator}.`);
  }
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor === 0) {
    throw new Error(`${where}: 'factor' must be a finite non-zero number, got ${String(factor)}; pass e.g. 1 / ‖A‖ for the normalised operator.`);
  }
  checkOptions(where, options, SCHEMA);
  const s = factor;
  const normBound = options.normBound ?? (operator.normBound == null ? undefined : Math.abs(s) * operator.normBound);
  const sums = operator.absoluteSums;
  return {
    name: options.name ?? `${s}·${operator.name}`,
    inShape: operator.inShape,
    normBound,
    apply: (x) => tf.tidy(() => tf.mul(operator.apply(x), s)),
    adjoint: (y) => tf.tidy(() => tf.mul(operator.adjoint(y), s)),
    absoluteSums: sums == null ? undefined : (alpha, inShape) => {
      checkAlpha(`${where}.absoluteSums`, alpha);
      const a = sums.call(operator, alpha, inShape ?? operator.inShape);
      const out = { rows: tf.mul(a.rows, Math.abs(s) ** alpha), columns: tf.mul(a.columns, Math.abs(s) ** (2 - alpha)) };
      tf.dispose([a.rows, a.columns]);
      return out;
    },
    dispose: () => {},
  };
}

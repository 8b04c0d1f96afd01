/**
 * The small dense solve of Anderson acceleration (its m×m normal equations, m ≤ 5), on
 * core's hand-written LU ({@link luFactor}; `dense.ts` gives the measured reason mathjs is
 * not used in the library code).
 *
 * @packageDocumentation
 */
import { luFactor } from '../dense.js';

/**
 * Solves the small dense system `A x = b` in float64 (LU with partial pivoting).
 *
 * @param A - the n×n matrix, by rows.
 * @param b - the right-hand side.
 * @returns x, or null when A is singular or the solution is not finite.
 */
export function solveSmall(A: number[][], b: number[]): number[] | null {
  // Pivot tolerance 0: only an exactly zero pivot is singular (as mathjs's lusolve, which
  // this replaced, so the regularised Gram systems are solved exactly as before).
  const x = luFactor(A, 0)?.solve(b);
  return x != null && x.every(Number.isFinite) ? x : null;
}

/**
 * Small dense float64 linear algebra (JS numbers) by mathjs: the m×m normal equations of
 * Anderson acceleration (m ≤ 5). mathjs is imported function by function so a browser
 * bundle carries only `lusolve` and what it needs (measured with esbuild, minified:
 * +197 KB, +61 KB gzipped, on core's 69 KB / 23 KB without tfjs; `create({ lusolveDependencies })`
 * came out 10 KB larger, so the direct import is used).
 *
 * @packageDocumentation
 */
import { lusolve } from 'mathjs';

/**
 * Solves the small dense system `A x = b` in float64 (LU with partial pivoting).
 *
 * @param A - the n×n matrix, by rows.
 * @param b - the right-hand side.
 * @returns x, or null when A is singular or the solution is not finite.
 */
export function solveSmall(A: number[][], b: number[]): number[] | null {
  let x: number[];
  try {
    x = (lusolve(A, b) as number[][]).map((row) => row[0]);
  } catch {
    return null; // mathjs throws on a zero pivot: "matrix is singular"
  }
  return x.every(Number.isFinite) ? x : null;
}

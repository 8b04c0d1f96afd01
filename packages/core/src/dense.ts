/**
 * Small dense float64 linear algebra on plain number arrays (JS numbers): the m×m (m ≤ 5)
 * normal equations of Anderson acceleration, and the interpolation and trust-region systems
 * (a few dozen unknowns) of `@bilevel/outer`'s derivative-free method.
 *
 * Hand-written on purpose rather than mathjs (the design's choice for dense float64 algebra,
 * still used for the test fixtures' references). Measured with esbuild (`--bundle --minify`,
 * ESM, browser, tfjs external, gzip): core's browser bundle is 27.3 kB gzipped without
 * mathjs and 89.3 kB with `import { lusolve } from 'mathjs'`; `create({ lusolveDependencies })`
 * is larger still (64.2 kB for lusolve alone vs 61.2 kB), mathjs's per-function files are not
 * importable (its `exports` map exposes only `.` and `./number`, which has no matrix
 * functions), and its smallest matrix function, `matrix`, alone costs 43.9 kB gzipped
 * (typed-function and the Matrix classes come with every one). Twenty-five lines of
 * partial-pivoting LU cost ~0.3 kB. For the derivative-free method mathjs's `lup` + `lusolve`
 * were also 25× slower (0.62 vs 0.024 ms per factorisation + 10 solves, size 17) and their
 * other rounding order moved every measured DFO trajectory (outer's README).
 *
 * @packageDocumentation
 */

/** An LU factorisation `PA = LU` that solves `A x = b` for any number of right-hand sides. */
export interface LuFactorization {
  /** `x = A⁻¹ b` by forward and back substitution (O(n²)). */
  solve(b: number[]): number[];
}

/**
 * LU factorisation with partial pivoting of a small dense matrix, in float64.
 *
 * Doolittle elimination `PA = LU` (Golub & Van Loan, *Matrix Computations*, 4th ed. 2013,
 * Algorithm 3.4.1): at column k the row with the largest |a_ik| is swapped up, then
 * `a_ij ← a_ij − (a_ik/a_kk) a_kj`. A pivot of magnitude ≤ `relativePivotTol · max|a_ij|`
 * means the matrix is numerically singular. O(n³/3) flops; meant for n up to a few dozen.
 *
 * @param matrix - the n×n matrix, by rows (not modified).
 * @param relativePivotTol - pivots at or below this times the largest entry count as zero
 *   (default 1e-13, a few hundred float64 round-offs; 0 rejects only exact zeros).
 * @returns `{ solve(b) }`, or `undefined` when the matrix is singular, empty-scaled or not finite.
 * @example
 * ```ts
 * const lu = luFactor([[4, 1], [1, 3]]);
 * const x = lu?.solve([1, 2]); // [1/11, 7/11]
 * ```
 */
export function luFactor(matrix: number[][], relativePivotTol = 1e-13): LuFactorization | undefined {
  const n = matrix.length;
  const a = matrix.map((row) => row.slice());
  const perm = Array.from({ length: n }, (_, i) => i);
  let scale = 0;
  for (const row of a) for (const v of row) scale = Math.max(scale, Math.abs(v));
  if (!(scale > 0) || !Number.isFinite(scale)) return undefined;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i][k]) > Math.abs(a[p][k])) p = i;
    if (!(Math.abs(a[p][k]) > relativePivotTol * scale)) return undefined;
    if (p !== k) {
      [a[p], a[k]] = [a[k], a[p]];
      [perm[p], perm[k]] = [perm[k], perm[p]];
    }
    for (let i = k + 1; i < n; i++) {
      const f = a[i][k] / a[k][k];
      a[i][k] = f;
      for (let j = k + 1; j < n; j++) a[i][j] -= f * a[k][j];
    }
  }
  return {
    solve(b: number[]): number[] {
      const y = perm.map((i) => b[i]);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) y[i] -= a[i][j] * y[j];
      for (let i = n - 1; i >= 0; i--) {
        for (let j = i + 1; j < n; j++) y[i] -= a[i][j] * y[j];
        y[i] /= a[i][i];
      }
      return y;
    },
  };
}

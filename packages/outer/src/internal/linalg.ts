// Small dense linear algebra on plain number arrays (float64) for the derivative-free method:
// its systems have a few dozen unknowns at most, far below where tensors pay off.
// The LU is hand-written on purpose. mathjs's `lup` + `lusolve` (tried, 2026-12-01) were as
// accurate on the method's KKT systems (largest residual 1.4e-14 vs 1.8e-14, solutions equal
// to 7e-14) but 25× slower per factorisation + 10 solves (0.62 vs 0.024 ms, size 17), and
// their other rounding order moves the trajectories: dfo.test.ts work 659 → 771 and 1115 →
// 1238 (dynamic, dim 3 / 5), 1186 → 883 on smoothed TV, so every measured DFO figure in the
// READMEs would change.

/** LU factorisation with partial pivoting; `undefined` when a pivot is negligible (singular system). */
export function luFactor(matrix: number[][], relativePivotTol = 1e-13): { solve(b: number[]): number[] } | undefined {
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

export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
export const normInf = (a: number[]): number => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
export const matvec = (m: number[][], v: number[]): number[] => m.map((row) => dot(row, v));
/** sᵀMs/2 + gᵀs: the model change along s. */
export const quadraticChange = (g: number[], h: number[][], s: number[]): number => dot(g, s) + 0.5 * dot(s, matvec(h, s));

// Tiny dense float64 linear algebra for closed-form references (matrices are small).
export type Mat = number[][];

export const zeros = (r: number, c: number): Mat => Array.from({ length: r }, () => new Array(c).fill(0));
export const transpose = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
export function matmul(a: Mat, b: Mat): Mat {
  const out = zeros(a.length, b[0].length);
  for (let i = 0; i < a.length; i++) for (let k = 0; k < b.length; k++) {
    const v = a[i][k];
    if (v === 0) continue;
    for (let j = 0; j < b[0].length; j++) out[i][j] += v * b[k][j];
  }
  return out;
}
export const matvec = (a: Mat, x: number[]): number[] => a.map((row) => row.reduce((s, v, j) => s + v * x[j], 0));
export const add = (x: number[], y: number[]): number[] => x.map((v, i) => v + y[i]);
export const sub = (x: number[], y: number[]): number[] => x.map((v, i) => v - y[i]);
export const scale = (x: number[], s: number): number[] => x.map((v) => v * s);
export const dot = (x: number[], y: number[]): number => x.reduce((s, v, i) => s + v * y[i], 0);
export const norm = (x: number[]): number => Math.sqrt(dot(x, x));

/** Solves a x = b by Gaussian elimination with partial pivoting. */
export function solve(a: Mat, b: number[]): number[] {
  const n = a.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

/** Eigenvalues of a symmetric matrix (cyclic Jacobi), ascending. */
export function symEig(a0: Mat): number[] {
  const n = a0.length;
  const a = a0.map((r) => r.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) {
      if (Math.abs(a[p][q]) < 1e-300) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < n; k++) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < n; k++) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
    }
  }
  return a.map((r, i) => r[i]).sort((x, y) => x - y);
}

/** Spectral norm ‖a‖₂. */
export const norm2 = (a: Mat): number => Math.sqrt(Math.max(...symEig(matmul(transpose(a), a))));

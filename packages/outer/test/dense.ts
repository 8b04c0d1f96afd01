// Tiny dense float64 linear algebra for closed-form references (matrices are small).
import { transpose, matvec, sub, dot, norm, solve, type Mat } from '../../core/test/quadratic-bilevel.js';

export { transpose, matvec, sub, dot, norm, solve, type Mat };

export const zeros = (r: number, c: number): Mat => Array.from({ length: r }, () => new Array(c).fill(0));
/** Product that skips zero entries of `a` (the fixtures' matrices are often sparse). */
export function matmul(a: Mat, b: Mat): Mat {
  const out = zeros(a.length, b[0].length);
  for (let i = 0; i < a.length; i++) for (let k = 0; k < b.length; k++) {
    const v = a[i][k];
    if (v === 0) continue;
    for (let j = 0; j < b[0].length; j++) out[i][j] += v * b[k][j];
  }
  return out;
}
export const add = (x: number[], y: number[]): number[] => x.map((v, i) => v + y[i]);
export const scale = (x: number[], s: number): number[] => x.map((v) => v * s);

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

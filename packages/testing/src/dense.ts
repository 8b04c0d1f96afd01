// Float64 dense linear algebra for closed-form references (the fixtures' matrices are small).
// Solves, inverses, products and extreme eigenvalues are mathjs's (`lusolve`, `inv`, `multiply`,
// `eigs`); the elementwise helpers are one-liners.
import { create, lusolveDependencies, invDependencies, multiplyDependencies, eigsDependencies } from 'mathjs';

const math = create({ lusolveDependencies, invDependencies, multiplyDependencies, eigsDependencies });

export type Mat = number[][];

export const zeros = (r: number, c: number): Mat => Array.from({ length: r }, () => new Array(c).fill(0));
export const identity = (n: number): Mat => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j) => (i === j ? 1 : 0)));
export const transpose = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
export const matvec = (a: Mat, v: number[]): number[] => a.map((row) => row.reduce((s, x, k) => s + x * v[k], 0));
export const add = (x: number[], y: number[]): number[] => x.map((v, i) => v + y[i]);
export const sub = (a: number[], b: number[]): number[] => a.map((v, i) => v - b[i]);
export const scale = (x: number[], s: number): number[] => x.map((v) => v * s);
export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
export const norm = (a: number[]): number => Math.sqrt(dot(a, a));
/** a + s·I. */
export const shiftDiagonal = (a: Mat, s: number): Mat => a.map((row, i) => row.map((v, j) => v + (i === j ? s : 0)));

/** Matrix product (mathjs `multiply`). */
export const matmul = (a: Mat, b: Mat): Mat => math.multiply(a, b) as Mat;

/** Solves `A x = b` (mathjs `lusolve`: LU with partial pivoting). */
export function solve(a: Mat, b: number[]): number[] {
  return (math.lusolve(a, b) as number[][]).map((row) => row[0]);
}

/** A⁻¹ (mathjs `inv`). */
export const inverse = (a: Mat): Mat => math.inv(a) as Mat;

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

/** Largest and smallest eigenvalues of a symmetric matrix (mathjs `eigs`, float64). */
export function extremeEigenvalues(h: Mat): { max: number; min: number } {
  const values = math.eigs(h, { eigenvectors: false }).values as number[];
  return { max: Math.max(...values), min: Math.min(...values) };
}

/** Relative error ‖a − b‖/‖b‖ of a float32 result against float64 numbers. */
export function relErrNumbers(a: ArrayLike<number>, b: number[]): number {
  const diff = Array.from(a).map((v, i) => v - b[i]);
  return norm(diff) / Math.max(norm(b), 1e-300);
}

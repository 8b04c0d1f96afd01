/**
 * Test fixtures shared by the strategy packages' tests (unrolled, equilibrium): the closed-form bilevel
 * quadratic (exact hypergradient in float64 with dense JS linear algebra) and a
 * non-quadratic log-cosh energy.
 */
import { tf, defineProblem } from '../src/index.js';
import type { Params, Problem } from '../src/index.js';
import { lusolve, eigs } from 'mathjs';

export type Matrix = number[][];

/** Seeded standard normals (mulberry32 + Box–Muller). */
export function gaussians(count: number, seed: number): number[] {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: number[] = [];
  while (out.length < count) {
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const g = gaussians(rows * cols, seed);
  return Array.from({ length: rows }, (_, i) => g.slice(i * cols, (i + 1) * cols).map((v) => v * scale));
}

export const transpose = (A: Matrix): Matrix => A[0].map((_, j) => A.map((row) => row[j]));
export const matmul = (A: Matrix, B: Matrix): Matrix =>
  A.map((row) => B[0].map((_, j) => row.reduce((s, a, k) => s + a * B[k][j], 0)));
export const matvec = (A: Matrix, x: number[]): number[] => A.map((row) => row.reduce((s, a, k) => s + a * x[k], 0));
export const sub = (a: number[], b: number[]): number[] => a.map((v, i) => v - b[i]);
export const norm = (a: number[]): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

/** Solves A x = b in float64 (mathjs LU with partial pivoting). */
export function solveDense(A: Matrix, b: number[]): number[] {
  return (lusolve(A, b) as number[][]).map((row) => row[0]);
}

/** Largest and smallest eigenvalues of a symmetric matrix (mathjs `eigs`, float64). */
export function extremeEigenvalues(H: Matrix): { max: number; min: number } {
  const values = eigs(H, { eigenvectors: false }).values as number[];
  return { max: Math.max(...values), min: Math.min(...values) };
}

/**
 * Closed-form bilevel quadratic:
 * upper `ℓ(x) = ½‖A₁x − b₁‖²`, lower `x̂(θ) = argmin_x ½‖A₂x + A₃θ − b₂‖² + ½ξ‖x‖²`,
 * so `H = A₂ᵀA₂ + ξI`, `x̂ = −H⁻¹A₂ᵀ(A₃θ − b₂)` and `∇F(θ) = −A₃ᵀA₂H⁻¹A₁ᵀ(A₁x̂ − b₁)`.
 */
export interface Quadratic {
  n: number;
  p: number;
  xi: number;
  A1: Matrix;
  b1: number[];
  A2: Matrix;
  A3: Matrix;
  b2: number[];
  theta0: number[];
  H: Matrix;
  L: number;
  mu: number;
  /** Exact x̂(θ) and ∇F(θ) in float64. */
  exact(theta: number[]): { x: number[]; grad: number[]; value: number };
}

export function makeQuadratic(n = 10, p = 3, xi = 0.5, seed = 1): Quadratic {
  const m1 = 8;
  const m2 = 12;
  const A1 = randomMatrix(m1, n, seed, 1 / Math.sqrt(m1));
  const b1 = gaussians(m1, seed + 1);
  const A2 = randomMatrix(m2, n, seed + 2, 1 / Math.sqrt(m2));
  const A3 = randomMatrix(m2, p, seed + 3, 1 / Math.sqrt(m2));
  const b2 = gaussians(m2, seed + 4);
  const theta0 = gaussians(p, seed + 5);
  const A2t = transpose(A2);
  const H = matmul(A2t, A2).map((row, i) => row.map((v, j) => v + (i === j ? xi : 0)));
  const { max, min } = extremeEigenvalues(H);
  const exact = (theta: number[]) => {
    const c = sub(matvec(A3, theta), b2);
    const x = solveDense(H, matvec(A2t, c)).map((v) => -v);
    const r = sub(matvec(A1, x), b1);
    const q = solveDense(H, matvec(transpose(A1), r));
    const grad = matvec(transpose(A3), matvec(A2, q)).map((v) => -v);
    return { x, grad, value: 0.5 * r.reduce((s, v) => s + v * v, 0) };
  };
  return { n, p, xi, A1, b1, A2, A3, b2, theta0, H, L: max, mu: min, exact };
}

export interface QuadraticData {
  [key: string]: tf.Tensor;
  A1: tf.Tensor2D;
  b1: tf.Tensor1D;
  A2: tf.Tensor2D;
  A3: tf.Tensor2D;
  b2: tf.Tensor1D;
}

/** The quadratic as tensors: problem, loss, data and θ (caller disposes data and theta). */
export function quadraticTensors(q: Quadratic): {
  problem: Problem<QuadraticData>;
  loss: (x: tf.Tensor, theta: Params, data: QuadraticData) => tf.Tensor;
  data: QuadraticData;
  theta: Params;
} {
  const data: QuadraticData = {
    A1: tf.tensor2d(q.A1),
    b1: tf.tensor1d(q.b1),
    A2: tf.tensor2d(q.A2),
    A3: tf.tensor2d(q.A3),
    b2: tf.tensor1d(q.b2),
  };
  const mv = (A: tf.Tensor, x: tf.Tensor) => tf.squeeze(tf.matMul(A as tf.Tensor2D, tf.reshape(x, [-1, 1]) as tf.Tensor2D), [1]);
  const problem = defineProblem<QuadraticData>({
    name: 'bilevel quadratic',
    energy: (x, theta, d) =>
      tf.add(
        tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.add(mv(d.A2, x), mv(d.A3, theta.theta)), d.b2)))),
        tf.mul(0.5 * q.xi, tf.sum(tf.square(x))),
      ),
    init: () => tf.zeros([q.n]),
    smoothness: q.L,
    strongConvexity: q.mu,
  });
  const loss = (x: tf.Tensor, _theta: Params, d: QuadraticData) => tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.A1, x), d.b1))));
  return { problem, loss, data, theta: { theta: tf.tensor1d(q.theta0) } };
}

export function disposeData(d: Record<string, tf.Tensor>): void {
  for (const k of Object.keys(d)) d[k].dispose();
}

/** Relative error of a float32 result against float64 numbers. */
export function relErrNumbers(a: ArrayLike<number>, b: number[]): number {
  const diff = Array.from(a).map((v, i) => v - b[i]);
  return norm(diff) / Math.max(norm(b), 1e-300);
}

/**
 * Non-quadratic energy `Φ(x; θ) = ½‖x − y‖² + α Σ logcosh(c ⊙ x)` with θ = { alpha, c }
 * (logcosh written as |z| + softplus(−2|z|) − log 2, which is second-order safe), loss
 * `ℓ(x) = ½‖x − target‖²`. Convex in x with L ≤ 1 + α max c².
 */
export function logCoshProblem(n: number, seed: number) {
  const logcosh = (z: tf.Tensor) => tf.sub(tf.add(tf.abs(z), tf.softplus(tf.mul(-2, tf.abs(z)))), Math.log(2));
  const data = { y: tf.tensor1d(gaussians(n, seed).map((v) => 2 * v)), target: tf.tensor1d(gaussians(n, seed + 1)) };
  const problem = defineProblem<typeof data>({
    name: 'log-cosh denoising',
    energy: (x, theta, d) =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(theta.alpha, tf.sum(logcosh(tf.mul(theta.c, x))))),
    init: (_theta, d) => d.y.clone(),
    strongConvexity: 1,
  });
  const loss = (x: tf.Tensor, _theta: Params, d: typeof data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.target))));
  const theta: Params = { alpha: tf.scalar(0.8), c: tf.tensor1d(gaussians(n, seed + 2).map((v) => 1 + 0.3 * v)) };
  return { problem, loss, data, theta };
}

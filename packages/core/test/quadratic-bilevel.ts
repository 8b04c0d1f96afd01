/**
 * Closed-form bilevel quadratic (test fixture), exact in float64 JS:
 *
 *   lower  x̂(θ) = argmin_x ½‖A₂x + A₃θ − b₂‖² + ½ξ‖x‖²  ⇒  H x̂ = A₂ᵀ(b₂ − A₃θ),  H = A₂ᵀA₂ + ξI
 *   upper  F(θ) = ½‖A₁x̂(θ) − b₁‖²                      ⇒  ∇F = −A₃ᵀA₂ H⁻¹ A₁ᵀ(A₁x̂ − b₁)
 */
import { tf, defineProblem } from '../src/index.js';
import type { Params, Problem } from '../src/index.js';
import { lusolve } from 'mathjs';

export type Mat = number[][];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}
export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Mat {
  const r = lcg(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => gaussian(r) * scale));
}
export const transpose = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
export const matmul = (a: Mat, b: Mat): Mat => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
export const matvec = (a: Mat, v: number[]): number[] => a.map((row) => row.reduce((s, x, k) => s + x * v[k], 0));
export const sub = (a: number[], b: number[]): number[] => a.map((v, i) => v - b[i]);
export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
export const norm = (a: number[]): number => Math.sqrt(dot(a, a));

/** Solves `A x = b` in float64 (mathjs LU with partial pivoting). */
export function solve(a: Mat, b: number[]): number[] {
  return (lusolve(a, b) as number[][]).map((row) => row[0]);
}

export interface QuadraticFixture {
  n: number;
  p: number;
  A1: Mat; b1: number[]; A2: Mat; A3: Mat; b2: number[]; xi: number;
  H: Mat;
  /** μ = λ_min(H) ≥ ξ (ξ is used: a valid lower bound) and L = λ_max(H) upper bound (Frobenius). */
  mu: number;
  L: number;
  exact(theta: number[]): { x: number[]; grad: number[]; value: number };
  problem: Problem<Record<string, tf.Tensor>>;
  data(): Record<string, tf.Tensor>;
  loss: (x: tf.Tensor, theta: Params, data: Record<string, tf.Tensor>) => tf.Tensor;
}

export function quadraticFixture(n = 10, p = 4, seed = 7): QuadraticFixture {
  const m2 = n + 2;
  const m1 = n;
  const A1 = randomMatrix(m1, n, seed + 1, 1 / Math.sqrt(m1));
  const b1 = randomMatrix(1, m1, seed + 2)[0];
  const A2 = randomMatrix(m2, n, seed + 3, 1 / Math.sqrt(m2));
  const A3 = randomMatrix(m2, p, seed + 4, 1 / Math.sqrt(m2));
  const b2 = randomMatrix(1, m2, seed + 5)[0];
  const xi = 0.5;
  const A2t = transpose(A2);
  const H = matmul(A2t, A2).map((row, i) => row.map((v, j) => v + (i === j ? xi : 0)));
  const frob = Math.sqrt(H.flat().reduce((s, v) => s + v * v, 0));
  const exact = (theta: number[]) => {
    const rhs = matvec(A2t, sub(b2, matvec(A3, theta)));
    const x = solve(H, rhs);
    const r1 = sub(matvec(A1, x), b1);
    const q = solve(H, matvec(transpose(A1), r1));
    const grad = matvec(transpose(A3), matvec(A2, q)).map((v) => -v);
    return { x, grad, value: 0.5 * dot(r1, r1) };
  };
  const problem = defineProblem<Record<string, tf.Tensor>>({
    name: 'bilevel quadratic',
    energy: (x, theta, d) =>
      tf.tidy(() => {
        const r = tf.sub(tf.add(tf.matMul(d.A2, tf.reshape(x, [n, 1])), tf.matMul(d.A3, tf.reshape(theta.theta, [p, 1]))), d.b2);
        return tf.add(tf.mul(0.5, tf.sum(tf.square(r))), tf.mul(0.5 * xi, tf.sum(tf.square(x))));
      }),
    init: () => tf.zeros([n]),
    strongConvexity: xi,
    smoothness: frob,
  });
  const data = () => ({
    A1: tf.tensor2d(A1),
    b1: tf.tensor2d(b1.map((v) => [v])),
    A2: tf.tensor2d(A2),
    A3: tf.tensor2d(A3),
    b2: tf.tensor2d(b2.map((v) => [v])),
  });
  const loss = (x: tf.Tensor, _theta: Params, d: Record<string, tf.Tensor>) =>
    tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.matMul(d.A1, tf.reshape(x, [n, 1])), d.b1)))));
  return { n, p, A1, b1, A2, A3, b2, xi, H, mu: xi, L: frob, exact, problem, data, loss };
}

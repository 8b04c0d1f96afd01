// Closed-form bilevel quadratics, exact in float64:
//
//   lower  x̂(θ) = argmin_x ½‖A₂x + A₃θ − b₂‖² + ½ξ‖x‖²  ⇒  H x̂ = A₂ᵀ(b₂ − A₃θ),  H = A₂ᵀA₂ + ξI
//   upper  F(θ) = ½‖A₁x̂(θ) − b₁‖²                      ⇒  ∇F = −A₃ᵀA₂ H⁻¹ A₁ᵀ(A₁x̂ − b₁)
//
// Two instances with their own random streams and tensor layouts: `makeQuadratic` (mulberry32,
// vectors; the unrolled and equilibrium tables) and `quadraticFixture` (LCG, column vectors;
// the implicit, jfb and argmin tests).
import { tf, defineProblem } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import { gaussians, randomMatrix, lcgGaussianMatrix } from '../random.js';
import { transpose, matmul, matvec, sub, dot, solve, shiftDiagonal, extremeEigenvalues, type Mat } from '../dense.js';

/** Exact x̂(θ), ∇F(θ) and F(θ) of the quadratic with matrices A₁, b₁, A₂, A₃, b₂ and H. */
function exactOf(A1: Mat, b1: number[], A2: Mat, A3: Mat, b2: number[], H: Mat) {
  return (theta: number[]) => {
    const x = solve(H, matvec(transpose(A2), sub(b2, matvec(A3, theta))));
    const r = sub(matvec(A1, x), b1);
    const q = solve(H, matvec(transpose(A1), r));
    const grad = matvec(transpose(A3), matvec(A2, q)).map((v) => -v);
    return { x, grad, value: 0.5 * dot(r, r) };
  };
}

/** The bilevel quadratic of the strategy tables (n = dim x, p = dim θ). */
export interface Quadratic {
  n: number;
  p: number;
  xi: number;
  A1: Mat;
  b1: number[];
  A2: Mat;
  A3: Mat;
  b2: number[];
  theta0: number[];
  H: Mat;
  /** λ_max(H) and λ_min(H) (power / inverse iteration). */
  L: number;
  mu: number;
  /** Exact x̂(θ) and ∇F(θ) in float64. */
  exact(theta: number[]): { x: number[]; grad: number[]; value: number };
}

/**
 * The quadratic with A₁ (8 × n), A₂, A₃ (12 × n, 12 × p) N(0, 1/rows) entries and ξ = `xi`.
 *
 * @example
 * ```ts
 * const q = makeQuadratic();
 * const { grad } = q.exact(q.theta0);
 * ```
 */
export function makeQuadratic(n = 10, p = 3, xi = 0.5, seed = 1): Quadratic {
  const m1 = 8;
  const m2 = 12;
  const A1 = randomMatrix(m1, n, seed, 1 / Math.sqrt(m1));
  const b1 = gaussians(m1, seed + 1);
  const A2 = randomMatrix(m2, n, seed + 2, 1 / Math.sqrt(m2));
  const A3 = randomMatrix(m2, p, seed + 3, 1 / Math.sqrt(m2));
  const b2 = gaussians(m2, seed + 4);
  const theta0 = gaussians(p, seed + 5);
  const H = shiftDiagonal(matmul(transpose(A2), A2), xi);
  const { max, min } = extremeEigenvalues(H);
  return { n, p, xi, A1, b1, A2, A3, b2, theta0, H, L: max, mu: min, exact: exactOf(A1, b1, A2, A3, b2, H) };
}

export interface QuadraticData {
  [key: string]: tf.Tensor;
  A1: tf.Tensor2D;
  b1: tf.Tensor1D;
  A2: tf.Tensor2D;
  A3: tf.Tensor2D;
  b2: tf.Tensor1D;
}

const mv = (A: tf.Tensor, x: tf.Tensor) => tf.squeeze(tf.matMul(A as tf.Tensor2D, tf.reshape(x, [-1, 1]) as tf.Tensor2D), [1]);

/** The quadratic as tensors: problem, loss, data and θ (the caller disposes data and theta). */
export function quadraticTensors(q: Quadratic): {
  problem: Problem<QuadraticData>;
  loss: (x: tf.Tensor, theta: Params, data: QuadraticData) => tf.Tensor;
  data: QuadraticData;
  theta: Params;
} {
  const data: QuadraticData = { A1: tf.tensor2d(q.A1), b1: tf.tensor1d(q.b1), A2: tf.tensor2d(q.A2), A3: tf.tensor2d(q.A3), b2: tf.tensor1d(q.b2) };
  const problem = defineProblem<QuadraticData>({
    name: 'bilevel quadratic',
    energy: (x, theta, d) =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.add(mv(d.A2, x), mv(d.A3, theta.theta)), d.b2)))), tf.mul(0.5 * q.xi, tf.sum(tf.square(x)))),
    init: () => tf.zeros([q.n]),
    smoothness: q.L,
    strongConvexity: q.mu,
  });
  const loss = (x: tf.Tensor, _theta: Params, d: QuadraticData) => tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.A1, x), d.b1))));
  return { problem, loss, data, theta: { theta: tf.tensor1d(q.theta0) } };
}

/** Disposes every tensor of a data record. */
export function disposeData(d: Record<string, tf.Tensor>): void {
  for (const k of Object.keys(d)) d[k].dispose();
}

/** The bilevel quadratic of the implicit / jfb / argmin tests, with its tensors. */
export interface QuadraticFixture {
  n: number;
  p: number;
  A1: Mat; b1: number[]; A2: Mat; A3: Mat; b2: number[]; xi: number;
  H: Mat;
  /** μ = ξ ≤ λ_min(H) (a valid lower bound) and L = ‖H‖_F ≥ λ_max(H). */
  mu: number;
  L: number;
  exact(theta: number[]): { x: number[]; grad: number[]; value: number };
  problem: Problem<Record<string, tf.Tensor>>;
  data(): Record<string, tf.Tensor>;
  loss: (x: tf.Tensor, theta: Params, data: Record<string, tf.Tensor>) => tf.Tensor;
}

/**
 * The quadratic with A₁ (n × n), A₂, A₃ ((n + 2) × ·) from the LCG stream, ξ = 0.5.
 *
 * @example
 * ```ts
 * const fx = quadraticFixture();
 * const data = fx.data(); // the caller disposes it
 * ```
 */
export function quadraticFixture(n = 10, p = 4, seed = 7): QuadraticFixture {
  const m2 = n + 2;
  const m1 = n;
  const A1 = lcgGaussianMatrix(m1, n, seed + 1, 1 / Math.sqrt(m1));
  const b1 = lcgGaussianMatrix(1, m1, seed + 2)[0];
  const A2 = lcgGaussianMatrix(m2, n, seed + 3, 1 / Math.sqrt(m2));
  const A3 = lcgGaussianMatrix(m2, p, seed + 4, 1 / Math.sqrt(m2));
  const b2 = lcgGaussianMatrix(1, m2, seed + 5)[0];
  const xi = 0.5;
  const H = shiftDiagonal(matmul(transpose(A2), A2), xi);
  const frob = Math.sqrt(H.flat().reduce((s, v) => s + v * v, 0));
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
  const column = (v: number[]) => tf.tensor2d(v.map((x) => [x]));
  const data = () => ({ A1: tf.tensor2d(A1), b1: column(b1), A2: tf.tensor2d(A2), A3: tf.tensor2d(A3), b2: column(b2) });
  const loss = (x: tf.Tensor, _theta: Params, d: Record<string, tf.Tensor>) =>
    tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.matMul(d.A1, tf.reshape(x, [n, 1])), d.b1)))));
  return { n, p, A1, b1, A2, A3, b2, xi, H, mu: xi, L: frob, exact: exactOf(A1, b1, A2, A3, b2, H), problem, data, loss };
}

// A smooth non-quadratic lower level whose hypergradient reference is computed on the JS side
// in float64: the energy is separable, so x̂(θ) is n scalar Newton solves, and ∇F(θ) comes
// from central differences of that float64 F.
import { tf, defineProblem } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { gaussians } from '../random.js';

/** log cosh z written as |z| + softplus(−2|z|) − log 2, which is second-order safe in tfjs. */
const logcosh = (z: tf.Tensor) => tf.sub(tf.add(tf.abs(z), tf.softplus(tf.mul(-2, tf.abs(z)))), Math.log(2));

/**
 * `Φ(x; θ) = ½‖x − y‖² + α Σ logcosh(c ⊙ x)` with θ = { alpha, c }, loss `ℓ(x) = ½‖x − target‖²`.
 * Convex in x (1-strongly), L ≤ 1 + α max c². The caller disposes `data` and `theta`.
 *
 * @example
 * ```ts
 * const lc = logCoshProblem(8, 3);
 * const reference = logCoshReference(8, 3); // float64 ∇F by central differences
 * ```
 */
export function logCoshProblem(n: number, seed: number) {
  const data = { y: tf.tensor1d(gaussians(n, seed).map((v) => 2 * v)), target: tf.tensor1d(gaussians(n, seed + 1)) };
  const problem = defineProblem<typeof data>({
    name: 'log-cosh denoising',
    energy: (x, theta, d) =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(theta.alpha, tf.sum(logcosh(tf.mul(theta.c, x))))),
    init: (_theta, d) => d.y.clone(),
    strongConvexity: 1,
  });
  const loss = (x: tf.Tensor, _theta: Params, d: typeof data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.target))));
  const theta: Params = { alpha: tf.scalar(0.8), c: tf.tensor1d(logCoshTheta(n, seed).c) };
  return { problem, loss, data, theta };
}

/** θ₀ of {@link logCoshProblem} as numbers: α = 0.8, c_i = 1 + 0.3 g_i. */
export function logCoshTheta(n: number, seed: number): { alpha: number; c: number[] } {
  return { alpha: 0.8, c: gaussians(n, seed + 2).map((v) => 1 + 0.3 * v) };
}

/** x̂ of the separable energy in float64: Newton on x − y + α c tanh(c x) = 0 per coordinate (monotone, so safe). */
export function logCoshSolve(y: number[], alpha: number, c: number[]): number[] {
  return y.map((yi, i) => {
    let x = yi;
    for (let it = 0; it < 100; it++) {
      const t = Math.tanh(c[i] * x);
      const g = x - yi + alpha * c[i] * t;
      const h = 1 + alpha * c[i] * c[i] * (1 - t * t);
      const next = x - g / h;
      if (Math.abs(next - x) <= 1e-15 * Math.max(1, Math.abs(x))) return next;
      x = next;
    }
    return x;
  });
}

/**
 * float64 reference of {@link logCoshProblem} at θ₀: F and ∇F = (∂F/∂α, ∂F/∂c) by central
 * differences with h = 1e-5 (truncation O(h²) ≈ 1e-10, round-off ≈ 1e-16/h ≈ 1e-11, far below
 * float32's 1e-7), flattened in θ's key order (alpha, c).
 */
export function logCoshReference(n: number, seed: number): { value: number; grad: number[] } {
  const y = gaussians(n, seed).map((v) => 2 * v);
  const target = gaussians(n, seed + 1);
  const { alpha, c } = logCoshTheta(n, seed);
  const F = (a: number, cs: number[]) => 0.5 * logCoshSolve(y, a, cs).reduce((s, x, i) => s + (x - target[i]) ** 2, 0);
  const h = 1e-5;
  const grad = [(F(alpha + h, c) - F(alpha - h, c)) / (2 * h)];
  for (let i = 0; i < n; i++) {
    const plus = c.map((v, j) => (j === i ? v + h : v));
    const minus = c.map((v, j) => (j === i ? v - h : v));
    grad.push((F(alpha, plus) - F(alpha, minus)) / (2 * h));
  }
  return { value: F(alpha, c), grad };
}

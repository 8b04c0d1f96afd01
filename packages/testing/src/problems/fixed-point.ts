// A contraction fixed point with a closed-form hypergradient:
//   x̂ = W x̂ + Uθ + c  ⇒  x̂ = (I − W)⁻¹(Uθ + c),   ∇F = Uᵀ(I − W)⁻ᵀ(x̂ − target)  for ℓ = ½‖x − target‖².
import { tf, defineFixedPoint } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { gaussians, randomMatrix } from '../random.js';
import { transpose, matvec, sub, solve, identity } from '../dense.js';

/**
 * The matrices of {@link affineFixedPoint} (W scaled to ‖W‖₂ = rho) and its exact x̂, F and ∇F
 * in float64; no tensors.
 *
 * @example
 * ```ts
 * const { exact, theta0 } = affineFixedPointExact(10, 3, 0.9, 41);
 * const { grad } = exact(theta0);
 * ```
 */
export function affineFixedPointExact(n: number, p: number, rho: number, seed: number) {
  const raw = randomMatrix(n, n, seed);
  // Scale W to spectral norm rho (power iteration on WᵀW, float64).
  let v = gaussians(n, seed + 9);
  for (let i = 0; i < 500; i++) {
    const w = matvec(transpose(raw), matvec(raw, v));
    const nv = Math.sqrt(w.reduce((s, a) => s + a * a, 0));
    v = w.map((a) => a / nv);
  }
  const sigma = Math.sqrt(Math.sqrt(matvec(raw, v).reduce((s, a) => s + a * a, 0) ** 2));
  const W = raw.map((row) => row.map((a) => (a * rho) / sigma));
  const U = randomMatrix(n, p, seed + 1);
  const c = gaussians(n, seed + 2);
  const target = gaussians(n, seed + 3);
  const theta0 = gaussians(p, seed + 4);
  const IminusW = identity(n).map((row, i) => row.map((a, j) => a - W[i][j]));
  const exact = (theta: number[]) => {
    const x = solve(IminusW, matvec(U, theta).map((a, i) => a + c[i]));
    const w = solve(transpose(IminusW), sub(x, target));
    return { x, grad: matvec(transpose(U), w), value: 0.5 * sub(x, target).reduce((s, a) => s + a * a, 0) };
  };
  return { W, U, c, target, theta0, exact };
}

/**
 * Affine contraction T(x; θ) = Wx + Uθ + c (W non-symmetric, ‖W‖₂ = rho) with ℓ = ½‖x − target‖².
 * The caller disposes `data` and `theta`.
 *
 * @example
 * ```ts
 * const fp = affineFixedPoint(10, 3, 0.9, 41);
 * const { grad } = fp.exact(fp.theta0);
 * ```
 */
export function affineFixedPoint(n: number, p: number, rho: number, seed: number) {
  const { W, U, c, target, theta0, exact } = affineFixedPointExact(n, p, rho, seed);
  const data = { W: tf.tensor2d(W), U: tf.tensor2d(U), c: tf.tensor1d(c), target: tf.tensor1d(target) };
  const mv = (A: tf.Tensor, x: tf.Tensor) => tf.squeeze(tf.matMul(A as tf.Tensor2D, tf.reshape(x, [-1, 1]) as tf.Tensor2D), [1]);
  const problem = defineFixedPoint<typeof data>({
    name: 'affine contraction',
    map: (x, th, d) => tf.add(tf.add(mv(d.W, x), mv(d.U, th.theta)), d.c),
    init: () => tf.zeros([n]),
    contraction: rho,
  });
  const loss = (x: tf.Tensor, _th: Params, d: typeof data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.target))));
  return { problem, loss, data, theta: { theta: tf.tensor1d(theta0) } as Params, exact, theta0 };
}

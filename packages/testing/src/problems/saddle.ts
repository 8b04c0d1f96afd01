// Saddle-point lower levels: a closed-form quadratic saddle with a dense K(θ), and TV denoising
// in dual form with a learned finite-difference discretisation K(θ).
import { tf, defineSaddle } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { lcg, lcgUniformMatrix } from '../random.js';
import { solve, matvec } from '../dense.js';

/**
 * `min_x max_z ⟨Kx, z⟩ + ½‖x − y‖² − ‖z‖²/(2λ)`, i.e. `x̂ = (I + λKᵀK)⁻¹y`, upper loss
 * `½‖x̂ − t‖²`. θ = { K (m×n), lambda }. Exact hypergradient by the IFT in float64:
 * with `H = I + λKᵀK`, `q = H⁻¹(x̂ − t)`: `∂F/∂K = −λ(Kq x̂ᵀ + Kx̂ qᵀ)`, `∂F/∂λ = −⟨Kq, Kx̂⟩`.
 */
export function quadraticSaddle(m = 6, n = 5) {
  const K = lcgUniformMatrix(m, n, 7, 0.8);
  const lambda = 0.7;
  const y = lcgUniformMatrix(1, n, 11, 1)[0];
  const t = lcgUniformMatrix(1, n, 13, 1)[0];
  type D = { y: tf.Tensor; t: tf.Tensor };
  const problem: SaddleProblem<D> = defineSaddle<D>({
    apply: (x, th) => tf.reshape(tf.matMul(th.K, tf.reshape(x, [n, 1])), [m]),
    // no adjoint: the VJP of apply is used (and tested)
    proxG: (x, tau, _th, d) => tf.div(tf.add(x, tf.mul(d.y, tau)), 1 + tau),
    proxFStar: (z, sigma, th) => tf.div(z, tf.add(1, tf.div(sigma, th.lambda))),
    init: (_th, d) => d.y.clone(),
    strongConvexity: 1,
    dualStrongConvexity: (th) => 1 / th.lambda.dataSync()[0],
    name: 'quadratic saddle',
  });
  const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));
  const data = (): D => ({ y: tf.tensor1d(y), t: tf.tensor1d(t) });
  const theta = (): Params => ({ K: tf.tensor2d(K), lambda: tf.scalar(lambda) });
  function exact() {
    const KtK = K[0].map((_, i) => K[0].map((__, j) => K.reduce((s, row) => s + row[i] * row[j], 0)));
    const H = KtK.map((row, i) => row.map((v, j) => lambda * v + (i === j ? 1 : 0)));
    const x = solve(H, y);
    const r = x.map((v, i) => v - t[i]);
    const q = solve(H, r);
    const Kq = matvec(K, q);
    const Kx = matvec(K, x);
    const gK = K.map((_, i) => x.map((__, j) => -lambda * (Kq[i] * x[j] + Kx[i] * q[j])));
    const gLambda = -Kq.reduce((s, v, i) => s + v * Kx[i], 0);
    return { x, value: 0.5 * r.reduce((s, v) => s + v * v, 0), grad: [...gK.flat(), gLambda] };
  }
  return { problem, loss, data, theta, exact, m, n, K, lambda };
}

/**
 * The learned-operator saddle with every constant declared, θ = { K } only:
 * `min_x max_y ⟨Kx, y⟩ + ½‖x − b‖² − (λ/2)‖y‖²` (λ = 0.7, K 6×5), so `x̂(K) = (I + λKᵀK)⁻¹b`
 * and `F(K) = ½‖x̂(K) − t‖²`. μ_g = 1, μ_{f*} = 1/λ, Hessian-Lipschitz constants 0, c_K = 1.
 * K₀ has entries `scale·u`, then b = u and t = 0.5u, with u uniform on [−1, 1) from one
 * {@link lcg} stream of `seed`.
 *
 * @returns the problem, upper loss, K₀, b, t and `exactLoss(K)` (float64, mathjs LU).
 */
export function learnedOperatorSaddle(seed: number, scale: number) {
  const m = 6;
  const n = 5;
  const lambda = 0.7;
  const u = lcg(seed);
  const r = () => u() * 2 - 1;
  const K0 = Array.from({ length: m }, () => Array.from({ length: n }, () => scale * r()));
  const b = Array.from({ length: n }, () => r());
  const t = Array.from({ length: n }, () => 0.5 * r());
  type D = { b: tf.Tensor; t: tf.Tensor };
  const problem = defineSaddle<D>({
    apply: (x, th) => tf.reshape(tf.matMul(th.K, tf.reshape(x, [n, 1])), [m]),
    adjoint: (z, th) => tf.reshape(tf.matMul(th.K, tf.reshape(z, [m, 1]), true), [n]),
    proxG: (x, tau, _th, d) => tf.div(tf.add(x, tf.mul(d.b, tau)), 1 + tau),
    proxFStar: (z, sigma) => tf.div(z, 1 + sigma / lambda),
    init: (_th, d) => d.b.clone(),
    strongConvexity: 1,
    dualStrongConvexity: 1 / lambda,
    hessianLipschitz: 0,
    dualHessianLipschitz: 0,
    operatorDerivativeNorm: 1,
    name: 'learned operator',
  });
  const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));
  function exactLoss(K: number[][]): number {
    const H = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j) => (i === j ? 1 : 0) + lambda * K.reduce((acc, row) => acc + row[i] * row[j], 0)));
    const x = solve(H, b);
    return 0.5 * x.reduce((acc, v, i) => acc + (v - t[i]) ** 2, 0);
  }
  const data = (): D => ({ b: tf.tensor1d(b), t: tf.tensor1d(t) });
  return { problem, loss, exactLoss, data, K0, b, t, m, n, lambda };
}

/** Forward differences with Neumann boundary (last column / row zero) and their adjoints. */
const dx = (x: tf.Tensor) => tf.pad(tf.sub(tf.slice(x, [0, 1], [-1, -1]), tf.slice(x, [0, 0], [-1, x.shape[1]! - 1])), [[0, 0], [0, 1]]);
const dy = (x: tf.Tensor) => tf.pad(tf.sub(tf.slice(x, [1, 0], [-1, -1]), tf.slice(x, [0, 0], [x.shape[0]! - 1, -1])), [[0, 1], [0, 0]]);
const dxT = (p: tf.Tensor) => {
  const q = tf.slice(p, [0, 0], [-1, p.shape[1]! - 1]);
  return tf.sub(tf.pad(q, [[0, 0], [1, 0]]), tf.pad(q, [[0, 0], [0, 1]]));
};
const dyT = (p: tf.Tensor) => {
  const q = tf.slice(p, [0, 0], [p.shape[0]! - 1, -1]);
  return tf.sub(tf.pad(q, [[1, 0], [0, 0]]), tf.pad(q, [[0, 1], [0, 0]]));
};

/**
 * TV denoising in dual form with a learned discretisation:
 * `min_x max_z ⟨K_W x, z⟩ + ½‖x − y‖² − δ_{‖z_i‖₂ ≤ α}(z) − (ε/2)‖z‖²`, with
 * `K_W x = (W₀₀Dₓx + W₀₁D_yx, W₁₀Dₓx + W₁₁D_yx)` and θ = { W (2×2), alpha }.
 * ε = 0 is plain TV (prox of f* = projection onto the ℓ∞,2 ball); ε > 0 is Huber TV.
 */
export function tvSaddle(size = 8, epsilon = 0) {
  type D = { y: tf.Tensor; t: tf.Tensor };
  const apply = (x: tf.Tensor, th: Params) => {
    const gx = dx(x);
    const gy = dy(x);
    const w = th.W;
    const c = (i: number, j: number) => tf.reshape(tf.slice(w, [i, j], [1, 1]), []);
    return tf.stack([tf.add(tf.mul(c(0, 0), gx), tf.mul(c(0, 1), gy)), tf.add(tf.mul(c(1, 0), gx), tf.mul(c(1, 1), gy))]);
  };
  const adjoint = (z: tf.Tensor, th: Params) => {
    const [z0, z1] = tf.unstack(z);
    const w = th.W;
    const c = (i: number, j: number) => tf.reshape(tf.slice(w, [i, j], [1, 1]), []);
    return tf.add(dxT(tf.add(tf.mul(c(0, 0), z0), tf.mul(c(1, 0), z1))), dyT(tf.add(tf.mul(c(0, 1), z0), tf.mul(c(1, 1), z1))));
  };
  const problem = defineSaddle<D>({
    apply,
    adjoint,
    proxG: (x, tau, _th, d) => tf.div(tf.add(x, tf.mul(d.y, tau)), 1 + tau),
    proxFStar: (z, sigma, th) => {
      const shrunk = epsilon > 0 ? tf.div(z, 1 + sigma * epsilon) : z;
      // sqrt(· + 1e-12): the gradient of sqrt at exactly 0 is infinite.
      const magnitude = tf.sqrt(tf.add(tf.sum(tf.square(shrunk), 0, true), 1e-12));
      return tf.div(shrunk, tf.maximum(1, tf.div(magnitude, th.alpha)));
    },
    init: (_th, d) => d.y.clone(),
    // ‖K_W‖ ≤ ‖W‖_F · ‖(Dₓ, D_y)‖ ≤ ‖W‖_F √8
    operatorNorm: (th) => Math.sqrt(8) * tf.tidy(() => tf.norm(th.W)).dataSync()[0],
    strongConvexity: 1,
    dualStrongConvexity: epsilon > 0 ? epsilon : undefined,
    name: 'learned-discretisation TV',
  });
  const r = lcg(5);
  const clean = Array.from({ length: size }, (_, i) => Array.from({ length: size }, (__, j) => (i >= size / 2 ? 1 : 0) + (j >= size / 3 && j < (2 * size) / 3 ? 0.5 : 0)));
  const noisy = clean.map((row) => row.map((v) => v + 0.15 * (r() * 2 - 1) * 1.7));
  const data = (): D => ({ y: tf.tensor2d(noisy), t: tf.tensor2d(clean) });
  const theta = (): Params => ({ W: tf.tensor2d([[1.0, 0.15], [-0.1, 0.9]]), alpha: tf.scalar(0.12) });
  const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));
  return { problem, loss, data, theta, apply, adjoint };
}

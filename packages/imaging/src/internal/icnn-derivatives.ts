/**
 * Analytic derivatives of the convolutional softplus ICNN of `icnn()` (Amos, Xu & Kolter,
 * "Input convex neural networks", ICML 2017, eq. (2), with convolutions):
 * ```
 * a₀ = W₀ ∗ x + b₀,   z₁ = σ(a₀),
 * a_k = W_kˣ ∗ x + W_kᶻ ∗ z_k + b_k,   z_{k+1} = σ(a_k),   k = 1 … L−1,
 * R = α Σ z_L,        σ = softplus, σ' = sigmoid =: s, σ'' = s(1 − s).
 * ```
 * Gradient by backpropagation: g_L = α, δ_k = g_{k+1} ⊙ s(a_k), g_k = W_kᶻᵀ δ_k, and
 * ∇ₓR = W₀ᵀδ₀ + Σ_{k≥1} W_kˣᵀ δ_k. The Hessian-vector product is the directional derivative
 * of that recursion along v (forward tangents ȧ, then backward tangents):
 * ```
 * ȧ₀ = W₀ ∗ v,   ȧ_k = W_kˣ ∗ v + W_kᶻ ∗ (s(a_{k−1}) ⊙ ȧ_{k−1}),
 * δ̇_k = ġ_{k+1} ⊙ s(a_k) + g_{k+1} ⊙ σ''(a_k) ⊙ ȧ_k,   ġ_L = 0,   ġ_k = W_kᶻᵀ δ̇_k,
 * ∇²R v = W₀ᵀδ̇₀ + Σ_{k≥1} W_kˣᵀ δ̇_k.
 * ```
 * At fixed x the sigmoids s(a_k), the curvature weights g_{k+1} ⊙ σ''(a_k) and the non-negative
 * W_kᶻ = softplus(θ.wz{k}) do not change, so `hessian(x, θ)` computes them once per linear
 * solve. The mixed product is the θ-gradient of the directional derivative
 * `⟨∇ₓR, v⟩ = α Σ ż_L` (ż_{k+1} = s(a_k) ⊙ ȧ_k), one reverse pass over the forward and tangent
 * passes, which is cheaper than differentiating the backpropagated gradient. Everything is
 * written in differentiable tfjs ops.
 *
 * @packageDocumentation
 */
import { tf, valueAndGradParams } from '@bilevel/core';
import type { Params, HessianAt } from '@bilevel/core';
import { param } from './params.js';

const conv = (input: tf.Tensor, w: tf.Tensor) => tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
/** The exact adjoint of {@link conv}: tfjs' conv2dTranspose is conv2d's input gradient, for any filter side. */
const convT = (y: tf.Tensor, w: tf.Tensor, like: tf.Tensor) =>
  tf.conv2dTranspose(y as tf.Tensor4D, w as tf.Tensor4D, like.shape as [number, number, number, number], 1, 'same');

interface Weights {
  alpha: tf.Tensor;
  /** W₀, then W_kˣ for k ≥ 1. */
  wx: tf.Tensor[];
  /** W_kᶻ = softplus(θ.wz{k}) ≥ 0 for k ≥ 1 (index 0 unused). */
  wz: tf.Tensor[];
  b: tf.Tensor[];
}

function weightsOf(theta: Params, layers: number, where: string): Weights {
  const p = (key: string) => param(theta, key, where);
  const w: Weights = { alpha: tf.exp(p('logAlpha')), wx: [p('w0')], wz: [], b: [p('b0')] };
  for (let k = 1; k < layers; k++) {
    w.wx.push(p(`wx${k}`));
    w.wz[k] = tf.softplus(p(`wz${k}`));
    w.b.push(p(`b${k}`));
  }
  return w;
}

/** The forward pass: pre-activations a_k and the last layer z_L. */
function forward(x: tf.Tensor, w: Weights) {
  const a = [tf.add(conv(x, w.wx[0]), w.b[0])];
  let z = tf.softplus(a[0]);
  for (let k = 1; k < w.wx.length; k++) {
    a.push(tf.add(tf.add(conv(x, w.wx[k]), conv(z, w.wz[k])), w.b[k]));
    z = tf.softplus(a[k]);
  }
  return { a, z };
}

/** Backpropagation from g_L = α: the sigmoids s(a_k), the layer gradients g_{k+1} and ∇ₓR. */
function backward(x: tf.Tensor, w: Weights, a: tf.Tensor[]) {
  const L = a.length;
  const s = a.map((t) => tf.sigmoid(t));
  const g: tf.Tensor[] = [];
  g[L - 1] = tf.mul(w.alpha, tf.onesLike(a[L - 1]));
  const terms: tf.Tensor[] = [];
  for (let k = L - 1; k >= 0; k--) {
    const delta = tf.mul(g[k], s[k]);
    terms.push(convT(delta, w.wx[k], x));
    if (k > 0) g[k - 1] = convT(delta, w.wz[k], a[k - 1]);
  }
  return { s, g, grad: terms.length === 1 ? terms[0] : tf.addN(terms) };
}

/**
 * The ICNN's value, gradient and Hessian prepared at x.
 *
 * @param layers - L ≥ 1.
 * @param where - the caller's name, for errors about θ.
 * @returns `valueAndGradient`, `gradient` and `hessian` for a {@link Regularizer}.
 */
export function icnnDerivatives(layers: number, where: string) {
  return {
    valueAndGradient(x: tf.Tensor, theta: Params): { value: tf.Scalar; grad: tf.Tensor } {
      let value!: tf.Scalar;
      const grad = tf.tidy(() => {
        const w = weightsOf(theta, layers, where);
        const { a, z } = forward(x, w);
        value = tf.keep(tf.mul(w.alpha, tf.sum(z)) as tf.Scalar);
        return backward(x, w, a).grad;
      });
      return { value, grad };
    },
    gradient: (x: tf.Tensor, theta: Params): tf.Tensor => tf.tidy(() => {
      const w = weightsOf(theta, layers, where);
      return backward(x, w, forward(x, w).a).grad;
    }),
    mixed(x: tf.Tensor, theta: Params, v: tf.Tensor): Params {
      const { value, grad } = valueAndGradParams((th) => {
        const w = weightsOf(th, layers, where);
        const { a } = forward(x, w);
        let zDot = tf.mul(tf.sigmoid(a[0]), conv(v, w.wx[0]));
        for (let k = 1; k < a.length; k++) zDot = tf.mul(tf.sigmoid(a[k]), tf.add(conv(v, w.wx[k]), conv(zDot, w.wz[k])));
        return tf.mul(w.alpha, tf.sum(zDot));
      }, theta);
      value.dispose();
      return grad;
    },
    hessian(x: tf.Tensor, theta: Params): HessianAt {
      // cached at x: the weights, s(a_k) and g_{k+1} ⊙ s(a_k)(1 − s(a_k)), as one flat list for tidy
      const L = layers;
      const flat = tf.tidy(() => {
        const w = weightsOf(theta, L, where);
        const { s, g } = backward(x, w, forward(x, w).a);
        const curvature = s.map((sk, k) => tf.mul(g[k], tf.mul(sk, tf.sub(1, sk))));
        return [...s, ...curvature, ...w.wz.slice(1)];
      });
      const s = flat.slice(0, L);
      const curvature = flat.slice(L, 2 * L);
      const wz = [undefined, ...flat.slice(2 * L)] as tf.Tensor[];
      const wx = [param(theta, 'w0', where), ...Array.from({ length: L - 1 }, (_, k) => param(theta, `wx${k + 1}`, where))];
      return {
        apply: (v) => tf.tidy(() => {
          const aDot = [conv(v, wx[0])];
          for (let k = 1; k < L; k++) aDot.push(tf.add(conv(v, wx[k]), conv(tf.mul(s[k - 1], aDot[k - 1]), wz[k])));
          const terms: tf.Tensor[] = [];
          let gDot: tf.Tensor | undefined;
          for (let k = L - 1; k >= 0; k--) {
            const curv = tf.mul(curvature[k], aDot[k]);
            const deltaDot = gDot == null ? curv : tf.add(tf.mul(gDot, s[k]), curv);
            terms.push(convT(deltaDot, wx[k], v));
            if (k > 0) gDot = convT(deltaDot, wz[k], aDot[k - 1]);
          }
          return terms.length === 1 ? terms[0] : tf.addN(terms);
        }),
        dispose: () => tf.dispose(flat),
      };
    },
  };
}

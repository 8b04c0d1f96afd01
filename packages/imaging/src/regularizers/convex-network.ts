import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { param, read } from '../internal/params.js';
import { smoothedRelu, smoothedReluDerivative, smoothedReluSecond } from './smoothed-relu.js';
import {
  resolveConvexNetwork, secondLayer, conv, convAdjoint, filterGradient, convolutionNormBound, initialParams,
  CONVEX_NETWORK_DEFAULTS, type ConvexNetworkOptions,
} from '../internal/convex-network.js';

export { CONVEX_NETWORK_DEFAULTS };
export type { ConvexNetworkOptions };

/**
 * The convex filter network of Bogensperger, Ehrhardt, Pock, Salehi & Wong (2024, §4.2) in its
 * smooth energy form, z eliminated: with s = Vx, z = ψ_w(s), a = Wz,
 * ```
 * layers 2 (ICNN, eq. (32)):  R(x; θ) = γ Σ ψ_w(W ψ_w(V x)),   W = softplus(θ.omega) ≥ 0,
 * layers 1 (FoE,  eq. (34)):  R(x; θ) = γ Σ ψ_w(V x),
 * ```
 * ψ_w the smoothed ReLU of eq. (31), V: C₁ filters S×S, W: C₁ → C₂ filters S×S, 'same' zero padding.
 * **Convex for every θ**: ψ_w is convex and non-decreasing, W ≥ 0 by construction, so Wψ_w(Vx) is
 * convex per entry and ψ_w of it too. ∇R is Lipschitz with L = γ‖V‖²(max_i Σ_k ‖w_{ki}‖₁ + ‖W‖²)/w
 * (2 layers: |r_i| ≤ Σ_k ‖w_{ki}‖₁ since 0 ≤ ψ' ≤ 1 and W ≥ 0; γ‖V‖²/w for 1), ‖·‖ the convolution
 * bounds √Σ‖c‖₁².
 *
 * Analytic derivatives (r = Wᵀψ'(a), u = Vv, m = ψ'(s) ⊙ u, q = Wm; FG(input, dy) = ∇_c⟨c ∗ input, dy⟩):
 * ```
 * ∇ₓR = γ Vᵀ(ψ'(s) ⊙ r)
 * ∇²R v = γ Vᵀ(ψ''(s) ⊙ r ⊙ u + ψ'(s) ⊙ Wᵀ(ψ''(a) ⊙ W m))      (ψ'(s), ψ''(s), r, ψ''(a) cached per x)
 * ∂_W⟨∇R, v⟩ = γ[FG(m, ψ'(a)) + FG(z, ψ''(a) ⊙ q)],   ∂_omega = ∂_W ⊙ sigmoid(omega)
 * ∂_V⟨∇R, v⟩ = γ[FG(x, ψ''(s) ⊙ u ⊙ r + ψ'(s) ⊙ Wᵀ(ψ''(a) ⊙ q)) + FG(v, ψ'(s) ⊙ r)]
 * ```
 * (for 1 layer take r = 1 and drop the W terms). ψ'' is 1/w on (0, w), 0 elsewhere: the Hessian
 * exists almost everywhere, as for autodiff.
 *
 * @param options - see {@link CONVEX_NETWORK_DEFAULTS}.
 * @returns a {@link Regularizer} with θ = `{ V: [S, S, 1, C₁], omega: [S, S, C₁, C₂] }` (no omega for 1 layer).
 * @example
 * ```ts
 * const R = convexNetwork({ layers: 2, channels: 16, outChannels: 4, size: 5 });
 * const theta = R.init();
 * const { problem } = reconstructionProblem(R, { operator: radon(32, { angles: 20 }), xi: 1e-3 });
 * ```
 */
export function convexNetwork(options: ConvexNetworkOptions = {}): Regularizer {
  const where = 'convexNetwork';
  const o = resolveConvexNetwork(where, options);
  const { gamma, smoothing: w, layers } = o;
  const V = (theta: Params) => param(theta, 'V', where);
  const W = (theta: Params) => secondLayer(theta, where);
  /** Forward pass: s, z, a and ψ'(s), ψ'(a) (a only for 2 layers). */
  const forward = (x: tf.Tensor, theta: Params) => {
    const s = conv(x, V(theta));
    if (layers === 1) return { s, z: undefined, a: undefined, w2: undefined, r: undefined };
    const w2 = W(theta);
    const z = smoothedRelu(s, w);
    const a = conv(z, w2);
    const r = convAdjoint(smoothedReluDerivative(a, w), w2, o.channels);
    return { s, z, a, w2, r };
  };
  const valueOf = (x: tf.Tensor, theta: Params) => {
    const s = conv(x, V(theta));
    const top = layers === 1 ? s : conv(smoothedRelu(s, w), W(theta));
    return tf.mul(tf.sum(smoothedRelu(top, w)), gamma);
  };
  const gradientOf = (x: tf.Tensor, theta: Params, f = forward(x, theta)) => {
    const d = smoothedReluDerivative(f.s, w);
    return tf.mul(convAdjoint(f.r == null ? d : tf.mul(d, f.r), V(theta), 1), gamma);
  };
  return {
    name: layers === 1 ? `FoE, ψ_w experts (${o.channels} filters ${o.size}×${o.size})` : `ICNN (${o.channels} + ${o.outChannels}×${o.channels} filters ${o.size}×${o.size})`,
    convex: true,
    value: (x, theta) => tf.tidy(() => valueOf(x, theta)),
    mu: () => 0,
    lipschitz(theta) {
      const nv = convolutionNormBound(V(theta));
      if (layers === 1) return (gamma * nv * nv) / w;
      const w2 = W(theta);
      const nw = convolutionNormBound(w2);
      const column = read(() => tf.max(tf.sum(w2, [0, 1, 3])))[0];
      w2.dispose();
      return (gamma * nv * nv * (column + nw * nw)) / w;
    },
    init: () => initialParams(o),
    gradient: (x, theta) => tf.tidy(() => gradientOf(x, theta)),
    valueAndGradient(x, theta) {
      let value!: tf.Scalar;
      const grad = tf.tidy(() => {
        const f = forward(x, theta);
        const top = layers === 1 ? f.s : f.a!;
        value = tf.keep(tf.mul(tf.sum(smoothedRelu(top, w)), gamma) as tf.Scalar);
        return gradientOf(x, theta, f);
      });
      return { value, grad };
    },
    hessian(x, theta) {
      const filters = V(theta);
      const cache = tf.tidy(() => {
        const f = forward(x, theta);
        const c: tf.Tensor[] = [smoothedReluDerivative(f.s, w), smoothedReluSecond(f.s, w)];
        if (layers === 2) c.push(f.r!, smoothedReluSecond(f.a!, w), f.w2!);
        return c;
      });
      const [d1, d2, r, e2, w2] = cache;
      return {
        apply: (v) => tf.tidy(() => {
          const u = conv(v, filters);
          if (layers === 1) return tf.mul(convAdjoint(tf.mul(d2, u), filters, 1), gamma);
          const inner = convAdjoint(tf.mul(e2, conv(tf.mul(d1, u), w2)), w2, o.channels);
          return tf.mul(convAdjoint(tf.add(tf.mul(tf.mul(d2, r), u), tf.mul(d1, inner)), filters, 1), gamma);
        }),
        dispose: () => tf.dispose(cache),
      };
    },
    mixed(x, theta, v): Params {
      return tf.tidy((): Params => {
        const filters = V(theta);
        const f = forward(x, theta);
        const u = conv(v, filters);
        const d1 = smoothedReluDerivative(f.s, w);
        const d2 = smoothedReluSecond(f.s, w);
        if (layers === 1) {
          const gV = tf.add(filterGradient(x, tf.mul(d2, u), filters.shape), filterGradient(v, d1, filters.shape));
          return { V: tf.mul(gV, gamma) };
        }
        const m = tf.mul(d1, u);
        const q = conv(m, f.w2!);
        const e1 = smoothedReluDerivative(f.a!, w);
        const e2q = tf.mul(smoothedReluSecond(f.a!, w), q);
        const gW = tf.add(filterGradient(m, e1, f.w2!.shape), filterGradient(f.z!, e2q, f.w2!.shape));
        const back = convAdjoint(e2q, f.w2!, o.channels);
        const gV = tf.add(
          filterGradient(x, tf.add(tf.mul(tf.mul(d2, u), f.r!), tf.mul(d1, back)), filters.shape),
          filterGradient(v, tf.mul(d1, f.r!), filters.shape),
        );
        return { V: tf.mul(gV, gamma), omega: tf.mul(tf.mul(gW, tf.sigmoid(param(theta, 'omega', where))), gamma) };
      });
    },
  };
}

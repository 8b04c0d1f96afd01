/**
 * The smoothed ReLU ψ_w of Bogensperger, Ehrhardt, Pock, Salehi & Wong, "An adaptively inexact
 * method for bilevel learning using primal-dual style differentiation" (2024), eq. (31), and the
 * proximal maps its dualised ICNN / FoE saddle problems (33), (35) need.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';

/**
 * ψ_w(t) = 0 for t ≤ 0, t²/(2w) on (0, w), t − w/2 for t ≥ w (eq. (31)): convex, non-decreasing,
 * C¹ with ψ' = clip(t/w, 0, 1) and ψ'' = 1/w on (0, w), 0 elsewhere. Written as
 * `min(relu(t), w)²/(2w) + relu(t − w)` (ops whose gradients read their inputs only, so the
 * second derivative by autodiff is correct).
 *
 * @param t - any tensor.
 * @param w - smoothing w > 0 (the paper's 0.01).
 * @returns ψ_w(t) elementwise.
 * @example
 * ```ts
 * smoothedRelu(tf.tensor([-1, 0.005, 1]), 0.01);   // [0, 0.00125, 0.995]
 * ```
 */
export function smoothedRelu(t: tf.Tensor, w: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.div(tf.square(tf.minimum(tf.relu(t), w)), 2 * w), tf.relu(tf.sub(t, w))));
}

/**
 * ψ_w'(t) = clip(t/w, 0, 1).
 *
 * @param t - any tensor.
 * @param w - smoothing w > 0.
 * @returns ψ_w'(t) elementwise.
 * @example
 * ```ts
 * smoothedReluDerivative(tf.tensor([-1, 0.005, 1]), 0.01);   // [0, 0.5, 1]
 * ```
 */
export function smoothedReluDerivative(t: tf.Tensor, w: number): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.div(t, w), 0, 1));
}

/**
 * ψ_w''(t) = 1/w on (0, w), 0 elsewhere (a.e.).
 *
 * @param t - any tensor.
 * @param w - smoothing w > 0.
 * @returns ψ_w''(t) elementwise.
 * @example
 * ```ts
 * smoothedReluSecond(tf.tensor([-1, 0.005, 1]), 0.01);   // [0, 100, 0]
 * ```
 */
export function smoothedReluSecond(t: tf.Tensor, w: number): tf.Tensor {
  // nested where, no logical ops: tfjs cannot backpropagate through LogicalAnd (bool gradients)
  return tf.tidy(() => {
    const zero = tf.zerosLike(t);
    return tf.where(tf.greater(t, 0), tf.where(tf.less(t, w), tf.fill(t.shape, 1 / w), zero), zero);
  });
}

/**
 * The convex conjugate ψ_w*(s) = w s²/2 on [0, 1], +∞ elsewhere (returned as `Infinity`).
 * So (γψ_w)*(y) = γψ_w*(y/γ) = w y²/(2γ) on [0, γ]: strongly convex with modulus w/γ on its domain.
 *
 * @param s - any tensor.
 * @param w - smoothing w > 0.
 * @returns ψ_w*(s) elementwise.
 * @example
 * ```ts
 * smoothedReluConjugate(tf.tensor([0.5, 2]), 0.01);   // [0.00125, Infinity]
 * ```
 */
export function smoothedReluConjugate(s: tf.Tensor, w: number): tf.Tensor {
  return tf.tidy(() => {
    const inside = tf.logicalAnd(tf.greaterEqual(s, 0), tf.lessEqual(s, 1));
    return tf.where(inside, tf.mul(tf.square(s), w / 2), tf.fill(s.shape, Infinity));
  });
}

/**
 * `prox_{σ(γψ_w)*}(v) = clip(v/(1 + σw/γ), 0, γ)`: the minimiser of w y²/(2γ) + ‖y − v‖²/(2σ) on
 * [0, γ] (the quadratic's unconstrained minimiser, clipped: the problem is separable and 1-D convex).
 *
 * @param v - any tensor.
 * @param sigma - step σ > 0 (a scalar, or elementwise steps shaped like the input).
 * @param gamma - weight γ > 0 of γψ_w.
 * @param w - smoothing w > 0.
 * @returns the prox, elementwise.
 * @example
 * ```ts
 * proxSmoothedReluConjugate(tf.tensor([-1, 0.5, 3]), 1, 1, 0.01);   // [0, 0.495, 1]
 * ```
 */
export function proxSmoothedReluConjugate(v: tf.Tensor, sigma: number | tf.Tensor, gamma: number, w: number): tf.Tensor {
  // an elementwise σ (diagonal preconditioning) is exact too: the conjugate is separable
  return tf.tidy(() => tf.clipByValue(tf.div(v, typeof sigma === 'number' ? 1 + (sigma * w) / gamma : tf.add(1, tf.mul(sigma, w / gamma))), 0, gamma));
}

/**
 * Euclidean projection of (p, q) onto the epigraph C = {(p, q) : ψ_w(p) ≤ q}, elementwise
 * (the set of eq. (32)). Outside C the projection (p*, ψ_w(p*)) solves
 * `p* − p + (ψ_w(p*) − q) ψ_w'(p*) = 0` (normal cone of C: λ(ψ_w'(p*), −1), λ = ψ_w(p*) − q ≥ 0):
 * - p ≤ 0: p* = p (the flat piece, q < 0 there);
 * - p + q ≥ 3w/2: the linear piece, p* = (p + q + w/2)/2;
 * - otherwise the parabola: the root in (0, w) of the cubic `h(p*) = p*³/(2w²) + p*(1 − q/w) − p`
 *   (there q < w/2, so h' ≥ ½: one real root), by the hyperbolic form of Cardano's formula and one
 *   Newton step. Both are differentiable, and at the root Newton's step differentiates to the
 *   implicit derivative −∂h/h', so autodiff of this projection is its Jacobian.
 * The branches' inputs are replaced by harmless values where they are not selected, so no
 * NaN enters the gradient through `tf.where`.
 *
 * @param p - first component (any shape).
 * @param q - second component, shaped like `p`.
 * @param w - smoothing w > 0.
 * @returns `[p*, q*]`.
 * @example
 * ```ts
 * const [ps, qs] = projectEpigraph(tf.tensor([1]), tf.tensor([0]), 0.01);   // ≈ (0.5025, 0.4925)
 * ```
 */
export function projectEpigraph(p: tf.Tensor, q: tf.Tensor, w: number): [tf.Tensor, tf.Tensor] {
  const out = tf.tidy(() => {
    const inside = tf.lessEqual(smoothedRelu(p, w), q);
    const flat = tf.lessEqual(p, 0);
    const linear = tf.greaterEqual(tf.add(p, q), 1.5 * w);
    // linear piece
    const pl = tf.div(tf.add(tf.add(p, q), w / 2), 2);
    // parabola piece, on safe inputs where it is not selected (nested where: tfjs cannot
    // backpropagate through LogicalAnd/LogicalNot)
    const half = tf.fill(p.shape, w / 2);
    const zero = tf.zerosLike(q);
    const other = (t: tf.Tensor, safe: tf.Tensor) => tf.where(inside, safe, tf.where(flat, safe, tf.where(linear, safe, t)));
    const p0 = other(p, half);
    const q0 = other(q, zero);
    // h(r)·2w² = r³ + a r + b with a = 2w(w − q) > 0, b = −2w²p: its one real root in closed form
    // (r = −2√(a/3) sinh(⅓ asinh((3b/2a)√(3/a)))), then one Newton step for float32 accuracy
    const a = tf.mul(tf.sub(w, q0), 2 * w);
    const b = tf.mul(p0, -2 * w * w);
    const ra = tf.sqrt(tf.div(a, 3));
    let r = tf.mul(tf.mul(ra, -2), tf.sinh(tf.div(tf.asinh(tf.div(tf.mul(b, 1.5), tf.mul(a, ra))), 3)));
    const r2 = tf.square(r);
    r = tf.sub(r, tf.div(tf.add(tf.mul(tf.add(r2, a), r), b), tf.add(tf.mul(r2, 3), a)));
    const pOut = tf.where(inside, p, tf.where(flat, p, tf.where(linear, pl, r)));
    const qOut = tf.where(inside, q, tf.where(flat, tf.zerosLike(q), tf.where(linear, tf.sub(pl, w / 2), tf.div(tf.square(r), 2 * w))));
    return [pOut, qOut];
  });
  return [out[0], out[1]];
}

/**
 * `prox_{σ(f₂* + (ε/2)‖·‖²)}(a, b)` with f₂ = δ_C, C the epigraph of ψ_w (eq. (33)), by Moreau's
 * identity: f₂* = σ_C is positively homogeneous, so `prox_{s f₂*}(v) = v − s P_C(v/s)`; with the
 * optional quadratic (ε > 0, i.e. f₂ = dist²_C/(2ε), the Moreau envelope of δ_C) first scale
 * v by 1/(1 + σε) and use s = σ/(1 + σε).
 *
 * @param a - the dual of the constraint's first argument (p = Vx).
 * @param b - the dual of its second argument (q = z), shaped like `a`.
 * @param sigma - step σ > 0 (a scalar, or elementwise steps shaped like the input).
 * @param w - smoothing w > 0 of ψ_w.
 * @param epsilon - ε ≥ 0 (0: f₂ = δ_C exactly).
 * @returns `[a⁺, b⁺]`.
 * @example
 * ```ts
 * const [a, b] = proxEpigraphConjugate(ya, yb, 0.5, 0.01, 0);
 * ```
 */
export function proxEpigraphConjugate(a: tf.Tensor, b: tf.Tensor, sigma: number | tf.Tensor, w: number, epsilon = 0): [tf.Tensor, tf.Tensor] {
  const out = tf.tidy(() => {
    // an elementwise σ is exact when it is equal on each pair (a_i, b_i): the conjugate is separable over pairs
    const shrink = typeof sigma === 'number' ? 1 + sigma * epsilon : tf.add(1, tf.mul(sigma, epsilon));
    const s = typeof sigma === 'number' ? sigma / (shrink as number) : tf.div(sigma, shrink);
    const va = tf.div(a, shrink);
    const vb = tf.div(b, shrink);
    const [pa, pb] = projectEpigraph(tf.div(va, s), tf.div(vb, s), w);
    return [tf.sub(va, tf.mul(pa, s)), tf.sub(vb, tf.mul(pb, s))];
  });
  return [out[0], out[1]];
}

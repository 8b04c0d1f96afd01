import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { BoundConstants } from '@bilevel/outer';
import { gradient2d, divergence } from '@bilevel/imaging';

/**
 * Constants of MAID's hypergradient bound for smoothed-TV denoising
 *   Φ(x; θ, y) = ½‖x − y‖² + α Σ_i ψ(g_i),  g = Dx,  ψ(g) = √(|g|² + ν²),  θ = (log α, log ν),
 * with the upper-level loss ℓ = ½‖x − x†‖² / n, at the current θ. ‖D‖² ≤ 8 for forward
 * differences, and one pixel's pair g_i moves by at most 2‖x − x'‖ (‖D‖_{2→∞} ≤ 2).
 *
 * - μ = 1 (the data term) and L_{∇ℓ} = 1/n: exact.
 * - L_H: ∇²Φ = I + α Dᵀ diag(∇²ψ(g_i)) D; ∇²ψ is Lipschitz in g with constant c/ν² (for
 *   the 1-D ψ the sharp value is max|ψ'''| = 0.86/ν²; we take c = 1 for the 2-D case, an
 *   estimate), so L_H ≤ α ‖D‖² · 2 · c/ν² = 16α/ν².
 * - B_J = ‖∇²_{xθ}Φ(x̃)‖ with ∇²_{xθ}Φ = [α Dᵀu, α Dᵀw], u_i = g_i/√(|g_i|²+ν²),
 *   w_i = −ν² g_i/(|g_i|²+ν²)^{3/2}, computed at the inner solution x̃ the bound is taken at
 *   (exact up to using the Frobenius norm √(‖αDᵀu‖² + ‖αDᵀw‖²) ≥ the operator norm).
 * - L_J: the x-derivatives of u and w have norm ≤ 1/ν each, so L_J ≤ 8α√2/ν (rigorous).
 *
 * Only L_H's constant c is a heuristic estimate; the rest are exact or rigorous.
 */
export function tvBoundConstants(theta: Params, x: tf.Tensor, n: number): Omit<BoundConstants, 'mu'> & { mu: number } {
  const [logAlpha, logNu] = [theta.logAlpha.dataSync()[0], theta.logNu.dataSync()[0]];
  const alpha = Math.exp(logAlpha);
  const nu = Math.exp(logNu);
  const mixed = tf.tidy(() => {
    const g = gradient2d(x);
    const s = tf.add(tf.sum(tf.square(g), 3, true), nu * nu);
    const u = tf.div(g, tf.sqrt(s));
    const w = tf.mul(-nu * nu, tf.div(g, tf.pow(s, 1.5)));
    const a = tf.sum(tf.square(divergence(u)));
    const b = tf.sum(tf.square(divergence(w)));
    return tf.mul(alpha, tf.sqrt(tf.add(a, b)));
  });
  const mixedNorm = mixed.dataSync()[0];
  mixed.dispose();
  return {
    mu: 1,
    lossLipschitz: 1 / n,
    hessianLipschitz: (16 * alpha) / (nu * nu),
    mixedNorm,
    mixedLipschitz: (8 * alpha * Math.SQRT2) / nu,
  };
}

import type { tf } from './tf.js';
import { normNumber as fusedNorm, dotFloat32Number } from './internal/fused-ops.js';

/**
 * The Euclidean norm of a tensor over all its entries, `‖t‖₂ = (Σᵢ tᵢ²)^{1/2}`, as a JS number
 * (`t` is not disposed). On wasm (with SIMD) and cpu the sum is read straight off the backend's
 * memory in float64 — no kernel, no scalar tensor, no download; beyond the float32 range it
 * reads +∞, as tfjs's float32 `Sum` would. Elsewhere (the tensorflow, webgl and webgpu
 * backends) it is `tf.norm(t)` read once. For the norms a strategy reads to report or decide
 * (residuals, certificates); inside a differentiated function use `tf.norm`.
 *
 * @param t - any float32 tensor.
 * @returns ‖t‖₂ as a number.
 * @example
 * ```ts
 * const r = tf.sub(b, A.apply(x));
 * if (normNumber(r) <= tol * normNumber(b)) console.log('converged');
 * ```
 */
export function normNumber(t: tf.Tensor): number {
  return fusedNorm(t);
}

/**
 * `⟨a, b⟩ = Σᵢ aᵢbᵢ` as a JS number with the bits of tfjs's float32 `tf.sum(tf.mul(a, b))` on
 * the backend at hand: on wasm (with SIMD) read off the backend's memory by one SIMD loop that
 * rounds each product to float32 and adds in float32 in index order, as the wasm backend's
 * Multiply and Sum do — no kernel, no download; elsewhere `tf.sum(tf.mul(a, b))` read once. For
 * analytic energies and solvers whose float32 values must not depend on whether they run fused
 * (L-BFGS's pairs, an energy's data term); where accuracy matters more, {@link normNumber}'s
 * float64 sums.
 *
 * @param a - a float32 tensor.
 * @param b - a float32 tensor shaped like `a`.
 * @returns the float32 sum as a number.
 * @example
 * ```ts
 * const r = tf.sub(x, y);
 * const data = 0.5 * dotFloat32(r, r); // ½‖x − y‖² as tf.sum(tf.square(r)) gives it
 * ```
 */
export function dotFloat32(a: tf.Tensor, b: tf.Tensor): number {
  return dotFloat32Number(a, b);
}

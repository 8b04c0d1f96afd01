import type { tf } from './tf.js';
import { normNumber as fusedNorm } from './internal/fused-ops.js';

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

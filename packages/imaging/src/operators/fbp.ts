import { tf } from '@bilevel/core';
import type { RadonOperator } from './radon.js';

/**
 * The Ram-Lak ramp filter in the spatial domain (Kak & Slaney, "Principles of Computerized
 * Tomographic Imaging", 1988, eq. (61) of ch. 3), band-limited to the detector spacing Δs:
 * `h[0] = 1/(4Δs²)`, `h[k] = 0` for even k ≠ 0, `h[k] = −1/(π²k²Δs²)` for odd k.
 *
 * @param detectors - number of detector bins D (the filter has taps −(D−1) … D−1).
 * @param spacing - Δs.
 * @returns the D × D Toeplitz matrix `H[i][j] = Δs·h[i − j]`, so that filtering a projection is `H p`.
 * @example
 * ```ts
 * const H = rampFilterMatrix(93, 1); // 93 × 93 numbers
 * ```
 */
export function rampFilterMatrix(detectors: number, spacing = 1): number[][] {
  const h = (k: number) => (k === 0 ? 1 / (4 * spacing * spacing) : k % 2 === 0 ? 0 : -1 / (Math.PI * Math.PI * k * k * spacing * spacing));
  return Array.from({ length: detectors }, (_, i) => Array.from({ length: detectors }, (__, j) => spacing * h(i - j)));
}

/**
 * Filtered back-projection for a parallel-beam {@link RadonOperator}:
 * `x = (π/K) Aᵀ(H y)`, with H the Ram-Lak ramp filter along the detector axis
 * ({@link rampFilterMatrix}, applied as one matMul) and K the number of angles in [0, π).
 * Aᵀ of the ray-driven projector with unit detector spacing back-projects with weight 1/Δs per
 * angle, which the factor Δs in H cancels.
 *
 * @param operator - the Radon transform that produced the sinogram.
 * @param sinogram - `[batch, angles, detectors, 1]`.
 * @returns the reconstruction `[batch, n, n, 1]` (the caller owns it).
 * @example
 * ```ts
 * const A = radon(64, { angles: 60 });
 * const x = fbp(A, A.apply(phantom));
 * ```
 */
export function fbp(operator: RadonOperator, sinogram: tf.Tensor): tf.Tensor {
  const where = 'fbp';
  if (operator == null || !Array.isArray((operator as RadonOperator).angles)) throw new Error(`${where}: 'operator' must be a radon(...) operator.`);
  const [k, d] = operator.outShape;
  if (!(sinogram instanceof tf.Tensor) || sinogram.rank !== 4 || sinogram.shape[1] !== k || sinogram.shape[2] !== d) {
    throw new Error(`${where}: 'sinogram' must be [batch, ${k}, ${d}, 1] (the operator's outShape), got ${sinogram instanceof tf.Tensor ? `[${sinogram.shape}]` : typeof sinogram}.`);
  }
  return tf.tidy(() => {
    const b = sinogram.shape[0];
    const H = tf.tensor2d(rampFilterMatrix(d, operator.detectorSpacing));
    const filtered = tf.matMul(tf.reshape(sinogram, [b * k, d]), H, false, true);
    const back = operator.adjoint(tf.reshape(filtered, [b, k, d, 1]));
    return tf.mul(back, (Math.PI / k) * operator.detectorSpacing);
  });
}

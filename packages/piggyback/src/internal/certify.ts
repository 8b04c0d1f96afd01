import { tf } from '@bilevel/core';
import { saddleHypergradientBound, type SaddleBound, type SaddleBoundConstants } from '../bound.js';

/** The tensors the certificate reads (none consumed). */
export interface CertifyTensors {
  /** x̃, ỹ: PDHG's last iterate. */
  x: tf.Tensor;
  z: tf.Tensor;
  /** r_p ∈ ∂g(x̃) + Kᵀỹ, r_d ∈ ∂f*(ỹ) − Kx̃ from PDHG's last step. */
  rp: tf.Tensor;
  rd: tf.Tensor;
  /** X̃, Ỹ and the adjoint saddle residual (r_a, r_b) at them (from the adjoint's last step). */
  X: tf.Tensor;
  Y: tf.Tensor;
  ra: tf.Tensor;
  rb: tf.Tensor;
  /** ∇ℓ₁(x̃). */
  lossGrad: tf.Tensor;
  /** Per-entry strong-convexity weights of g and f* (broadcastable to x and y); absent: the scalar m. */
  weightsX?: tf.Tensor;
  weightsY?: tf.Tensor;
}

/**
 * Evaluates {@link saddleHypergradientBound} from tensors: for the whole problem (one entry), or,
 * with `perSample`, for each slice of the leading axis when the problem is a stack of
 * independent problems (block-diagonal K, separable g, f* and loss, θ per sample) — how the
 * validity test certifies a thousand problems in one batched solve.
 *
 * @param t - iterates, residuals, adjoint variables and ∇ℓ₁(x̃).
 * @param constants - the bound's constants.
 * @param perSample - certify each leading-axis slice separately.
 * @returns one {@link SaddleBound} per sample (one entry without `perSample`).
 */
export function certifySaddle(t: CertifyTensors, constants: SaddleBoundConstants, perSample = false): SaddleBound[] {
  const n = perSample ? t.x.shape[0]! : 1;
  const norms = tf.tidy(() => {
    const sq = (a: tf.Tensor) => tf.sum(tf.square(tf.reshape(a, [n, -1])), 1);
    // ‖·‖²_{W⁻¹}: with weights, divide the squares entry-wise; without, by the scalar m.
    const wsq = (a: tf.Tensor, w: tf.Tensor | undefined) => (w != null ? tf.sum(tf.reshape(tf.div(tf.square(a), w), [n, -1]), 1) : tf.div(sq(a), constants.weightFloor));
    const pair = (a: tf.Tensor, b: tf.Tensor) => tf.sqrt(tf.add(sq(a), sq(b)));
    const wpair = (a: tf.Tensor, b: tf.Tensor) => tf.sqrt(tf.add(wsq(a, t.weightsX), wsq(b, t.weightsY)));
    return tf.stack([wpair(t.rp, t.rd), wpair(t.ra, t.rb), pair(t.x, t.z), tf.sqrt(sq(t.X)), tf.sqrt(sq(t.Y)), tf.sqrt(wsq(t.lossGrad, t.weightsX))]);
  });
  const v = norms.dataSync();
  norms.dispose();
  const out: SaddleBound[] = [];
  for (let i = 0; i < n; i++) {
    out.push(saddleHypergradientBound(constants, {
      forwardResidual: v[i], adjointResidual: v[n + i], pointNorm: v[2 * n + i],
      adjointPrimalNorm: v[3 * n + i], adjointDualNorm: v[4 * n + i], lossGradNorm: v[5 * n + i],
    }));
  }
  return out;
}

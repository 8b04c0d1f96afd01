/**
 * Training batches for the learned baselines (ACR, LPD) from the example's few training phantoms:
 * the phantoms under one of the 8 symmetries of the square (rotations by 90° and flips), measured
 * by A with fresh Gaussian noise of σ = `noise` × the batch's largest sinogram value (as `context.ts`
 * measures the fixed sets). Every step sees the same training phantoms, never a held-out one.
 */
import { tf } from '@bilevel/core';
import type { CtContext } from './context.js';

/** Phantoms under symmetry k ∈ {0..7} of the square: transpose if k ≥ 4, then k mod 4 quarter turns. */
export function dihedral(x: tf.Tensor, k: number): tf.Tensor {
  return tf.tidy(() => {
    let y = k >= 4 ? tf.transpose(x, [0, 2, 1, 3]) : x.clone();
    for (let r = 0; r < k % 4; r++) y = tf.reverse(tf.transpose(y, [0, 2, 1, 3]), 2);
    return y;
  });
}

/** A training batch for step `step`: phantoms t (a symmetry of the training set) and their noisy sinograms u. */
export function trainingBatch(ctx: CtContext, step: number, seed: number): { t: tf.Tensor; u: tf.Tensor } {
  return tf.tidy(() => {
    const t = dihedral(ctx.train.t, step % 8);
    const s = ctx.A.apply(t);
    const peak = tf.max(s);
    const u = tf.add(s, tf.mul(tf.randomNormal(s.shape, 0, 1, 'float32', seed + step), tf.mul(peak, Number(ctx.flags.noise))));
    return { t, u };
  });
}

/**
 * The benchmark energy, shared by autodiff.ts and peer.ts: a smoothed Field of Experts
 *   Φ(x; θ) = ½‖x − y‖² + Σ_k e^{α_k} Σ_pixels log(1 + (c_k ∗ x)²),   θ = { filters, alpha }.
 */
import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';

export function foeEnergy(y: tf.Tensor) {
  return (x: tf.Tensor, theta: Params): tf.Tensor => {
    const responses = tf.conv2d(x as tf.Tensor4D, theta.filters as tf.Tensor4D, 1, 'same');
    const penalty = tf.sum(tf.log1p(tf.square(responses)), [0, 1, 2]); // per filter
    const data = tf.mul(0.5, tf.sum(tf.square(tf.sub(x, y))));
    return tf.add(data, tf.sum(tf.mul(tf.exp(theta.alpha), penalty)));
  };
}

/** Seeded inputs of one benchmark case: images y, x, a direction v, and θ. */
export function foeInputs(batch: number, size: number, kernel: number, filters: number) {
  return {
    y: tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1),
    x: tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2),
    v: tf.randomNormal([batch, size, size, 1], 0, 1, 'float32', 3),
    theta: {
      filters: tf.mul(tf.randomNormal([kernel, kernel, 1, filters], 0, 1, 'float32', 4), 0.1),
      alpha: tf.fill([filters], -2),
    } as Params,
  };
}

import { tf } from '@bilevel/core';

/** Throws unless `x` is a rank-4 NHWC tensor with one channel (or `channels` channels). */
export function checkImage(where: string, name: string, x: tf.Tensor, channels = 1): void {
  if (!(x instanceof tf.Tensor)) throw new Error(`${where}: '${name}' must be a tf.Tensor, got ${typeof x}.`);
  if (x.rank !== 4 || x.shape[3] !== channels) {
    throw new Error(
      `${where}: '${name}' has shape [${x.shape}], expected NHWC [batch, height, width, ${channels}]; ` +
        `reshape a [h, w] image with x.reshape([1, h, w, 1]).`,
    );
  }
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositive(where: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${where}: option '${name}' must be a finite number > 0, got ${String(value)}.`);
  }
}

/** Throws unless the tensor has no entry outside `[lo, hi]` (one device read). */
export function checkRange(where: string, name: string, t: tf.Tensor, lo: number, hi: number): void {
  const [min, max] = tf.tidy(() => [tf.min(t), tf.max(t)]).map((s) => {
    const v = s.dataSync()[0];
    s.dispose();
    return v;
  });
  if (!(min >= lo && max <= hi)) {
    throw new Error(`${where}: '${name}' has entries in [${min}, ${max}], expected them in [${lo}, ${hi}].`);
  }
}

/**
 * Learned convolution filters as one picture.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';

/**
 * The filters `[s, s, 1, k]` side by side, each scaled to [0, 1] on its own, framed by one
 * white pixel and enlarged `scale`× (nearest neighbour): a `[1, scale·(s+2), scale·k·(s+2), 1]`
 * image for `saveImage`.
 *
 * @param filters - `[s, s, 1, k]` filters (not consumed).
 * @param scale - enlargement (default 8).
 * @returns a new image tensor; the caller disposes it.
 * @example
 * ```ts
 * const picture = filterMosaic(theta.filters);
 * saveImage('out/learned-filters.png', picture);
 * picture.dispose();
 * ```
 */
export function filterMosaic(filters: tf.Tensor, scale = 8): tf.Tensor4D {
  if (!(filters instanceof tf.Tensor) || filters.rank !== 4 || filters.shape[2] !== 1) {
    throw new Error(`filterMosaic: 'filters' must be a [s, s, 1, k] tensor, got ${filters instanceof tf.Tensor ? `[${filters.shape}]` : typeof filters}.`);
  }
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`filterMosaic: 'scale' must be a positive integer, got ${scale}.`);
  const [s, , , k] = filters.shape as [number, number, number, number];
  return tf.tidy(() => {
    const tiles = [];
    for (let j = 0; j < k; j++) {
      const t = tf.slice(filters, [0, 0, 0, j], [-1, -1, -1, 1]).reshape([1, s, s, 1]);
      const lo = tf.min(t);
      const hi = tf.max(t);
      tiles.push(tf.pad(tf.div(tf.sub(t, lo), tf.maximum(tf.sub(hi, lo), 1e-12)), [[0, 0], [1, 1], [1, 1], [0, 0]], 1));
    }
    return tf.image.resizeNearestNeighbor(tf.concat(tiles, 2) as tf.Tensor4D, [scale * (s + 2), scale * k * (s + 2)]);
  });
}

/** PNG pictures of a run: crops and learned filters. */
import { tf } from '@bilevel/core';
import { saveImage } from '@bilevel/imaging/node';

/** Writes image `i` of a `[n, h, w, 1]` batch to `path` (clipped to [0, 1] by saveImage). */
export function saveOne(path: string, batch: tf.Tensor, i: number): void {
  tf.tidy(() => saveImage(path, tf.slice(batch, [i, 0, 0, 0], [1, -1, -1, -1])));
}

import { tf } from '@bilevel/core';
import { checkImage } from '../internal/checks.js';
import { mulberry32 } from '../internal/rng.js';

function checkCrop(where: string, image: tf.Tensor, size: number): void {
  checkImage(where, 'image', image);
  if (!Number.isInteger(size) || size <= 0) throw new Error(`${where}: 'size' must be a positive integer, got ${String(size)}.`);
  if (size > (image.shape[1] as number) || size > (image.shape[2] as number)) {
    throw new Error(`${where}: crop size ${size} exceeds the image (${image.shape[1]}×${image.shape[2]}); use a smaller size.`);
  }
}

/**
 * Central `size × size` crop of every image in a batch.
 *
 * @param image - `[b, h, w, 1]`.
 * @param size - crop side.
 * @returns `[b, size, size, 1]`.
 * @example
 * ```ts
 * const x = centerCrop(loadImage(sampleImages().camera), 128);
 * ```
 */
export function centerCrop(image: tf.Tensor, size: number): tf.Tensor4D {
  checkCrop('centerCrop', image, size);
  const top = Math.floor(((image.shape[1] as number) - size) / 2);
  const left = Math.floor(((image.shape[2] as number) - size) / 2);
  return tf.slice(image, [0, top, left, 0], [-1, size, size, 1]) as tf.Tensor4D;
}

/**
 * `count` random `size × size` crops of one image, at seeded uniform positions.
 *
 * @param image - `[1, h, w, 1]` (or the first image of a batch is used).
 * @param size - crop side.
 * @param count - number of crops.
 * @param seed - generator seed: the same seed gives the same crops.
 * @returns `[count, size, size, 1]`.
 * @example
 * ```ts
 * const patches = randomCrops(img, 64, 16, 0);
 * ```
 */
export function randomCrops(image: tf.Tensor, size: number, count: number, seed: number): tf.Tensor4D {
  checkCrop('randomCrops', image, size);
  if (!Number.isInteger(count) || count <= 0) throw new Error(`randomCrops: 'count' must be a positive integer, got ${String(count)}.`);
  const random = mulberry32(seed);
  const [h, w] = [image.shape[1] as number, image.shape[2] as number];
  return tf.tidy(() => {
    const crops: tf.Tensor[] = [];
    for (let i = 0; i < count; i++) {
      const top = Math.floor(random() * (h - size + 1));
      const left = Math.floor(random() * (w - size + 1));
      crops.push(tf.slice(image, [0, top, left, 0], [1, size, size, 1]));
    }
    return tf.concat(crops, 0) as tf.Tensor4D;
  });
}

/**
 * All `size × size` patches on a regular grid with the given stride (non-overlapping when
 * `stride = size`), in row-major order, from every image of the batch.
 *
 * @param image - `[b, h, w, 1]`.
 * @param size - patch side.
 * @param stride - step between patch corners (default `size`).
 * @returns `[b · nRows · nCols, size, size, 1]`.
 * @example
 * ```ts
 * const p = extractPatches(img, 32);   // tiles of 32×32
 * ```
 */
export function extractPatches(image: tf.Tensor, size: number, stride = size): tf.Tensor4D {
  checkCrop('extractPatches', image, size);
  if (!Number.isInteger(stride) || stride <= 0) throw new Error(`extractPatches: 'stride' must be a positive integer, got ${String(stride)}.`);
  const [h, w] = [image.shape[1] as number, image.shape[2] as number];
  return tf.tidy(() => {
    const patches: tf.Tensor[] = [];
    for (let top = 0; top + size <= h; top += stride) {
      for (let left = 0; left + size <= w; left += stride) {
        patches.push(tf.slice(image, [0, top, left, 0], [-1, size, size, 1]));
      }
    }
    // [patch][batch] → batch-major order
    const stacked = tf.stack(patches, 1);
    return stacked.reshape([-1, size, size, 1]) as tf.Tensor4D;
  });
}

import { tf } from '@bilevel/core';
import { imageFromPng } from './png.js';
import { randomCrops } from './crops.js';
import { addNoise } from './noise.js';
import { trainTestSplit } from './split.js';
import { checkOptions } from '@bilevel/core';
import { DATASET_SCHEMA } from '../internal/options.js';

/** Options of {@link denoisingDataset}. */
export interface DenoisingDatasetOptions {
  /**
   * Source images: `[1, h, w, 1]` tensors (not disposed) or PNG file bytes. PNG paths are
   * accepted by the `denoisingDataset` of `@bilevel/imaging/node`.
   */
  images: Array<tf.Tensor | Uint8Array>;
  /** Side of the square crops. */
  cropSize?: number;
  /** Number of training crops. */
  count?: number;
  /** Number of test crops (default: `count`). */
  testCount?: number;
  /** Noise standard deviation σ. */
  sigma?: number;
  /** Seed of the split, the crop positions and the noise. */
  seed?: number;
  /** Share of the images used for training (at least one image goes to each side when there are two or more). */
  trainFraction?: number;
}

/** Defaults of {@link denoisingDataset}: 64×64 crops, 8 of them, σ = 0.1, seed 0, 75 % of the images for training. */
export const DENOISING_DATASET_DEFAULTS = { cropSize: 64, count: 8, sigma: 0.1, seed: 0, trainFraction: 0.75 } as const;

/** Clean/noisy batch pair. */
export interface DenoisingBatch {
  /** `[n, s, s, 1]` clean crops in [0, 1]. */
  clean: tf.Tensor4D;
  /** `clean + σ·noise` (not clipped). */
  noisy: tf.Tensor4D;
}

/** What {@link denoisingDataset} returns. */
export interface DenoisingDataset {
  train: DenoisingBatch;
  test: DenoisingBatch;
  /** Indices into `options.images` used for training and for testing. */
  trainImages: number[];
  testImages: number[];
  /** Frees the four batches. */
  dispose(): void;
}

/**
 * A deterministic denoising data set: images are split into train and test (so test crops
 * come from unseen images), seeded random crops are drawn round-robin from each side, and
 * seeded Gaussian noise is added. With a single image both sides crop it (independent
 * positions, possibly overlapping).
 *
 * @param options - see {@link DENOISING_DATASET_DEFAULTS}.
 * @returns `{ train: { clean, noisy }, test: { clean, noisy }, trainImages, testImages, dispose }`.
 * @example
 * ```ts
 * const images = await Promise.all(SAMPLE_IMAGE_NAMES.map((name) => fetchSampleImage(name)));   // browser
 * const data = denoisingDataset({ images, cropSize: 48, count: 16, sigma: 0.1, seed: 1 });
 * // data.train.noisy: [16, 48, 48, 1]
 * data.dispose();
 * ```
 */
export function denoisingDataset(options: DenoisingDatasetOptions): DenoisingDataset {
  checkOptions('denoisingDataset', options, DATASET_SCHEMA);
  if (options == null || !Array.isArray(options.images) || options.images.length === 0) {
    throw new Error('denoisingDataset: option \'images\' must be a non-empty array of [1, h, w, 1] tensors or PNG bytes (see fetchSampleImage, imageFromPng).');
  }
  const path = options.images.findIndex((src) => typeof src === 'string');
  if (path >= 0) {
    throw new Error(`denoisingDataset: images[${path}] is a file path; import denoisingDataset from '@bilevel/imaging/node' to read PNG files, or pass tensors / PNG bytes.`);
  }
  const o = { ...DENOISING_DATASET_DEFAULTS, ...options };
  const testCount = options.testCount ?? o.count;
  for (const k of ['cropSize', 'count'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`denoisingDataset: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  if (!Number.isInteger(testCount) || testCount <= 0) throw new Error(`denoisingDataset: option 'testCount' must be a positive integer, got ${String(testCount)}.`);
  const indices = options.images.map((_, i) => i);
  let trainImages: number[];
  let testImages: number[];
  if (indices.length === 1) {
    trainImages = testImages = [0];
  } else {
    const split = trainTestSplit(indices, o.trainFraction, o.seed);
    // keep at least one image on each side
    if (split.train.length === 0) split.train.push(split.test.pop()!);
    if (split.test.length === 0) split.test.push(split.train.pop()!);
    ({ train: trainImages, test: testImages } = split);
  }
  const load = (i: number) => {
    const src = options.images[i];
    return src instanceof tf.Tensor ? tf.tidy(() => tf.slice(src, [0, 0, 0, 0], [1, -1, -1, 1])) : imageFromPng(src);
  };
  const makeBatch = (which: number[], count: number, seed: number): DenoisingBatch => {
    const perImage = Math.ceil(count / which.length);
    const parts: tf.Tensor[] = [];
    which.forEach((index, k) => {
      const img = load(index);
      parts.push(randomCrops(img, o.cropSize, perImage, seed * 7919 + k));
      img.dispose();
    });
    const clean = tf.tidy(() => {
      // interleave so that the first `count` crops are round-robin over the images
      const all = tf.stack(parts, 1).reshape([-1, o.cropSize, o.cropSize, 1]);
      return tf.slice(all, [0, 0, 0, 0], [count, -1, -1, -1]);
    }) as tf.Tensor4D;
    tf.dispose(parts);
    return { clean, noisy: addNoise(clean, o.sigma, seed) as tf.Tensor4D };
  };
  const train = makeBatch(trainImages, o.count, 2 * o.seed + 1);
  const test = makeBatch(testImages, testCount, 2 * o.seed + 2);
  return {
    train,
    test,
    trainImages,
    testImages,
    dispose: () => tf.dispose([train.clean, train.noisy, test.clean, test.noisy]),
  };
}

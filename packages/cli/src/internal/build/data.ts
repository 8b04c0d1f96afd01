/** Training and held-out crops from the config's images (bundled samples or PNG files). */
import { tf } from '@bilevel/core';
import { randomCrops } from '@bilevel/imaging';
import { loadImage, sampleImages } from '@bilevel/imaging/node';
import { FailureError, UsageError } from '../../errors.js';
import { configPath, imageList } from '../../config/load.js';
import type { TrainConfig } from '../../config/schema.js';

/** Reads one image reference (a sample name or a PNG path) as a gray `[1, h, w, 1]` tensor. */
export function readImage(ref: string, dir: string): tf.Tensor4D {
  const samples = sampleImages();
  const path = samples[ref] ?? configPath(dir, ref);
  try {
    return loadImage(path);
  } catch (e) {
    throw new FailureError(`cannot read image ${ref} (${path}): ${(e as Error).message}`);
  }
}

/**
 * `count` seeded random crops of side `crop`, round-robin over the images (the first
 * `ceil(count / images)` of each), as one `[count, crop, crop, 1]` batch.
 */
export function cropsOf(field: string, refs: string[], dir: string, crop: number, count: number, seed: number): tf.Tensor4D {
  const per = Math.ceil(count / refs.length);
  const parts: tf.Tensor4D[] = [];
  try {
    refs.forEach((ref, k) => {
      const image = readImage(ref, dir);
      const [h, w] = [image.shape[1], image.shape[2]];
      if (h < crop || w < crop) {
        image.dispose();
        throw new UsageError(`data.crop: got ${crop}; image ${ref} of ${field} is only ${h}×${w}: use a crop ≤ ${Math.min(h, w)}.`);
      }
      parts.push(randomCrops(image, crop, per, seed * 101 + k));
      image.dispose();
    });
    return tf.tidy(() => tf.slice(tf.concat(parts, 0), [0, 0, 0, 0], [count, -1, -1, -1]) as tf.Tensor4D);
  } finally {
    tf.dispose(parts);
  }
}

/** The clean training and held-out crops of a config (seeds 2s + 1 and 2s + 2, as the tv-denoise example). */
export function cleanCrops(config: TrainConfig, dir: string): { train: tf.Tensor4D; test: tf.Tensor4D } {
  const d = config.data;
  const train = cropsOf('data.train', imageList(d.train, dir), dir, d.crop, d.count, 2 * d.seed + 1);
  try {
    return { train, test: cropsOf('data.test', imageList(d.test, dir), dir, d.crop, d.testCount, 2 * d.seed + 2) };
  } catch (e) {
    train.dispose();
    throw e;
  }
}

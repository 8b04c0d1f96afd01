/**
 * The training and held-out data of both scripts (main.ts, compare.ts): seeded random crops of
 * the sample images' left halves for training and right halves for testing, so no held-out pixel
 * is ever seen in training, with seeded Gaussian noise.
 */
import { tf } from '@bilevel/core';
import { randomCrops, addNoise } from '@bilevel/imaging';
import { sampleImages, loadImage } from '@bilevel/imaging/node';
import type { DenoisingPair } from './discretisation.js';

/** What {@link halfCrops} takes: the image names (comma list), crop side, noise σ. */
export interface CropSettings {
  images: string;
  crop: number;
  sigma: number;
}

/**
 * `count` noisy/clean crops from the `half` of every image in `settings.images`.
 *
 * @param settings - images, crop side and noise level (the scripts' flags).
 * @param half - 'left' (training) or 'right' (held out).
 * @param count - number of crops, spread evenly over the images.
 * @param seed - seeds the crop positions and the noise.
 * @returns `{ y, clean }`, each `[count, crop, crop, 1]`.
 * @example
 * ```ts
 * const train = halfCrops({ images: 'camera', crop: 32, sigma: 0.1 }, 'left', 8, 1);
 * ```
 */
export function halfCrops(settings: CropSettings, half: 'left' | 'right', count: number, seed: number): DenoisingPair {
  const names = settings.images.split(',');
  const paths = sampleImages();
  for (const name of names) if (!(name in paths)) throw new Error(`--images: no sample image '${name}'; choose from ${Object.keys(paths).join(', ')}.`);
  const per = Math.ceil(count / names.length);
  const clean = tf.tidy(() => {
    const parts = names.map((name, k) => {
      const image = loadImage(paths[name]);
      const w = image.shape[2];
      const halfWidth = Math.floor(w / 2);
      const side = tf.slice(image, [0, 0, half === 'left' ? 0 : halfWidth, 0], [-1, -1, half === 'left' ? halfWidth : w - halfWidth, -1]);
      return randomCrops(side, settings.crop, per, seed * 101 + k);
    });
    return tf.slice(tf.concat(parts, 0), [0, 0, 0, 0], [count, -1, -1, -1]);
  });
  return { y: addNoise(clean, settings.sigma, seed), clean };
}

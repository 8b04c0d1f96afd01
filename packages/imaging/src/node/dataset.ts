import { readFileSync } from 'node:fs';
import { tf } from '@bilevel/core';
import { denoisingDataset as fromImages, type DenoisingDataset, type DenoisingDatasetOptions } from '../data/dataset.js';

/** Options of the Node {@link denoisingDataset}: as the main entry's, and `images` may also be PNG paths. */
export interface DenoisingFilesOptions extends Omit<DenoisingDatasetOptions, 'images'> {
  /** PNG paths, PNG bytes or `[1, h, w, 1]` tensors (not disposed). */
  images: Array<string | tf.Tensor | Uint8Array>;
}

/**
 * `denoisingDataset` of the main entry that also reads PNG files: each path is read once
 * and decoded like `loadImage`; everything else is as there (train/test split over images,
 * seeded crops and noise).
 *
 * @param options - as `denoisingDataset`, with `images` paths allowed.
 * @returns `{ train: { clean, noisy }, test: { clean, noisy }, trainImages, testImages, dispose }`.
 * @example
 * ```ts
 * import { denoisingDataset, sampleImages } from '@bilevel/imaging/node';
 * const data = denoisingDataset({ images: Object.values(sampleImages()), cropSize: 48, count: 16, sigma: 0.1, seed: 1 });
 * data.dispose();
 * ```
 */
export function denoisingDataset(options: DenoisingFilesOptions): DenoisingDataset {
  if (options == null || !Array.isArray(options.images)) return fromImages(options as DenoisingDatasetOptions);
  const images = options.images.map((src) => {
    if (typeof src !== 'string') return src;
    try {
      return readFileSync(src);
    } catch (e) {
      throw new Error(`denoisingDataset: cannot read '${src}' (${(e as Error).message}); check the path (sampleImages() lists the bundled ones).`);
    }
  });
  return fromImages({ ...options, images });
}

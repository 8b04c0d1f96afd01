/**
 * `@bilevel/imaging/node`: the Node-only corners of `@bilevel/imaging` — PNG files on disk
 * and the bundled sample images as file paths. Everything else (decoding PNG bytes,
 * `ImageData`, sample URLs, operators, problems, metrics) is in the main entry, which
 * bundles for browsers.
 *
 * @packageDocumentation
 */
export { loadImage, saveImage } from './node/files.js';
export { sampleImages, SAMPLE_IMAGE_DIR } from './node/samples.js';
export { denoisingDataset } from './node/dataset.js';
export type { DenoisingFilesOptions } from './node/dataset.js';

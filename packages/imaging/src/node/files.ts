import { readFileSync } from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { tf, checkOptions } from '@bilevel/core';
import { PNG_SCHEMA, PNG_DECODE_SCHEMA } from '../internal/options.js';
import { decodeGrayPng, grayImageTensor, encodePng, type SavePngOptions, type DecodePngOptions } from '../data/png.js';

/**
 * Reads a PNG file into a gray image tensor `[1, h, w, 1]` in [0, 1] (see `decodePng` for the
 * colour and bit-depth rules). Node only; in a browser decode fetched bytes with `imageFromPng`.
 *
 * Errors (not a PNG, empty, truncated, corrupt, more than `maxPixels` pixels) name the file.
 *
 * @param path - file path.
 * @param options - `maxPixels`: the largest width × height accepted (default 2²⁶ ≈ 67 Mpx), checked before decoding.
 * @returns a `[1, h, w, 1]` float32 tensor.
 * @example
 * ```ts
 * import { loadImage, sampleImages } from '@bilevel/imaging/node';
 * const img = loadImage(sampleImages().camera);   // [1, 512, 512, 1]
 * const big = loadImage('scan.png', { maxPixels: 2 ** 28 });
 * ```
 */
export function loadImage(path: string, options: Omit<DecodePngOptions, 'name'> = {}): tf.Tensor4D {
  checkOptions('loadImage', options, { maxPixels: PNG_DECODE_SCHEMA.maxPixels });
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`loadImage: cannot read '${path}' (${(e as Error).message}); check the path (sampleImages() lists the bundled ones).`);
  }
  return grayImageTensor(decodeGrayPng('loadImage', bytes, { ...options, name: path }));
}

/**
 * Saves a gray image as a PNG file (clipped to [0, 1]; see `encodePng`), creating the folder.
 * Node only; in a browser turn `encodePng(image)` into a `Blob`.
 *
 * @param path - file path to write.
 * @param image - `[h, w]`, `[h, w, 1]` or `[1, h, w, 1]` tensor.
 * @param options - `{ bitDepth: 8 | 16 }` (default 8).
 * @example
 * ```ts
 * import { saveImage } from '@bilevel/imaging/node';
 * saveImage('/tmp/denoised.png', xHat);
 * ```
 */
export function saveImage(path: string, image: tf.Tensor, options: SavePngOptions = {}): void {
  checkOptions('saveImage', options, PNG_SCHEMA);
  const bytes = encodePng(image, options);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

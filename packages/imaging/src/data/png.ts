import { readFileSync, writeFileSync } from 'node:fs';
import pngjs from 'pngjs';
import { tf } from '@bilevel/core';
import { checkOptions } from '@bilevel/core';
import { PNG_SCHEMA } from '../internal/options.js';

const { PNG } = pngjs;

/** ITU-R BT.601 luma weights used to convert RGB to gray. */
export const LUMINANCE_WEIGHTS = [0.299, 0.587, 0.114] as const;

/**
 * Decodes a PNG to gray values in [0, 1].
 *
 * Gray images keep their values; RGB/RGBA become `0.299 R + 0.587 G + 0.114 B`; the alpha
 * channel is ignored; palette images are expanded first. 16-bit (and 1/2/4-bit) samples are
 * read at full precision (`value / (2^depth − 1)`), not rescaled to 8 bits.
 *
 * @param buffer - PNG file contents.
 * @returns `{ width, height, depth, values }`, values row-major in [0, 1].
 * @example
 * ```ts
 * const { width, height, values } = decodePng(readFileSync('camera.png'));
 * ```
 */
export function decodePng(buffer: Buffer): { width: number; height: number; depth: number; values: Float32Array } {
  const png = PNG.sync.read(buffer, { skipRescale: true });
  const { width, height } = png;
  const meta = png as unknown as { depth: number; colorType: number };
  // palette images come out as 8-bit RGBA whatever the index depth
  const depth = meta.colorType === 3 ? 8 : meta.depth;
  const max = 2 ** depth - 1;
  const gray = meta.colorType === 0 || meta.colorType === 4;
  const data = png.data as unknown as ArrayLike<number>;
  const values = new Float32Array(width * height);
  const [wr, wg, wb] = LUMINANCE_WEIGHTS;
  for (let i = 0; i < width * height; i++) {
    const v = gray ? data[4 * i] : wr * data[4 * i] + wg * data[4 * i + 1] + wb * data[4 * i + 2];
    values[i] = Math.min(1, v / max);
  }
  return { width, height, depth, values };
}

/**
 * Loads a PNG file as a gray image tensor `[1, h, w, 1]` in [0, 1] (see {@link decodePng}).
 *
 * @param path - file path.
 * @returns a `[1, h, w, 1]` float32 tensor.
 * @example
 * ```ts
 * const img = loadImage(sampleImages().camera);   // [1, 512, 512, 1]
 * ```
 */
export function loadImage(path: string): tf.Tensor4D {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (e) {
    throw new Error(`loadImage: cannot read '${path}' (${(e as Error).message}); check the path (sampleImages() lists the bundled ones).`);
  }
  const { width, height, values } = decodePng(buffer);
  return tf.tensor4d(values, [1, height, width, 1]);
}

/** Options of {@link encodePng} and {@link saveImage}. */
export interface SavePngOptions {
  /** 8 (default) or 16 bits per sample. */
  bitDepth?: 8 | 16;
}

/** Defaults of {@link saveImage}: 8-bit gray. */
export const SAVE_IMAGE_DEFAULTS = { bitDepth: 8 } as const;

function toGray2d(where: string, image: tf.Tensor): { h: number; w: number; values: Float32Array } {
  const s = image.shape;
  const ok = s.length === 2 || (s.length === 3 && s[2] === 1) || (s.length === 4 && s[0] === 1 && s[3] === 1);
  if (!ok) throw new Error(`${where}: expected a gray image [h, w], [h, w, 1] or [1, h, w, 1], got [${s}]; save one image of a batch with tf.slice.`);
  const [h, w] = s.length === 4 ? [s[1], s[2]] : [s[0], s[1]];
  return { h: h as number, w: w as number, values: image.dataSync() as Float32Array };
}

/**
 * Encodes a gray image as PNG, clipping to [0, 1] and rounding to the nearest level.
 *
 * @param image - `[h, w]`, `[h, w, 1]` or `[1, h, w, 1]`.
 * @param options - see {@link SAVE_IMAGE_DEFAULTS}.
 * @returns the PNG bytes.
 * @example
 * ```ts
 * const bytes = encodePng(x, { bitDepth: 16 });
 * ```
 */
export function encodePng(image: tf.Tensor, options: SavePngOptions = {}): Buffer {
  checkOptions('encodePng', options, PNG_SCHEMA);
  const { bitDepth } = { ...SAVE_IMAGE_DEFAULTS, ...options };
  if (bitDepth !== 8 && bitDepth !== 16) throw new Error(`encodePng: option 'bitDepth' must be 8 or 16, got ${String(bitDepth)}.`);
  const { h, w, values } = toGray2d('encodePng', image);
  const max = 2 ** bitDepth - 1;
  const levels = bitDepth === 8 ? new Uint8Array(h * w) : new Uint16Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const v = Number.isNaN(values[i]) ? 0 : Math.min(1, Math.max(0, values[i]));
    levels[i] = Math.round(v * max);
  }
  const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth, inputHasAlpha: false });
  png.data = Buffer.from(levels.buffer, levels.byteOffset, levels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth, inputHasAlpha: false });
}

/**
 * Saves a gray image as PNG (clipped to [0, 1]); see {@link encodePng}.
 *
 * @param path - file path to write.
 * @param image - `[h, w]`, `[h, w, 1]` or `[1, h, w, 1]` tensor.
 * @param options - see {@link SAVE_IMAGE_DEFAULTS}.
 * @example
 * ```ts
 * saveImage('/tmp/denoised.png', xHat);
 * ```
 */
export function saveImage(path: string, image: tf.Tensor, options: SavePngOptions = {}): void {
  checkOptions('saveImage', options, PNG_SCHEMA);
  writeFileSync(path, encodePng(image, options));
}

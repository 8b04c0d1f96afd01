import { decode, encode } from 'fast-png';
import { tf, checkOptions } from '@bilevel/core';
import { PNG_SCHEMA, PNG_DECODE_SCHEMA } from '../internal/options.js';
import { checkPng } from './png-check.js';
import { grayFromChannels } from './pixels.js';

/** A decoded gray image: row-major values in [0, 1] and the PNG's bit depth. */
export interface GrayImage {
  width: number;
  height: number;
  /** Bits per sample of the source (1, 2, 4, 8 or 16; 8 for palette images). */
  depth: number;
  /** `width · height` gray values in [0, 1], row-major. */
  values: Float32Array;
}

/** Options of {@link decodePng}, {@link imageFromPng} and `loadImage` (`@bilevel/imaging/node`). */
export interface DecodePngOptions {
  /** Largest width × height accepted, checked from the header before anything is allocated (default {@link PNG_DECODE_DEFAULTS}: 2²⁶ ≈ 67 Mpx, 8192²). */
  maxPixels?: number;
  /** The file's name (path or URL) for error messages; `loadImage` passes its path. */
  name?: string;
}

/** Defaults of {@link DecodePngOptions}: at most 2²⁶ pixels (8192 × 8192, ≈ 1.3 GB as float32 at the decoder's peak). */
export const PNG_DECODE_DEFAULTS = Object.freeze({ maxPixels: 2 ** 26, name: 'PNG bytes' });

function asBytes(where: string, bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new Error(`${where}: expected the PNG file's bytes as a Uint8Array (a Node Buffer is one) or an ArrayBuffer, got ${bytes === null ? 'null' : typeof bytes}; in a browser use new Uint8Array(await (await fetch(url)).arrayBuffer()).`);
}

/** Unpacks samples of 1, 2 or 4 bits (rows padded to whole bytes) into one number per sample. */
function unpackSamples(data: ArrayLike<number>, width: number, height: number, perPixel: number, depth: number): Uint8Array {
  const perRow = width * perPixel;
  const out = new Uint8Array(perRow * height);
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let r = 0; r < height; r++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = data[r * rowBytes + (bit >> 3)];
      out[r * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Decodes a PNG to gray values in [0, 1], in Node and in browsers alike (pure JS: fast-png).
 *
 * Before decoding, the file's structure is checked: the signature, every chunk's length and
 * CRC, the header's width × height against `maxPixels` (so a tiny file declaring a huge image
 * is refused before any allocation), and the inflated pixel data against the size the header
 * declares (short or damaged data is an error, not zero rows). Every error names the file.
 *
 * Gray images keep their values; RGB/RGBA become `0.299 R + 0.587 G + 0.114 B`
 * ({@link LUMINANCE_WEIGHTS}); the alpha channel is ignored; palette images are expanded
 * first. 16-bit (and 1/2/4-bit) samples are read at full precision (`value / (2^depth − 1)`),
 * not rescaled to 8 bits.
 *
 * @param bytes - the PNG file's bytes (`Uint8Array`, Node `Buffer` or `ArrayBuffer`).
 * @param options - `maxPixels` (raise it for larger images) and `name` (for messages).
 * @returns `{ width, height, depth, values }`, values row-major in [0, 1].
 * @example
 * ```ts
 * const bytes = new Uint8Array(await (await fetch(sampleImageUrl('camera'))).arrayBuffer());
 * const { width, height, values } = decodePng(bytes, { name: 'camera.png' });
 * ```
 */
export function decodePng(bytes: Uint8Array | ArrayBuffer, options: DecodePngOptions = {}): GrayImage {
  return decodeGrayPng('decodePng', bytes, options);
}

/** {@link decodePng} with `where` in its messages (`imageFromPng`, `loadImage`); internal. */
export function decodeGrayPng(where: string, bytes: Uint8Array | ArrayBuffer, options: DecodePngOptions): GrayImage {
  checkOptions(where, options, PNG_DECODE_SCHEMA);
  const { maxPixels, name } = { ...PNG_DECODE_DEFAULTS, ...options };
  const input = asBytes(where, bytes);
  checkPng(where, input, name, maxPixels);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(input);
  } catch (e) {
    throw new Error(`${where}: '${name}' is not a readable PNG (${(e as Error).message}); pass the file's contents, not a path or a data URL.`);
  }
  const { width, height, depth, channels, palette } = png;
  if (palette != null) {
    const indices = depth < 8 ? unpackSamples(png.data, width, height, 1, depth) : png.data;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const entry = palette[indices[i]] ?? [0, 0, 0];
      rgb[3 * i] = entry[0];
      rgb[3 * i + 1] = entry[1];
      rgb[3 * i + 2] = entry[2];
    }
    // palette entries are 8-bit whatever the index depth
    return { width, height, depth: 8, values: grayFromChannels(rgb, width, height, 3, 255) };
  }
  const samples = depth < 8 ? unpackSamples(png.data, width, height, channels, depth) : png.data;
  return { width, height, depth, values: grayFromChannels(samples, width, height, channels, 2 ** depth - 1) };
}

/**
 * Decodes PNG bytes into a gray image tensor `[1, h, w, 1]` in [0, 1] (see {@link decodePng}).
 * Works in browsers (bytes from `fetch`, a file input, a bundler's asset import) and Node.
 *
 * @param bytes - the PNG file's bytes.
 * @param options - `maxPixels` and `name`, as for {@link decodePng}.
 * @returns a `[1, h, w, 1]` float32 tensor (the caller disposes it).
 * @example
 * ```ts
 * const response = await fetch(sampleImageUrl('coins'));
 * const img = imageFromPng(new Uint8Array(await response.arrayBuffer()));   // [1, 303, 384, 1]
 * ```
 */
export function imageFromPng(bytes: Uint8Array | ArrayBuffer, options: DecodePngOptions = {}): tf.Tensor4D {
  return grayImageTensor(decodeGrayPng('imageFromPng', bytes, options));
}

/** A decoded gray image as a `[1, h, w, 1]` tensor; internal. */
export function grayImageTensor({ width, height, values }: GrayImage): tf.Tensor4D {
  return tf.tensor4d(values, [1, height, width, 1]);
}

/** Options of {@link encodePng} (and `saveImage` in `@bilevel/imaging/node`). */
export interface SavePngOptions {
  /** 8 (default) or 16 bits per sample. */
  bitDepth?: 8 | 16;
}

/** Defaults of {@link encodePng}: 8-bit gray. */
export const SAVE_IMAGE_DEFAULTS = { bitDepth: 8 } as const;

function toGray2d(where: string, image: tf.Tensor): { h: number; w: number; values: Float32Array } {
  if (!(image instanceof tf.Tensor)) throw new Error(`${where}: 'image' must be a tf.Tensor, got ${typeof image}.`);
  const s = image.shape;
  const ok = s.length === 2 || (s.length === 3 && s[2] === 1) || (s.length === 4 && s[0] === 1 && s[3] === 1);
  if (!ok) throw new Error(`${where}: expected a gray image [h, w], [h, w, 1] or [1, h, w, 1], got [${s}]; save one image of a batch with tf.slice.`);
  const [h, w] = s.length === 4 ? [s[1], s[2]] : [s[0], s[1]];
  return { h: h as number, w: w as number, values: image.dataSync() as Float32Array };
}

/**
 * Encodes a gray image as PNG bytes, clipping to [0, 1] and rounding to the nearest level
 * (NaN becomes 0). Pure JS: works in browsers (e.g. `new Blob([bytes], { type: 'image/png' })`).
 *
 * @param image - `[h, w]`, `[h, w, 1]` or `[1, h, w, 1]`.
 * @param options - see {@link SAVE_IMAGE_DEFAULTS}.
 * @returns the PNG file's bytes.
 * @example
 * ```ts
 * const bytes = encodePng(x, { bitDepth: 16 });
 * ```
 */
export function encodePng(image: tf.Tensor, options: SavePngOptions = {}): Uint8Array {
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
  return encode({ width: w, height: h, data: levels, depth: bitDepth, channels: 1 });
}

import { tf, requireBackend } from '@bilevel/core';

/** ITU-R BT.601 luma weights used to convert RGB to gray. */
export const LUMINANCE_WEIGHTS = [0.299, 0.587, 0.114] as const;

/**
 * Gray values in [0, 1] from interleaved samples with 1 (gray), 2 (gray + alpha), 3 (RGB) or
 * 4 (RGBA) channels: `v / max` for gray, `(0.299 R + 0.587 G + 0.114 B) / max` for colour;
 * alpha is ignored.
 *
 * @param data - `width · height · channels` samples.
 * @param width - pixels per row.
 * @param height - rows.
 * @param channels - samples per pixel (1–4).
 * @param max - the sample value of full intensity (255 for 8 bits).
 * @returns `width · height` values, row-major.
 */
export function grayFromChannels(data: ArrayLike<number>, width: number, height: number, channels: number, max: number): Float32Array {
  const values = new Float32Array(width * height);
  const [wr, wg, wb] = LUMINANCE_WEIGHTS;
  const gray = channels <= 2;
  for (let i = 0; i < width * height; i++) {
    const k = channels * i;
    const v = gray ? data[k] : wr * data[k] + wg * data[k + 1] + wb * data[k + 2];
    values[i] = Math.min(1, v / max);
  }
  return values;
}

/**
 * Pixels as the browser's `ImageData` holds them (or any `{ data, width, height }` with
 * interleaved samples).
 */
export interface PixelsLike {
  /** `width · height · channels` samples: 8-bit (`Uint8ClampedArray` / `Uint8Array`), 16-bit (`Uint16Array`), or floats in [0, 1]. */
  data: ArrayLike<number> & { length: number };
  width: number;
  height: number;
}

/**
 * A gray image tensor `[1, h, w, 1]` in [0, 1] from `ImageData`-like pixels: the result of
 * `canvas.getContext('2d').getImageData(...)`, a video frame, or any `{ data, width, height }`.
 *
 * The channel count is `data.length / (width · height)` (1, 2, 3 or 4; RGBA for `ImageData`);
 * colour becomes gray by {@link LUMINANCE_WEIGHTS}, alpha is ignored. Integer samples are
 * divided by their type's full scale (255 for `Uint8(Clamped)Array`, 65535 for
 * `Uint16Array`); floating-point or plain-array samples are taken as values in [0, 1].
 *
 * @param pixels - `{ data, width, height }`.
 * @returns a `[1, h, w, 1]` float32 tensor (the caller disposes it).
 * @example
 * ```ts
 * const ctx = canvas.getContext('2d')!;
 * const img = imageFromPixels(ctx.getImageData(0, 0, canvas.width, canvas.height));
 * ```
 */
export function imageFromPixels(pixels: PixelsLike): tf.Tensor4D {
  const where = 'imageFromPixels';
  requireBackend(where);
  if (pixels == null || typeof pixels !== 'object' || pixels.data == null || typeof pixels.data.length !== 'number') {
    throw new Error(`${where}: expected { data, width, height } such as a canvas ImageData, got ${pixels === null ? 'null' : typeof pixels}.`);
  }
  const { data, width, height } = pixels;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${where}: '${name}' must be a positive integer, got ${String(v)}.`);
  }
  const channels = data.length / (width * height);
  if (![1, 2, 3, 4].includes(channels)) {
    throw new Error(`${where}: data.length ${data.length} is not 1, 2, 3 or 4 samples per pixel of a ${width}×${height} image; check width and height.`);
  }
  const max = data instanceof Uint8Array || data instanceof Uint8ClampedArray ? 255 : data instanceof Uint16Array ? 65535 : 1;
  return tf.tensor4d(grayFromChannels(data, width, height, channels, max), [1, height, width, 1]);
}

import { tf } from '@bilevel/core';
import { checkPositive } from '../internal/checks.js';

function checkSize(where: string, size: unknown): void {
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
    throw new Error(`${where}: 'size' must be a positive integer (odd sizes keep the kernel centred), got ${String(size)}.`);
  }
}

/**
 * Normalised 2-D Gaussian blur kernel.
 *
 * `k[i, j] ∝ exp(−((i − c)² + (j − c)²) / (2σ²))`, `c = (size − 1)/2`, `Σ k = 1`.
 *
 * @param size - side length (odd keeps the kernel centred).
 * @param sigma - standard deviation in pixels, > 0.
 * @returns a `[size, size]` tensor summing to 1.
 * @example
 * ```ts
 * const k = gaussianKernel(9, 1.5);
 * const A = convolution(k);
 * ```
 */
export function gaussianKernel(size: number, sigma: number): tf.Tensor2D {
  checkSize('gaussianKernel', size);
  checkPositive('gaussianKernel', 'sigma', sigma);
  const c = (size - 1) / 2;
  const values = new Float64Array(size * size);
  let total = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const v = Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma * sigma));
      values[i * size + j] = v;
      total += v;
    }
  }
  return tf.tensor2d(Array.from(values, (v) => v / total), [size, size]);
}

/**
 * Normalised box (moving-average) kernel, `k = 1/size²` everywhere.
 *
 * @param size - side length.
 * @returns a `[size, size]` tensor summing to 1.
 * @example
 * ```ts
 * const A = convolution(boxKernel(5));
 * ```
 */
export function boxKernel(size: number): tf.Tensor2D {
  checkSize('boxKernel', size);
  return tf.fill([size, size], 1 / (size * size)) as tf.Tensor2D;
}

/**
 * Normalised linear motion-blur kernel: a line segment of `length` pixels through the
 * centre at `angle` degrees (counter-clockwise from the horizontal), rasterised by
 * bilinear splatting of densely sampled points.
 *
 * @param length - length of the motion path in pixels, > 0.
 * @param angle - direction in degrees (0 = horizontal).
 * @param size - side of the square kernel; defaults to the smallest odd integer ≥ length.
 * @returns a `[size, size]` tensor summing to 1.
 * @example
 * ```ts
 * const A = convolution(motionKernel(7, 30));
 * ```
 */
export function motionKernel(length: number, angle = 0, size?: number): tf.Tensor2D {
  checkPositive('motionKernel', 'length', length);
  const side = size ?? 2 * Math.ceil((length - 1) / 2) + 1;
  checkSize('motionKernel', side);
  const c = (side - 1) / 2;
  const values = new Float64Array(side * side);
  const theta = (angle * Math.PI) / 180;
  const samples = Math.max(2, Math.ceil(length * 20));
  for (let s = 0; s < samples; s++) {
    const t = length <= 1 ? 0 : -(length - 1) / 2 + ((length - 1) * s) / (samples - 1);
    // image rows grow downwards, so a counter-clockwise angle moves up (−row)
    const r = c - t * Math.sin(theta);
    const q = c + t * Math.cos(theta);
    const r0 = Math.floor(r);
    const q0 = Math.floor(q);
    for (const [rr, wr] of [[r0, 1 - (r - r0)], [r0 + 1, r - r0]]) {
      for (const [qq, wq] of [[q0, 1 - (q - q0)], [q0 + 1, q - q0]]) {
        if (rr >= 0 && rr < side && qq >= 0 && qq < side) values[rr * side + qq] += wr * wq;
      }
    }
  }
  const total = values.reduce((a, b) => a + b, 0);
  return tf.tensor2d(Array.from(values, (v) => v / total), [side, side]);
}

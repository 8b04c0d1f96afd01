import { tf } from '@bilevel/core';
import { mulberry32 } from '../internal/rng.js';
import { checkOptions } from '@bilevel/core';
import { CARTESIAN_MASK_SCHEMA } from '../internal/options.js';

/** Options of {@link cartesianMask}. */
export interface CartesianMaskOptions {
  /** Image height (number of phase-encoding lines). */
  height: number;
  /** Image width (readout length). */
  width: number;
  /** Acceleration factor R ≥ 1: about `height / R` lines are sampled. */
  acceleration?: number;
  /** Number of fully sampled low-frequency lines (around zero frequency). */
  centerLines?: number;
  /** Seed of the random line choice. */
  seed?: number;
}

/** Defaults of {@link cartesianMask}: R = 4, 8 centre lines, seed 0. */
export const CARTESIAN_MASK_DEFAULTS = { acceleration: 4, centerLines: 8, seed: 0 } as const;

/**
 * Cartesian MRI sampling mask for {@link subsampledFourier}: whole rows (phase-encoding
 * lines) of k-space, the `centerLines` lowest frequencies always, the rest chosen at random
 * without replacement up to `round(height / acceleration)` lines. Zero frequency is at row 0
 * (the unshifted DFT layout of `fft2`), so low frequencies are rows `0, 1, …` and `h−1, h−2, …`.
 *
 * @param options - see {@link CARTESIAN_MASK_DEFAULTS}.
 * @returns an `[h, w]` 0/1 tensor.
 * @example
 * ```ts
 * const mask = cartesianMask({ height: 64, width: 64, acceleration: 4 });
 * const A = subsampledFourier(mask);
 * mask.dispose();
 * ```
 */
export function cartesianMask(options: CartesianMaskOptions): tf.Tensor2D {
  checkOptions('cartesianMask', options, CARTESIAN_MASK_SCHEMA);
  const o = { ...CARTESIAN_MASK_DEFAULTS, ...options };
  for (const k of ['height', 'width'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`cartesianMask: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  if (!(o.acceleration >= 1)) throw new Error(`cartesianMask: option 'acceleration' must be ≥ 1, got ${String(o.acceleration)}.`);
  if (!Number.isInteger(o.centerLines) || o.centerLines < 0) throw new Error(`cartesianMask: option 'centerLines' must be an integer ≥ 0, got ${String(o.centerLines)}.`);
  const h = o.height;
  const target = Math.max(Math.min(h, o.centerLines), Math.round(h / o.acceleration));
  const rows = new Set<number>();
  for (let k = 0; k < Math.min(h, o.centerLines); k++) rows.add(k % 2 === 0 ? k / 2 : h - (k + 1) / 2);
  const random = mulberry32(o.seed);
  const rest = Array.from({ length: h }, (_, i) => i).filter((i) => !rows.has(i));
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  for (const r of rest) {
    if (rows.size >= target) break;
    rows.add(r);
  }
  const values = new Float32Array(h * o.width);
  for (const r of rows) values.fill(1, r * o.width, (r + 1) * o.width);
  return tf.tensor2d(values, [h, o.width]);
}

/**
 * Random pixel mask for {@link inpainting}: each pixel observed independently with
 * probability `fraction` (seeded, backend-independent).
 *
 * @param height - mask height.
 * @param width - mask width.
 * @param fraction - probability of observing a pixel, in [0, 1].
 * @param seed - generator seed.
 * @returns an `[h, w]` 0/1 tensor.
 * @example
 * ```ts
 * const A = inpainting(randomMask(64, 64, 0.3, 1));   // 30 % of the pixels seen
 * ```
 */
export function randomMask(height: number, width: number, fraction: number, seed: number): tf.Tensor2D {
  if (!Number.isInteger(height) || height <= 0 || !Number.isInteger(width) || width <= 0) {
    throw new Error(`randomMask: 'height' and 'width' must be positive integers, got ${String(height)}, ${String(width)}.`);
  }
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`randomMask: 'fraction' must be in [0, 1], got ${String(fraction)}.`);
  const random = mulberry32(seed);
  const values = Float32Array.from({ length: height * width }, () => (random() < fraction ? 1 : 0));
  return tf.tensor2d(values, [height, width]);
}

import { tf } from '@bilevel/core';
import { checkImage, checkPositive } from './internal/checks.js';
import { checkOptions, checkData } from '@bilevel/core';
import { SSIM_SCHEMA } from './internal/options.js';

/** A metric per image of a batch and its mean. */
export interface MetricResult {
  /** One value per image of the batch. */
  perImage: number[];
  /** Mean over the batch. */
  mean: number;
}

function checkPair(where: string, x: tf.Tensor, ref: tf.Tensor): void {
  checkImage(where, 'x', x);
  checkImage(where, 'ref', ref);
  if (!tf.util.arraysEqual(x.shape, ref.shape)) throw new Error(`${where}: 'x' [${x.shape}] and 'ref' [${ref.shape}] must have the same shape.`);
  // A NaN pixel would make the metric NaN silently: named here instead (core's input check).
  checkData(where, x, 'x');
  checkData(where, ref, 'ref');
}

function result(values: Float32Array | number[]): MetricResult {
  const perImage = Array.from(values);
  return { perImage, mean: perImage.reduce((a, b) => a + b, 0) / perImage.length };
}

/**
 * Peak signal-to-noise ratio per image, `PSNR = 10 log10(R² / MSE)`, `MSE = mean((x − ref)²)`
 * over the image (∞ when identical). Matches `skimage.metrics.peak_signal_noise_ratio`.
 *
 * @param x - reconstruction `[b, h, w, 1]`.
 * @param ref - ground truth, same shape.
 * @param dataRange - R, the range of the data (1 for [0, 1] images).
 * @returns per-image values in dB and their mean.
 * @example
 * ```ts
 * const { perImage, mean } = psnr(denoised, clean);
 * ```
 */
export function psnr(x: tf.Tensor, ref: tf.Tensor, dataRange = 1): MetricResult {
  checkPair('psnr', x, ref);
  checkPositive('psnr', 'dataRange', dataRange);
  const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(x, ref)), [1, 2, 3]));
  const values = Array.from(mse.dataSync(), (m) => 10 * Math.log10((dataRange * dataRange) / m));
  mse.dispose();
  return result(values);
}

/** Options of {@link ssim}. */
export interface SsimOptions {
  /** Range of the data (1 for [0, 1] images). */
  dataRange?: number;
  /** Standard deviation of the Gaussian window. */
  sigma?: number;
  /** Luminance stabiliser constant, `C1 = (K1·R)²`. */
  k1?: number;
  /** Contrast stabiliser constant, `C2 = (K2·R)²`. */
  k2?: number;
}

/** Defaults of {@link ssim} (Wang et al. 2004): R = 1, σ = 1.5 (11×11 window), K1 = 0.01, K2 = 0.03. */
export const SSIM_DEFAULTS = { dataRange: 1, sigma: 1.5, k1: 0.01, k2: 0.03 } as const;

/** Normalised 1-D Gaussian with scipy's truncation (radius = round(3.5σ)), as skimage uses. */
function gaussianWindow(sigma: number): number[] {
  const radius = Math.floor(3.5 * sigma + 0.5);
  const w = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-0.5 * ((i - radius) / sigma) ** 2));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / total);
}

/**
 * Structural similarity per image (Wang et al. 2004), with a Gaussian window, exactly as
 * `skimage.metrics.structural_similarity(x, ref, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=R)`:
 * ```
 * SSIM = mean over the interior of ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))
 * ```
 * with local moments from an 11×11 Gaussian window (σ = 1.5) and the 5-pixel border
 * excluded (skimage crops it after filtering, so its boundary mode never matters).
 * Variances are computed from mean-shifted images to avoid float32 cancellation.
 *
 * @param x - image `[b, h, w, 1]`, h, w ≥ 11.
 * @param ref - reference, same shape.
 * @param options - see {@link SSIM_DEFAULTS}.
 * @returns per-image SSIM in [−1, 1] and its mean.
 * @example
 * ```ts
 * const { mean } = ssim(denoised, clean);
 * ```
 */
export function ssim(x: tf.Tensor, ref: tf.Tensor, options: SsimOptions = {}): MetricResult {
  checkOptions('ssim', options, SSIM_SCHEMA);
  const o = { ...SSIM_DEFAULTS, ...options };
  checkPair('ssim', x, ref);
  for (const k of ['dataRange', 'sigma', 'k1', 'k2'] as const) checkPositive('ssim', k, o[k]);
  const window = gaussianWindow(o.sigma);
  const size = window.length;
  if ((x.shape[1] as number) < size || (x.shape[2] as number) < size) {
    throw new Error(`ssim: images are ${x.shape[1]}×${x.shape[2]}, smaller than the ${size}×${size} window; use larger images or a smaller option 'sigma'.`);
  }
  const c1 = (o.k1 * o.dataRange) ** 2;
  const c2 = (o.k2 * o.dataRange) ** 2;
  const values = tf.tidy(() => {
    const kernel = tf.tensor4d(window.flatMap((a) => window.map((b) => a * b)), [size, size, 1, 1]);
    const filter = (t: tf.Tensor) => tf.conv2d(t as tf.Tensor4D, kernel, 1, 'valid');
    const ux = filter(x);
    const uy = filter(ref);
    const xc = tf.sub(x, tf.mean(x, [1, 2, 3], true));
    const yc = tf.sub(ref, tf.mean(ref, [1, 2, 3], true));
    const mxc = filter(xc);
    const myc = filter(yc);
    const vx = tf.sub(filter(tf.square(xc)), tf.square(mxc));
    const vy = tf.sub(filter(tf.square(yc)), tf.square(myc));
    const vxy = tf.sub(filter(tf.mul(xc, yc)), tf.mul(mxc, myc));
    const numerator = tf.mul(tf.add(tf.mul(2, tf.mul(ux, uy)), c1), tf.add(tf.mul(2, vxy), c2));
    const denominator = tf.mul(tf.add(tf.add(tf.square(ux), tf.square(uy)), c1), tf.add(tf.add(vx, vy), c2));
    return tf.mean(tf.div(numerator, denominator), [1, 2, 3]);
  });
  const out = result(values.dataSync() as Float32Array);
  values.dispose();
  return out;
}

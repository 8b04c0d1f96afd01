/**
 * Option schemas of imaging's public functions, for core's option mechanism
 * (`checkOptions`: unknown keys rejected with the nearest valid one). Kinds are checked
 * here; the functions keep their own range checks, whose messages name the fix.
 *
 * @packageDocumentation
 */
import { opt, type OptionSchema } from '@bilevel/core';

const num = opt.number();
const int = opt.integer();
const tensor = opt.tensor();
const padding = opt.oneOf(['valid', 'same', 'symmetric']);

export const BLUR_SCHEMA: OptionSchema = { kind: opt.oneOf(['gaussian', 'box', 'motion']), size: int, sigma: num, length: int, angle: num };
export const FOURIER_SCHEMA: OptionSchema = { transform: opt.oneOf(['auto', 'fft', 'dft']) };
export const SUBSAMPLED_FOURIER_SCHEMA: OptionSchema = { weights: tensor, ...FOURIER_SCHEMA };
export const CARTESIAN_MASK_SCHEMA: OptionSchema = { height: int, width: int, acceleration: num, centerLines: int, seed: int };
export const TV_SCHEMA: OptionSchema = { nu: num, alpha: num, learnNu: opt.boolean() };
export const TGV_SCHEMA: OptionSchema = { nu: num, alpha: num, beta: num };
export const RANDOM_FILTERS_SCHEMA: OptionSchema = { size: int, count: int, scale: num, seed: int };
export const ICNN_SCHEMA: OptionSchema = { layers: int, channels: int, size: int, seed: int, scale: num, alpha: num };
export const FOE_SCHEMA: OptionSchema = { filters: tensor, size: int, alpha: num, nu: num, padding, expert: opt.oneOf(['student-t', 'charbonnier']) };
export const FILTER_PENALTY_SCHEMA: OptionSchema = { epsilon: num, filters: tensor, size: int, count: int, seed: int, beta0: num, beta: num, padding };
export const DATASET_SCHEMA: OptionSchema = {
  images: opt.custom('an array of [1, h, w, 1] tensors or PNG bytes (PNG paths: denoisingDataset of @bilevel/imaging/node)', Array.isArray),
  cropSize: int, count: int, testCount: int, sigma: num, seed: int, trainFraction: num,
};
export const PNG_SCHEMA: OptionSchema = { bitDepth: opt.oneOf([8, 16]) };
export const PNG_DECODE_SCHEMA: OptionSchema = { maxPixels: opt.integer({ min: 1 }, 'give the largest width × height to accept, e.g. 2 ** 28'), name: opt.string() };
export const SSIM_SCHEMA: OptionSchema = { dataRange: num, sigma: num, k1: num, k2: num };
export const RECONSTRUCTION_SCHEMA: OptionSchema = {
  operator: opt.custom('a LinearOperator (identity(), blur(), subsampledFourier(), …)', (v) => v !== null && typeof v === 'object' && typeof (v as { apply?: unknown }).apply === 'function'),
  xi: num,
  name: opt.string(),
  derivatives: opt.boolean(),
  verify: opt.union([opt.boolean(), opt.object({ tol: opt.number({ gt: 0 }), seed: opt.integer() })]),
};
export const TV_PROBLEM_SCHEMA: OptionSchema = { ...RECONSTRUCTION_SCHEMA, ...TV_SCHEMA, kind: opt.oneOf(['smoothed', 'huber']) };

/** The entries of `options` whose keys `schema` lists (to pass a composite's options on). */
export function pick<T extends object>(options: T, schema: OptionSchema): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (k in schema) out[k] = v;
  return out as Partial<T>;
}

import { tf, checkOptions, opt } from '@bilevel/core';
import { mulberry32 } from '../internal/rng.js';

/** Options of the fixed-rate sampling masks ({@link variableDensityMask}, {@link lowFrequencyMask}, {@link radialMask}). */
export interface RateMaskOptions {
  /** Image height (k-space rows = phase-encoding lines). */
  height: number;
  /** Image width. */
  width: number;
  /** Fraction of k-space to sample, in (0, 1]. */
  rate: number;
  /** `'free'` (points) or `'cartesian'` (whole rows); radial masks are free only. */
  layout?: 'free' | 'cartesian';
  /** Variable density only: density `∝ (1 − r)^power` in the normalised radius r (Lustig et al. 2007). */
  power?: number;
  /** Variable density only: seed of the draw. */
  seed?: number;
}

/** Defaults of the fixed-rate masks: free layout, power 4 (a steep polynomial density), seed 0. */
export const RATE_MASK_DEFAULTS = { layout: 'free', power: 4, seed: 0 } as const;

const SCHEMA = { height: opt.integer(), width: opt.integer(), rate: opt.number(), layout: opt.oneOf(['free', 'cartesian']), power: opt.number(), seed: opt.integer() };

function resolve(where: string, options: RateMaskOptions) {
  checkOptions(where, options, SCHEMA);
  const o = { ...RATE_MASK_DEFAULTS, ...options };
  for (const k of ['height', 'width'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`${where}: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  if (!(o.rate > 0 && o.rate <= 1)) throw new Error(`${where}: option 'rate' must be in (0, 1], got ${String(o.rate)}.`);
  if (!(o.power >= 0)) throw new Error(`${where}: option 'power' must be ≥ 0, got ${String(o.power)}.`);
  return o;
}

/** Signed frequency of DFT index k of n (unshifted layout: 0, 1, …, ⌈n/2⌉−1, −⌊n/2⌋, …, −1). */
const frequency = (k: number, n: number) => (k < Math.ceil(n / 2) ? k : k - n);

/** Normalised radius in [0, 1] of every candidate: k-space points (free) or rows (cartesian). */
function radii(o: { height: number; width: number; layout: string }): Float64Array {
  const { height: h, width: w } = o;
  if (o.layout === 'cartesian') return Float64Array.from({ length: h }, (_, i) => Math.abs(frequency(i, h)) / (h / 2));
  const r = new Float64Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) r[i * w + j] = Math.hypot(frequency(i, h) / (h / 2), frequency(j, w) / (w / 2)) / Math.SQRT2;
  return r;
}

/** `[h, w]` mask from chosen candidates (points or rows). */
function maskOf(chosen: Iterable<number>, o: { height: number; width: number; layout: string }): tf.Tensor2D {
  const { height: h, width: w } = o;
  const values = new Float32Array(h * w);
  for (const c of chosen) {
    if (o.layout === 'cartesian') values.fill(1, c * w, (c + 1) * w);
    else values[c] = 1;
  }
  return tf.tensor2d(values, [h, w]);
}

/**
 * Uninformed variable-density random sampling (Lustig, Donoho & Pauly 2007): exactly
 * `round(rate · m)` of the m candidates (points, or rows for `'cartesian'`), drawn without
 * replacement with probabilities `∝ (1 − r)^power + ε` (r the normalised distance from zero
 * frequency), by Efraimidis–Spirakis keys `u^{1/p}`; the zero frequency is always included.
 *
 * @param options - see {@link RateMaskOptions}.
 * @returns an `[h, w]` 0/1 mask (zero frequency at `[0, 0]`).
 * @example
 * ```ts
 * const mask = variableDensityMask({ height: 64, width: 64, rate: 0.25, seed: 1 });
 * ```
 */
export function variableDensityMask(options: RateMaskOptions): tf.Tensor2D {
  const o = resolve('variableDensityMask', options);
  const r = radii(o);
  const count = Math.max(1, Math.round(o.rate * r.length));
  const random = mulberry32(o.seed);
  const keys = Array.from(r, (ri, k) => ({ k, key: k === 0 ? Infinity : Math.log(random() + 1e-300) / ((1 - Math.min(ri, 1)) ** o.power + 1e-3) }));
  keys.sort((a, b) => b.key - a.key);
  return maskOf(keys.slice(0, count).map((e) => e.k), o);
}

/**
 * Low-frequency sampling: the `round(rate · m)` candidates closest to zero frequency (a disc of
 * k-space points, or the central rows for `'cartesian'`), ties broken by index.
 *
 * @param options - see {@link RateMaskOptions} (`power`, `seed` unused).
 * @returns an `[h, w]` 0/1 mask.
 * @example
 * ```ts
 * const mask = lowFrequencyMask({ height: 64, width: 64, rate: 0.25, layout: 'cartesian' });
 * ```
 */
export function lowFrequencyMask(options: RateMaskOptions): tf.Tensor2D {
  const o = resolve('lowFrequencyMask', options);
  const r = radii(o);
  const count = Math.max(1, Math.round(o.rate * r.length));
  const order = Array.from(r, (ri, k) => ({ k, ri })).sort((a, b) => a.ri - b.ri || a.k - b.k);
  return maskOf(order.slice(0, count).map((e) => e.k), o);
}

/**
 * Radial sampling: spokes through zero frequency at equally spaced angles in [0, π), each
 * rasterised to the nearest k-space points, with as many spokes as keep the sampled fraction at
 * most `rate` (the achieved rate is the mask's mean, reported by the caller). Free layout only.
 *
 * @param options - see {@link RateMaskOptions}.
 * @returns an `[h, w]` 0/1 mask.
 * @example
 * ```ts
 * const mask = radialMask({ height: 64, width: 64, rate: 0.25 });
 * ```
 */
export function radialMask(options: RateMaskOptions): tf.Tensor2D {
  const o = resolve('radialMask', options);
  if (o.layout !== 'free') throw new Error("radialMask: option 'layout' must be 'free' (spokes are not lines of a Cartesian grid); use lowFrequencyMask for lines.");
  const { height: h, width: w } = o;
  const target = o.rate * h * w;
  const spokesOf = (n: number): Set<number> => {
    const set = new Set<number>();
    const reach = Math.hypot(h, w) / 2;
    for (let s = 0; s < n; s++) {
      const angle = (Math.PI * s) / n;
      for (let t = -reach; t <= reach; t += 0.5) {
        const fi = Math.round(t * Math.sin(angle));
        const fj = Math.round(t * Math.cos(angle));
        if (Math.abs(fi) > h / 2 || Math.abs(fj) > w / 2) continue;
        set.add((((fi % h) + h) % h) * w + (((fj % w) + w) % w));
      }
    }
    return set;
  };
  let n = 1;
  while (n < 4 * Math.max(h, w) && spokesOf(n + 1).size <= target) n++;
  return maskOf(spokesOf(n), o);
}

/**
 * Binarises learned sampling parameters to a target rate: the `round(rate · m)` largest entries
 * of `p` (points `[h, w]`, or rows `[h]` broadcast to `[h, w]` with `width`) become 1, the
 * rest 0 (ties broken by index), for the re-evaluation of a learned pattern as a real mask.
 *
 * @param p - learned parameters, `[h, w]` (free) or `[h]` (cartesian).
 * @param rate - target fraction of candidates in (0, 1].
 * @param width - image width, needed for `[h]` (cartesian) parameters.
 * @returns an `[h, w]` 0/1 mask.
 * @example
 * ```ts
 * const mask = binariseSampling(theta.sampling, 0.25);
 * const A = subsampledFourier(mask);
 * ```
 */
export function binariseSampling(p: tf.Tensor, rate: number, width?: number): tf.Tensor2D {
  if (!(p instanceof tf.Tensor) || (p.rank !== 1 && p.rank !== 2)) throw new Error(`binariseSampling: 'p' must be an [h, w] or [h] tensor, got ${p instanceof tf.Tensor ? `[${p.shape}]` : typeof p}.`);
  if (!(rate > 0 && rate <= 1)) throw new Error(`binariseSampling: 'rate' must be in (0, 1], got ${String(rate)}.`);
  const cartesian = p.rank === 1;
  if (cartesian && !(Number.isInteger(width) && width! > 0)) throw new Error("binariseSampling: [h] (cartesian) parameters need the image 'width' as third argument.");
  const values = p.dataSync();
  const count = Math.max(1, Math.round(rate * values.length));
  const order = Array.from(values, (v, k) => ({ k, v })).sort((a, b) => b.v - a.v || a.k - b.k);
  const o = { height: p.shape[0], width: cartesian ? width! : p.shape[1]!, layout: cartesian ? 'cartesian' : 'free' };
  return maskOf(order.slice(0, count).map((e) => e.k), o);
}

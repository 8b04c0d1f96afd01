import { tf, defineOptions, opt } from '@bilevel/core';
import { mulberry32 } from '../internal/rng.js';

/** One ellipse `[value, semi-axis a, semi-axis b, centre x, centre y, angle (degrees)]` in [−1, 1]², y up. */
export type Ellipse = [number, number, number, number, number, number];

/** The modified Shepp–Logan phantom (Toft, 1996): ten ellipses, values in [0, 1]. */
export const SHEPP_LOGAN: readonly Ellipse[] = Object.freeze([
  [1, 0.69, 0.92, 0, 0, 0], [-0.8, 0.6624, 0.874, 0, -0.0184, 0], [-0.2, 0.11, 0.31, 0.22, 0, -18],
  [-0.2, 0.16, 0.41, -0.22, 0, 18], [0.1, 0.21, 0.25, 0, 0.35, 0], [0.1, 0.046, 0.046, 0, 0.1, 0],
  [0.1, 0.046, 0.046, 0, -0.1, 0], [0.1, 0.046, 0.023, -0.08, -0.605, 0], [0.1, 0.023, 0.023, 0, -0.606, 0],
  [0.1, 0.023, 0.046, 0.06, -0.605, 0],
] as Ellipse[]);

/**
 * Rasterises a sum of ellipses on an `n × n` grid over [−1, 1]² (pixel centres, y up), each pixel
 * the mean of `supersample²` sub-samples (anti-aliased edges), clipped to [0, 1].
 *
 * @param ellipses - the ellipses ({@link Ellipse}).
 * @param size - n.
 * @param supersample - sub-samples per axis (default 4).
 * @returns `n·n` values, row-major, row 0 at the top.
 * @example
 * ```ts
 * const values = rasteriseEllipses(SHEPP_LOGAN, 64);
 * ```
 */
export function rasteriseEllipses(ellipses: readonly Ellipse[], size: number, supersample = 4): Float32Array {
  const out = new Float32Array(size * size);
  const prepared = ellipses.map(([v, a, b, x0, y0, deg]) => ({ v, a2: a * a, b2: b * b, x0, y0, c: Math.cos((deg * Math.PI) / 180), s: Math.sin((deg * Math.PI) / 180) }));
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let acc = 0;
      for (let si = 0; si < supersample; si++) {
        for (let sj = 0; sj < supersample; sj++) {
          const x = -1 + (2 * (j + (sj + 0.5) / supersample)) / size;
          const y = 1 - (2 * (i + (si + 0.5) / supersample)) / size;
          let f = 0;
          for (const e of prepared) {
            const dx = x - e.x0;
            const dy = y - e.y0;
            const u = dx * e.c + dy * e.s;
            const w = -dx * e.s + dy * e.c;
            if ((u * u) / e.a2 + (w * w) / e.b2 <= 1) f += e.v;
          }
          acc += f;
        }
      }
      out[i * size + j] = Math.min(1, Math.max(0, acc / (supersample * supersample)));
    }
  }
  return out;
}

/**
 * Random ellipse phantoms, deterministic in `seed`: a body ellipse (value 0.6–0.9) and 4–10 inner
 * ellipses of value ±(0.05–0.4), rasterised by {@link rasteriseEllipses}.
 *
 * @param seed - the generator's seed (mulberry32).
 * @returns the ellipses.
 * @example
 * ```ts
 * const values = rasteriseEllipses(randomEllipses(3), 64);
 * ```
 */
export function randomEllipses(seed: number): Ellipse[] {
  const u = mulberry32(seed);
  const r = (lo: number, hi: number) => lo + (hi - lo) * u();
  const body: Ellipse = [r(0.6, 0.9), r(0.7, 0.9), r(0.55, 0.85), r(-0.05, 0.05), r(-0.05, 0.05), r(-30, 30)];
  const out: Ellipse[] = [body];
  const count = 4 + Math.floor(u() * 7);
  for (let k = 0; k < count; k++) {
    const sign = u() < 0.5 ? -1 : 1;
    out.push([sign * r(0.05, 0.4), r(0.04, 0.3), r(0.04, 0.3), r(-0.45, 0.45), r(-0.45, 0.45), r(0, 180)]);
  }
  return out;
}

/** Options of {@link ctPhantoms}. */
export interface CtPhantomOptions {
  /** Image side n (default 64). */
  size?: number;
  /** Training phantoms (default 8) and held-out test phantoms (default 4). */
  count?: number;
  testCount?: number;
  /** Seed (default 0). Train phantom i uses seed·10⁶ + i, test phantom i uses seed·10⁶ + 500 000 + i: disjoint. */
  seed?: number;
  /** Sub-samples per axis for anti-aliasing (default 4). */
  supersample?: number;
}

/** Exported defaults of {@link ctPhantoms}. */
export const CT_PHANTOM_DEFAULTS = Object.freeze({ size: 64, count: 8, testCount: 4, seed: 0, supersample: 4 });

const CT_PHANTOM_OPTIONS = defineOptions<CtPhantomOptions>('ctPhantoms', {
  size: opt.integer({ min: 4 }), count: opt.integer({ min: 0 }), testCount: opt.integer({ min: 0 }), seed: opt.integer({ min: 0 }), supersample: opt.integer({ min: 1 }),
}, ctPhantoms);

/**
 * A deterministic CT training set generated on the fly (no files): random-ellipse phantoms with a
 * disjoint train/test split by seed, plus the modified Shepp–Logan phantom.
 *
 * @param options - {@link CtPhantomOptions}.
 * @returns `{ train: [count, n, n, 1], test: [testCount, n, n, 1], sheppLogan: [1, n, n, 1] }` (the caller disposes them).
 * @example
 * ```ts
 * const { train, test, sheppLogan } = ctPhantoms({ size: 64, count: 8, testCount: 4 });
 * ```
 */
export function ctPhantoms(options: CtPhantomOptions = {}): { train: tf.Tensor4D; test: tf.Tensor4D; sheppLogan: tf.Tensor4D } {
  const o = CT_PHANTOM_OPTIONS.withDefaults(options, CT_PHANTOM_DEFAULTS) as Required<CtPhantomOptions>;
  const n = o.size;
  const stack = (seeds: number[]) => {
    const data = new Float32Array(seeds.length * n * n);
    seeds.forEach((s, i) => data.set(rasteriseEllipses(randomEllipses(s), n, o.supersample), i * n * n));
    return tf.tensor4d(data, [seeds.length, n, n, 1]);
  };
  const base = o.seed * 1_000_000;
  return {
    train: stack(Array.from({ length: o.count }, (_, i) => base + i)),
    test: stack(Array.from({ length: o.testCount }, (_, i) => base + 500_000 + i)),
    sheppLogan: tf.tensor4d(rasteriseEllipses(SHEPP_LOGAN, n, o.supersample), [1, n, n, 1]),
  };
}

import { tf, checkOptions, opt } from '@bilevel/core';
import { mulberry32 } from '../internal/rng.js';
import { SHEPP_LOGAN } from './phantoms.js';

/** Options of {@link mrPhantoms}. */
export interface MrPhantomOptions {
  /** Number of images. */
  count: number;
  /** Side of the square images. */
  size: number;
  /** Seed of the random variations. */
  seed?: number;
  /** Random extra ellipses ("lesions") per image, at most. */
  lesions?: number;
  /** Amplitude of the smooth multiplicative bias field `1 + b₁x + b₂y + b₃xy` (each |b_i| ≤ bias). */
  bias?: number;
}

/** Defaults of {@link mrPhantoms}: seed 0, up to 3 lesions, bias 0.15. */
export const MR_PHANTOM_DEFAULTS = { seed: 0, lesions: 3, bias: 0.15 } as const;

/**
 * Generated MR-like phantoms (not MR data): modified Shepp–Logan heads ({@link SHEPP_LOGAN}) with every ellipse's
 * centre, axes, angle and intensity randomly perturbed, up to `lesions` random small ellipses
 * inside the brain, and a smooth multiplicative bias field (coil sensitivity), scaled to
 * [0, 1]. For learning sampling patterns without a licensed MR data set.
 *
 * @param options - see {@link MrPhantomOptions} and {@link MR_PHANTOM_DEFAULTS}.
 * @returns `[count, size, size, 1]` images in [0, 1].
 * @example
 * ```ts
 * const train = mrPhantoms({ count: 8, size: 64, seed: 1 });
 * const test = mrPhantoms({ count: 8, size: 64, seed: 2 });
 * ```
 */
export function mrPhantoms(options: MrPhantomOptions): tf.Tensor4D {
  checkOptions('mrPhantoms', options, { count: opt.integer(), size: opt.integer(), seed: opt.integer(), lesions: opt.integer(), bias: opt.number() });
  const o = { ...MR_PHANTOM_DEFAULTS, ...options };
  for (const k of ['count', 'size'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new Error(`mrPhantoms: option '${k}' must be a positive integer, got ${String(o[k])}.`);
  }
  if (!Number.isInteger(o.lesions) || o.lesions < 0) throw new Error(`mrPhantoms: option 'lesions' must be an integer ≥ 0, got ${String(o.lesions)}.`);
  if (!(o.bias >= 0 && o.bias < 1)) throw new Error(`mrPhantoms: option 'bias' must be in [0, 1), got ${String(o.bias)}.`);
  const random = mulberry32(o.seed);
  const jitter = (scale: number) => (2 * random() - 1) * scale;
  const n = o.size;
  const out = new Float32Array(o.count * n * n);
  for (let c = 0; c < o.count; c++) {
    const ellipses = SHEPP_LOGAN.map(([v, a, b, x, y, deg], k) => [
      k < 2 ? v : v * (1 + jitter(0.5)),
      a * (1 + jitter(k < 2 ? 0.05 : 0.2)),
      b * (1 + jitter(k < 2 ? 0.05 : 0.2)),
      x + jitter(k < 2 ? 0.01 : 0.04),
      y + jitter(k < 2 ? 0.01 : 0.04),
      deg + jitter(k < 2 ? 3 : 15),
    ]);
    const lesionCount = Math.floor(random() * (o.lesions + 1));
    for (let l = 0; l < lesionCount; l++) {
      const r = 0.45 * Math.sqrt(random());
      const t = 2 * Math.PI * random();
      ellipses.push([(random() < 0.5 ? -1 : 1) * (0.1 + 0.15 * random()), 0.03 + 0.07 * random(), 0.03 + 0.07 * random(), r * Math.cos(t), r * Math.sin(t), 180 * random()]);
    }
    const bias = [jitter(o.bias), jitter(o.bias), jitter(o.bias)];
    let max = 0;
    const img = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      const y = 1 - (2 * (i + 0.5)) / n;
      for (let j = 0; j < n; j++) {
        const x = (2 * (j + 0.5)) / n - 1;
        let v = 0;
        for (const [value, a, b, x0, y0, deg] of ellipses) {
          const phi = (deg * Math.PI) / 180;
          const dx = x - x0;
          const dy = y - y0;
          const u = (dx * Math.cos(phi) + dy * Math.sin(phi)) / a;
          const w = (-dx * Math.sin(phi) + dy * Math.cos(phi)) / b;
          if (u * u + w * w <= 1) v += value;
        }
        v = Math.max(0, v) * (1 + bias[0] * x + bias[1] * y + bias[2] * x * y);
        img[i * n + j] = v;
        max = Math.max(max, v);
      }
    }
    for (let k = 0; k < n * n; k++) out[c * n * n + k] = max > 0 ? img[k] / max : 0;
  }
  return tf.tensor4d(out, [o.count, n, n, 1]);
}

import { tf } from '@bilevel/core';
import { gaussianSamples } from '../internal/rng.js';
import { checkPositive } from '../internal/checks.js';
import { checkOptions } from '@bilevel/core';
import { RANDOM_FILTERS_SCHEMA } from '../internal/options.js';

function checkInt(where: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${where}: option '${name}' must be a positive integer, got ${String(v)}.`);
  }
}

/** Options of {@link randomFilters}. */
export interface RandomFiltersOptions {
  /** Filter side S. */
  size?: number;
  /** Number of filters K. */
  count?: number;
  /** ℓ2 norm of each filter. */
  scale?: number;
  /** Seed of the generator (deterministic across backends). */
  seed?: number;
}

/** Defaults of {@link randomFilters}: 8 filters 5×5 of unit norm, seed 0. */
export const RANDOM_FILTERS_DEFAULTS = { size: 5, count: 8, scale: 1, seed: 0 } as const;

/**
 * Random zero-mean filters: Gaussian entries, each filter's mean removed (so it annihilates
 * constant images, like a derivative) and scaled to ℓ2 norm `scale`.
 *
 * @param options - see {@link RANDOM_FILTERS_DEFAULTS}.
 * @returns `[S, S, 1, K]` filters for `tf.conv2d`.
 * @example
 * ```ts
 * const filters = randomFilters({ size: 7, count: 24, seed: 1 });
 * ```
 */
export function randomFilters(options: RandomFiltersOptions = {}): tf.Tensor4D {
  checkOptions('randomFilters', options, RANDOM_FILTERS_SCHEMA);
  const { size, count, scale, seed } = { ...RANDOM_FILTERS_DEFAULTS, ...options };
  checkInt('randomFilters', 'size', size);
  checkInt('randomFilters', 'count', count);
  checkPositive('randomFilters', 'scale', scale);
  if (size * size < 2) throw new Error('randomFilters: option \'size\' must be ≥ 2: a zero-mean 1×1 filter is 0.');
  const n = size * size;
  const z = gaussianSamples(n * count, seed);
  const values = new Float32Array(n * count);
  for (let k = 0; k < count; k++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += z[k * n + i] / n;
    let sq = 0;
    for (let i = 0; i < n; i++) sq += (z[k * n + i] - mean) ** 2;
    const s = scale / Math.sqrt(sq);
    // layout [S, S, 1, K]: entry (i, k) at i·K + k
    for (let i = 0; i < n; i++) values[i * count + k] = (z[k * n + i] - mean) * s;
  }
  return tf.tensor4d(values, [size, size, 1, count]);
}

/**
 * The 2-D DCT-II basis without the constant atom: `S² − 1` orthonormal zero-mean filters
 * `c_{pq}[i, j] = a_p a_q cos(π(2i+1)p/2S) cos(π(2j+1)q/2S)`, `(p, q) ≠ (0, 0)`,
 * `a_0 = √(1/S)`, `a_p = √(2/S)`: a classical Fields-of-Experts initialisation.
 *
 * @param size - filter side S ≥ 2.
 * @returns `[S, S, 1, S² − 1]` filters.
 * @example
 * ```ts
 * const filters = dctFilters(5);   // 24 filters 5×5
 * ```
 */
export function dctFilters(size: number): tf.Tensor4D {
  checkInt('dctFilters', 'size', size);
  if (size < 2) throw new Error('dctFilters: \'size\' must be ≥ 2 (a 1×1 basis has only the constant atom).');
  const count = size * size - 1;
  const values = new Float32Array(size * size * count);
  const a = (p: number) => Math.sqrt((p === 0 ? 1 : 2) / size);
  let k = 0;
  for (let p = 0; p < size; p++) {
    for (let q = 0; q < size; q++) {
      if (p === 0 && q === 0) continue;
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          const v = a(p) * a(q) * Math.cos((Math.PI * (2 * i + 1) * p) / (2 * size)) * Math.cos((Math.PI * (2 * j + 1) * q) / (2 * size));
          values[(i * size + j) * count + k] = v;
        }
      }
      k++;
    }
  }
  return tf.tensor4d(values, [size, size, 1, count]);
}

/**
 * The `count` lowest-frequency atoms of {@link dctFilters}: ordered by total frequency p + q,
 * ties by (p, q) row-major — the usual small Fields-of-Experts initialisation.
 *
 * @param size - filter side S ≥ 2.
 * @param count - number of atoms, 1 ≤ count ≤ S² − 1.
 * @returns `[S, S, 1, count]` filters.
 * @example
 * ```ts
 * const filters = lowFrequencyDctFilters(5, 8);   // the 8 smoothest non-constant 5×5 atoms
 * ```
 */
export function lowFrequencyDctFilters(size: number, count: number): tf.Tensor4D {
  checkInt('lowFrequencyDctFilters', 'count', count);
  if (count < 1 || count > size * size - 1) throw new Error(`lowFrequencyDctFilters: 'count' must be in [1, size² − 1] = [1, ${size * size - 1}], got ${count}.`);
  const all = dctFilters(size);
  // atoms are ordered (p, q) row-major without (0, 0); sort by total frequency p + q
  const order = Array.from({ length: size * size - 1 }, (_, k) => k + 1)
    .map((pq) => ({ pq, f: Math.floor(pq / size) + (pq % size) }))
    .sort((a, b) => a.f - b.f || a.pq - b.pq)
    .slice(0, count)
    .map((e) => e.pq - 1);
  const picked = tf.tidy(() => tf.gather(all, tf.tensor1d(order, 'int32'), 3)) as tf.Tensor4D;
  all.dispose();
  return picked;
}

/**
 * Finite-difference filters embedded in an `S × S` support: the horizontal and vertical forward
 * differences `x[i, j+1] − x[i, j]` and `x[i+1, j] − x[i, j]`, then (with `count` 4) the two
 * diagonal ones, each of ℓ2 norm 1. They make a filter model start from (anisotropic) total
 * variation: with a smoothed ℓ1 expert, the first two give `Σ |∂₁x| + |∂₂x|`.
 *
 * @param size - filter side S ≥ 2 (the difference sits at the centre, `⌊(S−1)/2⌋`).
 * @param count - 2 (horizontal, vertical) or 4 (plus the two diagonals).
 * @returns `[S, S, 1, count]` zero-mean filters.
 * @example
 * ```ts
 * const filters = tf.concat([differenceFilters(5, 4), dctFilters(5)], 3);
 * ```
 */
export function differenceFilters(size: number, count: 2 | 4 = 2): tf.Tensor4D {
  checkInt('differenceFilters', 'size', size);
  if (size < 2) throw new Error("differenceFilters: 'size' must be ≥ 2.");
  if (count !== 2 && count !== 4) throw new Error(`differenceFilters: 'count' must be 2 or 4, got ${String(count)}.`);
  const c = Math.floor((size - 1) / 2);
  // (di, dj) of the +1 tap; the −1 tap is at the centre
  const offsets: Array<[number, number]> = [[0, 1], [1, 0], [1, 1], [1, -1]];
  const values = new Float32Array(size * size * count);
  for (let k = 0; k < count; k++) {
    const [di, dj] = offsets[k];
    const jc = dj < 0 ? c + 1 : c;
    values[(c * size + jc) * count + k] = -Math.SQRT1_2;
    values[((c + di) * size + jc + dj) * count + k] = Math.SQRT1_2;
  }
  return tf.tensor4d(values, [size, size, 1, count]);
}

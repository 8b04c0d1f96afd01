import { tf, defineOptions, opt } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage } from '../internal/checks.js';
import { rayTables } from '../internal/radon-tables.js';
import { tableAbsoluteSums, checkAlpha } from './absolute-sums.js';

/** Options of {@link radon}. */
export interface RadonOptions {
  /** Number of projection angles, equally spaced in [0, π) (default 60). */
  angles?: number;
  /** Detector bins (default ⌈n√2⌉ + 1, odd, so every ray through the image is measured). */
  detectors?: number;
  /** Detector spacing in pixels (default 1). */
  detectorSpacing?: number;
  /** Sample spacing along each ray in pixels (default 0.5). */
  sampleSpacing?: number;
}

/** Exported defaults of {@link radon} (`detectors` depends on the image size). */
export const RADON_DEFAULTS = Object.freeze({ angles: 60, detectorSpacing: 1, sampleSpacing: 0.5 });

const RADON_OPTIONS = defineOptions<RadonOptions>('radon', {
  angles: opt.integer({ min: 1 }),
  detectors: opt.integer({ min: 1 }),
  detectorSpacing: opt.number({ gt: 0 }),
  sampleSpacing: opt.number({ gt: 0 }),
}, radon);

/** A parallel-beam Radon transform: a {@link LinearOperator} plus its geometry. */
export interface RadonOperator extends LinearOperator {
  /** Angles φ_k in radians. */
  readonly angles: number[];
  /** Number of detector bins and their spacing. */
  readonly detectors: number;
  readonly detectorSpacing: number;
  /** Sinogram shape without the batch axis: `[angles, detectors, 1]`. */
  readonly outShape: number[];
}

/**
 * Parallel-beam Radon transform (X-ray transform) of `n × n` images, ray-driven and matrix-free:
 *
 * `(A x)(φ_k, s_d) = h Σ_m x̃(s_d e_k + t_m e_k^⊥)`, `e_k = (cos φ_k, sin φ_k)`,
 *
 * with x̃ the bilinear interpolation of the pixel values (pixel size 1, centred grid, zero outside),
 * `t_m` spaced `h = sampleSpacing` along the ray, `s_d` spaced `detectorSpacing`. The weights are
 * precomputed once, with duplicates merged, as two padded gather tables: per ray (its pixels) and
 * per pixel (its rays), so `A` and the **exact adjoint** `Aᵀ` are each one `gather`, one multiply
 * and one sum — kernels the wasm backend has (no scatter, no UnsortedSegmentSum). Each direction
 * is a `tf.customGrad` whose gradient is the other direction, so autodiff through `A` works on
 * every backend. Sinograms are `[batch, angles, detectors, 1]`.
 *
 * `normBound` is `√(‖A‖₁‖A‖∞)` (max row sum × max column sum of the weights), an upper bound on ‖A‖₂.
 *
 * @param size - image side n (images are `[b, n, n, 1]`).
 * @param options - {@link RadonOptions}; missing ones from {@link RADON_DEFAULTS}.
 * @returns a {@link RadonOperator}; call `dispose()` when done.
 * @example
 * ```ts
 * const A = radon(64, { angles: 30 });
 * const sino = A.apply(phantom);          // [1, 30, 93, 1]
 * const back = A.adjoint(sino);           // [1, 64, 64, 1]
 * A.dispose();
 * ```
 */
export function radon(size: number, options: RadonOptions = {}): RadonOperator {
  const where = 'radon';
  if (!Number.isInteger(size) || size < 2) throw new Error(`${where}: 'size' must be an integer ≥ 2 (the image side), got ${String(size)}.`);
  const o = RADON_OPTIONS.withDefaults(options, { ...RADON_DEFAULTS, detectors: 2 * Math.ceil((size * Math.SQRT2) / 2) + 1 }) as Required<RadonOptions>;
  const angles = Array.from({ length: o.angles }, (_, k) => (k * Math.PI) / o.angles);
  const tables = rayTables(size, angles, o.detectors, o.detectorSpacing, o.sampleSpacing);
  const rays = o.angles * o.detectors;
  const pixels = size * size;
  const fwdIdx = tf.tensor2d(tables.rayPixels, [rays, tables.rayWidth], 'int32');
  const fwdW = tf.tensor2d(tables.rayWeights, [rays, tables.rayWidth]);
  const adjIdx = tf.tensor2d(tables.pixelRays, [pixels, tables.pixelWidth], 'int32');
  const adjW = tf.tensor2d(tables.pixelWeights, [pixels, tables.pixelWidth]);
  let disposed = false;
  // Padding entries point at an appended zero (index `pixels` or `rays`) with weight 0.
  const project = (x: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const b = x.shape[0];
    const flat = tf.concat([tf.reshape(x, [b, pixels]), tf.zeros([b, 1])], 1);
    const g = tf.gather(flat, fwdIdx, 1); // [b, rays, width]
    return tf.reshape(tf.sum(tf.mul(g, fwdW), 2), [b, o.angles, o.detectors, 1]);
  });
  const backProject = (y: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const b = y.shape[0];
    const flat = tf.concat([tf.reshape(y, [b, rays]), tf.zeros([b, 1])], 1);
    const g = tf.gather(flat, adjIdx, 1); // [b, pixels, width]
    return tf.reshape(tf.sum(tf.mul(g, adjW), 2), [b, size, size, 1]);
  });
  const applyGrad = tf.customGrad((x, save) => {
    void save;
    return { value: project(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => backProject(dy) };
  });
  const adjointGrad = tf.customGrad((y, save) => {
    void save;
    return { value: backProject(y as tf.Tensor), gradFunc: (dx: tf.Tensor) => project(dx) };
  });
  const live = (fn: string) => {
    if (disposed) throw new Error(`${where}.${fn}: the operator was disposed; build a new one with radon(${size}, ...).`);
  };
  return {
    name: `radon(${size}, ${o.angles} angles)`,
    angles,
    detectors: o.detectors,
    detectorSpacing: o.detectorSpacing,
    inShape: [size, size, 1],
    outShape: [o.angles, o.detectors, 1],
    normBound: tables.normBound,
    apply(x) {
      live('apply');
      checkImage(`${where}.apply`, 'x', x);
      if (x.shape[1] !== size || x.shape[2] !== size) throw new Error(`${where}.apply: image is ${x.shape[1]}×${x.shape[2]}, expected ${size}×${size}; build radon(${x.shape[1]}, ...) for that size.`);
      return applyGrad(x) as tf.Tensor;
    },
    adjoint(y) {
      live('adjoint');
      if (!(y instanceof tf.Tensor) || y.rank !== 4 || y.shape[1] !== o.angles || y.shape[2] !== o.detectors || y.shape[3] !== 1) {
        throw new Error(`${where}.adjoint: 'y' must be a sinogram [batch, ${o.angles}, ${o.detectors}, 1], got ${y instanceof tf.Tensor ? `[${y.shape}]` : typeof y}.`);
      }
      return adjointGrad(y) as tf.Tensor;
    },
    // the tables hold each matrix entry once (duplicates merged): their power sums are exact
    absoluteSums(alpha) {
      live('absoluteSums');
      checkAlpha(`${where}.absoluteSums`, alpha);
      return {
        rows: tf.tensor4d(tableAbsoluteSums(tables.rayWeights, rays, tables.rayWidth, alpha), [1, o.angles, o.detectors, 1]),
        columns: tf.tensor4d(tableAbsoluteSums(tables.pixelWeights, pixels, tables.pixelWidth, 2 - alpha), [1, size, size, 1]),
      };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([fwdIdx, fwdW, adjIdx, adjW]);
    },
  };
}

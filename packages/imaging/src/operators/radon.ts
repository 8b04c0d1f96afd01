import { tf, defineOptions, opt } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage } from '../internal/checks.js';
import { rayTables, paddedTable } from '../internal/radon-tables.js';
import { radonSimdOf } from '../internal/radon-simd.js';
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
 * precomputed once, with duplicates merged, as two compressed sparse row tables: per ray (its pixels)
 * and per pixel (its rays), so `A` and the **exact adjoint** `Aᵀ` are each row-wise sparse dot products.
 * On the wasm backend each is ONE pass over its table on the backend's heap (internal/radon-simd.ts:
 * float64 sums, rounded once); elsewhere (cpu, tensorflow, no WebAssembly) one `gather` of the table
 * padded to its longest row, one multiply and one sum — kernels every backend has (no scatter, no
 * UnsortedSegmentSum). Each direction is a `tf.customGrad` whose gradient is the other direction, so
 * autodiff through `A` works on every backend, to any order. Sinograms are `[batch, angles, detectors, 1]`.
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
  // The compressed tables as tensors (tfjs owns their memory and moves them between backends); the
  // padded ones of the tfjs route are made from them on its first call. The host arrays are dropped
  // once uploaded (at 512² they are ~0.6 GB): only the tensors and these numbers stay.
  const { forward, backward, rayWidth, pixelWidth, normBound } = ((t) => ({
    forward: csrTensors(t.rayStart, t.rayPixels, t.rayWeights),
    backward: csrTensors(t.pixelStart, t.pixelRays, t.pixelWeights),
    rayWidth: t.rayWidth,
    pixelWidth: t.pixelWidth,
    normBound: t.normBound,
  }))(rayTables(size, angles, o.detectors, o.detectorSpacing, o.sampleSpacing));
  const rays = o.angles * o.detectors;
  const pixels = size * size;
  let disposed = false;
  let paddedForward: PaddedTensors | null = null;
  let paddedBackward: PaddedTensors | null = null;
  // Padding entries point at an appended zero (index `pixels` or `rays`) with weight 0.
  const gatherRoute = (v: tf.Tensor, table: PaddedTensors, columns: number, shape: number[]): tf.Tensor => tf.tidy(() => {
    const b = v.shape[0];
    const flat = tf.concat([tf.reshape(v, [b, columns]), tf.zeros([b, 1])], 1);
    const g = tf.gather(flat, table.index, 1); // [b, rows, width]
    return tf.reshape(tf.sum(tf.mul(g, table.weight), 2), [b, ...shape]);
  });
  const project = (x: tf.Tensor): tf.Tensor =>
    fusedRows(forward, x, pixels, rays, [o.angles, o.detectors, 1]) ??
    gatherRoute(x, (paddedForward ??= paddedTensors(forward, rayWidth, pixels)), pixels, [o.angles, o.detectors, 1]);
  const backProject = (y: tf.Tensor): tf.Tensor =>
    fusedRows(backward, y, rays, pixels, [size, size, 1]) ??
    gatherRoute(y, (paddedBackward ??= paddedTensors(backward, pixelWidth, rays)), rays, [size, size, 1]);
  // Each direction's gradient is the other direction, itself a customGrad: differentiable to any order.
  // Neither forward is recorded (the engine does not tape inside a customGrad), so the fused pass may run there.
  const applyGrad: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
    void save;
    return { value: project(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => adjointGrad(dy) };
  }) as (x: tf.Tensor) => tf.Tensor;
  const adjointGrad: (y: tf.Tensor) => tf.Tensor = tf.customGrad((y, save) => {
    void save;
    return { value: backProject(y as tf.Tensor), gradFunc: (dx: tf.Tensor) => applyGrad(dx) };
  }) as (y: tf.Tensor) => tf.Tensor;
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
    normBound,
    apply(x) {
      live('apply');
      checkImage(`${where}.apply`, 'x', x);
      if (x.shape[1] !== size || x.shape[2] !== size) throw new Error(`${where}.apply: image is ${x.shape[1]}×${x.shape[2]}, expected ${size}×${size}; build radon(${x.shape[1]}, ...) for that size.`);
      return tapeOn() ? applyGrad(x) : project(x);
    },
    adjoint(y) {
      live('adjoint');
      if (!(y instanceof tf.Tensor) || y.rank !== 4 || y.shape[1] !== o.angles || y.shape[2] !== o.detectors || y.shape[3] !== 1) {
        throw new Error(`${where}.adjoint: 'y' must be a sinogram [batch, ${o.angles}, ${o.detectors}, 1], got ${y instanceof tf.Tensor ? `[${y.shape}]` : typeof y}.`);
      }
      return tapeOn() ? adjointGrad(y) : backProject(y);
    },
    // the tables hold each matrix entry once (duplicates merged): their power sums are exact
    absoluteSums(alpha) {
      live('absoluteSums');
      checkAlpha(`${where}.absoluteSums`, alpha);
      return {
        rows: tf.tensor4d(tableAbsoluteSums(forward.weight.dataSync() as Float32Array, forward.start.dataSync() as Int32Array, alpha), [1, o.angles, o.detectors, 1]),
        columns: tf.tensor4d(tableAbsoluteSums(backward.weight.dataSync() as Float32Array, backward.start.dataSync() as Int32Array, 2 - alpha), [1, size, size, 1]),
      };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([forward.start, forward.index, forward.weight, backward.start, backward.index, backward.weight]);
      if (paddedForward != null) tf.dispose([paddedForward.index, paddedForward.weight]);
      if (paddedBackward != null) tf.dispose([paddedBackward.index, paddedBackward.weight]);
    },
  };
}

const tapeOn = (): boolean => (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();

/** A compressed sparse row table as three 1-D tensors: row starts, column indices, weights. */
interface CsrTensors {
  start: tf.Tensor;
  index: tf.Tensor;
  weight: tf.Tensor;
  rows: number;
}

/** The tfjs route's padded table: `[rows, width]` indices (padding: an appended zero) and weights. */
interface PaddedTensors {
  index: tf.Tensor;
  weight: tf.Tensor;
}

function csrTensors(start: Int32Array, index: Int32Array, weight: Float32Array): CsrTensors {
  return { start: tf.tensor1d(start, 'int32'), index: tf.tensor1d(index, 'int32'), weight: tf.tensor1d(weight), rows: start.length - 1 };
}

function paddedTensors(t: CsrTensors, width: number, fill: number): PaddedTensors {
  const p = paddedTable(t.start.dataSync() as Int32Array, t.index.dataSync() as Int32Array, t.weight.dataSync() as Float32Array, width, fill);
  // kept: the first call may come inside a caller's tidy
  return { index: tf.keep(tf.tensor2d(p.index, [t.rows, width], 'int32')), weight: tf.keep(tf.tensor2d(p.weight, [t.rows, width])) };
}

interface Mover {
  moveData(backend: unknown, dataId: object): void;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/**
 * One pass of row dot products over the compressed table on the wasm heap (internal/radon-simd.ts),
 * `[b, columns]` → `[b, ...shape]`, or null where it cannot run (not the wasm backend, no loops, a
 * tensor not on the backend's heap yet, not float32, an empty batch): the caller then takes the tfjs
 * route. It has no gradient: it runs without a tape or inside the customGrad forward, never recorded.
 */
function fusedRows(t: CsrTensors, v: tf.Tensor, columns: number, rows: number, shape: number[]): tf.Tensor | null {
  const b = v.shape[0];
  if (v.dtype !== 'float32' || b === 0 || tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend();
  const simd = radonSimdOf(backend);
  if (simd == null) return null;
  // tables made on another backend move here once (the engine's own move, as a kernel's input would)
  for (const u of [t.start, t.index, t.weight]) if (simd.offset(u.dataId) == null) (tf.engine() as unknown as Mover).moveData(backend, u.dataId);
  const at = [v, t.start, t.index, t.weight].map((u) => simd.offset(u.dataId));
  if (at.some((a) => a == null)) return null;
  const info = (backend as unknown as WasmBackend).makeOutput([b, ...shape], 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info);
  simd.rows({ start: at[1]!, index: at[2]!, weight: at[3]!, rows }, at[0]!, columns, simd.offset(info.dataId)!, b);
  return out;
}

/**
 * The Student-t filter derivatives (one input channel, `FilterExpert.studentT`) on wasm as
 * single SIMD passes over the taps (filter-simd.wat), each a convolution with its elementwise
 * epilogue, in place of a tfjs Conv2D plus 1–6 elementwise kernels over `[N, H', W', K]`
 * (filter-derivatives.ts for the notation, t_k = s_k C_k x the scaled response):
 *
 * - gradient: `t/(1 + t²)` (= ρ'/f₁) straight from the taps, then `Cᵀ` with `w f₁` on the filters;
 * - value and gradient (L-BFGS's evaluations): the same pass with the filters pre-scaled, also summing
 *   `Σ_k w_k log(1 + t_k²)` (the value) with the float32 operations of the tfjs route in its order;
 * - the prepared Hessian: `(1 − t²)/(1 + t²)²` (= ρ''/f₂) once per x, and per product
 *   `ρ''/f₂ ⊙ C v` from the taps, then `Cᵀ` with `w f₂` on the filters;
 * - the one-shot HVP (`problem.hvp` at a new x): `C x`, `C v` and `((1 − t²)/(1 + t²)²) ⊙ C v` in
 *   ONE pass, each tap's filter vectors loaded once for both images and neither response written
 *   out, where the prepared form would pay two convolutions and six elementwise kernels;
 * - the mixed product (filter-derivatives.ts `mixedSimd`): the same pass also writing `t/(1 + t²)`
 *   (filter-simd.ts `curvatureFactors`), the two factors its filter gradients read.
 *
 * The passes compute the same products as XNNPACK's convolution, summed tap by tap (the values
 * agree with the tfjs route to float32 rounding; tested). They have no gradient: {@link passesFor}
 * is null while a tape records, and then (and on other backends, other experts, several input
 * channels) the differentiable tfjs route runs. Figures: benchmarks/README.md (primitives).
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import { filterSimdOf, CONVOLVE, type FilterSimd, type FilterGeometry } from './filter-simd.js';

/** The convolution's boundary as the passes see it. */
export interface PassConvolution {
  /** The input the 'valid' or 'same' convolution reads (symmetric padding applied). */
  padded(x: tf.Tensor): tf.Tensor;
  /** 'same' or 'valid'. */
  mode: string;
}

/** What the passes need of one θ: the filters `[S, S, 1, K]` and the per-filter scale s_k (`[K]`). */
export interface PassParams {
  filters: tf.Tensor;
  scale: tf.Tensor;
}

interface Backend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/**
 * The bound SIMD loops where the passes apply, else null: the wasm backend with SIMD, no tape
 * recording (the passes have no gradient), a Student-t expert, float32, one input channel, and
 * every tensor in `like` shaped as the first (x and v).
 *
 * @param studentT - whether the expert is Student-t (`FilterExpert.studentT` present).
 * @param filters - `[S, S, 1, K]`.
 * @param like - x (and v), `[N, H, W, 1]`.
 * @returns the loops or null.
 */
export function passesFor(studentT: boolean, filters: tf.Tensor, ...like: tf.Tensor[]): FilterSimd | null {
  if (!studentT || (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) return null;
  const [x] = like;
  if (filters.shape[2] !== 1 || filters.dtype !== 'float32' || x.rank !== 4 || x.shape[3] !== 1) return null;
  if (like.some((t) => t.dtype !== 'float32' || t.rank !== 4 || t.shape.some((d, i) => d !== x.shape[i]))) return null;
  return filterSimdOf(tf.backend());
}

/** The pass geometry of the padded input `xin` (`[N, H, W, 1]`). */
function geometry(filters: { shape: number[] }, xin: tf.Tensor, c: PassConvolution): FilterGeometry {
  const [kh, kw, , co] = filters.shape as number[];
  const [n, h, w] = xin.shape as number[];
  const same = c.mode === 'same';
  return {
    n, h, w, kh, kw, co, oh: same ? h : h - kh + 1, ow: same ? w : w - kw + 1,
    top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0,
  };
}

/** A new `[n, oh, ow, co]` tensor on the wasm backend and its heap offset. */
function output(g: FilterGeometry): { t: tf.Tensor; at: number } {
  const backend = tf.backend() as unknown as Backend;
  const info = backend.makeOutput([g.n, g.oh, g.ow, g.co], 'float32');
  return { t: tf.engine().makeTensorFromTensorInfo(info), at: backend.dataIdMap.get(info.dataId)!.memoryOffset };
}

/**
 * One pass over x: `t/(1 + t²)` (`'first'`), `(1 − t²)/(1 + t²)²` (`'second'`), or with `aux`
 * (`'times'`: then the filters are used unscaled) `aux ⊙ C x`.
 *
 * @returns a new `[N, H', W', K]` tensor, or null where `aux` lies too close to the heap's end for the pass's vector reads.
 */
export function responsePass(simd: FilterSimd, x: tf.Tensor, p: PassParams, c: PassConvolution, mode: keyof typeof CONVOLVE, aux?: tf.Tensor): tf.Tensor | null {
  const xin = c.padded(x);
  try {
    const g = geometry(p.filters, xin, c);
    const out = output(g);
    const scale = mode === 'times' ? new Float32Array(g.co).fill(1) : (p.scale.dataSync() as Float32Array);
    if (simd.convolve(xin, p.filters.dataSync() as Float32Array, scale, aux ?? null, out.at, g, CONVOLVE[mode])) return out.t;
    out.t.dispose();
    return null;
  } finally {
    if (xin !== x) xin.dispose();
  }
}

/** θ's per-filter constants of {@link valuePass}, float32 as the tfjs kernels compute them. */
export interface ValueConstants {
  /** The filters' shape `[S, S, 1, K]`. */
  shape: number[];
  /** The pre-scaled filters `s_k c_k` (tf.mul(filters, scale)), `[S, S, 1, K]` in order. */
  scaled: Float32Array;
  /** w_k, `[K]`. */
  weights: Float32Array;
}

/**
 * The gradient factor `t/(1 + t²)` and the value `Σ_k w_k Σ_pixels log(1 + t_k²)` in one pass over x, with
 * t the response to the pre-scaled filters `s_k c_k` (as the tfjs route's Conv2D reads them): both in float32
 * exactly as the tfjs route's kernels compute them (Conv2D, Square, Add, Div; Log1p, MatMul, Sum; tested), so
 * that a line search sees the same values whichever route runs.
 *
 * @returns a new `[N, H', W', K]` tensor and the value as a number (a float32).
 */
export function valuePass(simd: FilterSimd, x: tf.Tensor, k: ValueConstants, c: PassConvolution): { first: tf.Tensor; value: number } {
  const xin = c.padded(x);
  try {
    const g = geometry(k, xin, c);
    const out = output(g);
    return { first: out.t, value: simd.firstAndValue(xin, k.scaled, k.weights, out.at, g) };
  } finally {
    if (xin !== x) xin.dispose();
  }
}

/**
 * `((1 − t²)/(1 + t²)²) ⊙ C v` with t = s ⊙ C x, in one pass over x and v.
 *
 * @returns a new `[N, H', W', K]` tensor.
 */
export function curvatureProduct(simd: FilterSimd, x: tf.Tensor, v: tf.Tensor, p: PassParams, c: PassConvolution): tf.Tensor {
  return tf.tidy(() => {
    const xin = c.padded(x);
    const g = geometry(p.filters, xin, c);
    const out = output(g);
    simd.curvature(xin, c.padded(v), p.filters.dataSync() as Float32Array, p.scale.dataSync() as Float32Array, out.at, g);
    return out.t;
  });
}

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
 *   (filter-simd.ts `curvatureFactors`), the two factors its filter gradients read;
 * - `Cᵀ` itself, the transposed convolution of every route above and of every filter expert's
 *   gradient and Hessian product ({@link transposedPass}): K channels to 1 in tiles of 6 pixels that
 *   share each tap's filter vector and slide a window of 4-channel vectors, where core's
 *   Conv2DBackpropInput runs a 1×S XNNPACK convolution to S channels plus a JS col2im (0.59–0.68× its
 *   CPU time at 96², 30 filters 7×7, interleaved; benchmarks/README.md, the SIMD Cᵀ).
 *
 * The forward passes compute the same products as XNNPACK's convolution, summed tap by tap (the values
 * agree with the tfjs route to float32 rounding, the value pass's bit for bit; tested); `Cᵀ` sums the
 * same products as the tfjs route in another order (float32 rounding: tested against a float64 sum).
 * They have no gradient: {@link passesFor} and {@link transposedPassFor} are null while a tape records,
 * and then (and on other backends, other experts, several input channels) the differentiable tfjs route runs. Figures: benchmarks/README.md (primitives).
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
 * The bound SIMD loops where the transposed-convolution pass {@link transposedPass} applies, else null: the wasm
 * backend with SIMD, no tape recording (the pass has no gradient), float32, one input channel, `dy` `[N, H', W', K]`.
 * Unlike {@link passesFor} it does not depend on the expert: every filter regularizer's `Cᵀ` is the same.
 *
 * @param dy - the responses' cotangent, `[N, H', W', K]`.
 * @param filters - `[S, S, 1, K]`.
 * @returns the loops or null.
 */
export function transposedPassFor(dy: tf.Tensor, filters: tf.Tensor): FilterSimd | null {
  if ((tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) return null;
  if (filters.rank !== 4 || filters.shape[2] !== 1 || filters.dtype !== 'float32' || dy.dtype !== 'float32' || dy.rank !== 4) return null;
  if (dy.shape[3] !== filters.shape[3] || dy.size === 0) return null;
  return filterSimdOf(tf.backend());
}

/**
 * `Cᵀ dy`, the transposed convolution (K channels → 1, stride 1) of the padding `mode` ('same' or 'valid': the
 * output is the input the convolution reads, symmetric padding not folded back), as tfjs's conv2dTranspose up to
 * float32 rounding: each output a sum of S²·K products, channels summed in 4 lanes then across them
 * (filter-simd.wat `transposed`), where core's Conv2DBackpropInput sums a row's K·S products, then the S rows.
 *
 * @param dy - `[N, H', W', K]`.
 * @param filters - `[S, S, 1, K]` (its data is read).
 * @returns a new `[N, H, W, 1]` tensor.
 */
export function transposedPass(simd: FilterSimd, dy: tf.Tensor, filters: tf.Tensor, mode: string): tf.Tensor {
  const [kh, kw, , co] = filters.shape as number[];
  const [n, oh, ow] = dy.shape as number[];
  const same = mode === 'same';
  const g: FilterGeometry = {
    n, h: same ? oh : oh + kh - 1, w: same ? ow : ow + kw - 1, kh, kw, co, oh, ow,
    top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0,
  };
  const backend = tf.backend() as unknown as Backend;
  const info = backend.makeOutput([g.n, g.h, g.w, 1], 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info);
  simd.transposed(dy, filters.dataSync() as Float32Array, backend.dataIdMap.get(info.dataId)!.memoryOffset, g);
  return out;
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

/**
 * The one-shot HVP's `Cᵀ (((1 − t²)/(1 + t²)²) ⊙ C v)` with t = s ⊙ C x and `adjoint` as Cᵀ's filters (`w f₂ c`), in one
 * pass over x and v per image whose product lands straight in the zero-padded layout {@link transposedPass} reads
 * (filter-simd.ts `curvatureTransposed`): the values of {@link curvatureProduct} then {@link transposedPass}, bit for
 * bit, without their `[N, H', W', K]` tensor and its copy. The result is on the grid of the input the convolution
 * reads (`c.padded(x)`): the caller folds a symmetric padding back.
 *
 * @param adjoint - `[S, S, 1, K]` (its data is read).
 * @returns a new `[N, H, W, 1]` tensor (H, W those of `c.padded(x)`), or null where K < 4 (then curvatureProduct and transposedPass run).
 */
export function curvatureHessianProduct(simd: FilterSimd, x: tf.Tensor, v: tf.Tensor, p: PassParams, adjoint: tf.Tensor, c: PassConvolution): tf.Tensor | null {
  if (p.filters.shape[3]! < 4) return null;
  let ran = false;
  const out = tf.tidy(() => {
    const xin = c.padded(x);
    const g = geometry(p.filters, xin, c);
    const o = output({ ...g, oh: g.h, ow: g.w, co: 1 });
    ran = simd.curvatureTransposed(xin, c.padded(v), p.filters.dataSync() as Float32Array, p.scale.dataSync() as Float32Array,
      adjoint.dataSync() as Float32Array, o.at, g);
    return o.t;
  });
  if (ran) return out;
  out.dispose();
  return null;
}

/**
 * The one-shot Hessian-vector product of a Student-t filter regularizer on wasm (filter
 * regularizers with one input channel, `FilterExpert.studentT`):
 *
 *   ∇²ₓₓR v = Σ_k C_kᵀ (w_k f₂_k ((1 − t_k²)/(1 + t_k²)²) ⊙ C_k v),   t_k = s_k C_k x,
 *
 * (filter-derivatives.ts for the notation) with `C x`, `C v` and the curvature product in ONE
 * SIMD pass over the taps (filter-simd.wat `curvature`: each tap's filter vectors are loaded
 * once for both images, and neither response is written out), then the adjoint by the
 * transposed convolution. A Hessian prepared at x (`FilterModel.hessian`) instead computes
 * `ρ''(C x)` once and pays `C v`, a product and the adjoint per application: that is the form
 * for a linear solve; this one is for a single product at a new x (`problem.hvp`: Lanczos,
 * power iterations, the HVP benchmark), where the prepared form costs two separate
 * convolutions and six elementwise kernels.
 *
 * Measured (CPU, pinned, 96², 30 filters 7×7; see benchmarks/README.md): the pass replaces the
 * two convolutions and six elementwise kernels of the prepared form; the values agree with them
 * to float32 rounding (the same products, summed tap by tap).
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import type { FilterSimd, FilterGeometry } from './filter-simd.js';

/** What the one-shot product needs from the filter model. */
export interface CurvatureParts {
  /** The filters `[S, S, 1, K]`. */
  filters: tf.Tensor;
  /** `w_k` (`[K]`). */
  weights: tf.Tensor;
  /** The per-filter scale s_k (`[K]`); ones when the expert has none. */
  scale: tf.Tensor;
  /** The Student-t curvature factor f₂ (`[K]`): ρ''(z) = f₂ (1 − t²)/(1 + t²)². */
  second: tf.Tensor;
  /** The input the 'valid' or 'same' convolution reads (symmetric padding applied). */
  padded(x: tf.Tensor): tf.Tensor;
  /** 'same' or 'valid'. */
  mode: string;
  /** `Cᵀ w` with the given (factor-carrying) filters, back to x's shape. */
  adjoint(w: tf.Tensor, filters: tf.Tensor, xShape: number[]): tf.Tensor;
}

interface Backend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/**
 * Whether the SIMD pass applies: float32, one input channel, v shaped like x (the caller also
 * checks that no tape records, as the pass has no gradient, and that the expert is Student-t).
 *
 * @param x - the point, `[N, H, W, 1]`.
 * @param v - the direction.
 * @param filters - `[S, S, 1, K]`.
 * @returns true where {@link curvatureProduct} may run.
 */
export function curvatureProductApplies(x: tf.Tensor, v: tf.Tensor, filters: tf.Tensor): boolean {
  return filters.shape[2] === 1 && x.shape.length === 4 && x.shape[3] === 1 && v.shape.every((d, i) => d === x.shape[i]) && v.rank === x.rank
    && x.dtype === 'float32' && v.dtype === 'float32' && filters.dtype === 'float32';
}

/**
 * `∇²ₓₓR(x; θ) v` by the SIMD pass (where {@link curvatureProductApplies}).
 *
 * @param simd - the bound SIMD loops of this wasm backend.
 * @param x - the point, `[N, H, W, 1]`.
 * @param v - the direction, shaped like x.
 * @param parts - filters, weights, scale, f₂ and the convolution's padding and adjoint.
 * @returns a new tensor shaped like x.
 */
export function curvatureProduct(simd: FilterSimd, x: tf.Tensor, v: tf.Tensor, parts: CurvatureParts): tf.Tensor {
  const { filters } = parts;
  const [kh, kw, , co] = filters.shape as number[];
  return tf.tidy(() => {
    const xin = parts.padded(x);
    const vin = parts.padded(v);
    const [n, h, wd] = xin.shape as number[];
    const same = parts.mode === 'same';
    const g: FilterGeometry = {
      n, h, w: wd, kh, kw, co, oh: same ? h : h - kh + 1, ow: same ? wd : wd - kw + 1,
      top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0,
    };
    const backend = tf.backend() as unknown as Backend;
    const info = backend.makeOutput([n, g.oh, g.ow, co], 'float32');
    const w = tf.engine().makeTensorFromTensorInfo(info);
    const at = backend.dataIdMap.get(info.dataId)!.memoryOffset;
    simd.curvature(xin, vin, filters.dataSync() as Float32Array, parts.scale.dataSync() as Float32Array, at, g);
    // c_k · w_k · f₂_k: the factors ride on the S×S×K filters, not on the [N, H', W', K] product
    return parts.adjoint(w, tf.mul(filters, tf.mul(parts.weights, parts.second)), x.shape);
  });
}

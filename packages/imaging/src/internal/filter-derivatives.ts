/**
 * Analytic derivatives of the filter regularizers (Fields of Experts, the (Ex) filter model):
 *
 *   R(x; θ) = Σ_k w_k Σ_pixels ρ(z_k; p_k),   z_k = C_k x   (convolution with filter c_k, with padding),
 *   ∇ₓR = Σ_k Cₖᵀ (w_k ρ'(z_k)),
 *   ∇²ₓₓR v = Σ_k Cₖᵀ (w_k ρ''(z_k) ⊙ C_k v)     (w ρ''(z) computed once per x: {@link FilterModel} hessian),
 *   ∇_θ⟨∇ₓR, v⟩ with u_k = C_k v:
 *     ∂/∂c_k = w_k [ ∂_c⟨ρ''(z_k) ⊙ u_k, C_k x⟩ + ∂_c⟨ρ'(z_k), C_k v⟩ ]   (two filter-gradient kernels),
 *     ∂/∂(log w_k) = w_k ⟨ρ'(z_k), u_k⟩,   ∂/∂p_k = w_k ⟨∂_p ρ'(z_k; p_k), u_k⟩.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import type { Params, HessianAt } from '@bilevel/core';
import { symmetricPad, param, type FilterPadding } from './params.js';

/** What a filter regularizer tells the shared derivative code: weights and the expert's derivatives. */
export interface FilterExpert {
  /** `w_k` as a `[K]` tensor. */
  weights(theta: Params): tf.Tensor;
  /** `ρ(z)`, `ρ'(z)`, `ρ''(z)` elementwise on the responses `[N, H', W', K]` (only those asked for). */
  rho(z: tf.Tensor, theta: Params, want: { value?: boolean; first?: boolean; second?: boolean; shape?: boolean }): {
    value?: tf.Tensor; first?: tf.Tensor; second?: tf.Tensor;
    /** `∂ρ'/∂p_k` for the expert's shape parameter p_k (e.g. log ν_k), when it has one. */
    shape?: tf.Tensor;
  };
  /** The key of the filters in θ. */
  filters: string;
  /** The regularizer's name, for errors about missing θ keys. */
  where: string;
  /** θ keys of the weights: `perFilter` gets `w_k s_k`, `overall` (a scalar) `Σ_k w_k s_k`, where s_k = ⟨ρ'(z_k), u_k⟩. */
  weightKeys: { perFilter: string; overall?: string };
  /** θ key of the shape parameter p_k, when the expert has one. */
  shapeKey?: string;
}

/** The derivative methods a filter regularizer exposes. */
export interface FilterModel {
  value(x: tf.Tensor, theta: Params): tf.Tensor;
  valueAndGradient(x: tf.Tensor, theta: Params): { value: tf.Scalar; grad: tf.Tensor };
  gradient(x: tf.Tensor, theta: Params): tf.Tensor;
  hessian(x: tf.Tensor, theta: Params): HessianAt;
  mixed(x: tf.Tensor, theta: Params, v: tf.Tensor): Params;
}

/**
 * Adjoint of {@link symmetricPad}: folds the mirrored borders back onto the pixels they copy.
 *
 * @param g - `[N, H + before + after, W + before + after, C]`.
 * @returns `[N, H, W, C]` with `⟨symmetricPad(x), g⟩ = ⟨x, symmetricPadAdjoint(g)⟩`.
 */
export function symmetricPadAdjoint(g: tf.Tensor, before: number, after: number): tf.Tensor {
  return tf.tidy(() => {
    let out = g;
    // symmetricPad pads axis 1 then axis 2, so its adjoint folds axis 2 then axis 1
    for (const axis of [2, 1]) {
      if (before === 0 && after === 0) break;
      const n = out.shape[axis]! - before - after;
      const part = (start: number, size: number) => {
        const begin = [0, 0, 0, 0];
        const sizes = [-1, -1, -1, -1];
        begin[axis] = start;
        sizes[axis] = size;
        return tf.slice(out, begin, sizes);
      };
      const padding = (lo: number, hi: number) => [0, 1, 2, 3].map((a) => (a === axis ? [lo, hi] : [0, 0])) as Array<[number, number]>;
      const terms = [part(before, n)];
      if (before > 0) terms.push(tf.pad(tf.reverse(part(0, before), axis), padding(0, n - before)));
      if (after > 0) terms.push(tf.pad(tf.reverse(part(before + n, after), axis), padding(n - after, 0)));
      out = terms.length === 1 ? terms[0] : tf.addN(terms);
    }
    return out;
  });
}

/**
 * The convolution `C x` (all K filters) and its adjoint for one padding mode.
 *
 * @returns `apply(x, filters)` → `[N, H', W', K]` and `adjoint(w, filters, xShape)` → `[N, H, W, 1]`,
 * plus `padded(x)`: the input the 'valid' convolution actually reads (for filter gradients).
 */
function convolution(padding: FilterPadding, size: number) {
  const before = Math.floor((size - 1) / 2);
  const after = size - 1 - before;
  const mode = padding === 'same' ? 'same' : 'valid';
  const padded = (x: tf.Tensor) => (padding === 'symmetric' ? symmetricPad(x, before, after) : x);
  return {
    mode,
    padded,
    apply: (x: tf.Tensor, filters: tf.Tensor) => tf.conv2d(padded(x) as tf.Tensor4D, filters as tf.Tensor4D, 1, mode),
    adjoint: (w: tf.Tensor, filters: tf.Tensor, xShape: number[]) => {
      const [n, h, wd, c] = xShape;
      const inner = padding === 'symmetric' ? [n, h + size - 1, wd + size - 1, c] : xShape;
      const t = tf.conv2dTranspose(w as tf.Tensor4D, filters as tf.Tensor4D, inner as [number, number, number, number], 1, mode);
      return padding === 'symmetric' ? symmetricPadAdjoint(t, before, after) : t;
    },
  };
}

/**
 * Builds the value and analytic derivatives of `R(x; θ) = Σ_k w_k Σ ρ(C_k x; p_k)`.
 *
 * @param expert - weights, ρ and its derivatives, θ keys.
 * @param padding - the convolution boundary.
 * @returns value, valueAndGradient, gradient, hessian (w ρ''(Cx) cached) and mixed.
 */
export function filterModel(expert: FilterExpert, padding: FilterPadding): FilterModel {
  const filtersOf = (theta: Params) => param(theta, expert.filters, expert.where);
  const conv = (theta: Params) => convolution(padding, filtersOf(theta).shape[0]!);
  const weighted = (w: tf.Tensor, t: tf.Tensor) => tf.mul(t, w);
  const gradientFrom = (x: tf.Tensor, theta: Params, z: tf.Tensor, w: tf.Tensor) => {
    const { first } = expert.rho(z, theta, { first: true });
    return conv(theta).adjoint(weighted(w, first!), filtersOf(theta), x.shape);
  };
  const model: FilterModel = {
    value: (x, theta) => tf.tidy(() => {
      const z = conv(theta).apply(x, filtersOf(theta));
      const { value } = expert.rho(z, theta, { value: true });
      return tf.sum(tf.mul(expert.weights(theta), tf.sum(value!, [0, 1, 2])));
    }),
    valueAndGradient(x, theta) {
      let value!: tf.Scalar;
      const grad = tf.tidy(() => {
        const z = conv(theta).apply(x, filtersOf(theta));
        const w = expert.weights(theta);
        const r = expert.rho(z, theta, { value: true, first: true });
        value = tf.keep(tf.sum(tf.mul(w, tf.sum(r.value!, [0, 1, 2]))) as tf.Scalar);
        return conv(theta).adjoint(weighted(w, r.first!), filtersOf(theta), x.shape);
      });
      return { value, grad };
    },
    gradient: (x, theta) => tf.tidy(() => gradientFrom(x, theta, conv(theta).apply(x, filtersOf(theta)), expert.weights(theta))),
    hessian(x, theta) {
      const filters = filtersOf(theta);
      const c = conv(theta);
      const curvature = tf.tidy(() => {
        const z = c.apply(x, filters);
        return weighted(expert.weights(theta), expert.rho(z, theta, { second: true }).second!);
      });
      return {
        apply: (v) => tf.tidy(() => c.adjoint(tf.mul(curvature, c.apply(v, filters)), filters, v.shape)),
        dispose: () => curvature.dispose(),
      };
    },
    mixed(x, theta, v) {
      return tf.tidy(() => {
        const filters = filtersOf(theta);
        const c = conv(theta);
        // two convolutions and two filter gradients rather than one over the batch [x; v]:
        // tfjs-wasm's Concat/Slice kernels are JS loops that cost more than the split saves
        const z = c.apply(x, filters);
        const u = c.apply(v, filters);
        const w = expert.weights(theta);
        const r = expert.rho(z, theta, { first: true, second: true, shape: expert.shapeKey != null });
        const filterGradient = (input: tf.Tensor, dy: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x: c.padded(input), dy }, {
          strides: [1, 1], pad: c.mode, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: filters.shape,
        } as never) as tf.Tensor;
        // ∂_c ⟨w ρ''(z) ⊙ u, C x⟩ + ⟨w ρ'(z), C v⟩
        const out: Params = {
          [expert.filters]: tf.add(filterGradient(x, tf.mul(tf.mul(r.second!, u), w)), filterGradient(v, tf.mul(r.first!, w))),
        };
        const s = tf.mul(w, tf.sum(tf.mul(r.first!, u), [0, 1, 2]));
        out[expert.weightKeys.perFilter] = s;
        if (expert.weightKeys.overall != null) out[expert.weightKeys.overall] = tf.reshape(tf.sum(s), theta[expert.weightKeys.overall].shape);
        if (expert.shapeKey != null) out[expert.shapeKey] = tf.mul(w, tf.sum(tf.mul(r.shape!, u), [0, 1, 2]));
        return out;
      });
    },
  };
  return model;
}

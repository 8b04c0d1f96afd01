/**
 * Analytic derivatives of the filter regularizers (Fields of Experts, the (Ex) filter model):
 *
 *   R(x; θ) = Σ_k w_k Σ_pixels ρ(z_k; p_k),   z_k = C_k x   (convolution with filter c_k, with padding),
 *   ∇ₓR = Σ_k Cₖᵀ (w_k ρ'(z_k)),
 *   ∇²ₓₓR v = Σ_k Cₖᵀ (w_k ρ''(z_k) ⊙ C_k v)     (ρ''(z) computed once per x: {@link FilterModel} hessian),
 *   ∇_θ⟨∇ₓR, v⟩ with u_k = C_k v:
 *     ∂/∂c_k = w_k [ ∂_c⟨ρ''(z_k) ⊙ u_k, C_k x⟩ + ∂_c⟨ρ'(z_k), C_k v⟩ ] =: w_k [A'_k + B'_k]   (two filter-gradient kernels),
 *     ∂/∂(log w_k) = w_k ⟨ρ'(z_k), u_k⟩ = w_k Σ_taps c_k ⊙ B'_k,
 *     ∂/∂p_k = w_k ⟨∂_p ρ'(z_k; p_k), u_k⟩ = w_k (r ⟨ρ'(z_k), u_k⟩ − s ⟨z_k ρ''(z_k), u_k⟩),   ⟨z_k ρ''(z_k), u_k⟩ = Σ_taps c_k ⊙ A'_k,
 *
 * the last for scale families ρ(z; p) = a(p) φ(z/σ(p)), where ∂_p ρ' = r ρ' − s z ρ'' with the
 * constants r = d log(a/σ)/dp, s = d log σ/dp (Student-t in p = log ν: r = −1, s = 1; Charbonnier: 0, 1).
 * The per-filter sums ⟨·, u_k⟩ come from the filter gradients (K·S² products) instead of
 * reductions over the responses, and the experts return ρ', ρ'' as `factor_k · tensor`, the
 * per-filter factors (2, ν_k², w_k) riding on the S×S×K filters: on tfjs-wasm a broadcast
 * elementwise kernel over [N, H, W, K] costs ~3× a same-shape one (measured 0.17 vs 0.055 ms
 * at 96², K = 30) and a reduction over axes [0, 1, 2] 2.6× a full one.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import type { Params, HessianAt } from '@bilevel/core';
import { symmetricPad, param, type FilterPadding } from './params.js';
import { symmetricPadAdjointKernel } from './symmetric-pad.js';
import { filterSimdOf, type FilterSimd, type FilterGeometry } from './filter-simd.js';
import { passesFor, responsePass, curvatureProduct, curvatureHessianProduct, valuePass, transposedPassFor, transposedPass, type PassParams, type ValueConstants } from './filter-passes.js';

/** `factor_k · tensor`, the factor per filter (`[K]`) or one number. */
export interface Scaled {
  tensor: tf.Tensor;
  factor: tf.Tensor | number;
}

/** What a filter regularizer tells the shared derivative code: weights and the expert's derivatives. */
export interface FilterExpert {
  /** `w_k` as a `[K]` tensor. */
  weights(theta: Params): tf.Tensor;
  /**
   * `ρ(z)`, `ρ'(z)`, `ρ''(z)` elementwise on the responses `[N, H', W', K]` (only those asked for); ρ', ρ'' as {@link Scaled}.
   * With {@link FilterExpert.scale}, `z` here is the scaled response `s_k z_k`, and ρ', ρ'' are still those of the unscaled z.
   */
  rho(z: tf.Tensor, theta: Params, want: { value?: boolean; first?: boolean; second?: boolean }): {
    value?: tf.Tensor; first?: Scaled; second?: Scaled;
  };
  /**
   * An optional per-filter scale s_k (`[K]`): the responses are computed as `(s_k c_k) ∗ x` (the scale folded into the
   * S×S×K filters) and handed to {@link FilterExpert.rho} as `s_k z_k`, so that an expert of `z_k/ν_k` needs no
   * broadcast kernel over `[N, H', W', K]` (measured 0.144 ms against 0.027 for a scalar one at 96², K = 30).
   */
  scale?(theta: Params): tf.Tensor;
  /** The key of the filters in θ. */
  filters: string;
  /** The regularizer's name, for errors about missing θ keys. */
  where: string;
  /** θ keys of the weights: `perFilter` gets `w_k t_k`, `overall` (a scalar) `Σ_k w_k t_k`, where t_k = ⟨ρ'(z_k), u_k⟩. */
  weightKeys: { perFilter: string; overall?: string };
  /**
   * The shape parameter p_k (θ key), when the expert has one, with `∂_p ρ'(z) = ratio · ρ'(z) − scale · z ρ''(z)`
   * (scale families: ratio = d log(a/σ)/dp, scale = d log σ/dp; see the file comment).
   */
  shape?: { key: string; ratio: number; scale: number };
  /**
   * Optional: the expert is Student-t in the (scaled) response t, ρ' = f₁ t/(1 + t²) and ρ'' = f₂ (1 − t²)/(1 + t²)²,
   * with these per-filter factors (`[K]`), so that the mixed product's SIMD route computes both tensors in one pass
   * (filter-simd.ts) instead of calling {@link FilterExpert.rho}.
   */
  studentT?(theta: Params): { first: tf.Tensor; second: tf.Tensor };
}

/** The derivative methods a filter regularizer exposes. */
export interface FilterModel {
  value(x: tf.Tensor, theta: Params): tf.Tensor;
  valueAndGradient(x: tf.Tensor, theta: Params): { value: tf.Scalar; grad: tf.Tensor };
  gradient(x: tf.Tensor, theta: Params): tf.Tensor;
  hessian(x: tf.Tensor, theta: Params): HessianAt;
  /** One Hessian-vector product at a new x (filter-passes.ts on wasm; else the Hessian prepared and applied once). */
  hvp(x: tf.Tensor, theta: Params, v: tf.Tensor): tf.Tensor;
  mixed(x: tf.Tensor, theta: Params, v: tf.Tensor): Params;
}

/**
 * Adjoint of {@link symmetricPad}: folds the mirrored borders back onto the pixels they copy.
 *
 * @param g - `[N, H + before + after, W + before + after, C]`.
 * @returns `[N, H, W, C]` with `⟨symmetricPad(x), g⟩ = ⟨x, symmetricPadAdjoint(g)⟩`.
 */
export function symmetricPadAdjoint(g: tf.Tensor, before: number, after: number): tf.Tensor {
  // one kernel on wasm, the op form's sums in its order (symmetric-pad.ts)
  const fast = before > 0 || after > 0 ? symmetricPadAdjointKernel(g, before, after) : null;
  if (fast != null) return fast;
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
  // the adjoint of `padded`: Cᵀ's result on the padded grid folded back onto x's
  const fold = (t: tf.Tensor) => (padding === 'symmetric' ? symmetricPadAdjoint(t, before, after) : t);
  return {
    mode,
    padded,
    fold,
    apply: (x: tf.Tensor, filters: tf.Tensor) => tf.conv2d(padded(x) as tf.Tensor4D, filters as tf.Tensor4D, 1, mode),
    adjoint: (w: tf.Tensor, filters: tf.Tensor, xShape: number[]) => {
      const [n, h, wd, c] = xShape;
      const inner = padding === 'symmetric' ? [n, h + size - 1, wd + size - 1, c] : xShape;
      // the SIMD pass where it applies (no tape, wasm, one input channel: filter-passes.ts), else tfjs's differentiable op
      const simd = transposedPassFor(w, filters);
      const t = simd != null ? transposedPass(simd, w, filters, mode) : tf.conv2dTranspose(w as tf.Tensor4D, filters as tf.Tensor4D, inner as [number, number, number, number], 1, mode);
      return fold(t);
    },
  };
}

/**
 * Builds the value and analytic derivatives of `R(x; θ) = Σ_k w_k Σ ρ(C_k x; p_k)`.
 *
 * @param expert - weights, ρ and its derivatives, θ keys.
 * @param padding - the convolution boundary.
 * @returns value, valueAndGradient, gradient, hessian (ρ''(Cx) cached) and mixed.
 */
export function filterModel(expert: FilterExpert, padding: FilterPadding): FilterModel {
  const filtersOf = (theta: Params) => param(theta, expert.filters, expert.where);
  const conv = (theta: Params) => convolution(padding, filtersOf(theta).shape[0]!);
  // the responses handed to ρ: (s_k c_k) ∗ x when the expert has a scale (see FilterExpert.scale)
  const responses = (x: tf.Tensor, theta: Params, c: ReturnType<typeof conv>) => {
    const filters = filtersOf(theta);
    return c.apply(x, expert.scale != null ? tf.mul(filters, expert.scale(theta)) : filters);
  };
  // c_k · w_k · factor_k: the adjoint's filters with the per-filter factors folded in
  const adjointFilters = (filters: tf.Tensor, w: tf.Tensor, d: Scaled) => tf.mul(filters, tf.mul(w, d.factor));
  // Σ_k w_k Σ_pixels ρ_k as one matMul [pixels, K]·[K, 1] (a reduction over axes [0, 1, 2] transposes first)
  const weightedSum = (rho: tf.Tensor, w: tf.Tensor) => {
    const k = rho.shape[3]!;
    return tf.sum(tf.matMul(tf.reshape(rho, [-1, k]), tf.reshape(w, [k, 1]))) as tf.Scalar;
  };
  const studentT = expert.studentT != null;
  // the filters and the per-filter scale of the SIMD passes (filter-passes.ts)
  const passParams = (theta: Params): PassParams => ({ filters: filtersOf(theta), scale: expert.scale != null ? expert.scale(theta) : tf.ones([filtersOf(theta).shape[3]!]) });
  // θ's per-filter constants of the value pass (s_k c_k, w_k, and the adjoint's c_k w_k f₁) as the tfjs kernels
  // compute them, read once per θ, keyed by the θ tensors' data (a tf.Variable's assign gives it new data):
  // each L-BFGS evaluation would otherwise run ten kernels on [K] and [S, S, 1, K] tensors
  const valueCache = new WeakMap<object, { ids: object[]; constants: ValueConstants & { adjoint: Float32Array } }>();
  const valueConstants = (theta: Params) => {
    const filters = filtersOf(theta);
    const ids = Object.keys(theta).sort().map((k) => theta[k].dataId as object);
    const hit = valueCache.get(filters.dataId);
    if (hit != null && hit.ids.length === ids.length && hit.ids.every((id, i) => id === ids[i])) return hit.constants;
    const constants = tf.tidy(() => {
      const w = expert.weights(theta);
      const read = (t: tf.Tensor) => Float32Array.from(t.dataSync());
      return {
        shape: filters.shape,
        scaled: read(tf.mul(filters, expert.scale != null ? expert.scale(theta) : 1)),
        weights: read(w),
        adjoint: read(tf.mul(filters, tf.mul(w, expert.studentT!(theta).first))),
      };
    });
    valueCache.set(filters.dataId, { ids, constants });
    return constants;
  };
  const gradient = (x: tf.Tensor, theta: Params, want: { value?: boolean }) => {
    const filters = filtersOf(theta);
    const c = conv(theta);
    const simd = passesFor(studentT, filters, x);
    if (simd != null && want.value) {
      // ρ'(t)/f₁ and the value from the taps in one pass (the tfjs route's float32 bit for bit, so that
      // L-BFGS's line search compares the values it would there), f₁ with w on the filters; the gradient's
      // Cᵀ (the SIMD pass) rounds its sums otherwise than the tfjs route's
      const k = valueConstants(theta);
      const r = valuePass(simd, x, k, c);
      return { value: tf.scalar(r.value), grad: c.adjoint(r.first, tf.tensor(k.adjoint, filters.shape), x.shape) };
    }
    const w = expert.weights(theta);
    if (simd != null) {
      // ρ'(t)/f₁ from the taps (filter-passes.ts), f₁ with w on the filters
      const first = responsePass(simd, x, passParams(theta), c, 'first')!;
      return { value: undefined, grad: c.adjoint(first, tf.mul(filters, tf.mul(w, expert.studentT!(theta).first)), x.shape) };
    }
    const r = expert.rho(responses(x, theta, c), theta, { value: want.value, first: true });
    return { value: want.value ? weightedSum(r.value!, w) : undefined, grad: c.adjoint(r.first!.tensor, adjointFilters(filters, w, r.first!), x.shape) };
  };
  // the mixed product on wasm with SIMD for one input channel: the two filter gradients (and the Student-t
  // factors) by filter-simd.ts, the per-filter sums and the combination over the K·S² filter values in JS;
  // null where it does not apply (the tfjs route below runs)
  const mixedSimd = (simd: FilterSimd, x: tf.Tensor, theta: Params, v: tf.Tensor): Params | null => {
    const filters = filtersOf(theta);
    const [kh, kw, ci, co] = filters.shape as number[];
    if (ci !== 1 || x.shape.length !== 4 || x.shape[3] !== 1 || x.dtype !== 'float32' || v.dtype !== 'float32' || filters.dtype !== 'float32') return null;
    const out = tf.tidy(() => {
      const c = conv(theta);
      const xin = c.padded(x);
      const [n, h, wd] = xin.shape as number[];
      const same = c.mode === 'same';
      const g: FilterGeometry = {
        n, h, w: wd, kh, kw, co, oh: same ? h : h - kh + 1, ow: same ? wd : wd - kw + 1,
        top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0,
      };
      const w = expert.weights(theta).dataSync();
      const factorArray = (f: tf.Tensor | number) => (typeof f === 'number' ? new Float32Array(co).fill(f) : f.dataSync());
      let dyA: tf.Tensor | number;
      let dyB: tf.Tensor | number;
      let f1: ArrayLike<number>;
      let f2: ArrayLike<number>;
      if (expert.studentT != null && v.shape.every((d, i) => d === x.shape[i])) {
        // C x, C v and both Student-t factors in one pass over the taps (filter-passes.ts)
        const f = expert.studentT(theta);
        const d = simd.curvatureFactors(xin, c.padded(v), filters.dataSync() as Float32Array, passParams(theta).scale.dataSync() as Float32Array, g);
        [dyA, dyB, f1, f2] = [d.d1, d.d2, f.first.dataSync(), f.second.dataSync()];
      } else {
        const u = c.apply(v, filters);
        const r = expert.rho(responses(x, theta, c), theta, { first: true, second: true });
        [dyA, dyB, f1, f2] = [tf.mul(r.second!.tensor, u), r.first!.tensor, factorArray(r.first!.factor), factorArray(r.second!.factor)];
      }
      // A = ∂_c⟨F₂ ⊙ u, C x⟩, B = ∂_c⟨F₁, C v⟩ (see the tfjs route below)
      const a = simd.filterGradient(xin, dyA, g);
      const b = a == null ? null : simd.filterGradient(c.padded(v), dyB, g);
      if (a == null || b == null) return {};
      const cf = filters.dataSync();
      const grad = new Float32Array(a.length);
      const sumA = new Float64Array(co);
      const sumB = new Float64Array(co);
      for (let i = 0; i < a.length; i++) {
        const k = i % co;
        grad[i] = w[k] * (f2[k] * a[i] + f1[k] * b[i]);
        sumA[k] += cf[i] * a[i];
        sumB[k] += cf[i] * b[i];
      }
      // w_k ⟨ρ'(z_k), u_k⟩ = w_k f₁ Σ_taps c_k ⊙ B_k; w_k (ratio ⟨ρ', u⟩ − scale ⟨z ρ'', u⟩), ⟨z ρ'', u⟩_k = f₂ Σ_taps c_k ⊙ A_k
      const s = Float64Array.from(sumB, (sb, k) => w[k] * f1[k] * sb);
      const result: Params = { [expert.filters]: tf.tensor(grad, filters.shape) };
      result[expert.weightKeys.perFilter] = tf.tensor(Float32Array.from(s), theta[expert.weightKeys.perFilter].shape);
      if (expert.weightKeys.overall != null) result[expert.weightKeys.overall] = tf.tensor([s.reduce((p, q) => p + q, 0)], theta[expert.weightKeys.overall].shape);
      if (expert.shape != null) {
        const { ratio, scale } = expert.shape;
        result[expert.shape.key] = tf.tensor(Float32Array.from(s, (sk, k) => sk * ratio - w[k] * f2[k] * sumA[k] * scale), theta[expert.shape.key].shape);
      }
      return result;
    });
    return Object.keys(out).length > 0 ? out : null;
  };
  const model: FilterModel = {
    value: (x, theta) => tf.tidy(() => {
      const z = responses(x, theta, conv(theta));
      return weightedSum(expert.rho(z, theta, { value: true }).value!, expert.weights(theta));
    }),
    valueAndGradient(x, theta) {
      let value!: tf.Scalar;
      const grad = tf.tidy(() => {
        const r = gradient(x, theta, { value: true });
        value = tf.keep(r.value!);
        return r.grad;
      });
      return { value, grad };
    },
    gradient: (x, theta) => tf.tidy(() => gradient(x, theta, {}).grad),
    hessian(x, theta) {
      const filters = filtersOf(theta);
      const c = conv(theta);
      // ρ''(t)/f₂ once per x by one pass where it applies (filter-passes.ts), else by the expert's ops
      const [curvature, adjoint] = tf.tidy(() => {
        const simd = passesFor(studentT, filters, x);
        if (simd != null) return [responsePass(simd, x, passParams(theta), c, 'second')!, tf.mul(filters, tf.mul(expert.weights(theta), expert.studentT!(theta).second))];
        const second = expert.rho(responses(x, theta, c), theta, { second: true }).second!;
        return [second.tensor, adjointFilters(filters, expert.weights(theta), second)];
      });
      const unit = { filters, scale: tf.ones([filters.shape[3]!]) };
      return {
        apply: (v) => tf.tidy(() => {
          // ρ''/f₂ ⊙ C v from the taps (no tape: the pass has no gradient), else a Conv2D and a product
          const simd = passesFor(studentT, filters, v);
          const product = (simd != null ? responsePass(simd, v, unit, c, 'times', curvature) : null) ?? tf.mul(curvature, c.apply(v, filters));
          return c.adjoint(product, adjoint, v.shape);
        }),
        dispose: () => tf.dispose([curvature, adjoint, unit.scale]),
      };
    },
    hvp(x, theta, v) {
      // C x, C v and the curvature in one pass whose product Cᵀ reads where it lies (filter-passes.ts), else the
      // Hessian prepared and applied once
      const simd = passesFor(studentT, filtersOf(theta), x, v);
      if (simd != null) {
        return tf.tidy(() => {
          const c = conv(theta);
          const adjoint = tf.mul(filtersOf(theta), tf.mul(expert.weights(theta), expert.studentT!(theta).second));
          const fused = curvatureHessianProduct(simd, x, v, passParams(theta), adjoint, c);
          if (fused != null) return c.fold(fused);
          return c.adjoint(curvatureProduct(simd, x, v, passParams(theta), c), adjoint, x.shape);
        });
      }
      const h = model.hessian(x, theta);
      try {
        return h.apply(v);
      } finally {
        h.dispose();
      }
    },
    mixed(x, theta, v) {
      // the SIMD route builds its results from JS arrays: while a tape records, the tfjs route runs, which fails
      // loudly (Conv2DBackpropFilter has no registered gradient) rather than cutting the tape silently
      const taping = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
      const simd = taping ? null : filterSimdOf(tf.backend());
      const fast = simd != null ? mixedSimd(simd, x, theta, v) : null;
      if (fast != null) return fast;
      return tf.tidy(() => {
        const filters = filtersOf(theta);
        const c = conv(theta);
        // two convolutions and two filter gradients rather than one over the batch [x; v]:
        // tfjs-wasm's Concat/Slice kernels are JS loops that cost more than the split saves
        const u = c.apply(v, filters);
        const w = expert.weights(theta);
        const r = expert.rho(responses(x, theta, c), theta, { first: true, second: true });
        const filterGradient = (input: tf.Tensor, dy: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x: c.padded(input), dy }, {
          strides: [1, 1], pad: c.mode, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: filters.shape,
        } as never) as tf.Tensor;
        // A = ∂_c⟨F₂ ⊙ u, C x⟩, B = ∂_c⟨F₁, C v⟩ with ρ' = f₁F₁, ρ'' = f₂F₂: A' = f₂A, B' = f₁B
        const a = filterGradient(x, tf.mul(r.second!.tensor, u));
        const b = filterGradient(v, r.first!.tensor);
        const wf1 = tf.mul(w, r.first!.factor);
        const wf2 = tf.mul(w, r.second!.factor);
        const perFilter = (t: tf.Tensor) => tf.sum(tf.mul(filters, t), [0, 1, 2]);
        const out: Params = { [expert.filters]: tf.add(tf.mul(a, wf2), tf.mul(b, wf1)) };
        // w_k ⟨ρ'(z_k), u_k⟩ = w_k f₁ Σ_taps c_k ⊙ B_k
        const s = tf.mul(wf1, perFilter(b));
        out[expert.weightKeys.perFilter] = s;
        if (expert.weightKeys.overall != null) out[expert.weightKeys.overall] = tf.reshape(tf.sum(s), theta[expert.weightKeys.overall].shape);
        // w_k (ratio ⟨ρ', u⟩ − scale ⟨z ρ'', u⟩), ⟨z ρ'', u⟩_k = f₂ Σ_taps c_k ⊙ A_k
        if (expert.shape != null) out[expert.shape.key] = tf.sub(tf.mul(s, expert.shape.ratio), tf.mul(tf.mul(wf2, perFilter(a)), expert.shape.scale));
        return out;
      });
    },
  };
  return model;
}

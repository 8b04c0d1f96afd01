/**
 * Analytic derivatives of smoothed and Huber total variation, `R(x) = α Σ_pixels φ(|∇x|²)`
 * with `∇` the forward differences of `gradient2d` (`∇ᵀ = −div`), `g = ∇x`:
 *
 *   smoothed TV, s = √(|g|² + ν²):   ∇R = α ∇ᵀ(g/s),   ∇²R v = α ∇ᵀ(∇v/s − g ⟨g, ∇v⟩/s³),
 *     ∂/∂log α ⟨∇R, v⟩ = α Σ⟨g, ∇v⟩/s,   ∂/∂log ν ⟨∇R, v⟩ = −α ν² Σ⟨g, ∇v⟩/s³;
 *   Huber TV, m = max(|g|, ν):        ∇R = α ∇ᵀ(g/m),   ∇²R v = α ∇ᵀ(∇v/m − [|g| > ν] g ⟨g, ∇v⟩/m³),
 *     ∂/∂log α ⟨∇R, v⟩ = α Σ⟨g, ∇v⟩/m.
 *
 * The Hessian caches 1/s (or 1/m) and g/s³ (or the masked g/m³) once per x.
 *
 * Per-pixel quantities (|g|², 1/s, ⟨g, ∇v⟩) are kept on both channels of g, summed across
 * them by a 1×1 convolution with ones: the elementwise products with g are then same-shape
 * kernels — on tfjs-wasm a channel broadcast `[b, h, w, 2] · [b, h, w, 1]` costs 12× a
 * same-shape one (measured 139 µs against 11.5 at 4×64²). Sums over pixels halve the
 * two-channel sums.
 *
 * ∇ is computed here as one 2×2 convolution (1 → 2 channels, zero 'same' padding) times a
 * mask that zeroes the last row / column (the Neumann condition), and ∇ᵀ as the transposed
 * convolution: the slice/concat/pad form of gradient2d and divergence costs ~12 tfjs-wasm
 * slice kernels (~0.5 ms each at 4×64×64, JS loops) per gradient; this is 2 kernels.
 *
 * That op form is what runs while a tape records (it is differentiable: the unrolled
 * strategy differentiates through the gradient) and on backends other than wasm and cpu;
 * otherwise each method is one fused kernel (tv-kernels.ts: one JS pass over the pixels,
 * ~13 → 1 kernels per gradient, ~8 → 1 per Hessian-vector product), checked against the
 * op form and autodiff in the tests.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import type { Params, HessianAt } from '@bilevel/core';
import { param } from './params.js';
import { fusedTVAvailable, fusedTVGradient, fusedTVValueAndGradient, fusedTVValue, fusedTVHessian, fusedTVHessianApply, fusedTVMixed, type TVKernelParams } from './tv-kernels.js';
import type { DenoisingDerivatives } from './fused-denoising.js';

// f[a, b, 0, c]: channel 0 = x[i+1, j] − x[i, j], channel 1 = x[i, j+1] − x[i, j]
const STENCIL = [-1, -1, 0, 1, 1, 0, 0, 0];
const masks = new Map<string, Float32Array>();

/** 1 where the forward difference exists, 0 on the last row (channel 0) and last column (channel 1). */
function maskOf(h: number, w: number): Float32Array {
  const key = `${h}x${w}`;
  let m = masks.get(key);
  if (m == null) {
    m = new Float32Array(h * w * 2);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      m[(i * w + j) * 2] = i < h - 1 ? 1 : 0;
      m[(i * w + j) * 2 + 1] = j < w - 1 ? 1 : 0;
    }
    if (masks.size > 64) masks.clear();
    masks.set(key, m);
  }
  return m;
}

/** `∇x` as gradient2d computes it, `[b, h, w, 2]`. */
export function differences(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [, h, w] = x.shape as number[];
    const d = tf.conv2d(x as tf.Tensor4D, tf.tensor4d(STENCIL, [2, 2, 1, 2]), 1, 'same');
    return tf.mul(d, tf.tensor4d(maskOf(h, w), [1, h, w, 2]));
  });
}

/** `[Σ_c t_c, Σ_c t_c]` per pixel of a two-channel t (a 1×1 convolution with ones). */
function bothChannels(t: tf.Tensor): tf.Tensor {
  return tf.conv2d(t as tf.Tensor4D, tf.tensor4d([1, 1, 1, 1], [1, 1, 2, 2]), 1, 'valid');
}

/** `∇ᵀp` for a p that is already zero where the mask is (every p formed from ∇x here is). */
function differencesAdjoint(p: tf.Tensor): tf.Tensor {
  const [b, h, w] = p.shape as number[];
  return tf.conv2dTranspose(p as tf.Tensor4D, tf.tensor4d(STENCIL, [2, 2, 1, 2]), [b, h, w, 1], 1, 'same');
}

/** `∇ᵀ(M ∇v)` in ops from the fused kernel's per-pixel blocks `(M₀₀, M₀₁, M₁₁)`, `[3, b, h, w, 1]` (when a tape records at apply time). */
function applyBlocks(v: tf.Tensor, blocks: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [d0, d1] = tf.split(differences(v), 2, 3);
    const [m00, m01, m11] = tf.unstack(blocks);
    return differencesAdjoint(tf.concat([tf.add(tf.mul(m00, d0), tf.mul(m01, d1)), tf.add(tf.mul(m01, d0), tf.mul(m11, d1))], 3));
  });
}

/** Options of {@link tvDerivatives}. */
export interface TVDerivativeOptions {
  kind: 'smoothed' | 'huber';
  /** The fixed ν (smoothing, or the Huber threshold). */
  nu: number;
  /** Smoothed TV with θ.logNu. */
  learnNu: boolean;
  /** The regularizer's name, for errors. */
  where: string;
}

/**
 * Builds gradient, Hessian-at-x and mixed product of (smoothed or Huber) TV.
 *
 * @param o - kind, ν, learnNu, name.
 * @returns the derivative methods of the regularizer.
 */
export function tvDerivatives(o: TVDerivativeOptions) {
  const alpha = (theta: Params) => tf.exp(param(theta, 'logAlpha', o.where));
  const nuSquared = (theta: Params): tf.Tensor | number => (o.learnNu ? tf.exp(tf.mul(2, param(theta, 'logNu', o.where))) : o.nu * o.nu);
  /** `1/s` (smoothed) or `1/m` (Huber) and |g|², each on both channels `[b, h, w, 2]`, and g. */
  const scale = (x: tf.Tensor, theta: Params) => {
    const g = differences(x);
    const n2 = bothChannels(tf.square(g));
    const nu2 = nuSquared(theta);
    const inverse = tf.rsqrt(o.kind === 'huber' ? tf.maximum(n2, nu2) : tf.add(n2, nu2));
    return { g, n2, inverse };
  };
  const adjointOfGradient = differencesAdjoint;
  // Σ over pixels of a per-pixel quantity kept on both channels
  const pixelSum = (t: tf.Tensor) => tf.mul(0.5, tf.sum(t));
  const huber = o.kind === 'huber';
  const kernelParams = (theta: Params): TVKernelParams => ({
    logAlpha: param(theta, 'logAlpha', o.where),
    logNu: o.learnNu ? param(theta, 'logNu', o.where) : undefined,
  });
  /** ∇²R (+ shift·I) prepared by the kernel: the blocks once, then one kernel per product (the op form under a tape). */
  const fusedHessian = (x: tf.Tensor, theta: Params, shift: number): HessianAt => {
    const blocks = fusedTVHessian(x, kernelParams(theta), huber, o.nu);
    return {
      apply: (v) => (fusedTVAvailable(v) && tf.util.arraysEqual(v.shape, x.shape)
        ? fusedTVHessianApply(v, blocks, shift)
        : tf.tidy(() => (shift === 0 ? applyBlocks(v, blocks) : tf.add(applyBlocks(v, blocks), tf.mul(shift, v))))),
      dispose: () => blocks.dispose(),
    };
  };
  const withData = (x: tf.Tensor, y: tf.Tensor) => fusedTVAvailable(x) && y.dtype === 'float32' && tf.util.arraysEqual(y.shape, x.shape);
  const denoising: DenoisingDerivatives = {
    gradient: (x, theta, y, xi) => (withData(x, y) ? fusedTVGradient(x, kernelParams(theta), huber, o.nu, { y, xi }) : null),
    valueAndGradient: (x, theta, y, xi) => (withData(x, y) ? fusedTVValueAndGradient(x, kernelParams(theta), huber, o.nu, { y, xi }) : null),
    hessian: (x, theta, xi) => (fusedTVAvailable(x) ? fusedHessian(x, theta, 1 + xi) : null),
  };
  return {
    /** The denoising energy's derivatives, one kernel each (see fused-denoising.ts), or null where the op form runs. */
    denoising,
    /** R(x) by the fused kernel, or null where only the op form applies (the regularizer's value then runs its own). */
    fusedValue: (x: tf.Tensor, theta: Params): tf.Scalar | null => (fusedTVAvailable(x) ? fusedTVValue(x, kernelParams(theta), huber, o.nu) : null),
    valueAndGradient(x: tf.Tensor, theta: Params): { value: tf.Scalar; grad: tf.Tensor } {
      if (fusedTVAvailable(x)) return fusedTVValueAndGradient(x, kernelParams(theta), huber, o.nu);
      let value!: tf.Scalar;
      const grad = tf.tidy(() => {
        const { g, n2, inverse } = scale(x, theta);
        const a = alpha(theta);
        const nu2 = nuSquared(theta);
        // smoothed: Σ s = Σ (|g|² + ν²)/s; Huber: Σ min(|g|², ν²)/(2ν) + max(|g|², ν²)/m − ν·(pixels)
        const r = o.kind === 'huber'
          ? tf.sub(pixelSum(tf.add(tf.div(tf.minimum(n2, nu2), 2 * o.nu), tf.mul(tf.maximum(n2, nu2), inverse))), (o.nu * n2.size) / 2)
          : pixelSum(tf.mul(tf.add(n2, nu2), inverse));
        value = tf.keep(tf.reshape(tf.mul(a, r), []) as tf.Scalar);
        return tf.mul(a, adjointOfGradient(tf.mul(g, inverse)));
      });
      return { value, grad };
    },
    gradient: (x: tf.Tensor, theta: Params) => tf.tidy(() => {
      if (fusedTVAvailable(x)) return fusedTVGradient(x, kernelParams(theta), huber, o.nu);
      const { g, inverse } = scale(x, theta);
      return tf.mul(alpha(theta), adjointOfGradient(tf.mul(g, inverse)));
    }),
    hessian(x: tf.Tensor, theta: Params): HessianAt {
      if (fusedTVAvailable(x)) return fusedHessian(x, theta, 0);
      const [inverse, curvature] = tf.tidy(() => {
        const { g, n2, inverse: r } = scale(x, theta);
        let c = tf.mul(g, tf.pow(r, 3));
        // Huber: the quadratic zone |g| ≤ ν has Hessian I/ν, no rank-one term
        if (o.kind === 'huber') c = tf.mul(c, tf.cast(tf.greater(n2, o.nu * o.nu), 'float32'));
        return [tf.mul(alpha(theta), r), tf.mul(alpha(theta), c)];
      });
      const g = differences(x);
      return {
        apply: (v) => tf.tidy(() => {
          const dv = differences(v);
          const along = bothChannels(tf.mul(g, dv));
          return adjointOfGradient(tf.sub(tf.mul(dv, inverse), tf.mul(curvature, along)));
        }),
        dispose: () => tf.dispose([inverse, curvature, g]),
      };
    },
    mixed: (x: tf.Tensor, theta: Params, v: tf.Tensor): Params => tf.tidy(() => {
      if (fusedTVAvailable(x) && fusedTVAvailable(v) && tf.util.arraysEqual(v.shape, x.shape)) {
        const [dAlpha, dNu] = fusedTVMixed(x, v, kernelParams(theta), huber, o.nu);
        return o.learnNu ? { logAlpha: dAlpha, logNu: dNu } : { logAlpha: dAlpha };
      }
      const { g, inverse } = scale(x, theta);
      const a = alpha(theta);
      const along = bothChannels(tf.mul(g, differences(v)));
      const out: Params = { logAlpha: tf.reshape(tf.mul(a, pixelSum(tf.mul(along, inverse))), param(theta, 'logAlpha', o.where).shape) };
      if (o.learnNu) {
        const nu2 = nuSquared(theta) as tf.Tensor;
        out.logNu = tf.reshape(tf.neg(tf.mul(tf.mul(a, nu2), pixelSum(tf.mul(along, tf.pow(inverse, 3))))), param(theta, 'logNu', o.where).shape);
      }
      return out;
    }),
  };
}

import { tf } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage } from '../internal/checks.js';
import { convolutionAbsoluteSums } from './absolute-sums.js';
import { gaussianKernel, boxKernel, motionKernel } from './kernels.js';
import { checkOptions } from '@bilevel/core';
import { BLUR_SCHEMA } from '../internal/options.js';

/**
 * Convolution operator `A x = k ∗ x` with zero boundary and output the size of the input
 * ('same' padding).
 *
 * This is a true convolution (the kernel is flipped before `tf.conv2d`, which
 * correlates), so a motion kernel smears in the direction it draws. The adjoint is
 * `tf.conv2dTranspose` with the same filter and padding, which is exactly the gradient of
 * the forward map in x, hence its exact adjoint for every kernel size, odd or even:
 * `Aᵀ y = k̃ ⋆ y` with the boundary rows the forward map dropped accounted for.
 *
 * `‖A‖ ≤ ‖k‖₁` (Young's inequality); for a normalised non-negative kernel, 1.
 *
 * @param kernel - a `[kh, kw]` (or `[kh, kw, 1, 1]`) tensor. The operator keeps its own copy.
 * @returns a {@link LinearOperator} on `[b, h, w, 1]` images; call `dispose()` when done.
 * @example
 * ```ts
 * const k = gaussianKernel(9, 1.5);
 * const A = convolution(k);
 * k.dispose();
 * const y = A.apply(x);      // blurred
 * const z = A.adjoint(y);    // Aᵀ A x
 * A.dispose();
 * ```
 */
export function convolution(kernel: tf.Tensor): LinearOperator {
  if (!(kernel instanceof tf.Tensor) || !(kernel.rank === 2 || (kernel.rank === 4 && kernel.shape[2] === 1 && kernel.shape[3] === 1))) {
    throw new Error(`convolution: 'kernel' must be a [kh, kw] or [kh, kw, 1, 1] tensor, got ${kernel instanceof tf.Tensor ? `[${kernel.shape}]` : typeof kernel}.`);
  }
  const [kh, kw] = kernel.shape;
  const filter = tf.tidy(() => tf.reverse(tf.reshape(kernel, [kh, kw]), [0, 1]).reshape([kh, kw, 1, 1])) as tf.Tensor4D;
  const normBound = tf.tidy(() => tf.sum(tf.abs(filter)).dataSync()[0]);
  let disposed = false;
  const alive = (where: string) => {
    if (disposed) throw new Error(`convolution.${where}: the operator was disposed; build a new one with convolution(kernel).`);
  };
  return {
    name: `convolution ${kh}×${kw}`,
    apply(x) {
      alive('apply');
      checkImage('convolution.apply', 'x', x);
      return tf.conv2d(x as tf.Tensor4D, filter, 1, 'same');
    },
    adjoint(y) {
      alive('adjoint');
      checkImage('convolution.adjoint', 'y', y);
      const [b, h, w] = y.shape;
      return tf.conv2dTranspose(y as tf.Tensor4D, filter, [b, h, w, 1], 1, 'same');
    },
    normBound,
    absoluteSums(alpha, inShape) {
      alive('absoluteSums');
      if (inShape == null || inShape.length < 2) throw new Error(`convolution.absoluteSums: pass the image shape 'inShape' ([h, w, 1]); the operator works on any size.`);
      return convolutionAbsoluteSums(filter, alpha, inShape[0], inShape[1]);
    },
    dispose() {
      if (!disposed) filter.dispose();
      disposed = true;
    },
  };
}

/** Options of {@link blur}. */
export interface BlurOptions {
  /** Kernel family. */
  kind?: 'gaussian' | 'box' | 'motion';
  /** Kernel side (gaussian, box); for motion, defaults to the smallest odd integer ≥ length. */
  size?: number;
  /** Gaussian standard deviation in pixels. */
  sigma?: number;
  /** Motion path length in pixels. */
  length?: number;
  /** Motion direction in degrees. */
  angle?: number;
}

/** Defaults of {@link blur}: a 9×9 Gaussian with σ = 1.5. */
export const BLUR_DEFAULTS = { kind: 'gaussian', size: 9, sigma: 1.5, length: 9, angle: 0 } as const;

/**
 * A blur operator with a standard kernel: `convolution(gaussianKernel | boxKernel | motionKernel)`.
 *
 * @param options - see {@link BlurOptions} and {@link BLUR_DEFAULTS}.
 * @returns a {@link LinearOperator}; call `dispose()` when done.
 * @example
 * ```ts
 * const A = blur({ kind: 'motion', length: 7, angle: 45 });
 * ```
 */
export function blur(options: BlurOptions = {}): LinearOperator {
  checkOptions('blur', options, BLUR_SCHEMA);
  const o = { ...BLUR_DEFAULTS, ...options };
  let kernel: tf.Tensor2D;
  if (o.kind === 'gaussian') kernel = gaussianKernel(o.size, o.sigma);
  else if (o.kind === 'box') kernel = boxKernel(o.size);
  else if (o.kind === 'motion') kernel = motionKernel(o.length, o.angle, options.size);
  else throw new Error(`blur: option 'kind' must be 'gaussian', 'box' or 'motion', got ${String(o.kind)}.`);
  const op = convolution(kernel);
  kernel.dispose();
  return { ...op, name: `${o.kind} blur (${op.name})` };
}

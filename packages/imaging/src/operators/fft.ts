/*
 * The radix-2 FFT as a differentiable tfjs op, and the choice between it and the matmul DFT
 * (`transform` option of fft2 / ifft2 / subsampledFourier / samplingProblem).
 */
import { tf } from '@bilevel/core';
import { fft2dValues, isPowerOfTwo } from '../internal/fft-kernel.js';

/** How the 2-D DFT is computed: `'fft'` radix-2 (power-of-two sides), `'dft'` matmuls, `'auto'` the faster one measured for the size. */
export type FourierTransform = 'auto' | 'fft' | 'dft';

/**
 * Backends on which `'auto'` picks the FFT (for power-of-two sides). Measured on wasm
 * (examples/mri-sampling `bench`, one pinned core, CPU time; imaging's README): the FFT's
 * F then Fᴴ is 1.4–10× faster than the matmul DFT from 32² to 256² and the MRI gradient
 * 2.8–3.1× faster at 128²–256². The cpu backend runs the same JS loops. On GPU / native
 * backends the kernel would force a download (`dataSync`) while their matmuls run in
 * parallel; unmeasured, so `'auto'` keeps the DFT there.
 */
export const FFT_BACKENDS: readonly string[] = ['wasm', 'cpu'];

/** `'fft'` or `'dft'` for an `h × w` transform; errors name `where` and the option. */
export function resolveTransform(where: string, transform: FourierTransform, h: number, w: number): 'fft' | 'dft' {
  const pow2 = isPowerOfTwo(h) && isPowerOfTwo(w);
  if (transform === 'fft' && !pow2) {
    throw new Error(`${where}: option transform 'fft' needs power-of-two sides (radix-2), got ${h}×${w}; use transform 'dft' or 'auto' (which falls back to the DFT).`);
  }
  if (transform === 'auto') return pow2 && FFT_BACKENDS.includes(tf.getBackend()) ? 'fft' : 'dft';
  return transform;
}

function run(z: tf.Tensor, inverse: boolean, out: 1 | 2): tf.Tensor4D {
  const [b, h, w, c] = z.shape as [number, number, number, number];
  const values = fft2dValues(z.dataSync() as Float32Array, b, h, w, c as 1 | 2, inverse, out);
  return tf.tensor4d(values, [b, h, w, out]);
}

/*
 * F (forward) on [b, h, w, 2] pairs or a real [b, h, w, 1] image, Fᴴ (inverse) on pairs, and
 * Re Fᴴ (inverse, real part only: the adjoint of a real image's F). For the real inner
 * product the adjoint of the unitary F on pairs is Fᴴ and vice versa; the adjoint of
 * x ↦ F[x, 0] is dy ↦ Re Fᴴ dy, and that of Re Fᴴ is x ↦ F[x, 0]. The gradients call these
 * same ops, so second derivatives (autodiff HVPs through the energy) are exact too. Taking
 * the real part inside the kernel saves a strided slice (2.1 ms at 256² on wasm, more than
 * the transform's own loops).
 */
const op = (inverse: boolean, out: 1 | 2) =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor;
    return { value: run(z, inverse, out), gradFunc: (dy: tf.Tensor) => adjointOf(dy, z.shape[3] as number, inverse) };
  });
const forwardOp = op(false, 2);
const inverseOp = op(true, 2);
const inverseRealOp = op(true, 1);

function adjointOf(dy: tf.Tensor, inChannels: number, inverse: boolean): tf.Tensor {
  if (inverse) return forwardOp(dy); // of Fᴴ on pairs (dy pairs) or of Re Fᴴ (dy real): F
  return inChannels === 2 ? inverseOp(dy) : inverseRealOp(dy);
}

/**
 * Unitary 2-D FFT (`inverse` false) or inverse FFT of `[b, h, w, 2]` pairs (or, forward, a
 * real `[b, h, w, 1]` image), h and w powers of two; `realPart` returns only `Re` of the
 * inverse as `[b, h, w, 1]`. Differentiable (exact adjoint).
 */
export function radix2(z: tf.Tensor, inverse: boolean, realPart = false): tf.Tensor4D {
  if (!inverse) return forwardOp(z) as tf.Tensor4D;
  return (realPart ? inverseRealOp(z) : inverseOp(z)) as tf.Tensor4D;
}

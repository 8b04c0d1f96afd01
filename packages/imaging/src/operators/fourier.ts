import { tf } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage, checkRange } from '../internal/checks.js';
import { checkOptions } from '@bilevel/core';
import { SUBSAMPLED_FOURIER_SCHEMA, FOURIER_SCHEMA } from '../internal/options.js';
import { radix2, resolveTransform, type FourierTransform } from './fft.js';

/**
 * Real and imaginary parts of the unitary DFT matrix `F[j, k] = e^{−2πi jk/n}/√n = C − iS`.
 *
 * `jk` is reduced mod n before the cosine so that the angle, hence the float32 entries,
 * stay accurate for large n.
 *
 * @param n - transform length.
 * @returns `{ cos: C, sin: S }`, both symmetric `[n, n]`; the caller owns them.
 * @example
 * ```ts
 * const { cos, sin } = dftMatrices(8);
 * ```
 */
export function dftMatrices(n: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`dftMatrices: 'n' must be a positive integer, got ${String(n)}.`);
  const c = new Float32Array(n * n);
  const s = new Float32Array(n * n);
  const scale = 1 / Math.sqrt(n);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < n; k++) {
      const angle = (2 * Math.PI * ((j * k) % n)) / n;
      c[j * n + k] = Math.cos(angle) * scale;
      s[j * n + k] = Math.sin(angle) * scale;
    }
  }
  return { cos: tf.tensor2d(c, [n, n]), sin: tf.tensor2d(s, [n, n]) };
}

interface Dft {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/**
 * `(A + iB)(C ∓ iS)` on the last axis of `[N, n]` real/imaginary parts; `forward`
 * picks `F = C − iS`, otherwise `Fᴴ = C + iS`. `im` may be null (real input).
 */
function rightMultiply(re: tf.Tensor2D, im: tf.Tensor2D | null, m: Dft, forward: boolean): [tf.Tensor2D, tf.Tensor2D] {
  const sign = forward ? 1 : -1;
  const ac = tf.matMul(re, m.cos) as tf.Tensor2D;
  const as = tf.matMul(re, m.sin) as tf.Tensor2D;
  if (im == null) return [ac, tf.mul(as, -sign) as tf.Tensor2D];
  const bc = tf.matMul(im, m.cos);
  const bs = tf.matMul(im, m.sin);
  // forward: (AC + BS) + i(BC − AS); inverse: (AC − BS) + i(BC + AS)
  return [tf.add(ac, tf.mul(bs, sign)) as tf.Tensor2D, tf.sub(bc, tf.mul(as, sign)) as tf.Tensor2D];
}

/** 2-D (inverse) unitary DFT of `[b, h, w]` parts by two sets of real matmuls. */
function transform2d(re: tf.Tensor3D, im: tf.Tensor3D | null, rows: Dft, cols: Dft, forward: boolean): tf.Tensor4D {
  const [b, h, w] = re.shape;
  // along width: [b·h, w] · F_w
  const [r1, i1] = rightMultiply(re.reshape([b * h, w]) as tf.Tensor2D, im == null ? null : (im.reshape([b * h, w]) as tf.Tensor2D), cols, forward);
  // along height: transpose to [b, w, h], then [b·w, h] · F_h (F is symmetric)
  const t = (z: tf.Tensor2D) => tf.transpose(z.reshape([b, h, w]), [0, 2, 1]).reshape([b * w, h]) as tf.Tensor2D;
  const [r2, i2] = rightMultiply(t(r1), t(i1), rows, forward);
  const back = (z: tf.Tensor2D) => tf.transpose(z.reshape([b, w, h]), [0, 2, 1]).reshape([b, h, w, 1]);
  return tf.concat([back(r2), back(i2)], 3) as tf.Tensor4D;
}

function parts(z: tf.Tensor): [tf.Tensor3D, tf.Tensor3D | null] {
  const [b, h, w, c] = z.shape;
  if (c === 1) return [z.reshape([b, h, w]) as tf.Tensor3D, null];
  return [
    tf.slice(z, [0, 0, 0, 0], [b, h, w, 1]).reshape([b, h, w]) as tf.Tensor3D,
    tf.slice(z, [0, 0, 0, 1], [b, h, w, 1]).reshape([b, h, w]) as tf.Tensor3D,
  ];
}

function checkPairs(where: string, z: tf.Tensor, allowReal: boolean): void {
  if (!(z instanceof tf.Tensor) || z.rank !== 4 || !(z.shape[3] === 2 || (allowReal && z.shape[3] === 1))) {
    throw new Error(
      `${where}: expected [batch, height, width, 2] complex pairs${allowReal ? ' or a [batch, height, width, 1] real image' : ''}, got ${z instanceof tf.Tensor ? `[${z.shape}]` : typeof z}.`,
    );
  }
}

function withMatrices<T>(h: number, w: number, fn: (rows: Dft, cols: Dft) => T): T {
  const rows = dftMatrices(h);
  const cols = w === h ? rows : dftMatrices(w);
  try {
    return fn(rows, cols);
  } finally {
    tf.dispose([rows.cos, rows.sin, cols.cos, cols.sin]);
  }
}

/** Options of {@link fft2} and {@link ifft2}. */
export interface FourierOptions {
  /**
   * `'fft'`: radix-2 FFT, `O(n² log n)` (power-of-two sides); `'dft'`: real matmuls against
   * cos/sin DFT matrices, `O(n³)`, any size; `'auto'` (default): the FFT for power-of-two
   * sides on the wasm and cpu backends (measured faster there, see the README), else the DFT.
   */
  transform?: FourierTransform;
}

/** Defaults of {@link fft2} and {@link ifft2}. */
export const FOURIER_DEFAULTS = { transform: 'auto' } as const;

/** The unitary 2-D DFT (`forward`) or its inverse on `[b, h, w, 2]` pairs; `where` names the caller in errors. */
function unitary2d(where: string, z: tf.Tensor, forward: boolean, options: FourierOptions): tf.Tensor4D {
  checkOptions(where, options, FOURIER_SCHEMA);
  checkPairs(where, z, forward);
  const [h, w] = [z.shape[1] as number, z.shape[2] as number];
  if (resolveTransform(where, options.transform ?? FOURIER_DEFAULTS.transform, h, w) === 'fft') return radix2(z, !forward);
  return withMatrices(h, w, (rows, cols) =>
    tf.tidy(() => {
      const [re, im] = parts(z);
      return transform2d(re, im, rows, cols, forward);
    }),
  );
}

/**
 * Unitary 2-D discrete Fourier transform `Z = F_h z F_w`,
 * `Z[u, v] = (1/√(hw)) Σ_{j,k} z[j, k] e^{−2πi(uj/h + vk/w)}`, computed with real
 * computed by a radix-2 FFT (`O(n² log n)`, power-of-two sides) or by real matmuls against
 * cos/sin DFT matrices (`O(hw(h + w))` per image; the wasm backend has no FFT kernel), see
 * {@link FourierOptions}. Differentiable: the gradient is the exact adjoint `Fᴴ`. Zero
 * frequency at `[0, 0]`.
 *
 * @param z - `[b, h, w, 2]` complex pairs (re, im) or a real `[b, h, w, 1]` image.
 * @param options - `{ transform }`, see {@link FourierOptions} (default `'auto'`).
 * @returns `[b, h, w, 2]` complex pairs.
 * @example
 * ```ts
 * const k = fft2(x);          // x: [1, 64, 64, 1] real → [1, 64, 64, 2]
 * const back = ifft2(k);      // ≈ [x, 0]
 * ```
 */
export function fft2(z: tf.Tensor, options: FourierOptions = FOURIER_DEFAULTS): tf.Tensor4D {
  return unitary2d('fft2', z, true, options);
}

/**
 * Inverse unitary 2-D DFT `z = F_hᴴ Z F_wᴴ` on complex pairs; see {@link fft2}.
 *
 * @param z - `[b, h, w, 2]` complex pairs.
 * @param options - `{ transform }`, see {@link FourierOptions} (default `'auto'`).
 * @returns `[b, h, w, 2]` complex pairs.
 * @example
 * ```ts
 * const x = tf.slice(ifft2(fft2(img)), [0, 0, 0, 0], [-1, -1, -1, 1]);   // = img
 * const viaDft = ifft2(k, { transform: 'dft' });                        // the matmul DFT
 * ```
 */
export function ifft2(z: tf.Tensor, options: FourierOptions = FOURIER_DEFAULTS): tf.Tensor4D {
  return unitary2d('ifft2', z, false, options);
}

/** Options of {@link subsampledFourier}. */
export interface SubsampledFourierOptions {
  /** Non-negative per-frequency weights `[h, w]` (e.g. inverse noise standard deviations); default all ones. */
  weights?: tf.Tensor;
  /** How `F` is computed, see {@link FourierOptions}; default `'auto'`. */
  transform?: FourierTransform;
}

/** Defaults of {@link subsampledFourier}. */
export const SUBSAMPLED_FOURIER_DEFAULTS: SubsampledFourierOptions = {};

/**
 * Subsampled Fourier operator for MRI: `A x = W ⊙ M ⊙ F x`, with `F` the unitary 2-D DFT
 * (see {@link fft2}), `M` a sampling mask and `W` optional weights. Maps a real
 * `[b, h, w, 1]` image to `[b, h, w, 2]` complex pairs (unsampled entries are 0).
 * Adjoint for the real inner product: `Aᵀ y = Re Fᴴ(W ⊙ M ⊙ y)` (zero-filled
 * reconstruction when applied to data).
 *
 * `F` is a radix-2 FFT or the matmul DFT (option `transform`, default `'auto'`: the FFT for
 * power-of-two sides on wasm and cpu); the DFT's matrices are built once and held.
 * `‖A‖ ≤ max |W ⊙ M|` because `F` is unitary.
 *
 * @param mask - `[h, w]` sampling mask in [0, 1], zero frequency at `[0, 0]`. Copied.
 * @param options - see {@link SubsampledFourierOptions}.
 * @returns a {@link LinearOperator}; call `dispose()` when done.
 * @example
 * ```ts
 * const mask = tf.tensor2d(radialMaskValues, [64, 64]);
 * const A = subsampledFourier(mask);
 * const y = A.apply(x);            // [1, 64, 64, 2]
 * const zeroFilled = A.adjoint(y); // [1, 64, 64, 1]
 * A.dispose();
 * ```
 */
export function subsampledFourier(mask: tf.Tensor, options: SubsampledFourierOptions = SUBSAMPLED_FOURIER_DEFAULTS): LinearOperator {
  checkOptions('subsampledFourier', options, SUBSAMPLED_FOURIER_SCHEMA);
  if (!(mask instanceof tf.Tensor) || mask.rank !== 2) {
    throw new Error(`subsampledFourier: 'mask' must be an [h, w] tensor, got ${mask instanceof tf.Tensor ? `[${mask.shape}]` : typeof mask}.`);
  }
  checkRange('subsampledFourier', 'mask', mask, 0, 1);
  const [h, w] = mask.shape;
  const weights = options.weights;
  if (weights != null) {
    if (!(weights instanceof tf.Tensor) || !tf.util.arraysEqual(weights.shape, [h, w])) {
      throw new Error(`subsampledFourier: option 'weights' must be an [h, w] = [${h}, ${w}] tensor like the mask, got ${weights instanceof tf.Tensor ? `[${weights.shape}]` : typeof weights}.`);
    }
    checkRange('subsampledFourier', 'weights', weights, 0, Infinity);
  }
  const fast = resolveTransform('subsampledFourier', options.transform ?? 'auto', h, w) === 'fft';
  const m = tf.tidy(() => {
    const mw = weights == null ? tf.cast(mask, 'float32') : tf.mul(tf.cast(mask, 'float32'), weights);
    return mw.reshape([1, h, w, 1]);
  });
  const [normBound, lowest] = tf.tidy(() => tf.stack([tf.max(m), tf.min(m)]).dataSync());
  const unitMask = lowest === 1 && normBound === 1; // all ones (e.g. samplingProblem's F): skip the product
  const rows = fast ? null : dftMatrices(h);
  const cols = fast ? null : w === h ? rows : dftMatrices(w);
  let disposed = false;
  const checkSize = (where: string, z: tf.Tensor) => {
    if (disposed) throw new Error(`subsampledFourier.${where}: the operator was disposed; build a new one.`);
    if (z.shape[1] !== h || z.shape[2] !== w) {
      throw new Error(`subsampledFourier.${where}: input is ${z.shape[1]}×${z.shape[2]} but the mask is ${h}×${w}; build the operator with a mask of the image size.`);
    }
  };
  return {
    name: `subsampled Fourier ${h}×${w}`,
    inShape: [h, w, 1],
    normBound,
    apply(x) {
      checkImage('subsampledFourier.apply', 'x', x);
      checkSize('apply', x);
      return tf.tidy(() => {
        const z = rows == null ? radix2(x, false) : transform2d(x.reshape([x.shape[0], h, w]) as tf.Tensor3D, null, rows, cols!, true);
        return unitMask ? z : tf.mul(z, m);
      });
    },
    adjoint(y) {
      checkPairs('subsampledFourier.adjoint', y, false);
      checkSize('adjoint', y);
      return tf.tidy(() => {
        if (rows == null) return radix2(unitMask ? y : tf.mul(y, m), true, true);
        const [re, im] = parts(tf.mul(y, m));
        const z = transform2d(re, im, rows, cols!, false);
        return tf.slice(z, [0, 0, 0, 0], [y.shape[0], h, w, 1]);
      });
    },
    dispose() {
      if (!disposed) tf.dispose([m, ...(rows == null ? [] : [rows.cos, rows.sin, cols!.cos, cols!.sin])]);
      disposed = true;
    },
  };
}

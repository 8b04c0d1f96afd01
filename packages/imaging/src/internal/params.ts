import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { symmetricPadKernel } from './symmetric-pad.js';

/** Returns `theta[key]`, or throws an error that names the regularizer and the missing key. */
export function param(theta: Params, key: string, where: string): tf.Tensor {
  const t = theta?.[key];
  if (!(t instanceof tf.Tensor)) {
    throw new Error(`${where}: parameter '${key}' is missing from theta (keys: ${theta ? Object.keys(theta).join(', ') : 'none'}); start from the regularizer's init().`);
  }
  return t;
}

/** Reads a tensor to a Float32Array without leaking (for constants that depend on θ). */
export function read(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn);
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

/** Per-filter ℓ1 norms of `[S, S, C, K]` filters: `‖C_k‖ ≤ ‖c_k‖₁` bounds each convolution's norm. */
export function filterL1Norms(filters: tf.Tensor): Float32Array {
  return read(() => tf.sum(tf.abs(filters), [0, 1, 2]));
}

/** Throws unless `filters` is `[S, S, 1, K]`. */
export function checkFilters(where: string, filters: tf.Tensor): void {
  if (filters.rank !== 4 || filters.shape[2] !== 1) {
    throw new Error(`${where}: 'filters' must be [S, S, 1, K] (one input channel, K filters), got [${filters.shape}]; see randomFilters / dctFilters.`);
  }
}

/** Boundary handling of the filter regularizers' convolutions. */
export type FilterPadding = 'valid' | 'same' | 'symmetric';

/** Throws unless `padding` is a {@link FilterPadding}. */
export function checkPadding(where: string, padding: unknown): void {
  if (padding !== 'valid' && padding !== 'same' && padding !== 'symmetric') {
    throw new Error(`${where}: option 'padding' must be 'valid', 'same' or 'symmetric', got ${String(padding)}.`);
  }
}

/**
 * Mirror-pads `[N, H, W, C]` images along H and W by `before`/`after` pixels, repeating the edge
 * pixel (`… x₁ x₀ | x₀ x₁ …`, NumPy's 'symmetric'). On wasm (float32) one kernel whose gradient is
 * the adjoint kernel (symmetric-pad.ts); elsewhere built from slices, reverses and concats, whose
 * gradients (of any order) tfjs gets right; `tf.mirrorPad`'s gradient ignores the reflected copies.
 */
export function symmetricPad(x: tf.Tensor, before: number, after: number): tf.Tensor {
  for (const axis of [1, 2]) {
    const n = x.shape[axis]!;
    if (before > n || after > n) throw new Error(`symmetricPad: padding ${Math.max(before, after)} exceeds the image side ${n}.`);
  }
  // one kernel (and its adjoint as its gradient) on wasm: symmetric-pad.ts
  const fast = before > 0 || after > 0 ? symmetricPadKernel(x, before, after) : null;
  if (fast != null) return fast;
  return tf.tidy(() => {
    let out = x;
    for (const axis of [1, 2]) {
      const n = out.shape[axis]!;
      const edge = (start: number, size: number) => {
        const begin = [0, 0, 0, 0];
        const sizes = [-1, -1, -1, -1];
        begin[axis] = start;
        sizes[axis] = size;
        return tf.reverse(tf.slice(out, begin, sizes), axis);
      };
      const parts = [...(before > 0 ? [edge(0, before)] : []), out, ...(after > 0 ? [edge(n - after, after)] : [])];
      out = parts.length === 1 ? out : tf.concat(parts, axis);
    }
    return out;
  });
}

/**
 * `c ∗ x` for every filter, `[N, H', W', K]`: 'valid' (only windows inside the image), 'same'
 * (zero padding) or 'symmetric' (mirror padding: every pixel is covered by every filter tap, and
 * constant images give zero responses at the boundary too, the discrete Neumann condition).
 */
export function filterResponses(x: tf.Tensor, filters: tf.Tensor, padding: FilterPadding): tf.Tensor4D {
  if (padding !== 'symmetric') return tf.conv2d(x as tf.Tensor4D, filters as tf.Tensor4D, 1, padding);
  return tf.tidy(() => {
    const s = filters.shape[0]!;
    const before = Math.floor((s - 1) / 2);
    return tf.conv2d(symmetricPad(x, before, s - 1 - before) as tf.Tensor4D, filters as tf.Tensor4D, 1, 'valid');
  });
}

/**
 * Factor on `‖C_k‖² ≤ ‖c_k‖₁²` for the padding: 1 for 'valid' and 'same'; 4 for 'symmetric',
 * where every shifted window sees each pixel at most twice per axis (pad < image side).
 */
export function paddingNormFactor(padding: FilterPadding): number {
  return padding === 'symmetric' ? 4 : 1;
}

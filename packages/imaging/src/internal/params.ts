import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';

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

/**
 * `Conv2D` on wasm with new filter buffers routed through the filter cache (filter-cache.ts).
 * The backend creates an XNNPACK operator (and packs the weights) per filter *buffer*, so a
 * filter tensor built anew with the same values on every call pays that each time: TV's 2×2
 * difference stencil (`tf.tensor4d(STENCIL)` per call) spent most of its Conv2D time there.
 * A filter buffer seen before is passed through as it is (the backend keeps its operator); a
 * new one is looked up by value. The convolution is the backend's own kernel on the same
 * values, so the result is the same to the bit. Inputs with few channels at stride 1 then take
 * the row route of conv2d-rows.ts (the same sums in another order).
 *
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import { heapView, type WasmBackend } from '../internal/wasm-heap.js';
import { cachedFilter } from './filter-cache.js';
import type { KernelFunc } from './conv2d-backprop-filter.js';
import { conv2dRows } from './conv2d-rows.js';

/** Filters above this many values are passed through (a copy and a comparison would cost more than they save). */
const MAX_CACHED_VALUES = 1 << 14;

type Args = { inputs: { x: tf.TensorInfo; filter: tf.TensorInfo }; backend: WasmBackend; attrs: Record<string, unknown> };

/**
 * Builds the replacement kernel function.
 *
 * @param fallback - the backend's Conv2D, which computes every call.
 * @returns a tfjs kernel function for `Conv2D` on wasm.
 */
export function conv2dCached(fallback: KernelFunc | undefined): KernelFunc {
  const seen = new WeakSet<object>();
  return (args: Args) => {
    if (fallback == null) throw new Error('Conv2D (bilevel, wasm): the wasm backend has no Conv2D kernel to wrap; is @tensorflow/tfjs-backend-wasm 4.x installed?');
    const { inputs: { x, filter }, backend, attrs } = args;
    const size = filter.shape.reduce((a, b) => a * b, 1);
    let f = filter;
    if (filter.dtype === 'float32' && size <= MAX_CACHED_VALUES && !seen.has(filter.dataId)) {
      seen.add(filter.dataId);
      f = cachedFilter(backend, heapView(backend, filter, [size]).slice(), filter.shape);
    }
    // few input channels, stride 1: one KH×1 convolution over a horizontal im2col (conv2d-rows.ts)
    return conv2dRows(x, f, backend, attrs, fallback) ?? fallback({ ...args, inputs: { x, filter: f } });
  };
}

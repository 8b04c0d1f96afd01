/**
 * `Conv2D` on wasm with new filter buffers routed through the filter cache (filter-cache.ts).
 * The backend creates an XNNPACK operator (and packs the weights) per filter *buffer*, so a
 * filter tensor built anew with the same values on every call pays that each time: TV's 2×2
 * difference stencil (`tf.tensor4d(STENCIL)` per call) spent most of its Conv2D time there.
 * A filter buffer seen before is passed through as it is (the backend keeps its operator); a
 * new one is looked up by value. The convolution is the backend's own kernel on the same
 * values, so the result is the same to the bit.
 *
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import { heapView, type WasmBackend } from '../internal/wasm-heap.js';
import { cachedFilter } from './filter-cache.js';
import type { KernelFunc } from './conv2d-backprop-filter.js';

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
    const { inputs: { x, filter }, backend } = args;
    const size = filter.shape.reduce((a, b) => a * b, 1);
    if (filter.dtype !== 'float32' || size > MAX_CACHED_VALUES || seen.has(filter.dataId)) return fallback(args);
    seen.add(filter.dataId);
    const cached = cachedFilter(backend, heapView(backend, filter, [size]).slice(), filter.shape);
    return fallback({ ...args, inputs: { x, filter: cached } });
  };
}

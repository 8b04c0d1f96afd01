/**
 * A content-addressed cache of small filter buffers on the wasm heap, shared by the
 * replacement kernels.
 *
 * The backend's XNNPACK operators (Conv2D, BatchMatMul) are created and cached per filter
 * *buffer*: a new buffer means a new operator and its weights packed again. Measured at 96²,
 * 30 filters 7×7: a conv2d with a fresh filter buffer costs 1.80 ms against 1.21 with the
 * same one, a [9216, 30]·[30, 49] matMul 1.36 against 0.72. The kernels here derive their
 * filter (transposed, re-laid-out) on every call, and callers build new filter tensors with
 * the same values on every call (`c_k · w_k` in a gradient-descent loop), so the derived
 * values are compared with the last few kept (a few thousand floats: microseconds) and an
 * equal buffer is reused, with the backend's operator for it.
 *
 * At most {@link FILTER_CACHE_SIZE} buffers are kept (each KH·KW·CI·CO floats), the least
 * recently used evicted (freeing it frees the backend's operators for it);
 * {@link clearFilterCache} (called by `useWasmKernels(false)`) frees them all. They are
 * backend buffers, not tensors: `tf.memory().numTensors` does not count them.
 *
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import { allocate, free, heapView, type WasmBackend } from '../internal/wasm-heap.js';

/** How many derived filter buffers are kept. */
export const FILTER_CACHE_SIZE = 16;

interface Entry { backend: WasmBackend; values: Float32Array; info: tf.TensorInfo }

/** Most recently used first. */
const entries: Entry[] = [];

function equal(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A heap buffer of shape `shape` holding `values`: a kept one when an equal one is kept
 * (on this backend), else a new one, kept. The caller must not free or write it.
 */
export function cachedFilter(backend: WasmBackend, values: Float32Array, shape: number[]): tf.TensorInfo {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.backend === backend && equal(e.values, values)) {
      if (i > 0) {
        entries.splice(i, 1);
        entries.unshift(e);
      }
      return { ...e.info, shape };
    }
  }
  const info = allocate(backend, shape);
  heapView(backend, info).set(values);
  entries.unshift({ backend, values, info });
  while (entries.length > FILTER_CACHE_SIZE) {
    const old = entries.pop()!;
    free(old.backend, old.info);
  }
  return info;
}

/** Frees every kept buffer. */
export function clearFilterCache(): void {
  for (const e of entries.splice(0)) free(e.backend, e.info);
}

/** How many buffers are kept now (for tests). */
export function filterCacheSize(): number {
  return entries.length;
}

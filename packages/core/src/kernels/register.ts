/**
 * Registration of bilevel's replacement kernels on the wasm backend (see
 * conv2d-backprop-input.ts, conv2d-backprop-filter.ts, conv2d-cached.ts and slice-runs.ts). Each replacement keeps the kernel
 * it replaces as its fallback for configurations it does not cover, and
 * {@link useWasmKernels}(false) puts those kernels back.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropInputCol2im } from './conv2d-backprop-input.js';
import { conv2dBackpropFilterIm2col, type KernelFunc } from './conv2d-backprop-filter.js';
import { clearFilterCache } from './filter-cache.js';
import { conv2dCached } from './conv2d-cached.js';
import { sliceByRuns } from './slice-runs.js';

const REPLACEMENTS: Record<string, (fallback: KernelFunc | undefined) => KernelFunc> = {
  Conv2DBackpropInput: conv2dBackpropInputCol2im,
  Conv2DBackpropFilter: conv2dBackpropFilterIm2col,
  Conv2D: conv2dCached,
  Slice: sliceByRuns,
};

/** The kernel configs that were registered before bilevel's replacements, by kernel name. */
const replaced = new Map<string, tf.KernelConfig | undefined>();

/** Whether bilevel's im2col/col2im convolution-gradient kernels are registered on wasm. */
export function wasmKernelsActive(): boolean {
  return replaced.size > 0;
}

/**
 * Registers (`on = true`) or removes (`false`) bilevel's replacement kernels for the wasm
 * backend's `Conv2DBackpropInput`, `Conv2DBackpropFilter`, `Conv2D` (new filter buffers through the filter cache) and `Slice` (one copy per contiguous run). Idempotent. Removing them
 * also frees the filter buffers they keep (filter-cache.ts).
 *
 * @param on - whether the replacements should be active.
 */
export function useWasmKernels(on: boolean): void {
  if (on === wasmKernelsActive()) return;
  for (const name of Object.keys(REPLACEMENTS)) {
    if (on) {
      const previous = tf.getKernel(name, 'wasm');
      replaced.set(name, previous);
      if (previous != null) tf.unregisterKernel(name, 'wasm');
      // keep the previous config's setupFunc / disposeFunc (the backend calls them on (re)initialisation)
      tf.registerKernel({ ...previous, kernelName: name, backendName: 'wasm', kernelFunc: REPLACEMENTS[name](previous?.kernelFunc as KernelFunc | undefined) as any });
    } else {
      tf.unregisterKernel(name, 'wasm');
      const previous = replaced.get(name);
      if (previous != null) tf.registerKernel(previous);
    }
  }
  if (!on) {
    replaced.clear();
    clearFilterCache();
  }
}

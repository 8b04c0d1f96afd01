/*
 * Direct access to the wasm backend's heap for bilevel's replacement kernels. The kernels
 * fill im2col / col2im buffers with plain loops over Float32Array views of the heap and hand
 * them to the backend's own BatchMatMul (XNNPACK). Patch extraction through tfjs slice /
 * concat / gather ops was measured 10–25× slower (each of those is a JS-loop kernel).
 *
 * A view is only valid until the next allocation: the heap may grow and detach its buffer,
 * so every helper here takes a fresh view after any call that can allocate.
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's BackendWasm the kernels use (not in its public types). */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** A float32 view of `info`'s data on the heap (valid until the next allocation). */
export function heapView(backend: WasmBackend, info: tf.TensorInfo, shape: number[] = info.shape): Float32Array {
  return backend.typedArrayFromHeap({ dataId: info.dataId, shape, dtype: 'float32' });
}

/** A new, uninitialised float32 buffer on the heap. */
export function allocate(backend: WasmBackend, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

/** Frees a buffer made by {@link allocate} (or any kernel output the caller owns). */
export function free(backend: WasmBackend, info: tf.TensorInfo): void {
  backend.disposeData(info.dataId);
}

/**
 * `a (m × k) · b`, where b is `k × n` (`transposeB` false) or `n × k` (true) and a is `m × k`
 * (`transposeA` false) or `k × m` (true), by the wasm backend's BatchMatMul kernel.
 *
 * @returns a new `[1, rows, cols]` buffer the caller frees.
 */
export function matMul(
  backend: WasmBackend, a: tf.TensorInfo, aShape: [number, number], b: tf.TensorInfo, bShape: [number, number],
  transposeA: boolean, transposeB: boolean,
): tf.TensorInfo {
  const kernel = tf.getKernel('BatchMatMul', 'wasm');
  if (kernel == null) throw new Error('bilevel wasm kernels: the wasm backend has no BatchMatMul kernel (tfjs-backend-wasm is not 4.x?).');
  return kernel.kernelFunc({
    inputs: { a: { ...a, shape: [1, ...aShape] }, b: { ...b, shape: [1, ...bShape] } } as any,
    backend,
    attrs: { transposeA, transposeB } as any,
  }) as tf.TensorInfo;
}

/**
 * How many float32 values one im2col / col2im buffer may hold (default 2²² = 16 MB); larger
 * problems run in chunks of rows. Mutable so that tests can force chunking on small inputs.
 */
export const chunking = { values: 1 << 22 };

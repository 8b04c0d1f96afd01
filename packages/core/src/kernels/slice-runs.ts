/**
 * `Slice` on wasm as one heap-to-heap copy per maximal contiguous run.
 *
 * tfjs-backend-wasm's own Slice is a JS kernel that first copies the WHOLE input off the heap
 * (`readSync` → `HEAPU8.slice`) and then, for a non-contiguous slice of a 4-D tensor, copies
 * `size[3]` values at a time through a fresh `subarray` view: slicing a `[1, 68, 68, 1]` image
 * along its width makes 4,352 typed-array objects for 4,352 single floats. The filter
 * regularizers' symmetric padding and its adjoint, and the finite differences of TV, slice
 * along H and W all the time; in bench:pool's FoE task that was about half of all JS-heap
 * allocation (≈ 300 of 640 MB per call, 39 → 20 scavenges) and ≈ 10 % of the CPU.
 *
 * This kernel merges the axes a slice keeps whole into the run below them (and drops axes of
 * size 1), so the same slice is 68 runs of 64 values, each copied by `copyWithin` on one view
 * of the heap: no allocation per run, no copy of the input. A slice only copies values, so the
 * output is the stock kernel's bit for bit.
 *
 * Covers float32, int32 and bool tensors of any rank; strings go to `fallback`.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './conv2d-backprop-filter.js';

type Args = { inputs: { x: tf.TensorInfo }; backend: tf.KernelBackend; attrs: { begin: number | number[]; size: number | number[] } };
interface Heap { dataIdMap: { get(id: tf.DataId): { memoryOffset: number } }; wasm: { HEAPU8: Uint8Array }; makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo }

const VIEWS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

/**
 * The slice as runs: `shape`/`begin`/`size` with the kept-whole axes merged into the axis
 * below them and axes of size 1 dropped (the last axis is the contiguous run).
 */
export function sliceRuns(shape: number[], begin: number[], size: number[]): { shape: number[]; begin: number[]; size: number[] } {
  const keep = shape.map((_, a) => a).filter((a) => shape[a] !== 1);
  const out = { shape: keep.map((a) => shape[a]), begin: keep.map((a) => begin[a]), size: keep.map((a) => size[a]) };
  // an axis kept whole joins the axis above it: [b, b + s) of the outer axis becomes
  // [b·n, (b + s)·n) of the merged one (whatever the axes further in are)
  for (let a = out.shape.length - 1; a > 0; a--) {
    const n = out.shape[a];
    if (out.begin[a] !== 0 || out.size[a] !== n) continue;
    out.shape[a - 1] *= n;
    out.begin[a - 1] *= n;
    out.size[a - 1] *= n;
    out.shape.splice(a, 1);
    out.begin.splice(a, 1);
    out.size.splice(a, 1);
  }
  return out;
}

/**
 * Builds the replacement kernel function.
 *
 * @param fallback - the kernel to call for what this one does not cover (strings).
 * @returns a tfjs kernel function for `Slice` on wasm.
 */
export function sliceByRuns(fallback: KernelFunc | undefined): KernelFunc {
  return (args: Args) => {
    const { inputs: { x }, attrs } = args;
    const View = VIEWS[x.dtype as keyof typeof VIEWS];
    if (View == null) {
      if (fallback == null) throw new Error(`Slice (bilevel, wasm): dtype '${x.dtype}' is not supported.`);
      return fallback(args);
    }
    const backend = args.backend as unknown as Heap;
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, attrs.begin, attrs.size);
    const out = backend.makeOutput(size, x.dtype);
    if (tf.util.sizeFromShape(size) === 0) return out;
    const r = sliceRuns(x.shape, begin, size);
    const heap = new View(backend.wasm.HEAPU8.buffer);
    const step = View.BYTES_PER_ELEMENT;
    const from = backend.dataIdMap.get(x.dataId).memoryOffset / step;
    let to = backend.dataIdMap.get(out.dataId).memoryOffset / step;
    const rank = r.shape.length;
    if (rank === 0) {
      heap[to] = heap[from];
      return out;
    }
    const strides = tf.util.computeStrides(r.shape);
    const run = r.size[rank - 1];
    // odometer over the outer axes of the runs
    const index = r.begin.slice(0, rank - 1);
    const count = tf.util.sizeFromShape(r.size.slice(0, rank - 1));
    for (let k = 0; k < count; k++) {
      let at = from + r.begin[rank - 1];
      for (let a = 0; a < rank - 1; a++) at += index[a] * strides[a];
      heap.copyWithin(to, at, at + run);
      to += run;
      for (let a = rank - 2; a >= 0; a--) {
        if (++index[a] < r.begin[a] + r.size[a]) break;
        index[a] = r.begin[a];
      }
    }
    return out;
  };
}

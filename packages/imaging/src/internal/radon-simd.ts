/**
 * The Radon transform's two directions on the wasm backend as one pass each over a compressed sparse
 * row table (radon-simd.wat, compiled into radon-simd-module.ts by scripts/build-simd.mjs), read where
 * the table's tensors lie on the backend's heap: `out[r] = Σ_k w_k x[idx_k]` over row r's entries,
 * the float32 products formed exactly in float64 and summed there, rounded once. That replaces the
 * tfjs route's gather of a padded table into a `[b, rows, width]` intermediate, its product and its
 * sum (three kernels and two intermediates a call; at 60 angles the ray table padded to its longest
 * ray holds 2.4× its entries, the pixel table 1.1×, at 64²–256²).
 *
 * The rows are scalar loops with two independent sums: every entry is a gather (WebAssembly SIMD has
 * no gather), so a 4-lane vector would need four scalar loads and three lane inserts, the scalar
 * loop's work (not tried); four sums in place of two measured no faster (64²–256², batch 1, within the
 * host's ±15 %), so the loop is bound by its loads, not by the additions' latency. With a batch, up to four images are first laid side by side (`interleave`,
 * a heap scratch), so that one vector load reads an entry's column of all four and the four sums run as
 * two f64x2 pairs (`rows4`), each lane in the order `rows1` sums one image: an image's result does not
 * depend on its place in the batch (tested bit for bit).
 *
 * Where WebAssembly or the backend's memory is not available, {@link radonSimdOf} returns null and the
 * tfjs route runs.
 *
 * @packageDocumentation
 */
import { wasmHeapModule, type WasmHeapBackend } from '@bilevel/core';
import { RADON_SIMD_WASM } from './radon-simd-module.js';

interface Exports {
  rows1(start: number, index: number, weight: number, rows: number, x: number, out: number): void;
  interleave(x: number, columns: number, count: number, dst: number): void;
  rows4(start: number, index: number, weight: number, rows: number, src: number, dst: number): void;
  deinterleave(src: number, rows: number, count: number, out: number): void;
}

/** Heap offsets of one compressed table's three arrays (row starts, indices, weights). */
export interface HeapTable {
  start: number;
  index: number;
  weight: number;
  rows: number;
}

/** The bound loops of one backend. */
export interface RadonSimd {
  /**
   * `out[i, r] = Σ_k weight[k] x[i, index[k]]` for images i < batch, x and out at heap byte offsets,
   * `columns` and `table.rows` floats an image apart.
   */
  rows(table: HeapTable, x: number, columns: number, out: number, batch: number): void;
  /** The heap offset of a tensor's data, or null where it has none on this backend (not moved there yet). */
  offset(dataId: object): number | null;
}

/**
 * The Radon loops on this wasm backend, or null where they cannot run; cached per backend.
 *
 * @param backend - the tfjs wasm backend object (`tf.backend()`).
 * @returns the bound loops or null.
 */
export const radonSimdOf: (backend: unknown) => RadonSimd | null = wasmHeapModule(RADON_SIMD_WASM, bind);

function bind(b: WasmHeapBackend, e: Exports): RadonSimd {
  // scratch on the backend's heap: up to four images side by side, then their interleaved outputs
  let scratch = 0;
  let capacity = 0;
  const scratchFor = (bytes: number): number => {
    if (bytes > capacity) {
      if (scratch !== 0) b.wasm._free(scratch);
      scratch = b.wasm._malloc(bytes);
      capacity = bytes;
    }
    return scratch;
  };
  return {
    rows(t, x, columns, out, batch) {
      if (batch === 1) {
        e.rows1(t.start, t.index, t.weight, t.rows, x, out);
        return;
      }
      // the heap may grow here: offsets stay valid (they are addresses, not views)
      const src = scratchFor(16 * (columns + t.rows));
      const dst = src + 16 * columns;
      for (let i = 0; i < batch; i += 4) {
        const count = Math.min(4, batch - i);
        e.interleave(x + 4 * i * columns, columns, count, src);
        e.rows4(t.start, t.index, t.weight, t.rows, src, dst);
        e.deinterleave(dst, t.rows, count, out + 4 * i * t.rows);
      }
    },
    offset(dataId) {
      return b.dataIdMap.get(dataId)?.memoryOffset ?? null;
    },
  };
}

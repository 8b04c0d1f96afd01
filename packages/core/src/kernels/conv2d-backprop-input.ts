/**
 * `Conv2DBackpropInput` (the transposed convolution, `Cᵀ dy`) on wasm as the backend's XNNPACK
 * matMul + col2im:
 *
 *   COLS = DY · Fᵀ,   COLS[(n, oh, ow), (kh·KW + kw)·CI + ci] = Σ_co dy[n, oh, ow, co] · f[kh, kw, ci, co],
 *   dx[n, oh·s_h + kh − p_t, ow·s_w + kw − p_l, ci] += COLS[(n, oh, ow), (kh, kw, ci)]   (taps inside the image),
 *
 * with DY = dy as an `(N·OH·OW) × CO` matrix and Fᵀ = the filter as a `CO × (KH·KW·CI)` matrix
 * (transposed here in JS: the backend's matMul with a transposed operand runs at 1.6 GFLOP/s
 * against 20 without, measured for these shapes).
 * The stock wasm kernel is a scalar C++ loop at ~4 GFLOP/s and was 58–65% of the FoE gradient
 * and HVP; the matMul runs at 17–19 GFLOP/s here. COLS is built in chunks of rows of at most
 * `chunking.values` (16 MB) values and scattered into dx by a plain loop over the wasm heap.
 *
 * Covers NHWC float32 inputs with any strides, any padding ('same', 'valid', explicit or a
 * number) and any rounding mode (tfjs's conv gradients have no dilations); anything else
 * goes to `fallback` (the stock kernel).
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, allocate, free, matMul, chunking, type WasmBackend } from '../internal/wasm-heap.js';
import type { KernelFunc } from './conv2d-backprop-filter.js';
import { backpropInputRows } from './transposed-conv-rows.js';
import { cachedFilter } from './filter-cache.js';

type Args = { inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo }; backend: WasmBackend; attrs: Record<string, any> };

/** Whether the col2im kernel covers this call (else the fallback runs). */
export function coversBackpropInput(args: Args): boolean {
  const { inputs: { dy, filter }, attrs } = args;
  return (attrs.dataFormat == null || attrs.dataFormat === 'NHWC') && dy.dtype === 'float32' && filter.dtype === 'float32' && dy.shape.length === 4;
}

/**
 * Builds the replacement kernel function.
 *
 * @param fallback - the stock kernel, called for configurations this one does not cover.
 * @returns a tfjs kernel function for `Conv2DBackpropInput` on wasm.
 */
export function conv2dBackpropInputCol2im(fallback: KernelFunc | undefined): KernelFunc {
  return (args: Args) => {
    if (!coversBackpropInput(args)) {
      if (fallback == null) throw new Error(`Conv2DBackpropInput (bilevel, wasm): dataFormat '${args.attrs.dataFormat}' is not supported; use NHWC.`);
      return fallback(args);
    }
    return backpropInput(args);
  };
}

function backpropInput({ inputs: { dy, filter }, backend, attrs }: Args): tf.TensorInfo {
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const K = KH * KW * CI;
  const M = N * OH * OW;
  // stride 1: one Conv2D over the filter rows (transposed-conv-rows.ts)
  const rows = backpropInputRows(dy, filter, backend, info);
  if (rows != null) return rows;
  const dx = allocate(backend, inputShape);
  heapView(backend, dx).fill(0);
  if (M === 0 || K === 0 || CO === 0) return dx;
  const rowsPerChunk = Math.max(1, Math.min(M, Math.floor(chunking.values / Math.max(K, CO))));
  // kept by the filter cache: the backend's matMul operator (packed weights) is reused
  const transposed = new Float32Array(K * CO);
  transpose(transposed, heapView(backend, filter, [K * CO]), K, CO);
  const filterT = cachedFilter(backend, transposed, [CO, K]);
  try {
    for (let m0 = 0; m0 < M; m0 += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, M - m0);
      const dyChunk = rows === M ? null : allocate(backend, [rows, CO]);
      let cols: tf.TensorInfo | null = null;
      try {
        if (dyChunk != null) heapView(backend, dyChunk).set(heapView(backend, dy).subarray(m0 * CO, (m0 + rows) * CO));
        cols = matMul(backend, dyChunk ?? dy, [rows, CO], filterT, [CO, K], false, false);
        scatterColumns(heapView(backend, dx), heapView(backend, cols, [rows * K]), m0, rows, { H, W, CI, OH, OW, KH, KW, SH, SW, top, left });
      } finally {
        if (cols != null) free(backend, cols);
        if (dyChunk != null) free(backend, dyChunk);
      }
    }
  } catch (e) {
    free(backend, dx);
    throw e;
  }
  return dx;
}

/** out (cols × rows) = inᵀ, for a rows × cols matrix `input`. */
function transpose(out: Float32Array, input: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = input[i * cols + j];
}

type Geometry = { H: number; W: number; CI: number; OH: number; OW: number; KH: number; KW: number; SH: number; SW: number; top: number; left: number };

/** dx += col2im(rows m0 … m0+rows−1 of COLS) (see the file comment). */
function scatterColumns(DX: Float32Array, COLS: Float32Array, m0: number, rows: number, g: Geometry): void {
  const { H, W, CI, OH, OW, KH, KW, SH, SW, top, left } = g;
  const perImage = OH * OW;
  const rowLength = KW * CI;
  let c = 0;
  for (let m = m0; m < m0 + rows; m++) {
    const n = Math.floor(m / perImage);
    const r = m - n * perImage;
    const oh = Math.floor(r / OW);
    const ow = r - oh * OW;
    const xImage = n * H * W * CI;
    const iw0 = ow * SW - left;
    const kwLo = Math.max(0, -iw0);
    const kwHi = Math.min(KW, W - iw0);
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * SH + kh - top;
      if (ih >= 0 && ih < H && kwLo < kwHi) {
        let q = c + kwLo * CI;
        const end = c + kwHi * CI;
        let xi = xImage + (ih * W + iw0 + kwLo) * CI;
        while (q < end) DX[xi++] += COLS[q++];
      }
      c += rowLength;
    }
  }
}

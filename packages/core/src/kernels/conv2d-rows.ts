/**
 * The forward convolution (`Conv2D`, stride 1, no dilation) for inputs with few channels as
 * one XNNPACK Conv2D over the filter *columns* of a horizontal im2col:
 *
 *   X_h[n, ih, ow, kw·CI + ci] = x[n, ih, ow + kw − p_l, ci]   (zero outside the image),
 *   y[n, oh, ow, co] = Σ_{kh, kw, ci} x[n, oh + kh − p_t, ow + kw − p_l, ci] · f[kh, kw, ci, co]
 *                    = conv2d(X_h, g)   with g[kh, 0, kw·CI + ci, co] = f[kh, kw, ci, co]
 *                      and zero padding (p_t, p_b) top and bottom, none left and right.
 *
 * g is f itself under another shape (the same memory layout), so the backend's Conv2D
 * operator for it is created once per filter buffer (its cache key includes the shape).
 * XNNPACK's convolution reads every tap through an indirection pointer and, with CI = 1,
 * multiplies one input value per pointer; the KH×1 convolution over KW·CI channels reads
 * KH pointers of KW·CI contiguous values. Measured at 96², 30 filters 7×7, CI = 1, batch 1
 * (CPU time, pinned): 1.30 ms for the stock 7×7 convolution against 0.70 for the 7×1 one over
 * 7 channels, plus ~0.05 ms to fill X_h (7 values per pixel).
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, allocate, free, chunking, type WasmBackend } from '../internal/wasm-heap.js';
import type { KernelFunc } from './conv2d-backprop-filter.js';

/** The row route applies when KW·CI is at most this, KH·KW at least {@link ROW_ROUTE_MIN_TAPS} and CO at least {@link ROW_ROUTE_MIN_OUT}. */
export const ROW_ROUTE_MAX_CHANNELS = 16;
/**
 * Measured (CPU ms, stock → rows): 96², 7×7, 1 → 30: 1.24 → 0.77; 64², 5×5, 1 → 24: 0.20 → 0.16;
 * but 64², 3×3, 1 → 8: 0.035 → 0.046, 3×3, 3 → 4: 0.052 → 0.108 and TV's 2×2, 1 → 2: equal, where
 * filling X_h costs more than the convolution saves.
 */
export const ROW_ROUTE_MIN_TAPS = 25;
export const ROW_ROUTE_MIN_OUT = 16;

/**
 * y by the row route, or null when it does not apply (strides or dilations ≠ 1, a filter or
 * channel count outside the limits above, NCHW, or one image's X_h larger than `chunking.values`).
 *
 * @param conv - the backend's own Conv2D kernel function.
 */
export function conv2dRows(x: tf.TensorInfo, filter: tf.TensorInfo, backend: WasmBackend, attrs: Record<string, any>, conv: KernelFunc): tf.TensorInfo | null {
  if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC') return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW, dilationHeight: DH, dilationWidth: DW } = info;
  const { top, bottom, left } = info.padInfo;
  const C = KW * CI;
  const perImage = H * OW * C;
  if (SH !== 1 || SW !== 1 || DH !== 1 || DW !== 1 || C > ROW_ROUTE_MAX_CHANNELS || KH * KW < ROW_ROUTE_MIN_TAPS || CO < ROW_ROUTE_MIN_OUT) return null;
  if (perImage > chunking.values || N * OH * OW * CO === 0 || top < 0 || bottom < 0) return null;
  const g = { ...filter, shape: [KH, 1, C, CO] };
  const convAttrs = { strides: [1, 1], pad: [[0, 0], [top, bottom], [0, 0], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
  const imagesPerChunk = Math.max(1, Math.floor(chunking.values / perImage));
  let out: tf.TensorInfo | null = null;
  try {
    for (let n0 = 0; n0 < N; n0 += imagesPerChunk) {
      const images = Math.min(imagesPerChunk, N - n0);
      const xh = allocate(backend, [images, H, OW, C]);
      let y: tf.TensorInfo | null = null;
      try {
        fillColumns(heapView(backend, xh), heapView(backend, x), n0, images, { H, W, CI, OW, KW, left });
        y = conv({ inputs: { x: xh, filter: g }, backend, attrs: convAttrs }) as tf.TensorInfo;
        if (images === N) {
          out = y;
          y = null;
        } else {
          if (out == null) out = allocate(backend, [N, OH, OW, CO]);
          const size = OH * OW * CO;
          heapView(backend, out).set(heapView(backend, y, [images * size]), n0 * size);
        }
      } finally {
        free(backend, xh);
        if (y != null) free(backend, y);
      }
    }
  } catch (e) {
    if (out != null) free(backend, out);
    throw e;
  }
  return { ...out!, shape: [N, OH, OW, CO] };
}

/** X_h for images n0 … n0+images−1 (see the file comment). */
function fillColumns(XH: Float32Array, X: Float32Array, n0: number, images: number, g: { H: number; W: number; CI: number; OW: number; KW: number; left: number }): void {
  const { H, W, CI, OW, KW, left } = g;
  const C = KW * CI;
  for (let i = 0; i < images; i++) {
    for (let ih = 0; ih < H; ih++) {
      const xRow = ((n0 + i) * H + ih) * W * CI;
      let q = (i * H + ih) * OW * C;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow - left;
        if (iw0 >= 0 && iw0 + KW <= W) {
          // the whole window inside the row: C contiguous values
          const src = xRow + iw0 * CI;
          for (let j = 0; j < C; j++) XH[q + j] = X[src + j];
        } else {
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw;
            const inside = iw >= 0 && iw < W;
            for (let ci = 0; ci < CI; ci++) XH[q + kw * CI + ci] = inside ? X[xRow + iw * CI + ci] : 0;
          }
        }
        q += C;
      }
    }
  }
}

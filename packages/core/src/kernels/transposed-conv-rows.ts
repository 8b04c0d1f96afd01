/**
 * The transposed convolution (`Conv2DBackpropInput`, stride 1) as one XNNPACK Conv2D over
 * the filter *rows* plus a vertical col2im:
 *
 *   P[n, oh, iw, (kh, ci)] = Σ_{kw, co} dy[n, oh, iw − kw + p_l, co] · f[kh, kw, ci, co]
 *                          = conv2d(dy, g)   with g[0, j, co, kh·CI + ci] = f[kh, KW−1−j, ci, co]
 *                            and zero padding (KW − 1 − p_l) left, (W − OW + p_l) right,
 *   dx[n, ih, iw, ci] = Σ_kh P[n, ih − kh + p_t, iw, (kh, ci)]   (rows inside dy).
 *
 * The Conv2D is a 1×KW convolution from CO to KH·CI channels: for the FoE (CI = 1, 7×7) it
 * outputs 7 channels, which XNNPACK's 8-wide kernels use fully, where the direct transposed
 * convolution (CO → 1 channel, measured 4.8 ms at 96², 30 filters) wastes 7/8 of them; and
 * the col2im adds KH·CI values per pixel instead of KH·KW·CI. Measured at 96², 30 filters
 * 7×7, batch 1: 0.71 ms for the Conv2D against 0.72 for the matMul of the im2col route, whose
 * col2im then costs another ~0.6 ms. The derived filter g is kept by the filter cache, so
 * the backend's Conv2D operator for it is reused across calls.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, allocate, free, chunking, type WasmBackend } from '../internal/wasm-heap.js';
import { cachedFilter } from './filter-cache.js';

/**
 * dx by the row route, or null when it does not apply (strides ≠ 1, a padding wider than
 * the filter, no Conv2D kernel, or one image's P larger than `chunking.values`).
 */
export function backpropInputRows(dy: tf.TensorInfo, filter: tf.TensorInfo, backend: WasmBackend, info: tf.backend_util.Conv2DInfo): tf.TensorInfo | null {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const padLeft = KW - 1 - left;
  const padRight = W - OW + left;
  const C = KH * CI;
  const perImage = OH * W * C;
  const conv = tf.getKernel('Conv2D', 'wasm');
  if (SH !== 1 || SW !== 1 || padLeft < 0 || padRight < 0 || perImage > chunking.values || conv == null || N * OH * OW * CO === 0) return null;
  const g = cachedFilter(backend, rowFilter(heapView(backend, filter, [KH * KW * CI * CO]), KH, KW, CI, CO), [1, KW, CO, C]);
  const dx = allocate(backend, [N, H, W, CI]);
  heapView(backend, dx).fill(0);
  const imagesPerChunk = Math.max(1, Math.floor(chunking.values / perImage));
  try {
    for (let n0 = 0; n0 < N; n0 += imagesPerChunk) {
      const images = Math.min(imagesPerChunk, N - n0);
      const size = OH * OW * CO;
      const chunk = images === N ? null : allocate(backend, [images, OH, OW, CO]);
      let p: tf.TensorInfo | null = null;
      try {
        if (chunk != null) heapView(backend, chunk).set(heapView(backend, dy).subarray(n0 * size, (n0 + images) * size));
        const input = chunk ?? dy;
        p = conv.kernelFunc({
          inputs: { x: { ...input, shape: [images, OH, OW, CO] }, filter: g } as any,
          backend,
          attrs: { strides: [1, 1], pad: [[0, 0], [0, 0], [padLeft, padRight], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined } as any,
        }) as tf.TensorInfo;
        addRows(heapView(backend, dx), heapView(backend, p, [images * perImage]), n0, images, { H, W, CI, OH, KH, top });
      } finally {
        if (p != null) free(backend, p);
        if (chunk != null) free(backend, chunk);
      }
    }
  } catch (e) {
    free(backend, dx);
    throw e;
  }
  return dx;
}

/** g[0, j, co, kh·CI + ci] = f[kh, KW−1−j, ci, co] (see the file comment). */
function rowFilter(f: Float32Array, KH: number, KW: number, CI: number, CO: number): Float32Array {
  const C = KH * CI;
  const g = new Float32Array(KW * CO * C);
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) for (let ci = 0; ci < CI; ci++) {
    const src = ((kh * KW + kw) * CI + ci) * CO;
    const dst = (KW - 1 - kw) * CO * C + kh * CI + ci;
    for (let co = 0; co < CO; co++) g[dst + co * C] = f[src + co];
  }
  return g;
}

/** dx[n0 + i, ih, iw, ci] += Σ_kh P[i, ih − kh + top, iw, kh·CI + ci] for the chunk's images. */
function addRows(DX: Float32Array, P: Float32Array, n0: number, images: number, g: { H: number; W: number; CI: number; OH: number; KH: number; top: number }): void {
  const { H, W, CI, OH, KH, top } = g;
  const C = KH * CI;
  const rowIn = W * C;
  const rowOut = W * CI;
  for (let i = 0; i < images; i++) {
    for (let oh = 0; oh < OH; oh++) {
      const pRow = (i * OH + oh) * rowIn;
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh + kh - top;
        if (ih < 0 || ih >= H) continue;
        const xRow = ((n0 + i) * H + ih) * rowOut;
        if (CI === 1) {
          for (let iw = 0, q = pRow + kh; iw < W; iw++, q += C) DX[xRow + iw] += P[q];
        } else {
          for (let iw = 0; iw < W; iw++) {
            const q = pRow + iw * C + kh * CI;
            const x = xRow + iw * CI;
            for (let ci = 0; ci < CI; ci++) DX[x + ci] += P[q + ci];
          }
        }
      }
    }
  }
}

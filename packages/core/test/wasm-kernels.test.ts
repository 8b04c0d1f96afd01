import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend } from '../src/index.js';
import { useWasmKernels, wasmKernelsActive } from '../src/kernels/register.js';
import { chunking } from '../src/internal/wasm-heap.js';
import { filterCacheSize, FILTER_CACHE_SIZE } from '../src/kernels/filter-cache.js';

/*
 * The replacement kernels are checked element by element against a float64 reference
 * computed here from the same float32 inputs, and against the kernels they replace (tfjs's
 * stock Conv2DBackpropInput; bilevel's composite Conv2DBackpropFilter, wasm has no stock one).
 *
 * Tolerance: every output is a sum of n products (n = KH·KW·CO for the input gradient,
 * N·OH·OW for the filter gradient). Any float32 evaluation order obeys the classic bound
 * |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γₙ Σ|aᵢbᵢ|, γₙ = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, Accuracy and
 * Stability of Numerical Algorithms, 2002, eq. 3.5); the kernels sum in different orders
 * (XNNPACK blocks, chunks, col2im), so this is the tolerance float32 can promise. Measured
 * errors are ~100× below it.
 */
const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case { n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; stride: [number, number]; pad: Pad; round?: 'floor' | 'ceil' | 'round' }

const CASES: Case[] = [
  { n: 1, h: 12, w: 12, ci: 1, co: 30, kh: 7, kw: 7, stride: [1, 1], pad: 'same' },   // FoE
  { n: 2, h: 10, w: 9, ci: 1, co: 24, kh: 5, kw: 5, stride: [1, 1], pad: 'valid' },   // FoE, symmetric padding (valid on the padded image)
  { n: 2, h: 9, w: 11, ci: 3, co: 4, kh: 3, kw: 3, stride: [2, 2], pad: 'same' },
  { n: 1, h: 9, w: 9, ci: 3, co: 4, kh: 3, kw: 3, stride: [2, 2], pad: 'valid' },
  { n: 1, h: 10, w: 7, ci: 2, co: 3, kh: 2, kw: 3, stride: [2, 1], pad: 'same' },     // non-square filter, unequal strides
  { n: 2, h: 8, w: 8, ci: 8, co: 8, kh: 3, kw: 3, stride: [1, 1], pad: 'same' },      // ICNN z-path (c → c)
  { n: 1, h: 8, w: 8, ci: 1, co: 1, kh: 1, kw: 1, stride: [1, 1], pad: 'valid' },
  { n: 1, h: 9, w: 8, ci: 2, co: 3, kh: 3, kw: 3, stride: [3, 2], pad: 1, round: 'ceil' },
  { n: 1, h: 9, w: 8, ci: 2, co: 3, kh: 3, kw: 3, stride: [2, 2], pad: 1, round: 'floor' },
  { n: 2, h: 7, w: 6, ci: 1, co: 5, kh: 3, kw: 4, stride: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 2, h: 7, w: 6, ci: 2, co: 3, kh: 3, kw: 4, stride: [1, 1], pad: [[0, 0], [1, 2], [2, 1], [0, 0]] },   // row route, asymmetric explicit padding, even width
  { n: 1, h: 6, w: 7, ci: 1, co: 4, kh: 3, kw: 3, stride: [1, 1], pad: [[0, 0], [0, 1], [4, 0], [0, 0]] },   // padding wider than the filter: im2col route
  { n: 3, h: 5, w: 6, ci: 1, co: 4, kh: 4, kw: 5, stride: [1, 1], pad: [[0, 0], [2, 1], [1, 3], [0, 0]] },   // filter gradient by shifted copies (OW = W), asymmetric
  { n: 2, h: 3, w: 6, ci: 1, co: 4, kh: 5, kw: 5, stride: [1, 1], pad: [[0, 0], [4, 0], [1, 3], [0, 0]] },   // some taps see no image row at all
];

function info(c: Case) {
  return tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.ci], [c.kh, c.kw, c.ci, c.co], c.stride, 1, c.pad as any, c.round, false, 'channelsLast');
}

function seeded(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Float64 references of dx = Cᵀdy and dW, with Σ|terms| and the term count per element. */
function reference(c: Case, x: ArrayLike<number>, f: ArrayLike<number>, dy: ArrayLike<number>) {
  const g = info(c);
  const { top, left } = g.padInfo;
  const dx = new Float64Array(c.n * c.h * c.w * c.ci);
  const dxAbs = new Float64Array(dx.length);
  const dw = new Float64Array(c.kh * c.kw * c.ci * c.co);
  const dwAbs = new Float64Array(dw.length);
  for (let n = 0; n < c.n; n++) for (let oh = 0; oh < g.outHeight; oh++) for (let ow = 0; ow < g.outWidth; ow++) {
    for (let kh = 0; kh < c.kh; kh++) for (let kw = 0; kw < c.kw; kw++) {
      const ih = oh * g.strideHeight + kh - top;
      const iw = ow * g.strideWidth + kw - left;
      if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
      for (let ci = 0; ci < c.ci; ci++) for (let co = 0; co < c.co; co++) {
        const d = dy[((n * g.outHeight + oh) * g.outWidth + ow) * c.co + co];
        const xi = ((n * c.h + ih) * c.w + iw) * c.ci + ci;
        const fi = ((kh * c.kw + kw) * c.ci + ci) * c.co + co;
        dx[xi] += d * f[fi];
        dxAbs[xi] += Math.abs(d * f[fi]);
        dw[fi] += d * x[xi];
        dwAbs[fi] += Math.abs(d * x[xi]);
      }
    }
  }
  return { dx, dxAbs, dxTerms: c.kh * c.kw * c.co, dw, dwAbs, dwTerms: c.n * g.outHeight * g.outWidth, outShape: [c.n, g.outHeight, g.outWidth, c.co] };
}

/** The largest error relative to the float32 bound (≤ 1 passes). */
function worst(got: Float32Array, ref: Float64Array, abs: Float64Array, terms: number, slack = 1): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(got[i] - ref[i]) / (slack * gamma(terms) * abs[i] + 1e-30));
  return m;
}

function run(c: Case, on: boolean) {
  useWasmKernels(on);
  const g = info(c);
  const x = tf.tensor4d(seeded(c.n * c.h * c.w * c.ci, 1), [c.n, c.h, c.w, c.ci]);
  const f = tf.tensor4d(seeded(c.kh * c.kw * c.ci * c.co, 2), [c.kh, c.kw, c.ci, c.co]);
  const dy = tf.tensor4d(seeded(c.n * g.outHeight * g.outWidth * c.co, 3), [c.n, g.outHeight, g.outWidth, c.co]);
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.round };
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape } as any) as tf.Tensor;
  // bilevel's composite filter gradient (the kernel replaced on wasm) needs equal strides
  const dw = on || c.stride[0] === c.stride[1] ? tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape } as any) as tf.Tensor : null;
  const out = { dx: dx.dataSync() as Float32Array, dw: dw?.dataSync() as Float32Array | undefined, x: x.dataSync(), f: f.dataSync(), dy: dy.dataSync() };
  tf.dispose([x, f, dy, dx, ...(dw ? [dw] : [])]);
  return out;
}

describe('wasm replacement kernels (im2col/col2im + XNNPACK matMul)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  afterAll(() => {
    chunking.values = 1 << 22;
    useWasmKernels(true);
  });

  it('initBackend registers them on wasm; wasmKernels: false restores the previous kernels', async () => {
    expect(wasmKernelsActive()).toBe(true);
    await initBackend({ backend: 'wasm', log: false, wasmKernels: false });
    expect(wasmKernelsActive()).toBe(false);
    await initBackend({ backend: 'wasm', log: false });
    expect(wasmKernelsActive()).toBe(true);
  });

  for (const [index, c] of CASES.entries()) {
    it(`case ${index}: ${c.n}×${c.h}×${c.w}×${c.ci} → ${c.co}, ${c.kh}×${c.kw}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}${c.round ? ` (${c.round})` : ''}: within the float32 bound of a float64 reference, like the stock kernels`, () => {
      const before = tf.memory().numTensors;
      const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
      // stride 1 takes the row route (transposed-conv-rows.ts), in chunks of whole images: one image's P
      const g = info(c);
      const onePerChunk = g.outHeight * c.w * c.kh * c.ci;
      // one image per chunk of the filter gradient's patch matrix (whole images: the shifted-copy fill)
      const oneImagePatches = g.outHeight * g.outWidth * Math.max(c.kh * c.kw * c.ci, c.co);
      for (const chunk of [1 << 22, onePerChunk, 37, oneImagePatches]) {
        // onePerChunk: the row route one image at a time; 37 values: the im2col route, one or two rows per chunk, every chunk boundary exercised
        chunking.values = chunk;
        const ours = run(c, true);
        const stock = run(c, false);
        const r = reference(c, ours.x as Float32Array, ours.f as Float32Array, ours.dy as Float32Array);
        expect(worst(ours.dx, r.dx, r.dxAbs, r.dxTerms)).toBeLessThanOrEqual(1);
        expect(worst(ours.dw!, r.dw, r.dwAbs, r.dwTerms)).toBeLessThanOrEqual(1);
        expect(worst(stock.dx, r.dx, r.dxAbs, r.dxTerms)).toBeLessThanOrEqual(1);
        if (stock.dw != null) expect(worst(stock.dw, r.dw, r.dwAbs, r.dwTerms)).toBeLessThanOrEqual(1);
        // ours vs stock: each within the bound of the exact value, so within twice the bound of each other
        for (let i = 0; i < ours.dx.length; i++) expect(Math.abs(ours.dx[i] - stock.dx[i])).toBeLessThanOrEqual(2 * gamma(r.dxTerms) * r.dxAbs[i] + 1e-30);
      }
      useWasmKernels(true);
      expect(tf.memory().numTensors).toBe(before);
      expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
    });
  }

  it('gradients through tf ops agree with the stock kernels (conv2d wrt x and filter, conv2dTranspose)', () => {
    const x = tf.tensor4d(seeded(2 * 16 * 16, 5), [2, 16, 16, 1]);
    const k = tf.tensor4d(seeded(5 * 5 * 6, 6), [5, 5, 1, 6]);
    const f = (xx: tf.Tensor, kk: tf.Tensor) => tf.sum(tf.log1p(tf.square(tf.conv2d(xx as tf.Tensor4D, kk as tf.Tensor4D, 1, 'same'))));
    const grads = (on: boolean) => {
      useWasmKernels(on);
      return tf.tidy(() => tf.grads(f)([x, k]).map((g) => g.dataSync() as Float32Array));
    };
    const [ox, ok] = grads(true);
    const [sx, sk] = grads(false);
    useWasmKernels(true);
    // FoE-like sums of ≤ 150 (x) and 512 (filter) terms of size ≤ 1: 1e-5 absolute is ~100 ulp of the largest entry
    const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < ox.length; i++) expect(Math.abs(ox[i] - sx[i])).toBeLessThanOrEqual(1e-5 * maxAbs(sx));
    for (let i = 0; i < ok.length; i++) expect(Math.abs(ok[i] - sk[i])).toBeLessThanOrEqual(1e-5 * maxAbs(sk));
    tf.dispose([x, k]);
  });

  it('keeps derived filters by value: equal filters in new tensors reuse one buffer, at most FILTER_CACHE_SIZE are kept, useWasmKernels(false) frees them', () => {
    useWasmKernels(false);
    useWasmKernels(true);
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const dy = tf.tensor4d(seeded(2 * 12 * 12 * 6, 11), [2, 12, 12, 6]);
    const values = seeded(5 * 5 * 6, 12);
    const transposed = (f: tf.Tensor) => tf.tidy(() => tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [2, 12, 12, 1], 1, 'same').dataSync().slice());
    const first = tf.tensor4d(values, [5, 5, 1, 6]);
    const again = tf.tensor4d(values, [5, 5, 1, 6]);
    const a = transposed(first);
    expect(filterCacheSize()).toBe(1);
    const b = transposed(again);
    expect(filterCacheSize()).toBe(1);
    expect(Array.from(b)).toEqual(Array.from(a));
    for (let i = 0; i < FILTER_CACHE_SIZE + 2; i++) {
      const other = tf.tensor4d(seeded(5 * 5 * 6, 20 + i), [5, 5, 1, 6]);
      transposed(other);
      other.dispose();
    }
    expect(filterCacheSize()).toBe(FILTER_CACHE_SIZE);
    // an evicted filter is rebuilt and gives the same result
    expect(Array.from(transposed(first))).toEqual(Array.from(a));
    tf.dispose([dy, first, again]);
    useWasmKernels(false);
    expect(filterCacheSize()).toBe(0);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
    useWasmKernels(true);
  });

  it('Conv2D: a new filter tensor with the values of a kept one reuses its buffer; results equal the stock kernel bit for bit', () => {
    useWasmKernels(false);
    useWasmKernels(true);
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const x = tf.tensor4d(seeded(2 * 9 * 8 * 3, 31), [2, 9, 8, 3]);
    const values = seeded(3 * 3 * 3 * 4, 32);
    const conv = () => tf.tidy(() => tf.conv2d(x as tf.Tensor4D, tf.tensor4d(values, [3, 3, 3, 4]), 1, 'same').dataSync().slice());
    const a = conv();
    const kept = filterCacheSize();
    expect(kept).toBeGreaterThanOrEqual(1);
    const b = conv();
    expect(filterCacheSize()).toBe(kept);
    useWasmKernels(false);
    const stock = conv();
    expect(Array.from(a)).toEqual(Array.from(stock));
    expect(Array.from(b)).toEqual(Array.from(stock));
    expect(filterCacheSize()).toBe(0);
    tf.dispose(x);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
    useWasmKernels(true);
  });

  it('Conv2D row route (few input channels, stride 1): within the float32 bound of a float64 reference, like the stock kernel, in chunks of images too', () => {
    // forward sums of KH·KW·CI terms; the same γₙ bound as above
    const cases: Array<{ n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; pad: Pad }> = [
      { n: 2, h: 12, w: 11, ci: 1, co: 30, kh: 7, kw: 7, pad: 'same' },                          // FoE
      { n: 3, h: 10, w: 9, ci: 1, co: 24, kh: 5, kw: 5, pad: 'valid' },                          // FoE on a symmetric-padded image
      { n: 2, h: 9, w: 10, ci: 2, co: 16, kh: 5, kw: 7, pad: [[0, 0], [3, 1], [0, 4], [0, 0]] },  // KW·CI = 14, asymmetric explicit padding
      { n: 1, h: 8, w: 8, ci: 3, co: 17, kh: 5, kw: 5, pad: 'same' },                            // KW·CI = 15
    ];
    const before = tf.memory().numTensors;
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    for (const c of cases) {
      const g = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.ci], [c.kh, c.kw, c.ci, c.co], 1, 1, c.pad as any, undefined, false, 'channelsLast');
      const xv = seeded(c.n * c.h * c.w * c.ci, 41);
      const fv = seeded(c.kh * c.kw * c.ci * c.co, 42);
      const ref = new Float64Array(c.n * g.outHeight * g.outWidth * c.co);
      const abs = new Float64Array(ref.length);
      for (let n = 0; n < c.n; n++) for (let oh = 0; oh < g.outHeight; oh++) for (let ow = 0; ow < g.outWidth; ow++) {
        for (let kh = 0; kh < c.kh; kh++) for (let kw = 0; kw < c.kw; kw++) {
          const ih = oh + kh - g.padInfo.top;
          const iw = ow + kw - g.padInfo.left;
          if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
          for (let ci = 0; ci < c.ci; ci++) for (let co = 0; co < c.co; co++) {
            const t = xv[((n * c.h + ih) * c.w + iw) * c.ci + ci] * fv[((kh * c.kw + kw) * c.ci + ci) * c.co + co];
            const o = ((n * g.outHeight + oh) * g.outWidth + ow) * c.co + co;
            ref[o] += t;
            abs[o] += Math.abs(t);
          }
        }
      }
      const conv = (on: boolean) => {
        useWasmKernels(on);
        return tf.tidy(() => tf.conv2d(tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]), tf.tensor4d(fv, [c.kh, c.kw, c.ci, c.co]), 1, c.pad as any).dataSync() as Float32Array);
      };
      const terms = c.kh * c.kw * c.ci;
      // all images at once, one image per chunk, two per chunk (a last chunk of one)
      for (const chunk of [1 << 22, c.h * g.outWidth * c.kw * c.ci, 2 * c.h * g.outWidth * c.kw * c.ci]) {
        chunking.values = chunk;
        const ours = conv(true);
        expect(ours.length).toBe(ref.length);
        expect(worst(ours, ref, abs, terms)).toBeLessThanOrEqual(1);
      }
      chunking.values = 1 << 22;
      expect(worst(conv(false), ref, abs, terms)).toBeLessThanOrEqual(1);
    }
    useWasmKernels(false);
    useWasmKernels(true);
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
  });

  it('falls back to the stock kernel for NCHW (which the replacements do not cover)', () => {
    const dy = tf.tensor4d(seeded(1 * 4 * 6 * 6, 7), [1, 4, 6, 6]);
    const filter = tf.tensor4d(seeded(3 * 3 * 2 * 4, 8), [3, 3, 2, 4]);
    const call = (on: boolean) => {
      useWasmKernels(on);
      const t = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [1, 2, 6, 6] } as any) as tf.Tensor;
      const v = t.dataSync().slice();
      t.dispose();
      return v;
    };
    expect(Array.from(call(true))).toEqual(Array.from(call(false)));
    useWasmKernels(true);
    tf.dispose([dy, filter]);
  });
});

/**
 * The mixed product's hot loops for one-channel filter regularizers on the wasm backend as
 * WebAssembly SIMD (filter-simd.wat, compiled into filter-simd-module.ts by
 * scripts/build-simd.mjs), run on the backend's own memory, like tv-simd.ts:
 *
 * - the filter gradient `G[kh, kw, c] = Σ_{n, oh, ow} x̃[n, oh + kh, ow + kw] · dy[n, oh, ow, c]`
 *   (x̃ the input zero-padded by (top, left)) with `dy` read where it lies: the im2col route of
 *   core's `Conv2DBackpropFilter` builds a patch matrix and XNNPACK packs `dy` as its weights on
 *   every call. Measured (CPU, pinned, 96², 30 filters 7×7, batch 1, machine shared):
 *   0.92–1.06 → 0.70–0.76 ms, the same values to float32 rounding (3.4e-6 of the largest against
 *   a float64 sum, as the im2col route);
 * - the convolution passes of filter-passes.ts (`curvature`: C x and C v with the Student-t
 *   curvature, optionally both mixed-product factors; `convolve`: C x with one elementwise epilogue;
 *   `firstAndValue`: C x with the gradient factor and the Student-t value, the latter in float32 as the
 *   tfjs kernels it replaces compute it);
 * - the Student-t factors `t/(1 + t²)` and `((1 − t²)/(1 + t²)²) ⊙ u` in one pass, the same
 *   operations in the same order as the seven tfjs kernels they replace.
 *
 * Where WebAssembly SIMD or the backend's memory is not available, {@link filterSimdOf} returns
 * null and filter-derivatives.ts runs the tfjs kernels.
 *
 * @packageDocumentation
 */
import { wasmHeapModule, type tf, type WasmHeapBackend } from '@bilevel/core';
import { FILTER_SIMD_WASM } from './filter-simd-module.js';

interface Exports {
  filterGradient(xp: number, wp: number, dy: number, g: number, oh: number, ow: number, kh: number, kwr: number, co: number, cor: number): void;
  studentFactors(t: number, u: number, d1: number, d2: number, n: number): void;
  curvature(xp: number, vp: number, wp: number, f: number, s: number, fb: number, out: number, out2: number, oh: number, ow: number, orow: number, kh: number, kw: number, co: number, cor: number): void;
  convolve(xp: number, wp: number, f: number, s: number, aux: number, out: number, oh: number, ow: number, kh: number, kw: number, co: number, cor: number, mode: number): void;
  firstAndValue(xp: number, wp: number, f: number, w: number, tab: number, out: number, sum: number, oh: number, ow: number, kh: number, kw: number, co: number, cor: number): void;
  padChannels(dy: number, dp: number, co: number, oh: number, ow: number, prow: number, pcol: number, rowOff: number, colOff: number): void;
  zeroBorder(dp: number, cs: number, oh: number, ow: number, prow: number, pcol: number, rowOff: number, colOff: number): void;
  transposed(dp: number, cs: number, f: number, out: number, h: number, w: number, kh: number, kw: number, groups: number, pcol: number): void;
}

/**
 * The table of the wasm backend's float32 logarithm (emscripten's musl `logf`, the `__logf_data` of
 * the ARM optimized routines): `[1/c_i, log c_i]` for the 16 subintervals of the reduced argument,
 * read out of tfjs-backend-wasm's binary; filter-simd.wat `firstAndValue` evaluates `logf` with it
 * (its cubic and ln 2 are constants there), so that its log matches the backend's Log/Log1p kernels
 * bit for bit (measured on 2¹⁸ sampled arguments; the tests check 417 from 0 to overflow, inf and NaN).
 */
const LOGF_TABLE = [
  1.398907162146528, -0.33569133332882284, 1.3403141896637998, -0.2929040563774074, 1.286432210124115, -0.2518726580937369,
  1.2367150214269895, -0.21245868807117255, 1.1906977166711752, -0.17453945183745634, 1.1479821020556429, -0.1380057072319758,
  1.1082251448272158, -0.10275976698545139, 1.0711297413057381, -0.06871392447020525, 1.036437278977283, -0.0357891387398228,
  1, 0, 0.9492859795739057, 0.05204517742929496, 0.8951049428609004, 0.11081431298787942,
  0.8476821620351103, 0.1652495223695143, 0.8050314851692001, 0.21687389031699977, 0.7664671008843108, 0.2659635028121397,
  0.731428603316328, 0.3127556664073557,
];

/** The epilogues of {@link FilterSimd.convolve} on z = C x, t = scale ⊙ z (filter-simd.wat `convolve`). */
export const CONVOLVE = {
  /** `aux ⊙ z`: a prepared Student-t Hessian's `ρ''(t)/f₂ ⊙ C v`. */
  times: 0,
  /** `t/(1 + t²)`: the Student-t `ρ'(t)/f₁`. */
  first: 1,
  /** `(1 − t²)/(1 + t²)²`: the Student-t `ρ''(t)/f₂`. */
  second: 2,
} as const;

/** The geometry of a one-channel, stride-1 filter gradient. */
export interface FilterGeometry {
  /** Images, and the height and width of the input the convolution reads. */
  n: number; h: number; w: number;
  /** Filter height and width, output channels. */
  kh: number; kw: number; co: number;
  /** Output height and width, and the zero padding above and left of the input. */
  oh: number; ow: number; top: number; left: number;
}

/** The SIMD loops bound to one backend; tensors are addressed by their heap offsets. */
export interface FilterSimd {
  /** The filter gradient (see the file comment) as a `kh·kw·co` array, or null where the loop cannot read `dy` safely. */
  filterGradient(x: tf.Tensor, dy: tf.Tensor | number, g: FilterGeometry): Float32Array | null;
  /** The Student-t factors of `t` and `u` (n floats each) into two scratch buffers; returns their heap offsets (valid until the next call). */
  studentFactors(t: tf.Tensor, u: tf.Tensor): { d1: number; d2: number };
  /**
   * The Student-t curvature product `((1 − t²)/(1 + t²)²) ⊙ u` with `t = scale ⊙ (C x)`, `u = C v` (C: the one-channel
   * convolution with `filters` in the geometry g, zero padding (top, left)) into `out` (`[n, oh, ow, co]`, a heap offset).
   */
  curvature(x: tf.Tensor, v: tf.Tensor, filters: Float32Array, scale: Float32Array, out: number, g: FilterGeometry): void;
  /**
   * The mixed product's Student-t factors straight from the taps: the pass of {@link FilterSimd.curvature} into one
   * scratch buffer (`d1`: `((1 − t²)/(1 + t²)²) ⊙ C v`) and, from the same t, `d2`: `t/(1 + t²)`, as {@link FilterSimd.studentFactors}
   * returns them (heap offsets, valid until the next call).
   */
  curvatureFactors(x: tf.Tensor, v: tf.Tensor, filters: Float32Array, scale: Float32Array, g: FilterGeometry): { d1: number; d2: number };
  /**
   * One convolution `z = C x` with the epilogue `mode` ({@link CONVOLVE}) into `out` (`[n, oh, ow, co]`, a heap offset);
   * `aux` is read for mode `times`. False (nothing written) where `aux` lies too close to the heap's end for its vector reads.
   */
  convolve(x: tf.Tensor, filters: Float32Array, scale: Float32Array, aux: tf.Tensor | null, out: number, g: FilterGeometry, mode: number): boolean;
  /**
   * The Student-t gradient factor and value in one convolution (filter-simd.wat `firstAndValue`): with t = C x for the
   * pre-scaled `filters` (`s_k c_k`), `t/(1 + t²)` into `out` (`[n, oh, ow, co]`, a heap offset), and returns
   * `Σ_pixels Σ_k w_k log(1 + t_k²)` as the tfjs route's Log1p, MatMul and Sum compute it (the same float32).
   */
  firstAndValue(x: tf.Tensor, filters: Float32Array, weights: Float32Array, out: number, g: FilterGeometry): number;
  /**
   * The transposed convolution `Cᵀ dy` (filter-simd.wat `planes` and `transposed`): `dy` (`[n, oh, ow, co]`) to the
   * convolution's input `[n, h, w, 1]` (`out`, a heap offset), the adjoint of the one-channel convolution with
   * `filters` (`[kh, kw, 1, co]`) in the geometry g (zero padding (top, left)), as tfjs's conv2dTranspose computes it
   * up to float32 rounding (the channels summed in another order).
   */
  transposed(dy: tf.Tensor, filters: Float32Array, out: number, g: FilterGeometry): void;
  /**
   * The one-shot HVP's `Cᵀ (((1 − t²)/(1 + t²)²) ⊙ C v)`, t = scale ⊙ C x (filter-simd.wat `curvature`, `zeroBorder`,
   * `transposed`), into `out` (`[n, h, w, 1]`, a heap offset) with `adjoint` (`[kh, kw, 1, co]`) as Cᵀ's filters:
   * per image the curvature pass writes its product straight into the zero-padded layout the transposed pass reads,
   * where {@link FilterSimd.curvature} then {@link FilterSimd.transposed} write an `[n, oh, ow, co]` tensor and copy
   * it into that layout (the same values, bit for bit). False (nothing done) where co < 4: that layout pads each
   * pixel to 4 channels, which the curvature pass does not write.
   */
  curvatureTransposed(x: tf.Tensor, v: tf.Tensor, filters: Float32Array, scale: Float32Array, adjoint: Float32Array, out: number, g: FilterGeometry): boolean;
}

/**
 * The SIMD loops on this backend, or null where they cannot run (not the wasm backend, no
 * SIMD, no reachable memory); cached per backend.
 *
 * @param backend - the tfjs backend object (`tf.backend()`).
 * @returns the bound loops or null.
 */
export const filterSimdOf: (backend: unknown) => FilterSimd | null = wasmHeapModule(FILTER_SIMD_WASM, bind);

/** A block of heap memory, grown (freed and allocated anew) when a call needs more. */
function scratchBlock(b: WasmHeapBackend) {
  let at = 0;
  let capacity = 0;
  return (bytes: number): number => {
    if (bytes > capacity) {
      if (at !== 0) b.wasm._free(at);
      at = b.wasm._malloc(bytes);
      capacity = bytes;
    }
    return at;
  };
}

function bind(b: WasmHeapBackend, e: Exports): FilterSimd {
  // [padded image | G] for the filter gradient; [d1 | d2] for the factors, which must outlive it
  const gradientScratch = scratchBlock(b);
  const factorScratch = scratchBlock(b);
  const offset = (t: tf.Tensor) => {
    const d = b.dataIdMap.get(t.dataId);
    if (d == null) throw new Error('filter-simd: a tensor is not on this wasm backend');
    return d.memoryOffset;
  };
  const convolutionScratch = scratchBlock(b);
  // scratch for `images` zero-padded images (row stride wp = ow + kw: the passes' odd last pixel), then the
  // filters [kh, kw, 1, co] with each tap's channels padded to cor = tile·⌈co/tile⌉ (the pass's channel tile:
  // convolve 16, curvature 8), then the scale [cor], then (curvature) the last tile's channels c0 + 4, c0 + 5
  // (c0 = cor − 8) as [kh·kw][f₄, f₄, f₅, f₅] and the scale [s₄, s₄, s₅, s₅] (zero beyond co; filter-simd.wat `curvature`)
  const layout = (g: FilterGeometry, images: number, filters: Float32Array, scale: Float32Array, tile = 16) => {
    const cor = Math.ceil(g.co / tile) * tile;
    const wp = g.ow + g.kw;
    const hp = g.oh + g.kh - 1;
    const padded = hp * wp;
    const taps = g.kh * g.kw;
    const fSize = taps * cor;
    const pairSize = tile === 8 ? 4 * taps + 4 : 0;
    const base = convolutionScratch(4 * (images * padded + fSize + cor + pairSize)) >> 2;
    const heap = b.wasm.HEAPF32;
    const fAt = base + images * padded;
    const sAt = fAt + fSize;
    const fbAt = sAt + cor;
    heap.fill(0, fAt, fbAt + pairSize);
    for (let tap = 0; tap < taps; tap++) heap.set(filters.subarray(tap * g.co, (tap + 1) * g.co), fAt + tap * cor);
    heap.set(scale.subarray(0, g.co), sAt);
    if (tile === 8) {
      for (let lane = 0; lane < 4; lane++) {
        const c = cor - 4 + (lane >> 1);
        if (c >= g.co) continue;
        for (let tap = 0; tap < taps; tap++) heap[fbAt + 4 * tap + lane] = filters[tap * g.co + c];
        heap[fbAt + 4 * taps + lane] = scale[c];
      }
    }
    const rows = Math.min(g.h, hp - g.top);
    const cols = Math.min(g.w, wp - 1 - g.left);
    // image i of tensor t into padded slot `slot` (a fresh view: the caller may have allocated since)
    const pad = (t: tf.Tensor, i: number, slot: number) => {
      const h = b.wasm.HEAPF32;
      const dst = h.subarray(base + slot * padded, base + (slot + 1) * padded);
      dst.fill(0);
      const src = (offset(t) >> 2) + i * g.h * g.w;
      for (let r = 0; r < rows; r++) dst.set(h.subarray(src + r * g.w, src + r * g.w + cols), (r + g.top) * wp + g.left);
      return 4 * (base + slot * padded);
    };
    return { cor, wp, pad, f: 4 * fAt, s: 4 * sAt, fb: 4 * fbAt };
  };
  // the logf table (8-byte aligned for its f64 loads), then the float32 running sum
  const valueScratch = scratchBlock(b);
  // Cᵀ's scratch: one image's dy zero-padded (filter-simd.wat `padChannels`), then the flipped filters
  const transposedScratch = scratchBlock(b);
  // Cᵀ's input layout: dy zero-padded with cs floats a pixel (filter-simd.wat `padChannels`; dy's pixel (r, c) at
  // (r + rowOff, c + colOff)), then the flipped filters [groups][kh][kw][4] (filter-simd.wat `transposed`)
  const transposedLayout = (filters: Float32Array, g: FilterGeometry) => {
    const cs = Math.max(g.co, 4);
    const groups = Math.ceil(g.co / 4);
    const prow = g.h + g.kh - 1;
    // the 6-pixel tiles read up to 6·⌈w/6⌉ + kw − 1 columns
    const pcol = Math.ceil(g.w / 6) * 6 + g.kw - 1;
    const fSize = 4 * groups * g.kh * g.kw;
    const at = transposedScratch(4 * (prow * pcol * cs + fSize));
    const fAt = (at >> 2) + prow * pcol * cs;
    const f = b.wasm.HEAPF32.subarray(fAt, fAt + fSize);
    f.fill(0);
    for (let group = 0; group < groups; group++) {
      // the last group overlaps the one before (its first lanes are zero here, held there)
      const first = Math.min(4 * group, cs - 4);
      for (let lane = 0; lane < 4; lane++) {
        const c = first + lane;
        if (c < 4 * group || c >= g.co) continue;
        for (let r = 0; r < g.kh; r++) {
          for (let q = 0; q < g.kw; q++) f[((group * g.kh + r) * g.kw + q) * 4 + lane] = filters[((g.kh - 1 - r) * g.kw + (g.kw - 1 - q)) * g.co + c];
        }
      }
    }
    return { at, cs, groups, prow, pcol, f: 4 * fAt, rowOff: g.kh - 1 - g.top, colOff: g.kw - 1 - g.left };
  };
  return {
    transposed(dy, filters, outAt, g) {
      const t = transposedLayout(filters, g);
      const dyAt = offset(dy);
      const perImage = 4 * g.oh * g.ow * g.co;
      for (let i = 0; i < g.n; i++) {
        e.padChannels(dyAt + i * perImage, t.at, g.co, g.oh, g.ow, t.prow, t.pcol, t.rowOff, t.colOff);
        e.transposed(t.at, t.cs, t.f, outAt + 4 * i * g.h * g.w, g.h, g.w, g.kh, g.kw, t.groups, t.pcol);
      }
    },
    curvatureTransposed(x, v, filters, scale, adjoint, outAt, g) {
      if (g.co < 4) return false;
      const l = layout(g, 2, filters, scale, 8);
      const t = transposedLayout(adjoint, g);
      // the border once (the pass writes the interior of every image, every channel < co = cs of every pixel)
      e.zeroBorder(t.at, t.cs, g.oh, g.ow, t.prow, t.pcol, t.rowOff, t.colOff);
      const interior = t.at + 4 * (t.rowOff * t.pcol + t.colOff) * t.cs;
      for (let i = 0; i < g.n; i++) {
        e.curvature(l.pad(x, i, 0), l.pad(v, i, 1), l.wp, l.f, l.s, l.fb, interior, 0, g.oh, g.ow, t.pcol, g.kh, g.kw, g.co, l.cor);
        e.transposed(t.at, t.cs, t.f, outAt + 4 * i * g.h * g.w, g.h, g.w, g.kh, g.kw, t.groups, t.pcol);
      }
      return true;
    },
    firstAndValue(x, filters, weights, outAt, g) {
      const at = valueScratch(8 * 16 * 2 + 8);
      if (at % 8 !== 0) throw new Error('filter-simd: the heap block for the logf table is not 8-byte aligned');
      new Float64Array(b.wasm.HEAPF32.buffer, at, 32).set(LOGF_TABLE);
      const sumAt = at + 8 * 32;
      b.wasm.HEAPF32[sumAt >> 2] = 0;
      const perImage = 4 * g.oh * g.ow * g.co;
      // the weights take the scale's place in the layout (a [cor] vector, zero beyond co)
      const l = layout(g, 1, filters, weights);
      for (let i = 0; i < g.n; i++) {
        e.firstAndValue(l.pad(x, i, 0), l.wp, l.f, l.s, at, outAt + i * perImage, sumAt, g.oh, g.ow, g.kh, g.kw, g.co, l.cor);
      }
      return b.wasm.HEAPF32[sumAt >> 2];
    },
    curvature(x, v, filters, scale, outAt, g) {
      const l = layout(g, 2, filters, scale, 8);
      for (let i = 0; i < g.n; i++) {
        e.curvature(l.pad(x, i, 0), l.pad(v, i, 1), l.wp, l.f, l.s, l.fb, outAt + 4 * i * g.oh * g.ow * g.co, 0, g.oh, g.ow, g.ow, g.kh, g.kw, g.co, l.cor);
      }
    },
    curvatureFactors(x, v, filters, scale, g) {
      const n = g.n * g.oh * g.ow * g.co;
      const at = factorScratch(8 * n);
      const l = layout(g, 2, filters, scale, 8);
      const perImage = 4 * g.oh * g.ow * g.co;
      for (let i = 0; i < g.n; i++) {
        e.curvature(l.pad(x, i, 0), l.pad(v, i, 1), l.wp, l.f, l.s, l.fb, at + i * perImage, at + 4 * n + i * perImage, g.oh, g.ow, g.ow, g.kh, g.kw, g.co, l.cor);
      }
      return { d1: at, d2: at + 4 * n };
    },
    convolve(x, filters, scale, aux, outAt, g, mode) {
      const perImage = 4 * g.oh * g.ow * g.co;
      // the last pixel's vector reads of aux: up to 3 floats past it
      if (aux != null && offset(aux) + g.n * perImage + 12 > b.wasm.HEAPF32.byteLength) return false;
      const l = layout(g, 1, filters, scale);
      const auxAt = aux == null ? 0 : offset(aux);
      for (let i = 0; i < g.n; i++) {
        e.convolve(l.pad(x, i, 0), l.wp, l.f, l.s, auxAt + i * perImage, outAt + i * perImage, g.oh, g.ow, g.kh, g.kw, g.co, l.cor, mode);
      }
      return true;
    },
    filterGradient(x, dy, g) {
      const kwr = Math.ceil(g.kw / 4) * 4;
      const cor = Math.ceil(g.co / 8) * 8;
      const wp = g.ow + kwr - 1;
      const hp = g.oh + g.kh;
      const padded = hp * wp;
      const gSize = g.kh * kwr * cor;
      const base = gradientScratch(4 * (padded + gSize));
      const dyAt = typeof dy === 'number' ? dy : offset(dy);
      // the last pixel's channel tile reads up to cor − co floats past dy
      if (dyAt + 4 * (g.n * g.oh * g.ow * g.co + cor - g.co) > b.wasm.HEAPF32.byteLength) return null;
      const gAt = base + 4 * padded;
      const xAt = offset(x);
      // a fresh view after the allocation: the heap may have grown
      const heap = b.wasm.HEAPF32;
      heap.fill(0, gAt >> 2, (gAt >> 2) + gSize);
      const rows = Math.min(g.h, hp - g.top);
      const cols = Math.min(g.w, wp - g.left);
      const xp = heap.subarray(base >> 2, (base >> 2) + padded);
      for (let i = 0; i < g.n; i++) {
        xp.fill(0);
        const src = (xAt >> 2) + i * g.h * g.w;
        for (let r = 0; r < rows; r++) xp.set(heap.subarray(src + r * g.w, src + r * g.w + cols), (r + g.top) * wp + g.left);
        e.filterGradient(base, wp, dyAt + 4 * i * g.oh * g.ow * g.co, gAt, g.oh, g.ow, g.kh, kwr, g.co, cor);
      }
      const out = new Float32Array(g.kh * g.kw * g.co);
      const at = gAt >> 2;
      for (let r = 0; r < g.kh; r++) {
        for (let t = 0; t < g.kw; t++) out.set(heap.subarray(at + (r * kwr + t) * cor, at + (r * kwr + t) * cor + g.co), (r * g.kw + t) * g.co);
      }
      return out;
    },
    studentFactors(t, u) {
      const n = t.size;
      const at = factorScratch(8 * n);
      e.studentFactors(offset(t), offset(u), at, at + 4 * n, n);
      return { d1: at, d2: at + 4 * n };
    },
  };
}

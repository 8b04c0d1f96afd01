/*
 * The radix-2 2-D FFT behind `fft2` / `subsampledFourier` with `transform: 'fft'`: a plain
 * iterative Cooley–Tukey (decimation in time) on Float64Array scratch, run on the values of
 * a tensor (`dataSync`, a copy off the wasm heap) and written back as a new tensor. The
 * wasm backend has no FFT kernel; its matmul DFT costs O(n³) per n × n image against the
 * FFT's O(n² log n), and tfjs's own op-by-op FFT stages (slice / concat / complex per stage)
 * are each a JS-loop kernel with per-op overhead, so the loop runs here directly.
 *
 * Computing in doubles keeps the result within float32 rounding of the exact transform:
 * the only float32 errors are the rounding of the input (exact: it is float32) and of
 * each output entry (relative 2⁻²⁴), far below the matmul DFT's accumulated error.
 */

interface Plan {
  /** Bit-reversal permutation of 0..n−1. */
  rev: Uint32Array;
  /** Twiddles by stage: entry `half − 1 + k` is `e^{2πik/size}` (size = 2·half), so n − 1 in all. */
  cos: Float64Array;
  sin: Float64Array;
}

const plans = new Map<number, Plan>();

/** Whether `n` is a power of two (1, 2, 4, …): the sizes the radix-2 kernel covers. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function planOf(n: number): Plan {
  let plan = plans.get(n);
  if (plan != null) return plan;
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const cos = new Float64Array(Math.max(1, n - 1));
  const sin = new Float64Array(Math.max(1, n - 1));
  for (let half = 1; half < n; half <<= 1) {
    for (let k = 0; k < half; k++) {
      // k·n/(2·half) is an integer: the angle 2πk/(2·half) reduced exactly, as in dftMatrices
      cos[half - 1 + k] = Math.cos((Math.PI * k) / half);
      sin[half - 1 + k] = Math.sin((Math.PI * k) / half);
    }
  }
  plan = { rev, cos, sin };
  plans.set(n, plan);
  return plan;
}

/**
 * In-place butterflies of `rows` consecutive length-`n` transforms in `re`/`im` (already in
 * bit-reversed order). `sign` −1: `e^{−2πi jk/n}` (forward), +1: inverse (unscaled).
 */
function butterflies(re: Float64Array, im: Float64Array, rows: number, n: number, plan: Plan, sign: number): void {
  const { cos, sin } = plan;
  const total = rows * n;
  if (n >= 2) {
    // size 2: the twiddle is 1
    for (let a = 0; a < total; a += 2) {
      const br = re[a + 1];
      const bi = im[a + 1];
      re[a + 1] = re[a] - br;
      im[a + 1] = im[a] - bi;
      re[a] += br;
      im[a] += bi;
    }
  }
  for (let half = 2; half < n; half <<= 1) {
    const size = half << 1;
    const tw = half - 1;
    for (let start = 0; start < total; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[tw + k];
        const wi = sign * sin[tw + k];
        const a = start + k;
        const b = a + half;
        const br = re[b];
        const bi = im[b];
        const tr = wr * br - wi * bi;
        const ti = wr * bi + wi * br;
        const ar = re[a];
        const ai = im[a];
        re[b] = ar - tr;
        im[b] = ai - ti;
        re[a] = ar + tr;
        im[a] = ai + ti;
      }
    }
  }
}

/** Side of the tiles of the two transposes. */
const TILE = 16;

/** Scratch buffers of the last size, reused (one transform runs at a time: JS is single-threaded). */
let scratch: { size: number; buffers: Float64Array[] } = { size: 0, buffers: [] };
function buffers(size: number): Float64Array[] {
  if (scratch.size !== size) scratch = { size, buffers: [0, 1, 2, 3].map(() => new Float64Array(size)) };
  return scratch.buffers;
}

/**
 * Unitary 2-D DFT (or its inverse) of `b` images `[h, w, c]` stored in `src` (c = 1: real,
 * c = 2: interleaved re/im), both sides powers of two. Returns `[b, h, w, out]` interleaved:
 * `out` 2 the complex result, 1 its real part only.
 *
 * `Z[u, v] = (1/√(hw)) Σ_{j,k} z[j, k] e^{∓2πi(uj/h + vk/w)}` (− forward, + inverse).
 */
export function fft2dValues(src: Float32Array, b: number, h: number, w: number, c: 1 | 2, inverse: boolean, out: 1 | 2 = 2): Float32Array {
  const rowPlan = planOf(w);
  const colPlan = planOf(h);
  const sign = inverse ? 1 : -1;
  const scale = 1 / Math.sqrt(h * w);
  const size = h * w;
  const [aRe, aIm, bRe, bIm] = buffers(size);
  const result = new Float32Array(b * size * out);
  const revW = rowPlan.rev;
  const revH = colPlan.rev;
  for (let img = 0; img < b; img++) {
    const off = img * size * c;
    // rows: load in bit-reversed order along the width
    for (let j = 0; j < h; j++) {
      const row = j * w;
      if (c === 2) {
        for (let k = 0; k < w; k++) {
          const s = off + (row + k) * 2;
          const d = row + revW[k];
          aRe[d] = src[s];
          aIm[d] = src[s + 1];
        }
      } else {
        for (let k = 0; k < w; k++) {
          const d = row + revW[k];
          aRe[d] = src[off + row + k];
          aIm[d] = 0;
        }
      }
    }
    butterflies(aRe, aIm, h, w, rowPlan, sign);
    // columns: transpose into b (column k becomes row k), bit-reversed along the height
    // in tiles of TILE × TILE, so that both sides stay in cache
    for (let j0 = 0; j0 < h; j0 += TILE) {
      for (let k0 = 0; k0 < w; k0 += TILE) {
        for (let j = j0; j < Math.min(h, j0 + TILE); j++) {
          const rj = revH[j];
          const row = j * w;
          for (let k = k0; k < Math.min(w, k0 + TILE); k++) {
            const d = k * h + rj;
            bRe[d] = aRe[row + k];
            bIm[d] = aIm[row + k];
          }
        }
      }
    }
    butterflies(bRe, bIm, w, h, colPlan, sign);
    const o = img * size * out;
    for (let j0 = 0; j0 < h; j0 += TILE) {
      for (let k0 = 0; k0 < w; k0 += TILE) {
        for (let j = j0; j < Math.min(h, j0 + TILE); j++) {
          if (out === 2) {
            for (let k = k0; k < Math.min(w, k0 + TILE); k++) {
              const s = k * h + j;
              const d = o + (j * w + k) * 2;
              result[d] = bRe[s] * scale;
              result[d + 1] = bIm[s] * scale;
            }
          } else {
            for (let k = k0; k < Math.min(w, k0 + TILE); k++) result[o + j * w + k] = bRe[k * h + j] * scale;
          }
        }
      }
    }
  }
  return result;
}

/**
 * Symmetric (mirror) padding of `[N, H, W, C]` images and its adjoint, each as ONE kernel on the
 * wasm backend: a JS loop over Float32Array views of the backend's heap, registered as
 * `BilevelSymmetricPad` / `BilevelSymmetricPadAdjoint`, each the other's registered gradient (both
 * are linear, so the pair differentiates to any order: the autodiff fallbacks take HVPs by double
 * backprop through the padding).
 *
 * Why: the op form (params.ts `symmetricPad`, filter-derivatives.ts `symmetricPadAdjoint`) is 2
 * Slice + 2 Reverse + 1 Concat per axis for the padding and 3 Slice + 2 Reverse + 2 Pad + 1 AddN per
 * axis for the adjoint: ~10 and ~16 kernels, each 10–30 µs of tfjs-wasm dispatch and a fresh
 * tensor, around every Field-of-Experts gradient, HVP and mixed product with symmetric padding
 * (bench:pool's FoE task: ~19,000 of its 34,101 kernels per pooled call).
 *
 * Values: the padding copies (bit for bit the op form's). The adjoint computes the op form's sums
 * in its order: per axis (W first, then H, the reverse of the padding's order) the wasm AddN of
 * `[centre, mirrored before-border zero-padded, mirrored after-border zero-padded]`, i.e.
 * `((0 + centre) + before) + after` in float32 (AddN starts from 0), a term present whenever its
 * border is; so it is the op form's bit for bit (tested, incl. −0).
 *
 * On other backends, other dtypes or ranks, and while {@link useSymmetricPadKernels}(false), the
 * callers run the op form, which the tests compare these kernels with.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';

/** The kernel names. */
export const SYMMETRIC_PAD_KERNELS = {
  pad: 'BilevelSymmetricPad',
  adjoint: 'BilevelSymmetricPadAdjoint',
} as const;

type Info = tf.TensorInfo;
interface WasmLike { makeOutput(shape: number[], dtype: 'float32'): Info; typedArrayFromHeap(info: Info): Float32Array }
interface PadAttrs { before: number; after: number }
type KernelArgs = { inputs: { x: Info }; backend: unknown; attrs: Record<string, unknown> };

/**
 * `out[n, i, j, c] = x[n, m_H(i), m_W(j), c]` with the mirror `m(i) = b − 1 − i` (i < b),
 * `i − b` (inside), `2S + b − 1 − i` (after), S the side: numpy's 'symmetric' (edge repeated).
 */
function padLoop(x: Float32Array, out: Float32Array, shape: number[], b: number, a: number): void {
  const [n, h, w, c] = shape;
  const hp = h + b + a;
  const wp = w + b + a;
  const rowIn = w * c;
  let o = 0;
  for (let k = 0; k < n; k++) {
    const image = k * h * rowIn;
    for (let i = 0; i < hp; i++) {
      const r = image + (i < b ? b - 1 - i : i < b + h ? i - b : 2 * h + b - 1 - i) * rowIn;
      for (let j = 0; j < b; j++) {
        const s = r + (b - 1 - j) * c;
        for (let q = 0; q < c; q++) out[o++] = x[s + q];
      }
      for (let t = 0; t < rowIn; t++) out[o++] = x[r + t];
      for (let j = b + w; j < wp; j++) {
        const s = r + (2 * w + b - 1 - j) * c;
        for (let q = 0; q < c; q++) out[o++] = x[s + q];
      }
    }
  }
}

/**
 * The W-fold of row `r` of g (padded width `wp`) at column j of the unpadded width w, channel
 * offset q: the op form's AddN `((0 + g[b + j]) + [j < b] g[b − 1 − j]) + [j ≥ w − a] g[b + 2w − 1 − j]`,
 * each bracket present (as +0 where out of range) when its border is.
 */
function foldW(g: Float32Array, r: number, j: number, q: number, c: number, w: number, b: number, a: number): number {
  const fround = Math.fround;
  let s = fround(0 + g[r + (b + j) * c + q]);
  if (b > 0) s = fround(s + (j < b ? g[r + (b - 1 - j) * c + q] : 0));
  if (a > 0) s = fround(s + (j >= w - a ? g[r + (b + 2 * w - 1 - j) * c + q] : 0));
  return s;
}

/**
 * The adjoint: g `[N, H + b + a, W + b + a, C]` folded along W, then along H, each as the op form's
 * AddN of three terms (see the file comment); each padded row feeds exactly one output row, so the
 * W-fold is computed where the H-fold reads it, without an intermediate buffer.
 */
function adjointLoop(g: Float32Array, out: Float32Array, shape: number[], b: number, a: number): void {
  const [n, h, w, c] = shape;
  const hp = h + b + a;
  const rowIn = (w + b + a) * c;
  const fround = Math.fround;
  // the columns [lo, hi) of an interior row add only +0 terms: g + 0 (−0 becomes +0 as in AddN)
  const lo = Math.min(b, w);
  const hi = Math.max(lo, w - a);
  let o = 0;
  const sums = (centre: number, above: number, below: number, from: number, to: number) => {
    for (let j = from; j < to; j++) {
      for (let q = 0; q < c; q++) {
        let s = fround(0 + foldW(g, centre, j, q, c, w, b, a));
        if (b > 0) s = fround(s + (above >= 0 ? foldW(g, above, j, q, c, w, b, a) : 0));
        if (a > 0) s = fround(s + (below >= 0 ? foldW(g, below, j, q, c, w, b, a) : 0));
        out[o++] = s;
      }
    }
  };
  for (let k = 0; k < n; k++) {
    const image = k * hp * rowIn;
    for (let i = 0; i < h; i++) {
      const centre = image + (b + i) * rowIn;
      const above = i < b ? image + (b - 1 - i) * rowIn : -1;
      const below = i >= h - a ? image + (b + 2 * h - 1 - i) * rowIn : -1;
      if (above >= 0 || below >= 0) {
        sums(centre, above, below, 0, w);
        continue;
      }
      sums(centre, -1, -1, 0, lo);
      for (let t = centre + (b + lo) * c, end = centre + (b + hi) * c; t < end; t++) out[o++] = g[t] + 0;
      sums(centre, -1, -1, hi, w);
    }
  }
}

function padAttrs(attrs: Record<string, unknown>): PadAttrs {
  return { before: attrs.before as number, after: attrs.after as number };
}

const kernelFuncs = {
  [SYMMETRIC_PAD_KERNELS.pad]: ({ inputs: { x }, backend, attrs }: KernelArgs) => {
    const { before: b, after: a } = padAttrs(attrs);
    const [n, h, w, c] = x.shape;
    const wasm = backend as WasmLike;
    const out = wasm.makeOutput([n, h + b + a, w + b + a, c], 'float32');
    // views after makeOutput: an allocation may grow (and so detach) the heap
    padLoop(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(out), x.shape, b, a);
    return out;
  },
  [SYMMETRIC_PAD_KERNELS.adjoint]: ({ inputs: { x }, backend, attrs }: KernelArgs) => {
    const { before: b, after: a } = padAttrs(attrs);
    const [n, hp, wp, c] = x.shape;
    const shape = [n, hp - b - a, wp - b - a, c];
    const wasm = backend as WasmLike;
    const out = wasm.makeOutput(shape, 'float32');
    adjointLoop(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(out), shape, b, a);
    return out;
  },
};

let registered = false;
function register(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of Object.entries(kernelFuncs)) {
    if (tf.getKernel(kernelName, 'wasm') == null) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
  }
  // each linear map's gradient is the other: dy ↦ Pᵀ dy and dy ↦ P dy, with the same attrs
  const other = { [SYMMETRIC_PAD_KERNELS.pad]: SYMMETRIC_PAD_KERNELS.adjoint, [SYMMETRIC_PAD_KERNELS.adjoint]: SYMMETRIC_PAD_KERNELS.pad };
  for (const kernelName of Object.values(SYMMETRIC_PAD_KERNELS)) {
    if (tf.getGradient(kernelName) != null) continue;
    tf.registerGradient({
      kernelName,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: Record<string, unknown>) => ({
        x: () => tf.engine().runKernel(other[kernelName], { x: dy as tf.Tensor }, padAttrs(attrs) as never) as tf.Tensor,
      }),
    } as never);
  }
}

const state = { enabled: true };

/**
 * Switches the padding kernels on or off (default on); off, symmetricPad and symmetricPadAdjoint
 * run their op form everywhere. For tests and measurements.
 *
 * @param on - whether to use the kernels where they apply.
 */
export function useSymmetricPadKernels(on: boolean): void {
  state.enabled = on;
}

function applies(x: tf.Tensor): boolean {
  return state.enabled && x.rank === 4 && x.dtype === 'float32' && tf.getBackend() === 'wasm';
}

/**
 * The symmetric padding of x by one kernel, or null where the kernel does not apply (the caller
 * runs its op form). The caller has checked that the padding fits the image.
 *
 * @param x - `[N, H, W, C]`.
 * @param before - rows / columns mirrored in above and left.
 * @param after - rows / columns mirrored in below and right.
 * @returns `[N, H + before + after, W + before + after, C]` or null.
 */
export function symmetricPadKernel(x: tf.Tensor, before: number, after: number): tf.Tensor | null {
  if (!applies(x)) return null;
  register();
  return tf.engine().runKernel(SYMMETRIC_PAD_KERNELS.pad, { x }, { before, after } as never) as tf.Tensor;
}

/**
 * The adjoint of {@link symmetricPadKernel} by one kernel, or null where it does not apply.
 *
 * @param g - `[N, H + before + after, W + before + after, C]`.
 * @returns `[N, H, W, C]` or null.
 */
export function symmetricPadAdjointKernel(g: tf.Tensor, before: number, after: number): tf.Tensor | null {
  // a border wider than the image it mirrors: the op form's error
  const fits = g.rank === 4 && [1, 2].every((axis) => g.shape[axis]! - before - after >= Math.max(before, after));
  if (!fits || !applies(g)) return null;
  register();
  return tf.engine().runKernel(SYMMETRIC_PAD_KERNELS.adjoint, { x: g }, { before, after } as never) as tf.Tensor;
}

/**
 * Fused TV derivative kernels: the gradient, the Hessian's per-pixel blocks, the Hessian
 * applied to a direction and the mixed product of (smoothed or Huber) TV each as ONE tfjs
 * kernel, registered for the wasm and cpu backends, whose body is a JS loop over the
 * tensors' own arrays (on wasm, Float32Array views of the heap; on cpu, the stored arrays):
 * the loops are in tv-loops.ts; on wasm the gradient and the Hessian product, the two that
 * run in the solvers' loops, are WebAssembly SIMD on the backend's heap (tv-simd.ts).
 *
 * Why: the op form of tv-derivatives.ts is ~13 small tfjs kernels per gradient and ~8 per
 * Hessian-vector product; at 4 crops of 64×64 each kernel costs 15–30 µs of dispatch on
 * tfjs-wasm, more than its arithmetic, and one identical-work hypergradient (100 GD steps +
 * 30 CG steps + mixed) issued ~2,500 of them. One pass over the pixels in JS measured
 * 30–60 µs for the whole gradient.
 *
 * The kernels have no registered gradients: {@link fusedTVAvailable} is false while a tape
 * records (inside tf.grad and friends, e.g. the unrolled strategy differentiating through
 * the inner iterations), and on other backends, and then tv-derivatives.ts uses its
 * differentiable op form, which stays the oracle the tests compare the kernels with.
 *
 * @packageDocumentation
 */
import { tf } from '@bilevel/core';
import { tvGradientLoop, tvHessianLoop, tvHessianApplyLoop, tvMixedLoop, dataTermLoop, type TVLoopConstants } from './tv-loops.js';
import { simdOf } from './tv-simd.js';

/** The kernel names (one registry entry per backend). */
export const TV_KERNELS = {
  gradient: 'BilevelTVGradient',
  hessian: 'BilevelTVHessian',
  apply: 'BilevelTVHessianApply',
  mixed: 'BilevelTVMixed',
} as const;

const BACKENDS = ['wasm', 'cpu'] as const;
type Info = tf.TensorInfo;

/** Reading inputs and allocating outputs on one backend. */
interface Io {
  /** New float32 outputs and writable views of them. */
  outputs(shapes: number[][]): { infos: Info[]; views: Float32Array[] };
  /** A float32 view of an input (on wasm: valid until the next allocation, so read after `outputs`). */
  read(info: Info): Float32Array;
}

interface WasmLike { makeOutput(shape: number[], dtype: 'float32'): Info; typedArrayFromHeap(info: Info): Float32Array }
interface CpuLike { makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): Info; readSync(dataId: tf.DataId): unknown }

function ioOf(backendName: (typeof BACKENDS)[number], backend: unknown): Io {
  if (backendName === 'wasm') {
    const b = backend as WasmLike;
    return {
      outputs(shapes) {
        const infos = shapes.map((s) => b.makeOutput(s, 'float32'));
        return { infos, views: infos.map((i) => b.typedArrayFromHeap(i)) };
      },
      read: (info) => b.typedArrayFromHeap({ ...info, dtype: 'float32' }),
    };
  }
  const b = backend as CpuLike;
  return {
    outputs(shapes) {
      const views = shapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
      return { infos: shapes.map((s, i) => b.makeTensorInfo(s, 'float32', views[i])), views };
    },
    read: (info) => b.readSync(info.dataId) as Float32Array,
  };
}

/** Attributes every TV kernel takes: the kind, the fixed ν, whether ν comes from `logNu`. */
interface TVAttrs { huber: boolean; nu: number; learnNu: boolean }

function constants(io: Io, x: Info, inputs: Record<string, Info>, attrs: TVAttrs): TVLoopConstants {
  const [b, h, w] = x.shape;
  const alpha = Math.exp(io.read(inputs.logAlpha)[0]);
  const nu = attrs.learnNu ? Math.exp(io.read(inputs.logNu)[0]) : attrs.nu;
  return { b, h, w, alpha, nu, huber: attrs.huber };
}

type KernelArgs = { inputs: Record<string, Info>; backend: unknown; attrs: Record<string, unknown> };

function kernels(name: (typeof BACKENDS)[number]): Record<string, (args: KernelArgs) => Info | Info[]> {
  return {
    [TV_KERNELS.gradient]: ({ inputs, backend, attrs }) => {
      const io = ioOf(name, backend);
      // mode 'gradient': [∇R]; 'both': [∇R, R]; 'value': [R]. With input y (denoising, attr xi):
      // R + ½‖x − y‖² + (ξ/2)‖x‖² and its gradient instead.
      const mode = attrs.mode as 'gradient' | 'both' | 'value';
      const xi = (attrs.xi as number | undefined) ?? 0;
      const y = inputs.y as Info | undefined;
      const shapes = mode === 'gradient' ? [inputs.x.shape] : mode === 'both' ? [inputs.x.shape, []] : [[]];
      const k = constants(io, inputs.x, inputs, attrs as unknown as TVAttrs);
      // SIMD on wasm; the Huber value (Σ m − ν per pixel, a cancellation float32 would not survive) stays in the float64 loop
      const simd = name === 'wasm' && (mode === 'gradient' || !k.huber) ? simdOf(backend) : null;
      if (simd != null) {
        const { infos } = io.outputs(shapes);
        const x = simd.offset(inputs.x.dataId);
        const out = mode === 'value' ? null : simd.offset(infos[0].dataId);
        const n = k.b * k.h * k.w;
        // smoothed: s = √(|g|² + ν²); Huber: s = √max(|g|², ν²)
        const [sumS] = simd.gradient(x, out, k.b, k.h, k.w, k.alpha, k.huber ? 0 : k.nu * k.nu, k.huber ? k.nu * k.nu : 0, mode !== 'gradient');
        if (mode === 'gradient') {
          if (y != null) simd.shift(out!, x, simd.offset(y.dataId), n, 1 + xi);
          return infos[0];
        }
        let value = k.alpha * sumS;
        if (y != null) value += simd.shiftAndSum(out, x, simd.offset(y.dataId), n, 1 + xi, xi) / 2;
        // a fresh view: the scratch allocation may have grown the heap
        io.read(infos[infos.length - 1])[0] = value;
        return infos.length === 1 ? infos[0] : infos;
      }
      const { infos, views } = io.outputs(shapes);
      const x = io.read(inputs.x);
      const out = mode === 'value' ? null : views[0];
      let value = tvGradientLoop(x, out, k, mode !== 'gradient');
      if (y != null) value += dataTermLoop(out, x, io.read(y), xi);
      if (mode !== 'gradient') views[views.length - 1][0] = value;
      return infos.length === 1 ? infos[0] : infos;
    },
    [TV_KERNELS.hessian]: ({ inputs, backend, attrs }) => {
      const io = ioOf(name, backend);
      const [b, h, w] = inputs.x.shape;
      const { infos, views } = io.outputs([[3, b, h, w, 1]]);
      tvHessianLoop(io.read(inputs.x), views[0], constants(io, inputs.x, inputs, attrs as unknown as TVAttrs));
      return infos[0];
    },
    [TV_KERNELS.apply]: ({ inputs, backend, attrs }) => {
      const io = ioOf(name, backend);
      const [b, h, w] = inputs.v.shape;
      // attr shift s: ∇²R v + s v (s = 1 + ξ for a denoising energy; 0: ∇²R v alone)
      const shift = (attrs.shift as number | undefined) ?? 0;
      const simd = name === 'wasm' ? simdOf(backend) : null;
      if (simd != null) {
        const [out] = io.outputs([inputs.v.shape]).infos;
        const [v, o] = [simd.offset(inputs.v.dataId), simd.offset(out.dataId)];
        simd.apply(v, simd.offset(inputs.cache.dataId), o, b, h, w);
        if (shift !== 0) simd.shift(o, v, null, b * h * w, shift);
        return out;
      }
      const { infos, views } = io.outputs([inputs.v.shape]);
      const v = io.read(inputs.v);
      tvHessianApplyLoop(v, io.read(inputs.cache), views[0], { b, h, w, alpha: 0, nu: 0, huber: false });
      if (shift !== 0) dataTermLoop(views[0], v, null, shift - 1);
      return infos[0];
    },
    [TV_KERNELS.mixed]: ({ inputs, backend, attrs }) => {
      const io = ioOf(name, backend);
      const a = attrs as unknown as TVAttrs;
      const { infos, views } = io.outputs(a.learnNu ? [inputs.logAlpha.shape, inputs.logNu.shape] : [inputs.logAlpha.shape]);
      const [dAlpha, dNu] = tvMixedLoop(io.read(inputs.x), io.read(inputs.v), constants(io, inputs.x, inputs, a));
      views[0].fill(dAlpha);
      if (a.learnNu) views[1].fill(dNu);
      return a.learnNu ? infos : infos[0];
    },
  };
}

let registered = false;
function register(): void {
  if (registered) return;
  registered = true;
  for (const backendName of BACKENDS) {
    for (const [kernelName, kernelFunc] of Object.entries(kernels(backendName))) {
      if (tf.getKernel(kernelName, backendName) == null) tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as any });
    }
  }
}

/** Whether the fused kernels may be used at all (tests switch them off to run the op form). */
const state = { enabled: true };

/**
 * Switches the fused kernels on or off (default on); off, every TV derivative runs the op
 * form. For tests and measurements.
 *
 * @param on - whether to use the fused kernels where they apply.
 */
export function useFusedTV(on: boolean): void {
  state.enabled = on;
}

/**
 * Whether the fused kernels run for this x now: enabled, no tape recording, the wasm or cpu
 * backend, and a float32 `[b, h, w, 1]` image with h, w ≥ 1.
 *
 * @param x - the image.
 * @returns true when the tv-derivatives.ts methods should call the kernels below.
 */
export function fusedTVAvailable(x: tf.Tensor): boolean {
  if (!state.enabled || x.rank !== 4 || x.shape[3] !== 1 || x.dtype !== 'float32') return false;
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return false;
  return !(tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/** The parameters a kernel reads: `logAlpha`, and `logNu` when ν is learnt. */
export interface TVKernelParams {
  logAlpha: tf.Tensor;
  logNu?: tf.Tensor;
}

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
  register();
  return tf.engine().runKernel(name, inputs as any, attrs as any) as tf.Tensor | tf.Tensor[];
}

const inputsOf = (x: tf.Tensor, p: TVKernelParams): Record<string, tf.Tensor> => (p.logNu != null ? { x, logAlpha: p.logAlpha, logNu: p.logNu } : { x, logAlpha: p.logAlpha });
const attrsOf = (huber: boolean, nu: number, p: TVKernelParams) => ({ huber, nu, learnNu: p.logNu != null });

/**
 * The data term a kernel may fold in: a denoising energy `½‖x − y‖² + (ξ/2)‖x‖² + R(x)`
 * (identity forward operator), whose gradient is `(1 + ξ) x − y + ∇R` and Hessian `(1 + ξ) I + ∇²R`.
 */
export interface TVDataTerm {
  y: tf.Tensor;
  xi: number;
}

const withData = (inputs: Record<string, tf.Tensor>, data: TVDataTerm | undefined) => (data != null ? { ...inputs, y: data.y } : inputs);

/** `∇R(x)` (plus the data term's gradient when `data` is given) by one kernel. */
export function fusedTVGradient(x: tf.Tensor, p: TVKernelParams, huber: boolean, nu: number, data?: TVDataTerm): tf.Tensor {
  return run(TV_KERNELS.gradient, withData(inputsOf(x, p), data), { ...attrsOf(huber, nu, p), mode: 'gradient', xi: data?.xi ?? 0 }) as tf.Tensor;
}

/** `R(x)` by one kernel. */
export function fusedTVValue(x: tf.Tensor, p: TVKernelParams, huber: boolean, nu: number): tf.Scalar {
  return run(TV_KERNELS.gradient, inputsOf(x, p), { ...attrsOf(huber, nu, p), mode: 'value' }) as tf.Scalar;
}

/** `{ value: R(x), grad: ∇R(x) }` (each with the data term when `data` is given) by one kernel. */
export function fusedTVValueAndGradient(x: tf.Tensor, p: TVKernelParams, huber: boolean, nu: number, data?: TVDataTerm): { value: tf.Scalar; grad: tf.Tensor } {
  const [grad, value] = run(TV_KERNELS.gradient, withData(inputsOf(x, p), data), { ...attrsOf(huber, nu, p), mode: 'both', xi: data?.xi ?? 0 }) as tf.Tensor[];
  return { value: value as tf.Scalar, grad };
}

/** The per-pixel Hessian blocks `[3, b, h, w, 1]` of R at x (see tv-loops.ts). */
export function fusedTVHessian(x: tf.Tensor, p: TVKernelParams, huber: boolean, nu: number): tf.Tensor {
  return run(TV_KERNELS.hessian, inputsOf(x, p), attrsOf(huber, nu, p)) as tf.Tensor;
}

/** `∇²R(x) v + shift·v` from the blocks of {@link fusedTVHessian} (shift = 1 + ξ with a denoising data term, else 0). */
export function fusedTVHessianApply(v: tf.Tensor, cache: tf.Tensor, shift = 0): tf.Tensor {
  return run(TV_KERNELS.apply, { v, cache }, { shift }) as tf.Tensor;
}

/** The mixed product: `[∂/∂log α]` or `[∂/∂log α, ∂/∂log ν]` of `⟨∇R(x), v⟩`, shaped like the parameters. */
export function fusedTVMixed(x: tf.Tensor, v: tf.Tensor, p: TVKernelParams, huber: boolean, nu: number): tf.Tensor[] {
  const out = run(TV_KERNELS.mixed, { ...inputsOf(x, p), v }, attrsOf(huber, nu, p));
  return Array.isArray(out) ? out : [out];
}

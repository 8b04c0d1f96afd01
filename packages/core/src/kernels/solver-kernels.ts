/**
 * Fused solver kernels: `x + a·p` (a gradient-descent step), CG's whole update (`x + αp`,
 * `r − αAp`, `‖r‖²`, `r + βp`), GMRES's modified Gram–Schmidt of `w` against `v₀ … v_j` and its
 * `x + Σ yᵢvᵢ`, each as ONE tfjs kernel, registered for the wasm backend
 * (WebAssembly SIMD on the heap, solver-simd.ts) and the cpu backend (a JS loop over the
 * stored arrays), with the step sizes as attributes, so no scalar tensor is made per step.
 *
 * Why: per gradient-descent step core issued `Mul` + `Sub` (and uploaded a scalar tensor) and
 * per CG iteration ten small kernels besides the matvec; at 4 × 64 × 64 each costs 9–27 µs of
 * tfjs-wasm dispatch, more than its arithmetic, and with TV's derivatives fused into single
 * kernels they were 4 of 5 kernels per step.
 *
 * The updates use the op form's float32 operations in its order (the product first, then the
 * sum; no fused multiply-add), so the tensors they make equal the op form's bit for bit; the
 * sums (`‖r‖²`) are float64. The kernels have no gradients: callers (internal/fused-ops.ts)
 * use them only while no tape records, on float32 tensors of equal shapes.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { solverSimdOf } from './solver-simd.js';

/** The kernel names (one registry entry per backend). */
export const SOLVER_KERNELS = { axpy: 'BilevelAxpy', cgStep: 'BilevelCGStep', gramSchmidt: 'BilevelGramSchmidt', combine: 'BilevelCombine' } as const;

type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: unknown; attrs: Record<string, unknown> };

/**
 * The float64 `‖r₊‖²` of the last {@link SOLVER_KERNELS}.cgStep run (a kernel returns tensors
 * only; kernels run synchronously, so this is read right after the call).
 */
export const cgStepSums = { rr: Number.NaN };

/** The float64 coefficients `hᵢ` of the last {@link SOLVER_KERNELS}.gramSchmidt run (read right after the call, as cgStepSums). */
export const gramSchmidtSums = { h: [] as number[] };

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A float64 sum as the solvers may see it: beyond the float32 range it is ±Infinity, as
 * tfjs's float32 Sum would be, so a diverging iteration is stopped as 'nan' at the same
 * iteration as with the op form (measured: 21 gradient-descent steps, not 41).
 */
export const asFloat32Range = (s: number) => (Math.abs(s) > FLOAT32_MAX ? s * Infinity : s);

/** The basis inputs `v0, v1, …` of the Gram–Schmidt and combination kernels, in order. */
const basisOf = (inputs: Record<string, Info>) => {
  const out: Info[] = [];
  for (let i = 0; inputs[`v${i}`] != null; i++) out.push(inputs[`v${i}`]);
  return out;
};

interface WasmLike { makeOutput(shape: number[], dtype: 'float32'): Info }
interface CpuLike { makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): Info; readSync(dataId: tf.DataId): unknown }

function wasmKernels(): Record<string, (args: KernelArgs) => Info | Info[]> {
  const simdOf = (backend: unknown) => {
    const simd = solverSimdOf(backend);
    if (simd == null) throw new Error('bilevel solver kernels (wasm): WebAssembly SIMD is not available; internal/fused-ops.ts should have used the op form');
    return simd;
  };
  const at = (simd: NonNullable<ReturnType<typeof solverSimdOf>>, info: Info) => {
    const offset = simd.offset(info.dataId);
    if (offset === undefined) throw new Error('bilevel solver kernels (wasm): an input has no data on the wasm backend');
    return offset;
  };
  return {
    [SOLVER_KERNELS.axpy]: ({ inputs, backend, attrs }) => {
      const simd = simdOf(backend);
      const out = (backend as WasmLike).makeOutput(inputs.x.shape, 'float32');
      simd.axpy(at(simd, out), at(simd, inputs.x), at(simd, inputs.p), tf.util.sizeFromShape(inputs.x.shape), attrs.a as number);
      return out;
    },
    [SOLVER_KERNELS.cgStep]: ({ inputs, backend, attrs }) => {
      const simd = simdOf(backend);
      const { x, r, p, ap } = inputs;
      const n = tf.util.sizeFromShape(x.shape);
      const outs = [0, 1, 2].map(() => (backend as WasmLike).makeOutput(x.shape, 'float32'));
      const [xo, ro, po] = outs.map((o) => at(simd, o));
      const pAt = at(simd, p);
      const rr = simd.cgStep(xo, at(simd, x), pAt, ro, at(simd, r), at(simd, ap), n, attrs.alpha as number);
      simd.axpy(po, ro, pAt, n, rr / (attrs.rr as number));
      cgStepSums.rr = rr;
      return outs;
    },
    // Modified Gram–Schmidt of w against v0 … vj, in place on one output: hᵢ = ⟨w, vᵢ⟩ (float64),
    // w ← w + (−hᵢ)·vᵢ, the same loops in the same order as a dot and a BilevelAxpy per i.
    [SOLVER_KERNELS.gramSchmidt]: ({ inputs, backend }) => {
      const simd = simdOf(backend);
      const n = tf.util.sizeFromShape(inputs.w.shape);
      const out = (backend as WasmLike).makeOutput(inputs.w.shape, 'float32');
      const o = at(simd, out);
      let src = at(simd, inputs.w);
      gramSchmidtSums.h = basisOf(inputs).map((v) => {
        const vAt = at(simd, v);
        const h = asFloat32Range(simd.dot(src, vAt, n));
        simd.axpy(o, src, vAt, n, -h);
        src = o;
        return h;
      });
      return out;
    },
    // x + Σᵢ aᵢvᵢ, in place on one output, as a BilevelAxpy per i in order.
    [SOLVER_KERNELS.combine]: ({ inputs, backend, attrs }) => {
      const simd = simdOf(backend);
      const n = tf.util.sizeFromShape(inputs.x.shape);
      const out = (backend as WasmLike).makeOutput(inputs.x.shape, 'float32');
      const o = at(simd, out);
      let src = at(simd, inputs.x);
      basisOf(inputs).forEach((v, i) => {
        simd.axpy(o, src, at(simd, v), n, (attrs.a as number[])[i]);
        src = o;
      });
      return out;
    },
  };
}

function cpuKernels(): Record<string, (args: KernelArgs) => Info | Info[]> {
  const read = (backend: unknown, info: Info) => (backend as CpuLike).readSync(info.dataId) as Float32Array;
  const make = (backend: unknown, shape: number[], values: Float32Array) => (backend as CpuLike).makeTensorInfo(shape, 'float32', values);
  return {
    [SOLVER_KERNELS.axpy]: ({ inputs, backend, attrs }) => {
      const [x, p] = [read(backend, inputs.x), read(backend, inputs.p)];
      const a = Math.fround(attrs.a as number);
      const out = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = x[i] + Math.fround(a * p[i]);
      return make(backend, inputs.x.shape, out);
    },
    [SOLVER_KERNELS.cgStep]: ({ inputs, backend, attrs }) => {
      const [x, r, p, ap] = [inputs.x, inputs.r, inputs.p, inputs.ap].map((i) => read(backend, i));
      const alpha = Math.fround(attrs.alpha as number);
      const n = x.length;
      const [xo, ro, po] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      let rr = 0;
      for (let i = 0; i < n; i++) {
        xo[i] = x[i] + Math.fround(p[i] * alpha);
        const v = Math.fround(r[i] - Math.fround(ap[i] * alpha));
        ro[i] = v;
        rr += v * v;
      }
      const beta = Math.fround(rr / (attrs.rr as number));
      for (let i = 0; i < n; i++) po[i] = ro[i] + Math.fround(beta * p[i]);
      cgStepSums.rr = rr;
      return [xo, ro, po].map((v) => make(backend, inputs.x.shape, v));
    },
    [SOLVER_KERNELS.gramSchmidt]: ({ inputs, backend }) => {
      const out = Float32Array.from(read(backend, inputs.w));
      gramSchmidtSums.h = basisOf(inputs).map((info) => {
        const v = read(backend, info);
        let s = 0;
        for (let i = 0; i < out.length; i++) s += out[i] * v[i];
        const h = asFloat32Range(s);
        const a = Math.fround(-h);
        for (let i = 0; i < out.length; i++) out[i] = out[i] + Math.fround(a * v[i]);
        return h;
      });
      return make(backend, inputs.w.shape, out);
    },
    [SOLVER_KERNELS.combine]: ({ inputs, backend, attrs }) => {
      const out = Float32Array.from(read(backend, inputs.x));
      basisOf(inputs).forEach((info, k) => {
        const v = read(backend, info);
        const a = Math.fround((attrs.a as number[])[k]);
        for (let i = 0; i < out.length; i++) out[i] = out[i] + Math.fround(a * v[i]);
      });
      return make(backend, inputs.x.shape, out);
    },
  };
}

let registered = false;

/** Registers the kernels on wasm and cpu (once; lazily, at the first fused call). */
export function registerSolverKernels(): void {
  if (registered) return;
  registered = true;
  for (const [backendName, kernels] of [['wasm', wasmKernels()], ['cpu', cpuKernels()]] as const) {
    for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
      if (tf.getKernel(kernelName, backendName) == null) tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as any });
    }
  }
}

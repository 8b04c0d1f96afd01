/**
 * The vector operations of the solvers' loops, fused where the backend allows (internal):
 * `x + a·p`, CG's update, GMRES's Gram–Schmidt step and its `x + Vy` as one kernel each
 * (kernels/solver-kernels.ts), and the reductions `⟨a, b⟩`, `‖a‖²`, `‖a‖` and the finiteness
 * checks read straight off the backend's memory in float64 (no kernel, no scalar tensor, no
 * download). Each falls back to the op form, which stays the oracle of the tests: on other
 * backends (tensorflow, webgl, webgpu), on wasm without SIMD, while a tape records (the
 * kernels have no gradients), and for non-float32 or differently shaped operands.
 *
 * Measured (scripts/solver-overhead.ts, figures in core's README): one TV hypergradient of
 * bench:peer 926 → 350 tfjs kernels and about 40% less CPU time; one CG iteration 11 → 2
 * kernels (the matvec and the fused update), 80–86 → 31–50 µs on TV's Hessian at 4 × 64²;
 * with the checks off the heap that hypergradient 350 → 301; one 30-iteration GMRES solve
 * 3,047 → 96 kernels (scripts/gmres-overhead.ts).
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import { readScalars } from './solver-utils.js';
import { SOLVER_KERNELS, asFloat32Range, cgStepSums, gramSchmidtSums, registerSolverKernels } from '../kernels/solver-kernels.js';
import { solverSimdOf } from '../kernels/solver-simd.js';

/** Whether the fused forms may be used at all (tests switch them off to run the op form). */
const state = { enabled: true };

/**
 * Switches the fused solver operations on or off (default on); off, every solver runs the
 * op form. For tests and measurements.
 *
 * @param on - whether to use the fused forms where they apply.
 * @returns the previous setting.
 */
export function useFusedSolverOps(on: boolean): boolean {
  const was = state.enabled;
  state.enabled = on;
  return was;
}

/** Whether the fused forms are switched on ({@link useFusedSolverOps}; other fused loops read it too). */
export const fusedSolverOpsOn = (): boolean => state.enabled;

const tapeOn = () => (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();

/** `'wasm'` (with SIMD), `'cpu'`, or null where only the op form runs. */
function fusedBackend(): 'wasm' | 'cpu' | null {
  if (!state.enabled) return null;
  const name = tf.getBackend();
  if (name === 'cpu') return 'cpu';
  if (name === 'wasm' && solverSimdOf(tf.backend()) != null) return 'wasm';
  return null;
}

const float32Alike = (ts: tf.Tensor[]) => ts.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, ts[0].shape));

/** Whether the fused kernels apply to these operands now. */
function kernelsApply(ts: tf.Tensor[]): boolean {
  return fusedBackend() != null && float32Alike(ts) && !tapeOn();
}

/** `x + a·p` (p shaped like x): one kernel, a as an attribute (no scalar tensor). */
export function axpy(x: tf.Tensor, a: number, p: tf.Tensor): tf.Tensor {
  if (!kernelsApply([x, p])) return tf.tidy(() => tf.add(x, tf.mul(p, a)));
  registerSolverKernels();
  return tf.engine().runKernel(SOLVER_KERNELS.axpy, { x, p }, { a }) as tf.Tensor;
}

interface CpuData { data: { get(dataId: object): { values?: unknown } | undefined } }


/** Σ a·b in float64 from the backend's memory, or null when it cannot be read there. */
function heapDot(a: tf.Tensor, b: tf.Tensor): number | null {
  const s = heapDotRaw(a, b);
  return s == null ? null : asFloat32Range(s);
}

function heapDotRaw(a: tf.Tensor, b: tf.Tensor): number | null {
  const backend = fusedBackend();
  if (backend == null || !float32Alike([a, b])) return null;
  if (backend === 'wasm') {
    const simd = solverSimdOf(tf.backend())!;
    const [pa, pb] = [simd.offset(a.dataId), simd.offset(b.dataId)];
    return pa === undefined || pb === undefined ? null : simd.dot(pa, pb, a.size);
  }
  const data = (tf.backend() as unknown as CpuData).data;
  const [va, vb] = [data.get(a.dataId)?.values, data.get(b.dataId)?.values];
  if (!(va instanceof Float32Array) || !(vb instanceof Float32Array)) return null;
  let s = 0;
  for (let i = 0; i < va.length; i++) s += va[i] * vb[i];
  return s;
}

/** `⟨a, b⟩` over all entries, as a number (float64 sum where read off the heap). */
export function dotNumber(a: tf.Tensor, b: tf.Tensor): number {
  return heapDot(a, b) ?? readScalars(tf.tidy(() => tf.sum(tf.mul(a, b))))[0];
}

/**
 * `⟨a, b⟩` as the op form `Sum(Multiply(a, b))` computes it on the wasm backend (float32 products
 * summed in float32 in index order), read off the heap by a SIMD loop with no kernel; the op form
 * elsewhere. For solvers that keep float32 sums on purpose (L-BFGS's pairs): their bits must not
 * depend on whether the fused forms run.
 */
export function dotFloat32Number(a: tf.Tensor, b: tf.Tensor): number {
  if (fusedBackend() === 'wasm' && float32Alike([a, b])) {
    const simd = solverSimdOf(tf.backend())!;
    const [pa, pb] = [simd.offset(a.dataId), simd.offset(b.dataId)];
    if (pa !== undefined && pb !== undefined) return simd.dotFloat32(pa, pb, a.size);
  }
  return readScalars(tf.tidy(() => tf.sum(tf.mul(a, b))))[0];
}

/** `‖a‖²` read off the backend's memory in float64, or null where the op form must run. */
export function heapSquaredNorm(a: tf.Tensor): number | null {
  return heapDot(a, a);
}

/**
 * Whether every entry of `t` is finite, read off the backend's memory (no kernel, no download),
 * or null where it cannot be read there. Σt² in float64 is finite exactly when every float32
 * entry is: a square is at most 1.2e77, so even 2³¹ of them cannot overflow, while a NaN or
 * ±Inf entry makes the sum NaN or +Inf.
 */
export function heapAllFinite(t: tf.Tensor): boolean | null {
  if (t.size === 0) return true;
  const s = heapDotRaw(t, t);
  return s == null ? null : Number.isFinite(s);
}

/** `‖a‖` as a number (float64 sum where read off the heap; the op form's `tf.norm` elsewhere). */
export function normNumber(a: tf.Tensor): number {
  const s = heapDot(a, a);
  return s == null ? readScalars(tf.tidy(() => tf.norm(a)))[0] : Math.sqrt(s);
}

/** `‖a‖²` as a number (float64 sum where read off the heap). */
export function squaredNormNumber(a: tf.Tensor): number {
  return heapDot(a, a) ?? readScalars(tf.tidy(() => tf.sum(tf.square(a))))[0];
}

/** CG's state after one iteration. */
export interface CgUpdate {
  x: tf.Tensor;
  r: tf.Tensor;
  p: tf.Tensor;
  rr: number;
}

/**
 * One CG update after the matvec: `x₊ = x + αp`, `r₊ = r − α·Ap`, `r₊ᵀr₊`, `p₊ = r₊ + (r₊ᵀr₊ / rr)·p`
 * (one kernel where fused; the op form: eight kernels and two reductions).
 */
export function cgUpdate(x: tf.Tensor, r: tf.Tensor, p: tf.Tensor, ap: tf.Tensor, alpha: number, rr: number): CgUpdate {
  if (kernelsApply([x, r, p, ap])) {
    registerSolverKernels();
    cgStepSums.rr = Number.NaN;
    const [xo, ro, po] = tf.engine().runKernel(SOLVER_KERNELS.cgStep, { x, r, p, ap }, { alpha, rr }) as tf.Tensor[];
    return { x: xo, r: ro, p: po, rr: asFloat32Range(cgStepSums.rr) };
  }
  const rNew = tf.tidy(() => tf.sub(r, tf.mul(ap, alpha)));
  const rrNew = squaredNormNumber(rNew);
  return tf.tidy(() => ({ x: tf.add(x, tf.mul(p, alpha)), r: rNew, p: tf.add(rNew, tf.mul(p, rrNew / rr)), rr: rrNew }));
}

/** The basis as the kernels' inputs `{ v0, v1, … }` plus the named first operand. */
const withBasis = (name: string, t: tf.Tensor, basis: tf.Tensor[]) => Object.fromEntries([[name, t], ...basis.map((v, i) => [`v${i}`, v])]);

/**
 * Modified Gram–Schmidt of `w` against `basis` (GMRES's Arnoldi step): `hᵢ = ⟨w, vᵢ⟩` then
 * `w ← w − hᵢvᵢ` for i in order, with the hᵢ as float64 sums; one kernel where fused (before:
 * a BilevelAxpy per vector, with the same float32 operations in the same order, so the
 * result is the same bit for bit), else a {@link dotNumber} and an {@link axpy} per vector.
 * Returns the projected w (a new tensor) and the coefficients.
 */
export function gramSchmidt(w: tf.Tensor, basis: tf.Tensor[]): { w: tf.Tensor; h: number[] } {
  if (basis.length > 0 && kernelsApply([w, ...basis])) {
    registerSolverKernels();
    gramSchmidtSums.h = [];
    const out = tf.engine().runKernel(SOLVER_KERNELS.gramSchmidt, withBasis('w', w, basis), {}) as tf.Tensor;
    return { w: out, h: gramSchmidtSums.h };
  }
  const h: number[] = [];
  const out = tf.tidy(() => {
    let acc = w;
    for (const v of basis) {
      const hi = dotNumber(acc, v);
      h.push(hi);
      acc = axpy(acc, -hi, v);
    }
    return acc === w ? tf.clone(w) : acc;
  });
  return { w: out, h };
}

/** `x + Σᵢ aᵢvᵢ` in order (GMRES's `x + Vy`): one kernel where fused, else an {@link axpy} per vector. */
export function combine(x: tf.Tensor, a: number[], basis: tf.Tensor[]): tf.Tensor {
  if (basis.length > 0 && kernelsApply([x, ...basis])) {
    registerSolverKernels();
    return tf.engine().runKernel(SOLVER_KERNELS.combine, withBasis('x', x, basis), { a }) as tf.Tensor;
  }
  return tf.tidy(() => {
    const acc = basis.reduce((sum: tf.Tensor, v, i) => axpy(sum, a[i], v), x);
    return acc === x ? tf.clone(x) : acc;
  });
}

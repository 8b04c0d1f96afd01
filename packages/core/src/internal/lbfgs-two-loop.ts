/*
 * L-BFGS's two-loop recursion (Nocedal & Wright, Numerical Optimization, 2nd ed. 2006,
 * Algorithm 7.4) on the wasm backend's heap, its dots and axpys by the solver's SIMD loops
 * (kernels/solver-simd.wat `dotFloat32`, `axpy`; JS loops where SIMD is missing), with exactly
 * the float32 arithmetic of the op form in lbfgs.ts (internal). 64², 10 pairs: 358 → 78 µs CPU
 * per direction against the JS loops (pinned, median of 9 blocks, load 8).
 *
 * The op form issues ~10 tfjs kernels per stored pair (two dots as Multiply + Sum, two scalar
 * products, an axpy as Multiply + Sub/Add): with 10 pairs ~100 kernels per L-BFGS iteration,
 * which was 40 % of bench:pool's 64,000 kernels per call and much of its JS-heap allocation
 * (each kernel makes a Tensor, engine bookkeeping and scope entries). Here it is one output
 * buffer filled in place.
 *
 * Bit for bit the op form: every elementwise op of the op form is one IEEE float32 operation
 * (Multiply, Sub, Add, Neg: XNNPACK or the backend's C++ loops, no fused multiply-add in
 * WebAssembly), and the wasm backend's Sum over all axes adds in index order in float32. Here
 * each product, difference and partial sum is computed in float64 and rounded to float32
 * (`Math.fround` or a Float32Array store), which gives the correctly rounded float32 result
 * for +, −, × of float32 operands (float64 has more than 2·24 + 2 bits, so the double
 * rounding is innocuous). Scalars the op form holds as float32 tensors (ρᵢ, αᵢ, the scaling γ)
 * are float32 values here. The tests compare both forms bit for bit. Other backends (the cpu
 * backend's Sum accumulates in float64), a recording tape, or mixed shapes take the op form.
 */
import { tf } from '../tf.js';
import { fusedSolverOpsOn } from './fused-ops.js';
import { solverSimdOf } from '../kernels/solver-simd.js';

interface WasmHeap {
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

const f = Math.fround;
const tapeOn = () => (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();

/**
 * `−H g` by the two-loop recursion over the pairs `(sᵢ, yᵢ)`, `ρᵢ = 1/(sᵢᵀyᵢ)` (float32 scalar
 * tensors) and `H⁰ = γ I`, on the wasm heap; null where the op form must run.
 *
 * @returns a new tensor shaped like `g`, or null (not wasm, fused solver ops off, a tape
 *   recording, or operands that are not float32 of g's shape).
 */
export function twoLoopOnHeap(g: tf.Tensor, s: tf.Tensor[], y: tf.Tensor[], rho: tf.Tensor[], gamma: number): tf.Tensor | null {
  if (!fusedSolverOpsOn() || tf.getBackend() !== 'wasm' || tapeOn()) return null;
  const like = (t: tf.Tensor) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, g.shape);
  if (!like(g) || !s.every(like) || !y.every(like) || s.length !== y.length || rho.length !== s.length) return null;
  if (!rho.every((r) => r.dtype === 'float32' && r.size === 1)) return null;
  const backend = tf.backend() as unknown as WasmHeap;
  if (backend.dataIdMap == null || backend.wasm?.HEAPU8 == null) return null;
  const simd = solverSimdOf(backend);
  const out = backend.makeOutput(g.shape, 'float32');
  const at = (id: tf.DataId) => backend.dataIdMap.get(id)!.memoryOffset;
  const n = g.size;
  const m = s.length;
  const o = at(out.dataId);
  // views after the allocation (it may grow the heap)
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  heap.copyWithin(o >> 2, at(g.dataId) >> 2, (at(g.dataId) >> 2) + n);
  const rhoOf = (i: number) => heap[at(rho[i].dataId) >> 2];
  // sᵀq as Sum(Multiply(s, q)) and q + a·p (q − a·y as q + (−a)·y: (−a)·y = −(a·y) exactly) by the
  // solver's SIMD loops, else JS loops with the same float32 operations (the dot a dependent
  // float32 add per value, the loop's cost: ~3× the SIMD one's on bench:pool's L-BFGS)
  const dot = simd != null ? (a: number, b: number) => simd.dotFloat32(a, b, n) : (a: number, b: number) => {
    let sum = 0;
    for (let j = 0, pa = a >> 2, pb = b >> 2; j < n; j++) sum = f(sum + f(heap[pa + j] * heap[pb + j]));
    return sum;
  };
  const axpy = simd != null ? (p: number, a: number) => simd.axpy(o, o, p, n, a) : (p: number, a: number) => {
    for (let j = 0, q = o >> 2, pp = p >> 2; j < n; j++) heap[q + j] = heap[q + j] + f(heap[pp + j] * a);
  };
  const alpha = new Array<number>(m);
  // first loop, newest pair first: αᵢ = ρᵢ sᵢᵀq, q ← q − αᵢ yᵢ
  for (let i = m - 1; i >= 0; i--) {
    const a = f(rhoOf(i) * dot(at(s[i].dataId), o));
    alpha[i] = a;
    axpy(at(y[i].dataId), -a);
  }
  // r = γ q
  const g32 = f(gamma);
  for (let j = 0, q = o >> 2; j < n; j++) heap[q + j] = heap[q + j] * g32;
  // second loop, oldest pair first: β = ρᵢ yᵢᵀr, r ← r + (αᵢ − β) sᵢ
  for (let i = 0; i < m; i++) {
    const c = f(alpha[i] - f(rhoOf(i) * dot(at(y[i].dataId), o)));
    axpy(at(s[i].dataId), c);
  }
  for (let j = 0, q = o >> 2; j < n; j++) heap[q + j] = -heap[q + j];
  return tf.engine().makeTensorFromTensorInfo(out);
}

/**
 * The loops of the fused solver kernels on the wasm backend as WebAssembly SIMD
 * (solver-simd.wat, compiled into solver-simd-module.ts by scripts/build-simd.mjs),
 * instantiated on the backend's own memory so that they read and write the tensors where
 * they lie: `x + a·p`, `⟨a, b⟩` (float64, or float32 in the op form's order) and CG's update with `‖r‖²`, 4 floats per
 * instruction. Plain JS loops over heap views measured slower than tfjs-wasm's own
 * elementwise kernels (43 µs for the CG update of 4 × 64 × 64 floats against 9 µs per
 * `Sub`), so without SIMD the solvers keep the op form.
 *
 * Where WebAssembly SIMD or the backend's memory is not available (an older engine, a
 * different tfjs-backend-wasm build), {@link solverSimdOf} returns null.
 *
 * @packageDocumentation
 */
import { SOLVER_SIMD_WASM } from './solver-simd-module.js';
import { wasmHeapModule } from './wasm-heap-module.js';

/** The module's exports; pointers are byte offsets on the heap, n counts floats. */
export interface SolverSimd {
  /** out = x + a·p. */
  axpy(out: number, x: number, p: number, n: number, a: number): void;
  /** Σ a·b in float64. */
  dot(a: number, b: number, n: number): number;
  /** Σ a·b as the op form's Sum(Multiply(a, b)): float32 products summed in float32 in index order. */
  dotFloat32(a: number, b: number, n: number): number;
  /** xo = x + α·p, ro = r − α·ap; returns Σ ro² in float64. */
  cgStep(xo: number, x: number, p: number, ro: number, r: number, ap: number, n: number, alpha: number): number;
  /** The heap offset of a tensor's data, or undefined when it has none on this backend. */
  offset(dataId: object): number | undefined;
}

/**
 * The SIMD loops on this wasm backend, or null where they cannot run (no SIMD, no reachable
 * memory); cached per backend.
 *
 * @param backend - the tfjs wasm backend object.
 * @returns the bound loops or null.
 */
export const solverSimdOf: (backend: unknown) => SolverSimd | null = wasmHeapModule(
  SOLVER_SIMD_WASM,
  (b, e: Omit<SolverSimd, 'offset'>): SolverSimd => ({ axpy: e.axpy, dot: e.dot, dotFloat32: e.dotFloat32, cgStep: e.cgStep, offset: (dataId) => b.dataIdMap.get(dataId)?.memoryOffset }),
);

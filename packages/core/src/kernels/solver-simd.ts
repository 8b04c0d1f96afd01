/**
 * The loops of the fused solver kernels on the wasm backend as WebAssembly SIMD
 * (solver-simd.wat, compiled into solver-simd-module.ts by scripts/build-solver-simd.mjs),
 * instantiated on the backend's own memory so that they read and write the tensors where
 * they lie: `x + a·p`, `⟨a, b⟩` (float64) and CG's update with `‖r‖²`, 4 floats per
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

/** The parts of tfjs-backend-wasm's backend object the loops use (not in its public types). */
interface WasmBackendLike {
  wasm: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** The module's exports; pointers are byte offsets on the heap, n counts floats. */
export interface SolverSimd {
  /** out = x + a·p. */
  axpy(out: number, x: number, p: number, n: number, a: number): void;
  /** Σ a·b in float64. */
  dot(a: number, b: number, n: number): number;
  /** xo = x + α·p, ro = r − α·ap; returns Σ ro² in float64. */
  cgStep(xo: number, x: number, p: number, ro: number, r: number, ap: number, n: number, alpha: number): number;
  /** The heap offset of a tensor's data, or undefined when it has none on this backend. */
  offset(dataId: object): number | undefined;
}

/** The WebAssembly API this file uses (the ES2022 lib has no WebAssembly types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => object;
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let module: object | null | undefined;
const bound = new WeakMap<object, SolverSimd | null>();

/**
 * Base64 to bytes without `Buffer` or `atob` (a worker-like context may have neither; without
 * the loops there the solvers would take the op form and give other float32 numbers than Node).
 */
function fromBase64(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of clean) {
    value = (value << 6) | alphabet.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

function compiled(): object | null {
  if (module !== undefined) return module;
  try {
    const bytes = fromBase64(SOLVER_SIMD_WASM);
    module = wasmApi != null && wasmApi.validate(bytes) ? new wasmApi.Module(bytes) : null;
  } catch {
    module = null;
  }
  return module;
}

/**
 * The SIMD loops on this wasm backend, or null where they cannot run (no SIMD, no reachable
 * memory); cached per backend.
 *
 * @param backend - the tfjs wasm backend object.
 * @returns the bound loops or null.
 */
export function solverSimdOf(backend: unknown): SolverSimd | null {
  const b = backend as WasmBackendLike;
  if (b == null || typeof b !== 'object') return null;
  if (bound.has(b)) return bound.get(b)!;
  let simd: SolverSimd | null = null;
  const memory = b.wasm?.asm?.memory;
  const m = compiled();
  if (m != null && wasmApi != null && memory instanceof wasmApi.Memory && b.dataIdMap != null) {
    try {
      const e = new wasmApi.Instance(m, { env: { memory } }).exports as Omit<SolverSimd, 'offset'>;
      simd = { axpy: e.axpy, dot: e.dot, cgStep: e.cgStep, offset: (dataId) => b.dataIdMap.get(dataId)?.memoryOffset };
    } catch {
      simd = null;
    }
  }
  bound.set(b, simd);
  return simd;
}

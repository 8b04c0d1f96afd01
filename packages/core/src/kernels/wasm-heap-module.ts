/**
 * WebAssembly modules that run on tfjs-backend-wasm's own heap: the one way the library's SIMD
 * loops (core's fused solver steps, imaging's TV and filter kernels) are decoded, compiled and
 * instantiated against a backend's memory, so that they read and write tensors where they lie.
 *
 * @packageDocumentation
 */

/** The parts of tfjs-backend-wasm's backend object a heap module needs (not in its public types). */
export interface WasmHeapBackend {
  wasm: { asm?: { memory?: unknown }; _malloc(bytes: number): number; _free(ptr: number): void; HEAPF32: Float32Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** The WebAssembly API used here (the ES2022 lib has no WebAssembly types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => object;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Base64 to bytes without `Buffer` or `atob`: a worker-like browser context may have neither, and
 * without the loops there the kernels would take their op form and give other float32 numbers
 * than Node.
 *
 * @param text - standard base64 (with or without `=` padding).
 * @returns the decoded bytes.
 * @example
 * ```ts
 * base64Bytes('AGFzbQ=='); // Uint8Array [0, 97, 115, 109]
 * ```
 */
export function base64Bytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of clean) {
    const digit = ALPHABET.indexOf(c);
    if (digit < 0) throw new Error(`base64Bytes: '${c}' is not a base64 digit.`);
    value = ((value << 6) | digit) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * A compiled WebAssembly module (given as base64) that imports the backend's memory as
 * `env.memory`, instantiated once per wasm backend and handed to `bind`, which wraps the
 * exports into the caller's typed loops.
 *
 * The returned function gives null where the module cannot run: no WebAssembly, a module the
 * engine rejects (e.g. no SIMD), or a backend without a reachable heap (not tfjs-backend-wasm,
 * or another build of it); callers then take their op form. Results are cached per backend.
 *
 * @param base64 - the module's bytes, base64 (generated from a `.wat` by a build script).
 * @param bind - wraps the instance's exports for one backend (allocating scratch there if needed).
 * @returns `(backend) => loops | null`.
 * @example
 * ```ts
 * const loopsOf = wasmHeapModule(MODULE_WASM, (backend, e: { axpy(...a: number[]): void }) => e);
 * const loops = loopsOf(tf.backend()); // null on cpu / tensorflow backends
 * ```
 */
export function wasmHeapModule<E, T>(base64: string, bind: (backend: WasmHeapBackend, exports: E) => T): (backend: unknown) => T | null {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  let module: object | null | undefined;
  const bound = new WeakMap<object, T | null>();
  const compiled = (): object | null => {
    if (module !== undefined) return module;
    try {
      const bytes = base64Bytes(base64);
      module = api != null && api.validate(bytes) ? new api.Module(bytes) : null;
    } catch {
      module = null;
    }
    return module;
  };
  return (backend) => {
    const b = backend as WasmHeapBackend;
    if (b == null || typeof b !== 'object') return null;
    if (bound.has(b)) return bound.get(b)!;
    let loops: T | null = null;
    const memory = b.wasm?.asm?.memory;
    const m = compiled();
    if (m != null && api != null && memory instanceof api.Memory && typeof b.wasm._malloc === 'function' && b.dataIdMap != null) {
      try {
        loops = bind(b, new api.Instance(m, { env: { memory } }).exports as E);
      } catch {
        loops = null;
      }
    }
    bound.set(b, loops);
    return loops;
  };
}

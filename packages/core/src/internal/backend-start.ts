/**
 * Starting one tfjs backend and saying why it did not start.
 *
 * tfjs reports a failed backend start only through `console.warn` ("Initialization of
 * backend wasm failed" + the cause) and a `false` from `tf.setBackend`; these helpers capture
 * that text so {@link initBackend} can put it into its error instead of falling back silently.
 */
import { tf } from '../tf.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/** Outcome of one start attempt: the active backend, or the reason it did not start. */
export type StartResult = { ok: true } | { ok: false; reason: string };

/** True in a browser page or a Web Worker (the places where webgl / webgpu can exist). */
export function isBrowserLike(): boolean {
  const g = globalThis as { window?: unknown; document?: unknown; importScripts?: unknown };
  return (typeof g.window === 'object' && typeof g.document === 'object') || typeof g.importScripts === 'function';
}

/** True under Node (where the native tensorflow bindings can exist). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** How long {@link activate} waits for an asynchronous backend start by default. */
export const START_TIMEOUT_MS = 30_000;

type EngineInternals = { backendName: string; registry: Record<string, unknown>; pendingBackendInit: Promise<boolean> | null };

/**
 * Activates a registered backend, capturing the warnings tfjs prints when it fails. A start
 * that neither succeeds nor fails within `timeoutMs` (a WebGPU adapter request that never
 * answers, a `.wasm` fetch that stalls) counts as failed. On failure the backend that was
 * active before is made active again, so no op lands on a half-started backend.
 *
 * @param name - registered backend name.
 * @param timeoutMs - how long to wait for an asynchronous start.
 * @returns `{ ok: true }`, or `{ ok: false, reason }` with tfjs's own explanation.
 */
export async function activate(name: string, timeoutMs: number = START_TIMEOUT_MS): Promise<StartResult> {
  if (tf.findBackendFactory(name) == null) return { ok: false, reason: `no '${name}' backend is registered in this tfjs instance` };
  const engine = tf.engine() as unknown as EngineInternals;
  const previous = engine.backendName != null && engine.registry[engine.backendName] != null ? engine.backendName : null;
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let result: StartResult;
  try {
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const ok = await Promise.race([tf.setBackend(name), timeout]);
    if (ok === 'timeout') {
      result = { ok: false, reason: `it did not finish starting within ${timeoutMs / 1000} s${name === 'webgpu' ? ' (navigator.gpu.requestAdapter() never answered: no usable GPU adapter)' : ''}` };
    } else {
      if (ok) await tf.ready();
      result = ok && tf.getBackend() === name ? { ok: true } : { ok: false, reason: summarise(warnings) || `tf.setBackend('${name}') returned false` };
    }
  } catch (e) {
    result = { ok: false, reason: (e as Error).message ?? String(e) };
  } finally {
    clearTimeout(timer);
    console.warn = warn;
  }
  if (!result.ok) {
    // tfjs leaves its engine pointing at the failed backend (and, after a timeout, waiting
    // for it): point it back at the one that worked.
    engine.pendingBackendInit = null;
    if (previous != null && previous !== name) await tf.setBackend(previous);
  }
  return result;
}

/** The first meaningful line of tfjs's warnings (stack frames and the generic headline dropped). */
function summarise(warnings: string[]): string {
  const lines = warnings
    .flatMap((w) => w.split('\n'))
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at ') && !/^Initialization of backend \S+ failed$/.test(l))
    .map((l) => l.replace(/^Error: /, ''));
  // tfjs and emscripten repeat one cause in several wrappings; the first line carries it.
  const first = lines[0] ?? '';
  return first.length > 240 ? `${first.slice(0, 240)}…` : first;
}

/**
 * Imports an optional package by a computed name, so that bundlers do not try to resolve it
 * (it is absent on most machines) and Node loads it when it is installed.
 *
 * @param name - package name.
 * @returns `{ ok: true }` once imported, or the import error.
 */
export async function importOptional(name: string): Promise<StartResult> {
  try {
    await import(/* @vite-ignore */ /* webpackIgnore: true */ name);
    return { ok: true };
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    return { ok: false, reason: /Cannot find (package|module)|Failed to resolve|Failed to load url|Failed to fetch dynamically imported/.test(message) ? `${name} is not installed` : `${name} failed to load: ${message}` };
  }
}

/** Where the `.wasm` binaries of `@tensorflow/tfjs-backend-wasm` are served from. */
export type WasmPaths = string | Partial<Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>;

let wasmPathsSet: string | null = null;

/**
 * Passes `paths` to tfjs-backend-wasm's `setWasmPaths` (once; a second, different value is
 * an error because the binaries are fetched only on the first start).
 *
 * @param paths - a folder URL/path ending in `/`, or a map from binary name to URL.
 */
export function configureWasmPaths(paths: WasmPaths): void {
  const key = JSON.stringify(paths);
  if (wasmPathsSet === key) return;
  if (wasmPathsSet != null || tf.findBackend('wasm') != null) {
    throw new Error(`initBackend: option 'wasmPaths' arrived after the wasm backend had already started or tried to start; pass it on the first initBackend call, before any tf op.`);
  }
  try {
    // A file map must name every binary; tfjs's own message says which are missing.
    setWasmPaths(paths as Parameters<typeof setWasmPaths>[0]);
  } catch (e) {
    throw new Error(`initBackend: option 'wasmPaths' was refused by tfjs-backend-wasm (${(e as Error).message}); pass the folder that holds the .wasm files, ending in '/', e.g. wasmPaths: '/assets/tfjs-wasm/'.`);
  }
  wasmPathsSet = key;
}

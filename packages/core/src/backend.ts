import { tf } from './tf.js';
import { defineOptions, opt } from './options.js';
import { useWasmKernels } from './kernels/register.js';
import { activate, configureWasmPaths, importOptional, isBrowserLike, isNode, START_TIMEOUT_MS, type StartResult, type WasmPaths } from './internal/backend-start.js';

/**
 * A backend bilevel can run on. `auto` picks the best one that starts; the others are
 * explicit requests that either start or throw.
 */
export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export type { WasmPaths } from './internal/backend-start.js';

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** Which backend to use; default: the `BILEVEL_BACKEND` environment variable (Node), else `'auto'`. */
  backend?: BackendName;
  /**
   * Where the `.wasm` binaries of `@tensorflow/tfjs-backend-wasm` are served from, for
   * bundled browser apps: a folder URL ending in `/` (e.g. `'/assets/tfjs-wasm/'` or a CDN
   * folder), or a map from each binary name (`tfjs-backend-wasm.wasm`,
   * `tfjs-backend-wasm-simd.wasm`, `tfjs-backend-wasm-threaded-simd.wasm`) to its URL.
   * Passed to tfjs-backend-wasm's `setWasmPaths`; must come before the wasm backend first
   * starts. Not needed in Node, where the binaries are read from the installed package.
   */
  wasmPaths?: WasmPaths;
  /**
   * How long to wait for one backend to start, in ms (default 30 000): a start that hangs
   * (a WebGPU adapter request that never answers, a stalled `.wasm` fetch) then fails with
   * that reason instead of blocking forever.
   */
  startTimeoutMs?: number;
  /** Log the chosen backend (default `true`): once per distinct choice. */
  log?: boolean;
  /**
   * On wasm, use bilevel's replacement kernels for `Conv2DBackpropInput` and
   * `Conv2DBackpropFilter` (im2col/col2im over the wasm heap + the backend's XNNPACK matMul;
   * default `true`). They agree with the stock kernels to float32 rounding and made the FoE
   * gradient and HVP about 2× faster; `Slice` copies contiguous runs heap to heap (bit for
   * bit the stock kernel, without its per-row views); `false` restores the kernels tfjs (and bilevel's
   * composite filter gradient) registered, e.g. to compare or to rule them out.
   */
  wasmKernels?: boolean;
}

/** Every value {@link BackendOptions.backend} accepts. */
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];
const WASM_BINARY = opt.string('give the URL of that binary');
// the backend name itself is checked in initBackend, with its source (option or BILEVEL_BACKEND)
const BACKEND_OPTIONS = defineOptions<BackendOptions>('initBackend', {
  backend: opt.string(),
  wasmPaths: opt.union([
    opt.custom("a folder URL ending in '/'", (v) => typeof v === 'string' && v.endsWith('/')),
    opt.object({ 'tfjs-backend-wasm.wasm': WASM_BINARY, 'tfjs-backend-wasm-simd.wasm': WASM_BINARY, 'tfjs-backend-wasm-threaded-simd.wasm': WASM_BINARY }),
  ], "e.g. wasmPaths: '/assets/tfjs-wasm/' (the folder that serves the three .wasm files)"),
  startTimeoutMs: opt.number({ gt: 0 }, 'e.g. startTimeoutMs: 30000'),
  log: opt.boolean(),
  wasmKernels: opt.boolean(),
}, initBackend);
const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WEBGPU = '@tensorflow/tfjs-backend-webgpu';

let lastLogged: string | null = null;
let chosen: Promise<{ name: string; why: string }> | null = null;
let chosenFor: BackendName | null = null;

async function startTensorflow(timeoutMs: number): Promise<StartResult> {
  if (!isNode()) return { ok: false, reason: 'the native tensorflow backend exists only in Node (@tensorflow/tfjs-node)' };
  const reasons: string[] = [];
  for (const pkg of NATIVE) {
    const imported = await importOptional(pkg);
    if (!imported.ok) {
      reasons.push(imported.reason);
      continue;
    }
    const started = await activate('tensorflow', timeoutMs);
    if (started.ok) return started;
    reasons.push(`${pkg} is installed but its backend did not start: ${started.reason}`);
  }
  return { ok: false, reason: reasons.join('; ') };
}

async function startWebgpu(timeoutMs: number): Promise<StartResult> {
  if (tf.findBackendFactory('webgpu') == null) {
    // Node, Vite dev servers and import maps can resolve a computed import; bundlers cannot, so
    // bundled apps import the package themselves (which registers the backend).
    const imported = await importOptional(WEBGPU);
    if (!imported.ok) return imported;
  }
  if (typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'object') {
    return { ok: false, reason: `WebGPU (navigator.gpu) is not available in this runtime${isBrowserLike() ? ' (browser without WebGPU, or not a secure context)' : ''}` };
  }
  return activate('webgpu', timeoutMs);
}

async function startWebgl(timeoutMs: number): Promise<StartResult> {
  if (tf.findBackendFactory('webgl') == null) return { ok: false, reason: 'WebGL exists only in a browser (tfjs registers webgl there only)' };
  return activate('webgl', timeoutMs);
}

const FIX: Record<Exclude<BackendName, 'auto'>, string> = {
  tensorflow: "install @tensorflow/tfjs-node (or -gpu) 4.22.0 where its install can download libtensorflow, or use backend 'wasm'",
  webgpu: `install ${WEBGPU} 4.22.0 and add \`import '${WEBGPU}';\` to your app before initBackend (bundlers cannot follow bilevel's optional import), in a browser with WebGPU; or use backend 'webgl' or 'wasm'`,
  webgl: "run in a browser with WebGL (a GPU or a software renderer), or use backend 'wasm'",
  wasm: isNode()
    ? "reinstall @tensorflow/tfjs-backend-wasm (Node reads the .wasm files from its dist/ folder), or remove a wrong 'wasmPaths'; or use backend 'cpu'"
    : "serve the .wasm files of @tensorflow/tfjs-backend-wasm (node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm) with your app and pass initBackend({ backend: 'wasm', wasmPaths: '<folder URL>/' }) on the first call; or use backend 'webgl' or 'cpu'",
  cpu: 'check that @tensorflow/tfjs is installed once (a second copy of tfjs-core has no cpu backend registered)',
};

async function start(name: Exclude<BackendName, 'auto'>, timeoutMs: number): Promise<StartResult> {
  if (name === 'tensorflow') return startTensorflow(timeoutMs);
  if (name === 'webgpu') return startWebgpu(timeoutMs);
  if (name === 'webgl') return startWebgl(timeoutMs);
  return activate(name, timeoutMs);
}

async function pick(requested: BackendName, timeoutMs: number): Promise<{ name: string; why: string }> {
  if (requested !== 'auto') {
    const r = await start(requested, timeoutMs);
    if (r.ok) return { name: requested, why: '' };
    // webgpu registered (package imported, navigator.gpu present) but no adapter: installing is not the fix
    const fix = requested === 'webgpu' && tf.findBackendFactory('webgpu') != null
      ? "use a browser and GPU with WebGPU enabled (chrome://gpu shows whether it is), or use backend 'webgl' or 'wasm'"
      : FIX[requested];
    throw new Error(`initBackend: backend '${requested}' could not start: ${r.reason}. Fix: ${fix}.`);
  }
  // Node: native bindings when installed, else the embedded wasm. Browser: wasm first (exact
  // float32 on every device, and the kernel replacements bilevel registers target it), then
  // webgl (when the .wasm files are not served), then the pure-JS cpu backend.
  const order: Array<Exclude<BackendName, 'auto'>> = isNode() ? ['tensorflow', 'wasm', 'cpu'] : ['wasm', 'webgl', 'cpu'];
  const skipped: string[] = [];
  for (const name of order) {
    const r = await start(name, timeoutMs);
    if (r.ok) return { name, why: skipped.join('; ') };
    skipped.push(`${name}: ${r.reason}`);
  }
  throw new Error(`initBackend: no tfjs backend could start (${skipped.join('; ')}). Fix: ${FIX.wasm}.`);
}

/**
 * Selects and starts the tfjs backend.
 *
 * - `auto` (the default): in Node, `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`
 *   (each only if installed), then wasm, then cpu; in a browser or Web Worker, wasm, then
 *   webgl, then cpu. It logs which backend it picked and why the ones before it did not start.
 * - An explicit `backend` (`'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu'`) starts that
 *   backend or throws an error saying which backend, why it did not start and what to do; it
 *   never falls back silently.
 *
 * `BILEVEL_BACKEND` (read through `globalThis.process?.env`, so absent in browsers) gives the
 * choice when no option does. `webgpu` needs `@tensorflow/tfjs-backend-webgpu` (optional;
 * imported here in Node, imported by the app in bundles). Calling again with another backend
 * switches to it; with the same one it returns the cached choice.
 *
 * @param options - `backend`, `wasmPaths` (browser bundles), `startTimeoutMs`, `log`, `wasmKernels`.
 * @returns the name of the active backend.
 * @example
 * ```ts
 * import { initBackend } from '@bilevel/core';
 * await initBackend();                                   // 'wasm' on a machine without tfjs-node
 * await initBackend({ backend: 'cpu' });                 // force the pure-JS backend
 * await initBackend({ backend: 'wasm', wasmPaths: '/tfjs-wasm/' });   // bundled browser app
 * await initBackend({ backend: 'wasm', wasmKernels: false });           // tfjs's stock conv-gradient kernels
 * ```
 */
export async function initBackend(options: BackendOptions = {}): Promise<string> {
  BACKEND_OPTIONS.check(options);
  const fromEnv = (globalThis.process?.env?.BILEVEL_BACKEND as BackendName | '' | undefined) || undefined;
  const requested = options.backend ?? fromEnv ?? 'auto';
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`initBackend: unknown backend '${requested}' (from ${options.backend ? 'option backend' : 'BILEVEL_BACKEND'}); use one of ${BACKEND_NAMES.join(', ')}.`);
  }
  if (options.wasmPaths !== undefined) configureWasmPaths(options.wasmPaths);
  if (chosen == null || chosenFor !== requested || tf.getBackend() !== (await chosen.catch(() => null))?.name) {
    chosenFor = requested;
    chosen = pick(requested, options.startTimeoutMs ?? START_TIMEOUT_MS);
    // A failed start is not cached: the caller may fix the cause (install, serve files) and retry.
    chosen.catch(() => {
      chosen = null;
      chosenFor = null;
    });
  }
  const { name, why } = await chosen;
  if (name === 'wasm') useWasmKernels(options.wasmKernels !== false);
  const line = `[bilevel] tfjs ${tf.version.tfjs} backend: ${name}${requested === 'auto' ? ` (auto${why ? `; not started: ${why}` : ''})` : ''}`;
  if (options.log !== false && lastLogged !== line) {
    lastLogged = line;
    console.log(line);
  }
  return name;
}

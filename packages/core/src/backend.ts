import { tf } from './tf.js';
import { defineOptions, opt } from './options.js';

/** A backend bilevel can run on. `auto` picks the best one installed. */
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

// the backend name itself is checked below, with the list of known backends
const BACKEND_OPTIONS = defineOptions<BackendOptions>('initBackend', { backend: opt.string(), log: opt.boolean() }, initBackend);

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** Which backend to use; default: the `BILEVEL_BACKEND` environment variable, else `'auto'`. */
  backend?: BackendName;
  /** Log the chosen backend once (default `true`). */
  log?: boolean;
}

const KNOWN: BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
let logged = false;
let chosen: Promise<string> | null = null;
let chosenFor: BackendName | null = null;

async function tryImport(name: string): Promise<boolean> {
  try {
    // Optional native bindings: present only where their install could download libtensorflow.
    await import(/* @vite-ignore */ name);
    return tf.findBackend('tensorflow') != null;
  } catch {
    return false;
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok;
  } catch {
    return false;
  }
}

async function pick(requested: BackendName): Promise<string> {
  if (requested === 'tensorflow') {
    if ((await tryImport('@tensorflow/tfjs-node-gpu')) || (await tryImport('@tensorflow/tfjs-node'))) {
      if (await activate('tensorflow')) return 'tensorflow';
    }
    throw new Error("initBackend: backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed; install one, or use backend 'wasm'.");
  }
  if (requested === 'wasm' || requested === 'cpu') {
    if (await activate(requested)) return requested;
    throw new Error(`initBackend: backend '${requested}' failed to initialise.`);
  }
  for (const native of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    if ((await tryImport(native)) && (await activate('tensorflow'))) return 'tensorflow';
  }
  if (await activate('wasm')) return 'wasm';
  if (await activate('cpu')) return 'cpu';
  throw new Error('initBackend: no tfjs backend could be initialised (tried tensorflow, wasm, cpu).');
}

/**
 * Selects and initialises the tfjs backend, once per process.
 *
 * `auto` tries `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (each only if
 * installed), then wasm, then the pure-JS cpu backend. The environment variable
 * `BILEVEL_BACKEND` (`wasm`, `cpu`, `tensorflow`, `auto`) forces a choice when no option is
 * given. Calling again with a different backend switches to it.
 *
 * @param options - backend choice and logging.
 * @returns the name of the active backend.
 * @example
 * ```ts
 * import { initBackend } from '@bilevel/core';
 * const name = await initBackend();            // 'wasm' on a machine without tfjs-node
 * await initBackend({ backend: 'cpu' });       // force the pure-JS backend
 * ```
 */
export async function initBackend(options: BackendOptions = {}): Promise<string> {
  BACKEND_OPTIONS.check(options);
  const fromEnv = process.env.BILEVEL_BACKEND as BackendName | undefined;
  const requested = options.backend ?? fromEnv ?? 'auto';
  if (!KNOWN.includes(requested)) {
    throw new Error(`initBackend: unknown backend '${requested}' (from ${options.backend ? 'option backend' : 'BILEVEL_BACKEND'}); use one of ${KNOWN.join(', ')}.`);
  }
  if (chosen == null || chosenFor !== requested) {
    chosenFor = requested;
    chosen = pick(requested);
  }
  const name = await chosen;
  if (options.log !== false && !logged) {
    logged = true;
    console.log(`[bilevel] tfjs ${tf.version.tfjs} backend: ${name}${requested === 'auto' ? ' (auto)' : ''}`);
  }
  return name;
}

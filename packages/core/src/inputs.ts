/**
 * Inputs named at the door: the one validation mechanism every public entry point of
 * bilevel runs before any work (core's `hypergradient`, `argmin`/`ArgminLayer`, the problem
 * definitions, outer's `train` and oracle, imaging's metrics). Each check throws an error
 * that names the function, the argument or field (`theta.logAlpha`, `data.noisy`) and the
 * fix, before a tensor is made, so a bad input never surfaces as a tfjs error deep inside a
 * solver and never leaks.
 *
 * Order matters: kinds and dtypes are checked before values (an int32 θ is reported as
 * "dtype int32", not as "NaN or Inf"), and all values of a tree are read in one device trip.
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import { closestName } from './internal/edit-distance.js';
import { heapAllFinite } from './internal/fused-ops.js';

/** Set on errors that already name a bilevel function, so nested wrappers do not wrap them twice. */
const NAMED = Symbol.for('bilevel.named-error');

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof tf.Tensor) return v.isDisposed ? 'a disposed tensor' : `a ${v.dtype} tensor of shape [${v.shape}]`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof Map) return 'a Map';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return `an object (${Object.getPrototypeOf(v)?.constructor?.name ?? 'no prototype'})`;
  return `${typeof v} ${String(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof tf.Tensor) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Names of the float tensors among `entries` that hold a NaN or Inf: read off the backend's
 * memory where it can be (internal/fused-ops.ts; no kernel), else one device read for all.
 */
function nonFinite(entries: Array<[string, tf.Tensor]>): string[] {
  const floats = entries.filter(([, t]) => t.dtype === 'float32' && t.size > 0);
  if (floats.length === 0) return [];
  const onHeap = floats.map(([, t]) => heapAllFinite(t));
  if (onHeap.every((ok) => ok != null)) return floats.filter((_, i) => !onHeap[i]).map(([name]) => name);
  const flags = tf.tidy(() => tf.stack(floats.map(([, t]) => tf.all(tf.isFinite(t)))));
  const ok = flags.dataSync();
  flags.dispose();
  return floats.filter((_, i) => ok[i] !== 1).map(([name]) => name);
}

/**
 * Throws unless a tfjs backend is ready, with a message that says to call `initBackend()`
 * (instead of tfjs's "make sure to await tf.ready()", met inside the first op).
 *
 * @param where - the public function, for the message.
 * @example
 * ```ts
 * requireBackend('train'); // throws "train: no tfjs backend is ready: call `await initBackend()` ..."
 * ```
 */
export function requireBackend(where: string): void {
  try {
    tf.backend();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!/not yet been initialized|tf\.ready\(\)|No backend found/i.test(message)) throw e;
    throw new Error(`${where}: no tfjs backend is ready: call \`await initBackend()\` (from @bilevel/core) once before using bilevel, or await tf.setBackend(...) yourself (tfjs: ${message}).`);
  }
}

/**
 * Validates θ: a plain object (not an array, a Map or a bare tensor) of live float32 tensors,
 * non-empty, with the expected keys when given (a misspelt key is named with the nearest
 * expected one), and finite values. Dtypes are checked before values.
 *
 * @param where - the public function.
 * @param theta - the value to check.
 * @param name - how the argument is called in the message (default `'theta'`).
 * @param expected - the keys θ must have (e.g. those of `theta0`), or undefined.
 * @example
 * ```ts
 * checkTheta('hypergradient', { logAlpha: tf.scalar(-3, 'int32') });
 * // throws "hypergradient: 'theta.logAlpha' has dtype int32, expected float32; tf.cast(t, 'float32') it."
 * ```
 */
export function checkTheta(where: string, theta: unknown, name = 'theta', expected?: readonly string[]): void {
  const example = `a plain object of float32 tensors such as { logAlpha: tf.scalar(-3) }`;
  if (!isPlainObject(theta)) {
    const hint = theta instanceof tf.Tensor ? ` (wrap it: { ${name === 'theta' ? 'w' : name}: t })` : '';
    throw new Error(`${where}: '${name}' must be ${example}, got ${describeValue(theta)}${hint}.`);
  }
  const keys = Object.keys(theta);
  if (keys.length === 0) throw new Error(`${where}: '${name}' is empty; give at least one parameter tensor (${example}).`);
  for (const k of keys) {
    const t = theta[k];
    if (!(t instanceof tf.Tensor)) throw new Error(`${where}: '${name}.${k}' must be a float32 tf.Tensor, got ${describeValue(t)}.`);
    if (t.isDisposed) throw new Error(`${where}: '${name}.${k}' was disposed before use; keep parameters alive while bilevel uses them.`);
    if (t.dtype !== 'float32') throw new Error(`${where}: '${name}.${k}' has dtype ${t.dtype}, expected float32; tf.cast(t, 'float32') it.`);
  }
  if (expected != null) {
    for (const k of keys) {
      if (!expected.includes(k)) {
        const near = closestName(k, expected.filter((e) => !keys.includes(e)));
        throw new Error(`${where}: '${name}' has key '${k}', which is not a parameter of this problem${near ? `; did you mean '${near}'?` : ''} The keys are ${expected.join(', ')}.`);
      }
    }
    const missing = expected.filter((k) => !keys.includes(k));
    if (missing.length > 0) throw new Error(`${where}: '${name}' lacks key(s) ${missing.map((k) => `'${k}'`).join(', ')}; the keys are ${expected.join(', ')}.`);
  }
  const bad = nonFinite(keys.map((k) => [`${name}.${k}`, theta[k] as tf.Tensor]));
  if (bad.length > 0) throw new Error(`${where}: '${bad[0]}' contains NaN or Inf; start from finite parameters.`);
}

/**
 * Validates lower-level or training data: a tensor, or a plain object whose values are
 * tensors, numbers or undefined. Every tensor must be live and non-empty (a size-0 tensor is
 * an empty batch), float tensors finite and numbers finite; the offending key is named.
 * Other values (functions, nested objects) are the user's and pass unchecked.
 *
 * @param where - the public function.
 * @param data - the data.
 * @param name - how the argument is called (default `'data'`).
 * @example
 * ```ts
 * checkData('hypergradient', { noisy, clean });
 * // throws "hypergradient: 'data.noisy' contains NaN or Inf; clean the data (...)" when it does
 * ```
 */
export function checkData(where: string, data: unknown, name = 'data'): void {
  if (data == null) return;
  const entries: Array<[string, tf.Tensor]> = [];
  if (data instanceof tf.Tensor) entries.push([name, data]);
  else if (isPlainObject(data)) {
    for (const [k, v] of Object.entries(data)) {
      if (v instanceof tf.Tensor) entries.push([`${name}.${k}`, v]);
      else if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${where}: '${name}.${k}' is ${v}; data must be finite.`);
    }
  } else if (Array.isArray(data)) {
    throw new Error(`${where}: '${name}' must be a tensor or a plain object of tensors such as { noisy, clean }, got ${describeValue(data)}.`);
  } else return;
  for (const [label, t] of entries) {
    if (t.isDisposed) throw new Error(`${where}: '${label}' was disposed before use.`);
    if (t.size === 0) {
      throw new Error(`${where}: '${label}' is empty (shape [${t.shape}]): an empty batch; give at least one sample (check batchData and the batch indices).`);
    }
  }
  const bad = nonFinite(entries);
  if (bad.length > 0) throw new Error(`${where}: '${bad[0]}' contains NaN or Inf; clean the data first (e.g. tf.where(tf.isFinite(t), t, 0)).`);
}

/**
 * Validates a starting point x0: a live, finite float32 tensor, of the expected shape when given.
 *
 * @param where - the public function.
 * @param x0 - the starting point.
 * @param shape - the shape the problem's `init` gives, or undefined.
 * @example
 * ```ts
 * checkStart('hypergradient', x0, [1, 32, 32, 1]);
 * ```
 */
export function checkStart(where: string, x0: unknown, shape?: readonly number[]): void {
  if (!(x0 instanceof tf.Tensor)) throw new Error(`${where}: 'x0' must be a float32 tf.Tensor, got ${describeValue(x0)}.`);
  if (x0.isDisposed) throw new Error(`${where}: 'x0' was disposed before use.`);
  if (x0.dtype !== 'float32') throw new Error(`${where}: 'x0' has dtype ${x0.dtype}, expected float32.`);
  if (shape != null && !tf.util.arraysEqual(x0.shape, shape as number[])) {
    throw new Error(`${where}: 'x0' has shape [${x0.shape}], but the problem's init gives [${shape}]; pass an x0 shaped like the solution.`);
  }
  if (nonFinite([['x0', x0]]).length > 0) throw new Error(`${where}: 'x0' contains NaN or Inf.`);
}

/**
 * Checks what a user function that must return a scalar returned (an energy, a loss): a
 * scalar tensor. A JS number, a non-tensor or a non-scalar is named with the fix.
 *
 * @param where - the function (or problem name) for the message.
 * @param what - `'energy'`, `'loss'`, ...
 * @param value - what the function returned.
 * @returns `value` as a scalar tensor.
 * @example
 * ```ts
 * const e = checkScalarOutput('problem', 'energy', spec.energy(x, theta, data));
 * ```
 */
export function checkScalarOutput(where: string, what: string, value: unknown): tf.Scalar {
  if (typeof value === 'number') {
    throw new Error(`${where}: the ${what} returned a JS number (${value}), not a tensor: build it with tf ops on x (e.g. tf.sum(...)) so it can be differentiated.`);
  }
  if (!(value instanceof tf.Tensor)) throw new Error(`${where}: the ${what} must return a scalar tf.Tensor, got ${describeValue(value)}.`);
  if (value.rank !== 0) throw new Error(`${where}: the ${what} must return a scalar, got shape [${value.shape}]; sum or average it (tf.sum).`);
  return value as tf.Scalar;
}

/**
 * Runs user code (an energy, a map, a loss, an operator) and re-throws what it throws with
 * the function it belongs to and the θ keys it was given, keeping the original as `cause`.
 * The code receives θ through a proxy that records reads of keys θ does not have (reading
 * an optional key stays legal): when the code then fails, the message names the key it read
 * and the nearest one θ has (`theta.logalpha` for `logAlpha`), instead of tfjs's "got null".
 *
 * @param where - the problem or function name, e.g. `"problem 'tv'"`.
 * @param what - `'energy'`, `'loss'`, `'map'`, `'apply'`, ...
 * @param theta - the θ to hand to the code (its keys are named).
 * @param fn - the call, given the (recording) θ.
 * @returns what `fn` returns.
 * @example
 * ```ts
 * const y = callUser("problem 'tv'", 'energy', theta, (th) => spec.energy(x, th, data));
 * ```
 */
export function callUser<T, P = unknown>(where: string, what: string, theta: P, fn: (theta: P) => T): T {
  const missing: string[] = [];
  const plain = isPlainObject(theta);
  const seen = plain
    ? (new Proxy(theta, {
        get(target, key, receiver) {
          if (typeof key === 'string' && !(key in target) && missing.length < 4 && !missing.includes(key)) missing.push(key);
          return Reflect.get(target, key, receiver);
        },
      }) as P)
    : theta;
  try {
    return fn(seen);
  } catch (e) {
    if (e instanceof Error && (e as { [NAMED]?: boolean })[NAMED]) throw e;
    const keys = plain ? Object.keys(theta as object) : [];
    const message = e instanceof Error ? e.message : String(e);
    const read = missing
      .filter((k) => k !== 'then' && k !== 'toJSON' && k !== 'constructor')
      .map((k) => {
        const near = closestName(k, keys);
        return `it read theta.${k}, which θ does not have${near ? ` (did you mean '${near}'?)` : ''}; `;
      })
      .join('');
    const err = new Error(`${where}: the ${what} threw: ${message} (${read}θ had keys ${keys.length > 0 ? keys.join(', ') : '(none)'}; check the keys it reads and the shapes of x and the data).`, { cause: e });
    (err as { [NAMED]?: boolean })[NAMED] = true;
    throw err;
  }
}

/** Whether an error is an allocation failure (wasm heap, typed array, WebGL/WebGPU memory). */
function isAllocationFailure(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /out of memory|allocation failed|Array buffer allocation|Invalid typed array length|Invalid array length|Cannot allocate|Cannot enlarge memory/i.test(m);
}

/**
 * Runs `fn`; an allocation failure is re-thrown with how large the request was (the bytes of
 * the given tensors) and the fix (smaller batches or images).
 *
 * @param where - the public function.
 * @param tensors - the inputs whose size explains the request (x0, data tensors).
 * @param fn - the work.
 * @returns what `fn` returns.
 * @example
 * ```ts
 * const r = withAllocationHint('hypergradient', [data.noisy], () => strategy.compute(request));
 * ```
 */
export function withAllocationHint<T>(where: string, tensors: tf.Tensor[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!isAllocationFailure(e)) throw e;
    const live = tensors.filter((t) => t instanceof tf.Tensor && !t.isDisposed);
    const bytes = live.reduce((s, t) => s + 4 * t.size, 0);
    const shapes = live.slice(0, 4).map((t) => `[${t.shape}]`).join(', ');
    const heap = tf.memory().numBytes;
    throw new Error(
      `${where}: out of memory (${e instanceof Error ? e.message : String(e)}): the inputs hold ${(bytes / 2 ** 20).toFixed(1)} MiB (${shapes}) and a solve needs several copies of x ` +
      `(the backend held ${(heap / 2 ** 20).toFixed(1)} MiB); use smaller batches (fewer samples per batchData call) or smaller images.`,
      { cause: e },
    );
  }
}

/**
 * Small helpers every solver factory and solve shares: option-key and stopping-option
 * checks, batched scalar reads, and the cleanup wrapper of a solve.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import { checkNonNegative, checkPositiveInt } from '../validate.js';

/** Throws unless every key of `options` is one of `known` (catches misspelt options). */
export function checkOptionKeys(where: string, options: object | undefined, known: readonly string[]): void {
  if (options == null) return;
  if (typeof options !== 'object') throw new Error(`${where}: options must be an object, got ${typeof options}.`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${where}: unknown option '${key}'; the options are ${known.join(', ')}.`);
    }
  }
}

/** Validates the `{ tol, tolMode, maxIter }` triple every solver takes; `undefined` is allowed. */
export function checkStoppingOptions(where: string, options: { tol?: unknown; tolMode?: unknown; maxIter?: unknown; stallIterations?: unknown }): void {
  if (options.stallIterations !== undefined && options.stallIterations !== 0) checkPositiveInt(where, 'stallIterations', options.stallIterations);
  if (options.tol !== undefined) checkNonNegative(where, 'tol', options.tol);
  if (options.tolMode !== undefined && options.tolMode !== 'absolute' && options.tolMode !== 'relative') {
    throw new Error(`${where}: option 'tolMode' must be 'absolute' or 'relative', got ${String(options.tolMode)}.`);
  }
  if (options.maxIter !== undefined && options.maxIter !== 0) checkPositiveInt(where, 'maxIter', options.maxIter);
}

/** Reads several scalar tensors in one device round trip and disposes them. */
export function readScalars(...ts: tf.Tensor[]): number[] {
  const packed = tf.tidy(() => tf.stack(ts.map((t) => tf.reshape(t, []))));
  const out = Array.from(packed.dataSync());
  packed.dispose();
  tf.dispose(ts);
  return out;
}

/** `⟨a, b⟩` over all entries, as a scalar tensor. */
export function dot(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.mul(a, b)));
}

/**
 * Runs a solve so that an exception (a throwing energy or matvec, a shape error) does not
 * leak the solver's live tensors: everything created inside is released except `x`.
 */
export function withCleanup<T extends { x: tf.Tensor }>(fn: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = fn();
    return out.x;
  });
  return out;
}

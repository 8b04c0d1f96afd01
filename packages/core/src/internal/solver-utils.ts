/**
 * Small helpers every solver factory and solve shares: the option-key check,
 * batched scalar reads, and the cleanup wrapper of a solve.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import { checkOptions, opt } from '../options.js';

/**
 * Throws unless every key of `options` is one of `known`, naming the nearest valid key
 * (through core's option mechanism, `checkOptions`); values are not checked.
 */
export function checkOptionKeys(where: string, options: object | undefined, known: readonly string[]): void {
  checkOptions(where, options, Object.fromEntries(known.map((k) => [k, opt.any()])));
}

/** Reads several scalar tensors in one device round trip and disposes them. */
export function readScalars(...ts: tf.Tensor[]): number[] {
  if (ts.length === 1 && ts[0].size === 1) {
    const out = [ts[0].dataSync()[0]];
    ts[0].dispose();
    return out;
  }
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

import { tf } from './tf.js';
import { requireBackend } from './inputs.js';

/**
 * A named tree of tensors: the upper-level parameters θ (and anything else shaped like
 * them, such as a hypergradient). Keys are sorted wherever order matters, so two trees
 * with the same keys always flatten the same way.
 */
export type Params = Record<string, tf.Tensor>;

/** Sorted keys of a parameter tree: the canonical flattening order. */
export function keysOf(p: Params): string[] {
  return Object.keys(p).sort();
}

/** Throws unless `a` and `b` have the same keys and shapes; `where` names the caller. */
export function assertSameStructure(a: Params, b: Params, where: string): void {
  const ka = keysOf(a);
  const kb = keysOf(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) {
    throw new Error(`${where}: parameter trees differ in keys: [${ka.join(', ')}] vs [${kb.join(', ')}].`);
  }
  for (const k of ka) {
    if (!tf.util.arraysEqual(a[k].shape, b[k].shape)) {
      throw new Error(`${where}: parameter '${k}' has shape [${a[k].shape}] in one tree and [${b[k].shape}] in the other.`);
    }
  }
}

/** Applies `fn` to every leaf (inside a `tf.tidy` per leaf: only the returned tensor survives). */
export function mapParams(p: Params, fn: (t: tf.Tensor, key: string) => tf.Tensor): Params {
  const out: Params = {};
  // Each leaf in its own tidy: intermediates of `fn` (e.g. the tf.mul in `a + h·b`) are freed,
  // only the returned leaf is kept, so no caller needs to wrap its callback.
  for (const k of keysOf(p)) out[k] = tf.tidy(() => fn(p[k], k));
  return out;
}

/** Applies `fn` leafwise to two trees of the same structure (a `tf.tidy` per leaf, as mapParams). */
export function zipParams(a: Params, b: Params, fn: (x: tf.Tensor, y: tf.Tensor, key: string) => tf.Tensor): Params {
  assertSameStructure(a, b, 'zipParams');
  const out: Params = {};
  for (const k of keysOf(a)) out[k] = tf.tidy(() => fn(a[k], b[k], k));
  return out;
}

/** `a + b`, leafwise. */
export const addParams = (a: Params, b: Params): Params => zipParams(a, b, (x, y) => tf.add(x, y));
/** `a − b`, leafwise. */
export const subParams = (a: Params, b: Params): Params => zipParams(a, b, (x, y) => tf.sub(x, y));
/** `s · a`, leafwise. */
export const scaleParams = (a: Params, s: number | tf.Scalar): Params => mapParams(a, (x) => tf.mul(x, s));
/** `a + s · b`, leafwise. */
export const axpyParams = (a: Params, s: number | tf.Scalar, b: Params): Params =>
  zipParams(a, b, (x, y) => tf.add(x, tf.mul(y, s)));
/** Zeros shaped like every leaf. */
export const zerosLikeParams = (a: Params): Params => mapParams(a, (x) => tf.zerosLike(x));
/** Independent copies of every leaf. */
export const cloneParams = (a: Params): Params => mapParams(a, (x) => tf.clone(x));

/** `⟨a, b⟩` summed over all leaves, as a scalar tensor. */
export function dotParams(a: Params, b: Params): tf.Scalar {
  assertSameStructure(a, b, 'dotParams');
  return tf.tidy(() => {
    let acc: tf.Scalar = tf.scalar(0);
    for (const k of keysOf(a)) acc = tf.add(acc, tf.sum(tf.mul(a[k], b[k])));
    return acc;
  });
}

/** Euclidean norm over all leaves, as a number (one device read). */
export function normParams(a: Params): number {
  const s = tf.tidy(() => {
    let acc: tf.Scalar = tf.scalar(0);
    for (const k of keysOf(a)) acc = tf.add(acc, tf.sum(tf.square(a[k])));
    return tf.sqrt(acc);
  });
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

/** Total number of scalars in the tree. */
export function sizeOfParams(a: Params): number {
  return keysOf(a).reduce((n, k) => n + a[k].size, 0);
}

/** Concatenates all leaves (sorted by key) into one 1-D tensor. */
export function flattenParams(a: Params): tf.Tensor1D {
  return tf.tidy(() => tf.concat(keysOf(a).map((k) => tf.reshape(a[k], [-1])), 0) as tf.Tensor1D);
}

/** Inverse of {@link flattenParams}: splits `v` into leaves shaped like `like`. */
export function unflattenParams(v: tf.Tensor, like: Params): Params {
  const n = sizeOfParams(like);
  if (v.size !== n) throw new Error(`unflattenParams: vector has ${v.size} entries, the tree needs ${n}.`);
  return tf.tidy(() => {
    const flat = tf.reshape(v, [-1]);
    const out: Params = {};
    let offset = 0;
    for (const k of keysOf(like)) {
      out[k] = tf.reshape(tf.slice(flat, [offset], [like[k].size]), like[k].shape);
      offset += like[k].size;
    }
    return out;
  });
}

/** Disposes every leaf. */
export function disposeParams(a: Params | null | undefined): void {
  if (a != null) for (const k of Object.keys(a)) a[k].dispose();
}

/** Marks every leaf as kept by the enclosing `tf.tidy`. */
export function keepParams(a: Params): Params {
  for (const k of Object.keys(a)) tf.keep(a[k]);
  return a;
}

/** Reads all leaves to plain number arrays (for logging, checkpoints, tests). */
export function paramsToArrays(a: Params): Record<string, { shape: number[]; values: number[] }> {
  const out: Record<string, { shape: number[]; values: number[] }> = {};
  for (const k of keysOf(a)) out[k] = { shape: a[k].shape.slice(), values: Array.from(a[k].dataSync()) };
  return out;
}

/** Inverse of {@link paramsToArrays}. */
export function paramsFromArrays(a: Record<string, { shape: number[]; values: number[] }>): Params {
  requireBackend('paramsFromArrays');
  const out: Params = {};
  for (const k of Object.keys(a).sort()) out[k] = tf.tensor(a[k].values, a[k].shape, 'float32');
  return out;
}

import { tf } from './tf.js';
import { heapAllFinite } from './internal/fused-ops.js';

/** Throws unless `value` is a finite number ≥ 0 (or > 0 when `strict`). */
export function checkNonNegative(where: string, name: string, value: unknown, strict = false): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (strict && value === 0)) {
    throw new Error(`${where}: option '${name}' must be a finite number ${strict ? '> 0' : '≥ 0'}, got ${String(value)}.`);
  }
}

/** Throws unless `value` is a positive integer. */
export function checkPositiveInt(where: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${where}: option '${name}' must be a positive integer, got ${String(value)}.`);
  }
}

/** Throws unless `t` is a tensor whose entries are all finite (read off the backend's memory where it can be, else one device read). */
export function checkFinite(where: string, name: string, t: tf.Tensor): void {
  if (!(t instanceof tf.Tensor)) throw new Error(`${where}: '${name}' must be a tf.Tensor, got ${typeof t}.`);
  if (t.isDisposed) throw new Error(`${where}: '${name}' was disposed before use.`);
  if (!allFinite(t)) throw new Error(`${where}: '${name}' contains NaN or Inf; clean the input (e.g. tf.where(tf.isFinite(t), t, 0)).`);
}

function allFinite(t: tf.Tensor): boolean {
  const onHeap = heapAllFinite(t);
  if (onHeap != null) return onHeap;
  const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(t))));
  const isBad = bad.dataSync()[0] === 1;
  bad.dispose();
  return !isBad;
}

/** Throws unless two shapes match. */
export function checkShape(where: string, name: string, actual: number[], expected: number[]): void {
  if (!tf.util.arraysEqual(actual, expected)) {
    throw new Error(`${where}: '${name}' has shape [${actual}], expected [${expected}].`);
  }
}

/** Reads a scalar tensor to a number and disposes it. */
export function readScalar(t: tf.Tensor): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

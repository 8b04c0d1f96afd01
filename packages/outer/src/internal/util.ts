import { tf, paramsToArrays, paramsFromArrays, disposeParams, normParams, keysOf, checkOptions, opt, type Params } from '@bilevel/core';
import type { ParamsArrays, OracleResult, Proximal } from '../types.js';

export const toArrays = (p: Params): ParamsArrays => paramsToArrays(p);
export const fromArrays = (a: ParamsArrays): Params => paramsFromArrays(a);

/** Deep copy of a ParamsArrays (states are treated as immutable values). */
export function copyArrays(a: ParamsArrays): ParamsArrays {
  const out: ParamsArrays = {};
  for (const k of Object.keys(a)) out[k] = { shape: a[k].shape.slice(), values: a[k].values.slice() };
  return out;
}

/** Runs `fn` on θ as tensors and disposes them. */
export function withParams<T>(a: ParamsArrays, fn: (p: Params) => T): T {
  const p = fromArrays(a);
  try {
    return fn(p);
  } finally {
    disposeParams(p);
  }
}

/**
 * θ⁺ = prox(θ − α d), returned as arrays, plus ‖θ⁺ − θ‖². `direction` is not consumed.
 */
export function gradientStep(theta: Params, direction: Params, step: number, proximal?: Proximal): { next: ParamsArrays; moveSq: number } {
  const moved = tf.tidy(() => {
    const out: Params = {};
    for (const k of keysOf(theta)) out[k] = tf.sub(theta[k], tf.mul(direction[k], step));
    return out;
  });
  let next = moved;
  if (proximal != null) {
    next = proximal.apply(moved, step);
    disposeParams(moved);
  }
  const diff: Params = tf.tidy(() => {
    const out: Params = {};
    for (const k of keysOf(theta)) out[k] = tf.sub(next[k], theta[k]);
    return out;
  });
  const d = normParams(diff);
  disposeParams(diff);
  const arrays = toArrays(next);
  disposeParams(next);
  return { next: arrays, moveSq: d * d };
}

export function requireGrad(where: string, r: OracleResult): Params {
  if (r.grad == null) {
    r.dispose();
    throw new Error(`${where}: the oracle returned no 'grad' for a gradient request; an oracle may omit it only when called with { valueOnly: true }.`);
  }
  return r.grad;
}

export function checkFiniteNumber(where: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: ${name} must be a finite number, got ${String(v)}.`);
}

/** Validates a number option in an open/closed interval; the message names function, option and fix. */
export function checkRange(where: string, name: string, v: unknown, lo: number, hi: number, loOpen: boolean, hiOpen: boolean, fix: string): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞' : hi}${hiOpen ? ')' : ']'}`;
    throw new Error(`${where}: option '${name}' must be a number in ${range}, got ${String(v)}; ${fix}.`);
  }
}

export function checkInt(where: string, name: string, v: unknown, min: number, fix: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${where}: option '${name}' must be an integer ≥ ${min}, got ${String(v)}; ${fix}.`);
  }
}

/**
 * Rejects unknown option keys (typos are the commonest option bug) through core's option
 * mechanism: the error names the nearest valid key. `path` prefixes nested keys
 * (`'checkpoint.'`). Values are checked by the caller's range checks.
 */
export function checkKeys(where: string, options: object, allowed: readonly string[], path = ''): void {
  checkOptions(where, options, Object.fromEntries(allowed.map((k) => [k, opt.any()])), path);
}

/**
 * A-priori accuracy schedules k ↦ ε_k (k = 0, 1, 2, ...) for HOAG and inexact SGD/Adam.
 * The three of Pedregosa (2016), compared against MAID by Salehi et al. (2025), are
 * {@link geometric}, {@link quadratic} and {@link cubic}.
 *
 * @packageDocumentation
 */
import { checkNonNegative } from '@bilevel/core';
import { checkRange } from './internal/util.js';

/** An accuracy schedule: iteration index k ≥ 0 ↦ tolerance ε_k > 0. */
export interface Schedule {
  (k: number): number;
  /** A label for logs and tables, e.g. `geometric(0.1, 0.9)`. */
  readonly label: string;
}

function make(label: string, fn: (k: number) => number): Schedule {
  return Object.assign((k: number) => fn(k), { label });
}

/**
 * Constant accuracy ε_k = ε₀.
 * @param eps0 - ε₀ > 0.
 * @returns the schedule.
 * @example
 * ```ts
 * constant(1e-3)(10); // 1e-3
 * ```
 */
export function constant(eps0: number): Schedule {
  checkNonNegative('constant', 'eps0', eps0, true);
  return make(`constant(${eps0})`, () => eps0);
}

/**
 * Geometric decay ε_k = ε₀ rᵏ (Pedregosa 2016 uses ε₀ = 0.1, r = 0.9: "exponential").
 * @param eps0 - ε₀ > 0.
 * @param ratio - r ∈ (0, 1].
 * @returns the schedule.
 * @example
 * ```ts
 * geometric(0.1, 0.9)(2); // 0.081
 * ```
 */
export function geometric(eps0: number, ratio: number): Schedule {
  checkNonNegative('geometric', 'eps0', eps0, true);
  checkRange('geometric', 'ratio', ratio, 0, 1, true, false, 'use a ratio in (0, 1], e.g. 0.9');
  return make(`geometric(${eps0}, ${ratio})`, (k) => eps0 * Math.pow(ratio, k));
}

/**
 * Quadratic decay ε_k = ε₀/(k + 1)² (summable).
 * @param eps0 - ε₀ > 0.
 * @returns the schedule.
 * @example
 * ```ts
 * quadratic(0.1)(1); // 0.025
 * ```
 */
export function quadratic(eps0: number): Schedule {
  checkNonNegative('quadratic', 'eps0', eps0, true);
  return make(`quadratic(${eps0})`, (k) => eps0 / ((k + 1) * (k + 1)));
}

/**
 * Cubic decay ε_k = ε₀/(k + 1)³.
 * @param eps0 - ε₀ > 0.
 * @returns the schedule.
 * @example
 * ```ts
 * cubic(0.1)(1); // 0.0125
 * ```
 */
export function cubic(eps0: number): Schedule {
  checkNonNegative('cubic', 'eps0', eps0, true);
  return make(`cubic(${eps0})`, (k) => eps0 / ((k + 1) * (k + 1) * (k + 1)));
}

/** Accepts a number (constant) or a schedule; validates. */
export function toSchedule(where: string, name: string, s: number | Schedule | undefined, fallback?: Schedule): Schedule {
  if (s == null) {
    if (fallback != null) return fallback;
    throw new Error(`${where}: option '${name}' is required: a tolerance (number) or a schedule such as geometric(0.1, 0.9).`);
  }
  if (typeof s === 'number') {
    checkRange(where, name, s, 0, Infinity, true, true, 'give a positive tolerance or a schedule');
    return constant(s);
  }
  if (typeof s !== 'function') throw new Error(`${where}: option '${name}' must be a number or a schedule (k) => ε_k, got ${typeof s}.`);
  return s;
}

/**
 * Ranges of numeric options: `min`/`max` are inclusive, `gt`/`lt` exclusive.
 *
 * @packageDocumentation
 */

/** A numeric range; `finite: false` also admits ±Infinity. */
export interface Range {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** Exclusive upper bound. */
  lt?: number;
  /** Reject ±Infinity (default true). NaN is always rejected. */
  finite?: boolean;
}

/** Whether `v` lies in `range`. */
export function inRange(v: number, range: Range): boolean {
  if (Number.isNaN(v)) return false;
  if (range.finite !== false && !Number.isFinite(v)) return false;
  if (range.min !== undefined && v < range.min) return false;
  if (range.max !== undefined && v > range.max) return false;
  if (range.gt !== undefined && v <= range.gt) return false;
  if (range.lt !== undefined && v >= range.lt) return false;
  return true;
}

/** " ≥ 0", " > 0", " in (0, 1]", or "" for an unbounded range. */
export function describeRange(range: Range): string {
  const lo = range.gt !== undefined ? { v: range.gt, open: true } : range.min !== undefined ? { v: range.min, open: false } : undefined;
  const hi = range.lt !== undefined ? { v: range.lt, open: true } : range.max !== undefined ? { v: range.max, open: false } : undefined;
  if (lo && hi) return ` in ${lo.open ? '(' : '['}${lo.v}, ${hi.v}${hi.open ? ')' : ']'}`;
  if (lo) return ` ${lo.open ? '>' : '≥'} ${lo.v}`;
  if (hi) return ` ${hi.open ? '<' : '≤'} ${hi.v}`;
  return '';
}

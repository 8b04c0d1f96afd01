// How θ (a tree of float32 leaves) maps to the flat float64 vectors the derivative-free
// method works with, and the per-coordinate box it must stay in.
import type { ParamsArrays } from '../../types.js';
import type { DfoOptions } from '../../dfo-options.js';

export const WHERE = 'dfo';

export interface Layout {
  keys: string[];
  shapes: number[][];
  sizes: number[];
  n: number;
}

/** Per-coordinate box l ≤ θ ≤ u (±∞ where unbounded). */
export interface Box {
  lower: number[];
  upper: number[];
}

export function layoutOf(theta: ParamsArrays): Layout {
  const keys = Object.keys(theta);
  const shapes = keys.map((k) => theta[k].shape.slice());
  const sizes = keys.map((k) => theta[k].values.length);
  return { keys, shapes, sizes, n: sizes.reduce((a, b) => a + b, 0) };
}

export const flatten = (theta: ParamsArrays, layout: Layout): number[] => layout.keys.flatMap((k) => theta[k].values);

export function unflatten(x: number[], layout: Layout): ParamsArrays {
  const out: ParamsArrays = {};
  let offset = 0;
  layout.keys.forEach((k, i) => {
    out[k] = { shape: layout.shapes[i].slice(), values: x.slice(offset, offset + layout.sizes[i]) };
    offset += layout.sizes[i];
  });
  return out;
}

/** Per-coordinate box from the `bounds` option. */
export function boxOf(layout: Layout, opts: Readonly<DfoOptions>): Box {
  const lower: number[] = [];
  const upper: number[] = [];
  const b = opts.bounds;
  const global = b == null || 'lower' in b || 'upper' in b || Object.keys(b).length === 0;
  if (!global) {
    for (const k of Object.keys(b)) if (!layout.keys.includes(k)) throw new Error(`${WHERE}: option 'bounds' names '${k}', which is not a parameter (they are ${layout.keys.join(', ')}).`);
  }
  layout.keys.forEach((k, i) => {
    const pair = (global ? b : (b as Record<string, { lower?: number; upper?: number }>)[k]) as { lower?: number; upper?: number } | undefined;
    const lo = pair?.lower ?? -Infinity;
    const hi = pair?.upper ?? Infinity;
    if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi) || !(hi - lo >= 2 * opts.radius0)) {
      throw new Error(`${WHERE}: bounds of '${k}' must be numbers with upper − lower ≥ 2·radius0 = ${2 * opts.radius0} (room for the initial samples), got lower=${String(pair?.lower)}, upper=${String(pair?.upper)}; widen the box or lower radius0.`);
    }
    for (let j = 0; j < layout.sizes[i]; j++) {
      lower.push(lo);
      upper.push(hi);
    }
  });
  return { lower, upper };
}

/** Projects onto the box and rounds to float32: what the oracle sees, so points are stored exactly as evaluated. */
export const clip = (x: number[], box: Box): number[] => x.map((v, i) => Math.fround(Math.min(box.upper[i], Math.max(box.lower[i], v))));

/** The number of interpolation points, checked against [n + 1, (n + 1)(n + 2)/2]. */
export function pointsFor(layout: Layout, opts: Readonly<DfoOptions>): number {
  const n = layout.n;
  const npt = opts.points ?? 2 * n + 1;
  const max = ((n + 1) * (n + 2)) / 2;
  if (npt < n + 1 || npt > max) throw new Error(`${WHERE}: option 'points' must be in [n + 1, (n + 1)(n + 2)/2] = [${n + 1}, ${max}] for n = ${n} parameters, got ${npt}.`);
  return npt;
}

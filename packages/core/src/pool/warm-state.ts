// One sample's warm start (its solution x and the strategy's own warm starts: the adjoint q,
// ...) as plain data: as JSON for checkpoints, and packed into one float32 buffer for engines
// that keep it in shared memory.
import type { PlainTensor, SampleWarm } from './types.js';

/**
 * Warm starts as `[sample, { slot: { shape, values } }]` pairs of plain numbers, sorted by
 * sample and slot: what a pool's `saveState()` returns (JSON-safe).
 *
 * @param warm - sample → its {@link SampleWarm}.
 * @returns the JSON-safe pairs.
 * @example
 * ```ts
 * const json = warmStateToJson(new Map([[0, { x: { shape: [2], values: new Float32Array([1, 2]) } }]]));
 * ```
 */
export function warmStateToJson(warm: ReadonlyMap<number, SampleWarm>): Array<[number, Record<string, { shape: number[]; values: number[] }>]> {
  return [...warm.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, Object.fromEntries(Object.keys(v).sort().map((slot) => [slot, { shape: v[slot].shape.slice(), values: Array.from(v[slot].values) }]))]);
}

const isPlain = (v: unknown): v is { shape: number[]; values: number[] } => v != null && typeof v === 'object' && Array.isArray((v as { shape?: unknown }).shape) && Array.isArray((v as { values?: unknown }).values);

/**
 * Inverse of {@link warmStateToJson}; `where` names the caller in the error. A state written
 * before the strategy's own warm starts were kept (`[sample, { shape, values }]`, the solution
 * alone) reads as slot `x`.
 *
 * @param where - the pool, for messages.
 * @param state - what {@link warmStateToJson} returned (after a JSON round trip).
 * @returns the `[sample, warm]` pairs.
 * @example
 * ```ts
 * for (const [k, v] of warmStateFromJson('inlinePool', JSON.parse(text))) warm.set(k, v);
 * ```
 */
export function warmStateFromJson(where: string, state: unknown): Array<[number, SampleWarm]> {
  if (!Array.isArray(state)) throw new Error(`${where}.loadState: expected the array saveState() returned.`);
  return state.map((entry) => {
    const [k, v] = entry as [number, unknown];
    if (!Number.isInteger(k) || v == null || typeof v !== 'object') throw new Error(`${where}.loadState: expected [sample, { slot: { shape, values } }] pairs.`);
    const slots = isPlain(v) ? { x: v } : (v as Record<string, unknown>);
    const out: SampleWarm = {};
    for (const [slot, t] of Object.entries(slots)) {
      if (!isPlain(t)) throw new Error(`${where}.loadState: warm start '${slot}' of sample ${k} must be { shape, values }.`);
      out[slot] = { shape: t.shape.slice(), values: Float32Array.from(t.values) };
    }
    return [k, out];
  });
}

/** A {@link SampleWarm} in one float32 buffer: the slots' names and shapes, and their values in that order. */
export interface PackedWarm {
  layout: Array<[string, number[]]>;
  values: Float32Array;
}

/**
 * Packs a sample's warm start into one buffer (slots in sorted order): how the thread pool
 * keeps it in a `SharedArrayBuffer` that any thread reads and overwrites in place.
 *
 * @param warm - the sample's warm start.
 * @returns its layout and values.
 * @example
 * ```ts
 * const { layout, values } = packWarm(strategyWarm);
 * ```
 */
export function packWarm(warm: SampleWarm): PackedWarm {
  const names = Object.keys(warm).sort();
  const size = names.reduce((n, s) => n + warm[s].values.length, 0);
  const values = new Float32Array(size);
  let at = 0;
  for (const s of names) {
    values.set(warm[s].values, at);
    at += warm[s].values.length;
  }
  return { layout: names.map((s) => [s, warm[s].shape.slice()]), values };
}

/**
 * The slots of a packed warm start, as views into `values` (copy them before `values` changes).
 *
 * @param layout - the slots' names and shapes ({@link packWarm}).
 * @param values - their values in that order.
 * @returns the {@link SampleWarm}.
 * @example
 * ```ts
 * const warm = unpackWarm(packed.layout, packed.values);
 * ```
 */
export function unpackWarm(layout: ReadonlyArray<[string, number[]]>, values: Float32Array): SampleWarm {
  const out: SampleWarm = {};
  let at = 0;
  for (const [s, shape] of layout) {
    const n = shape.reduce((a, b) => a * b, 1);
    out[s] = { shape: shape.slice(), values: values.subarray(at, at + n) } satisfies PlainTensor;
    at += n;
  }
  return out;
}

/**
 * Whether two packed layouts hold the same slots with the same shapes (then one can be
 * overwritten by the other in place).
 *
 * @param a - a layout.
 * @param b - another.
 * @returns whether they match.
 * @example
 * ```ts
 * if (sameLayout(stored.layout, next.layout)) new Float32Array(stored.buffer).set(next.values);
 * ```
 */
export function sameLayout(a: ReadonlyArray<[string, number[]]>, b: ReadonlyArray<[string, number[]]>): boolean {
  return a.length === b.length && a.every(([s, shape], i) => s === b[i][0] && shape.join() === b[i][1].join());
}

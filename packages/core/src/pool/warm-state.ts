// Per-sample warm starts as JSON (checkpoints) and back.
import type { PlainTensor } from './types.js';

/** Warm starts as `[sample, { shape, values }]` pairs of plain numbers, sorted by sample. */
export function warmStateToJson(warm: ReadonlyMap<number, PlainTensor>): Array<[number, { shape: number[]; values: number[] }]> {
  return [...warm.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, { shape: v.shape.slice(), values: Array.from(v.values) }]);
}

/** Inverse of {@link warmStateToJson}; `where` names the caller in the error. */
export function warmStateFromJson(where: string, state: unknown): Array<[number, PlainTensor]> {
  if (!Array.isArray(state)) throw new Error(`${where}.loadState: expected the array saveState() returned.`);
  return state.map((entry) => {
    const [k, v] = entry as [number, { shape: number[]; values: number[] }];
    if (!Number.isInteger(k) || v == null || !Array.isArray(v.shape) || !Array.isArray(v.values)) throw new Error(`${where}.loadState: expected [sample, { shape, values }] pairs.`);
    return [k, { shape: v.shape.slice(), values: Float32Array.from(v.values) }];
  });
}

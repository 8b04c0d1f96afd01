// What a checkpoint knows about the run that wrote it: the method and its options, the
// strategy and its options, θ's keys/shapes/dtypes, a hash of θ₀ and the data's shapes and
// content hash. A resume compares it with the run at hand and names every difference.
import { tf, explicitOptions } from '@bilevel/core';

/** The parts a fingerprint compares; `resume: { allowMismatch: [...] }` names them. */
export const FINGERPRINT_PARTS = ['method', 'strategy', 'theta', 'theta0', 'data'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];

/** A run's fingerprint (plain JSON). */
export type RunFingerprint = Partial<Record<FingerprintPart, unknown>>;

/** 53-bit hash (cyrb53 over 32-bit words) of float32 or int32 bytes, as 14 hex digits. */
function hashWords(words: Int32Array, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    h1 = Math.imul(h1 ^ w, 2654435761);
    h2 = Math.imul(h2 ^ w, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/** Content hash of a tensor's values (bit patterns, so −0/NaN payloads count). */
export function tensorHash(t: tf.Tensor): string {
  const v = t.dataSync();
  if (v instanceof Float32Array || v instanceof Int32Array) return hashWords(new Int32Array(v.buffer, v.byteOffset, v.length), t.size);
  return hashWords(Int32Array.from(v as ArrayLike<number>, Number), t.size);
}

/** The tensors of a data value (a tensor, an array or a record of them, nested), keyed by path. */
export function tensorsByPath(value: unknown, path = 'data', out: Record<string, tf.Tensor> = {}, depth = 0): Record<string, tf.Tensor> {
  if (value instanceof tf.Tensor) out[path] = value;
  else if (depth < 6 && value != null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) tensorsByPath(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, out, depth + 1);
  }
  return out;
}

/** Shapes, dtypes and one content hash of the data's tensors. */
export function dataFingerprint(data: unknown): { shapes: Record<string, string>; hash: string } {
  const tensors = tensorsByPath(data);
  const shapes: Record<string, string> = {};
  const hashes: string[] = [];
  for (const [path, t] of Object.entries(tensors).sort(([a], [b]) => (a < b ? -1 : 1))) {
    shapes[path] = `${t.dtype}[${t.shape.join(',')}]`;
    hashes.push(tensorHash(t));
  }
  const joined = new TextEncoder().encode(hashes.join(''));
  return { shapes, hash: hashWords(Int32Array.from(joined)) };
}

/**
 * A canonical, JSON-safe description of an option value: numbers as they are (non-finite as
 * text), functions by their label or name, tensors by dtype, shape and hash, bilevel factory
 * objects (solvers) by name and the options the user set, plain objects with sorted keys.
 */
export function describe(value: unknown, depth = 0, seen = new Set<object>()): unknown {
  if (value == null || typeof value === 'boolean' || typeof value === 'string') return value ?? null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'function') {
    const f = value as { label?: unknown; name?: string };
    return { function: typeof f.label === 'string' ? f.label : f.name || 'anonymous' };
  }
  if (typeof value !== 'object') return String(value);
  if (value instanceof tf.Tensor) return { tensor: `${value.dtype}[${value.shape.join(',')}]`, hash: value.isDisposed ? 'disposed' : tensorHash(value) };
  if (seen.has(value) || depth > 6) return '…';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => describe(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  const explicit = explicitOptions(value);
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'function' || v === undefined) continue;
    out[key] = describe(v, depth + 1, seen);
  }
  if (Object.keys(explicit).length > 0) out.explicitOptions = describe(explicit, depth + 1, seen);
  return out;
}

/** A short printable form of a described value. */
function show(v: unknown): string {
  const text = v === undefined ? 'absent' : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** The differences between a saved and a current fingerprint: `part`, dotted path, both values. */
export function fingerprintDiff(saved: RunFingerprint, current: RunFingerprint): Array<{ part: FingerprintPart; path: string; saved: string; current: string }> {
  const out: Array<{ part: FingerprintPart; path: string; saved: string; current: string }> = [];
  const walk = (part: FingerprintPart, path: string, a: unknown, b: unknown) => {
    if (a != null && b != null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(part, `${path}.${k}`, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ part, path, saved: show(a), current: show(b) });
  };
  for (const part of FINGERPRINT_PARTS) {
    // A part one side could not fingerprint (an oracle without a fingerprint) is not compared.
    if (saved[part] === undefined || current[part] === undefined) continue;
    walk(part, part, saved[part], current[part]);
  }
  return out;
}

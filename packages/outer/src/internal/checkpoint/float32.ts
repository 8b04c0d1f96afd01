// Float32 arrays as base64 text (little-endian bytes) for JSON checkpoints: exact, portable
// across platforms of either byte order, and ~2× smaller than decimal numbers.
import type { WarmState } from '@bilevel/core';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Base64 of the little-endian bytes of `values`. */
export function float32ToBase64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}

/** The inverse of {@link float32ToBase64}; throws (naming `field`) on text that is not one. */
export function base64ToFloat32(text: string, field: string): Float32Array {
  const clean = text.replace(/=+$/, '');
  const nBytes = Math.floor((clean.length * 3) / 4);
  if (clean.length % 4 === 1 || nBytes % 4 !== 0) throw new Error(`field '${field}' is not base64 float32 data (${text.length} characters)`);
  const bytes = new Uint8Array(nBytes);
  let acc = 0;
  let bits = 0;
  let k = 0;
  for (const c of clean) {
    const v = LOOKUP.get(c);
    if (v === undefined) throw new Error(`field '${field}' is not base64 (character '${c}')`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[k++] = (acc >> bits) & 0xff;
    }
  }
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(nBytes / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** A {@link WarmState} as JSON-safe data: slot → { shape, data: base64 }. */
export type EncodedWarmState = Record<string, { shape: number[]; data: string }>;

/** Encodes a strategy's warm state for a JSON checkpoint. */
export function encodeWarmState(state: WarmState): EncodedWarmState {
  const out: EncodedWarmState = {};
  for (const [slot, t] of Object.entries(state)) out[slot] = { shape: t.shape.slice(), data: float32ToBase64(t.values) };
  return out;
}

/** Decodes {@link encodeWarmState}'s output (`field` names the place in the file for errors). */
export function decodeWarmState(encoded: EncodedWarmState, field: string): WarmState {
  const out: WarmState = {};
  for (const [slot, t] of Object.entries(encoded)) out[slot] = { shape: t.shape.slice(), values: base64ToFloat32(t.data, `${field}.${slot}.data`) };
  return out;
}

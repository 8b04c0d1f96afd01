// Tensors as bytes for Redis and JSON: float32 little-endian, base64 in JSON. Exact (no
// decimal round trip), and the same bytes give the same content address.
import { createHash } from 'node:crypto';
import type { PlainParams, PlainTensor, SampleOutcome, SampleWarm } from '@bilevel/core';

/** A tensor in JSON: shape and base64 float32 bytes. */
export interface WireTensor {
  shape: number[];
  b64: string;
}

export const toWire = (t: PlainTensor): WireTensor => ({ shape: t.shape.slice(), b64: Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength).toString('base64') });

export function fromWire(w: WireTensor): PlainTensor {
  const bytes = Buffer.from(w.b64, 'base64');
  const values = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(values.buffer).set(bytes);
  return { shape: w.shape.slice(), values };
}

export const paramsToWire = (p: PlainParams): Record<string, WireTensor> => Object.fromEntries(Object.keys(p).sort().map((k) => [k, toWire(p[k])]));
export const paramsFromWire = (w: Record<string, WireTensor>): PlainParams => Object.fromEntries(Object.keys(w).sort().map((k) => [k, fromWire(w[k])]));

/** A sample's warm start (x and the strategy's own slots) in JSON. */
export const warmToWire = (w: SampleWarm): Record<string, WireTensor> => Object.fromEntries(Object.keys(w).sort().map((k) => [k, toWire(w[k])]));

/** Inverse of {@link warmToWire}; a warm start stored before the strategy's slots were kept (one tensor) reads as slot `x`. */
export function warmFromWire(w: WireTensor | Record<string, WireTensor>): SampleWarm {
  if (typeof (w as WireTensor).b64 === 'string') return { x: fromWire(w as WireTensor) };
  return Object.fromEntries(Object.keys(w).sort().map((k) => [k, fromWire((w as Record<string, WireTensor>)[k])]));
}

/** A sample outcome in JSON (the job's return value). */
export type WireOutcome = Omit<SampleOutcome, 'grad'> & { grad?: Record<string, WireTensor> };

export const outcomeToWire = (o: SampleOutcome): WireOutcome => ({ ...o, bound: o.bound, grad: o.grad == null ? undefined : paramsToWire(o.grad) });
export const outcomeFromWire = (w: WireOutcome): SampleOutcome => ({ ...w, bound: w.bound ?? NaN, valueBound: w.valueBound ?? NaN, grad: w.grad == null ? undefined : paramsFromWire(w.grad) });

/** Content address of a JSON-able value: `sha256` of its canonical JSON, hex. */
export const contentKey = (prefix: string, text: string): string => `${prefix}${createHash('sha256').update(text).digest('hex')}`;

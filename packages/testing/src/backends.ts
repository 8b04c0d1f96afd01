// Backend helpers for vitest suites: run a describe block on every backend, seeded tensors,
// relative errors read to numbers.
import { describe, beforeAll } from 'vitest';
import { tf, initBackend, seededNormal } from '@bilevel/core';

/** Backends every suite that uses {@link describeEachBackend} runs on: wasm (the default here) and the pure-JS cpu backend. */
export const BACKENDS = ['wasm', 'cpu'] as const;

/**
 * Runs a describe block once per backend, with that backend active.
 *
 * @example
 * ```ts
 * describeEachBackend('cg', (backend) => { it(`solves on ${backend}`, () => { ... }); });
 * ```
 */
export function describeEachBackend(name: string, body: (backend: string) => void): void {
  for (const backend of BACKENDS) {
    describe(`${name} [${backend}]`, () => {
      beforeAll(async () => {
        await initBackend({ backend, log: false });
        if (tf.getBackend() !== backend) throw new Error(`could not activate ${backend}`);
      });
      body(backend);
    });
  }
}

/** Seeded standard normal tensor (reproducible for seed 0 too, see core's seededNormal). */
export function randn(shape: number[], seed: number): tf.Tensor {
  return seededNormal(shape, seed);
}

/** ‖a − b‖ / max(‖b‖, tiny), read to a number. */
export function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const num = tf.norm(tf.sub(a, b)).dataSync()[0];
    const den = Math.max(tf.norm(b).dataSync()[0], 1e-12);
    return num / den;
  });
}

/**
 * Metrics refuse what would make them silently NaN (a NaN or Inf pixel), naming the image,
 * and leak nothing when they throw.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { psnr, ssim } from '../src/index.js';

let F: Record<string, tf.Tensor>;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  const nan = tf.buffer([1, 16, 16, 1]);
  nan.set(NaN, 0, 3, 4, 0);
  F = { ok: tf.ones([1, 16, 16, 1]), nan: nan.toTensor(), inf: tf.fill([1, 16, 16, 1], Infinity), small: tf.ones([1, 8, 8, 1]) };
});
afterAll(() => tf.dispose(Object.values(F)));

describe('metrics: bad input named [wasm]', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['psnr: a NaN pixel in x', () => psnr(F.nan, F.ok), /psnr: 'x' contains NaN or Inf/],
    ['psnr: a NaN pixel in ref', () => psnr(F.ok, F.nan), /psnr: 'ref' contains NaN or Inf/],
    ['ssim: a NaN pixel in x', () => ssim(F.nan, F.ok), /ssim: 'x' contains NaN or Inf/],
    ['ssim: Inf in ref', () => ssim(F.ok, F.inf), /ssim: 'ref' contains NaN or Inf/],
    ['psnr: shapes differ', () => psnr(F.ok, F.small), /psnr: 'x' \[1,16,16,1\] and 'ref' \[1,8,8,1\] must have the same shape/],
  ];
  for (const [name, call, error] of cases) {
    it(`${name}: named, nothing leaked`, () => {
      const before = tf.memory().numTensors;
      expect(call).toThrow(error);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

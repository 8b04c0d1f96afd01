import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { tf, initBackend } from '../src/index.js';
import { twoLoopOnHeap } from '../src/internal/lbfgs-two-loop.js';
import { useFusedSolverOps } from '../src/internal/fused-ops.js';
import { randn } from '@bilevel/testing/vitest';

/*
 * L-BFGS's two-loop recursion on the wasm heap (internal/lbfgs-two-loop.ts) against the op
 * form of lbfgs.ts, written out here as the oracle. Compared EXACTLY (Object.is on every
 * entry): both do the same float32 operations in the same order (see the file's header), so
 * any difference is a bug, not round-off.
 */

/** lbfgs.ts's op form of the two-loop recursion. */
function opForm(g: tf.Tensor, s: tf.Tensor[], y: tf.Tensor[], rho: tf.Tensor[], gamma: number): tf.Tensor {
  return tf.tidy(() => {
    const m = s.length;
    const alphas: tf.Tensor[] = new Array(m);
    let q = g;
    for (let i = m - 1; i >= 0; i--) {
      alphas[i] = tf.mul(rho[i], tf.sum(tf.mul(s[i], q)));
      q = tf.sub(q, tf.mul(y[i], alphas[i]));
    }
    let r = tf.mul(q, gamma);
    for (let i = 0; i < m; i++) {
      const beta = tf.mul(rho[i], tf.sum(tf.mul(y[i], r)));
      r = tf.add(r, tf.mul(s[i], tf.sub(alphas[i], beta)));
    }
    return tf.neg(r);
  });
}

const sameBits = (a: tf.Tensor, b: tf.Tensor) => {
  const [va, vb] = [a.dataSync(), b.dataSync()];
  return va.length === vb.length && va.every((v, i) => Object.is(v, vb[i]));
};

/** m pairs of the kind L-BFGS keeps: sᵢ a step, yᵢ ≈ A sᵢ plus noise, ρᵢ = 1/(sᵢᵀyᵢ). */
function pairs(shape: number[], m: number, seed: number) {
  const s = Array.from({ length: m }, (_, i) => tf.mul(randn(shape, seed + 2 * i), 10 ** (-i / 3)));
  const y = s.map((si, i) => tf.tidy(() => tf.add(tf.mul(si, 1.5 + i), tf.mul(randn(shape, seed + 2 * i + 1), 1e-3))));
  const rho = s.map((si, i) => tf.scalar(1 / tf.sum(tf.mul(si, y[i])).dataSync()[0]));
  return { s, y, rho };
}

afterEach(() => {
  useFusedSolverOps(true);
});

describe('L-BFGS two-loop recursion on the wasm heap', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  for (const [shape, m] of [[[1, 64, 64, 1], 10], [[2, 9, 7, 3], 4], [[37], 1], [[1, 5, 5, 1], 0]] as Array<[number[], number]>) {
    it(`equals the op form bit for bit (shape [${shape}], ${m} pairs)`, () => {
      const g = tf.mul(randn(shape, 7), 3);
      const { s, y, rho } = pairs(shape, m, 11);
      const before = tf.memory().numTensors;
      const fused = twoLoopOnHeap(g, s, y, rho, 0.37);
      expect(fused).not.toBeNull();
      const reference = opForm(g, s, y, rho, 0.37);
      expect(fused!.shape).toEqual(g.shape);
      expect(sameBits(fused!, reference)).toBe(true);
      tf.dispose([fused!, reference]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([g, ...s, ...y, ...rho]);
    });
  }

  it('leaves the op form where it must run: fused ops off, a recording tape, mixed shapes', () => {
    const g = randn([1, 6, 6, 1], 3);
    const { s, y, rho } = pairs([1, 6, 6, 1], 2, 5);
    const other = randn([1, 6, 5, 1], 4);
    const before = tf.memory().numTensors;
    useFusedSolverOps(false);
    expect(twoLoopOnHeap(g, s, y, rho, 1)).toBeNull();
    useFusedSolverOps(true);
    expect(twoLoopOnHeap(g, [s[0], other], y, rho, 1)).toBeNull();
    // inside tf.grad the tape records: the op form (which tfjs can differentiate) runs
    let inside: tf.Tensor | null | undefined;
    tf.grad((x: tf.Tensor) => {
      inside = twoLoopOnHeap(x, s, y, rho, 1);
      return tf.sum(x);
    })(g).dispose();
    expect(inside).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g, other, ...s, ...y, ...rho]);
  });
});

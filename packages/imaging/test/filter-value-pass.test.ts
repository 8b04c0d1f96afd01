import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';
import { fieldsOfExperts, foeProblem } from '../src/index.js';
import type { Regularizer } from '../src/index.js';
import { filterSimdOf } from '../src/internal/filter-simd.js';
import { valuePass } from '../src/internal/filter-passes.js';
import { randomFilterCase } from './helpers.js';

/*
 * The Student-t FoE value and gradient as one SIMD pass on wasm (filter-passes.ts `valuePass`,
 * filter-simd.wat `firstAndValue`), what L-BFGS evaluates at every step. The pass claims the
 * tfjs route's float32 value bit for bit (its logf is the backend's Log1p, its sums run in
 * the MatMul's and Sum's order), so the value is compared for EQUALITY with the tfjs route (which
 * runs while a tape records), on every padding, batch 1 and 3, channel counts around the pass's
 * 16-channel tiles and 4-channel vectors, odd output widths; and against a float64 sum of
 * Σ_k w_k Σ log1p(t²) (1e-6 relative: float32 sums of ≤ 2·10⁴ terms). The gradient's factor
 * t/(1 + t²) is the tfjs route's bit for bit too, but its Cᵀ on wasm is the SIMD transposed
 * convolution (filter-transposed.test.ts), which sums the S²·K products in another order than core's
 * Conv2DBackpropInput: the gradient is compared to GRAD_TOL = 1e-5 relative (as filter-passes.test.ts),
 * far above the two orders' float32 rounding and far below an indexing or factor error (O(1)).
 */
const F64_TOL = 1e-6;
const GRAD_TOL = 1e-5;

/** ‖a − b‖ / ‖b‖ in doubles. */
function gradErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

type Options = Parameters<typeof fieldsOfExperts>[0];
const random = (size: number, count: number, seed: number) => () => tf.tidy(() => tf.mul(0.3, randn([size, size, 1, count], seed)));
const CASES: Record<string, { options: Options; filters?: () => tf.Tensor }> = {
  'symmetric, 5×5 DCT (24, the pool benchmark)': { options: { size: 5, alpha: 0.05, nu: 0.3 } },
  'same, 7×7, 30 filters': { options: { alpha: 0.05, nu: 0.3, padding: 'same' }, filters: random(7, 30, 9) },
  'valid, 3×3 DCT (8)': { options: { size: 3, alpha: 0.05, nu: 0.3, padding: 'valid' } },
  'same, 5×5, 6 filters': { options: { alpha: 0.05, nu: 0.3, padding: 'same' }, filters: random(5, 6, 10) },
  'symmetric, 3×3, 17 filters': { options: { alpha: 0.05, nu: 0.1 }, filters: random(3, 17, 11) },
};

/** R's value and gradient by the tfjs route: a tape recording turns the passes off (filter-passes.ts passesFor). */
function tfjsRoute(R: Regularizer, x: tf.Tensor, theta: Params): { value: number; grad: Float32Array } {
  let out!: { value: number; grad: Float32Array };
  let value!: tf.Tensor;
  const dx = tf.grad((z: tf.Tensor) => {
    const r = R.valueAndGradient!(z, theta);
    out = { value: r.value.dataSync()[0], grad: r.grad.dataSync() as Float32Array };
    r.grad.dispose();
    value = r.value;
    return r.value;
  })(x);
  // the value is kept (tf.keep) by valueAndGradient, so grad's scope leaves it to its owner
  tf.dispose([dx, value]);
  return out;
}

/** Σ_k w_k Σ_pixels log1p(t_k²) in float64 from the responses t = (c_k/ν_k) ∗ x of the tfjs route's Conv2D. */
function float64Value(x: tf.Tensor, theta: Params, padding: string): number {
  const [t, w] = tf.tidy(() => {
    const filters = tf.mul(theta.filters, tf.exp(tf.neg(theta.logNu)));
    const size = filters.shape[0]!;
    const before = Math.floor((size - 1) / 2);
    const input = padding === 'symmetric' ? tf.mirrorPad(x as tf.Tensor4D, [[0, 0], [before, size - 1 - before], [before, size - 1 - before], [0, 0]], 'symmetric') : x;
    return [tf.conv2d(input as tf.Tensor4D, filters as tf.Tensor4D, 1, padding === 'same' ? 'same' : 'valid'), tf.exp(theta.logAlpha)];
  });
  const tv = t.dataSync();
  const wv = w.dataSync();
  const k = wv.length;
  let s = 0;
  for (let i = 0; i < tv.length; i++) s += wv[i % k] * Math.log1p(tv[i] * tv[i]);
  tf.dispose([t, w]);
  return s;
}

describeEachBackend('imaging: the Student-t FoE value and gradient in one SIMD pass', (backend) => {
  for (const [name, c] of Object.entries(CASES)) {
    for (const n of [1, 3]) {
      it(`${name}, batch ${n}: valueAndGradient's value equals the tfjs route bit for bit and a float64 sum to 1e-6, its gradient the tfjs route's to 1e-5; no forward Conv2D, Log1p, MatMul nor Conv2DBackpropInput on wasm`, async () => {
        const before = tf.memory().numTensors;
        const filters = c.filters?.();
        const R = fieldsOfExperts({ ...c.options, ...(filters != null ? { filters } : {}) });
        const base = R.init();
        filters?.dispose(); // init copies it
        const { x, v, data, theta } = randomFilterCase([n, 15, 11, 1], base); // 11: odd output widths on every padding
        try {
          const fast = R.valueAndGradient!(x, theta);
          const ref = tfjsRoute(R, x, theta);
          expect(fast.value.shape).toEqual([]);
          expect(fast.grad.shape).toEqual(x.shape);
          const value = fast.value.dataSync()[0];
          expect(value).toBe(ref.value);
          expect(gradErr(fast.grad.dataSync(), ref.grad)).toBeLessThan(GRAD_TOL);
          const exact = float64Value(x, theta, c.options!.padding ?? 'symmetric');
          expect(Math.abs(value - exact) / exact).toBeLessThan(F64_TOL);
          tf.dispose([fast.value, fast.grad]);
          const info = await tf.profile(() => {
            const r = R.valueAndGradient!(x, theta);
            return [r.value, r.grad];
          });
          tf.dispose(info.result as tf.Tensor[]);
          const kernels = info.kernels.map((k) => k.name);
          for (const k of ['Conv2D', 'Log1p', 'BatchMatMul']) expect(kernels.includes(k)).toBe(backend !== 'wasm');
          expect(kernels.includes('Conv2DBackpropInput')).toBe(backend !== 'wasm');
        } finally {
          disposeParams(base);
          disposeParams(theta);
          tf.dispose([x, v, data.y]);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('foeProblem\'s valueAndGradient (½‖x − y‖² + R, the L-BFGS evaluation): the value equals the op form bit for bit, the gradient to 1e-5, with 2 kernels for the data term on wasm', async () => {
    const before = tf.memory().numTensors;
    const { problem, theta: base, dispose } = foeProblem({ size: 5, alpha: 0.05, nu: 0.3 });
    const { x, v, data, theta } = randomFilterCase([2, 14, 11, 1], base);
    try {
      const fast = problem.valueAndGradient(x, theta, data);
      let ref!: { value: number; grad: number[] };
      let kept!: tf.Tensor;
      tf.grad((z: tf.Tensor) => {
        const r = problem.valueAndGradient(z, theta, data);
        ref = { value: r.value.dataSync()[0], grad: Array.from(r.grad.dataSync()) };
        r.grad.dispose();
        kept = r.value;
        return r.value;
      })(x).dispose();
      kept.dispose();
      expect(fast.value.dataSync()[0]).toBe(ref.value);
      expect(gradErr(fast.grad.dataSync(), ref.grad)).toBeLessThan(GRAD_TOL);
      tf.dispose([fast.value, fast.grad]);
      const info = await tf.profile(() => {
        const r = problem.valueAndGradient(x, theta, data);
        return [r.value, r.grad];
      });
      tf.dispose(info.result as tf.Tensor[]);
      const kernels = info.kernels.map((k) => k.name);
      for (const k of ['Square', 'Sum', 'AddN', 'Identity']) expect(kernels.includes(k)).toBe(backend !== 'wasm');
    } finally {
      dispose();
      disposeParams(theta);
      tf.dispose([x, v, data.y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('θ\'s per-filter constants are read once per θ and follow it: new θ tensors and a tf.Variable\'s assign give the new value', () => {
    const before = tf.memory().numTensors;
    const R = fieldsOfExperts({ size: 3, alpha: 0.05, nu: 0.3 });
    const base = R.init();
    const { x, v, data, theta } = randomFilterCase([1, 12, 10, 1], base);
    const logNu = tf.variable(theta.logNu);
    const withVariable: Params = { ...theta, logNu };
    const check = (th: Params) => {
      const fast = R.valueAndGradient!(x, th);
      const ref = tfjsRoute(R, x, th);
      expect(fast.value.dataSync()[0]).toBe(ref.value);
      expect(gradErr(fast.grad.dataSync(), ref.grad)).toBeLessThan(GRAD_TOL);
      const value = ref.value;
      tf.dispose([fast.value, fast.grad]);
      return value;
    };
    try {
      const first = check(theta);
      expect(check(theta)).toBe(first); // the cached constants
      const other = { ...theta, logAlpha: tf.add(theta.logAlpha, 0.5) };
      const changed = check(other);
      expect(changed).not.toBe(first);
      other.logAlpha.dispose();
      expect(check(withVariable)).toBe(first);
      const next = tf.sub(theta.logNu, 0.2);
      logNu.assign(next);
      next.dispose();
      expect(check(withVariable)).not.toBe(first);
      const assigned = check(withVariable);
      const copy = { ...theta, logNu: logNu.clone() };
      expect(check(copy)).toBe(assigned);
      copy.logNu.dispose();
    } finally {
      logNu.dispose();
      disposeParams(base);
      disposeParams(theta);
      tf.dispose([x, v, data.y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the pass\'s log is the backend\'s Log1p bit for bit, for arguments from 0 to overflow, inf and NaN', () => {
    const simd = filterSimdOf(tf.backend());
    if (simd == null) return;
    const before = tf.memory().numTensors;
    // one 1×1 image per argument t, one unit filter and weight: value = 0 + 1·log(1 + t²), first = t/(1 + t²)
    const args = [0, 1e-30, 1e-12, 2 ** -12, 1e-4, 0.1, 0.6435, 1, 1.0001, 3, 77.7, 1e4, 1.8e19, 1e20, Infinity, -2.5, Number.NaN];
    for (let i = 0; i < 400; i++) args.push(Math.exp(((i * 7919) % 400) / 400 * 60 - 30) * (i % 2 === 0 ? 1 : -1));
    const unit = { shape: [1, 1, 1, 1], scaled: new Float32Array([1]), weights: new Float32Array([1]) };
    const identity = { mode: 'valid', padded: (t: tf.Tensor) => t };
    for (const a of args) {
      const x = tf.fill([1, 1, 1, 1], a);
      const ref = tf.tidy(() => {
        const t2 = tf.square(x);
        return [tf.log1p(t2).dataSync()[0], tf.div(x, tf.add(t2, 1)).dataSync()[0]];
      });
      const r = valuePass(simd, x, unit, identity);
      expect([a, r.value]).toEqual([a, ref[0]]);
      expect([a, r.first.dataSync()[0]]).toEqual([a, ref[1]]);
      tf.dispose([x, r.first]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

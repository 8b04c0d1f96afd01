import { it, expect, afterEach } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { smoothedTV, huberTV, tvDenoisingProblem } from '../src/index.js';
import type { Regularizer } from '../src/index.js';
import { useFusedTV, TV_KERNELS } from '../src/internal/tv-kernels.js';
import { simdOf } from '../src/internal/tv-simd.js';

/*
 * The fused TV kernels (one JS pass per derivative, tv-kernels.ts) against the op form of
 * tv-derivatives.ts (the same formulas in tfjs ops, which also runs under a tape) and against
 * autodiff of the regularizer's value. The kernels compute in float64 and round once; the op
 * form rounds after every op, ~10 float32 ops deep with sums over ≤ 700 pixels, so the two
 * agree to ~1e-6 relative: 1e-5 is ~100 ulp, far below a formula or boundary error (O(1)).
 */
const TOL = 1e-5;

const CASES: Record<string, () => Regularizer> = {
  'smoothed TV': () => smoothedTV({ nu: 0.1, alpha: 0.2 }),
  'smoothed TV, learned ν': () => smoothedTV({ nu: 0.1, alpha: 0.2, learnNu: true }),
  // ν = 0.3 with x of spread 0.3: pixels on both sides of the Huber threshold
  'Huber TV': () => huberTV({ nu: 0.3, alpha: 0.2 }),
};
// non-square, batch 2; a single row and a single column exercise the boundary rows / columns
const SHAPES = [[2, 13, 11, 1], [1, 1, 9, 1], [3, 8, 1, 1]];

afterEach(() => useFusedTV(true));

/** Every TV derivative of R at (x, θ, v): value, gradient, valueAndGradient, HVP (prepared), mixed. */
function derivativesOf(R: Regularizer, x: tf.Tensor, theta: Params, v: tf.Tensor): tf.Tensor[] {
  const h = R.hessian!(x, theta);
  const hv = h.apply(v);
  h.dispose();
  const vg = R.valueAndGradient!(x, theta);
  const m = R.mixed!(x, theta, v);
  return [R.value(x, theta), R.gradient!(x, theta), vg.value, vg.grad, hv, ...Object.keys(theta).sort().map((k) => m[k])];
}

function inputs(shape: number[], R: Regularizer) {
  const x = tf.tidy(() => tf.mul(0.3, randn(shape, 1)));
  const v = randn(shape, 2);
  const init = R.init();
  const theta: Params = {};
  for (const [k, t] of Object.entries(init)) theta[k] = tf.tidy(() => tf.add(t, tf.mul(0.1, randn(t.shape, 5 + k.length))));
  disposeParams(init);
  return { x, v, theta };
}

/** Names of the kernels `fn` ran. */
async function kernelsOf(fn: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor[]);
  return info.kernels.map((k) => k.name);
}

describeEachBackend('imaging: fused TV kernels', (backend) => {
  it('on wasm the gradient and Hessian product run as WebAssembly SIMD on the backend heap', () => {
    // Node 20 has wasm SIMD and tfjs-backend-wasm 4.x exposes its memory: a silent fallback to the JS loops would show here
    expect(simdOf(tf.backend()) != null).toBe(backend === 'wasm');
  });

  for (const [name, make] of Object.entries(CASES)) {
    it(`${name}: every derivative matches the op form on every shape, without leaks`, () => {
      const R = make();
      for (const shape of SHAPES) {
        const before = tf.memory().numTensors;
        const { x, v, theta } = inputs(shape, R);
        const fused = derivativesOf(R, x, theta, v);
        useFusedTV(false);
        const ops = derivativesOf(R, x, theta, v);
        useFusedTV(true);
        expect(fused.length).toBe(ops.length);
        for (const [i, f] of fused.entries()) {
          expect(f.shape, `${shape} output ${i}`).toEqual(ops[i].shape);
          expect(relErr(f, ops[i]), `${shape} output ${i}`).toBeLessThan(TOL);
        }
        tf.dispose([...fused, ...ops, x, v]);
        disposeParams(theta);
        expect(tf.memory().numTensors).toBe(before);
      }
    });
  }

  it('each derivative is one kernel (and the op form many), so the fused path is really taken', async () => {
    const R = CASES['smoothed TV, learned ν']();
    const { x, v, theta } = inputs([2, 9, 7, 1], R);
    expect(await kernelsOf(() => R.gradient!(x, theta))).toEqual([TV_KERNELS.gradient]);
    expect(await kernelsOf(() => R.value(x, theta))).toEqual([TV_KERNELS.gradient]);
    expect(await kernelsOf(() => Object.values(R.mixed!(x, theta, v)))).toEqual([TV_KERNELS.mixed]);
    const h = R.hessian!(x, theta);
    expect(await kernelsOf(() => h.apply(v))).toEqual([TV_KERNELS.apply]);
    h.dispose();
    useFusedTV(false);
    expect((await kernelsOf(() => R.gradient!(x, theta))).length).toBeGreaterThan(5);
    tf.dispose([x, v]);
    disposeParams(theta);
  });

  it('under a tape the op form runs: the gradient differentiates to the HVP, in x and in θ', () => {
    for (const make of Object.values(CASES)) {
      const R = make();
      const before = tf.memory().numTensors;
      const { x, v, theta } = inputs([2, 10, 9, 1], R);
      // d/dx ⟨∇R(x), v⟩ = ∇²R(x) v and d/dθ ⟨∇R(x), v⟩ = the mixed product, through the gradient
      const throughGradient = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(R.gradient!(z, theta), v)))(x);
      const h = R.hessian!(x, theta);
      const hv = h.apply(v);
      h.dispose();
      expect(relErr(throughGradient, hv)).toBeLessThan(TOL);
      const keys = Object.keys(theta).sort();
      const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(R.gradient!(x, Object.fromEntries(keys.map((k, i) => [k, ts[i]]))), v)))(keys.map((k) => theta[k]));
      const m = R.mixed!(x, theta, v);
      for (const [i, k] of keys.entries()) expect(relErr(grads[i], m[k]), k).toBeLessThan(TOL);
      tf.dispose([throughGradient, hv, x, v, ...grads, ...Object.values(m)]);
      disposeParams(theta);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('a Hessian prepared by the kernel and applied under a tape is symmetric: d/dv ⟨H v, w⟩ = H w', () => {
    const R = CASES['Huber TV']();
    const before = tf.memory().numTensors;
    const { x, v, theta } = inputs([2, 8, 12, 1], R);
    const w = randn(x.shape, 9);
    const h = R.hessian!(x, theta);
    const taped = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(h.apply(u), w)))(v);
    const hw = h.apply(w);
    h.dispose();
    expect(relErr(taped, hw)).toBeLessThan(TOL);
    tf.dispose([taped, hw, x, v, w]);
    disposeParams(theta);
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const xi of [0, 0.1]) {
    it(`denoising problem (ξ = ${xi}): gradient, value and Hessian of the whole energy are one kernel and match the composed op form`, async () => {
      for (const kind of ['smoothed', 'huber'] as const) {
        const before = tf.memory().numTensors;
        const built = tvDenoisingProblem({ nu: 0.3, alpha: 0.2, kind, xi, learnNu: kind === 'smoothed' });
        const { problem, theta } = built;
        const x = tf.tidy(() => tf.mul(0.3, randn([2, 9, 13, 1], 1)));
        const v = randn(x.shape, 2);
        const data = { y: randn(x.shape, 3) };
        const all = () => {
          const vg = problem.valueAndGradient(x, theta, data);
          return [problem.gradient(x, theta, data), vg.value, vg.grad, problem.hvp(x, theta, data, v), problem.energy(x, theta, data)];
        };
        const fused = all();
        expect(await kernelsOf(() => problem.gradient(x, theta, data))).toEqual([TV_KERNELS.gradient]);
        const h = problem.hessianAt(x, theta, data);
        expect(await kernelsOf(() => h.apply(v))).toEqual([TV_KERNELS.apply]);
        h.dispose();
        useFusedTV(false);
        const ops = all();
        useFusedTV(true);
        for (const [i, f] of fused.entries()) expect(relErr(f, ops[i]), `${kind} output ${i}`).toBeLessThan(TOL);
        tf.dispose([...fused, ...ops, x, v, data.y]);
        built.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    });
  }
});

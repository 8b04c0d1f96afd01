import { it, expect } from 'vitest';
import { tf, grad, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { adjointError } from './helpers.js';
import { fft2, ifft2, subsampledFourier, samplingProblem, smoothedTV } from '../src/index.js';
import { resolveTransform } from '../src/operators/fft.js';

/** Direct unitary 2-D DFT of `[h, w]` complex values in float64 (angles reduced mod n: exact). */
function directDft(re: ArrayLike<number>, im: ArrayLike<number>, h: number, w: number, inverse: boolean): [Float64Array, Float64Array] {
  const outRe = new Float64Array(h * w);
  const outIm = new Float64Array(h * w);
  const sign = inverse ? 1 : -1;
  for (let u = 0; u < h; u++) for (let v = 0; v < w; v++) {
    let sr = 0, si = 0;
    for (let j = 0; j < h; j++) for (let k = 0; k < w; k++) {
      const a = sign * 2 * Math.PI * (((u * j) % h) / h + ((v * k) % w) / w);
      const c = Math.cos(a), s = Math.sin(a);
      sr += re[j * w + k] * c - im[j * w + k] * s;
      si += re[j * w + k] * s + im[j * w + k] * c;
    }
    outRe[u * w + v] = sr / Math.sqrt(h * w);
    outIm[u * w + v] = si / Math.sqrt(h * w);
  }
  return [outRe, outIm];
}

/** Max |computed − reference| over the entries and max |reference|. */
function compare(z: tf.Tensor, ref: [Float64Array, Float64Array]): { err: number; scale: number } {
  const d = z.dataSync();
  let err = 0, scale = 0;
  for (let i = 0; i < ref[0].length; i++) {
    err = Math.max(err, Math.abs(d[2 * i] - ref[0][i]), Math.abs(d[2 * i + 1] - ref[1][i]));
    scale = Math.max(scale, Math.abs(ref[0][i]), Math.abs(ref[1][i]));
  }
  return { err, scale };
}

describeEachBackend('radix-2 FFT', (backend) => {
  const sizes: Array<[number, number]> = backend === 'cpu' ? [[8, 8], [4, 16]] : [[8, 8], [16, 32], [64, 64]];

  it('agrees with a float64 direct DFT to float32 rounding, and with the matmul DFT', () => {
    for (const [h, w] of sizes) {
      const z = randn([1, h, w, 2], h + w);
      const values = z.dataSync();
      const re = Array.from({ length: h * w }, (_, i) => values[2 * i]);
      const im = Array.from({ length: h * w }, (_, i) => values[2 * i + 1]);
      for (const inverse of [false, true]) {
        const ref = directDft(re, im, h, w, inverse);
        const viaFft = inverse ? ifft2(z, { transform: 'fft' }) : fft2(z, { transform: 'fft' });
        const viaDft = inverse ? ifft2(z, { transform: 'dft' }) : fft2(z, { transform: 'dft' });
        const f = compare(viaFft, ref);
        const d = compare(viaDft, ref);
        console.log(`[${backend}] ${h}×${w} ${inverse ? 'inverse' : 'forward'}: FFT max error ${(f.err / f.scale).toExponential(2)}, matmul DFT ${(d.err / d.scale).toExponential(2)} (relative to max |Z| ${f.scale.toFixed(2)})`);
        // The FFT runs in doubles on float32 inputs (exact), so its only error is the rounding
        // of each output entry to float32: ≤ 2⁻²⁴ |Z_k| ≤ 2⁻²⁴ max|Z|; 2⁻²³ leaves the float64
        // reference's own ~1e-14 round-off room.
        expect(f.err).toBeLessThanOrEqual(2 ** -23 * f.scale);
        // The matmul DFT accumulates in float32: two passes of h- and w-term sums, error
        // ≲ √(h + w) · 6e-8 · max|Z| ≈ 7e-7 at 64²; 1e-5 leaves room for unlucky round-off.
        expect(d.err).toBeLessThan(1e-5 * d.scale);
        tf.dispose([viaFft, viaDft]);
      }
      // real input: the same as its complex pair with zero imaginary part
      const x = tf.slice(z, [0, 0, 0, 0], [-1, -1, -1, 1]);
      const fx = fft2(x, { transform: 'fft' });
      const ref = directDft(re, new Float64Array(h * w), h, w, false);
      const r = compare(fx, ref);
      expect(r.err).toBeLessThanOrEqual(2 ** -23 * r.scale);
      tf.dispose([z, x, fx]);
    }
  });

  it('fft2 and ifft2 are each other\'s adjoint and inverse; subsampledFourier with the FFT has adjoint Re Fᴴ(W ⊙ M ⊙ ·)', () => {
    const [h, w] = sizes[1];
    const before = tf.memory().numTensors;
    const z = randn([2, h, w, 2], 1);
    const y = randn([2, h, w, 2], 2);
    // ⟨F z, y⟩ = ⟨z, Fᴴ y⟩ for the real inner product on pairs; inner products in doubles, so
    // the mismatch is the output rounding: ~1e-7 (same bound as the operators' adjoint tests)
    expect(adjointError((a) => fft2(a, { transform: 'fft' }), (b) => ifft2(b, { transform: 'fft' }), z, y)).toBeLessThan(1e-5);
    const back = tf.tidy(() => ifft2(fft2(z, { transform: 'fft' }), { transform: 'fft' }));
    expect(relErr(back, z)).toBeLessThan(1e-6);
    const x = randn([2, h, w, 1], 3);
    const mask = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([h, w], 0, 1, 'float32', 4), 0.5), 'float32'));
    const weights = tf.randomUniform([h, w], 0.5, 2, 'float32', 5);
    for (const options of [{ transform: 'fft' as const }, { transform: 'fft' as const, weights }]) {
      const A = subsampledFourier(mask, options);
      const B = subsampledFourier(mask, { ...options, transform: 'dft' });
      expect(adjointError((a) => A.apply(a), (b) => A.adjoint(b), x, y)).toBeLessThan(1e-5);
      const [ax, bx, aty, bty] = [A.apply(x), B.apply(x), A.adjoint(y), B.adjoint(y)];
      expect(relErr(ax, bx)).toBeLessThan(1e-5); // the matmul DFT's float32 error, see above
      expect(relErr(aty, bty)).toBeLessThan(1e-5);
      tf.dispose([ax, bx, aty, bty]);
      A.dispose();
      B.dispose();
    }
    tf.dispose([z, y, back, x, mask, weights]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gradients are the exact adjoints (first and second order), without leaks', () => {
    const [h, w] = sizes[0];
    const before = tf.memory().numTensors;
    const x = randn([2, h, w, 1], 6);
    const z = randn([2, h, w, 2], 7);
    const c = randn([2, h, w, 2], 8);
    // ∇_z ⟨c, F z⟩ = Fᴴ c on pairs; ∇_x ⟨c, F x⟩ = Re Fᴴ c for a real x; ∇ ⟨c, Fᴴ z⟩ = F c
    const cases: Array<[tf.Tensor, (t: tf.Tensor, o: { transform: 'fft' | 'dft' }) => tf.Tensor]> = [
      [z, (t, o) => fft2(t, o)],
      [x, (t, o) => fft2(t, o)],
      [z, (t, o) => ifft2(t, o)],
    ];
    for (const [input, f] of cases) {
      const g = grad((t) => tf.sum(tf.mul(c, f(t, { transform: 'fft' }))), input);
      const ref = grad((t) => tf.sum(tf.mul(c, f(t, { transform: 'dft' }))), input); // tfjs autodiff of the matmuls
      expect(relErr(g, ref)).toBeLessThan(1e-5);
      tf.dispose([g, ref]);
    }
    // second order: the HVP of ½‖F x‖²·weights by autodiff through the FFT's own gradient
    const s2 = tf.randomUniform([1, h, w, 1], 0.1, 1, 'float32', 9);
    const energy = (o: { transform: 'fft' | 'dft' }) => (t: tf.Tensor) => tf.mul(0.5, tf.sum(tf.mul(s2, tf.square(fft2(t, o)))));
    const v = randn([2, h, w, 1], 10);
    const hv = (o: { transform: 'fft' | 'dft' }) => grad((t) => tf.sum(tf.mul(grad(energy(o), t), v)), x);
    const [h1, h2] = [hv({ transform: 'fft' }), hv({ transform: 'dft' })];
    const exact = tf.tidy(() => tf.slice(ifft2(tf.mul(s2, fft2(v, { transform: 'fft' })), { transform: 'fft' }), [0, 0, 0, 0], [-1, -1, -1, 1]));
    expect(relErr(h1, exact)).toBeLessThan(1e-5);
    expect(relErr(h1, h2)).toBeLessThan(1e-5);
    tf.dispose([x, z, c, s2, v, h1, h2, exact]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('samplingProblem: gradient, HVP and mixed product agree between FFT and DFT (autodiff and analytic)', () => {
    const [n] = sizes[0];
    const before = tf.memory().numTensors;
    for (const derivatives of [true, false]) {
      const make = (transform: 'fft' | 'dft') =>
        samplingProblem({ height: n, width: n, layout: 'free', parametrisation: 'ratio', regularizer: smoothedTV({ nu: 0.1, alpha: 0.05 }), xi: 1e-3, derivatives, transform });
      const [a, b] = [make('fft'), make('dft')];
      const theta: Params = { sampling: tf.randomUniform([n, n], 0.2, 0.8, 'float32', 11) };
      const clean = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 12))));
      const data = { y: tf.tidy(() => tf.add(a.kspace(clean), tf.mul(0.05, randn([2, n, n, 2], 13)))) };
      const x = randn([2, n, n, 1], 14);
      const v = randn([2, n, n, 1], 15);
      const [g1, g2] = [a.problem.gradient(x, theta, data), b.problem.gradient(x, theta, data)];
      const [h1, h2] = [a.problem.hvp(x, theta, data, v), b.problem.hvp(x, theta, data, v)];
      const [m1, m2] = [a.problem.mixed(x, theta, data, v), b.problem.mixed(x, theta, data, v)];
      // the same derivatives with the transforms' float32 errors (≤ 1e-5, above): 1e-4
      expect(relErr(g1, g2)).toBeLessThan(1e-4);
      expect(relErr(h1, h2)).toBeLessThan(1e-4);
      expect(relErr(m1.sampling, m2.sampling)).toBeLessThan(1e-4);
      tf.dispose([g1, g2, h1, h2, theta.sampling, clean, data.y, x, v]);
      disposeParams(m1);
      disposeParams(m2);
      a.dispose();
      b.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("'auto' picks the FFT for power-of-two sides on this backend; 'fft' on other sizes fails naming the option and leaks nothing", () => {
    expect(resolveTransform('t', 'auto', 16, 32)).toBe('fft');
    expect(resolveTransform('t', 'auto', 12, 16)).toBe('dft');
    expect(resolveTransform('t', 'dft', 16, 16)).toBe('dft');
    const before = tf.memory().numTensors;
    const z = randn([1, 6, 8, 2], 16);
    expect(() => fft2(z, { transform: 'fft' })).toThrow(/fft2: option transform 'fft' needs power-of-two sides.*use transform 'dft'/);
    const mask = tf.ones([12, 16]);
    expect(() => subsampledFourier(mask, { transform: 'fft' })).toThrow(/subsampledFourier: option transform 'fft'/);
    expect(() => fft2(z, { transform: 'fast' } as never)).toThrow(/transform/);
    const auto = fft2(z); // 6×8: the DFT
    tf.dispose([z, mask, auto]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

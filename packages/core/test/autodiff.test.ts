import { it, expect } from 'vitest';
import { tf, hvp, grad, vjp, jvp, mixedProduct, valueAndGradParams, defineProblem } from '../src/index.js';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';

/*
 * Tolerances: float32 has ~7 significant digits. Central differences of a gradient with
 * step h have truncation error O(h²) and round-off O(1e-7/h); at h = 1e-2 both are ~1e-4
 * relative on these O(1) problems, so we assert 2e-3. Closed-form comparisons assert 1e-4.
 */
const H = 1e-2;
// With the five-point stencil the truncation error is O(h⁴) ≈ 1e-8 and round-off dominates.
const FD_TOL = 2e-3;

/** Five-point central difference of g along v (truncation O(h⁴)): ≈ g'(x) v. */
function fivePoint<T extends tf.Tensor | number>(g: (t: number) => T): T {
  return tf.tidy(() => {
    const [a, b, c, d] = [g(2 * H), g(H), g(-H), g(-2 * H)];
    if (typeof a === 'number') return ((-(a as number) + 8 * (b as number) - 8 * (c as number) + (d as number)) / (12 * H)) as T;
    return tf.div(tf.addN([tf.neg(a as tf.Tensor), tf.mul(8, b as tf.Tensor), tf.mul(-8, c as tf.Tensor), d as tf.Tensor]), 12 * H) as T;
  });
}

/** Finite-difference Hessian–vector product from exact first-order gradients. */
function fdHvp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return fivePoint((t) => grad(f, tf.add(x, tf.mul(v, t))));
}

// Every op the library's energies rely on, each inside a scalar energy.
const ENERGIES: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  'log1p(exp x)': (x) => tf.sum(tf.log1p(tf.exp(x))),
  'exp|x|': (x) => tf.sum(tf.exp(tf.abs(tf.add(x, 0.3)))),
  tanh: (x) => tf.sum(tf.mul(x, tf.tanh(x))),
  sigmoid: (x) => tf.sum(tf.mul(tf.square(x), tf.sigmoid(x))),
  'logcosh via exp': (x) => tf.sum(tf.log(tf.add(tf.exp(x), tf.exp(tf.neg(x))))),
  softplus: (x) => tf.sum(tf.softplus(tf.mul(2, x))),
  'sqrt(x²+ε²)': (x) => tf.sum(tf.sqrt(tf.add(tf.square(x), 0.01))),
  'rsqrt / pow': (x) => tf.sum(tf.add(tf.rsqrt(tf.add(tf.square(x), 1)), tf.pow(tf.add(tf.square(x), 1), 1.5))),
  'pow with tensor exponent': (x) => tf.sum(tf.pow(tf.add(tf.square(x), 1), tf.tanh(x))),
  'div / log': (x) => tf.sum(tf.div(tf.log(tf.add(tf.square(x), 2)), tf.add(tf.abs(x), 1))),
  elu: (x) => tf.sum(tf.square(tf.elu(x))),
  softmax: (x) => tf.sum(tf.mul(tf.softmax(tf.reshape(x, [3, 4])), tf.reshape(x, [3, 4]))),
  logSumExp: (x) => tf.sum(tf.logSumExp(tf.reshape(x, [3, 4]), 1)),
  'unstack (one slice)': (x) => tf.sum(tf.exp(tf.unstack(tf.reshape(x, [1, 12]))[0])),
  logSigmoid: (x) => tf.sum(tf.mul(x, tf.logSigmoid(x))),
  'relu / maximum': (x) => tf.sum(tf.add(tf.square(tf.relu(x)), tf.square(tf.maximum(x, 0.1)))),
  'smoothed TV (conv2d)': (x) => {
    const img = tf.reshape(x, [1, 3, 4, 1]);
    const kernel = tf.tensor4d([-1, 1, 0.5, -0.5], [2, 2, 1, 1]);
    return tf.sum(tf.sqrt(tf.add(tf.square(tf.conv2d(img as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same')), 1e-2)));
  },
};

describeEachBackend('second derivatives', () => {
  for (const [name, f] of Object.entries(ENERGIES)) {
    it(`hvp of ${name} matches central differences`, () => {
      const x = randn([12], 1);
      const v = randn([12], 2);
      const hv = hvp(f, x, v);
      const fd = fdHvp(f, x, v);
      expect(relErr(hv, fd)).toBeLessThan(FD_TOL);
      tf.dispose([x, v, hv, fd]);
    });
  }

  it('hvp of Σ log1p(exp x) matches the closed form σ(x)(1−σ(x))v', () => {
    const x = randn([50], 3);
    const v = randn([50], 4);
    const hv = hvp((z) => tf.sum(tf.log1p(tf.exp(z))), x, v);
    const exact = tf.tidy(() => {
      const s = tf.sigmoid(x);
      return tf.mul(tf.mul(s, tf.sub(1, s)), v);
    });
    expect(relErr(hv, exact)).toBeLessThan(1e-4);
    tf.dispose([x, v, hv, exact]);
  });

  it('third derivative through exp is right (Σ exp x: d³ = exp x)', () => {
    const x = randn([5], 5);
    const v = tf.ones([5]);
    const d3 = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(hvp((w) => tf.sum(tf.exp(w)), z, v), v)))(x);
    expect(relErr(d3, tf.exp(x))).toBeLessThan(1e-4);
  });
});

describeEachBackend('first-order primitives', () => {
  it('vjp and jvp agree with an explicit Jacobian', () => {
    const A = randn([4, 6], 7);
    const f = (x: tf.Tensor) => tf.tanh(tf.matMul(A, tf.reshape(x, [6, 1])).reshape([4]));
    const x = randn([6], 8);
    const u = randn([6], 9);
    const w = randn([4], 10);
    const J = tf.tidy(() => {
      const d = tf.sub(1, tf.square(f(x)));
      return tf.mul(tf.reshape(d, [4, 1]), A);
    });
    const Ju = jvp(f, x, u);
    const Jtw = vjp(f, x, w);
    expect(relErr(Ju, tf.matMul(J, tf.reshape(u, [6, 1])).reshape([4]))).toBeLessThan(1e-5);
    expect(relErr(Jtw, tf.matMul(J, tf.reshape(w, [4, 1]), true).reshape([6]))).toBeLessThan(1e-5);
  });

  it('mixed product ∇θ⟨∇xΦ, v⟩ matches finite differences in θ', () => {
    const energy = (x: tf.Tensor, th: Record<string, tf.Tensor>) =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(x))), tf.mul(tf.exp(th.a), tf.sum(tf.log1p(tf.exp(tf.mul(th.w, x))))));
    const x = randn([8], 11);
    const v = randn([8], 12);
    const theta = { a: tf.scalar(0.2), w: randn([8], 13) };
    const m = mixedProduct(energy, x, theta, v);
    for (const key of ['a', 'w'] as const) {
      const dir = randn(theta[key].shape, 14);
      const inner = (t: tf.Tensor) =>
        tf.tidy(() => tf.sum(tf.mul(grad((z) => energy(z, { ...theta, [key]: t }), x), v)).dataSync()[0]);
      const fd = fivePoint((t) => inner(tf.add(theta[key], tf.mul(dir, t))));
      const an = tf.sum(tf.mul(m[key], dir)).dataSync()[0];
      expect(Math.abs(an - fd)).toBeLessThan(FD_TOL * Math.max(1, Math.abs(fd)));
    }
  });

  it('valueAndGradParams gives zero for leaves the function ignores', () => {
    const { value, grad: g } = valueAndGradParams((p) => tf.sum(tf.square(p.a)), { a: tf.ones([2]), b: tf.ones([3]) });
    expect(value.dataSync()[0]).toBe(2);
    expect(Array.from(g.b.dataSync())).toEqual([0, 0, 0]);
  });

  it('gradients with respect to conv2d filters work (Conv2DBackpropFilter)', () => {
    for (const [stride, pad] of [[1, 'same'], [1, 'valid'], [2, 'same'], [2, 'valid']] as const) {
      const x = randn([2, 9, 9, 3], 20) as tf.Tensor4D;
      const w = randn([3, 3, 3, 4], 21) as tf.Tensor4D;
      const f = (k: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, k as tf.Tensor4D, stride, pad)));
      const g = grad(f, w);
      const dir = randn(w.shape, 22);
      const fd = fivePoint((t) => f(tf.add(w, tf.mul(dir, t))).dataSync()[0]);
      const an = tf.sum(tf.mul(g, dir)).dataSync()[0];
      expect(Math.abs(an - fd) / Math.abs(fd)).toBeLessThan(FD_TOL);
    }
  });

  it('mixed product w.r.t. conv filters of a Field-of-Experts energy matches finite differences', () => {
    const y = randn([1, 8, 8, 1], 30);
    const energy = (x: tf.Tensor, th: Record<string, tf.Tensor>) => {
      const r = tf.conv2d(x as tf.Tensor4D, th.k as tf.Tensor4D, 1, 'same');
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, y)))), tf.sum(tf.log1p(tf.square(r))));
    };
    const x = randn([1, 8, 8, 1], 31);
    const v = randn([1, 8, 8, 1], 32);
    const theta = { k: tf.mul(randn([3, 3, 1, 2], 33), 0.3) };
    const m = mixedProduct(energy, x, theta, v);
    const dir = randn([3, 3, 1, 2], 34);
    const inner = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(grad((z) => energy(z, { k: t }), x), v)).dataSync()[0]);
    const fd = fivePoint((t) => inner(tf.add(theta.k, tf.mul(dir, t))));
    const an = tf.sum(tf.mul(m.k, dir)).dataSync()[0];
    expect(Math.abs(an - fd) / Math.abs(fd)).toBeLessThan(FD_TOL);
  });

  it('primitives are safe inside a tf.customGrad gradient function', () => {
    const problem = defineProblem({ energy: (x, th) => tf.sum(tf.mul(th.s as tf.Tensor, tf.exp(x))) });
    const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return {
        value: tf.sum(tf.square(x)),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          // A nested tf.grad here would null the outer tape without the save/restore.
          const h = problem.hvp(saved[0], { s: tf.scalar(1) }, {}, tf.onesLike(saved[0]));
          return tf.mul(dy, tf.add(tf.mul(2, saved[0]), tf.mul(0, h)));
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const x = randn([4], 40);
    const g = tf.grad((z: tf.Tensor) => tf.mul(f(z) as tf.Scalar, 3))(x);
    expect(relErr(g, tf.mul(6, x))).toBeLessThan(1e-6);
  });

  it('bad inputs get errors that name the argument', () => {
    expect(() => hvp((x) => tf.sum(x), tf.ones([3]), tf.ones([4]))).toThrow(/direction v has shape/);
    expect(() => grad((x) => x as tf.Scalar, tf.ones([3]))).toThrow(/must return a scalar/);
    expect(() => defineProblem({} as never)).toThrow(/'energy' must be a function/);
    expect(() => defineProblem({ energy: (x) => tf.sum(x), strongConvexity: -1 })).toThrow(/strongConvexity/);
  });

  it('differentiates at x even when x is the very tensor the function reads as data (x = data.y)', () => {
    // Φ(x) = ½‖x − y‖² + (a/4)Σx⁴ + ⟨c, y⟩·Σx: ∇Φ = x − y + a x³ + ⟨c, y⟩, ∇²Φ v = (1 + 3a x²) ⊙ v,
    // ∇_a⟨∇Φ, v⟩ = Σ x³ v; tfjs tracks tensors by identity, so at x = y (a denoising solve's start) the
    // data term's identity Hessian used to vanish (1.2 for 2.2). Closed forms in float64; float32 O(1)
    // values, so 1e-5 relative.
    const yv = [0.5, -1.2, 2.0];
    const y = tf.tensor1d(yv);
    const c = tf.tensor1d([0.3, 0.1, -0.2]);
    const a = tf.scalar(0.1);
    const v = tf.tensor1d([1, -2, 0.5]);
    const f = (z: tf.Tensor, th: { a: tf.Tensor } = { a }) => tf.addN([tf.mul(0.5, tf.sum(tf.square(tf.sub(z, y)))), tf.mul(tf.div(th.a, 4), tf.sum(tf.pow(z, 4))), tf.mul(tf.sum(tf.mul(c, y)), tf.sum(z))]);
    const before = tf.memory().numTensors;
    const cy = 0.3 * 0.5 + 0.1 * -1.2 - 0.2 * 2.0;
    const vv = [1, -2, 0.5];
    const wantGrad = yv.map((x) => 0.1 * x ** 3 + cy);
    const wantHvp = yv.map((x, i) => (1 + 0.3 * x * x) * vv[i]);
    const wantMixed = yv.reduce((s, x, i) => s + x ** 3 * vv[i], 0);
    const close = (got: tf.Tensor, want: number[]) => expect(Math.hypot(...Array.from(got.dataSync(), (g, i) => g - want[i])) / Math.hypot(...want)).toBeLessThan(1e-5);
    for (const x of [y, y.clone()]) {
      const g = grad(f, x);
      const h = hvp(f, x, v);
      const gradMap = (z: tf.Tensor) => tf.add(tf.sub(z, y), tf.mul(0.1, tf.pow(z, 3)));
      const jv = jvp(gradMap, x, v);
      const vj = vjp(gradMap, x, v);
      const m = mixedProduct((z, th) => f(z, th as { a: tf.Tensor }), x, { a }, v);
      close(g, wantGrad);
      close(h, wantHvp);
      close(jv, wantHvp);
      close(vj, wantHvp);
      expect(Math.abs(m.a.dataSync()[0] - wantMixed) / Math.abs(wantMixed)).toBeLessThan(1e-5);
      tf.dispose([g, h, jv, vj, m.a]);
      if (x !== y) x.dispose();
    }
    // and through a problem's hvp (the autodiff route of defineProblem)
    const problem = defineProblem<{ y: tf.Tensor }>({ name: 'aliased', energy: (z, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(z, d.y)))), tf.mul(tf.div(th.a, 4), tf.sum(tf.pow(z, 4)))) });
    const hp = problem.hvp(y, { a }, { y }, v);
    close(hp, wantHvp);
    hp.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, c, a, v]);
  });

  it('leaves no tensors behind', () => {
    const x = randn([6], 50);
    const v = randn([6], 51);
    const f = (z: tf.Tensor) => tf.sum(tf.tanh(tf.exp(z)));
    const a = tf.scalar(1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.dispose([hvp(f, x, v), grad(f, x), jvp((z) => tf.exp(z), x, v), vjp((z) => tf.exp(z), x, v)]);
      const m = mixedProduct((z, th) => tf.sum(tf.mul(th.a, tf.exp(z))), x, { a }, v);
      tf.dispose(Object.values(m));
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

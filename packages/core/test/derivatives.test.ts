import { it, expect } from 'vitest';
import { tf, defineProblem } from '../src/index.js';
import type { Params, HessianAt } from '../src/index.js';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';

/*
 * Φ(x; θ, y) = ½‖x − y‖² + (e^a/2)‖x‖² + Σ log(1 + (b x)²): every derivative in closed form.
 * ∇Φ = x − y + e^a x + 2b²x/(1 + b²x²); ∇²Φ = diag(1 + e^a + 2b²(1 − b²x²)/(1 + b²x²)²);
 * ∇_a⟨∇Φ, v⟩ = e^a⟨x, v⟩; ∇_b⟨∇Φ, v⟩ = Σ 4b x v/(1 + b²x²)².
 * Tolerances: supplied and autodiff derivatives are float32 evaluations of the same O(1)
 * quantities in different op orders: 1e-5 relative is ~100 ulp.
 */
const TOL = 1e-5;
const energy = (x: tf.Tensor, th: Params, d: { y: tf.Tensor }) => tf.tidy(() => {
  const bx2 = tf.square(tf.mul(th.b, x));
  return tf.addN([tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.mul(0.5, tf.exp(th.a)), tf.sum(tf.square(x))), tf.sum(tf.log1p(bx2))]);
});
const gradient = (x: tf.Tensor, th: Params, d: { y: tf.Tensor }) => tf.tidy(() => {
  const b2 = tf.square(th.b);
  return tf.addN([tf.sub(x, d.y), tf.mul(tf.exp(th.a), x), tf.div(tf.mul(tf.mul(2, b2), x), tf.add(1, tf.mul(b2, tf.square(x))))]);
});
let prepared = 0;
const hessian = (x: tf.Tensor, th: Params): HessianAt => {
  prepared += 1;
  const diagonal = tf.tidy(() => {
    const u = tf.mul(tf.square(th.b), tf.square(x));
    return tf.addN([tf.onesLike(x), tf.mul(tf.exp(th.a), tf.onesLike(x)), tf.div(tf.mul(tf.mul(2, tf.square(th.b)), tf.sub(1, u)), tf.square(tf.add(1, u)))]);
  });
  return { apply: (v) => tf.mul(diagonal, v), dispose: () => diagonal.dispose() };
};
const mixed = (x: tf.Tensor, th: Params, _d: { y: tf.Tensor }, v: tf.Tensor): Params => tf.tidy(() => ({
  a: tf.mul(tf.exp(th.a), tf.sum(tf.mul(x, v))),
  b: tf.sum(tf.div(tf.mul(tf.mul(4, th.b), tf.mul(x, v)), tf.square(tf.add(1, tf.mul(tf.square(th.b), tf.square(x)))))),
}));

describeEachBackend('structured derivatives (defineProblem derivatives / verify)', () => {
  const setup = () => ({ x: randn([3, 4], 1), v: randn([3, 4], 2), data: { y: randn([3, 4], 3) }, theta: { a: tf.scalar(-0.5), b: tf.scalar(1.3) } as Params });
  const free = (s: ReturnType<typeof setup>) => tf.dispose([s.x, s.v, s.data.y, s.theta.a, s.theta.b]);

  it('supplied gradient, Hessian and mixed product are used, agree with autodiff, and verify accepts them', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    const auto = defineProblem({ energy });
    const fast = defineProblem({ energy, derivatives: { gradient, hessian, mixed }, verify: true });
    expect(fast.supplied).toEqual({ gradient: true, hessian: true, mixed: true });
    expect(auto.supplied).toEqual({ gradient: false, hessian: false, mixed: false });
    const pairs: Array<[tf.Tensor, tf.Tensor]> = [
      [fast.gradient(s.x, s.theta, s.data), auto.gradient(s.x, s.theta, s.data)],
      [fast.hvp(s.x, s.theta, s.data, s.v), auto.hvp(s.x, s.theta, s.data, s.v)],
    ];
    const [mf, ma] = [fast.mixed(s.x, s.theta, s.data, s.v), auto.mixed(s.x, s.theta, s.data, s.v)];
    pairs.push([mf.a, ma.a], [mf.b, ma.b]);
    const vg = fast.valueAndGradient(s.x, s.theta, s.data);
    const va = auto.valueAndGradient(s.x, s.theta, s.data);
    pairs.push([vg.value, va.value], [vg.grad, va.grad]);
    for (const [a, b] of pairs) expect(relErr(a, b)).toBeLessThan(TOL);
    tf.dispose(pairs.flat());
    expect(tf.memory().numTensors).toBe(before);
    free(s);
  });

  it('hessianAt prepares the per-x part once for many products and frees it on dispose', () => {
    const s = setup();
    const fast = defineProblem({ energy, derivatives: { gradient, hessian } });
    const before = tf.memory().numTensors;
    prepared = 0;
    const h = fast.hessianAt(s.x, s.theta, s.data);
    for (let i = 0; i < 5; i++) h.apply(s.v).dispose();
    h.dispose();
    expect(prepared).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    free(s);
  });

  it('with only a gradient, HVP and mixed product come from one backward pass through it and match autodiff of the energy', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    const auto = defineProblem({ energy });
    const partly = defineProblem({ energy, derivatives: { gradient } });
    expect(partly.supplied).toEqual({ gradient: true, hessian: false, mixed: false });
    const h = [partly.hvp(s.x, s.theta, s.data, s.v), auto.hvp(s.x, s.theta, s.data, s.v)];
    expect(relErr(h[0], h[1])).toBeLessThan(TOL);
    const [mp, ma] = [partly.mixed(s.x, s.theta, s.data, s.v), auto.mixed(s.x, s.theta, s.data, s.v)];
    expect(relErr(mp.a, ma.a)).toBeLessThan(TOL);
    expect(relErr(mp.b, ma.b)).toBeLessThan(TOL);
    tf.dispose([...h, mp.a, mp.b, ma.a, ma.b]);
    expect(tf.memory().numTensors).toBe(before);
    free(s);
  });

  it('a supplied one-shot hvp is what problem.hvp uses (hessianAt keeps the prepared form), and verify checks it', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    let shots = 0;
    // the diagonal Hessian applied without preparing it: H v = (1 + e^a + 2b²(1 − u)/(1 + u)²) ⊙ v, u = b²x²
    const hvp = (x: tf.Tensor, th: Params, _d: { y: tf.Tensor }, v: tf.Tensor) => {
      shots += 1;
      return tf.tidy(() => {
        const u = tf.mul(tf.square(th.b), tf.square(x));
        return tf.mul(tf.addN([tf.onesLike(x), tf.mul(tf.exp(th.a), tf.onesLike(x)), tf.div(tf.mul(tf.mul(2, tf.square(th.b)), tf.sub(1, u)), tf.square(tf.add(1, u)))]), v);
      });
    };
    const auto = defineProblem({ energy });
    const fast = defineProblem({ energy, derivatives: { gradient, hessian, hvp }, verify: true });
    prepared = 0;
    const [a, b] = [fast.hvp(s.x, s.theta, s.data, s.v), auto.hvp(s.x, s.theta, s.data, s.v)];
    expect(relErr(a, b)).toBeLessThan(TOL);
    // verify's one check + the product itself; the Hessian was not prepared for either
    expect([shots, prepared]).toEqual([2, 0]);
    const h = fast.hessianAt(s.x, s.theta, s.data);
    h.apply(s.v).dispose();
    h.dispose();
    expect(prepared).toBe(2); // verify's check of the Hessian, then the one prepared
    const bad = defineProblem({ energy, name: 'twice', derivatives: { hvp: (x, th, d, v) => tf.tidy(() => tf.mul(2, hvp(x, th, d, v))) }, verify: true });
    expect(() => bad.hvp(s.x, s.theta, s.data, s.v)).toThrow(/twice: the supplied derivatives\.hvp disagrees with autodiff/);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    free(s);
  });

  it('verify rejects a wrong derivative with an error naming it, once, without leaking', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    // the last term's factor 2 dropped: a plausible slip
    const wrongGradient = (x: tf.Tensor, th: Params, d: { y: tf.Tensor }) => tf.tidy(() => {
      const b2 = tf.square(th.b);
      return tf.addN([tf.sub(x, d.y), tf.mul(tf.exp(th.a), x), tf.div(tf.mul(b2, x), tf.add(1, tf.mul(b2, tf.square(x))))]);
    });
    const bad = defineProblem({ energy, name: 'slip', derivatives: { gradient: wrongGradient }, verify: true });
    expect(() => bad.gradient(s.x, s.theta, s.data)).toThrow(/slip: the supplied derivatives\.gradient disagrees with autodiff.*relative difference .* > verify tol 0\.001/);
    const badMixed = defineProblem({ energy, derivatives: { mixed: (x, th, d, v) => ({ ...mixed(x, th, d, v), a: tf.scalar(0) }) }, verify: { tol: 1e-4 } });
    expect(() => badMixed.mixed(s.x, s.theta, s.data, s.v)).toThrow(/derivatives\.mixed disagrees/);
    const badHessian = defineProblem({ energy, derivatives: { hessian: (x, th) => { const h = hessian(x, th); return { apply: (v) => tf.mul(2, h.apply(v)), dispose: h.dispose }; } }, verify: true });
    expect(() => badHessian.hvp(s.x, s.theta, s.data, s.v)).toThrow(/derivatives\.hessian disagrees/);
    // without verify the wrong gradient is simply used (verify is the check, and it is opt-in)
    const unchecked = defineProblem({ energy, derivatives: { gradient: wrongGradient } });
    unchecked.gradient(s.x, s.theta, s.data).dispose();
    expect(tf.memory().numTensors).toBe(before);
    free(s);
  });

  it('rejects a misspelt derivatives key with a suggestion', () => {
    expect(() => defineProblem({ energy, derivatives: { gradeint: gradient } as never })).toThrow(/gradeint.*gradient/);
  });
});

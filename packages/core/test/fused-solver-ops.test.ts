import { it, expect, afterEach } from 'vitest';
import { tf, defineProblem, gradientDescent, accelerated, lbfgs, cg, gmres, richardson, checkFinite, normNumber, type InnerSolver, type LinearSolver, type MatVec } from '../src/index.js';
import { axpy, cgUpdate, combine, dotFloat32Number, dotNumber, gramSchmidt, heapAllFinite, squaredNormNumber, useFusedSolverOps } from '../src/internal/fused-ops.js';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';

/*
 * The fused solver operations (internal/fused-ops.ts) against the op form they replace.
 * - Updates (x + a·p, CG's x + αp, r − αAp, r + βp) are compared EXACTLY: both do the same
 *   float32 multiply, then the same float32 add, in the same order (wasm has no fused
 *   multiply-add, and the cpu backend rounds each product to float32 before the sum), so
 *   the bits must agree.
 * - Reductions are float64 sums of exact float32 products (a product of two float32 values
 *   is exact in float64): against a float64 JS reference they agree to ~n·2⁻⁵³ relative, so
 *   1e-12 for n ≤ 10⁵; against tfjs's float32 Sum they differ by its round-off, bounded by
 *   n·ε₃₂·Σ|aᵢbᵢ| (the textbook bound for recursive summation).
 */
const EPS32 = 1.1920929e-7;

const values = (t: tf.Tensor) => Array.from(t.dataSync());
const dot64 = (a: tf.Tensor, b: tf.Tensor) => { const [va, vb] = [a.dataSync(), b.dataSync()]; let s = 0; for (let i = 0; i < va.length; i++) s += va[i] * vb[i]; return s; };
const absDot64 = (a: tf.Tensor, b: tf.Tensor) => { const [va, vb] = [a.dataSync(), b.dataSync()]; let s = 0; for (let i = 0; i < va.length; i++) s += Math.abs(va[i] * vb[i]); return s; };

afterEach(() => {
  useFusedSolverOps(true);
});

describeEachBackend('fused solver operations', (backend) => {
  // 4 × 33 × 31: not a multiple of 4 floats per row, so the SIMD loops' scalar tails run
  const shape = [4, 33, 31, 1];

  it('x + a·p equals the op form bit for bit, and runs as one kernel', async () => {
    const [x, p] = [randn(shape, 1), randn(shape, 2)];
    const before = tf.memory().numTensors;
    const prof = await tf.profile(() => axpy(x, -0.37, p));
    expect(prof.kernels.map((k) => k.name)).toEqual(['BilevelAxpy']);
    const fused = prof.result as tf.Tensor;
    const reference = tf.tidy(() => tf.sub(x, tf.mul(p, 0.37)));
    expect(values(fused)).toEqual(values(reference));
    tf.dispose([fused, reference]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, p]);
  });

  it('the float32 dot (L-BFGS\'s sᵀy, yᵀy, gᵀd) equals the op form Sum(Multiply) bit for bit, off the heap with no kernel on wasm', async () => {
    const [a, b] = [randn(shape, 3), tf.tidy(() => tf.add(0.5, randn(shape, 4)))];
    const odd = [randn([37], 5), randn([37], 6)];
    const nan = tf.tensor([1, Number.NaN, 2, 3, 4]);
    const before = tf.memory().numTensors;
    const op = (u: tf.Tensor, v: tf.Tensor) => {
      const t = tf.tidy(() => tf.sum(tf.mul(u, v)));
      const value = t.dataSync()[0];
      t.dispose();
      return value;
    };
    for (const [u, v] of [[a, b], [a, a], [b, b], odd, [nan, nan]]) {
      expect(dotFloat32Number(u, v)).toEqual(op(u, v));
      const prof = await tf.profile(() => { dotFloat32Number(u, v); return [] as tf.Tensor[]; });
      expect(prof.kernels.map((k) => k.name)).toEqual(backend === 'wasm' ? [] : ['Multiply', 'Sum']);
    }
    // the float32 sum in index order, not a float64 one: they differ at n ≈ 4·10³
    if (backend === 'wasm') expect(dotFloat32Number(a, b)).not.toBe(dot64(a, b));
    useFusedSolverOps(false);
    expect(dotFloat32Number(a, b)).toBe(op(a, b));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, ...odd, nan]);
  });

  it("GMRES's Gram–Schmidt and x + Σ aᵢvᵢ run as one kernel each and equal a dot and an axpy per vector bit for bit", async () => {
    const w = randn(shape, 31);
    // unit vectors (not orthogonal to each other: the kernel does not assume it)
    const basis = [32, 33, 34, 35].map((seed) => tf.tidy(() => { const v = randn(shape, seed); return tf.div(v, tf.norm(v)); }));
    const a = [0.5, -1.25, 3e-3, 7];
    const before = tf.memory().numTensors;
    const prof = await tf.profile(() => gramSchmidt(w, basis).w);
    expect(prof.kernels.map((k) => k.name)).toEqual(['BilevelGramSchmidt']);
    const fused = prof.result as tf.Tensor;
    const { w: fusedAgain, h } = gramSchmidt(w, basis);
    expect(values(fusedAgain)).toEqual(values(fused));
    // the per-vector form, as GMRES ran it before the kernel
    const hRef: number[] = [];
    const ref = tf.tidy(() => basis.reduce((acc: tf.Tensor, v) => { const hi = dotNumber(acc, v); hRef.push(hi); return axpy(acc, -hi, v); }, w));
    expect(h).toEqual(hRef);
    expect(values(fused)).toEqual(values(ref));
    // and the last projection leaves w orthogonal to the last unit vector, to float32 rounding of w
    expect(Math.abs(dotNumber(fused, basis[3]))).toBeLessThanOrEqual(10 * EPS32 * Math.sqrt(squaredNormNumber(w)));
    const prof2 = await tf.profile(() => combine(w, a, basis));
    expect(prof2.kernels.map((k) => k.name)).toEqual(['BilevelCombine']);
    const sum = prof2.result as tf.Tensor;
    const sumRef = tf.tidy(() => basis.reduce((acc: tf.Tensor, v, i) => axpy(acc, a[i], v), w));
    expect(values(sum)).toEqual(values(sumRef));
    tf.dispose([fused, fusedAgain, ref, sum, sumRef]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, ...basis]);
  });

  it('the finiteness check and ‖t‖ read off the memory agree with tf.isFinite / tf.norm, with no kernel and no tensor', async () => {
    const base = randn(shape, 21);
    const n = base.size;
    const variants: Array<[string, number[]]> = [
      ['finite', []], ['NaN', [0, Number.NaN]], ['+Inf in the SIMD tail', [n - 1, Infinity]], ['−Inf', [517, -Infinity]],
      ['the largest floats (their squares overflow float32, not float64)', [3, 3.4e38]],
    ];
    for (const [name, change] of variants) {
      const vals = base.dataSync().slice();
      if (change.length > 0) { vals[change[0]] = change[1]; vals[(change[0] + 7) % n] = change[1]; }
      const t = tf.tensor(vals, shape);
      const before = tf.memory().numTensors;
      const expected = tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1);
      const prof = await tf.profile(() => { expect(heapAllFinite(t), name).toBe(expected); return []; });
      expect(prof.kernels.length, name).toBe(0);
      if (expected) expect(() => checkFinite('test', 't', t)).not.toThrow();
      else expect(() => checkFinite('test', 't', t)).toThrow(/'t' contains NaN or Inf/);
      const opNorm = tf.tidy(() => tf.norm(t).dataSync()[0]);
      const got = normNumber(t);
      if (Number.isFinite(opNorm)) expect(Math.abs(got - opNorm), name).toBeLessThanOrEqual(n * EPS32 * opNorm);
      else expect(got, name).toBe(opNorm); // beyond float32's range: +Inf (or NaN) as tf.norm
      expect(tf.memory().numTensors).toBe(before);
      t.dispose();
    }
    base.dispose();
  });

  it('⟨a, b⟩ and ‖a‖² are float64 sums (1e-12 of a float64 reference; tfjs float32 Sum within n·ε₃₂·Σ|aᵢbᵢ|)', () => {
    const [a, b] = [randn(shape, 3), randn(shape, 4)];
    const before = tf.memory().numTensors;
    const n = a.size;
    for (const [u, v] of [[a, b], [a, a]]) {
      const got = u === v ? squaredNormNumber(u) : dotNumber(u, v);
      const exact = dot64(u, v);
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(1e-12 * absDot64(u, v));
      useFusedSolverOps(false);
      const opForm = u === v ? squaredNormNumber(u) : dotNumber(u, v);
      useFusedSolverOps(true);
      expect(Math.abs(opForm - exact)).toBeLessThanOrEqual(n * EPS32 * absDot64(u, v));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it("CG's update is one kernel: x and r bit for bit, ‖r₊‖² a float64 sum, p₊ = r₊ + (‖r₊‖²/rr)·p bit for bit", async () => {
    const [x, r, p, ap] = [1, 2, 3, 4].map((s) => randn(shape, 10 + s));
    const [alpha, rr] = [0.173, 2.5];
    const before = tf.memory().numTensors;
    const prof = await tf.profile(() => {
      const u = cgUpdate(x, r, p, ap, alpha, rr);
      return [u.x, u.r, u.p, tf.scalar(u.rr)];
    });
    expect(prof.kernels.map((k) => k.name)).toEqual(['BilevelCGStep']);
    const [xo, ro, po, rrT] = prof.result as tf.Tensor[];
    const rrNew = rrT.dataSync()[0];
    const ref = tf.tidy(() => {
      const rRef = tf.sub(r, tf.mul(ap, alpha));
      return { x: tf.add(x, tf.mul(p, alpha)), r: rRef };
    });
    expect(values(xo)).toEqual(values(ref.x));
    expect(values(ro)).toEqual(values(ref.r));
    const exact = dot64(ref.r, ref.r);
    // rr went through a float32 scalar tensor here (the profile returns tensors): compare at float32 precision
    expect(Math.abs(rrNew - exact)).toBeLessThanOrEqual(EPS32 * exact);
    const fusedRr = cgUpdate(x, r, p, ap, alpha, rr);
    expect(Math.abs(fusedRr.rr - exact)).toBeLessThanOrEqual(1e-12 * exact);
    const pRef = tf.tidy(() => tf.add(ref.r, tf.mul(p, fusedRr.rr / rr)));
    expect(values(po)).toEqual(values(pRef));
    tf.dispose([xo, ro, po, rrT, ref.x, ref.r, pRef, fusedRr.x, fusedRr.r, fusedRr.p]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, r, p, ap]);
  });

  it('falls back to the op form while a tape records (the kernels have no gradients): d/dp Σ(x + a·p) = a', () => {
    const [x, p] = [randn([3, 5], 5), randn([3, 5], 6)];
    const before = tf.memory().numTensors;
    const g = tf.grad((q: tf.Tensor) => tf.sum(axpy(x, 0.5, q)))(p);
    expect(values(g)).toEqual(new Array(15).fill(0.5));
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, p]);
  });

  it('non-float32 or differently shaped operands take the op form', () => {
    const x = tf.tensor1d([1, 2, 3], 'int32');
    const p = tf.tensor1d([1, 1, 1], 'int32');
    const y = axpy(x, 2, p);
    expect(values(y)).toEqual([3, 4, 5]);
    const z = axpy(tf.ones([2, 3]), 2, tf.ones([3]));
    expect(values(z)).toEqual([3, 3, 3, 3, 3, 3]);
    tf.dispose([x, p, y, z]);
  });

  // The solvers with the fused operations against the same solvers on the op form: same
  // status, same iteration count; gradient descent with a fixed step takes bitwise the same
  // steps (only ‖∇Φ‖'s sum differs, and only by its round-off), so x agrees exactly.
  const n = backend === 'cpu' ? 24 : 40;
  const quadratic = (L: number) => defineProblem<{ A: tf.Tensor; b: tf.Tensor }>({
    energy: (x, _t, d) => tf.sub(tf.mul(0.5, tf.sum(tf.mul(x, tf.matMul(x, d.A)))), tf.sum(tf.mul(d.b, x))),
    init: (_t, d) => tf.zerosLike(d.b),
    strongConvexity: 1,
    smoothness: L,
  });
  const spd = (L: number, seed: number) => tf.tidy(() => {
    const u = randn([n, 1], seed);
    const Q = tf.sub(tf.eye(n), tf.mul(2 / tf.sum(tf.square(u)).dataSync()[0], tf.matMul(u, u, false, true)));
    const lambdas = Array.from({ length: n }, (_, i) => 1 + ((L - 1) * i) / (n - 1));
    const A = tf.matMul(tf.matMul(Q, tf.diag(tf.tensor1d(lambdas))), Q);
    return tf.div(tf.add(A, tf.transpose(A)), 2);
  });
  const inner: Record<string, () => InnerSolver> = {
    'gradientDescent (1/L)': () => gradientDescent({ tol: 1e-4, tolMode: 'absolute', maxIter: 2000 }),
    'gradientDescent (backtracking)': () => gradientDescent({ backtracking: true, tol: 1e-4, tolMode: 'absolute', maxIter: 2000 }),
    accelerated: () => accelerated({ tol: 1e-4, tolMode: 'absolute', maxIter: 2000 }),
    lbfgs: () => lbfgs({ tol: 1e-4, tolMode: 'absolute', maxIter: 500 }),
    'gradientDescent (cap)': () => gradientDescent({ tol: 1e-12, tolMode: 'absolute', maxIter: 37, stallIterations: 0 }),
  };
  for (const [name, make] of Object.entries(inner)) {
    it(`${name}: same status and iterations with and without the fused operations`, () => {
      const A = spd(20, 7);
      const b = randn([4, n], 8);
      const before = tf.memory().numTensors;
      const runs = [false, true].map((on) => {
        useFusedSolverOps(on);
        return make().solve(quadratic(20), {}, { A, b });
      });
      const [op, fused] = runs;
      expect(fused.status, fused.message).toBe(op.status);
      expect(fused.iterations).toBe(op.iterations);
      // both certify ‖x − x̂‖ ≤ ‖∇Φ‖/μ (μ = 1), so they are within the sum of the bounds (plus float32 storage of x)
      const gap = tf.tidy(() => tf.norm(tf.sub(fused.x, op.x)).dataSync()[0]);
      const xNorm = tf.tidy(() => tf.norm(op.x).dataSync()[0]);
      expect(gap).toBeLessThanOrEqual(fused.distanceBound! + op.distanceBound! + 1e-6 * xNorm);
      if (name === 'gradientDescent (1/L)' || name === 'gradientDescent (cap)') {
        // the same steps bit for bit; ‖∇Φ‖ differs only by the float32 Sum's round-off (≤ n·ε₃₂ relative on ‖∇Φ‖²)
        expect(values(fused.x)).toEqual(values(op.x));
        expect(Math.abs(fused.gradNorm - op.gradNorm)).toBeLessThanOrEqual(4 * n * 1.2e-7 * op.gradNorm);
      }
      tf.dispose(runs.map((r) => r.x));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([A, b]);
    });
  }

  const linear: Record<string, () => LinearSolver> = {
    cg: () => cg({ tol: 1e-5 }),
    'cg (cap)': () => cg({ tol: 1e-12, maxIter: 9 }),
    richardson: () => richardson({ step: 1 / 20, tol: 1e-4, maxIter: 2000 }),
    gmres: () => gmres({ tol: 1e-5 }),
    'gmres (restart 5)': () => gmres({ tol: 1e-5, restart: 5 }),
  };
  for (const [name, make] of Object.entries(linear)) {
    it(`${name}: same status and iterations with and without the fused operations; the solutions within (r₁ + r₂)/λ_min`, () => {
      const A = spd(20, 9);
      const b = randn([4, n], 10);
      const matvec: MatVec = (v) => tf.matMul(v, A);
      const before = tf.memory().numTensors;
      const runs = [false, true].map((on) => {
        useFusedSolverOps(on);
        return make().solve(matvec, b);
      });
      const [op, fused] = runs;
      expect(fused.status, fused.message).toBe(op.status);
      expect(fused.iterations).toBe(op.iterations);
      // both x satisfy ‖b − Ax‖ = r, so ‖x₁ − x₂‖ ≤ (r₁ + r₂)/λ_min (λ_min = 1), plus float32 storage of x
      const gap = tf.tidy(() => tf.norm(tf.sub(fused.x, op.x)).dataSync()[0]);
      const xNorm = tf.tidy(() => tf.norm(op.x).dataSync()[0]);
      expect(gap).toBeLessThanOrEqual(op.residualNorm + fused.residualNorm + 1e-6 * xNorm);
      tf.dispose(runs.map((r) => r.x));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([A, b]);
    });
  }

  it('a matvec that throws mid-solve leaves no tensor behind (fused CG)', () => {
    const A = spd(20, 11);
    const b = randn([2, n], 12);
    const before = tf.memory().numTensors;
    let calls = 0;
    const matvec: MatVec = (v) => {
      if (++calls === 4) throw new Error('matvec failed');
      return tf.matMul(v, A);
    };
    expect(() => cg({ tol: 1e-12 }).solve(matvec, b)).toThrow('matvec failed');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, b]);
  });
});

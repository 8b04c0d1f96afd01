import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, iterate, emptyWork, type IterativeMethod } from '../src/index.js';

/** x ← x + s(b − a x) on a scalar a·x = b, residual |b − a x| read from the device each step. */
interface RichardsonState { x: tf.Tensor; r: number }

function scalarRichardson(a: number, b: number, s: number, opts: { nanAt?: number; throwAt?: number; floor?: number } = {}): IterativeMethod<RichardsonState> {
  return {
    init: () => ({ x: tf.scalar(0), r: Math.abs(b) }),
    step: ({ x }, { iteration }) => {
      if (iteration === opts.throwAt) {
        tf.ones([8]); // a temporary the throwing step leaves behind
        throw new Error('step failed');
      }
      const xv = x.dataSync()[0];
      const xn = tf.scalar(iteration === opts.nanAt ? NaN : xv + s * (b - a * xv));
      tf.zeros([4]); // a temporary the step forgets to dispose: the loop's tidy frees it
      const r = Math.abs(b - a * xn.dataSync()[0]);
      return { state: { x: xn, r: opts.floor != null ? Math.max(r, opts.floor) : r } };
    },
    residual: ({ r }) => r,
  };
}

describe('iterate (the shared loop)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  it('converges, counts iterations and work, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const work = emptyWork();
    // Contraction factor |1 − s a| = 0.2: 1e-6 relative takes ⌈log(1e-6)/log(0.2)⌉ = 9 steps.
    const out = iterate(scalarRichardson(4, 2, 0.2), { threshold: 2e-6, maxIter: 100, work: { record: work, key: 'linearIterations' }, facts: { where: 'r1d' } });
    expect(out.status).toBe('converged');
    expect(out.iterations).toBe(9);
    expect(work.linearIterations).toBe(9);
    expect(out.state.x.dataSync()[0]).toBeCloseTo(0.5, 5);
    expect(out.message).toMatch(/^r1d: converged in 9 iterations/);
    out.state.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops at the cap with max-iterations and the fix', () => {
    const before = tf.memory().numTensors;
    const out = iterate(scalarRichardson(4, 2, 0.2), { threshold: 1e-12, maxIter: 3, facts: { where: 'r1d', tol: 1e-12 } });
    expect(out.status).toBe('max-iterations');
    expect(out.iterations).toBe(3);
    expect(out.message).toMatch(/increase maxIter \(now 3\) or loosen tol \(now 1e-12\)/);
    out.state.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('detects a float32 stall: no 1% progress in stallIterations', () => {
    // The residual floors at 1e-4 (as float32 round-off would); the target 1e-9 is unreachable.
    const out = iterate(scalarRichardson(4, 2, 0.2, { floor: 1e-4 }), { threshold: 1e-9, maxIter: 1000, stallIterations: 10 });
    expect(out.status).toBe('stalled');
    // The floor is first hit at iteration 7 (2·0.2^6 = 1.3e-4 > 1e-4 ≥ 2·0.2^7); 10 iterations later it stops.
    expect(out.iterations).toBe(17);
    expect(out.best).toBe(1e-4);
    expect(out.message).toMatch(/stalled.*float32 floor/);
    out.state.x.dispose();
  });

  it('stops on NaN at the last finite state, without leaks', () => {
    const before = tf.memory().numTensors;
    const out = iterate(scalarRichardson(4, 2, 0.2, { nanAt: 2 }), { threshold: 1e-9, maxIter: 100 });
    expect(out.status).toBe('nan');
    expect(out.iterations).toBe(3);
    expect(Number.isFinite(out.state.x.dataSync()[0])).toBe(true);
    expect(Number.isFinite(out.residual!)).toBe(true);
    expect(out.message).toMatch(/NaN\/Inf at iteration 3 \(returning the last finite iterate\)/);
    out.state.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports a non-finite start as nan at iteration 0', () => {
    const method: IterativeMethod<{ x: tf.Tensor }> = { init: () => ({ x: tf.scalar(1) }), step: (s) => ({ state: s }), residual: () => Infinity };
    const out = iterate(method, { threshold: 1, maxIter: 5 });
    expect(out.status).toBe('nan');
    expect(out.iterations).toBe(0);
    out.state.x.dispose();
  });

  it('calls the callback once per iteration and stops when it returns true', () => {
    const seen: Array<[number, number | undefined]> = [];
    const out = iterate(scalarRichardson(4, 2, 0.2), {
      threshold: 1e-12, maxIter: 100,
      onIteration: ({ iteration, residual }) => { seen.push([iteration, residual]); return iteration === 4; },
    });
    expect(out.status).toBe('stopped');
    expect(seen.map(([k]) => k)).toEqual([1, 2, 3, 4]);
    expect(seen[1][1]).toBeCloseTo(2 * 0.2 ** 2, 6);
    out.state.x.dispose();
  });

  it('releases every tensor when a step throws', () => {
    const before = tf.memory().numTensors;
    expect(() => iterate(scalarRichardson(4, 2, 0.2, { throwAt: 3 }), { threshold: 1e-12, maxIter: 100 })).toThrow(/step failed/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('honours a step\'s stop (kept or discarded state), its count, confirm, and fixed steps', () => {
    const before = tf.memory().numTensors;
    // A step that does 3 "iterations" per call and stops after keeping its second state.
    let calls = 0;
    const multi: IterativeMethod<{ x: tf.Tensor }> = {
      init: () => ({ x: tf.scalar(0) }),
      step: ({ x }) => { calls++; return { state: { x: tf.add(x, 1) }, count: 3, ...(calls === 2 ? { stop: { status: 'breakdown' as const, detail: 'no progress' } } : {}) }; },
      residual: () => 1,
    };
    const a = iterate(multi, { threshold: 0, maxIter: 100 });
    expect([a.status, a.iterations, a.state.x.dataSync()[0]]).toEqual(['breakdown', 6, 2]);
    expect(a.message).toMatch(/breakdown at iteration 6 \(no progress\)/);
    a.state.x.dispose();
    // A stop without a state keeps the old one and counts nothing.
    const b = iterate({ ...multi, step: () => ({ stop: { status: 'non-positive-curvature' as const, detail: 'pᵀAp = -1 ≤ 0' } }) }, { threshold: 0, maxIter: 100 });
    expect([b.status, b.iterations, b.state.x.dataSync()[0]]).toEqual(['non-positive-curvature', 0, 0]);
    b.state.x.dispose();
    // confirm rejects the first claim of convergence and replaces the state once.
    let confirms = 0;
    const c = iterate<{ x: tf.Tensor; r: number }>({
      init: () => ({ x: tf.scalar(0), r: 0 }),
      step: ({ x }) => ({ state: { x: tf.add(x, 1), r: 0 } }),
      residual: ({ r }) => r,
      confirm: (s) => (confirms++ === 0 ? { converged: false as const, state: { x: tf.add(s.x, 10), r: 5 } } : { converged: true as const }),
    }, { threshold: 1, maxIter: 100 });
    expect([c.status, c.iterations, c.state.x.dataSync()[0], confirms]).toEqual(['converged', 1, 11, 2]);
    c.state.x.dispose();
    // No residual: only the cap stops, with 'fixed-steps'.
    const d = iterate({ ...multi, step: ({ x }) => ({ state: { x: tf.add(x, 1) } }), residual: () => undefined }, { threshold: 0, maxIter: 7 });
    expect([d.status, d.iterations, d.state.x.dataSync()[0]]).toEqual(['fixed-steps', 7, 7]);
    d.state.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('solvers on the shared loop release their tensors when the operator throws mid-solve', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  it('cg, gmres, richardson, neumann, picard, anderson, broyden', async () => {
    const { cg, gmres, richardson, neumann, picard, anderson, broyden } = await import('../src/index.js');
    const A = tf.tensor2d([[3, 1, 0], [1, 2, 0.5], [0, 0.5, 1]]);
    const b = tf.tensor2d([[1], [2], [3]]);
    const throwingAfter = (calls: number, f: (v: tf.Tensor) => tf.Tensor) => {
      let n = 0;
      return (v: tf.Tensor) => {
        if (++n > calls) {
          tf.ones([16]); // a tensor the failing operator leaves behind
          throw new Error('operator failed');
        }
        return f(v);
      };
    };
    const before = tf.memory().numTensors;
    const matvec = () => throwingAfter(2, (v) => tf.matMul(A, v));
    for (const solver of [cg({ tol: 1e-12 }), gmres({ tol: 1e-12 }), richardson({ step: 0.2, tol: 1e-12 }), neumann({ step: 0.2, terms: 10 })]) {
      expect(() => solver.solve(matvec(), b), solver.name).toThrow(/operator failed/);
      expect(tf.memory().numTensors).toBe(before);
    }
    const map = () => throwingAfter(3, (x) => tf.add(tf.mul(0.5, tf.tanh(x)), 1));
    for (const solver of [picard(), anderson(), broyden()]) {
      expect(() => solver.solve(map(), b, { tol: 1e-12 }), solver.name).toThrow(/operator failed/);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([A, b]);
  });
});

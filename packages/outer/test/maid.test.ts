import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { maid, hoag, train, geometric, quadratic, cubic, MAID_DEFAULTS, type Method, type MethodStateBase, type Schedule } from '../src/index.js';
import { makeQuadratic, quadraticOracle, runToTarget, type Quadratic } from './quadratic.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

// The quadratic test problem of the MAID paper (Salehi et al. 2025, "Quadratic Problem"; Quadratic.py of the MAID
// code): least squares at both levels, x̂(θ) = argmin ½‖A₂x + A₃θ − b₂‖² (+ ridge), F = ½‖A₁x̂ − b₁‖².
// Sizes are reduced for CI (20 rows, dim x = dim θ = 5; the upper level has κ ≈ 115).
const comparison = { rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 };
// A smaller, well-conditioned instance (dim θ = 3, κ ≈ 5) for the mechanics tests.
const spec = { rows: 20, m: 5, p: 3, samples: 1, ridge: 0.1, seed: 2 };

const workToTarget = <S extends MethodStateBase>(q: Quadratic, method: Method<S>, maxIterations: number, maxWork?: number) =>
  runToTarget(q, method, { fraction: 1e-4, maxIterations, maxWork });

describe('MAID vs HOAG on the quadratic bilevel problem', () => {
  it('MAID reaches F − F* ≤ 1e-4 (F₀ − F*) with less work than HOAG with every schedule', async () => {
    const q = makeQuadratic(comparison);
    const rows: Array<{ method: string; workToTarget: number | string; iterations: number; gap: number; status: string }> = [];
    const m = await workToTarget(q, maid({ tol0: 1e-1, step0: 1 }), 3000);
    expect(m.reached, 'MAID must reach the target').toBeDefined();
    rows.push({ method: 'MAID ε₀=1e-1', workToTarget: m.reached!, iterations: m.iterations, gap: m.finalF - q.fStar, status: m.status });
    // HOAG (step 1/L_F, Pedregosa's three schedules with ε₀ = 0.1) runs until it reaches the
    // target or has spent 50× MAID's work; either way its work to target exceeds MAID's.
    const cap = 50 * m.reached!;
    const schedules: Schedule[] = [geometric(0.1, 0.9), quadratic(0.1), cubic(0.1)];
    const hoagWork: number[] = [];
    for (const s of schedules) {
      const h = await workToTarget(q, hoag({ schedule: s, lipschitz: q.lipschitzF }), 3000, cap);
      const w = h.reached ?? h.history[h.history.length - 1].work;
      hoagWork.push(h.reached ?? Infinity);
      rows.push({ method: `HOAG ${s.label}`, workToTarget: h.reached ?? `> ${w} (not reached)`, iterations: h.iterations, gap: h.finalF - q.fStar, status: h.status });
    }
    console.log(`[maid-vs-hoag] F0−F* = ${(q.F(new Array(comparison.p).fill(0)) - q.fStar).toExponential(3)}, target gap = 1e-4·(F0−F*), L_F = ${q.lipschitzF.toFixed(3)}; work = inner + CG iterations`);
    console.table(rows);
    for (const w of hoagWork) expect(m.reached!).toBeLessThan(w);
  });

  it('MAID is robust to the initial accuracy: final loss after a fixed work budget varies < 5% across ε₀ ∈ {1e-1, 1e-2, 1e-3}', async () => {
    const q = makeQuadratic(comparison);
    const rows: Array<{ tol0: number; finalLoss: number; gap: number; work: number; iterations: number; finalEps: number }> = [];
    for (const tol0 of [1e-1, 1e-2, 1e-3]) {
      const oracle = quadraticOracle(q);
      const theta0 = { theta: tf.zeros([comparison.p]) };
      const r = await train({ method: maid({ tol0, step0: 1 }), oracle, theta0, budget: { work: 1000 } });
      const finalLoss = q.F(r.state.theta.theta.values);
      const last = r.history[r.history.length - 1];
      rows.push({ tol0, finalLoss, gap: finalLoss - q.fStar, work: last.work, iterations: r.history.length, finalEps: last.eps });
      tf.dispose([theta0.theta, ...Object.values(r.theta)]);
      oracle.dispose();
    }
    console.log(`[maid-robustness] F* = ${q.fStar.toPrecision(6)}, F0 = ${q.F(new Array(comparison.p).fill(0)).toPrecision(6)}, budget = 1000 work units`);
    console.table(rows);
    const losses = rows.map((r) => r.finalLoss);
    const spread = (Math.max(...losses) - Math.min(...losses)) / Math.min(...losses);
    console.log(`[maid-robustness] relative spread of final loss = ${(100 * spread).toFixed(4)}%`);
    expect(spread).toBeLessThan(0.05);
  });
});

describe('MAID mechanics', () => {
  it('decreases the exact objective monotonically (certified sufficient decrease)', async () => {
    const q = makeQuadratic(comparison);
    const oracle = quadraticOracle(q);
    const method = maid({ tol0: 1e-1, step0: 4 });
    const theta0 = { theta: tf.zeros([comparison.p]) };
    let state = method.init(theta0);
    let prev = q.F(state.theta.theta.values);
    let accepted = 0;
    for (let k = 0; k < 30; k++) {
      const { state: next, info } = method.step(state, oracle);
      state = next;
      expect(info.stop).toBeUndefined();
      if (info.accepted) {
        accepted++;
        const f = q.F(state.theta.theta.values);
        expect(f).toBeLessThanOrEqual(prev + 1e-7);
        prev = f;
        // the accepted direction was certified: bound ≤ (1 − η)‖h‖
        expect(info.bound).toBeLessThanOrEqual((1 - MAID_DEFAULTS.descentMargin) * info.gradNorm);
      }
    }
    expect(accepted).toBe(30);
    theta0.theta.dispose();
    oracle.dispose();
  });

  it('state is JSON-serialisable and stepping from a JSON round-trip gives the same result', () => {
    const q = makeQuadratic(spec);
    const method = maid({ tol0: 1e-2, step0: 1 });
    const theta0 = { theta: tf.tensor1d([0.3, -0.2, 0.1]) };
    const s0 = method.init(theta0);
    const o1 = quadraticOracle(q, { warm: false });
    const o2 = quadraticOracle(q, { warm: false });
    const a = method.step(s0, o1).state;
    const b = method.step(JSON.parse(JSON.stringify(s0)), o2).state;
    expect(JSON.parse(JSON.stringify(a))).toEqual(b);
    theta0.theta.dispose();
    o1.dispose();
    o2.dispose();
  });

  it('no tensor leaks across 100 MAID iterations', () => {
    const q = makeQuadratic(comparison);
    const oracle = quadraticOracle(q);
    const method = maid({ tol0: 1e-1, step0: 1 });
    const theta0 = { theta: tf.zeros([comparison.p]) };
    let state = method.init(theta0);
    state = method.step(state, oracle).state; // allocates the oracle's warm starts
    const before = tf.memory().numTensors;
    let steps = 0;
    for (let k = 0; k < 100; k++) {
      const r = method.step(state, oracle);
      state = r.state;
      steps++;
      if (r.info.stop != null) break;
    }
    expect(steps).toBe(100);
    expect(tf.memory().numTensors).toBe(before);
    theta0.theta.dispose();
    oracle.dispose();
  });

  it('stops with a reason when descent cannot be certified', () => {
    // An oracle whose bound never certifies descent.
    const oracle = (theta: Record<string, tf.Tensor>) => {
      const g = { theta: tf.onesLike(theta.theta) };
      return { value: 1, grad: g, bound: 10, valueBound: 0, work: { energyEvals: 0, gradEvals: 0, hvps: 0, vjps: 0, jvps: 0, innerIterations: 1, linearIterations: 1, timeMs: 0 }, dispose: () => g.theta.dispose() };
    };
    const method = maid({ tol0: 1, step0: 1, maxAccuracyReductions: 5 });
    const theta0 = { theta: tf.zeros([3]) };
    const before = tf.memory().numTensors;
    const { state, info } = method.step(method.init(theta0), oracle);
    expect(info.stop).toBe('accuracy-limit');
    expect(info.message).toMatch(/maxAccuracyReductions|BoundConstants/);
    expect(info.accepted).toBe(false);
    expect(state.tol).toBeCloseTo(Math.pow(0.5, 5), 12);
    expect(info.evaluations).toBe(6);
    // An oracle that reports it could not reach the accuracy: MAID stops at once instead of
    // asking for ever more accuracy.
    const capped = (theta: Record<string, tf.Tensor>) => ({ ...oracle(theta), converged: false });
    const second = method.step(method.init(theta0), capped);
    expect(second.info.stop).toBe('accuracy-limit');
    expect(second.info.evaluations).toBe(1);
    expect(second.info.message).toMatch(/could not reach the current accuracy/);
    const floored = maid({ tol0: 1, step0: 1, minTol: 0.2 }).step(method.init(theta0), oracle);
    expect(floored.info.message).toMatch(/minTol/);
    expect(floored.info.evaluations).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    theta0.theta.dispose();
  });

  it('rejects bad options with the function, the option and a fix', () => {
    expect(() => maid({ stepShrink: 1.5 })).toThrow(/maid: option 'stepShrink' must be a number in \(0, 1\)/);
    expect(() => maid({ tol0: -1 })).toThrow(/maid: option 'tol0'/);
    expect(() => maid({ accuracyGrow: 0.9 })).toThrow(/option 'accuracyGrow'.*use e.g. 1.05/);
    expect(() => maid({ maxBacktracks: 0 })).toThrow(/option 'maxBacktracks' must be an integer ≥ 1/);
    expect(() => maid({ stepsize: 1 } as never)).toThrow(/maid: unknown option 'stepsize'/);
    expect(() => hoag({ schedule: quadratic(0.1) })).toThrow(/hoag: give exactly one of option 'step'.*'lipschitz'/);
    expect(() => hoag({ schedule: quadratic(0.1), step: 1, lipschitz: 1 })).toThrow(/exactly one/);
    expect(() => geometric(0.1, 2)).toThrow(/geometric: option 'ratio'/);
    const theta0 = { theta: tf.zeros([3]) };
    const noBound = (theta: Record<string, tf.Tensor>) => {
      const g = { theta: tf.onesLike(theta.theta) };
      return { value: 1, grad: g, bound: NaN, valueBound: 0, work: { energyEvals: 0, gradEvals: 0, hvps: 0, vjps: 0, jvps: 0, innerIterations: 0, linearIterations: 0, timeMs: 0 }, dispose: () => g.theta.dispose() };
    };
    const method = maid({});
    expect(() => method.step(method.init(theta0), noBound)).toThrow(/maid.step: the oracle returned no hypergradient bound/);
    theta0.theta.dispose();
  });
});

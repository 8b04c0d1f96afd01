import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, emptyWork, defineProblem, lbfgs, cg, type Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { dfo, train, box, oracleFromStrategy, mulberry32, DFO_DEFAULTS, type Oracle, type ProgressEvent } from '../src/index.js';
import { makeQuadratic, quadraticOracle, runToTarget, killAndResume, type Quadratic } from './quadratic.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

// The quadratic bilevel problems of maid.test.ts: dim θ = 3 (κ ≈ 5) and dim θ = 5 (κ ≈ 115).
const small = { rows: 20, m: 5, p: 3, samples: 1, ridge: 0.1, seed: 2 };
const large = { rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 };

/** Runs `method` from θ₀ = 0 until F − F* ≤ 1e-3 (F₀ − F*) (exact F) or the budget ends. */
async function toTarget(q: Quadratic, method: ReturnType<typeof dfo>, maxIterations = 400) {
  const r = await runToTarget(q, method, { fraction: 1e-3, maxIterations });
  const last = r.history[r.history.length - 1];
  return {
    reached: r.reached,
    work: last.work,
    relativeGap: (r.finalF - q.fStar) / (r.f0 - q.fStar),
    iterations: r.iterations,
    evaluations: r.history.reduce((a, e) => a + e.evaluations, 0),
    finalTol: last.eps,
    status: r.status,
    message: r.message,
  };
}

describe('dfo: dynamic vs fixed accuracy on the quadratic bilevel problem', () => {
  it('reaches F − F* ≤ 1e-3 (F₀ − F*) with less lower-level work than the same method at fixed high accuracy', async () => {
    const rows: Array<Record<string, unknown>> = [];
    for (const spec of [small, large]) {
      const q = makeQuadratic(spec);
      const dynamic = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-1 }));
      // "Fixed high accuracy": every lower-level solve to ‖∇ₓΦ‖ ≤ 1e-6, a tolerance the
      // float32 gradient descent of the fixture still meets (its floor is near 1e-7).
      const fixed = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-6, dynamicAccuracy: false }));
      // Looser fixed accuracies, for the table only: they show what guessing ε costs or saves.
      const fixedLoose = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-4, dynamicAccuracy: false }));
      for (const [name, r] of [['dynamic (ε₀ = 1e-1)', dynamic], ['fixed ε = 1e-6', fixed], ['fixed ε = 1e-4', fixedLoose]] as const) {
        rows.push({ p: spec.p, method: name, workToTarget: r.reached ?? `> ${r.work} (not reached)`, iterations: r.iterations, evaluations: r.evaluations, relativeGap: r.relativeGap.toExponential(2), finalTol: r.finalTol.toExponential(2), status: r.status });
      }
      expect(dynamic.reached, `dynamic dfo must reach the target on p = ${spec.p}: ${dynamic.message}`).toBeDefined();
      expect(fixed.reached, `fixed-accuracy dfo must reach the target on p = ${spec.p}: ${fixed.message}`).toBeDefined();
      expect(dynamic.reached!).toBeLessThan(fixed.reached!);
    }
    console.log('[dfo] work (inner + linear iterations) to F − F* ≤ 1e-3 (F₀ − F*), θ₀ = 0, radius0 = 0.5');
    console.table(rows);
  }, 60000);
});

describe('dfo mechanics', () => {
  it('with dynamic accuracy the exact objective decreases at every accepted step (certified ratio test)', async () => {
    const q = makeQuadratic(large);
    const oracle = quadraticOracle(q);
    const method = dfo({ radius0: 0.5, tol0: 1e-1 });
    let state = method.init({ theta: tf.zeros([large.p]) } as Params);
    let f = q.F(state.theta.theta.values);
    let accepted = 0;
    for (let k = 0; k < 60; k++) {
      const { state: next, info } = method.step(state, oracle);
      expect(info.stop, info.message).toBeUndefined();
      const fNext = q.F(next.theta.theta.values);
      if (info.accepted) {
        accepted++;
        // |F̃ − F| ≤ η₁'·pred at both points and ρ ≥ η₁ give F(θ⁺) ≤ F(θ) − (η₁ − 2η₁')·pred.
        // The slack 1e-6·F covers the float32 rounding of the loss value itself.
        expect(fNext).toBeLessThanOrEqual(f + 1e-6 * Math.abs(f));
      } else {
        expect(next.theta).toEqual(state.theta);
      }
      f = fNext;
      state = next;
    }
    expect(accepted).toBeGreaterThan(10);
    oracle.dispose();
  });

  it('criticality phase (Algorithm 1 lines 5–7): whenever ‖g̃‖ ≤ criticalityTol the step stays within Δ ≤ ‖g̃‖; the target is still reached', async () => {
    const q = makeQuadratic(small);
    const oracle = quadraticOracle(q);
    // a huge ε makes the phase run at every iteration once ‖g̃‖ < Δ
    // Steps longer than ‖g̃‖: the default method takes some near the solution (‖g̃‖ → 0 faster
    // than Δ); with a huge ε the phase runs whenever Δ > ‖g̃‖, so none is left.
    const longSteps = (criticalityTol: number) => {
      const method = dfo({ radius0: 0.5, tol0: 1e-1, criticalityTol });
      let state = method.init({ theta: tf.zeros([small.p]) } as Params);
      let count = 0;
      for (let k = 0; k < 40; k++) {
        const { state: next, info } = method.step(state, oracle);
        if (info.stop != null) break;
        if (info.accepted && info.step > info.gradNorm * (1 + 1e-9)) count++;
        state = next;
      }
      return count;
    };
    const critical = longSteps(0);
    expect(longSteps(1e3)).toBe(0);
    expect(critical).toBeGreaterThan(0);
    const plain = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-1 }));
    const withPhase = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-1, criticalityTol: 1e-2 }));
    const strict = await toTarget(q, dfo({ radius0: 0.5, tol0: 1e-1, fullyLinearAcceptance: true }));
    console.log(`[dfo] work to target: default ${plain.reached}, criticalityTol 1e-2 ${withPhase.reached}, fullyLinearAcceptance ${strict.reached}`);
    expect(withPhase.reached).toBeDefined();
    expect(strict.reached).toBeDefined();
    expect(() => dfo({ criticalityTol: -1 })).toThrow(/criticalityTol/);
    expect(() => dfo({ fullyLinearAcceptance: 1 as never })).toThrow(/fullyLinearAcceptance/);
    oracle.dispose();
  });

  it('state is JSON-serialisable, and a run killed and resumed through train follows the same trajectory', async () => {
    const total = 30;
    const k = 13;
    const { full, part, resumed, ckpt } = await killAndResume(makeQuadratic(large), () => dfo({ radius0: 0.5, tol0: 1e-1 }), total, k);
    expect(part.history.length).toBe(k);
    expect(ckpt.state).toEqual(JSON.parse(JSON.stringify(part.state)));
    expect(resumed.history.length).toBe(total);
    expect(resumed.state).toEqual(full.state);
    // Through JSON on both sides: the checkpoint stores the NaN `bound` of DFO's events as null.
    const strip = (h: ProgressEvent[]) => JSON.parse(JSON.stringify(h.map(({ timeMs: _t, ...rest }) => rest))) as unknown;
    expect(strip(resumed.history)).toEqual(strip(full.history));
    expect(resumed.work.innerIterations).toBe(full.work.innerIterations);
    expect(full.work.linearIterations).toBe(0); // value-only calls do no adjoint solve
    tf.dispose([full.theta.theta, part.theta.theta, resumed.theta.theta]);
  });

  it('no tensor leaks across 60 iterations', () => {
    const q = makeQuadratic(small);
    const oracle = quadraticOracle(q);
    const method = dfo({ radius0: 0.5, tol0: 1e-1 });
    const theta0 = { theta: tf.zeros([small.p]) };
    let state = method.init(theta0);
    state = method.step(state, oracle).state; // the first step fills the oracle's warm starts
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (let k = 0; k < 60; k++) {
      const { state: next, info } = method.step(state, oracle);
      if (info.stop != null) break;
      state = next;
      counts.push(tf.memory().numTensors);
    }
    expect(counts.length).toBeGreaterThan(20);
    for (const c of counts) expect(c).toBe(before);
    tf.dispose(theta0.theta);
    oracle.dispose();
  });

  it('box bounds: every evaluated θ is feasible and the bound-constrained optimum is approached', async () => {
    const q = makeQuadratic(small);
    // θ* = (−0.97, 4.19, −1.28): the box [−2, 2] cuts off the second coordinate.
    const base = quadraticOracle(q);
    let infeasible = 0;
    const oracle: Oracle = Object.assign(
      (theta: Params, accuracy: { tol: number; linearTol: number }, options?: { valueOnly?: boolean }) => {
        for (const v of theta.theta.dataSync()) if (v < -2 || v > 2) infeasible++;
        return base(theta, accuracy, options);
      },
      { saveState: base.saveState, loadState: base.loadState },
    );
    const theta0 = { theta: tf.tensor1d([1.9, 1.95, -1.9]) };
    const r = await train({ method: dfo({ radius0: 0.5, tol0: 1e-1, bounds: { lower: -2, upper: 2 } }), oracle, theta0, budget: { iterations: 80 } });
    expect(infeasible).toBe(0);
    const theta = r.state.theta.theta.values;
    expect(theta[1]).toBe(2); // the active bound is attained exactly
    // The constrained minimiser of the convex F over the box: projected gradient to convergence (float64).
    let x = [0, 0, 0];
    for (let i = 0; i < 20000; i++) x = x.map((v, j) => Math.min(2, Math.max(-2, v - q.gradF(x)[j] / q.lipschitzF)));
    const fBox = q.F(x);
    const f0 = q.F([1.9, 1.95, -1.9]);
    console.log(`[dfo box] F = ${q.F(theta).toExponential(4)}, box optimum ${fBox.toExponential(4)}, status ${r.status}`);
    expect(q.F(theta) - fBox).toBeLessThanOrEqual(1e-3 * (f0 - fBox));
    tf.dispose([theta0.theta, r.theta.theta]);
    base.dispose();
    await expect(train({ method: dfo(), oracle: base, theta0: { theta: tf.zeros([3]) }, budget: { iterations: 1 }, project: box({ lower: 0 }) })).rejects.toThrow(/dfo.step: train's 'project'\/'regularizer' .* dfo\(\{ bounds/);
  });

  it('stops with a reason: radius below minRadius, accuracy floor, non-finite value', () => {
    const q = makeQuadratic(small);
    const oracle = quadraticOracle(q);
    const run = (method: ReturnType<typeof dfo>) => {
      let state = method.init({ theta: tf.zeros([small.p]) } as Params);
      for (let k = 0; k < 300; k++) {
        const { state: next, info } = method.step(state, oracle);
        state = next;
        if (info.stop != null) return info;
      }
      throw new Error('no stop within 300 iterations');
    };
    const radius = run(dfo({ radius0: 0.5, tol0: 1e-4, minRadius: 1e-2, dynamicAccuracy: false }));
    expect(radius.stop).toBe('radius-limit');
    expect(radius.message).toMatch(/fell below minRadius = 0.01/);
    const floor = run(dfo({ radius0: 0.5, tol0: 1e-1, minTol: 1e-3 }));
    expect(floor.stop).toBe('accuracy-limit');
    expect(floor.message).toMatch(/minTol = 0.001/);
    const nan: Oracle = () => ({ value: NaN, bound: NaN, valueBound: 0, work: emptyWork(), dispose: () => {} });
    const failed = dfo().step(dfo().init({ theta: tf.zeros([2]) } as Params), nan);
    expect(failed.info.stop).toBe('oracle-failed');
    // A solve that stops short of ε (a float32 inner solver at its round-off floor) is kept when
    // its achieved valueBound meets what the step needs, and stops the method when it does not.
    // (at most 200 inner iterations per call: tightened tolerances are never reached here)
    const capped = quadraticOracle(q, { maxIter: 200 });
    const shortOf = (vb?: number): Oracle => (theta, accuracy, options) => {
      const r = capped(theta, accuracy, options);
      return { ...r, converged: false, valueBound: vb ?? r.valueBound };
    };
    let state = dfo({ radius0: 0.5, tol0: 1e-1 }).init({ theta: tf.zeros([small.p]) } as Params);
    let accepted = 0;
    for (let k = 0; k < 10; k++) {
      const { state: next, info } = dfo({ radius0: 0.5, tol0: 1e-1 }).step(state, shortOf());
      expect(info.stop, info.message).toBeUndefined();
      if (info.accepted) accepted++;
      state = next;
    }
    expect(accepted).toBeGreaterThan(2);
    const hopeless = dfo({ radius0: 0.5, tol0: 1e-1 });
    let h = hopeless.init({ theta: tf.zeros([small.p]) } as Params);
    let stop: string | undefined;
    for (let k = 0; k < 40 && stop == null; k++) {
      const { state: next, info } = hopeless.step(h, shortOf(1e9));
      stop = info.stop;
      h = next;
    }
    expect(stop).toBe('accuracy-limit');
    // accuracyLimit 'continue': the same hopeless oracle, the run goes on uncertified
    const onward = dfo({ radius0: 0.5, tol0: 1e-1, accuracyLimit: 'continue' });
    let o = onward.init({ theta: tf.zeros([small.p]) } as Params);
    for (let k = 0; k < 10; k++) {
      const { state: next, info } = onward.step(o, shortOf(1e9));
      expect(info.stop, info.message).toBeUndefined();
      o = next;
    }
    expect(() => dfo({ accuracyLimit: 'go' as never })).toThrow(/accuracyLimit/);
    capped.dispose();
    const noBound: Oracle = (theta, accuracy, options) => ({ ...oracle(theta, accuracy, options), valueBound: NaN });
    expect(() => dfo().step(dfo().init({ theta: tf.zeros([3]) } as Params), noBound)).toThrow(/dfo.step: the oracle returned no valueBound .*dynamicAccuracy: false/);
    oracle.dispose();
  });

  it('rejects bad options with the function, the option and a fix', () => {
    expect(() => dfo({ radius0: -1 })).toThrow(/dfo: option 'radius0' must be a number in \(0, ∞\)/);
    expect(() => dfo({ accuracyRatio: 0.2 })).toThrow(/accuracyRatio < min\(acceptRatio, 1 − expandRatio\)\/2 = 0.05/);
    expect(() => dfo({ expandRatio: 0.05 })).toThrow(/option 'expandRatio'/);
    expect(() => dfo({ radiusGrow: 1 })).toThrow(/option 'radiusGrow'/);
    expect(() => dfo({ minRadius: 1 })).toThrow(/option 'minRadius'/);
    expect(() => dfo({ dynamicAccuracy: 1 as unknown as boolean })).toThrow(/option 'dynamicAccuracy' must be true or false/);
    expect(() => dfo({ radius: 1 } as never)).toThrow(/dfo: unknown option 'radius'/);
    expect(() => dfo({ points: 3 }).init({ theta: tf.zeros([3]) } as Params)).toThrow(/option 'points' must be in \[n \+ 1, \(n \+ 1\)\(n \+ 2\)\/2\] = \[4, 10\]/);
    expect(() => dfo({ radius0: 1, bounds: { lower: 0, upper: 1 } }).init({ theta: tf.zeros([3]) } as Params)).toThrow(/upper − lower ≥ 2·radius0/);
    expect(() => dfo({ bounds: { w: { lower: 0 } } }).init({ theta: tf.zeros([3]) } as Params)).toThrow(/names 'w', which is not a parameter/);
    expect(DFO_DEFAULTS.accuracyRatio).toBeLessThan(Math.min(DFO_DEFAULTS.acceptRatio, 1 - DFO_DEFAULTS.expandRatio) / 2);
  });
});

describe('dfo end to end: smoothed-TV denoising', () => {
  it('learns log α, log ν on two 16×16 crops through oracleFromStrategy(implicit): the certified loss goes down', async () => {
    // Piecewise-constant crops (a square and a stripe) plus seeded Gaussian noise, σ = 0.1.
    const rng = mulberry32(3);
    const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rng.next(), 1e-12))) * Math.cos(2 * Math.PI * rng.next());
    const size = 16;
    const clean: number[] = [];
    for (let c = 0; c < 2; c++) for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) clean.push(c === 0 ? (i >= 4 && i < 12 && j >= 4 && j < 12 ? 1 : 0) : j >= 8 ? 0.8 : 0.2);
    const data = { clean: tf.tensor3d(clean, [2, size, size]), y: tf.tensor3d(clean.map((v) => v + 0.1 * gauss()), [2, size, size]) };
    // Φ(x; θ) = ½‖x − y‖² + α Σ √(|∇x|² + ν²), α = e^{θ_α}, ν = e^{θ_ν}: μ = 1 from the data term.
    const problem = defineProblem<typeof data>({
      energy: (x, theta, d) => {
        const dx = tf.sub(tf.slice(x, [0, 0, 1], [-1, -1, -1]), tf.slice(x, [0, 0, 0], [-1, -1, size - 1]));
        const dy = tf.sub(tf.slice(x, [0, 1, 0], [-1, -1, -1]), tf.slice(x, [0, 0, 0], [-1, size - 1, -1]));
        const nu2 = tf.exp(tf.mul(2, theta.logNu));
        const tv = tf.add(tf.sum(tf.sqrt(tf.add(tf.square(dx), nu2))), tf.sum(tf.sqrt(tf.add(tf.square(dy), nu2))));
        return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.exp(theta.logAlpha), tv));
      },
      init: (_theta, d) => tf.clone(d.y),
      strongConvexity: 1,
    });
    // Mean squared error over the two crops; ∇ₓℓ is 1/2-Lipschitz.
    const loss = (x: tf.Tensor, _theta: Params, d: typeof data) => tf.mul(0.25, tf.sum(tf.square(tf.sub(x, d.clean))));
    // mixedNorm only enters gradient bounds, which value-only calls never compute.
    const constants = { lossLipschitz: 0.5, mixedNorm: 1 };
    const oracle = oracleFromStrategy({ problem, data, loss, strategy: implicit({ inner: lbfgs(), linear: cg() }), constants, maxIter: 2000 });
    const theta0 = { logAlpha: tf.scalar(Math.log(0.005)), logNu: tf.scalar(Math.log(0.1)) };
    const start = performance.now();
    const r = await train({ method: dfo({ radius0: 0.5, tol0: 1e-1, bounds: { lower: -8, upper: 1 } }), oracle, theta0, budget: { iterations: 25 } });
    const first = r.history[0];
    const last = r.history[r.history.length - 1];
    const evaluate = (t: Params) => {
      const e = oracle(t, { tol: 1e-5, linearTol: 1e-5 }, { valueOnly: true, skipAdjoint: true });
      e.dispose();
      return e;
    };
    const f0 = evaluate(theta0);
    const f1 = evaluate(r.theta);
    const seconds = (performance.now() - start) / 1000;
    console.log(`[dfo TV] α: ${Math.exp(Math.log(0.005)).toFixed(4)} → ${Math.exp(r.state.theta.logAlpha.values[0]).toFixed(4)}, ν: 0.1 → ${Math.exp(r.state.theta.logNu.values[0]).toFixed(4)}; loss ${f0.value.toExponential(4)} (±${f0.valueBound.toExponential(1)}) → ${f1.value.toExponential(4)} (±${f1.valueBound.toExponential(1)}); ${r.history.length} iterations, work ${last.work}, ${seconds.toFixed(1)} s, status ${r.status}`);
    expect(first.loss).toBeGreaterThan(last.loss);
    // Certified decrease: the loss intervals [F̃ − bound, F̃ + bound] are disjoint and ordered.
    expect(f1.value + f1.valueBound).toBeLessThan(f0.value - f0.valueBound);
    expect(r.work.linearIterations).toBe(0);
    tf.dispose([theta0.logAlpha, theta0.logNu, ...Object.values(r.theta), ...Object.values(data)]);
  });
});

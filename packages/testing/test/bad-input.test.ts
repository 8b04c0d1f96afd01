/**
 * Bad input named at the door, nothing leaked on failure: every case calls a public entry
 * point (hypergradient with each strategy, argmin, the problem definitions) with one bad
 * argument and asserts that (1) it throws, (2) the message names the function and the
 * offending argument or field (`theta.s`, `data.y`, `x0`, the energy, the operator) with the
 * fix, and (3) tf.memory().numTensors is where it was. Fixtures are made once, outside the
 * counts; each case runs in milliseconds (a few solver iterations at most).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  tf, initBackend, defineProblem, defineFixedPoint, defineSaddle, hypergradient, argmin, lbfgs, cg, gmres, gradientDescent,
} from '@bilevel/core';
import type { Params, Strategy } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { jacobianFree } from '@bilevel/jfb';
import { equilibrium } from '@bilevel/equilibrium';
import { piggyback } from '@bilevel/piggyback';

type D = { y: tf.Tensor; t: tf.Tensor; eps?: number };
type Case = [name: string, call: () => unknown, error: RegExp];

// Φ(x; s) = ½‖x − y‖² + ½e^s‖x‖²: μ = 1 + e^s, so μ = 2 at s = 0.
const energy = (x: tf.Tensor, th: Params, d: D) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.mul(0.5, tf.exp(th.s)), tf.sum(tf.square(x))));
const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));
const problem = defineProblem<D>({ energy, init: (_th, d) => tf.zerosLike(d.y), strongConvexity: 1, smoothness: 3, name: 'quad' });

let F: Record<string, tf.Tensor>;
let data: D;
let theta: Params;
let strategies: Record<string, Strategy & { dispose?(): void; warm?: { x: boolean } }>;
const boundConstants = { lossLipschitz: 1, hessianLipschitz: 0, mixedLipschitz: 0, mixedNorm: 2 };

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  F = {
    y: tf.tensor1d([1, 2, 3, 4]), t: tf.tensor1d([0.5, 1, 1.5, 2]), s: tf.scalar(0), sInt: tf.scalar(0, 'int32'), sBool: tf.scalar(true, 'bool'),
    sNaN: tf.scalar(NaN), sInf: tf.scalar(Infinity), yNaN: tf.tensor1d([1, NaN, 3, 4]), tInf: tf.tensor1d([0, Infinity, 0, 0]),
    empty: tf.zeros([0, 4]), empty1: tf.zeros([0]), x3: tf.zeros([3]), x4NaN: tf.tensor1d([0, NaN, 0, 0]), x4Int: tf.zeros([4], 'int32'),
    disposed: tf.scalar(1), K: tf.randomNormal([3, 4], 0, 1, 'float32', 1),
  };
  F.disposed.dispose();
  data = { y: F.y, t: F.t };
  theta = { s: F.s };
  strategies = {
    implicit: implicit({ inner: lbfgs(), linear: cg() }),
    unrolled: unrolled({ steps: 10 }),
    jfb: jacobianFree(),
    equilibrium: equilibrium(),
    piggyback: piggyback(),
  };
});

afterAll(() => {
  for (const s of Object.values(strategies)) s.dispose?.();
  tf.dispose(Object.values(F).filter((t) => !t.isDisposed));
});

const hg = (overrides: Record<string, unknown>, strategy = 'implicit') =>
  hypergradient({ problem, theta, data, loss, strategy: strategies[strategy], ...overrides } as never);

// A saddle problem min_x max_z ⟨Kx, z⟩ + ½‖x − y‖² − ½‖z‖² with K 3×4, in four broken variants.
const saddle = (over: Record<string, unknown>) => defineSaddle<D>({
  apply: (x: tf.Tensor) => tf.reshape(tf.matMul(F.K, tf.reshape(x, [4, 1])), [3]),
  adjoint: (z: tf.Tensor) => tf.reshape(tf.matMul(F.K, tf.reshape(z, [3, 1]), true), [4]),
  proxG: (x: tf.Tensor, tau: number, _th: Params, d: D) => tf.div(tf.add(x, tf.mul(d.y, tau)), 1 + tau),
  proxFStar: (z: tf.Tensor, sigma: number) => tf.div(z, 1 + sigma),
  init: (_th: Params, d: D) => d.y.clone(),
  name: 'K3x4',
  ...over,
} as never);

/**
 * Runs `call` with a strategy made for the case and disposes the strategy afterwards, so the
 * count also covers what a completed solve kept as its warm start before the policy threw.
 */
function own<S extends { dispose(): void }, T>(strategy: S, call: (s: S) => T): T {
  try {
    return call(strategy);
  } finally {
    strategy.dispose();
  }
}

const cases = (): Case[] => [
  // θ: kinds and dtypes before values
  ['θ of dtype int32', () => hg({ theta: { s: F.sInt } }), /hypergradient: 'theta\.s' has dtype int32, expected float32; tf\.cast/],
  ['θ of dtype bool', () => hg({ theta: { s: F.sBool } }), /'theta\.s' has dtype bool, expected float32/],
  ['θ an array', () => hg({ theta: [F.s] }), /hypergradient: 'theta' must be a plain object of float32 tensors .* got an array of length 1/],
  ['θ a bare tensor', () => hg({ theta: F.s }), /'theta' must be a plain object .* got a float32 tensor of shape \[\] \(wrap it/],
  ['θ a Map', () => hg({ theta: new Map([['s', F.s]]) }), /'theta' must be a plain object .* got a Map/],
  ['θ null', () => hg({ theta: null }), /'theta' must be a plain object .* got null/],
  ['θ empty', () => hg({ theta: {} }), /'theta' is empty/],
  ['θ leaf a number', () => hg({ theta: { s: 1 } }), /'theta\.s' must be a float32 tf\.Tensor, got number 1/],
  ['θ leaf disposed', () => hg({ theta: { s: F.disposed } }), /'theta\.s' was disposed/],
  ['θ NaN', () => hg({ theta: { s: F.sNaN } }), /'theta\.s' contains NaN or Inf/],
  ['θ Inf', () => hg({ theta: { s: F.sInf } }), /'theta\.s' contains NaN or Inf/],
  ['θ key misspelt (S for s)', () => hg({ theta: { S: F.s } }), /problem 'quad': the energy threw: .*it read theta\.s, which θ does not have \(did you mean 'S'\?\); θ had keys S/],
  ['θ key misspelt, unrolled', () => hg({ theta: { S: F.s } }, 'unrolled'), /the energy threw: .*it read theta\.s, which θ does not have \(did you mean 'S'\?\)/],
  // data: NaN/Inf named with the key, before any strategy blames a step size or gmres's 'b'
  ...(['implicit', 'unrolled', 'jfb', 'equilibrium'] as const).map((s): Case => [`NaN in data.y, ${s}`, () => hg({ data: { y: F.yNaN, t: F.t } }, s), /hypergradient: 'data\.y' contains NaN or Inf/]),
  ['Inf in data.t', () => hg({ data: { y: F.y, t: F.tInf } }), /'data\.t' contains NaN or Inf/],
  ['NaN number in data', () => hg({ data: { y: F.y, t: F.t, eps: NaN } }), /'data\.eps' is NaN; data must be finite/],
  ['empty batch', () => hg({ data: { y: F.empty, t: F.empty } }), /'data\.y' is empty \(shape \[0,4\]\): an empty batch/],
  ['empty batch, unrolled', () => hg({ data: { y: F.empty, t: F.empty } }, 'unrolled'), /'data\.y' is empty/],
  ['empty tensor data', () => hg({ data: F.empty1 }), /hypergradient: 'data' is empty/],
  ['data tensor disposed', () => hg({ data: { y: F.disposed, t: F.t } }), /'data\.y' was disposed/],
  ['data an array', () => hg({ data: [F.y] }), /'data' must be a tensor or a plain object of tensors/],
  // x0 against the problem
  ['x0 of the wrong shape', () => hg({ x0: F.x3 }), /hypergradient: 'x0' has shape \[3\], but the problem's init gives \[4\]/],
  ['x0 with NaN', () => hg({ x0: F.x4NaN }), /'x0' contains NaN or Inf/],
  ['x0 of dtype int32', () => hg({ x0: F.x4Int }), /'x0' has dtype int32, expected float32/],
  ['x0 not a tensor', () => hg({ x0: [0, 0, 0, 0] }), /option 'x0'/],
  // the energy's return and errors, named with the problem and the θ keys
  ['energy returns a JS number', () => hg({ problem: defineProblem<D>({ energy: () => 3 as never, init: (_t, d) => tf.zerosLike(d.y), name: 'num' }) }), /problem 'num': the energy returned a JS number \(3\), not a tensor/],
  ['energy returns undefined', () => hg({ problem: defineProblem<D>({ energy: () => undefined as never, init: (_t, d) => tf.zerosLike(d.y), name: 'undef' }) }), /problem 'undef': the energy must return a scalar tf\.Tensor, got undefined/],
  ['energy returns a vector', () => hg({ problem: defineProblem<D>({ energy: (x) => tf.square(x), init: (_t, d) => tf.zerosLike(d.y), name: 'vec' }) }), /problem 'vec': the energy must return a scalar, got shape \[4\]; sum or average it/],
  ['energy does not depend on x', () => hg({ problem: defineProblem<D>({ energy: (_x, th) => tf.mul(th.s, 2), init: (_t, d) => tf.zerosLike(d.y), name: 'flat' }) }), /problem 'flat': the energy does not depend on x/],
  ['energy throws', () => hg({ problem: defineProblem<D>({ energy: () => { throw new Error('boom'); }, init: (_t, d) => tf.zerosLike(d.y), name: 'thrower' }) }), /problem 'thrower': the energy threw: boom \(θ had keys s/],
  ['energy throws, jfb', () => hg({ problem: defineProblem<D>({ energy: () => { throw new Error('boom'); }, init: (_t, d) => tf.zerosLike(d.y), smoothness: 1, name: 'thrower' }) }, 'jfb'), /problem 'thrower': the energy threw: boom/],
  ['energy throws mid-solve', () => hg({ problem: defineProblem<D>({ energy: (x, th, d) => { if (x.dataSync()[0] !== 0) throw new Error('late'); return energy(x, th, d); }, init: (_t, d) => tf.zerosLike(d.y), name: 'late' }) }), /problem 'late': the energy threw: late/],
  ['init of the wrong shape for the data', () => hg({ problem: defineProblem<D>({ energy, init: () => tf.zeros([3]), name: 'init3' }) }), /problem 'init3': the energy threw: .*shape/],
  // the loss: errors and return values named, no tensor left behind
  ['loss throws', () => hg({ loss: () => { throw new Error('boom'); } }), /hypergradient: the loss threw: boom \(θ had keys s/],
  ['loss throws, unrolled', () => hg({ loss: () => { throw new Error('boom'); } }, 'unrolled'), /the loss threw: boom/],
  ['loss throws, equilibrium', () => hg({ loss: () => { throw new Error('boom'); } }, 'equilibrium'), /the loss threw: boom/],
  ['loss returns a JS number', () => hg({ loss: () => 1 }), /hypergradient: the loss returned a JS number \(1\)/],
  ['loss returns a vector', () => hg({ loss: (x: tf.Tensor) => tf.square(x) }), /hypergradient: the loss must return a scalar, got shape \[4\]/],
  ['loss reads a missing θ key', () => hg({ loss: (x: tf.Tensor, th: Params) => tf.mul(th.alpha, tf.sum(x)) }), /the loss threw: .*it read theta\.alpha, which θ does not have/],
  ['loss not a function', () => hg({ loss: 'mse' }), /hypergradient: option 'loss' must be a function/],
  // fixed-point maps
  ['map of the wrong shape', () => hg({ problem: defineFixedPoint<D>({ map: (x) => tf.slice(x, 0, 3), init: (_t, d) => tf.zerosLike(d.y), name: 'short' }) }, 'equilibrium'), /problem 'short': the map must return a tensor shaped like x \[4\], got shape \[3\]/],
  ['map throws', () => hg({ problem: defineFixedPoint<D>({ map: () => { throw new Error('boom'); }, init: (_t, d) => tf.zerosLike(d.y), name: 'mapper' }) }, 'jfb'), /problem 'mapper': the map threw: boom/],
  // saddle operators, checked at first use: shapes, then a random adjointness test
  ['saddle: init shape does not fit K', () => hg({ problem: saddle({ init: () => tf.zeros([5]) }) }, 'piggyback'), /problem 'K3x4': the apply \(K x, on x of shape \[5\]\) threw/],
  ['saddle: adjoint of the wrong shape', () => hg({ problem: saddle({ adjoint: (z: tf.Tensor) => tf.concat([z, z]) }) }, 'piggyback'), /saddle problem 'K3x4': K and Kᵀ disagree in shape: 'apply' maps x \[4\] to \[3\], but 'adjoint' maps that to \[6\]/],
  ['saddle: adjoint off by a factor 2', () => hg({ problem: saddle({ adjoint: (z: tf.Tensor) => tf.mul(2, tf.reshape(tf.matMul(F.K, tf.reshape(z, [3, 1]), true), [4])) }) }, 'piggyback'), /saddle problem 'K3x4': 'adjoint' is not the adjoint of 'apply': .*relative gap/],
  ['saddle: initDual of the wrong shape', () => hg({ problem: saddle({ initDual: () => tf.zeros([4]) }) }, 'piggyback'), /saddle problem 'K3x4': 'initDual' gives z of shape \[4\], but K x has shape \[3\]/],
  ['saddle problem with an energy strategy', () => hg({ problem: saddle({}) }, 'implicit'), /must come from defineProblem/],
  // argmin: the same checks per call
  ['argmin: θ of dtype int32', () => argmin(problem, strategies.implicit)({ s: F.sInt }, data), /argmin: 'theta\.s' has dtype int32, expected float32/],
  ['argmin: θ an array', () => argmin(problem, strategies.implicit)([F.s] as never, data), /argmin: 'theta' must be a plain object/],
  ['argmin: NaN data', () => argmin(problem, strategies.implicit)(theta, { y: F.yNaN, t: F.t }), /argmin: 'data\.y' contains NaN or Inf/],
  ['argmin: saddle adjoint off by a factor 2', () => argmin(saddle({ adjoint: (z: tf.Tensor) => tf.mul(2, tf.reshape(tf.matMul(F.K, tf.reshape(z, [3, 1]), true), [4])) }), strategies.piggyback)(theta, data), /argmin: saddle problem 'K3x4': 'adjoint' is not the adjoint of 'apply'/],
  ['argmin: empty batch', () => argmin(problem, strategies.implicit)(theta, { y: F.empty, t: F.empty }), /argmin: 'data\.y' is empty/],
  // the problem definitions
  ['defineProblem: energy not a function', () => defineProblem({ energy: 3 } as never), /defineProblem: option 'energy' must be a function/],
  ['defineProblem: misspelt option', () => defineProblem({ energy, strongconvexity: 1 } as never), /defineProblem: unknown option 'strongconvexity'; did you mean 'strongConvexity'\?/],
  ['defineProblem: negative strongConvexity', () => defineProblem({ energy, strongConvexity: -1 }), /defineProblem: option 'strongConvexity'/],
  ['defineSaddle: apply missing', () => defineSaddle({ proxG: (x: tf.Tensor) => x, proxFStar: (z: tf.Tensor) => z, init: () => tf.zeros([4]) } as never), /defineSaddle: option 'apply' must be a function/],
  ['defineFixedPoint: map missing', () => defineFixedPoint({} as never), /defineFixedPoint: option 'map' must be a function/],
  // certificates: a declared μ above the curvature at x̂ is refused, never certified
  ['strongConvexity 100 declared, true μ 2', () => own(implicit({ inner: lbfgs(), linear: cg(), constants: boundConstants }), (strategy) => hg({
    problem: defineProblem<D>({ energy, init: (_t, d) => tf.zerosLike(d.y), strongConvexity: 100, name: 'mu100' }), strategy,
  })), /implicit: the declared strongConvexity μ = 1\.00e\+2 of problem 'mu100' is above the curvature of ∇²ₓₓΦ at x̂: .*= 2\.00e\+0 .*Fix: declare a strongConvexity/],
  ['local maximum with gmres, onNotConverged error', () => own(implicit({ inner: lbfgs(), linear: gmres() }), (strategy) => hg({
    problem: defineProblem<D>({ energy: (x, th, d) => tf.mul(-0.5, tf.sum(tf.square(tf.sub(x, tf.mul(th.s, d.y))))), init: (th, d) => tf.mul(th.s, d.y), name: 'max' }),
    strategy, onNotConverged: 'error',
  })), /met its tolerance .* but the strategy flagged the result .*x̂ is not a minimum: along the adjoint q, qᵀ∇²ₓₓΦ\(x̂\)q\/‖q‖² = -1\.00e\+0 ≤ 0/],
  ['local maximum with cg, onNotConverged error', () => own(implicit({ inner: lbfgs(), linear: cg() }), (strategy) => hg({
    problem: defineProblem<D>({ energy: (x, th, d) => tf.mul(-0.5, tf.sum(tf.square(tf.sub(x, tf.mul(th.s, d.y))))), init: (th, d) => tf.mul(th.s, d.y), name: 'max' }),
    strategy, onNotConverged: 'error',
  })), /backward \(adjoint\) solve .*did not converge.*(non-positive curvature|not positive definite|pᵀAp)/],
  // an allocation failure says how large the request was and what to do
  ['allocation failure in the energy', () => hg({ problem: defineProblem<D>({ energy: () => { throw new RangeError('Array buffer allocation failed'); }, init: (_t, d) => tf.zerosLike(d.y), name: 'oom' }) }), /hypergradient: out of memory .*the inputs hold .* MiB \(\[4\], \[4\]\).*use smaller batches/],
];

describe('bad input named at the door, nothing leaked [wasm]', () => {
  it(`has at least 55 cases here (with outer's and imaging's, over 60)`, () => {
    const n = cases().length;
    console.log(`bad-input cases (testing): ${n}`);
    expect(n).toBeGreaterThanOrEqual(55);
  });

  it('every case throws an error naming the argument, and leaks no tensor', () => {
    // The problems and strategies of the table are built before counting; each call is counted alone.
    const table = cases();
    const failures: string[] = [];
    for (const [name, call, error] of table) {
      const before = tf.memory().numTensors;
      let message = '(no error)';
      try {
        const r = call() as { dispose?: () => void } | undefined;
        r?.dispose?.();
      } catch (e) {
        message = (e as Error).message;
      }
      const leaked = tf.memory().numTensors - before;
      if (!error.test(message)) failures.push(`${name}: ${message}`);
      if (leaked !== 0) failures.push(`${name}: leaked ${leaked} tensors`);
      if (process.env.BAD_INPUT_PRINT) console.log(`${name}\n  ${message}`);
    }
    expect(failures).toEqual([]);
    // Nothing was committed to the strategies' warm starts by the failing calls.
    expect(strategies.implicit.warm?.x ?? false).toBe(false);
  });

  it('a local maximum is reported (flagged, not converged) with the default policy, whatever the linear solver', () => {
    const max = defineProblem<D>({ energy: (x, th, d) => tf.mul(-0.5, tf.sum(tf.square(tf.sub(x, tf.mul(th.s, d.y))))), init: (th, d) => tf.mul(th.s, d.y), name: 'max' });
    for (const linear of [gmres(), cg()]) {
      const strategy = implicit({ inner: lbfgs(), linear });
      const before = tf.memory().numTensors;
      const r = hypergradient({ problem: max, theta, data, loss, strategy, onNotConverged: 'warn' });
      expect(r.converged).toBe(false);
      expect(r.status).toBe(linear.name === 'gmres' ? 'forward-not-converged' : 'backward-not-converged');
      expect(r.message).toMatch(linear.name === 'gmres' ? /x̂ is not a minimum/ : /curvature|positive definite/);
      r.dispose();
      strategy.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('a correct μ passes the check and the bound is reported', () => {
    const strategy = implicit({ inner: lbfgs(), linear: cg(), constants: boundConstants });
    const r = hypergradient({ problem, theta, data, loss, strategy });
    expect(r.converged).toBe(true);
    expect(Number.isFinite(r.bound)).toBe(true);
    r.dispose();
    strategy.dispose();
  });

  it('gradient descent with a wrong μ is refused by outer-style certificates too (the same check in core)', () => {
    const strategy = implicit({ inner: gradientDescent(), linear: cg(), constants: boundConstants });
    const wrong = defineProblem<D>({ energy, init: (_t, d) => tf.zerosLike(d.y), strongConvexity: 3, name: 'mu3' });
    const before = tf.memory().numTensors;
    expect(() => hypergradient({ problem: wrong, theta, data, loss, strategy })).toThrow(/strongConvexity μ = 3\.00e\+0 .* above the curvature/);
    expect(tf.memory().numTensors).toBe(before);
    strategy.dispose();
  });
});

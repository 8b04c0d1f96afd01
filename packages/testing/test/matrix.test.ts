/*
 * Strategy × problem matrix: every differentiation rule of test/rules.ts on every zoo problem
 * it accepts, against the float64 reference hypergradient, with a tensor-leak check; every
 * pair it does not accept must be rejected with an error that names the rule (the table of
 * skipped pairs is asserted, not skipped).
 *
 * Tolerances (float32, unit roundoff u = 6e-8), per problem. Exact rules (forward and backward
 * solved to TOL = 1e-6 absolute): a residual r in either solve moves the hypergradient by
 * ≲ κ·r relative to ‖∇F‖, and float32 rounding of the ~10 operations per product adds
 * ≲ κ·10u, so the error is ≤ exactTolerance(p) = 4κ(TOL/‖∇F‖ + 10u), 4 for the constants
 * (‖∇²ₓθΦ‖, ‖∇ₓℓ‖) that the residual-to-error map carries: 7e-6 … 4e-5 across the zoo; the
 * measured errors are ≤ 1e-6. Truncated rules (truncated unrolling, k-step Jacobian-free,
 * phantom, Neumann series) also drop a Neumann tail ≤ κρᴷ ≤ 1e-4 by the choice of K
 * (rules.ts), added to their tolerance; measured ≤ 3e-5. Values F̃ are compared with F at
 * 4κ(TOL + 10u)/|F| relative, the same argument for ℓ(x̃) − ℓ(x̂) ≈ ∇ₓℓ·(x̃ − x̂).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, flattenParams } from '@bilevel/core';
import { problemZoo, relErrNumbers, norm, type ZooProblem } from '@bilevel/testing';
import { RULES, TOL as RULE_TOL, type Rule } from './rules.js';

const TOL = 1e-6;
const U = 6e-8;
const exactTolerance = (p: ZooProblem) => 4 * p.kappa * (TOL / norm(p.reference.grad) + 10 * U);
const valueTolerance = (p: ZooProblem) => 4 * p.kappa * (TOL + 10 * U) / Math.abs(p.reference.value);
const TRUNCATION_TOL = 1e-4;
const TRUNCATED = new Set(['unrolled truncated', 'equilibrium phantom', 'equilibrium neumannSeries', 'jacobianFree (k steps)']);

/**
 * The pairs not run, each with why. The test asserts that this table is exactly the set of
 * pairs a rule does not accept, and that running such a pair throws an error naming the rule.
 */
const NOT_APPLICABLE: Record<string, string> = {
  'implicit(lbfgs, cg) × contraction': 'implicit differentiates argmins of energies; fixed points go to equilibrium',
  'implicit(lbfgs, gmres) × contraction': 'implicit differentiates argmins of energies; fixed points go to equilibrium',
  'piggyback × quadratic': 'piggyback differentiates saddle points (defineSaddle) only',
  'piggyback × ridge': 'piggyback differentiates saddle points (defineSaddle) only',
  'piggyback × log-cosh': 'piggyback differentiates saddle points (defineSaddle) only',
  'piggyback × contraction': 'piggyback differentiates saddle points (defineSaddle) only',
  ...Object.fromEntries(
    RULES.filter((r) => r.name !== 'piggyback').map((r) => [`${r.name} × saddle`, 'a saddle point needs the primal–dual rule (piggyback)']),
  ),
};

const zoo = problemZoo();
const pairs = zoo.flatMap((p) => RULES.map((rule) => ({ rule, p, key: `${rule.name} × ${p.name}` })));

/** The rule built with the constants of a problem it accepts (a rejected pair has none of its own). */
function buildFor(rule: Rule, p: ZooProblem) {
  const host = rule.accepts.includes(p.kind) ? p : zoo.find((q) => rule.accepts.includes(q.kind))!;
  return rule.make(host);
}

describe('strategy × problem matrix [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('the table of pairs not run is exactly the pairs a rule does not accept', () => {
    const rejected = pairs.filter(({ rule, p }) => !rule.accepts.includes(p.kind)).map(({ key }) => key).sort();
    expect(rejected).toEqual(Object.keys(NOT_APPLICABLE).sort());
    const run = pairs.length - rejected.length;
    console.log(`matrix: ${RULES.length} rules × ${zoo.length} problems = ${pairs.length} pairs, ${run} run, ${rejected.length} not applicable`);
    expect(run).toBeGreaterThanOrEqual(4 * (RULES.length - 3));
  });

  it('the rules solve to the TOL the tolerances assume', () => expect(RULE_TOL).toBe(TOL));

  it('every zoo reference is well scaled (‖∇F‖ ≥ 0.1, so the relative tolerances mean something)', () => {
    for (const p of zoo) expect(norm(p.reference.grad), p.name).toBeGreaterThan(0.1);
  });

  for (const { rule, p, key } of pairs.filter(({ rule: r, p: q }) => !r.accepts.includes(q.kind))) {
    it(`${key} is rejected: ${NOT_APPLICABLE[key]}`, () => {
      const inst = p.build();
      const strategy = buildFor(rule, p);
      const before = tf.memory().numTensors;
      expect(() => hypergradient({ problem: inst.problem, theta: inst.theta, data: inst.data, loss: inst.loss, strategy })).toThrow(/must come from|differentiates|defineSaddle|defineProblem/);
      expect(tf.memory().numTensors).toBe(before);
      (strategy as { dispose?: () => void }).dispose?.();
      inst.dispose();
    });
  }

  const table: Array<Record<string, string | number>> = [];
  for (const { rule, p, key } of pairs.filter(({ rule: r, p: q }) => r.accepts.includes(q.kind))) {
    it(`${key} matches the ${p.source} hypergradient`, () => {
      const before = tf.memory().numTensors;
      const inst = p.build();
      const strategy = rule.make(p);
      const r = hypergradient({ problem: inst.problem, theta: inst.theta, data: inst.data, loss: inst.loss, strategy, onNotConverged: 'error' });
      const grad = tf.tidy(() => flattenParams(r.grad).dataSync());
      const err = relErrNumbers(grad, p.reference.grad);
      const valueErr = Math.abs(r.value - p.reference.value) / Math.abs(p.reference.value);
      table.push({ pair: key, relErr: err.toExponential(2), valueErr: valueErr.toExponential(1), inner: r.work.innerIterations, linear: r.work.linearIterations });
      r.dispose();
      (strategy as { dispose?: () => void }).dispose?.();
      inst.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(err).toBeLessThan(exactTolerance(p) + (TRUNCATED.has(rule.name) ? TRUNCATION_TOL : 0));
      expect(valueErr).toBeLessThan(valueTolerance(p));
    });
  }

  it('prints the matrix', () => {
    console.table(table);
    expect(table.length).toBe(pairs.filter(({ rule, p }) => rule.accepts.includes(p.kind)).length);
  });
});

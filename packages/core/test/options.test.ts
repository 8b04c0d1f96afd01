import { describe, it, expect, vi, beforeAll } from 'vitest';
import { tf, initBackend, lbfgs, cg, picard, powerIteration, opt, checkOptions, defineOptions, optionsOf, resetOptionWarnings, recordExplicit, explicitOptions, resolveAccuracy } from '@bilevel/core';
import { editDistance, closestName } from '../src/internal/edit-distance.js';

const schema = {
  tol: opt.number({ min: 0 }),
  maxIter: opt.integer({ min: 1 }),
  mode: opt.oneOf(['absolute', 'relative']),
  warm: opt.boolean(),
  callback: opt.func(),
  x0: opt.tensor(),
  step: opt.number({ gt: 0, max: 1 }, 'use a step in (0, 1], e.g. 1/L'),
  checkpoint: opt.object({ every: opt.integer({ min: 1 }), path: opt.string() }),
  maxIterations: opt.renamed('maxIter'),
};

describe('checkOptions', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  it('accepts valid options and returns a copy without undefined values', () => {
    const given = { tol: 1e-4, maxIter: 10, mode: 'relative', warm: true, step: 1, tolUnused: undefined } as Record<string, unknown>;
    delete given.tolUnused;
    const out = checkOptions('f', { ...given, callback: undefined }, schema);
    expect(out).toEqual(given);
    expect(checkOptions('f', undefined, schema)).toEqual({});
  });

  it('rejects an unknown key naming the function, the key, the nearest valid one and the list', () => {
    expect(() => checkOptions('implicit', { maxIters: 2 }, schema)).toThrow(/^implicit: unknown option 'maxIters'; did you mean 'maxIter'\? The options are tol, maxIter, mode/);
    expect(() => checkOptions('f', { Tol: 1 }, schema)).toThrow(/did you mean 'tol'/);
    expect(() => checkOptions('f', { zzzzzz: 1 }, schema)).toThrow(/^f: unknown option 'zzzzzz'; The options are/);
  });

  it('checks nested objects with the path in the message', () => {
    expect(() => checkOptions('train', { checkpoint: { evry: 5 } }, schema)).toThrow(/^train: unknown option 'checkpoint.evry'; did you mean 'checkpoint.every'\?/);
    expect(() => checkOptions('train', { checkpoint: { every: 0 } }, schema)).toThrow(/train: option 'checkpoint.every' must be a positive integer, got 0/);
    expect(() => checkOptions('train', { checkpoint: 5 }, schema)).toThrow(/option 'checkpoint' must be an object, got 5/);
  });

  it('names the option, the accepted range and the fix for wrong kinds and ranges', () => {
    expect(() => checkOptions('cg', { tol: -1 }, schema)).toThrow("cg: option 'tol' must be a finite number ≥ 0, got -1.");
    expect(() => checkOptions('cg', { tol: NaN }, schema)).toThrow(/must be a finite number ≥ 0, got NaN/);
    expect(() => checkOptions('cg', { maxIter: 2.5 }, schema)).toThrow(/'maxIter' must be a positive integer, got 2.5/);
    expect(() => checkOptions('cg', { mode: 'abs' }, schema)).toThrow(/'mode' must be 'absolute' or 'relative', got 'abs'/);
    expect(() => checkOptions('cg', { step: 2 }, schema)).toThrow("cg: option 'step' must be a number in (0, 1], got 2; use a step in (0, 1], e.g. 1/L.");
    expect(() => checkOptions('cg', { callback: 1 }, schema)).toThrow(/'callback' must be a function/);
    expect(() => checkOptions('cg', { warm: 'yes' }, schema)).toThrow(/'warm' must be true or false, got 'yes'/);
    const t = tf.scalar(1);
    t.dispose();
    expect(() => checkOptions('cg', { x0: t }, schema)).toThrow(/'x0' must be a tf.Tensor \(not disposed\), got a disposed tensor/);
    expect(() => checkOptions('cg', 3 as unknown as object, schema)).toThrow(/cg: options must be a plain object, got 3/);
  });

  it('maps a deprecated spelling to its new name with one warning', () => {
    resetOptionWarnings();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(checkOptions('f', { maxIterations: 5 }, schema)).toEqual({ maxIter: 5 });
      checkOptions('f', { maxIterations: 6 }, schema);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/f: option 'maxIterations' is deprecated .* use 'maxIter'/);
      expect(() => checkOptions('f', { maxIterations: 0 }, schema)).toThrow(/option 'maxIter' must be a positive integer/);
      expect(() => checkOptions('f', { maxIterations: 5, maxIter: 5 }, schema)).toThrow(/pass only 'maxIter'/);
      // a misspelling of the old name suggests the new one; the list omits the old one
      expect(() => checkOptions('f', { maxIteration: 5 }, schema)).toThrow(/did you mean 'maxIter'\?/);
      expect(() => checkOptions('f', { x: 5 }, schema)).not.toThrow(/maxIterations/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('a renamed public option', () => {
  it("powerIteration's old 'iterations' still works as 'maxIter', with one deprecation warning", async () => {
    await initBackend({ backend: 'cpu', log: false });
    resetOptionWarnings();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const like = tf.ones([4]);
    const A = tf.tensor1d([4, 3, 2, 1]);
    const before = tf.memory().numTensors;
    try {
      // tol 0 never stops early, so the iteration count is the cap itself
      const old = powerIteration((v) => tf.mul(A, v), like, { iterations: 7, tol: 0 });
      const now = powerIteration((v) => tf.mul(A, v), like, { maxIter: 7, tol: 0 });
      expect(old.iterations).toBe(7);
      expect(old.max).toBe(now.max);
      powerIteration((v) => tf.mul(A, v), like, { iterations: 3 });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/powerIteration: option 'iterations' is deprecated .* use 'maxIter'/);
      expect(() => powerIteration((v) => tf.mul(A, v), like, { iterations: 3, maxIter: 3 })).toThrow(/pass only 'maxIter'/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      warn.mockRestore();
      tf.dispose([like, A]);
    }
  });
});

describe('defineOptions', () => {
  it('binds a name, fills defaults and registers the schema on its owner', () => {
    function solver(): void {}
    const set = defineOptions<{ tol?: number; maxIter?: number }>('solver', { tol: opt.number({ min: 0 }), maxIter: opt.integer({ min: 1 }), old: opt.renamed('tol') }, solver);
    expect(set.keys).toEqual(['tol', 'maxIter']);
    expect(set.withDefaults({ tol: undefined, maxIter: 3 }, { tol: 1e-4, maxIter: 10 })).toEqual({ tol: 1e-4, maxIter: 3 });
    expect(optionsOf(solver)).toBe(set);
    expect(() => set.check({ maxiter: 1 } as object)).toThrow(/solver: unknown option 'maxiter'; did you mean 'maxIter'/);
  });
});

describe('precedence', () => {
  it('records explicit options and resolves per-call > explicit > strategy default', () => {
    const a = recordExplicit({}, { tol: 1e-6, maxIter: undefined });
    expect(explicitOptions(a)).toEqual({ tol: 1e-6 });
    expect(explicitOptions({})).toEqual({});
    // set in the strategy's factory: wins over the strategy default
    expect(resolveAccuracy(1e-6, undefined, 1e-4)).toBe(1e-6);
    // set on the solver: the caller passes no default, so nothing goes per call
    expect(resolveAccuracy(undefined, undefined, undefined)).toBeUndefined();
    expect(resolveAccuracy(undefined, undefined, 1e-4)).toBe(1e-4);
    expect(resolveAccuracy(1e-6, 1e-3, 1e-4)).toBe(1e-3);
    expect(resolveAccuracy(undefined, undefined, undefined)).toBeUndefined();
    // the solver factories record what the user set, and only that
    expect(explicitOptions(lbfgs({ tol: 1e-6 }))).toEqual({ tol: 1e-6 });
    expect(explicitOptions(lbfgs())).toEqual({});
    expect(explicitOptions(cg({ maxIter: 5, tol: undefined }))).toEqual({ maxIter: 5 });
    expect(explicitOptions(picard({ damping: 0.5 }))).toEqual({ damping: 0.5 });
  });
});

describe('edit distance', () => {
  it('counts edits and transpositions case-insensitively and suggests only plausible names', () => {
    expect(editDistance('maxIters', 'maxIter')).toBe(1);
    expect(editDistance('tlo', 'tol')).toBe(1);
    expect(editDistance('strongconvexity', 'strongConvexity')).toBe(0);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closestName('evry', ['every', 'path'])).toBe('every');
    expect(closestName('maxIterations', ['tol', 'maxIter'])).toBe('maxIter');
    expect(closestName('foo', ['tol', 'maxIter'])).toBeUndefined();
    expect(closestName('x', ['k', 'x0'])).toBe('x0');
  });
});

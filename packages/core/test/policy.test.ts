import { describe, it, expect, vi } from 'vitest';
import { convergencePolicy, type HypergradientResult } from '../src/index.js';

/*
 * ConvergencePolicy.summary names what the policy counted: hypergradients (results through settle), solves
 * (argmin's solves through settleSolve), both, or the caller's own noun (option 'counted', validated).
 */
const unconvergedSolve = { converged: false, residual: 2e-3, message: 'cap reached' };
// a result the policy only reads (flags, residuals, messages) and, in 'warn' mode, returns without disposing
const unconvergedResult = (): HypergradientResult =>
  ({ converged: false, status: 'forward-not-converged', residuals: { forward: 0.25 }, message: 'stub', strategy: 'stub', dispose() {} }) as unknown as HypergradientResult;

function quietly<T>(fn: () => T): T {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    return fn();
  } finally {
    warn.mockRestore();
  }
}

describe('convergencePolicy summary names what it counts', () => {
  it('plain solves are counted as solves, not hypergradients', () => {
    const policy = convergencePolicy('warn');
    quietly(() => {
      policy.settleSolve('held out', 'forward', unconvergedSolve, 'piggyback', 1e-3);
      policy.settleSolve('held out', 'forward', { converged: true, residual: 1e-4, message: 'ok' }, 'piggyback', 1e-3);
    });
    const line = policy.summary('rows');
    expect(line).toMatch(/^rows: 1 of 2 solves did not converge \(1 forward, 0 backward; worst residual forward 2\.00e-3/);
    expect(line).not.toMatch(/hypergradients/);
  });

  it('results through settle are hypergradients, as before; both kinds are named both', () => {
    const policy = convergencePolicy('warn');
    quietly(() => policy.settle(unconvergedResult(), { where: 'train', tol: { tol: 1e-4 } }));
    expect(policy.summary('train')).toMatch(/^train: 1 of 1 hypergradients did not converge/);
    quietly(() => policy.settleSolve('argmin', 'backward', unconvergedSolve, 'implicit', 1e-3));
    expect(policy.summary('train')).toMatch(/^train: 2 of 2 hypergradients and solves did not converge \(1 forward, 1 backward/);
    // reset forgets what was checked too
    policy.reset();
    expect(policy.summary('train')).toBeUndefined();
    quietly(() => policy.settleSolve('argmin', 'forward', unconvergedSolve, 'implicit', 1e-3));
    expect(policy.summary('train')).toMatch(/^train: 1 of 1 solves did not converge/);
  });

  it("'counted' names them as the caller says, whatever was checked", () => {
    const policy = convergencePolicy('warn', 'counted per row', { counted: 'held-out solves' });
    quietly(() => policy.settleSolve('row', 'forward', unconvergedSolve, 'piggyback', 1e-3));
    expect(policy.summary('ct row')).toMatch(/^ct row: 1 of 1 held-out solves did not converge/);
    expect(convergencePolicy('warn').summary('none')).toBeUndefined();
  });

  it("a misspelt or bad 'counted' is an error naming it", () => {
    expect(() => convergencePolicy('warn', '', { countd: 'solves' } as never)).toThrow(/convergencePolicy: unknown option 'countd'; did you mean 'counted'\?/);
    expect(() => convergencePolicy('warn', '', { counted: '' })).toThrow(/convergencePolicy: option 'counted' must be a non-empty string/);
    expect(() => convergencePolicy('warn', '', { counted: 3 } as never)).toThrow(/option 'counted' must be a non-empty string .*got 3/);
    // a policy object passed in keeps its own noun
    const shared = convergencePolicy('warn', '', { counted: 'solves' });
    expect(convergencePolicy(shared)).toBe(shared);
    expect(() => convergencePolicy(shared, '', { counted: 'hypergradients' })).toThrow(/option 'counted' names what a new policy counts/);
  });
});

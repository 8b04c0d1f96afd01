import { it, expect, describe, beforeAll, vi } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { ctContext, disposeContext } from '../src/context.js';
import { tvGridMethod } from '../src/methods/tv-grid.js';
import { rowConvergence } from '../src/held-out.js';

/*
 * Every printed row says whether the solves behind it converged (held-out.ts): a cap too small to reach --evalTol
 * makes the row's converged column and its console line name the count that stopped short, and the core policy
 * warns once with the residual and the fix; at a sufficient cap the row says all converged and nothing is warned.
 */
beforeAll(async () => {
  await initBackend();
});

const flags = (evalMaxIter: number) => ({ size: 16, angles: 8, noise: 0.02, count: 2, test: 1, seed: 0, grid: '0.003,0.01', evalTol: 1e-3, evalMaxIter, tvPrecondition: 'diagonal' });

async function runGrid(evalMaxIter: number) {
  const ctx = ctContext(flags(evalMaxIter));
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const before = tf.memory().numTensors;
  try {
    const r = await tvGridMethod.run(ctx);
    expect(tf.memory().numTensors).toBe(before);
    return { row: r.rows[0], warnings: warn.mock.calls.map((c) => String(c[0])), lines: log.mock.calls.map((c) => String(c[0])) };
  } finally {
    warn.mockRestore();
    log.mockRestore();
    disposeContext(ctx);
  }
}

describe('ct-sparse-view rows say whether their solves converged', () => {
  it('a cap of 3 PDHG iterations: the row counts the solves that stopped short, and the policy warns once with the fix', async () => {
    const { row, warnings, lines } = await runGrid(3);
    // 2 grid solves on the training set + 1 held out, none within 3 iterations of evalTol 1e-3
    expect(row.converged).toBe('0/3 converged; 3 stopped short (--evalMaxIter 3)');
    expect(lines.some((l) => l.includes('grid and held out 0/3 converged; 3 stopped short (--evalMaxIter 3)'))).toBe(true);
    // the core policy's first warning (residual vs tolerance, the fix), then the row's count
    const policy = warnings.filter((w) => /did not converge: residual .* vs tolerance 1\.00e-3/.test(w));
    expect(policy).toHaveLength(1);
    expect(policy[0]).toMatch(/ct-sparse-view tv-grid .*Fix: increase 'maxIter'.*raise --evalMaxIter/);
    expect(warnings.some((w) => /ct-sparse-view tv-grid .*: 3 of 3 solves did not converge \(--evalMaxIter 3; worst residual/.test(w))).toBe(true);
  });

  it('a sufficient cap: the row says all converged and nothing is warned', async () => {
    const { row, warnings } = await runGrid(3000);
    expect(row.converged).toBe('3/3 converged');
    expect(warnings).toEqual([]);
  });

  it('a record counts each solve and reports a NaN residual as unconverged', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const held = rowConvergence('test row', 'piggyback', '--netEvalMaxIter 2000');
      held.check({ converged: true, residual: 1e-4, message: 'ok' }, 1e-3);
      expect(held.text()).toBe('1/1 converged');
      expect(held.warning()).toBeUndefined();
      held.check({ converged: true, residual: NaN, message: 'nan' }, 1e-3);
      held.check({ converged: false, residual: 2e-3, message: 'cap' }, 1e-3);
      expect([held.checked, held.converged]).toEqual([3, 1]);
      expect(held.text()).toBe('1/3 converged; 2 stopped short (--netEvalMaxIter 2000)');
      expect(held.warning()).toMatch(/^test row: 2 of 3 solves did not converge \(--netEvalMaxIter 2000; worst residual/);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });
});

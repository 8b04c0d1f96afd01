import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@bilevel/core';
import { cli, tmp, write } from './helpers.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ridge.mjs');

beforeAll(async () => {
  await initBackend({ log: false });
});
afterEach(() => {
  delete process.env.BILEVEL_CHECK_WRONG;
});

describe('bilevel check', () => {
  it('a correct hand-written gradient: every derivative ok, the three strategies agree, exit 0', async () => {
    const { code, out } = await cli(['check', fixture, '--json']);
    const r = JSON.parse(out);
    expect(r.derivatives.map((d: { ok: boolean }) => d.ok)).toEqual([true, true, true, true]);
    expect(r.strategies.map((s: { strategy: string }) => s.strategy.split(' ')[0])).toEqual(['implicit', 'unrolled', 'equilibrium']);
    for (const s of r.strategies) {
      expect(s.converged).toBe(true);
      // float32 solves to 1e-5: the strategies agree to ~1e-6 here; 1e-3 leaves room for the platform.
      expect(s.relDiff).toBeLessThan(1e-3);
      expect(Math.abs(s.directional - r.reference) / Math.abs(r.reference)).toBeLessThan(1e-3);
    }
    expect(r.ok).toBe(true);
    expect(r.verdict).toMatch(/^PASS/);
    expect(code).toBe(0);
  });

  it('a deliberately wrong gradient (2e^s x for e^s x): the gradient check fails, verdict FAIL, exit 1', async () => {
    process.env.BILEVEL_CHECK_WRONG = '1';
    const { code, out } = await cli(['check', fixture]);
    expect(code).toBe(1);
    expect(out).toMatch(/energy gradient ∇ₓΦ \| [0-9.e+-]+ \| WRONG/);
    expect(out).toMatch(/loss gradient ∇ₓℓ \| [0-9.e+-]+ \| ok/);
    expect(out).toMatch(/verdict: FAIL: energy gradient ∇ₓΦ/);
  });

  it('a module without a loss is a usage error naming the export', async () => {
    const dir = tmp('check');
    const file = write(dir, 'noloss.mjs', 'export default ({ tf }) => ({ energy: (x) => tf.sum(tf.square(x)), theta: { a: tf.scalar(1) }, data: { y: tf.zeros([3]) } });\n');
    const { code, err } = await cli(['check', file]);
    expect(code).toBe(2);
    expect(err).toContain("export 'loss' must be a function");
  });
});

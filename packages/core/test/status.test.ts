import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, STATUS, statusMessage, statusEntry, isOk, cg, type StatusCode } from '../src/index.js';

describe('status table', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  it('every code has a meaning and a message that names the function', () => {
    for (const code of Object.keys(STATUS) as StatusCode[]) {
      const m = statusMessage(code, { where: 'someSolver', iterations: 3, residual: 1e-3, tol: 1e-6, maxIter: 3 });
      expect(m.startsWith('someSolver: ')).toBe(true);
      expect(STATUS[code].meaning.length).toBeGreaterThan(10);
    }
  });

  it('max-iterations names the options, their current values and the float32 floor', () => {
    const m = statusMessage('max-iterations', {
      where: 'cg', iterations: 100, residual: 3e-4, residualName: '‖b − Ax‖', threshold: 1e-6, tol: 1e-6,
      tolMode: 'relative', relativeTo: '‖b‖', maxIter: 100,
    });
    expect(m).toMatch(/increase maxIter \(now 100\) or loosen tol \(now 1e-6\)/);
    expect(m).toMatch(/float32 stalls near 1\.19e-7·‖b‖/);
    expect(m).toMatch(/‖b − Ax‖ = 3\.00e-4 > 1\.00e-6/);
  });

  it('uses the caller\'s option names and a solver-specific fix', () => {
    const m = statusMessage('backward-not-converged', { where: 'implicit', residual: 2e-2, maxIter: 30, optionNames: { maxIter: 'linearMaxIter' } });
    expect(m).toMatch(/increase linearMaxIter \(now 30\)/);
    expect(statusMessage('max-iterations', { where: 'neumann', fix: 'increase terms' })).toMatch(/; increase terms\./);
  });

  it('fixed-steps says what the derivative is of', () => {
    expect(isOk('fixed-steps')).toBe(true);
    expect(statusMessage('fixed-steps', { where: 'unrolled', iterations: 20 })).toMatch(/exact derivative of those steps, not of the solution map/);
  });

  it('accepts the short aliases and rejects unknown codes with the list', () => {
    expect(statusEntry('max-iter')).toBe(STATUS['max-iterations']);
    expect(statusEntry('non-finite')).toBe(STATUS.nan);
    expect(statusEntry('negative-curvature')).toBe(STATUS['non-positive-curvature']);
    expect(isOk('converged')).toBe(true);
    expect(isOk('stalled')).toBe(false);
    expect(() => statusEntry('done')).toThrow(/unknown status code 'done'; the codes are converged, max-iterations/);
  });

  it('solver results carry the table\'s message', () => {
    const A = tf.tensor2d([[2, 0], [0, 1]]);
    const b = tf.tensor1d([1, 1]);
    const r = cg({ maxIter: 1, tol: 1e-6 }).solve((v) => tf.squeeze(tf.matMul(A, tf.reshape(v, [2, 1]))), b);
    expect(r.status).toBe('max-iterations');
    expect(r.message).toMatch(/^cg: not converged after 1 iterations: .*increase maxIter \(now 1\) or loosen tol \(now 1e-6\)/);
    tf.dispose([A, b, r.x]);
  });
});

import { tf, emptyWork, checkNonNegative, checkPositiveInt, statusMessage } from '@bilevel/core';
import type { ForwardResult, ForwardSolveOptions, ForwardStatus } from '../forward/types.js';
import { FORWARD_DEFAULTS } from '../forward/types.js';

/** Throws on option keys the factory does not know. */
export function checkKeys(where: string, options: object, known: string[]): void {
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object.`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new Error(`${where}: unknown option '${key}'; the options are ${known.join(', ')}.`);
  }
}

/** Resolves and validates per-call tol / maxIter against the factory's defaults. */
export function stopping(where: string, defaults: { tol?: number; maxIter?: number }, call?: ForwardSolveOptions): { tol: number; maxIter: number } {
  const tol = call?.tol ?? defaults.tol ?? FORWARD_DEFAULTS.tol;
  const maxIter = call?.maxIter ?? defaults.maxIter ?? FORWARD_DEFAULTS.maxIter;
  checkNonNegative(where, 'tol', tol);
  checkPositiveInt(where, 'maxIter', maxIter);
  return { tol, maxIter };
}

/** Reads ‖t‖ to a number and disposes t. */
export function readNorm(t: tf.Tensor): number {
  const n = tf.tidy(() => tf.norm(t));
  const v = n.dataSync()[0];
  n.dispose();
  t.dispose();
  return v;
}

/** Builds the result record with a message that names the fix. */
export function finish(
  where: string,
  x: tf.Tensor,
  iterations: number,
  residualNorm: number,
  tol: number,
  maxIter: number,
  mapEvals: number,
  started: number,
): ForwardResult {
  const status: ForwardStatus = !Number.isFinite(residualNorm) ? 'nan' : residualNorm <= tol ? 'converged' : 'max-iterations';
  const message = statusMessage(status, {
    where, iterations, residual: residualNorm, residualName: '‖T(x) − x‖', tol, tolMode: 'absolute', maxIter,
    fix: status === 'nan'
      ? 'the map is not a contraction here: add damping (picard({ damping: 0.5 })) or reduce the step size'
      : status === 'max-iterations' ? `increase maxIter (now ${maxIter}), use anderson(), or loosen tol (now ${tol})` : undefined,
  });
  const work = emptyWork();
  work.energyEvals = mapEvals;
  work.innerIterations = iterations;
  work.timeMs = performance.now() - started;
  return { x, iterations, residualNorm, converged: status === 'converged', status, message, work };
}

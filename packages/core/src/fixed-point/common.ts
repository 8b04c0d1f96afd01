/**
 * What the fixed-point solvers share (internal): per-call stopping options, ‖t‖ reads, and
 * the result with the status table's message.
 *
 * @packageDocumentation
 */
import type { tf } from '../tf.js';
import { normNumber } from '../internal/fused-ops.js';
import { emptyWork } from '../work.js';
import { statusMessage } from '../status.js';
import { checkNonNegative, checkPositiveInt } from '../validate.js';
import type { IterateOutcome } from '../iterate/types.js';
import { FIXED_POINT_DEFAULTS, type FixedPointResult, type FixedPointSolveOptions, type FixedPointSolver, type FixedPointStatus } from './types.js';
import { checkOptions, recordExplicit } from '../options.js';
import { FIXED_POINT_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Resolves and validates per-call tol / maxIter against the factory's defaults. */
export function stopping(where: string, defaults: FixedPointSolveOptions, call?: FixedPointSolveOptions): { tol: number; maxIter: number } {
  checkOptions(`${where}.solve`, call, FIXED_POINT_STOPPING_SCHEMA);
  const tol = call?.tol ?? defaults.tol ?? FIXED_POINT_DEFAULTS.tol;
  const maxIter = call?.maxIter ?? defaults.maxIter ?? FIXED_POINT_DEFAULTS.maxIter;
  checkNonNegative(where, 'tol', tol);
  checkPositiveInt(where, 'maxIter', maxIter);
  return { tol, maxIter };
}

/**
 * ‖t‖ read to a number (t is not disposed): off the backend's memory in float64 where it can be
 * (core's normNumber: no Norm kernel, no scalar tensor, no download; ~0.3 ms a read on wasm
 * before), else `tf.norm`.
 */
export function readNorm(t: tf.Tensor): number {
  return normNumber(t);
}

/**
 * Builds the result of a fixed-point solve from the shared loop's outcome: `x` (owned by
 * the caller), the status, and the table's message with the fixed-point fix.
 */
export function finish(
  where: string, x: tf.Tensor, outcome: Pick<IterateOutcome<unknown>, 'iterations' | 'residual' | 'status'>,
  tol: number, maxIter: number, started: number,
): FixedPointResult {
  const { iterations } = outcome;
  const residualNorm = outcome.residual ?? NaN;
  const status: FixedPointStatus = outcome.status === 'nan' || !Number.isFinite(residualNorm) ? 'nan'
    : outcome.status === 'converged' ? 'converged' : 'max-iterations';
  const message = statusMessage(status, {
    where, iterations, residual: residualNorm, residualName: '‖T(x) − x‖', tol, tolMode: 'absolute', maxIter,
    fix: status === 'nan'
      ? 'the map is not a contraction here: add damping (picard({ damping: 0.5 })) or reduce the step size'
      : status === 'max-iterations' ? `increase maxIter (now ${maxIter}), use anderson(), or loosen tol (now ${tol})` : undefined,
  });
  const work = emptyWork();
  // One map evaluation per iteration plus the one at the start point.
  work.energyEvals = iterations + 1;
  work.innerIterations = iterations;
  work.timeMs = performance.now() - started;
  return { x, iterations, residualNorm, converged: status === 'converged', status, message, work };
}

/** What a fixed-point solver's body returns: the final iterate (owned by the caller) and the loop's outcome. */
export interface FixedPointRun {
  x: tf.Tensor;
  outcome: Pick<IterateOutcome<unknown>, 'iterations' | 'residual' | 'status'>;
}

/**
 * The shell every fixed-point solver shares: factory-time check of `tol` / `maxIter`, per-call
 * stopping options, timing, the result with the status table's message, and the record of the
 * options the user set explicitly (core's precedence rule). `run` is the solver's own iteration.
 */
export function fixedPointSolver(
  where: string, options: FixedPointSolveOptions,
  run: (map: Parameters<FixedPointSolver['solve']>[0], x0: tf.Tensor, stop: { tol: number; maxIter: number }) => FixedPointRun,
): FixedPointSolver {
  stopping(where, options);
  return recordExplicit({
    name: where,
    solve(map, x0, call) {
      const started = performance.now();
      const stop = stopping(where, options, call);
      const { x, outcome } = run(map, x0, stop);
      return finish(where, x, outcome, stop.tol, stop.maxIter, started);
    },
  } as FixedPointSolver, options);
}

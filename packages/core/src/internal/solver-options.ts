/**
 * Option schemas shared by the inner and linear solver factories (one place for what
 * `tol`, `tolMode`, `maxIter`, `stallIterations` and the backtracking settings accept).
 *
 * @packageDocumentation
 */
import { opt, type OptionSchema } from '../options.js';

/** `tol`, `tolMode`, `maxIter` (0 = no iteration: return x0). */
export const LINEAR_STOPPING_SCHEMA: OptionSchema = {
  tol: opt.number({ min: 0 }),
  tolMode: opt.oneOf(['absolute', 'relative']),
  maxIter: opt.integer({ min: 0 }, 'pass a positive integer (0 returns x0 unchanged)'),
};

/** The stopping options every inner solver takes. */
export const INNER_STOPPING_SCHEMA: OptionSchema = {
  ...LINEAR_STOPPING_SCHEMA,
  stallIterations: opt.integer({ min: 0 }, 'pass a positive integer, or 0 to disable stall detection'),
};

/** Armijo backtracking settings (`gradientDescent`, `accelerated`, `lbfgs`). */
export const BACKTRACKING_SCHEMA: OptionSchema = {
  initialStep: opt.number({ gt: 0 }),
  shrink: opt.number({ gt: 0, lt: 1 }),
  growth: opt.number({ min: 1 }),
  c: opt.number({ gt: 0, lt: 1 }),
  maxTrials: opt.integer({ min: 1 }),
};

/** A fixed step, `true`/`false` or backtracking settings. */
export const STEP_SCHEMA: OptionSchema = {
  step: opt.number({ gt: 0 }, 'pass a step size > 0, e.g. 1/L'),
  backtracking: opt.union([opt.boolean(), opt.object(BACKTRACKING_SCHEMA)]),
};

/** `tol`, `maxIter` of the fixed-point solvers (factory defaults and per call). */
export const FIXED_POINT_STOPPING_SCHEMA: OptionSchema = { tol: opt.number({ min: 0 }), maxIter: opt.integer({ min: 1 }) };

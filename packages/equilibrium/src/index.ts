/**
 * `@bilevel/equilibrium`: fixed-point (deep-equilibrium style) hypergradients. Forward
 * solvers Picard / Anderson / Broyden; backward by implicit differentiation with a
 * matrix-free linear solver, the adjoint fixed-point iteration, or a phantom gradient.
 *
 * @packageDocumentation
 */
export { equilibrium, DEFAULT_EQUILIBRIUM_OPTIONS } from './equilibrium.js';
export type { EquilibriumOptions, EquilibriumBackward, EquilibriumStrategy } from './equilibrium.js';
// The fixed-point solvers live in @bilevel/core (they run on its shared iteration loop);
// re-exported here under their original names so this package's API is unchanged.
export { picard, PICARD_DEFAULTS, anderson, ANDERSON_DEFAULTS, broyden, BROYDEN_DEFAULTS } from '@bilevel/core';
export type { PicardOptions, AndersonOptions, BroydenOptions } from '@bilevel/core';
export { FIXED_POINT_DEFAULTS as FORWARD_DEFAULTS } from '@bilevel/core';
export type {
  FixedPointSolver as ForwardSolver, FixedPointResult as ForwardResult,
  FixedPointSolveOptions as ForwardSolveOptions, FixedPointStatus as ForwardStatus,
} from '@bilevel/core';
export { neumannSeries, DEFAULT_NEUMANN_SERIES_OPTIONS } from './backward/neumann-series.js';
export type { NeumannSeriesOptions } from './backward/neumann-series.js';
export type { FixedPointRule, FixedPointRuleRequest, FixedPointMapFn } from './backward/types.js';

/**
 * `@bilevel/equilibrium`: fixed-point (deep-equilibrium style) hypergradients. Forward
 * solvers Picard / Anderson / Broyden; backward by implicit differentiation with a
 * matrix-free linear solver, the adjoint fixed-point iteration, or a phantom gradient.
 *
 * @packageDocumentation
 */
export { equilibrium, DEFAULT_EQUILIBRIUM_OPTIONS } from './equilibrium.js';
export type { EquilibriumOptions, EquilibriumBackward, EquilibriumStrategy } from './equilibrium.js';
export { picard, PICARD_DEFAULTS } from './forward/picard.js';
export type { PicardOptions } from './forward/picard.js';
export { anderson, ANDERSON_DEFAULTS } from './forward/anderson.js';
export type { AndersonOptions } from './forward/anderson.js';
export { broyden, BROYDEN_DEFAULTS } from './forward/broyden.js';
export type { BroydenOptions } from './forward/broyden.js';
export { FORWARD_DEFAULTS } from './forward/types.js';
export type { ForwardSolver, ForwardResult, ForwardSolveOptions, ForwardStatus } from './forward/types.js';
export { neumannSeries, DEFAULT_NEUMANN_SERIES_OPTIONS } from './backward/neumann-series.js';
export type { NeumannSeriesOptions } from './backward/neumann-series.js';
export type { FixedPointRule, FixedPointRuleRequest, FixedPointRuleResult, FixedPointMap } from './backward/types.js';

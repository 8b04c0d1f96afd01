/**
 * `@bilevel/implicit`: implicit-function-theorem (IFT) hypergradients with any inner solver,
 * any matrix-free adjoint solver, automatic warm starts and an a-posteriori error bound.
 *
 * @packageDocumentation
 */
export { implicit, DEFAULT_IMPLICIT_OPTIONS } from './implicit.js';
export type { ImplicitOptions, ImplicitStrategy } from './implicit.js';
export { implicitAdjoint } from './adjoint.js';
export type { ImplicitAdjointOptions, ImplicitAdjointRule } from './adjoint.js';
export { implicitErrorBound, hypergradientBound, adjointErrorBound, valueBound, distanceBound } from './bound.js';
export type { BoundConstants, BoundInputs, BoundOutputs, HypergradientBoundConstants, HypergradientBoundInputs } from './bound.js';
